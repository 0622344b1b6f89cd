package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"mika/store"
)

// videoLib is a test env with two users, an admin and videos in each status.
type videoLib struct {
	*testEnv
	alice, bob, admin       string
	aliceID, bobID, adminID int64
	pub, processing, hidden int64 // alice's
	bobPub                  int64
	cat                     *store.Category
}

// upload sends a small single upload and answers the new id.
func (e *testEnv) upload(tok, title string, extra ...formPart) int64 {
	e.t.Helper()
	parts := append([]formPart{field("title", title)}, extra...)
	parts = append(parts, formPart{name: "file", filename: "v.mp4", data: []byte("not really a video")})
	var a uploadAnswer
	e.mustOK(e.postForm("/api/videos/upload", tok, parts...)).into(e.t, &a)
	return a.ID
}

// complete runs video id's pending task to completion as the transcoder
// would, which publishes the video (auto_publish) and makes it playable.
func (e *testEnv) complete(id int64, cover bool) {
	e.t.Helper()
	ctx := context.Background()
	task, err := e.store.ClaimTask(ctx)
	if err != nil || task == nil || task.VideoID != id {
		e.t.Fatalf("claim for %d: %+v %v", id, task, err)
	}
	err = e.store.FinishTask(ctx, task.ID, store.TaskEnd{Status: store.TaskCompleted, HasCover: cover,
		Media: store.Media{Duration: 3599.6, Width: 1280, Height: 720, Resolution: "720p",
			Variants: []store.Variant{{Name: "720p", Width: 1280, Height: 720, Bandwidth: 2800000}}}})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) setStatus(id int64, status int) {
	e.t.Helper()
	if _, err := e.store.UpdateVideo(context.Background(), id, store.VideoChanges{Status: &status}); err != nil {
		e.t.Fatal(err)
	}
}

func newLibrary(t *testing.T) *videoLib {
	l := &videoLib{testEnv: newTestEnv(t)}
	l.aliceID, l.alice = l.createUser("alice", false)
	l.bobID, l.bob = l.createUser("bob", false)
	l.adminID, l.admin = l.createUser("root", true)
	var err error
	if l.cat, err = l.store.CreateCategory(context.Background(), "电影", 0, 1); err != nil {
		t.Fatal(err)
	}
	l.pub = l.upload(l.alice, "示例视频", field("category_id", fmt.Sprint(l.cat.ID)), field("tags", "动作,科幻"),
		field("description", "An English Description"))
	l.complete(l.pub, true)
	l.hidden = l.upload(l.alice, "hidden one")
	l.complete(l.hidden, false)
	l.setStatus(l.hidden, store.VideoHidden)
	l.bobPub = l.upload(l.bob, "bob's clip")
	l.complete(l.bobPub, false)
	l.processing = l.upload(l.alice, "still processing")
	return l
}

type listAnswer struct {
	List  []map[string]any `json:"list"`
	Total int64            `json:"total"`
	Page  int              `json:"page"`
	Size  int              `json:"size"`
}

func (l *videoLib) list(query, tok string) listAnswer {
	l.t.Helper()
	var a listAnswer
	l.mustOK(l.do("GET", "/api/videos"+query, nil, tok)).into(l.t, &a)
	return a
}

func listIDs(a listAnswer) []int64 {
	out := []int64{}
	for _, v := range a.List {
		out = append(out, int64(v["id"].(float64)))
	}
	return out
}

