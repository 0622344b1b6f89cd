package store

import (
	"context"
	"errors"
	"testing"
)

// claimed queues a video and claims its task.
func claimed(t *testing.T, s *Store) *Task {
	t.Helper()
	queue(t, s, 1)
	task, err := s.ClaimTask(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func setWebhookURL(t *testing.T, s *Store, url string) {
	t.Helper()
	set := s.Settings()
	set.WebhookURL = url
	if err := s.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
}

func pending(t *testing.T, s *Store) []PendingWebhook {
	t.Helper()
	list, err := s.PendingWebhooks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// A task's end queues its webhook delivery in the same transaction: an end
// that does not commit queues nothing, and nothing is queued while the
// webhook is off.
func TestFinishTaskQueuesWebhook(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()

	// Off: the task ends, nothing waits.
	off := claimed(t, s)
	if err := s.FinishTask(ctx, off.ID, TaskEnd{Status: TaskFailed, Error: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, s); len(got) != 0 {
		t.Fatalf("queued with the webhook off: %+v", got)
	}

	setWebhookURL(t, s, "http://127.0.0.1:1/hook")
	// The video went while the task ran: the end rolls back, and its delivery with it.
	lost := claimed(t, s)
	if _, err := s.write.ExecContext(ctx, "DELETE FROM videos WHERE id = ?", lost.VideoID); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishTask(ctx, lost.ID, TaskEnd{Status: TaskCompleted}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finish without a video: %v", err)
	}
	// No longer processing (canceled meanwhile): ErrConflict, nothing queued.
	canceled := claimed(t, s)
	if err := s.CancelTask(ctx, canceled.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishTask(ctx, canceled.ID, TaskEnd{Status: TaskFailed}); !errors.Is(err, ErrConflict) {
		t.Fatalf("finish canceled: %v", err)
	}
	if got := pending(t, s); len(got) != 0 {
		t.Fatalf("queued for ends that did not happen: %+v", got)
	}

	failed, done := claimed(t, s), claimed(t, s)
	before := nowMilli()
	if err := s.FinishTask(ctx, failed.ID, TaskEnd{Status: TaskFailed, Error: "no video stream"}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishTask(ctx, done.ID, TaskEnd{Status: TaskCompleted}); err != nil {
		t.Fatal(err)
	}
	got := pending(t, s)
	if len(got) != 2 {
		t.Fatalf("pending %+v", got)
	}
	for i, want := range []struct {
		task   int64
		status string
	}{{failed.ID, TaskFailed}, {done.ID, TaskCompleted}} {
		p := got[i]
		if p.TaskID != want.task || p.TaskStatus != want.status || p.Attempts != 0 || len(p.Body) != 0 ||
			p.NextAt < before || p.CreatedAt != p.NextAt {
			t.Errorf("pending %d: %+v, want task %d %s due now", i, p, want.task, want.status)
		}
	}
}

func TestWebhookOutboxRows(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	// Unknown ids: updates say so, deletes skip them.
	if err := s.SetWebhookBody(ctx, 99, []byte("{}")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("body of a missing delivery: %v", err)
	}
	if err := s.WebhookTried(ctx, 99, 1, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("try of a missing delivery: %v", err)
	}
	if err := s.DeleteWebhooks(ctx, 99); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhooks(ctx); err != nil {
		t.Fatal(err)
	}

	setWebhookURL(t, s, "http://127.0.0.1:1/hook")
	var tasks []int64
	for range 3 {
		task := claimed(t, s)
		if err := s.FinishTask(ctx, task.ID, TaskEnd{Status: TaskCompleted}); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task.ID)
	}
	got := pending(t, s)
	if len(got) != 3 {
		t.Fatalf("pending %+v", got)
	}
	a, b, c := got[0].ID, got[1].ID, got[2].ID
	if err := s.SetWebhookBody(ctx, a, []byte(`{"event":"task.completed"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.WebhookTried(ctx, a, 2, 1234567); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhooks(ctx, b, 99); err != nil {
		t.Fatal(err)
	}
	got = pending(t, s)
	if len(got) != 2 || got[0].ID != a || got[1].ID != c {
		t.Fatalf("after delete %+v", got)
	}
	if p := got[0]; p.TaskID != tasks[0] || string(p.Body) != `{"event":"task.completed"}` || p.Attempts != 2 || p.NextAt != 1234567 {
		t.Fatalf("tried delivery %+v", p)
	}
	// Ids are never reused: a sender may still hold a deleted one.
	if err := s.DeleteWebhooks(ctx, a, c); err != nil {
		t.Fatal(err)
	}
	task := claimed(t, s)
	if err := s.FinishTask(ctx, task.ID, TaskEnd{Status: TaskFailed}); err != nil {
		t.Fatal(err)
	}
	if got = pending(t, s); len(got) != 1 || got[0].ID <= c {
		t.Fatalf("after emptying %+v (last id %d)", got, c)
	}
}
