package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"mika/store"
)

// The webhook: when a task ends (completed or failed), POST
// {"event","task","video"} to the webhook_url setting, signed with
// X-Mika-Signature = hex HMAC-SHA256(body, webhook_secret).
//
// Deliveries are durable. store.FinishTask writes a row to webhook_outbox
// in the transaction that ends the task (while webhook_url is set), so no
// end is lost between the task's commit and its delivery. One dispatcher
// goroutine (started by Server.Start) sends the due rows, each try in its
// own goroutine so a slow receiver holds up neither the transcode workers
// nor other deliveries. Between tries a row keeps its attempts and the time
// of its next try: after a restart the remaining tries go on from there.
// A row goes once delivered (any 2xx) or given up after the last try.
// Delivery is at least once: a try cut off by a shutdown or a crash before
// its row was updated is made again.

// webhookDelivery is the outcome of the latest delivery, shown in the
// settings answer.
type webhookDelivery struct {
	At       string `json:"at"`
	Event    string `json:"event"`
	TaskID   int64  `json:"task_id"`
	Attempts int    `json:"attempts"`
	Status   int    `json:"status"` // the receiver's HTTP status; 0 when none came
	Error    string `json:"error"`  // "" on success
}

const webhookMetaKey = "webhook_last_delivery"

// maxPendingWebhooks bounds the deliveries waiting in the outbox; past it
// the oldest are dropped with a warning, so a receiver that is gone for
// weeks does not grow the database without end.
const maxPendingWebhooks = 256

type webhookSender struct {
	client *http.Client
	// backoff is the wait before each retry; len(backoff)+1 tries in all.
	backoff []time.Duration
	// max bounds the outbox (maxPendingWebhooks).
	max int
	// keepOff is how long deliveries wait while webhook_url is empty
	// before they are dropped.
	keepOff time.Duration
	// recheck is how often the dispatcher looks again while deliveries wait
	// for a webhook_url, and how long a delivery waits after a local error
	// (the database, not the receiver, failed).
	recheck time.Duration

	wake chan struct{} // a task ended or a try finished: look at the outbox again

	mu   sync.Mutex
	last *webhookDelivery
	busy map[int64]bool // outbox rows with a try in flight
	// ended lists the tries done since the dispatcher last read the outbox.
	// Only the dispatcher clears busy, just before it reads the rows again,
	// so it never takes a row as it was before its try's outcome was written.
	ended []int64
	hold  map[int64]int64 // outbox rows not to try before this (Unix ms) after a local error
	// tries counts the tries in flight; the dispatcher waits for them
	// before it returns.
	tries sync.WaitGroup
}

