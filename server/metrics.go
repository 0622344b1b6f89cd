package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"mika/store"
)

// /metrics speaks the Prometheus text format, written by hand. It is public
// like most exporters: it holds counts and sizes, no names, ids or secrets.
// Put it behind the reverse proxy's access rules if that matters.

// latencyBuckets are the upper bounds of the request duration histogram.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type requestKey struct {
	route, method string
	status        int
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

// metrics counts requests by route (chi's pattern, so ids do not explode
// the label set) and their latency.
type metrics struct {
	mu       sync.Mutex
	requests map[requestKey]uint64
	latency  map[string]*histogram
}

func newMetrics() *metrics {
	return &metrics{requests: map[requestKey]uint64{}, latency: map[string]*histogram{}}
}

// observe records one finished request. Call it after the router ran, when
// the matched pattern is known.
func (m *metrics) observe(r *http.Request, status int, took time.Duration) {
	route := ""
	if rc := chi.RouteContext(r.Context()); rc != nil {
		route = rc.RoutePattern()
	}
	if route == "" {
		route = "unmatched"
	}
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodOptions:
	default:
		method = "other"
	}
	secs := took.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{route, method, status}]++
	h := m.latency[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		m.latency[route] = h
	}
	if i, _ := slices.BinarySearch(latencyBuckets, secs); i < len(latencyBuckets) {
		h.counts[i]++
	}
	h.sum += secs
	h.count++
}

// write renders the HTTP metrics in the text format.
func (m *metrics) write(b *strings.Builder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b requestKey) int {
		if c := strings.Compare(a.route, b.route); c != 0 {
			return c
		}
		if c := strings.Compare(a.method, b.method); c != 0 {
			return c
		}
		return a.status - b.status
	})
	b.WriteString("# HELP mika_http_requests_total HTTP requests by route pattern, method and status.\n")
	b.WriteString("# TYPE mika_http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(b, "mika_http_requests_total{route=%s,method=%s,status=\"%d\"} %d\n",
			label(k.route), label(k.method), k.status, m.requests[k])
	}
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	b.WriteString("# HELP mika_http_request_duration_seconds HTTP request latency by route pattern.\n")
	b.WriteString("# TYPE mika_http_request_duration_seconds histogram\n")
	for _, r := range routes {
		h := m.latency[r]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(b, "mika_http_request_duration_seconds_bucket{route=%s,le=\"%s\"} %d\n",
				label(r), strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(b, "mika_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", label(r), h.count)
		fmt.Fprintf(b, "mika_http_request_duration_seconds_sum{route=%s} %s\n", label(r),
			strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(b, "mika_http_request_duration_seconds_count{route=%s} %d\n", label(r), h.count)
	}
}

// label quotes a label value as the text format wants.
func label(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

var taskStatuses = []string{store.TaskPending, store.TaskProcessing, store.TaskCompleted, store.TaskFailed, store.TaskCanceled}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	counts, err := s.store.TaskCounts(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	secs, err := s.store.TranscodeSeconds(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	used, err := s.storage.used(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var b strings.Builder
	s.metrics.write(&b)
	b.WriteString("# HELP mika_tasks Transcode tasks by status.\n# TYPE mika_tasks gauge\n")
	for _, st := range taskStatuses {
		fmt.Fprintf(&b, "mika_tasks{status=%s} %d\n", label(st), counts[st])
	}
	b.WriteString("# HELP mika_transcode_seconds_total Wall-clock seconds spent on completed transcodes.\n")
	fmt.Fprintf(&b, "# TYPE mika_transcode_seconds_total counter\nmika_transcode_seconds_total %d\n", secs)
	b.WriteString("# HELP mika_storage_bytes Bytes of media in the data folder.\n")
	fmt.Fprintf(&b, "# TYPE mika_storage_bytes gauge\nmika_storage_bytes %d\n", used)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(b.String()))
}
