package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"mika/store"
)

// hookReceiver is a webhook receiver that fails the first fail tries, or
// every try while block is set holds each request until released.
type hookReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	fail  int
	block chan struct{}
	got   []hookRequest
	// before, when set, runs on each request before it is answered, with
	// the number of requests so far.
	before func(n int)
}

type hookRequest struct {
	at   int64 // Unix ms
	body []byte
	sig  string
	ok   bool
}

func newHookReceiver(t *testing.T, fail int) *hookReceiver {
	h := &hookReceiver{fail: fail}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		block := h.block
		req := hookRequest{at: time.Now().UnixMilli(), body: b, sig: r.Header.Get("X-Mika-Signature"),
			ok: h.fail <= 0 && r.Header.Get("Content-Type") == "application/json" && r.Header.Get("X-Mika-Event") != ""}
		if h.fail > 0 {
			h.fail--
		}
		h.got = append(h.got, req)
		before, n := h.before, len(h.got)
		h.mu.Unlock()
		if before != nil {
			before(n)
		}
		if block != nil {
			<-block
		}
		if !req.ok {
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.got...)
}

// hookEnv is a test server with fast webhook retries and its webhook_url set.
func hookEnv(t *testing.T, url string) *testEnv {
	e := newTestEnv(t)
	fastHooks(e.srv)
	setHookURL(t, e, url)
	return e
}

func fastHooks(s *Server) {
	s.webhook.backoff = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}
	s.webhook.recheck = 20 * time.Millisecond
}

func setHookURL(t *testing.T, e *testEnv, url string) {
	t.Helper()
	set := e.store.Settings()
	set.WebhookURL = url
	if err := e.store.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
}

// start runs e's server until the test ends.
func (e *testEnv) start() {
	e.srv.Start(context.Background())
	e.t.Cleanup(e.srv.Shutdown)
}

// endTask queues a video and ends its task as status, as the transcoder
// does, and answers the task id.
func endTask(t *testing.T, e *testEnv, title, status string) int64 {
	t.Helper()
	ctx := context.Background()
	_, id, err := e.store.CreateVideo(ctx, store.NewVideo{UserID: 1, Title: title})
	if err != nil {
		t.Fatal(err)
	}
	if task, err := e.store.ClaimTask(ctx); err != nil || task.ID != id {
		t.Fatalf("claim %v (%v)", task, err)
	}
	end := store.TaskEnd{Status: status}
	if status == store.TaskFailed {
		end.Error = "no video stream"
	}
	if err := e.store.FinishTask(ctx, id, end); err != nil {
		t.Fatal(err)
	}
	e.srv.TaskEnded(ctx, id)
	return id
}

// waitFor polls cond until it holds; it fails the test after 10 s, a bound
// for a loaded machine that a passing test never waits for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func outbox(t *testing.T, e *testEnv) []store.PendingWebhook {
	t.Helper()
	rows, err := e.store.PendingWebhooks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func waitOutboxEmpty(t *testing.T, e *testEnv) {
	t.Helper()
	waitFor(t, "an empty outbox", func() bool { return len(outbox(t, e)) == 0 })
}

func TestWebhookGivesUpAndRecordsIt(t *testing.T) {
	recv := newHookReceiver(t, 100)
	e := hookEnv(t, recv.URL)
	e.start()
	id := endTask(t, e, "Doomed", store.TaskCompleted)
	waitOutboxEmpty(t, e)
	// The row leaves the outbox before the try records its outcome (the
	// last delivery, then the stored copy); Shutdown waits for the try.
	e.srv.Shutdown()
	if n := len(recv.requests()); n != 5 {
		t.Fatalf("%d tries, want 5", n)
	}
	d := e.srv.webhook.lastDelivery()
	if d == nil || d.TaskID != id || d.Status != 500 || d.Attempts != 5 || d.Error != "the receiver answered 500" ||
		d.Event != "task.completed" || d.At == "" {
		t.Fatalf("last delivery %+v", d)
	}
	// The outcome survives a restart.
	srv2, err := New(context.Background(), Config{Store: e.store, Data: e.data, Transcoder: e.fake})
	if err != nil {
		t.Fatal(err)
	}
	if d2 := srv2.webhook.lastDelivery(); d2 == nil || *d2 != *d {
		t.Fatalf("after restart %+v, want %+v", d2, d)
	}
}

