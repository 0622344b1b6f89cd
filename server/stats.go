package server

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"mika/store"
)

// Statistics. Days are the server's local days. Views and active users are
// recorded per day (daily_views, user_activity), so every series is one
// grouped query over the range however long the history is.

// maxStatsDays is the longest range a statistics request may ask for.
const maxStatsDays = 366

type todayStats struct {
	NewVideos int64 `json:"new_videos"`
	NewUsers  int64 `json:"new_users"`
	Views     int64 `json:"views"`
}

type overviewData struct {
	TotalVideos int64      `json:"total_videos"`
	TotalUsers  int64      `json:"total_users"`
	TotalViews  int64      `json:"total_views"`
	StorageUsed int64      `json:"storage_used"`
	Today       todayStats `json:"today"`
}

func (s *Server) statsOverview(w http.ResponseWriter, r *http.Request) error {
	o, err := s.store.StatsOverview(r.Context(), time.Now().Format(store.DateFormat))
	if err != nil {
		return err
	}
	used, err := s.storage.used(r.Context())
	if err != nil {
		return err
	}
	return ok(w, overviewData{TotalVideos: o.TotalVideos, TotalUsers: o.TotalUsers, TotalViews: o.TotalViews,
		StorageUsed: used, Today: todayStats{NewVideos: o.TodayVideos, NewUsers: o.TodayUsers, Views: o.TodayViews}})
}

// statsRange reads start_date and end_date (inclusive, YYYY-MM-DD). The
// default is the 30 days ending today; with only one end given the range
// is the 30 days on that side of it (but not past today).
func statsRange(r *http.Request) (days []string, err error) {
	errs := map[string]string{}
	parse := func(name string) (time.Time, bool) {
		v := strings.TrimSpace(r.URL.Query().Get(name))
		if v == "" {
			return time.Time{}, false
		}
		t, err := time.ParseInLocation(store.DateFormat, v, time.Local)
		if err != nil {
			errs[name] = "must be a date YYYY-MM-DD"
			return time.Time{}, false
		}
		return t, true
	}
	start, hasStart := parse("start_date")
	end, hasEnd := parse("end_date")
	if len(errs) > 0 {
		return nil, errInvalid(errs)
	}
	switch {
	case !hasStart && !hasEnd:
		end, _ = time.ParseInLocation(store.DateFormat, time.Now().Format(store.DateFormat), time.Local)
		start = end.AddDate(0, 0, -29)
	case !hasStart:
		start = end.AddDate(0, 0, -29)
	case !hasEnd:
		end = start.AddDate(0, 0, 29)
		// Days that have not come yet are all zeros; stop at today.
		today, _ := time.ParseInLocation(store.DateFormat, time.Now().Format(store.DateFormat), time.Local)
		if !start.After(today) && end.After(today) {
			end = today
		}
	}
	if end.Before(start) {
		return nil, errField("end_date", "must not be before start_date")
	}
	// Step by calendar day: a DST day is 23 or 25 hours long.
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		if len(days) == maxStatsDays {
			return nil, errField("end_date", "the range may span at most 366 days")
		}
		days = append(days, d.Format(store.DateFormat))
	}
	return days, nil
}

type videoDay struct {
	Date      string `json:"date"`
	NewVideos int64  `json:"new_videos"`
	Views     int64  `json:"views"`
}

type videoTotals struct {
	NewVideos int64 `json:"new_videos"`
	Views     int64 `json:"views"`
}

func (s *Server) statsVideos(w http.ResponseWriter, r *http.Request) error {
	days, err := statsRange(r)
	if err != nil {
		return err
	}
	from, to := days[0], days[len(days)-1]
	created, err := s.store.NewVideosByDay(r.Context(), from, to)
	if err != nil {
		return err
	}
	views, err := s.store.ViewsByDay(r.Context(), from, to)
	if err != nil {
		return err
	}
	list := make([]videoDay, len(days))
	var total videoTotals
	for i, d := range days {
		list[i] = videoDay{Date: d, NewVideos: created[d], Views: views[d]}
		total.NewVideos += created[d]
		total.Views += views[d]
	}
	return ok(w, map[string]any{"list": list, "total": total})
}

type userDay struct {
	Date        string `json:"date"`
	NewUsers    int64  `json:"new_users"`
	ActiveUsers int64  `json:"active_users"`
}

