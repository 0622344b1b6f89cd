package server

import (
	"errors"
	"log/slog"
	"net/http"

	"mika/store"
)

// taskItem is a task as the admin task list shows it.
type taskItem struct {
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

// taskDetail adds the log: the ffmpeg command line and its stderr's tail.
type taskDetail struct {
	taskItem
	Log string `json:"log"`
}

func itemOf(t *store.Task) taskItem {
	return taskItem{ID: t.ID, VideoID: t.VideoID, VideoTitle: t.VideoTitle, Status: t.Status,
		Progress: t.Progress, Attempts: t.Attempts, CreatedAt: store.FormatTime(t.CreatedAt),
		StartedAt: store.FormatTime(t.StartedAt), FinishedAt: store.FormatTime(t.FinishedAt), Error: t.Error}
}

// listTasks answers GET /api/admin/transcode/tasks?page&size&status.
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) error {
	errs := map[string]string{}
	p := parsePage(r, errs)
	status := r.URL.Query().Get("status")
	if status != "" && !store.ValidTaskStatus(status) {
		errs["status"] = "must be one of pending, processing, completed, failed, canceled"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	tasks, total, err := s.store.ListTasks(r.Context(), status, p.Offset(), p.Size)
	if err != nil {
		return err
	}
	list := make([]taskItem, len(tasks))
	for i := range tasks {
		list[i] = itemOf(&tasks[i])
	}
	return ok(w, pageOf(p, list, total))
}

// getTask answers GET /api/admin/transcode/tasks/{id}.
func (s *Server) getTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.answerTask(w, r, id)
}

func (s *Server) answerTask(w http.ResponseWriter, r *http.Request, id int64) error {
	t, err := s.store.TaskByID(r.Context(), id)
	if err != nil {
		return err
	}
	return ok(w, taskDetail{taskItem: itemOf(t), Log: t.Log})
}

// cancelTask answers POST …/tasks/{id}/cancel: a pending or processing task
// becomes canceled, its ffmpeg is gone and its partial output removed
// before the answer.
func (s *Server) cancelTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := s.store.TaskByID(r.Context(), id)
	if err != nil {
		return err
	}
	err = s.store.CancelTask(r.Context(), id)
	if errors.Is(err, store.ErrConflict) {
		return errConflict("only a pending or processing task can be canceled",
			map[string]string{"status": "is " + t.Status})
	}
	if err != nil {
		return err
	}
	s.transcoder.CancelTask(id)
	// A task requeued after a crash may have left output behind.
	s.removeTranscodeOutput(t.VideoID)
	s.log.Info("task canceled", slog.Int64("task_id", id), slog.Int64("video_id", t.VideoID),
		slog.Int64("by", currentUser(r).ID))
	return s.answerTask(w, r, id)
}

// retryTask answers POST …/tasks/{id}/retry: a failed or canceled task goes
// back to pending with its progress, error and log cleared.
func (s *Server) retryTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := s.store.TaskByID(r.Context(), id)
	if err != nil {
		return err
	}
	err = s.store.RetryTask(r.Context(), id)
	if errors.Is(err, store.ErrConflict) {
		return errConflict("only a failed or canceled task can be retried",
			map[string]string{"status": "is " + t.Status})
	}
	if err != nil {
		return err
	}
	s.transcoder.Wake()
	s.log.Info("task retried", slog.Int64("task_id", id), slog.Int64("video_id", t.VideoID),
		slog.Int64("by", currentUser(r).ID))
	return s.answerTask(w, r, id)
}
