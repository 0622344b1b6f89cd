package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Task statuses (SPEC §7).
const (
	TaskPending    = "pending"
	TaskProcessing = "processing"
	TaskCompleted  = "completed"
	TaskFailed     = "failed"
	TaskCanceled   = "canceled"
)

// ValidTaskStatus reports whether s is one of the five task statuses.
func ValidTaskStatus(s string) bool {
	switch s {
	case TaskPending, TaskProcessing, TaskCompleted, TaskFailed, TaskCanceled:
		return true
	}
	return false
}

// Task is one transcode job of a video.
type Task struct {
	ID         int64
	VideoID    int64
	VideoTitle string
	Status     string
	Progress   int
	Attempts   int
	Error      string
	Log        string
	CreatedAt  int64
	StartedAt  int64
	FinishedAt int64
}

const taskColumns = `t.id, t.video_id, COALESCE(v.title, ''), t.status, t.progress, t.attempts, t.error,
	t.log, t.created_at, t.started_at, t.finished_at`

func scanTask(row interface{ Scan(...any) error }) (*Task, error) {
	var t Task
	err := row.Scan(&t.ID, &t.VideoID, &t.VideoTitle, &t.Status, &t.Progress, &t.Attempts, &t.Error,
		&t.Log, &t.CreatedAt, &t.StartedAt, &t.FinishedAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &t, nil
}

// TaskByID loads a task with its video's title.
func (s *Store) TaskByID(ctx context.Context, id int64) (*Task, error) {
	return scanTask(s.read.QueryRowContext(ctx, "SELECT "+taskColumns+
		" FROM tasks t LEFT JOIN videos v ON v.id = t.video_id WHERE t.id = ?", id))
}

// ListTasks answers a page of tasks, newest first, optionally of one status.
// The log is left out of list items.
func (s *Store) ListTasks(ctx context.Context, status string, offset, limit int) ([]Task, int64, error) {
	where, args := "", []any{}
	if status != "" {
		where, args = " WHERE t.status = ?", append(args, status)
	}
	var total int64
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM tasks t"+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count tasks: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT t.id, t.video_id, COALESCE(v.title, ''), t.status, t.progress,
		t.attempts, t.error, '', t.created_at, t.started_at, t.finished_at
		FROM tasks t LEFT JOIN videos v ON v.id = t.video_id`+where+` ORDER BY t.id DESC LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	list := []Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, 0, err
		}
		list = append(list, *t)
	}
	return list, total, rows.Err()
}

// ClaimTask atomically takes the oldest pending task whose video exists,
// marks it processing and counts the attempt. ErrNotFound when none waits.
func (s *Store) ClaimTask(ctx context.Context) (*Task, error) {
	var t *Task
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n := now()
		var id int64
		var log string
		err := tx.QueryRowContext(ctx, `SELECT t.id, t.log FROM tasks t JOIN videos v ON v.id = t.video_id
			WHERE t.status = 'pending' ORDER BY t.id LIMIT 1`).Scan(&id, &log)
		if err != nil {
			return notFound(err)
		}
		// The new attempt starts a fresh log under the earlier attempts' reasons.
		if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = 'processing', progress = 0, error = '', log = ?,
			attempts = attempts + 1, started_at = ?, finished_at = 0, updated_at = ? WHERE id = ?`,
			retryHistory(log), n, n, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE videos SET transcode_status = 'processing', updated_at = ?
			WHERE id = (SELECT video_id FROM tasks WHERE id = ?)`, n, id); err != nil {
			return err
		}
		t, err = scanTask(tx.QueryRowContext(ctx, "SELECT "+taskColumns+
			" FROM tasks t LEFT JOIN videos v ON v.id = t.video_id WHERE t.id = ?", id))
		return err
	})
	return t, err
}

// RequeueProcessing puts every task left processing (by a crash or a
// shutdown) back to pending; the interrupted attempt does not count.
func (s *Store) RequeueProcessing(ctx context.Context) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		if _, err := tx.ExecContext(ctx, `UPDATE videos SET transcode_status = 'pending', playable = 0,
			variants = '[]', updated_at = ?
			WHERE id IN (SELECT video_id FROM tasks WHERE status = 'processing')`, t); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE tasks SET status = 'pending', progress = 0,
			attempts = MAX(attempts - 1, 0), updated_at = ? WHERE status = 'processing'`, t)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("requeue tasks: %w", err)
	}
	return n, nil
}

// RequeueTask puts a processing task back to pending: after a shutdown
// (countAttempt false) or for an automatic retry (countAttempt true, with
// the reason kept in error and, as a line "# attempt N: reason — retried
// automatically", at the top of the log, where it stays through the
// retries). ErrConflict when it is no longer processing.
func (s *Store) RequeueTask(ctx context.Context, id int64, reason string, countAttempt bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		var attempts int
		var log string
		err := tx.QueryRowContext(ctx, "SELECT attempts, log FROM tasks WHERE id = ? AND status = 'processing'", id).
			Scan(&attempts, &log)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrConflict
		}
		if err != nil {
			return err
		}
		if countAttempt {
			// The line replaces the attempt's own log: the next claim keeps
			// only the reasons (ClaimTask).
			log = retryHistory(log) + fmt.Sprintf("%sattempt %d: %s — retried automatically\n",
				retryMark, attempts, oneLine(reason))
		} else {
			attempts = max(attempts-1, 0)
		}
		_, err = tx.ExecContext(ctx, `UPDATE tasks SET status = 'pending', progress = 0, error = ?, log = ?,
			attempts = ?, updated_at = ? WHERE id = ?`, reason, log, attempts, t, id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE videos SET transcode_status = 'pending', playable = 0,
			variants = '[]', updated_at = ? WHERE id = (SELECT video_id FROM tasks WHERE id = ?)`, t, id)
		return err
	})
}