// A receiver that fails once gets the same signed body again, and the
// settings answer shows the delivery that went through.
func TestWebhookSignedAndRetried(t *testing.T) {
	recv := newHookReceiver(t, 1)
	e := newTestEnv(t)
	fastHooks(e.srv)
	e.srv.webhook.backoff[0] = 150 * time.Millisecond
	_, root := e.createUser("root", true)
	var set settingsAnswer
	e.mustOK(e.do("PUT", "/api/admin/settings", map[string]any{"webhook_url": recv.URL + "/hook"}, root)).into(t, &set)
	// Between the tries the outbox holds the count and the time of the next.
	var mu sync.Mutex
	var between []store.PendingWebhook
	recv.before = func(n int) {
		if n == 2 {
			rows, _ := e.store.PendingWebhooks(context.Background())
			mu.Lock()
			between = rows
			mu.Unlock()
		}
	}
	e.start()
	id := endTask(t, e, "Hooked", store.TaskFailed)
	waitOutboxEmpty(t, e)
	e.srv.Shutdown() // the delivered try has recorded its outcome once it returned
	first := recv.requests()[0]
	mu.Lock()
	defer mu.Unlock()
	if len(between) != 1 {
		t.Fatalf("outbox at the retry %+v", between)
	}
	row := between[0]
	if row.TaskID != id || row.Attempts != 1 || row.NextAt < first.at+150 || !bytes.Equal(row.Body, first.body) {
		t.Fatalf("pending %+v after a try at %d", row, first.at)
	}

	got := recv.requests()
	if len(got) != 2 || !got[1].ok || got[1].at < row.NextAt {
		t.Fatalf("want a failed try and a retry not before %d, got %+v", row.NextAt, got)
	}
	for i, r := range got {
		m := hmac.New(sha256.New, []byte(set.WebhookSecret))
		m.Write(r.body)
		if want := hex.EncodeToString(m.Sum(nil)); r.sig != want {
			t.Fatalf("try %d signature %q want %q", i, r.sig, want)
		}
	}
	if !bytes.Equal(got[0].body, got[1].body) {
		t.Fatalf("retry sent another body:\n%s\n%s", got[0].body, got[1].body)
	}
	var ev struct {
		Event string `json:"event"`
		Task  struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"task"`
		Video struct {
			Title string `json:"title"`
		} `json:"video"`
	}
	if err := json.Unmarshal(got[1].body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Event != "task.failed" || ev.Task.ID != id || ev.Task.Status != "failed" || ev.Task.Error != "no video stream" ||
		ev.Video.Title != "Hooked" {
		t.Fatalf("event %+v", ev)
	}
	var answer settingsAnswer
	e.mustOK(e.do("GET", "/api/admin/settings", nil, root)).into(t, &answer)
	if d := answer.WebhookLastDelivery; d == nil || d.Status != 200 || d.Attempts != 2 || d.Error != "" || d.Event != "task.failed" {
		t.Fatalf("last delivery %+v", answer.WebhookLastDelivery)
	}
}

// Deliveries left by a stopped server go out after the next start, once
// each: one never tried (the process stopped right after the task ended)
// goes out at once, and one waiting for its retry keeps its count and is
// not sent before it is due. Each start is shut down before its outcome is
// read, so no assertion depends on which of two tries finishes first.
func TestWebhookResumesAfterRestart(t *testing.T) {
	recv := newHookReceiver(t, 1)
	e := hookEnv(t, recv.URL)
	e.srv.webhook.backoff[0] = time.Hour
	e.start()
	retriedID := endTask(t, e, "Retried", store.TaskCompleted)
	waitFor(t, "the first try recorded", func() bool { rows := outbox(t, e); return len(rows) == 1 && rows[0].Attempts == 1 })
	e.srv.Shutdown()
	retried := outbox(t, e)[0]
	// Ended while no sender runs: queued, not sent.
	freshID := endTask(t, e, "Fresh", store.TaskFailed)
	if rows := outbox(t, e); len(rows) != 2 || rows[1].TaskID != freshID || rows[1].Attempts != 0 {
		t.Fatalf("outbox %+v", rows)
	}
	if n := len(recv.requests()); n != 1 {
		t.Fatalf("%d requests before the restart", n)
	}

	// The next start sends the fresh one at once; the retry, due in an
	// hour, stays as it was.
	e2 := reopen(t, e)
	fastHooks(e2.srv)
	e2.start()
	waitFor(t, "the fresh delivery", func() bool { rows := outbox(t, e2); return len(rows) == 1 && rows[0].ID == retried.ID })
	e2.srv.Shutdown() // the fresh try has recorded its outcome once it returned
	if d := e2.srv.webhook.lastDelivery(); d == nil || d.TaskID != freshID || d.Attempts != 1 || d.Status != 200 {
		t.Fatalf("fresh delivery %+v", d)
	}
	if got := recv.requests(); len(got) != 2 || !got[1].ok {
		t.Fatalf("want the failed try and the fresh delivery only, got %+v", got)
	}
	if rows := outbox(t, e2); len(rows) != 1 || rows[0].Attempts != 1 || rows[0].NextAt != retried.NextAt {
		t.Fatalf("the waiting retry changed: %+v, was %+v", rows, retried)
	}

	// The server was down until shortly before the retry is due.
	e3 := reopen(t, e2)
	fastHooks(e3.srv)
	retried.NextAt = time.Now().Add(400 * time.Millisecond).UnixMilli()
	if err := e3.store.WebhookTried(context.Background(), retried.ID, retried.Attempts, retried.NextAt); err != nil {
		t.Fatal(err)
	}
	e3.start()
	waitOutboxEmpty(t, e3)
	e3.srv.Shutdown() // nothing more can be sent, and the outcome is recorded
	got := recv.requests()
	if len(got) != 3 || !got[2].ok {
		t.Fatalf("want the failed try and two deliveries, got %+v", got)
	}
	var ev webhookEvent
	if err := json.Unmarshal(got[2].body, &ev); err != nil || ev.Task.ID != retriedID {
		t.Fatalf("third request %s (%v), want task %d", got[2].body, err, retriedID)
	}
	if again := got[2]; again.at < retried.NextAt || !bytes.Equal(again.body, retried.Body) {
		t.Fatalf("resumed try at %d (due %d), same body %v", again.at, retried.NextAt, bytes.Equal(again.body, retried.Body))
	}
	// The retry's count goes on from before the restart.
	d := e3.srv.webhook.lastDelivery()
	if d == nil || d.TaskID != retriedID || d.Attempts != 2 || d.Status != 200 || d.Error != "" {
		t.Fatalf("last delivery %+v", d)
	}
}

func TestWebhookShutdownDoesNotWait(t *testing.T) {
	for _, tc := range []struct {
		name     string
		block    bool // the receiver holds the request (a try in flight)
		attempts int  // what the outbox row keeps
	}{
		{"receiver hangs", true, 0},
		{"waiting for a retry", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := newHookReceiver(t, 100)
			release := make(chan struct{})
			if tc.block {
				recv.mu.Lock()
				recv.block = release
				recv.mu.Unlock()
			}
			defer close(release)
			e := hookEnv(t, recv.URL)
			// A Shutdown that waited for the try or the retry would wait this long.
			e.srv.webhook.backoff[0] = time.Hour
			e.srv.webhook.client.Timeout = time.Hour
			e.srv.Start(context.Background())
			id := endTask(t, e, "Held", store.TaskCompleted)
			waitFor(t, "the first try", func() bool { return len(recv.requests()) == 1 })
			if !tc.block {
				waitFor(t, "the try recorded", func() bool { rows := outbox(t, e); return len(rows) == 1 && rows[0].Attempts == 1 })
			}
			stopped := make(chan struct{})
			go func() { e.srv.Shutdown(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(10 * time.Second): // generous for a loaded machine, nothing next to an hour
				t.Fatal("shutdown waits for the receiver or the retry")
			}
			// A try cut off is not counted; the row waits for the next start.
			if rows := outbox(t, e); len(rows) != 1 || rows[0].TaskID != id || rows[0].Attempts != tc.attempts {
				t.Fatalf("outbox after shutdown %+v", rows)
			}
		})
	}
}

// With webhook_url emptied, pending deliveries wait (and go out when a URL
// is set again) until keepOff, then are dropped; a task that ends while
// the webhook is off queues nothing.
func TestWebhookOffKeepsThenDrops(t *testing.T) {
	t.Run("kept while off", func(t *testing.T) {
		recv := newHookReceiver(t, 0)
		e := hookEnv(t, recv.URL)
		kept := endTask(t, e, "Kept", store.TaskCompleted)
		setHookURL(t, e, "")
		endTask(t, e, "Unsent", store.TaskCompleted)
		e.start()
		waitFor(t, "the event built", func() bool { rows := outbox(t, e); return len(rows) == 1 && len(rows[0].Body) > 0 })
		time.Sleep(60 * time.Millisecond) // a few passes of the dispatcher
		if n := len(recv.requests()); n != 0 {
			t.Fatalf("%d requests with the webhook off", n)
		}
		if rows := outbox(t, e); len(rows) != 1 || rows[0].TaskID != kept || rows[0].Attempts != 0 {
			t.Fatalf("outbox while off %+v", rows)
		}
		setHookURL(t, e, recv.URL)
		waitOutboxEmpty(t, e)
		if got := recv.requests(); len(got) != 1 || !got[0].ok {
			t.Fatalf("after turning it on again %+v", got)
		}
	})
	t.Run("dropped after keepOff", func(t *testing.T) {
		recv := newHookReceiver(t, 0)
		e := hookEnv(t, recv.URL)
		e.srv.webhook.keepOff = 100 * time.Millisecond
		endTask(t, e, "Dropped", store.TaskCompleted)
		setHookURL(t, e, "")
		e.start()
		waitOutboxEmpty(t, e)
		setHookURL(t, e, recv.URL)
		time.Sleep(60 * time.Millisecond)
		if n := len(recv.requests()); n != 0 {
			t.Fatalf("%d requests, want the dropped delivery unsent", n)
		}
	})
}

// Past the bound the oldest deliveries go; one whose task was deleted
// before its event was built is dropped.
func TestWebhookBacklogBound(t *testing.T) {
	recv := newHookReceiver(t, 0)
	e := hookEnv(t, recv.URL)
	e.srv.webhook.max = 2
	var logs lockedBuffer
	e.srv.log = slog.New(slog.NewTextHandler(&logs, nil))
	oldest := endTask(t, e, "Oldest", store.TaskCompleted)
	deleted := endTask(t, e, "Deleted", store.TaskCompleted)
	newest := endTask(t, e, "Newest", store.TaskFailed)
	task, err := e.store.TaskByID(context.Background(), deleted)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.DeleteVideo(context.Background(), task.VideoID); err != nil {
		t.Fatal(err)
	}
	e.start()
	waitOutboxEmpty(t, e)
	time.Sleep(20 * time.Millisecond)
	got := recv.requests()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want the newest only", len(got))
	}
	var ev webhookEvent
	if err := json.Unmarshal(got[0].body, &ev); err != nil || ev.Task.ID != newest || ev.Event != "task.failed" {
		t.Fatalf("delivered %s (%v), want task %d (oldest %d dropped)", got[0].body, err, newest, oldest)
	}
	if l := logs.String(); !strings.Contains(l, fmt.Sprintf(`level=WARN msg="webhook backlog full; oldest deliveries dropped" count=1 task_ids=[%d]`, oldest)) {
		t.Fatalf("no warning for the dropped delivery in\n%s", l)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
