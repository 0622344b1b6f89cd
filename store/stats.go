package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Statistics are kept per local day (the server's time zone): views in
// daily_views (written where a view is counted), active users in
// user_activity (written by NoteActivity). New videos and users are grouped
// from created_at. Every series is one query over a date range.

// Overview is the statistics overview, without storage (the server measures
// that on disk).
type Overview struct {
	TotalVideos int64
	TotalUsers  int64
	TotalViews  int64
	TodayVideos int64
	TodayUsers  int64
	TodayViews  int64
	TodayDate   string
}

// dayBounds turns inclusive local dates into [start, end) Unix seconds.
func dayBounds(from, to string) (int64, int64, error) {
	f, err := time.ParseInLocation(DateFormat, from, time.Local)
	if err != nil {
		return 0, 0, fmt.Errorf("date %q: %w", from, err)
	}
	t, err := time.ParseInLocation(DateFormat, to, time.Local)
	if err != nil {
		return 0, 0, fmt.Errorf("date %q: %w", to, err)
	}
	return f.Unix(), t.AddDate(0, 0, 1).Unix(), nil
}

// StatsOverview counts totals and what happened on the local day today
// ("YYYY-MM-DD"), in one query.
func (s *Store) StatsOverview(ctx context.Context, today string) (Overview, error) {
	start, end, err := dayBounds(today, today)
	if err != nil {
		return Overview{}, err
	}
	o := Overview{TodayDate: today}
	err = s.read.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM videos),
		(SELECT COUNT(*) FROM users),
		(SELECT COALESCE(SUM(views), 0) FROM videos),
		(SELECT COUNT(*) FROM videos WHERE created_at >= ?1 AND created_at < ?2),
		(SELECT COUNT(*) FROM users WHERE created_at >= ?1 AND created_at < ?2),
		(SELECT COALESCE(SUM(views), 0) FROM daily_views WHERE day = ?3)`, start, end, today).
		Scan(&o.TotalVideos, &o.TotalUsers, &o.TotalViews, &o.TodayVideos, &o.TodayUsers, &o.TodayViews)
	if err != nil {
		return Overview{}, fmt.Errorf("statistics overview: %w", err)
	}
	return o, nil
}

// NewVideosByDay counts videos created on each local day from..to
// (inclusive, "YYYY-MM-DD"). Days without any are absent from the map.
func (s *Store) NewVideosByDay(ctx context.Context, from, to string) (map[string]int64, error) {
	return s.createdByDay(ctx, "videos", from, to)
}

// NewUsersByDay counts accounts created on each local day from..to.
func (s *Store) NewUsersByDay(ctx context.Context, from, to string) (map[string]int64, error) {
	return s.createdByDay(ctx, "users", from, to)
}

// createdByDay counts table's rows per local day with one query. The day
// boundaries are computed in Go (a DST day is 23 or 25 hours long) and
// passed as a JSON array; each day is then a range count on the created_at
// index, with no per-row date arithmetic. (SQLite's 'localtime' would also
// work, but is slower here and need not agree with Go's time.Local.)
func (s *Store) createdByDay(ctx context.Context, table, from, to string) (map[string]int64, error) {
	f, err := time.ParseInLocation(DateFormat, from, time.Local)
	if err != nil {
		return nil, fmt.Errorf("date %q: %w", from, err)
	}
	t, err := time.ParseInLocation(DateFormat, to, time.Local)
	if err != nil {
		return nil, fmt.Errorf("date %q: %w", to, err)
	}
	var days []string
	var bounds []int64
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(DateFormat))
		bounds = append(bounds, d.Unix())
	}
	bounds = append(bounds, t.AddDate(0, 0, 1).Unix())
	b, _ := json.Marshal(bounds)
	rows, err := s.read.QueryContext(ctx, `WITH b AS (
			SELECT key AS i, value AS lo, LEAD(value) OVER (ORDER BY key) AS hi FROM json_each(?))
		SELECT i, (SELECT COUNT(*) FROM `+table+` WHERE created_at >= b.lo AND created_at < b.hi)
		FROM b WHERE hi IS NOT NULL`, string(b))
	if err != nil {
		return nil, fmt.Errorf("%s by day: %w", table, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var i int
		var n int64
		if err := rows.Scan(&i, &n); err != nil {
			return nil, err
		}
		if n > 0 && i < len(days) {
			out[days[i]] = n
		}
	}
	return out, rows.Err()
}

func scanCounts(rows *sql.Rows, out map[string]int64) error {
	defer rows.Close()
	for rows.Next() {
		var day string
		var n int64
		if err := rows.Scan(&day, &n); err != nil {
			return err
		}
		out[day] += n
	}
	return rows.Err()
}

// ViewsByDay reads the per-day view counters for from..to.
func (s *Store) ViewsByDay(ctx context.Context, from, to string) (map[string]int64, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT day, views FROM daily_views WHERE day >= ? AND day <= ?", from, to)
	if err != nil {
		return nil, fmt.Errorf("views by day: %w", err)
	}
	out := map[string]int64{}
	return out, scanCounts(rows, out)
}

// ActiveUsersByDay counts the users active on each day of from..to, and
// how many distinct users were active over the whole range.
func (s *Store) ActiveUsersByDay(ctx context.Context, from, to string) (map[string]int64, int64, error) {
	rows, err := s.read.QueryContext(ctx,
		"SELECT day, COUNT(*) FROM user_activity WHERE day >= ? AND day <= ? GROUP BY day", from, to)
	if err != nil {
		return nil, 0, fmt.Errorf("active users by day: %w", err)
	}
	out := map[string]int64{}
	if err := scanCounts(rows, out); err != nil {
		return nil, 0, err
	}
	var distinct int64
	err = s.read.QueryRowContext(ctx,
		"SELECT COUNT(DISTINCT user_id) FROM user_activity WHERE day >= ? AND day <= ?", from, to).Scan(&distinct)
	if err != nil {
		return nil, 0, fmt.Errorf("active users: %w", err)
	}
	return out, distinct, nil
}

// NoteActivity records that user id was active on the local day day, and
// when touch is set also stamps users.last_active_at with the time at.
func (s *Store) NoteActivity(ctx context.Context, id int64, day string, at int64, touch bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO user_activity(day, user_id) VALUES (?, ?)", day, id); err != nil {
			return fmt.Errorf("note activity: %w", err)
		}
		if !touch {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET last_active_at = ? WHERE id = ?", at, id); err != nil {
			return fmt.Errorf("touch user: %w", err)
		}
		return nil
	})
}

// TaskCounts counts tasks by status.
func (s *Store) TaskCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT status, COUNT(*) FROM tasks GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("task counts: %w", err)
	}
	out := map[string]int64{}
	return out, scanCounts(rows, out)
}

// TranscodeSeconds sums the wall-clock time of completed tasks.
func (s *Store) TranscodeSeconds(ctx context.Context) (int64, error) {
	var n int64
	err := s.read.QueryRowContext(ctx, `SELECT COALESCE(SUM(finished_at - started_at), 0) FROM tasks
		WHERE status = 'completed' AND started_at > 0 AND finished_at >= started_at`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("transcode seconds: %w", err)
	}
	return n, nil
}
