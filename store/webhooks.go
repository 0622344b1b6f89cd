package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// PendingWebhook is one webhook delivery not yet made (webhook_outbox).
// Times are Unix milliseconds.
type PendingWebhook struct {
	ID         int64
	TaskID     int64
	TaskStatus string // completed | failed: how the task ended
	Body       []byte // empty until the sender built it
	Attempts   int    // tries made so far
	NextAt     int64  // the next try is not before this
	CreatedAt  int64
}

// nowMilli is the outbox's clock, in Unix milliseconds: a retry resumed
// after a restart must not fire early, and tests use millisecond backoffs.
func nowMilli() int64 { return time.Now().UnixMilli() }

// queueWebhook records, inside the transaction that ends task id, that its
// end is to be delivered. FinishTask calls it while webhook_url is set, so a
// task's end and its pending delivery are committed together or not at all.
func queueWebhook(ctx context.Context, tx *sql.Tx, taskID int64, status string) error {
	t := nowMilli()
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_outbox(task_id, task_status, next_at, created_at)
		VALUES (?, ?, ?, ?)`, taskID, status, t, t)
	if err != nil {
		return fmt.Errorf("queue webhook: %w", err)
	}
	return nil
}

// PendingWebhooks answers every delivery not yet made, oldest first.
func (s *Store) PendingWebhooks(ctx context.Context) ([]PendingWebhook, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, task_id, task_status, body, attempts, next_at, created_at
		FROM webhook_outbox ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pending webhooks: %w", err)
	}
	defer rows.Close()
	list := []PendingWebhook{}
	for rows.Next() {
		var p PendingWebhook
		if err := rows.Scan(&p.ID, &p.TaskID, &p.TaskStatus, &p.Body, &p.Attempts, &p.NextAt, &p.CreatedAt); err != nil {
			return nil, err
		}
		list = append(list, p)
	}
	return list, rows.Err()
}

// SetWebhookBody stores the body a pending delivery sends on every try,
// so a retry after a restart sends the same bytes as the first try.
// ErrNotFound when the delivery is gone.
func (s *Store) SetWebhookBody(ctx context.Context, id int64, body []byte) error {
	return s.updateWebhook(ctx, "set webhook body", "UPDATE webhook_outbox SET body = ? WHERE id = ?", body, id)
}

// WebhookTried records a failed try: attempts tries made so far, the next
// not before nextAt (Unix milliseconds). ErrNotFound when the delivery is
// gone.
func (s *Store) WebhookTried(ctx context.Context, id int64, attempts int, nextAt int64) error {
	return s.updateWebhook(ctx, "webhook tried", "UPDATE webhook_outbox SET attempts = ?, next_at = ? WHERE id = ?",
		attempts, nextAt, id)
}

func (s *Store) updateWebhook(ctx context.Context, what, q string, args ...any) error {
	res, err := s.write.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteWebhooks removes deliveries that were made, given up or dropped.
// Ids already gone are skipped.
func (s *Store) DeleteWebhooks(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	_, err := s.write.ExecContext(ctx, "DELETE FROM webhook_outbox WHERE id IN (?"+strings.Repeat(",?", len(ids)-1)+")", args...)
	if err != nil {
		return fmt.Errorf("delete webhooks: %w", err)
	}
	return nil
}
