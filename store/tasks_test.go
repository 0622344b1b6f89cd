package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

func queue(t *testing.T, s *Store, n int) []int64 {
	t.Helper()
	var ids []int64
	for range n {
		_, id, err := s.CreateVideo(context.Background(), NewVideo{UserID: 1, Title: "v", SourcePath: "x.mp4"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestClaimTaskOnceUnderConcurrency(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if _, err := s.ClaimTask(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty queue: %v", err)
	}
	ids := queue(t, s, 20)
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				task, err := s.ClaimTask(ctx)
				if errors.Is(err, ErrNotFound) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[task.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != len(ids) {
		t.Fatalf("claimed %d distinct tasks, want %d", len(seen), len(ids))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("task %d claimed %d times", id, n)
		}
	}
	task, _ := s.TaskByID(ctx, ids[0])
	v, _ := s.VideoByID(ctx, task.VideoID)
	if task.Status != TaskProcessing || task.Attempts != 1 || task.StartedAt == 0 || v.TranscodeStatus != TaskProcessing {
		t.Errorf("claimed task %+v, video %s", task, v.TranscodeStatus)
	}
}

// The order is checked one claim at a time: with claimers racing, the order
// in which they get to record their claim says nothing about the queue.
func TestClaimTaskTakesTheOldestPending(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	ids := queue(t, s, 3)
	claim := func() int64 {
		t.Helper()
		task, err := s.ClaimTask(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return task.ID
	}
	if got := claim(); got != ids[0] {
		t.Fatalf("first claim %d, want %d", got, ids[0])
	}
	ids = append(ids, queue(t, s, 2)...)
	// A task put back (a shutdown) is older than the ones queued since.
	if err := s.RequeueTask(ctx, ids[0], "", false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{ids[0], ids[1], ids[2], ids[3], ids[4]} {
		if got := claim(); got != want {
			t.Fatalf("claimed %d, want %d (queue %v)", got, want, ids)
		}
	}
	if _, err := s.ClaimTask(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("drained queue: %v", err)
	}
}

func TestTaskLifecycle(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	ids := queue(t, s, 2)
	task, _ := s.ClaimTask(ctx)

	// A crash: requeued, the attempt does not count.
	if n, err := s.RequeueProcessing(ctx); err != nil || n != 1 {
		t.Fatalf("requeue: %d %v", n, err)
	}
	task, _ = s.TaskByID(ctx, task.ID)
	if task.Status != TaskPending || task.Attempts != 0 {
		t.Errorf("after requeue %+v", task)
	}
	task, _ = s.ClaimTask(ctx)
	if err := s.TaskProgress(ctx, task.ID, 42); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPlayable(ctx, task.ID, Media{Resolution: "720p", Variants: []Variant{{Name: "720p"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishTask(ctx, task.ID, TaskEnd{Status: TaskCompleted, HasCover: true, HLSBytes: 10,
		Media: Media{Duration: 3, Width: 1280, Height: 720, Resolution: "720p", Variants: []Variant{{Name: "720p"}}}}); err != nil {
		t.Fatal(err)
	}
	v, _ := s.VideoByID(ctx, task.VideoID)
	if v.Status != VideoPublished || !v.Playable || !v.HasCover || v.Resolution != "720p" || v.TranscodeStatus != TaskCompleted {
		t.Errorf("completed video %+v", v)
	}
	if err := s.TaskProgress(ctx, task.ID, 50); !errors.Is(err, ErrConflict) {
		t.Errorf("progress of a finished task: %v", err)
	}
	if err := s.CancelTask(ctx, task.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("cancel completed: %v", err)
	}
	if err := s.SetPlayable(ctx, task.ID, Media{}); !errors.Is(err, ErrConflict) {
		t.Errorf("set playable of a finished task: %v", err)
	}
	if err := s.RetryTask(ctx, task.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("retry completed: %v", err)
	}

	// auto_publish off: a completed video stays hidden; a failure marks it failed.
	set := s.Settings()
	set.AutoPublish = false
	s.SaveSettings(ctx, set)
	second, _ := s.ClaimTask(ctx)
	if second.ID != ids[1] {
		t.Fatalf("claimed %d", second.ID)
	}
	s.FinishTask(ctx, second.ID, TaskEnd{Status: TaskFailed, Error: "boom"})
	v, _ = s.VideoByID(ctx, second.VideoID)
	if v.Status != VideoFailed || v.TranscodeStatus != TaskFailed {
		t.Errorf("failed video %+v", v)
	}
	if err := s.RetryTask(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := s.TaskByID(ctx, second.ID)
	v, _ = s.VideoByID(ctx, second.VideoID)
	if got.Status != TaskPending || got.Error != "" || v.Status != VideoProcessing {
		t.Errorf("retried %+v / video status %d", got, v.Status)
	}
	s.ClaimTask(ctx)
	s.FinishTask(ctx, second.ID, TaskEnd{Status: TaskCompleted})
	v, _ = s.VideoByID(ctx, second.VideoID)
	if v.Status != VideoHidden {
		t.Errorf("auto_publish off: status %d, want hidden", v.Status)
	}

	if err := s.CancelTask(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("cancel unknown: %v", err)
	}
	if err := s.RetryTask(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("retry unknown: %v", err)
	}
}

func TestFinishTaskOfDeletedVideo(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	queue(t, s, 1)
	task, _ := s.ClaimTask(ctx)
	s.write.Exec("DELETE FROM videos WHERE id = ?", task.VideoID)
	if err := s.FinishTask(ctx, task.ID, TaskEnd{Status: TaskCompleted}); !errors.Is(err, ErrNotFound) {
		t.Errorf("finish with the video gone: %v", err)
	}
}

// TestRetriedTaskKeepsEarlierReasons: an automatic retry's reason stays at
// the top of the task's log through the next attempts, their logs and
// their end; a shutdown's requeue adds nothing and an admin's retry starts
// clean.
func TestRetriedTaskKeepsEarlierReasons(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	queue(t, s, 1)
	claim := func(wantLog string) *Task {
		t.Helper()
		task, err := s.ClaimTask(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if task.Error != "" || task.Log != wantLog {
			t.Fatalf("claimed: error %q log %q, want log %q", task.Error, task.Log, wantLog)
		}
		return task
	}
	check := func(id int64, status, wantErr, wantLog string) {
		t.Helper()
		task, err := s.TaskByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != status || task.Error != wantErr || task.Log != wantLog {
			t.Fatalf("task %s error %q log %q, want %s %q %q", task.Status, task.Error, task.Log, status, wantErr, wantLog)
		}
	}
	first := "# attempt 1: stalled: no progress for 120s — retried automatically\n"
	second := "# attempt 2: stalled: no progress for 120s — retried automatically\n"

	task := claim("")
	if err := s.SetTaskLog(ctx, task.ID, TaskCanceled, "x"); !errors.Is(err, ErrConflict) {
		t.Fatalf("log of another status: %v", err)
	}
	if err := s.SetTaskLog(ctx, task.ID, TaskProcessing, "$ ffmpeg one"); err != nil {
		t.Fatal(err)
	}
	if err := s.RequeueTask(ctx, task.ID, "stalled: no progress for 120s", true); err != nil {
		t.Fatal(err)
	}
	check(task.ID, TaskPending, "stalled: no progress for 120s", first)
	if err := s.RequeueTask(ctx, task.ID, "again", true); !errors.Is(err, ErrConflict) {
		t.Fatalf("requeue of a pending task: %v", err)
	}

	claim(first)
	if err := s.SetTaskLog(ctx, task.ID, TaskProcessing, "$ ffmpeg two"); err != nil {
		t.Fatal(err)
	}
	check(task.ID, TaskProcessing, "", first+"$ ffmpeg two")
	if err := s.RequeueTask(ctx, task.ID, "stalled: no progress for 120s", true); err != nil {
		t.Fatal(err)
	}
	check(task.ID, TaskPending, "stalled: no progress for 120s", first+second)

	// A shutdown (or a crash) mid-attempt keeps the reasons and adds none.
	claim(first + second)
	if err := s.SetTaskLog(ctx, task.ID, TaskProcessing, "$ ffmpeg three"); err != nil {
		t.Fatal(err)
	}
	if err := s.RequeueTask(ctx, task.ID, "", false); err != nil {
		t.Fatal(err)
	}
	claim(first + second)
	if _, err := s.RequeueProcessing(ctx); err != nil {
		t.Fatal(err)
	}
	task = claim(first + second)
	if task.Attempts != 3 {
		t.Fatalf("attempts %d, want 3", task.Attempts)
	}
	end := TaskEnd{Status: TaskFailed, Error: "stalled: no progress for 120s", Log: "$ ffmpeg three\nlast words"}
	if err := s.FinishTask(ctx, task.ID, end); err != nil {
		t.Fatal(err)
	}
	check(task.ID, TaskFailed, end.Error, first+second+end.Log)

	if err := s.RetryTask(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	check(task.ID, TaskPending, "", "")
}

func TestRetryHistoryIsBounded(t *testing.T) {
	line := "# attempt 1: " + strings.Repeat("x", 490) + "\n"
	tests := []struct {
		name, log, want string
	}{
		{"empty", "", ""},
		{"no history", "$ ffmpeg\n# not history", ""},
		{"history then log", "# a\n# b\n$ ffmpeg\n# c\n", "# a\n# b\n"},
		{"unfinished line", "# a\n# b", "# a\n"},
		{"too long", strings.Repeat(line, 20), strings.Repeat(line, maxRetryHistory/len(line))},
	}
	for _, tt := range tests {
		if got := retryHistory(tt.log); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
