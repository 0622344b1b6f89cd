package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
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

// createdByDay groups table's created_at by local day. SQLite's 'localtime'
// (modernc's libc reads TZ and /etc/localtime like Go does) groups in SQL
// when it agrees with Go's time.Local; otherwise the rows' times come back
// and are grouped in Go, which is exact but reads one row per item.
func (s *Store) createdByDay(ctx context.Context, table, from, to string) (map[string]int64, error) {
	start, end, err := dayBounds(from, to)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	if s.sqliteLocaltimeAgrees(ctx) {
		rows, err := s.read.QueryContext(ctx, `SELECT date(created_at, 'unixepoch', 'localtime') AS day, COUNT(*)
			FROM `+table+` WHERE created_at >= ? AND created_at < ? GROUP BY day`, start, end)
		if err != nil {
			return nil, fmt.Errorf("%s by day: %w", table, err)
		}
		return out, scanCounts(rows, out)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT created_at FROM `+table+` WHERE created_at >= ? AND created_at < ?`, start, end)
	if err != nil {
		return nil, fmt.Errorf("%s by day: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t int64
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out[time.Unix(t, 0).In(time.Local).Format(DateFormat)]++
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

// forceGoGrouping makes createdByDay group in Go; tests set it.
var forceGoGrouping = false

var localtimeCheck struct {
	once   sync.Once
	agrees bool
}

// sqliteLocaltimeAgrees checks once whether SQLite's 'localtime' gives the
// same wall clock as Go's time.Local, over a year (both DST sides).
func (s *Store) sqliteLocaltimeAgrees(ctx context.Context) bool {
	if forceGoGrouping {
		return false
	}
	localtimeCheck.once.Do(func() {
		base := time.Now().Unix()
		agrees := true
		for _, off := range []int64{0, 91, 182, 273} {
			t := base - off*86400
			var got string
			if err := s.read.QueryRowContext(ctx, "SELECT datetime(?, 'unixepoch', 'localtime')", t).Scan(&got); err != nil ||
				got != time.Unix(t, 0).In(time.Local).Format(TimeFormat) {
				agrees = false
				break
			}
		}
		localtimeCheck.agrees = agrees
	})
	return localtimeCheck.agrees
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
