package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ViewWindow is how long one viewer's views of one video count once.
const ViewWindow = 30 * 60 // seconds

// RecordView counts a view of video videoID by viewer (a user id or an IP
// address, as a string) unless the same viewer was counted for that video
// within ViewWindow. A counted view adds to videos.views and to today's
// daily_views row (the server's local day). ErrNotFound when the video is gone.
func (s *Store) RecordView(ctx context.Context, videoID int64, viewer string) (bool, error) {
	counted := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		var last int64
		err := tx.QueryRowContext(ctx, "SELECT at FROM video_views WHERE video_id = ? AND viewer = ?",
			videoID, viewer).Scan(&last)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if err == nil && t-last < ViewWindow {
			var n int
			return notFound(tx.QueryRowContext(ctx, "SELECT 1 FROM videos WHERE id = ?", videoID).Scan(&n))
		}
		res, err := tx.ExecContext(ctx, "UPDATE videos SET views = views + 1 WHERE id = ?", videoID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO video_views(video_id, viewer, at) VALUES (?, ?, ?)
			ON CONFLICT(video_id, viewer) DO UPDATE SET at = excluded.at`, videoID, viewer, t); err != nil {
			return err
		}
		day := time.Unix(t, 0).Local().Format(DateFormat)
		if _, err := tx.ExecContext(ctx, `INSERT INTO daily_views(day, views) VALUES (?, 1)
			ON CONFLICT(day) DO UPDATE SET views = views + 1`, day); err != nil {
			return err
		}
		counted = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record view of %d: %w", videoID, err)
	}
	return counted, nil
}

// PruneViews forgets viewers whose window has passed; they would count again
// anyway, so this only keeps the table small.
func (s *Store) PruneViews(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, "DELETE FROM video_views WHERE at <= ?", now()-ViewWindow)
	return err
}
