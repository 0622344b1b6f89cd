package server

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// urlParam reads a chi URL parameter.
func urlParam(r *http.Request, name string) string { return chi.URLParam(r, name) }

// recoverer turns a panic into a logged 500 in the envelope.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", slog.String("method", r.Method),
					slog.String("path", r.URL.Path), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests logs each request once it is done.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.observe(r, status, time.Since(start))
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Int("bytes", ww.BytesWritten()),
			slog.Duration("took", time.Since(start)), slog.String("ip", s.clientIP(r)))
	})
}

// connKey is the context key of the request's network connection.
type connKey struct{}

// withConn is the http.Server's ConnContext (HTTPServer): every request's
// context carries its connection, so a handler can tune the socket.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// corkResponse corks r's TCP connection until the returned function runs,
// as nginx's tcp_nopush does: what is written meanwhile leaves in full
// segments. A file sent by http.ServeContent otherwise goes out as its
// header alone, then one short pushed segment at the end of every sendfile
// call, and the receiver answers those with extra ACKs: serving HLS
// segments to wrk over loopback took about 95 TCP segments per 2.8 MB
// response against nginx's 73, and a third more CPU in all. Uncorking
// sends the tail at once. A no-op without a plain TCP connection (tests,
// TLS, other systems).
func corkResponse(r *http.Request) (uncork func()) {
	c, ok := r.Context().Value(connKey{}).(*net.TCPConn)
	if !ok || setCork(c, true) != nil {
		return func() {}
	}
	return func() { setCork(c, false) }
}

// clientIP is the socket's peer, or the right-most untrusted address of
// X-Forwarded-For when the peer is a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.Unmap().String()
		}
		host = a.Unmap().String()
	}
	return host
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// rateLimit applies lim per client IP. When lim is one of the server's own
// limiters, the field is read on each request rather than captured, so
// swapping s.limiter or s.authLimits after the router is built (tests do)
// takes effect.
func (s *Server) rateLimit(lim *rateLimiter) func(http.Handler) http.Handler {
	current := func() *rateLimiter { return lim }
	switch lim {
	case s.limiter:
		current = func() *rateLimiter { return s.limiter }
	case s.authLimits:
		current = func() *rateLimiter { return s.authLimits }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if wait, ok := current().allow(s.clientIP(r)); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				s.writeError(w, r, &APIError{Code: http.StatusTooManyRequests, Message: "too many requests"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// rateLimiter is a token bucket per key whose rate and burst are read on
// each call, so a settings change applies at once.
type rateLimiter struct {
	params func() (rps float64, burst int)
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(params func() (float64, int)) *rateLimiter {
	return &rateLimiter{params: params, now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes one token for key; when none is left it reports how long
// until one is.
func (l *rateLimiter) allow(key string) (time.Duration, bool) {
	rps, burst := l.params()
	if rps <= 0 || burst <= 0 {
		return 0, true // 0 turns the limit off
	}
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.Sub(l.swept) > time.Minute {
		l.sweep(t, rps, burst)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(burst), last: t}
		l.buckets[key] = b
	}
	b.tokens = math.Min(float64(burst), b.tokens+t.Sub(b.last).Seconds()*rps)
	b.last = t
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / rps * float64(time.Second)), false
}

// sweep forgets buckets that have refilled completely.
func (l *rateLimiter) sweep(t time.Time, rps float64, burst int) {
	l.swept = t
	full := time.Duration(float64(burst) / rps * float64(time.Second))
	for k, b := range l.buckets {
		if t.Sub(b.last) > full {
			delete(l.buckets, k)
		}
	}
}

// corsPrefixes are the paths other sites' pages may call: the API (its
// credentials are headers, never cookies, so no page gets a visitor's
// session by calling it) and playback, so hls.js on a page elsewhere plays
// a play_url, as PeerTube's and Jellyfin's streams do.
var corsPrefixes = []string{"/api/", "/videos/", "/covers/", "/avatars/", "/healthz"}

// corsRequestHeaders are the request headers a cross-origin caller may send.
const corsRequestHeaders = "Authorization, Content-Type, Range, X-API-Key, X-Timestamp, X-Sign, X-Nonce"

// corsExposedHeaders are the response headers a cross-origin page may read.
const corsExposedHeaders = "Content-Range, Content-Length, Accept-Ranges, Retry-After, WWW-Authenticate, Allow"

// cors lets pages on other origins call the API and play streams: every
// answer on those paths allows any origin, and a preflight (OPTIONS with
// Access-Control-Request-Method) is answered 204 with the methods the path
// takes. A plain OPTIONS is still a 405, as before.
func cors(root chi.Routes) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.ContainsFunc(corsPrefixes, func(p string) bool { return strings.HasPrefix(r.URL.Path, p) }) {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Expose-Headers", corsExposedHeaders)
			if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
				next.ServeHTTP(w, r)
				return
			}
			allowed := allowedMethods(root, r)
			if allowed == "" {
				next.ServeHTTP(w, r) // no such path: its 404
				return
			}
			h.Set("Access-Control-Allow-Methods", allowed)
			h.Set("Access-Control-Allow-Headers", corsRequestHeaders)
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
		})
	}
}
