package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// localAt is hour o'clock of a local date.
func localAt(t *testing.T, date string, hour int) int64 {
	t.Helper()
	d, err := time.ParseInLocation(DateFormat, date, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	return d.Add(time.Duration(hour) * time.Hour).Unix()
}

func TestCreatedByDayGroupsByLocalDay(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	seed := []struct {
		date string
		hour int
	}{
		{"2024-02-29", 23}, // before the range
		{"2024-03-01", 0}, {"2024-03-01", 23},
		{"2024-03-31", 12}, // DST switch in Europe
		{"2024-03-31", 1},
		{"2024-03-31", 22}, // 23:00 where the day is 23 hours long
		{"2024-04-02", 12},
		{"2024-04-03", 0}, // after the range
	}
	for i, sd := range seed {
		at := localAt(t, sd.date, sd.hour)
		if _, err := s.write.Exec("INSERT INTO users(username, password_hash, created_at, updated_at) VALUES (?, 'x', ?, ?)",
			"u"+string(rune('a'+i)), at, at); err != nil {
			t.Fatal(err)
		}
		if _, err := s.write.Exec("INSERT INTO videos(user_id, title, created_at, updated_at) VALUES (1, 't', ?, ?)", at, at); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int64{"2024-03-01": 2, "2024-03-31": 3, "2024-04-02": 1}
	for _, fn := range []func(context.Context, string, string) (map[string]int64, error){s.NewUsersByDay, s.NewVideosByDay} {
		got, err := fn(ctx, "2024-03-01", "2024-04-02")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("got %v want %v", got, want)
		}
		for d, n := range want {
			if got[d] != n {
				t.Fatalf("got %v want %v", got, want)
			}
		}
	}
	if _, err := s.NewUsersByDay(ctx, "2024-13-01", "2024-04-02"); err == nil {
		t.Fatal("a bad date must fail")
	}
}

// TestCreatedByDayInDSTZones runs the day grouping again in zones with a
// daylight saving switch inside the seeded range.
func TestCreatedByDayInDSTZones(t *testing.T) {
	if os.Getenv("MIKA_STATS_TZ_CHILD") != "" {
		t.Skip("running as the child")
	}
	for _, tz := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		if _, err := time.LoadLocation(tz); err != nil {
			t.Skipf("no time zone data: %v", err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCreatedByDayGroupsByLocalDay$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TZ="+tz, "MIKA_STATS_TZ_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("TZ=%s: %v\n%s", tz, err, out)
		}
	}
}

func TestActivityAndOverview(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	// A stopped clock: "today" is one day for every row stamped below, also
	// when the test runs across midnight.
	clock := localAt(t, "2024-05-10", 12)
	realNow := now
	t.Cleanup(func() { now = realNow })
	now = func() int64 { return clock }
	for _, name := range []string{"ann", "bob", "cid"} {
		if _, err := s.CreateUser(ctx, NewUser{Username: name, PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	notes := []struct {
		id  int64
		day string
	}{{1, "2024-05-01"}, {1, "2024-05-01"}, {2, "2024-05-01"}, {1, "2024-05-03"}, {3, "2024-06-01"}}
	for _, n := range notes {
		if err := s.NoteActivity(ctx, n.id, n.day, 1234, n.id == 2); err != nil {
			t.Fatal(err)
		}
	}
	days, distinct, err := s.ActiveUsersByDay(ctx, "2024-05-01", "2024-05-31")
	if err != nil {
		t.Fatal(err)
	}
	if days["2024-05-01"] != 2 || days["2024-05-03"] != 1 || len(days) != 2 || distinct != 2 {
		t.Fatalf("active %v distinct %d", days, distinct)
	}
	u, err := s.UserByID(ctx, 2)
	if err != nil || u.LastActiveAt != 1234 {
		t.Fatalf("touch: %+v %v", u, err)
	}
	if u, _ := s.UserByID(ctx, 1); u.LastActiveAt != 0 {
		t.Fatalf("untouched user stamped: %d", u.LastActiveAt)
	}

	today := time.Unix(clock, 0).Format(DateFormat)
	if _, err := s.write.Exec("INSERT INTO videos(user_id, title, views, created_at, updated_at) VALUES (1, 'a', 7, ?, ?), (1, 'b', 5, 0, 0)",
		now(), now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.Exec("INSERT INTO daily_views(day, views) VALUES (?, 4), ('2000-01-01', 8)", today); err != nil {
		t.Fatal(err)
	}
	o, err := s.StatsOverview(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	want := Overview{TotalVideos: 2, TotalUsers: 3, TotalViews: 12, TodayVideos: 1, TodayUsers: 3, TodayViews: 4, TodayDate: today}
	if o != want {
		t.Fatalf("overview %+v want %+v", o, want)
	}
	views, err := s.ViewsByDay(ctx, "1999-12-31", "2000-01-01")
	if err != nil || views["2000-01-01"] != 8 || len(views) != 1 {
		t.Fatalf("views %v %v", views, err)
	}
}

func TestTaskCountsAndTranscodeSeconds(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if _, err := s.write.Exec(`INSERT INTO tasks(video_id, status, started_at, finished_at, created_at, updated_at) VALUES
		(1, 'completed', 100, 160, 1, 1), (2, 'completed', 200, 205, 1, 1), (3, 'failed', 100, 900, 1, 1),
		(4, 'pending', 0, 0, 1, 1), (5, 'pending', 0, 0, 1, 1)`); err != nil {
		t.Fatal(err)
	}
	counts, err := s.TaskCounts(ctx)
	if err != nil || counts["completed"] != 2 || counts["failed"] != 1 || counts["pending"] != 2 {
		t.Fatalf("counts %v %v", counts, err)
	}
	secs, err := s.TranscodeSeconds(ctx)
	if err != nil || secs != 65 {
		t.Fatalf("seconds %d %v", secs, err)
	}
}

// BenchmarkStatsYear runs a year's statistics (every series and the
// overview) over three years of history: 300k videos, 60k users, 1095 days
// × 600 active users.
func BenchmarkStatsYear(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "mika.db"), os.DirFS(filepath.Join("..", "migrations")))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	end := time.Now().Unix()
	span := int64(3 * 365 * 86400)
	seed := []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
		 INSERT INTO videos(user_id, title, created_at, updated_at) SELECT 1, 'v', ?1 - (i * 7919 % ?2), 0 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
		 INSERT INTO users(username, password_hash, created_at, updated_at) SELECT 'u' || i, 'x', ?1 - (i * 7919 % ?2), 0 FROM n`,
		`WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 1094),
		 u(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM u WHERE j < 600)
		 INSERT INTO user_activity(day, user_id) SELECT date(?1 - i * 86400, 'unixepoch', 'localtime'), j + i FROM d, u`,
		`WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 1094)
		 INSERT OR IGNORE INTO daily_views(day, views) SELECT date(?1 - i * 86400, 'unixepoch', 'localtime'), 1000 + i FROM d`,
	}
	for _, q := range seed {
		if _, err := s.write.Exec(q, end, span); err != nil {
			b.Fatal(err)
		}
	}
	to := time.Now().Format(DateFormat)
	from := time.Now().AddDate(0, 0, -365).Format(DateFormat)
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.NewVideosByDay(ctx, from, to); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ViewsByDay(ctx, from, to); err != nil {
			b.Fatal(err)
		}
		if _, err := s.NewUsersByDay(ctx, from, to); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.ActiveUsersByDay(ctx, from, to); err != nil {
			b.Fatal(err)
		}
		if _, err := s.StatsOverview(ctx, to); err != nil {
			b.Fatal(err)
		}
	}
}