type userTotals struct {
	NewUsers    int64 `json:"new_users"`
	ActiveUsers int64 `json:"active_users"` // distinct users active in the range
}

func (s *Server) statsUsers(w http.ResponseWriter, r *http.Request) error {
	days, err := statsRange(r)
	if err != nil {
		return err
	}
	from, to := days[0], days[len(days)-1]
	created, err := s.store.NewUsersByDay(r.Context(), from, to)
	if err != nil {
		return err
	}
	active, distinct, err := s.store.ActiveUsersByDay(r.Context(), from, to)
	if err != nil {
		return err
	}
	list := make([]userDay, len(days))
	total := userTotals{ActiveUsers: distinct}
	for i, d := range days {
		list[i] = userDay{Date: d, NewUsers: created[d], ActiveUsers: active[d]}
		total.NewUsers += created[d]
	}
	return ok(w, map[string]any{"list": list, "total": total})
}

// activity remembers which users were already recorded as active today, so
// that recording costs one write per user per day.
type activity struct {
	mu   sync.Mutex
	day  string
	seen map[int64]bool
}

// touchEvery is how stale users.last_active_at may get before a request
// stamps it again.
const touchEvery = 5 * time.Minute

// noteActive records u as active today (for the users statistics) and keeps
// last_active_at roughly current. Auth calls it on every authenticated
// request and at login; it writes at most once per user per day plus once
// per touchEvery.
func (s *Server) noteActive(ctx context.Context, u *store.User) {
	t := time.Now()
	day := t.Format(store.DateFormat)
	touch := t.Unix()-u.LastActiveAt >= int64(touchEvery/time.Second)
	a := s.activity
	a.mu.Lock()
	if a.day != day {
		a.day, a.seen = day, map[int64]bool{}
	}
	first := !a.seen[u.ID]
	a.mu.Unlock()
	if !first && !touch {
		return
	}
	if err := s.store.NoteActivity(ctx, u.ID, day, t.Unix(), touch); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("record activity", slog.Int64("user_id", u.ID), slog.Any("err", err))
		}
		return
	}
	a.mu.Lock()
	if a.day == day {
		a.seen[u.ID] = true
	}
	a.mu.Unlock()
}

// storageMeter measures the bytes under the media folder. A walk is cheap
// next to a request but not free with many thousands of segments, so the
// value is cached: the first call measures, later calls answer the cached
// value at once and, when it is older than its time to live, start a fresh
// walk in the background. The time to live is ttl, or 20 times the last
// walk's duration when that is longer, so a slow disk is walked at most
// about 5% of the time. A finished task also starts a walk (kick).
type storageMeter struct {
	dir string
	ttl time.Duration
	log *slog.Logger

	mu       sync.Mutex
	bytes    int64
	measured time.Time
	took     time.Duration
	running  chan struct{} // closed when the running walk ends; nil when none runs
	err      error
}

func newStorageMeter(dir string, log *slog.Logger) *storageMeter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &storageMeter{dir: dir, ttl: 5 * time.Second, log: log}
}

// used answers the media's size in bytes.
func (m *storageMeter) used(ctx context.Context) (int64, error) {
	m.mu.Lock()
	if !m.measured.IsZero() {
		if time.Since(m.measured) >= max(m.ttl, 20*m.took) {
			m.start()
		}
		defer m.mu.Unlock()
		return m.bytes, nil
	}
	done := m.start()
	m.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes, m.err
}

// kick starts a walk in the background unless one runs.
func (m *storageMeter) kick() {
	m.mu.Lock()
	m.start()
	m.mu.Unlock()
}

// start begins a walk unless one runs; m.mu is held.
func (m *storageMeter) start() chan struct{} {
	if m.running != nil {
		return m.running
	}
	done := make(chan struct{})
	m.running = done
	go func() {
		began := time.Now()
		n, err := dirSize(m.dir)
		m.mu.Lock()
		if err != nil {
			m.log.Warn("measure storage", slog.Any("err", err))
		}
		if err == nil || m.measured.IsZero() {
			m.bytes, m.err = n, err
		}
		if err == nil {
			m.measured, m.took = time.Now(), time.Since(began)
		}
		m.running = nil
		m.mu.Unlock()
		close(done)
	}()
	return done
}

// dirSize sums the sizes of the regular files below dir (sparse files count
// what they hold, see storedBytes). Files that vanish during the walk (a
// deleted video) are skipped.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		n += storedBytes(info)
		return nil
	})
	return n, err
}