// TaskProgress stores a running task's progress. ErrConflict when the task
// is no longer processing (canceled or deleted meanwhile).
func (s *Store) TaskProgress(ctx context.Context, id int64, progress int) error {
	res, err := s.write.ExecContext(ctx, `UPDATE tasks SET progress = ?, updated_at = ?
		WHERE id = ? AND status = 'processing'`, progress, now(), id)
	if err != nil {
		return fmt.Errorf("task progress: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrConflict
	}
	return nil
}

// VideoTaskError answers the error of video videoID's latest task: why its
// transcode failed ("" when it has no task or the task has no error).
func (s *Store) VideoTaskError(ctx context.Context, videoID int64) (string, error) {
	var e string
	err := s.read.QueryRowContext(ctx, "SELECT error FROM tasks WHERE video_id = ? ORDER BY id DESC LIMIT 1", videoID).Scan(&e)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("video task error: %w", err)
	}
	return e, nil
}

// SetTaskLog replaces the log of task id while it is in status: the
// command line as soon as ffmpeg starts (status processing), so an admin
// sees what runs; the command and ffmpeg's last words once a cancel
// stopped it (status canceled). ErrConflict when the task is in another
// status by then.
// The earlier attempts' reasons stay at the top of the log.
func (s *Store) SetTaskLog(ctx context.Context, id int64, status, log string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := taskLogIn(ctx, tx, id, status)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE tasks SET log = ?, updated_at = ? WHERE id = ?",
			retryHistory(old)+log, now(), id)
		return err
	})
	if err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("task log: %w", err)
	}
	return err
}

// taskLogIn reads the log of a task in the given status; ErrConflict when
// it is in another status by now.
func taskLogIn(ctx context.Context, tx *sql.Tx, id int64, status string) (string, error) {
	var log string
	err := tx.QueryRowContext(ctx, "SELECT log FROM tasks WHERE id = ? AND status = ?", id, status).Scan(&log)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrConflict
	}
	return log, err
}

// retryMark starts each line at the top of a task's log that tells why an
// earlier attempt was retried automatically (RequeueTask).
const retryMark = "# "

// maxRetryHistory bounds those lines, so the log stays within its bound
// plus this.
const maxRetryHistory = 4 << 10

// retryHistory answers the leading retry lines of a task's log.
func retryHistory(log string) string {
	n := 0
	for strings.HasPrefix(log[n:], retryMark) {
		end := strings.IndexByte(log[n:], '\n')
		if end < 0 || n+end+1 > maxRetryHistory {
			break
		}
		n += end + 1
	}
	return log[:n]
}

// oneLine folds s onto one line of at most 500 bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// Media is what a transcode learned about a video's output.
type Media struct {
	Duration   float64
	Width      int
	Height     int
	Resolution string
	Variants   []Variant
}