func TestListVideosVisibility(t *testing.T) {
	l := newLibrary(t)
	tests := []struct {
		name, query, tok string
		want             []int64
	}{
		{"anonymous sees published", "", "", []int64{l.bobPub, l.pub}},
		{"user sees published", "", l.bob, []int64{l.bobPub, l.pub}},
		{"owner outside mine", "", l.alice, []int64{l.bobPub, l.pub}},
		{"mine lists every status", "?mine=1", l.alice, []int64{l.processing, l.hidden, l.pub}},
		{"mine with a status", "?mine=1&status=3", l.alice, []int64{l.hidden}},
		{"admin sees all", "", l.admin, []int64{l.processing, l.bobPub, l.hidden, l.pub}},
		{"admin filters any status", "?status=0", l.admin, []int64{l.processing}},
		{"status 1 is allowed to all", "?status=1", "", []int64{l.bobPub, l.pub}},
		{"category", fmt.Sprintf("?category_id=%d", l.cat.ID), "", []int64{l.pub}},
		{"category 0 is no filter", "?category_id=0", "", []int64{l.bobPub, l.pub}},
		{"keyword zh", "?keyword=" + "示例视", "", []int64{l.pub}},
		{"keyword short zh", "?keyword=" + "视频", "", []int64{l.pub}},
		{"keyword en any case", "?keyword=english", "", []int64{l.pub}},
		{"keyword tag", "?keyword=" + "科幻", "", []int64{l.pub}},
		{"keyword hidden for others", "?keyword=hidden", l.bob, []int64{}},
		{"keyword hidden for admin", "?keyword=hidden", l.admin, []int64{l.hidden}},
		{"page size", "?size=1&page=2", "", []int64{l.pub}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := l.list(tc.query, tc.tok)
			if got := listIDs(a); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	a := l.list("?size=1&page=2", "")
	if a.Total != 2 || a.Page != 2 || a.Size != 1 {
		t.Fatalf("paging %+v", a)
	}

	bad := []struct{ query, field string }{
		{"?page=x", "page"}, {"?size=0", "size"}, {"?order=name", "order"}, {"?status=9", "status"},
		{"?category_id=abc", "category_id"}, {"?mine=yes", "mine"}, {"?keyword=" + strings.Repeat("x", 101), "keyword"},
		{"?status=3", "status"}, {"?status=0", "status"},
	}
	for _, b := range bad {
		res := l.wantError(l.do("GET", "/api/videos"+b.query, nil, l.bob), 400)
		if res.Errors[b.field] == "" {
			t.Fatalf("%s: errors %v", b.query, res.Errors)
		}
	}
	l.wantError(l.do("GET", "/api/videos?mine=1", nil, ""), 401)
	l.wantError(l.do("GET", "/api/videos", nil, "garbage"), 401)
}

func TestListVideosOrderAndShape(t *testing.T) {
	l := newLibrary(t)
	for i := 0; i < 3; i++ {
		if _, err := l.store.RecordView(context.Background(), l.pub, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := listIDs(l.list("?order=views", "")); fmt.Sprint(got) != fmt.Sprint([]int64{l.pub, l.bobPub}) {
		t.Fatalf("by views %v", got)
	}
	if got := listIDs(l.list("?order=created_at", "")); fmt.Sprint(got) != fmt.Sprint([]int64{l.bobPub, l.pub}) {
		t.Fatalf("newest %v", got)
	}
	a := l.list("?order=views", "")
	item := a.List[0]
	keys := []string{}
	for k := range item {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"category", "cover", "created_at", "description", "duration", "id", "missing", "resolution",
		"status", "tags", "title", "transcode_progress", "transcode_status", "user_id", "views"}
	if !slices.Equal(keys, want) {
		t.Fatalf("item keys %v", keys)
	}
	b, _ := json.Marshal(item["category"])
	if item["cover"] != fmt.Sprintf("/covers/%d.jpg", l.pub) || item["duration"] != float64(3600) ||
		item["views"] != float64(3) || string(b) != fmt.Sprintf(`{"id":%d,"name":"电影"}`, l.cat.ID) ||
		item["status"] != float64(1) || item["transcode_status"] != "completed" || item["resolution"] != "720p" ||
		fmt.Sprint(item["tags"]) != "[动作 科幻]" || item["missing"] != false || item["user_id"] != float64(l.aliceID) {
		t.Fatalf("item %v", item)
	}
	other := a.List[1]
	if fmt.Sprint(other["category"]) != "map[id:0 name:]" || other["cover"] != "" {
		t.Fatalf("no category / cover: %v", other)
	}
}

func TestGetVideo(t *testing.T) {
	l := newLibrary(t)
	var d map[string]any
	l.mustOK(l.do("GET", fmt.Sprintf("/api/videos/%d", l.pub), nil, "")).into(t, &d)
	keys := []string{}
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"category", "cover", "created_at", "description", "duration", "file_size", "id", "missing",
		"play_url", "resolution", "status", "tags", "title", "transcode_error", "transcode_progress", "transcode_status", "uploader", "user_id", "variants", "views"}
	if !slices.Equal(keys, want) {
		t.Fatalf("detail keys %v", keys)
	}
	// The uploader as the site shows people: alice's id and nickname.
	if up, _ := d["uploader"].(map[string]any); up["id"] != float64(l.aliceID) || up["nickname"] != "alice" || up["avatar"] != "" {
		t.Errorf("uploader %v, want alice (%d)", d["uploader"], l.aliceID)
	}
	raw, _ := json.Marshal(d["variants"])
	var variants []store.Variant
	json.Unmarshal(raw, &variants)
	if !strings.HasPrefix(d["play_url"].(string), fmt.Sprintf("/videos/%d/index.m3u8?token=", l.pub)) ||
		fmt.Sprint(variants) != "[{720p 1280 720 2800000}]" ||
		d["file_size"] != float64(len("not really a video")) || d["resolution"] != "720p" {
		t.Fatalf("detail %v", d)
	}
	// Not playable yet: no play_url, and only owner and admin see it.
	for _, tok := range []string{l.alice, l.admin} {
		l.mustOK(l.do("GET", fmt.Sprintf("/api/videos/%d", l.processing), nil, tok)).into(t, &d)
		if d["play_url"] != "" || d["transcode_status"] != "pending" || d["status"] != float64(0) {
			t.Fatalf("processing detail %v", d)
		}
		l.mustOK(l.do("GET", fmt.Sprintf("/api/videos/%d", l.hidden), nil, tok)).into(t, &d)
		if d["play_url"] == "" {
			t.Fatalf("hidden video not playable for its owner / an admin")
		}
	}
	for _, id := range []int64{l.processing, l.hidden} {
		for _, tok := range []string{"", l.bob} {
			l.wantError(l.do("GET", fmt.Sprintf("/api/videos/%d", id), nil, tok), 404)
		}
	}
	l.wantError(l.do("GET", "/api/videos/999", nil, l.admin), 404)
	l.wantError(l.do("GET", "/api/videos/abc", nil, l.admin), 404)
}

func TestUpdateVideo(t *testing.T) {
	l := newLibrary(t)
	path := fmt.Sprintf("/api/videos/%d", l.pub)
	l.wantError(l.do("PUT", path, map[string]any{"title": "x"}, l.bob), 403)
	l.wantError(l.do("PUT", fmt.Sprintf("/api/videos/%d", l.hidden), map[string]any{"title": "x"}, l.bob), 404)
	l.wantError(l.do("PUT", path, map[string]any{"title": "x"}, ""), 401)

	bad := []struct {
		body  any
		field string
	}{
		{map[string]any{"title": " "}, "title"},
		{map[string]any{"title": strings.Repeat("长", 201)}, "title"},
		{map[string]any{"description": strings.Repeat("x", 5001)}, "description"},
		{map[string]any{"category_id": 999}, "category_id"},
		{map[string]any{"category_id": "1"}, "category_id"},
		{map[string]any{"tags": 5}, "tags"},
		{map[string]any{"tags": []string{strings.Repeat("x", 31)}}, "tags"},
		{map[string]any{"status": 2}, "status"},
		{map[string]any{"status": 0}, "status"},
	}
	for _, b := range bad {
		res := l.wantError(l.do("PUT", path, b.body, l.alice), 400)
		if res.Errors[b.field] == "" {
			t.Fatalf("%v: errors %v", b.body, res.Errors)
		}
	}
	res := l.wantError(l.do("PUT", fmt.Sprintf("/api/videos/%d", l.processing), map[string]any{"status": 1}, l.alice), 409)
	if res.Errors["status"] == "" {
		t.Fatalf("errors %v", res.Errors)
	}

	var d map[string]any
	l.mustOK(l.do("PUT", path, map[string]any{"title": " 新标题 ", "tags": []string{"动作", "冒险", "动作"}}, l.alice)).into(t, &d)
	if d["title"] != "新标题" || fmt.Sprint(d["tags"]) != "[动作 冒险]" || d["description"] != "An English Description" {
		t.Fatalf("after edit %v", d)
	}
	l.mustOK(l.do("PUT", path, map[string]any{"tags": "a, b", "category_id": 0, "status": 3}, l.admin)).into(t, &d)
	if fmt.Sprint(d["tags"]) != "[a b]" || fmt.Sprint(d["category"]) != "map[id:0 name:]" || d["status"] != float64(3) || d["title"] != "新标题" {
		t.Fatalf("after admin edit %v", d)
	}
	// The index follows the edit.
	if got := listIDs(l.list("?keyword=新标题", l.admin)); fmt.Sprint(got) != fmt.Sprint([]int64{l.pub}) {
		t.Fatalf("search after edit %v", got)
	}
	if got := listIDs(l.list("?keyword=示例视", l.admin)); len(got) != 0 {
		t.Fatalf("old title still found %v", got)
	}
}

func TestDeleteVideo(t *testing.T) {
	l := newLibrary(t)
	// Give the published video everything a transcode leaves behind.
	hls := l.data.HLS(l.pub)
	os.MkdirAll(filepath.Join(hls, "720p"), 0o755)
	os.WriteFile(filepath.Join(hls, "index.m3u8"), []byte("#EXTM3U"), 0o644)
	os.WriteFile(filepath.Join(hls, "720p", "seg_00001.ts"), []byte("ts"), 0o644)
	os.WriteFile(l.data.Cover(l.pub), []byte("jpg"), 0o644)

	l.wantError(l.do("DELETE", fmt.Sprintf("/api/videos/%d", l.pub), nil, l.bob), 403)
	l.wantError(l.do("DELETE", fmt.Sprintf("/api/videos/%d", l.hidden), nil, l.bob), 404)
	l.wantError(l.do("DELETE", fmt.Sprintf("/api/videos/%d", l.pub), nil, ""), 401)

	l.mustOK(l.do("DELETE", fmt.Sprintf("/api/videos/%d", l.pub), nil, l.alice))
	l.mustOK(l.do("DELETE", fmt.Sprintf("/api/videos/%d", l.hidden), nil, l.admin))
	l.mustOK(l.do("DELETE", fmt.Sprintf("/api/videos/%d", l.processing), nil, l.alice))
	l.wantError(l.do("DELETE", fmt.Sprintf("/api/videos/%d", l.pub), nil, l.alice), 404)

	// The processing video's pending task was canceled.
	if len(l.fake.canceled) != 1 {
		t.Fatalf("canceled %v", l.fake.canceled)
	}
	left := l.mediaFiles()
	if fmt.Sprint(left) != fmt.Sprintf("[media/originals/%d.mp4]", l.bobPub) {
		t.Fatalf("files left: %v", left)
	}
	tasks, total, _ := l.store.ListTasks(context.Background(), "", 0, 10)
	if total != 1 || tasks[0].VideoID != l.bobPub {
		t.Fatalf("tasks left %+v", tasks)
	}
}

func TestDeleteLibraryVideoKeepsOriginal(t *testing.T) {
	e := newTestEnv(t)
	_, admin := e.createUser("root", true)
	dir := t.TempDir()
	orig := filepath.Join(dir, "home movie.mkv")
	os.WriteFile(orig, []byte("precious"), 0o644)
	v, _, err := e.store.CreateVideo(context.Background(), store.NewVideo{UserID: 1, Title: "home movie",
		SourcePath: orig, LibraryID: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.mustOK(e.do("DELETE", fmt.Sprintf("/api/videos/%d", v.ID), nil, admin))
	if b, err := os.ReadFile(orig); err != nil || string(b) != "precious" {
		t.Fatalf("library original touched: %q %v", b, err)
	}
}