func newWebhookSender() *webhookSender {
	return &webhookSender{
		client: &http.Client{
			Timeout: 10 * time.Second,
			// A redirect is not a delivery: the signed POST is not re-sent elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		backoff: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
		max:     maxPendingWebhooks,
		keepOff: 24 * time.Hour,
		recheck: 30 * time.Second,
		wake:    make(chan struct{}, 1),
		busy:    map[int64]bool{},
		hold:    map[int64]int64{},
	}
}

func (ws *webhookSender) lastDelivery() *webhookDelivery {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.last == nil {
		return nil
	}
	c := *ws.last
	return &c
}

// poke wakes the dispatcher; it never blocks.
func (ws *webhookSender) poke() {
	select {
	case ws.wake <- struct{}{}:
	default:
	}
}

type webhookTask struct {
	ID         int64  `json:"id"`
	VideoID    int64  `json:"video_id"`
	VideoTitle string `json:"video_title"`
	Status     string `json:"status"`
	Progress   int    `json:"progress"`
	Attempts   int    `json:"attempts"`
	CreatedAt  string `json:"created_at"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	Error      string `json:"error"`
}

type webhookVideo struct {
	ID              int64           `json:"id"`
	Title           string          `json:"title"`
	UserID          int64           `json:"user_id"`
	Status          int             `json:"status"`
	TranscodeStatus string          `json:"transcode_status"`
	Duration        int64           `json:"duration"`
	Resolution      string          `json:"resolution"`
	Variants        []store.Variant `json:"variants"`
	CreatedAt       string          `json:"created_at"`
}

type webhookEvent struct {
	Event string        `json:"event"`
	Task  webhookTask   `json:"task"`
	Video *webhookVideo `json:"video"`
}

// TaskEnded is the transcoder's hook for a task that finished: it wakes
// the webhook dispatcher (the delivery itself was queued with the task's
// end) and re-measures storage. It returns at once.
func (s *Server) TaskEnded(ctx context.Context, taskID int64) {
	s.storage.kick() // a task's end adds or removes HLS output
	s.webhook.poke()
}

// runWebhooks is the dispatcher: it sends the outbox's due deliveries
// until ctx ends, then waits for the tries in flight, which ctx cuts off.
// What is left stays in the outbox for the next start.
func (s *Server) runWebhooks(ctx context.Context) {
	ws := s.webhook
	defer ws.tries.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := s.dispatchWebhooks(ctx)
		var due <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-ws.wake:
		case <-due:
		}
	}
}

// dispatchWebhooks starts a try for every due delivery and answers how
// long until the next one is due; -1 when nothing waits on a timer (the
// outbox is empty, or every row has a try in flight, which pokes when done).
func (s *Server) dispatchWebhooks(ctx context.Context) time.Duration {
	ws := s.webhook
	ws.mu.Lock()
	for _, id := range ws.ended {
		delete(ws.busy, id)
	}
	ws.ended = ws.ended[:0]
	ws.mu.Unlock()
	rows, err := s.store.PendingWebhooks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhook outbox", slog.Any("err", err))
		}
		return ws.recheck
	}
	if over := len(rows) - ws.max; over > 0 {
		s.dropWebhooks(ctx, rows[:over], slog.LevelWarn, "webhook backlog full; oldest deliveries dropped")
		rows = rows[over:]
	}
	set := s.store.Settings()
	now := time.Now().UnixMilli()
	wait := time.Duration(-1)
	soon := func(ms int64) {
		if d := time.Duration(ms) * time.Millisecond; wait < 0 || d < wait {
			wait = d
		}
	}
	var gone, expired []store.PendingWebhook
	ws.mu.Lock()
	live := make(map[int64]bool, len(rows))
	for _, p := range rows {
		live[p.ID] = true
	}
	for id := range ws.hold {
		if !live[id] {
			delete(ws.hold, id)
		}
	}
	ws.mu.Unlock()
	for _, p := range rows {
		ws.mu.Lock()
		busy, held := ws.busy[p.ID], ws.hold[p.ID]
		ws.mu.Unlock()
		if busy {
			continue
		}
		if len(p.Body) == 0 {
			// Built once, as close to the task's end as can be: every try,
			// before and after a restart, sends the same signed bytes.
			body, err := s.webhookBody(ctx, p)
			if errors.Is(err, errNoEvent) {
				gone = append(gone, p)
				continue
			}
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("webhook event", slog.Int64("task_id", p.TaskID), slog.Any("err", err))
				}
				soon(ws.recheck.Milliseconds())
				continue
			}
			p.Body = body
		}
		if set.WebhookURL == "" {
			// Off: kept for a while, in case it was turned off by mistake
			// or to change the receiver; sent once a URL is set again.
			expires := p.CreatedAt + ws.keepOff.Milliseconds()
			if now >= expires {
				expired = append(expired, p)
				continue
			}
			soon(min(ws.recheck.Milliseconds(), expires-now))
			continue
		}
		if next := max(p.NextAt, held); next > now {
			soon(next - now)
			continue
		}
		ws.mu.Lock()
		ws.busy[p.ID] = true
		ws.mu.Unlock()
		ws.tries.Add(1)
		go func() {
			defer ws.tries.Done()
			s.tryWebhook(ctx, p)
		}()
	}
	s.dropWebhooks(ctx, expired, slog.LevelWarn, "webhook_url empty; events undelivered for a day dropped")
	// The task was deleted, or retried, before its event was built (only
	// after a restart does that take more than milliseconds).
	s.dropWebhooks(ctx, gone, slog.LevelInfo, "webhook events no longer apply; dropped")
	return wait
}

// dropWebhooks deletes outbox rows that will not be sent and logs msg
// with their tasks.
func (s *Server) dropWebhooks(ctx context.Context, rows []store.PendingWebhook, level slog.Level, msg string) {
	if len(rows) == 0 {
		return
	}
	ids, tasks := make([]int64, len(rows)), make([]int64, len(rows))
	for i, p := range rows {
		ids[i], tasks[i] = p.ID, p.TaskID
	}
	if err := s.store.DeleteWebhooks(ctx, ids...); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhook outbox", slog.Any("err", err))
		}
		return
	}
	s.log.Log(ctx, level, msg, slog.Int("count", len(rows)), slog.Any("task_ids", tasks))
}

// webhookBody builds and stores the body of a pending delivery. errNoEvent
// when its task is gone or no longer ended the way the row says.
func (s *Server) webhookBody(ctx context.Context, p store.PendingWebhook) ([]byte, error) {
	body, event, err := s.taskEventBody(ctx, p.TaskID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errNoEvent
	case err != nil:
		return nil, err
	case event != webhookEventName(p.TaskStatus):
		return nil, errNoEvent
	}
	if err := s.store.SetWebhookBody(ctx, p.ID, body); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNoEvent
		}
		return nil, err
	}
	return body, nil
}

func webhookEventName(taskStatus string) string { return "task." + taskStatus }

// tryWebhook makes one try of a due delivery and records its outcome: the
// row goes when delivered or given up, or keeps its attempts and the time
// of its next try.
func (s *Server) tryWebhook(ctx context.Context, p store.PendingWebhook) {
	ws := s.webhook
	// Once a try was made its outcome is written, shutdown or not.
	bg := context.WithoutCancel(ctx)
	held := false
	defer func() {
		ws.mu.Lock()
		ws.ended = append(ws.ended, p.ID)
		if held {
			ws.hold[p.ID] = time.Now().Add(ws.recheck).UnixMilli()
		}
		ws.mu.Unlock()
		ws.poke()
	}()
	set, err := s.ensureWebhookSecret(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhook secret", slog.Any("err", err))
			held = true
		}
		return
	}
	if set.WebhookURL == "" {
		return // turned off meanwhile; the dispatcher keeps the row
	}
	d := webhookDelivery{Event: webhookEventName(p.TaskStatus), TaskID: p.TaskID, Attempts: p.Attempts + 1}
	d.Status, err = ws.post(ctx, set.WebhookURL, set.WebhookSecret, d.Event, p.Body)
	if err != nil && ctx.Err() != nil {
		return // cut off by shutdown: not a try; the row waits for the next start
	}
	var de *deliveryError
	if errors.As(err, &de) {
		d.Error = de.reason
	}
	if err != nil && p.Attempts < len(ws.backoff) {
		next := time.Now().Add(ws.backoff[p.Attempts]).UnixMilli()
		if err := s.store.WebhookTried(bg, p.ID, d.Attempts, next); err != nil {
			if !errors.Is(err, store.ErrNotFound) { // dropped meanwhile
				s.log.Warn("webhook outbox", slog.Any("err", err))
				held = true
			}
			return
		}
		s.log.Info("webhook delivery failed; will retry", slog.Int64("task_id", p.TaskID),
			slog.Int("attempt", d.Attempts), slog.Int("status", d.Status), slog.Any("err", err))
		return
	}
	if err := s.store.DeleteWebhooks(bg, p.ID); err != nil {
		// Sent (or given up) but still queued: tried again after a pause.
		s.log.Warn("webhook outbox", slog.Any("err", err))
		held = true
	}
	d.At = store.FormatTime(time.Now().Unix())
	ws.mu.Lock()
	ws.last = &d
	ws.mu.Unlock()
	if b, err := json.Marshal(d); err == nil {
		if err := s.store.SetMeta(bg, webhookMetaKey, string(b)); err != nil {
			s.log.Warn("store webhook status", slog.Any("err", err))
		}
	}
	if d.Error != "" {
		s.log.Warn("webhook delivery gave up", slog.Int64("task_id", p.TaskID), slog.Int("attempts", d.Attempts),
			slog.Int("status", d.Status), slog.String("err", d.Error))
	}
}

// errNoEvent: the task is not one that ends with an event.
var errNoEvent = errors.New("no event for this task")

// taskEventBody builds the JSON body for task id's end.
func (s *Server) taskEventBody(ctx context.Context, taskID int64) ([]byte, string, error) {
	t, err := s.store.TaskByID(ctx, taskID)
	if err != nil {
		return nil, "", fmt.Errorf("load task: %w", err)
	}
	var event string
	switch t.Status {
	case store.TaskCompleted:
		event = "task.completed"
	case store.TaskFailed:
		event = "task.failed"
	default:
		return nil, "", errNoEvent
	}
	ev := webhookEvent{Event: event, Task: webhookTask{ID: t.ID, VideoID: t.VideoID, VideoTitle: t.VideoTitle,
		Status: t.Status, Progress: t.Progress, Attempts: t.Attempts, CreatedAt: store.FormatTime(t.CreatedAt),
		StartedAt: store.FormatTime(t.StartedAt), FinishedAt: store.FormatTime(t.FinishedAt), Error: t.Error}}
	v, err := s.store.VideoByID(ctx, t.VideoID)
	switch {
	case err == nil:
		ev.Video = &webhookVideo{ID: v.ID, Title: v.Title, UserID: v.UserID, Status: v.Status,
			TranscodeStatus: v.TranscodeStatus, Duration: seconds(v.Duration), Resolution: v.Resolution,
			Variants: v.Variants, CreatedAt: store.FormatTime(v.CreatedAt)}
	case !errors.Is(err, store.ErrNotFound):
		return nil, "", fmt.Errorf("load video: %w", err)
	}
	body, err := json.Marshal(ev)
	return body, event, err
}

// deliveryError carries a reason fit for the settings answer beside the
// underlying error, which only the log sees.
type deliveryError struct {
	reason string
	err    error
}

func (e *deliveryError) Error() string {
	if e.err == nil {
		return e.reason
	}
	return e.reason + ": " + e.err.Error()
}

func (e *deliveryError) Unwrap() error { return e.err }

// webhookSignature is hex HMAC-SHA256 of body under secret.
func webhookSignature(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// post sends one signed delivery; any 2xx is success.
func (ws *webhookSender) post(ctx context.Context, url, secret, event string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, &deliveryError{"the webhook URL is not usable", err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mika-Webhook/1")
	req.Header.Set("X-Mika-Event", event)
	req.Header.Set("X-Mika-Signature", webhookSignature(body, secret))
	res, err := ws.client.Do(req)
	if err != nil {
		// The reason goes to the log; the settings answer gets a plain one.
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, &deliveryError{"the receiver did not answer in time", err}
		}
		return 0, &deliveryError{"could not reach the receiver", err}
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, &deliveryError{fmt.Sprintf("the receiver answered %d", res.StatusCode), nil}
	}
	return res.StatusCode, nil
}

// loadWebhookStatus restores the last delivery's outcome after a restart.
func (s *Server) loadWebhookStatus(ctx context.Context) {
	v, err := s.store.Meta(ctx, webhookMetaKey)
	if err != nil {
		return
	}
	var d webhookDelivery
	if json.Unmarshal([]byte(v), &d) == nil {
		s.webhook.mu.Lock()
		s.webhook.last = &d
		s.webhook.mu.Unlock()
	}
}