// SetPlayable marks the video of a running task playable with its variants
// while the task still runs, so owner and admins can watch early.
// ErrConflict when the task is no longer processing.
func (s *Store) SetPlayable(ctx context.Context, taskID int64, m Media) error {
	variants, _ := json.Marshal(m.Variants)
	res, err := s.write.ExecContext(ctx, `UPDATE videos SET playable = 1, duration = ?, width = ?, height = ?,
		resolution = ?, variants = ?, updated_at = ?
		WHERE id = (SELECT video_id FROM tasks WHERE id = ? AND status = 'processing')`,
		m.Duration, m.Width, m.Height, m.Resolution, string(variants), now(), taskID)
	if err != nil {
		return fmt.Errorf("set playable: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrConflict
	}
	return nil
}

// TaskEnd is how a task finished.
type TaskEnd struct {
	Status   string // completed, failed
	Error    string
	Log      string
	Media    Media // for completed
	HasCover bool
	HLSBytes int64
}

// FinishTask ends a processing task and updates its video: completed
// publishes it (or hides it when auto_publish is off), failed marks it
// failed. While webhook_url is set, the same transaction queues the end's
// webhook delivery. ErrConflict when the task is no longer processing,
// ErrNotFound when its video is gone.
func (s *Store) FinishTask(ctx context.Context, id int64, end TaskEnd) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		progress := 0
		if end.Status == TaskCompleted {
			progress = 100
		}
		old, err := taskLogIn(ctx, tx, id, TaskProcessing)
		if err != nil {
			return err
		}
		// The earlier attempts' reasons stay at the top of the log.
		_, err = tx.ExecContext(ctx, `UPDATE tasks SET status = ?, progress = CASE WHEN ? = 100 THEN 100 ELSE progress END,
			error = ?, log = ?, finished_at = ?, updated_at = ? WHERE id = ?`,
			end.Status, progress, end.Error, retryHistory(old)+end.Log, t, t, id)
		if err != nil {
			return err
		}
		if s.Settings().WebhookURL != "" {
			// The end and its webhook delivery commit together (webhooks.go).
			if err := queueWebhook(ctx, tx, id, end.Status); err != nil {
				return err
			}
		}
		var videoID int64
		if err := tx.QueryRowContext(ctx, "SELECT video_id FROM tasks WHERE id = ?", id).Scan(&videoID); err != nil {
			return err
		}
		if end.Status != TaskCompleted {
			_, err = tx.ExecContext(ctx, `UPDATE videos SET transcode_status = ?, status = ?, playable = 0,
				variants = '[]', hls_bytes = 0, updated_at = ? WHERE id = ?`, end.Status, VideoFailed, t, videoID)
			return err
		}
		published := VideoHidden
		if s.Settings().AutoPublish {
			published = VideoPublished
		}
		variants, _ := json.Marshal(end.Media.Variants)
		res, err := tx.ExecContext(ctx, `UPDATE videos SET transcode_status = 'completed',
			status = CASE WHEN status IN (0, 2) THEN ? ELSE status END,
			playable = 1, duration = ?, width = ?, height = ?, resolution = ?, variants = ?, has_cover = ?,
			hls_bytes = ?, updated_at = ? WHERE id = ?`,
			published, end.Media.Duration, end.Media.Width, end.Media.Height, end.Media.Resolution,
			string(variants), end.HasCover, end.HLSBytes, t, videoID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound // the video went while its task ran
		}
		return nil
	})
}

// CancelTask moves a pending or processing task to canceled; its video
// loses its partial output. ErrNotFound for an unknown task, ErrConflict
// for one in another state.
func (s *Store) CancelTask(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		var status string
		var videoID int64
		if err := tx.QueryRowContext(ctx, "SELECT status, video_id FROM tasks WHERE id = ?", id).Scan(&status, &videoID); err != nil {
			return notFound(err)
		}
		if status != TaskPending && status != TaskProcessing {
			return ErrConflict
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = 'canceled', finished_at = ?, updated_at = ?
			WHERE id = ?`, t, t, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE videos SET transcode_status = 'canceled', playable = 0,
			variants = '[]', hls_bytes = 0, updated_at = ? WHERE id = ?`, t, videoID)
		return err
	})
}

// RetryTask moves a failed or canceled task back to pending with a clean
// slate. ErrNotFound for an unknown task, ErrConflict for one in another
// state.
func (s *Store) RetryTask(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		var status string
		var videoID int64
		if err := tx.QueryRowContext(ctx, "SELECT status, video_id FROM tasks WHERE id = ?", id).Scan(&status, &videoID); err != nil {
			return notFound(err)
		}
		if status != TaskFailed && status != TaskCanceled {
			return ErrConflict
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = 'pending', progress = 0, attempts = 0,
			error = '', log = '', started_at = 0, finished_at = 0, updated_at = ? WHERE id = ?`, t, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE videos SET transcode_status = 'pending',
			status = CASE WHEN status = 2 THEN 0 ELSE status END, updated_at = ? WHERE id = ?`, t, videoID)
		return err
	})
}

// ActiveProgress answers the progress (0–100) of the pending or processing
// task of each of the given videos; videos without one are absent.
func (s *Store) ActiveProgress(ctx context.Context, videoIDs []int64) (map[int64]int, error) {
	out := map[int64]int{}
	if len(videoIDs) == 0 {
		return out, nil
	}
	q := "SELECT video_id, progress FROM tasks WHERE status IN ('pending', 'processing') AND video_id IN (?" +
		strings.Repeat(",?", len(videoIDs)-1) + ") ORDER BY id"
	args := make([]any, len(videoIDs))
	for i, id := range videoIDs {
		args[i] = id
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("active progress: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var p int
		if err := rows.Scan(&id, &p); err != nil {
			return nil, err
		}
		out[id] = p
	}
	return out, rows.Err()
}
