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
	"sync/atomic"
	"time"

	"mika/store"
)

// The webhook: when a task ends (completed or failed), POST
// {"event","task","video"} to the webhook_url setting, signed with
// X-Mika-Signature = hex HMAC-SHA256(body, webhook_secret). Deliveries run
// in the background with retries, so a slow or dead receiver never holds a
// transcode worker.

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

// maxPendingWebhooks bounds deliveries waiting for retries; past it new
// events are dropped with a warning rather than piling up goroutines.
const maxPendingWebhooks = 256

type webhookSender struct {
	client *http.Client
	// backoff is the wait before each retry; len(backoff)+1 tries in all.
	backoff []time.Duration
	pending atomic.Int32

	mu   sync.Mutex
	last *webhookDelivery
	wg   sync.WaitGroup
}

func newWebhookSender() *webhookSender {
	return &webhookSender{
		client: &http.Client{
			Timeout: 10 * time.Second,
			// A redirect is not a delivery: the signed POST is not re-sent elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		backoff: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
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

// TaskEnded is the transcoder's hook for a task that finished: it sends
// the webhook and re-measures storage. It returns at once; both happen in
// the background.
func (s *Server) TaskEnded(ctx context.Context, taskID int64) {
	s.storage.kick() // a task's end adds or removes HLS output
	if s.store.Settings().WebhookURL == "" {
		return
	}
	ws := s.webhook
	if ws.pending.Add(1) > maxPendingWebhooks {
		ws.pending.Add(-1)
		s.log.Warn("webhook backlog full; event dropped", slog.Int64("task_id", taskID))
		return
	}
	ws.wg.Add(1)
	go func() {
		defer ws.wg.Done()
		defer ws.pending.Add(-1)
		s.deliverTaskEvent(context.WithoutCancel(ctx), taskID)
	}()
}

func (s *Server) deliverTaskEvent(ctx context.Context, taskID int64) {
	body, event, err := s.taskEventBody(ctx, taskID)
	if err != nil {
		if !errors.Is(err, errNoEvent) {
			s.log.Warn("webhook event", slog.Int64("task_id", taskID), slog.Any("err", err))
		}
		return
	}
	ws := s.webhook
	d := webhookDelivery{Event: event, TaskID: taskID}
	for try := 0; ; try++ {
		set, err := s.ensureWebhookSecret(ctx)
		if err != nil {
			s.log.Warn("webhook secret", slog.Any("err", err))
			return
		}
		if set.WebhookURL == "" {
			return // turned off meanwhile
		}
		d.Attempts = try + 1
		d.Status, err = ws.post(ctx, set.WebhookURL, set.WebhookSecret, event, body)
		d.Error = ""
		var de *deliveryError
		if errors.As(err, &de) {
			d.Error = de.reason
		}
		if err == nil || try >= len(ws.backoff) {
			break
		}
		s.log.Info("webhook delivery failed; will retry", slog.Int64("task_id", taskID),
			slog.Int("attempt", d.Attempts), slog.Int("status", d.Status), slog.Any("err", err))
		time.Sleep(ws.backoff[try])
	}
	d.At = store.FormatTime(time.Now().Unix())
	ws.mu.Lock()
	ws.last = &d
	ws.mu.Unlock()
	if b, err := json.Marshal(d); err == nil {
		if err := s.store.SetMeta(ctx, webhookMetaKey, string(b)); err != nil {
			s.log.Warn("store webhook status", slog.Any("err", err))
		}
	}
	if d.Error != "" {
		s.log.Warn("webhook delivery gave up", slog.Int64("task_id", taskID), slog.Int("attempts", d.Attempts),
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
