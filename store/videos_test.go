package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func mustVideo(t testing.TB, s *Store, n NewVideo, status int) *Video {
	t.Helper()
	v, _, err := s.CreateVideo(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if status != VideoProcessing {
		if v, err = s.UpdateVideo(context.Background(), v.ID, VideoChanges{Status: &status}); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

func ids(list []*Video) []int64 {
	out := []int64{}
	for _, v := range list {
		out = append(out, v.ID)
	}
	return out
}

func TestListVideosKeyword(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	a := mustVideo(t, s, NewVideo{UserID: 1, Title: "示例视频", Description: "第一个"}, VideoPublished)
	b := mustVideo(t, s, NewVideo{UserID: 1, Title: "Holiday Trip", Description: "beach and SUN"}, VideoPublished)
	c := mustVideo(t, s, NewVideo{UserID: 1, Title: "other", Tags: []string{"动作", "Sci-Fi"}}, VideoPublished)
	d := mustVideo(t, s, NewVideo{UserID: 1, Title: "100% real_name"}, VideoPublished)
	hidden := mustVideo(t, s, NewVideo{UserID: 1, Title: "示例视频 hidden"}, VideoHidden)
	tests := []struct {
		kw   string
		want []int64
	}{
		{"示例视", []int64{a.ID}},      // trigram: Chinese substring
		{"视频", []int64{a.ID}},       // two runes: LIKE fallback
		{"视", []int64{a.ID}},        // one rune
		{"holiday", []int64{b.ID}},  // case-insensitive English
		{"IDAY TR", []int64{b.ID}},  // substring across a space
		{"sun", []int64{b.ID}},      // description
		{"sci-fi", []int64{c.ID}},   // tags
		{"动作", []int64{c.ID}},       // short tag
		{"%", []int64{d.ID}},        // a LIKE wildcard is literal
		{"_", []int64{d.ID}},        // so is _
		{"0% r", []int64{d.ID}},     // and % inside a trigram phrase
		{`"x`, []int64{}},           // quotes never break the MATCH syntax
		{"nothing here", []int64{}}, // no match
		{"示例视频 hidden", []int64{}},  // not published
		{`"`, []int64{}},            // tags are text, not their JSON
		{`",`, []int64{}},           // (short keyword)
		{`","`, []int64{}},          // (trigram)
		{"作Sc", []int64{}},          // and never one across two tags
	}
	for _, tc := range tests {
		t.Run(tc.kw, func(t *testing.T) {
			// Public (published index) and admin (all videos) paths alike.
			for _, f := range []VideoFilter{{Status: VideoPublished}, {AnyStatus: true}} {
				f.Keyword, f.Limit = tc.kw, 10
				list, total, err := s.ListVideos(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.want
				if f.AnyStatus && strings.Contains(hidden.Title, tc.kw) {
					want = append([]int64{hidden.ID}, want...)
				}
				if fmt.Sprint(ids(list)) != fmt.Sprint(want) || total != int64(len(want)) {
					t.Fatalf("keyword %q (any status %v): got %v total %d, want %v", tc.kw, f.AnyStatus, ids(list), total, want)
				}
			}
		})
	}
	// The index follows edits and deletes.
	title := "renamed"
	if _, err := s.UpdateVideo(ctx, a.ID, VideoChanges{Title: &title}); err != nil {
		t.Fatal(err)
	}
	if list, _, _ := s.ListVideos(ctx, VideoFilter{Status: VideoPublished, Keyword: "示例视", Limit: 10}); len(list) != 0 {
		t.Fatalf("old title still found: %v", ids(list))
	}
	if list, _, _ := s.ListVideos(ctx, VideoFilter{AnyStatus: true, Keyword: "示例视", Limit: 10}); fmt.Sprint(ids(list)) != fmt.Sprint([]int64{hidden.ID}) {
		t.Fatalf("any status: got %v", ids(list))
	}
	if _, _, err := s.DeleteVideo(ctx, hidden.ID); err != nil {
		t.Fatal(err)
	}
	if list, _, _ := s.ListVideos(ctx, VideoFilter{AnyStatus: true, Keyword: "hidden", Limit: 10}); len(list) != 0 {
		t.Fatalf("deleted video still found: %v", ids(list))
	}
	var n int
	if err := s.read.QueryRow("SELECT count(*) FROM videos_fts WHERE videos_fts MATCH '\"renamed\"'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("fts rows for new title: %d %v", n, err)
	}
}

func TestListVideosFiltersAndOrder(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	root, err := s.CreateCategory(ctx, "Films", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	child, err := s.CreateCategory(ctx, "Action", root.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateCategory(ctx, "Music", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	v1 := mustVideo(t, s, NewVideo{UserID: 1, Title: "clip one", CategoryID: root.ID}, VideoPublished)
	v2 := mustVideo(t, s, NewVideo{UserID: 2, Title: "clip two", CategoryID: child.ID}, VideoPublished)
	v3 := mustVideo(t, s, NewVideo{UserID: 2, Title: "clip three", CategoryID: other.ID}, VideoPublished)
	v4 := mustVideo(t, s, NewVideo{UserID: 2, Title: "clip four", CategoryID: child.ID}, VideoProcessing)
	for i := 0; i < 3; i++ {
		if _, err := s.RecordView(ctx, v2.ID, fmt.Sprint("viewer", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RecordView(ctx, v3.ID, "x"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    VideoFilter
		want []int64
	}{
		{"published newest first", VideoFilter{Status: 1}, []int64{v3.ID, v2.ID, v1.ID}},
		{"every status", VideoFilter{AnyStatus: true}, []int64{v4.ID, v3.ID, v2.ID, v1.ID}},
		{"by views, ties by id", VideoFilter{Status: 1, ByViews: true}, []int64{v2.ID, v3.ID, v1.ID}},
		{"category with descendants", VideoFilter{Status: 1, CategoryID: root.ID}, []int64{v2.ID, v1.ID}},
		{"leaf category", VideoFilter{AnyStatus: true, CategoryID: child.ID}, []int64{v4.ID, v2.ID}},
		{"unknown category", VideoFilter{Status: 1, CategoryID: 999}, []int64{}},
		{"one user's", VideoFilter{AnyStatus: true, UserID: 2}, []int64{v4.ID, v3.ID, v2.ID}},
		{"one user's processing", VideoFilter{Status: 0, UserID: 2}, []int64{v4.ID}},
		{"second page", VideoFilter{Status: 1, Limit: 2, Offset: 2}, []int64{v1.ID}},
		{"past the end", VideoFilter{Status: 1, Limit: 2, Offset: 4}, []int64{}},
		{"keyword newest", VideoFilter{Status: 1, Keyword: "clip"}, []int64{v3.ID, v2.ID, v1.ID}},
		{"keyword page", VideoFilter{Status: 1, Keyword: "clip", Limit: 1, Offset: 1}, []int64{v2.ID}},
		{"keyword by views", VideoFilter{Status: 1, Keyword: "clip", ByViews: true}, []int64{v2.ID, v3.ID, v1.ID}},
		{"keyword in category", VideoFilter{Status: 1, Keyword: "clip", CategoryID: root.ID}, []int64{v2.ID, v1.ID}},
		{"keyword any status", VideoFilter{AnyStatus: true, Keyword: "clip"}, []int64{v4.ID, v3.ID, v2.ID, v1.ID}},
		{"keyword one user's", VideoFilter{AnyStatus: true, UserID: 2, Keyword: "CLIP"}, []int64{v4.ID, v3.ID, v2.ID}},
		// Fewer matches than rows in the category: the matches drive.
		{"rare keyword in category", VideoFilter{Status: 1, Keyword: "clip two", CategoryID: root.ID}, []int64{v2.ID}},
		{"rare keyword one user's", VideoFilter{AnyStatus: true, UserID: 2, Keyword: "four"}, []int64{v4.ID}},
	}
	for _, big := range []int64{2000, 0} {
		// bigResult 0 sends every keyword page in views order through the
		// membership test instead of fetching every match.
		bigResult = big
		for _, tc := range tests {
			t.Run(fmt.Sprint(tc.name, big), func(t *testing.T) {
				if tc.f.Limit == 0 {
					tc.f.Limit = 10
				}
				list, total, err := s.ListVideos(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(ids(list)) != fmt.Sprint(tc.want) {
					t.Fatalf("got %v, want %v", ids(list), tc.want)
				}
				if tc.f.Offset == 0 && total != int64(len(tc.want)) {
					t.Fatalf("total %d, want %d", total, len(tc.want))
				}
			})
		}
	}
	bigResult = 2000
	// The per-status counters follow status changes and deletes.
	hidden := VideoHidden
	if _, err := s.UpdateVideo(ctx, v1.ID, VideoChanges{Status: &hidden}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DeleteVideo(ctx, v3.ID); err != nil {
		t.Fatal(err)
	}
	for status, want := range map[int]int64{0: 1, 1: 1, 3: 1} {
		if _, total, _ := s.ListVideos(ctx, VideoFilter{Status: status, Limit: 1}); total != want {
			t.Fatalf("status %d total %d, want %d", status, total, want)
		}
	}
	if _, total, _ := s.ListVideos(ctx, VideoFilter{AnyStatus: true, Limit: 1}); total != 3 {
		t.Fatalf("total %d, want 3", total)
	}
}

func TestRecordView(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	v := mustVideo(t, s, NewVideo{UserID: 1, Title: "a"}, VideoPublished)
	clock := int64(1_700_000_000)
	defer func(old func() int64) { now = old }(now)
	now = func() int64 { return clock }

	if _, err := s.RecordView(ctx, 999, "1.2.3.4"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown video: %v", err)
	}
	steps := []struct {
		advance int64
		viewer  string
		counted bool
	}{
		{0, "1.2.3.4", true},
		{60, "1.2.3.4", false}, // same viewer inside the window
		{0, "user:7", true},    // another viewer
		{ViewWindow - 61, "1.2.3.4", false},
		{1, "1.2.3.4", true}, // the window has passed
	}
	for i, st := range steps {
		clock += st.advance
		got, err := s.RecordView(ctx, v.ID, st.viewer)
		if err != nil || got != st.counted {
			t.Fatalf("step %d: counted %v err %v, want %v", i, got, err, st.counted)
		}
	}
	got, _ := s.VideoByID(ctx, v.ID)
	if got.Views != 3 {
		t.Fatalf("views %d, want 3", got.Views)
	}
	var total int64
	if err := s.read.QueryRow("SELECT sum(views) FROM daily_views").Scan(&total); err != nil || total != 3 {
		t.Fatalf("daily views %d %v", total, err)
	}
	clock += 100
	if err := s.PruneViews(ctx); err != nil {
		t.Fatal(err)
	}
	var left int
	s.read.QueryRow("SELECT count(*) FROM video_views").Scan(&left)
	if left != 1 { // user:7's window passed; 1.2.3.4 was just counted
		t.Fatalf("%d view rows left after prune, want 1", left)
	}
}

func TestCategories(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	a, err := s.CreateCategory(ctx, "Films", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.CreateCategory(ctx, "Action", a.ID, 1)
	c, _ := s.CreateCategory(ctx, "Deep", b.ID, 1)

	if _, err := s.CreateCategory(ctx, "films", 0, 1); !errors.Is(err, ErrConflict) {
		t.Fatalf("sibling name: %v", err)
	}
	if _, err := s.CreateCategory(ctx, "Films", a.ID, 1); err != nil {
		t.Fatalf("same name elsewhere: %v", err)
	}
	if _, err := s.CreateCategory(ctx, "x", 999, 1); !errors.Is(err, ErrNoParent) {
		t.Fatalf("missing parent: %v", err)
	}
	for _, p := range []int64{a.ID, b.ID, c.ID} {
		if _, err := s.UpdateCategory(ctx, a.ID, CategoryChanges{ParentID: &p}); !errors.Is(err, ErrCycle) {
			t.Fatalf("parent %d: %v", p, err)
		}
	}
	root := int64(0)
	if _, err := s.UpdateCategory(ctx, c.ID, CategoryChanges{ParentID: &root}); err != nil {
		t.Fatalf("move to root: %v", err)
	}
	name := "action"
	if _, err := s.UpdateCategory(ctx, c.ID, CategoryChanges{ParentID: &a.ID, Name: &name}); !errors.Is(err, ErrConflict) {
		t.Fatalf("rename into a taken sibling name: %v", err)
	}
	if _, err := s.UpdateCategory(ctx, 999, CategoryChanges{Name: &name}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}

	mustVideo(t, s, NewVideo{UserID: 1, Title: "v", CategoryID: a.ID}, VideoPublished)
	var inUse *CategoryInUseError
	if err := s.DeleteCategory(ctx, a.ID); !errors.As(err, &inUse) || inUse.Children != 2 || inUse.Videos != 1 {
		t.Fatalf("delete in use: %v", err)
	}
	if err := s.DeleteCategory(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCategory(ctx, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestDeleteVideo(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	v, taskID, err := s.CreateVideo(ctx, NewVideo{UserID: 1, Title: "a"})
	if err != nil {
		t.Fatal(err)
	}
	s.RecordView(ctx, v.ID, "x")
	got, active, err := s.DeleteVideo(ctx, v.ID)
	if err != nil || got.ID != v.ID || fmt.Sprint(active) != fmt.Sprint([]int64{taskID}) {
		t.Fatalf("delete: %v %v %v", got, active, err)
	}
	var n int
	s.read.QueryRow("SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM videos) + (SELECT count(*) FROM video_views)").Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows left", n)
	}
	if _, _, err := s.DeleteVideo(ctx, v.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("twice: %v", err)
	}
}

func TestCreateVideoPlacedRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	boom := errors.New("boom")
	_, _, err := s.CreateVideoPlaced(ctx, NewVideo{UserID: 1, Title: "a"}, func(id int64) (string, error) { return "", boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	var n int
	s.read.QueryRow("SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM videos)").Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows left after a failed place", n)
	}
	v, _, err := s.CreateVideoPlaced(ctx, NewVideo{UserID: 1, Title: "a"}, func(id int64) (string, error) {
		return fmt.Sprintf("media/originals/%d.mp4", id), nil
	})
	if err != nil || v.SourcePath != fmt.Sprintf("media/originals/%d.mp4", v.ID) {
		t.Fatalf("placed: %+v %v", v, err)
	}
	removed, err := s.RemoveIfNoVideo(ctx, v.ID, v.SourcePath, func() error { return nil })
	if err != nil || removed {
		t.Fatalf("owned file removed: %v %v", removed, err)
	}
	removed, err = s.RemoveIfNoVideo(ctx, v.ID+1, "media/originals/x.mp4", func() error { return nil })
	if err != nil || !removed {
		t.Fatalf("orphan kept: %v %v", removed, err)
	}
}

func TestUploadChunks(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	u := &Upload{ID: "abc", UserID: 1, Filename: "a.mp4", FileSize: 11, ChunkSize: 5, TotalChunks: 3, Title: "t",
		Tags: []string{"x"}}
	if err := s.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	if u.ChunkLen(0) != 5 || u.ChunkLen(2) != 1 {
		t.Fatalf("chunk lengths %d %d", u.ChunkLen(0), u.ChunkLen(2))
	}
	for _, i := range []int{2, 0, 2} {
		if _, err := s.MarkChunk(ctx, "abc", i); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.UploadChunks(ctx, "abc")
	if fmt.Sprint(got) != "[0 2]" {
		t.Fatalf("chunks %v", got)
	}
	if _, err := s.MarkChunk(ctx, "nope", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown upload: %v", err)
	}
	v, _, err := s.CompleteUpload(ctx, "abc", NewVideo{UserID: 1, Title: "t"}, func(id int64) (string, error) { return "p", nil })
	if err != nil || v.SourcePath != "p" {
		t.Fatalf("complete: %v %v", v, err)
	}
	if _, _, err := s.CompleteUpload(ctx, "abc", NewVideo{UserID: 1, Title: "t"}, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second complete: %v", err)
	}
	var n int
	s.read.QueryRow("SELECT count(*) FROM upload_chunks").Scan(&n)
	if n != 0 {
		t.Fatalf("%d chunk rows left", n)
	}
}

// benchStore is a store with n generated videos, some in categories, with
// titles that mix Chinese and English.
func benchStore(b testing.TB, n int) *Store {
	b.Helper()
	s := openTestStore(b)
	ctx := context.Background()
	for i := 1; i <= 10; i++ {
		if _, err := s.CreateCategory(ctx, fmt.Sprint("cat", i), 0, i); err != nil {
			b.Fatal(err)
		}
	}
	// Bulk loading indexes the text once at the end instead of row by row.
	if _, err := s.write.Exec("DROP TRIGGER videos_fts_insert"); err != nil {
		b.Fatal(err)
	}
	words := []string{"示例视频", "旅行", "猫咪", "holiday", "concert", "cooking", "纪录片", "tutorial", "family", "风景"}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.Prepare(`INSERT INTO videos(user_id, title, description, category_id, tags, status, views,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := 0; i < n; i++ {
			title := fmt.Sprintf("%s %s 第%d集", words[i%len(words)], words[(i/10)%len(words)], i)
			desc := fmt.Sprintf("video number %d about %s", i, words[(i/7)%len(words)])
			tags := fmt.Sprintf(`["%s","tag%d"]`, words[(i/3)%len(words)], i%50)
			status := 1
			if i%10 == 0 {
				status = 3
			}
			if _, err := st.Exec(1+i%100, title, desc, i%11, tags, status, (i*7919)%100000,
				1_600_000_000+i, 1_600_000_000+i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// Index the bulk load the way the triggers do (tags as their text).
	for _, q := range []string{`INSERT INTO videos_fts(rowid, title, description, tags)
		SELECT id, title, description, (SELECT group_concat(value, char(31)) FROM json_each(videos.tags)) FROM videos`,
		`CREATE TRIGGER videos_fts_insert
		AFTER INSERT ON videos BEGIN INSERT INTO videos_fts(rowid, title, description, tags)
		VALUES (new.id, new.title, new.description, (SELECT group_concat(value, char(31)) FROM json_each(new.tags))); END`,
		"ANALYZE"} {
		if _, err := s.write.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	// What the server's housekeeping does after a bulk load.
	if err := s.TidySearchIndex(ctx, 1000); err != nil {
		b.Fatal(err)
	}
	return s
}

const benchRows = 200_000

func BenchmarkListVideos(b *testing.B) {
	s := benchStore(b, benchRows)
	ctx := context.Background()
	cases := []struct {
		name string
		f    VideoFilter
	}{
		{"newest", VideoFilter{Status: 1}},
		{"views", VideoFilter{Status: 1, ByViews: true}},
		{"page500", VideoFilter{Status: 1, Offset: 500 * 20}},
		{"category_views", VideoFilter{Status: 1, CategoryID: 3, ByViews: true}},
		{"admin_all", VideoFilter{AnyStatus: true}},
		{"user", VideoFilter{AnyStatus: true, UserID: 42}},
	}
	for _, c := range cases {
		c.f.Limit = 20
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.ListVideos(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSearch(b *testing.B) {
	s := benchStore(b, benchRows)
	ctx := context.Background()
	cases := []struct {
		name string
		f    VideoFilter
	}{
		{"common_zh", VideoFilter{Keyword: "示例视"}},
		{"common_en", VideoFilter{Keyword: "holiday"}},
		{"rare", VideoFilter{Keyword: "第199999集"}},
		{"phrase", VideoFilter{Keyword: "concert 猫咪"}},
		{"none", VideoFilter{Keyword: "no such thing"}},
		{"common_views", VideoFilter{Keyword: "示例视", ByViews: true}},
		{"rare_views", VideoFilter{Keyword: "第199999集", ByViews: true}},
		{"common_category", VideoFilter{Keyword: "holiday", CategoryID: 3}},
		{"admin_common", VideoFilter{Keyword: "示例视", AnyStatus: true}},
		{"short_common_like", VideoFilter{Keyword: "视频"}},
		{"short_rare_like", VideoFilter{Keyword: "x9"}},
		// The first search after a change counts its matches again.
		{"uncached_common_en", VideoFilter{Keyword: "holiday"}},
		{"uncached_common_category", VideoFilter{Keyword: "holiday", CategoryID: 3}},
		{"uncached_short_common", VideoFilter{Keyword: "视频"}},
	}
	for _, c := range cases {
		c.f.Status, c.f.Limit = 1, 20
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if strings.HasPrefix(c.name, "uncached") {
					publicTotals.Lock()
					clear(publicTotals.m)
					publicTotals.Unlock()
				}
				if _, _, err := s.ListVideos(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzSearchKeyword: no keyword breaks the query (FTS5 syntax, LIKE
// wildcards, quotes, odd runes), and a keyword cut from a title finds it.
func FuzzSearchKeyword(f *testing.F) {
	s := openTestStore(f)
	ctx := context.Background()
	titles := []string{"示例视频 第一集", `Quote "this" and 100% _under_`, "NEAR(a b) OR c* AND -d ^e", "emoji 🎬 clip"}
	for _, t := range titles {
		mustVideo(f, s, NewVideo{UserID: 1, Title: t}, VideoPublished)
	}
	for _, seed := range []string{"示例视", `"this"`, "100%", "_", "NEAR(", "c*", "🎬 c", "\x00", "'", "\\", "a\"b"} {
		f.Add(seed, 0, 3)
	}
	f.Fuzz(func(t *testing.T, kw string, title, cut int) {
		if _, _, err := s.ListVideos(ctx, VideoFilter{Status: 1, Keyword: kw, Limit: 5}); err != nil {
			t.Fatalf("keyword %q: %v", kw, err)
		}
		if _, _, err := s.ListVideos(ctx, VideoFilter{AnyStatus: true, Keyword: kw, ByViews: true, CategoryID: 1, Limit: 5}); err != nil {
			t.Fatalf("keyword %q: %v", kw, err)
		}
		// A substring of a title (not starting or ending in a space, which
		// the handler trims) always finds it.
		r := []rune(titles[uint(title)%uint(len(titles))])
		start := uint(cut) % uint(len(r))
		sub := strings.TrimSpace(string(r[start:min(int(start)+3+int(uint(cut)%5), len(r))]))
		if sub == "" {
			return
		}
		list, _, err := s.ListVideos(ctx, VideoFilter{Status: 1, Keyword: sub, Limit: 10})
		if err != nil || len(list) == 0 {
			t.Fatalf("substring %q of %q: %d found, %v", sub, string(r), len(list), err)
		}
	})
}

// TestPublicSearchFollowsEdits: the index of published videos answers
// exactly what a scan of the rows answers (published, keyword a substring of
// title, description or tags ignoring ASCII case, category subtree), after
// status changes, edits, category moves and deletes, for keywords of every
// length, in both orders and across pages.
func TestPublicSearchFollowsEdits(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	root, err := s.CreateCategory(ctx, "Films", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	child, err := s.CreateCategory(ctx, "Action", root.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	cats := []int64{0, root.ID, child.ID}
	words := []string{"示例视频", "Sunset", "猫", "ab", "sun", "x"}
	var all []*Video
	for i := 0; i < 60; i++ {
		status := []int{VideoPublished, VideoPublished, VideoHidden, VideoProcessing}[i%4]
		v := mustVideo(t, s, NewVideo{UserID: 1, Title: words[i%len(words)] + fmt.Sprint(i%7),
			Description: words[(i/2)%len(words)], Tags: []string{words[(i/3)%len(words)]}, CategoryID: cats[i%3]}, status)
		all = append(all, v)
	}
	check := func() {
		t.Helper()
		for _, big := range []int64{2000, 0} {
			// Each way a views page is planned: few matches sorted, many
			// tested while walking the views index.
			bigResult = big
			checkPublicSearch(t, s, all, cats, root.ID, child.ID)
		}
		bigResult = 2000
	}
	check()
	// Edits: hide, publish, rename, move, delete; the totals counted above
	// are stale now.
	for i, v := range all {
		if v == nil {
			continue
		}
		var ch VideoChanges
		switch i % 5 {
		case 0:
			st := VideoHidden
			ch.Status = &st
		case 1:
			st := VideoPublished
			ch.Status = &st
		case 2:
			title := "renamed 视频 AB"
			ch.Title = &title
		case 3:
			c := cats[(i+1)%3]
			ch.CategoryID = &c
		case 4:
			if _, _, err := s.DeleteVideo(ctx, v.ID); err != nil {
				t.Fatal(err)
			}
			all[i] = nil
			continue
		}
		if all[i], err = s.UpdateVideo(ctx, v.ID, ch); err != nil {
			t.Fatal(err)
		}
	}
	check()
	// A new published video and a view: the first changes the totals.
	all = append(all, mustVideo(t, s, NewVideo{UserID: 2, Title: "late sunset ab", CategoryID: child.ID}, VideoPublished))
	check()
	// Merging the index's segments changes no answer.
	if err := s.TidySearchIndex(ctx, 100); err != nil {
		t.Fatal(err)
	}
	check()
}

// checkPublicSearch compares public searches with a scan of all.
func checkPublicSearch(t *testing.T, s *Store, all []*Video, cats []int64, root, child int64) {
	t.Helper()
	ctx := context.Background()
	for _, views := range []bool{false, true} {
		for _, cat := range cats {
			for _, kw := range []string{"视频", "视", "sun", "SUNSET", "ab", "a", "x", "renamed 视", "示例视频", "1", "zz", "#1#", "\"", "%", ""} {
				var want []*Video
				sub := map[int64]bool{cat: true}
				if cat == root {
					sub[child] = true
				}
				for _, v := range all {
					if v == nil || v.Status != VideoPublished || (cat != 0 && !sub[v.CategoryID]) {
						continue
					}
					text := strings.ToLower(v.Title + "\n" + v.Description + "\n" + strings.Join(v.Tags, "\x1f"))
					if strings.Contains(text, strings.ToLower(kw)) {
						want = append(want, v)
					}
				}
				// Every view count is 0, so in views order too ties go to
				// the newer id.
				slices.SortFunc(want, func(a, b *Video) int { return cmp.Compare(b.ID, a.ID) })
				for _, off := range []int{0, 3} {
					f := VideoFilter{Status: VideoPublished, Keyword: kw, CategoryID: cat, ByViews: views, Limit: 3, Offset: off}
					if _, ok, err := s.publicMatch(ctx, f); err != nil || ok == (kw == "") {
						t.Fatalf("%q: not answered by the published index (%v)", kw, err)
					}
					list, total, err := s.ListVideos(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					page := []int64{}
					for i := off; i < min(off+3, len(want)); i++ {
						page = append(page, want[i].ID)
					}
					if total != int64(len(want)) || fmt.Sprint(ids(list)) != fmt.Sprint(page) {
						t.Fatalf("%q cat %d views %v offset %d: got %v total %d, want %v total %d",
							kw, cat, views, off, ids(list), total, page, len(want))
					}
				}
			}
		}
	}
}

// decodeTags reads back whatever marshalTags wrote, the quick split and
// the encoding/json path alike.
func TestDecodeTagsRoundTrip(t *testing.T) {
	for _, tags := range [][]string{
		nil,
		{"动作"},
		{"动作", "科幻", "a b"},
		{`quote"d`, "x"},
		{`a","b`},
		{`back\slash`},
		{"<html>&", "tab\tnew\nline"},
		{"", "empty first"},
		{","},
	} {
		got := decodeTags(marshalTags(tags))
		want := tags
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %q", tags, got)
		}
	}
	for _, bad := range []string{"", "not json", `["unterminated`, "{}"} {
		if got := decodeTags(bad); got == nil || len(got) != 0 {
			t.Errorf("%q: got %q, want an empty list", bad, got)
		}
	}
}

// A public search's first page answers the total from its own length when
// it is not full, and counts otherwise: exact on either side of a full page.
func TestPublicSearchTotalsAroundAPage(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	for i := 0; i < 7; i++ {
		mustVideo(t, s, NewVideo{UserID: 1, Title: fmt.Sprintf("sunset %d", i)}, VideoPublished)
	}
	mustVideo(t, s, NewVideo{UserID: 1, Title: "sunset hidden"}, VideoHidden)
	for _, tc := range []struct{ limit, offset, rows int }{
		{10, 0, 7}, // not full: the page is every match
		{7, 0, 7},  // exactly full: counted
		{5, 0, 5},  // more than a page
		{5, 5, 2},  // a later page
		{5, 10, 0}, // past the end
	} {
		for _, byViews := range []bool{false, true} {
			f := VideoFilter{Status: VideoPublished, Keyword: "sunset", Limit: tc.limit, Offset: tc.offset, ByViews: byViews}
			list, total, err := s.ListVideos(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if total != 7 || len(list) != tc.rows {
				t.Errorf("%+v: %d rows, total %d; want %d rows, total 7", tc, len(list), total, tc.rows)
			}
		}
	}
}
