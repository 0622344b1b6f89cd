package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"mika/store"
	"mika/store/media"
)

// raw sends a request and answers the recorder, for endpoints that are not
// enveloped.
func (e *testEnv) adminRaw(method, path, token string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = "192.0.2.1:1234"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

func TestAdminEndpointsNeedAnAdmin(t *testing.T) {
	e := newTestEnv(t)
	_, user := e.createUser("plain", false)
	for _, p := range []string{"/api/admin/statistics/overview", "/api/admin/statistics/videos", "/api/admin/statistics/users",
		"/api/admin/settings", "/api/admin/users", "/api/admin/invites", "/api/admin/backup"} {
		e.wantError(e.do("GET", p, nil, ""), 401)
		e.wantError(e.do("GET", p, nil, user), 403)
	}
	e.wantError(e.do("PUT", "/api/admin/settings", map[string]any{"site_name": "x"}, user), 403)
	e.wantError(e.do("POST", "/api/admin/invites", nil, user), 403)
}

func TestStatsRange(t *testing.T) {
	awayFromMidnight(t, time.Minute) // the default range ends today
	e := newTestEnv(t)
	_, admin := e.createUser("root", true)
	bad := []struct{ query, field string }{
		{"start_date=2024-1-01", "start_date"},
		{"end_date=yesterday", "end_date"},
		{"start_date=2024-02-30", "start_date"},
		{"start_date=2024-03-02&end_date=2024-03-01", "end_date"},
		{"start_date=2024-01-01&end_date=2025-01-01", "end_date"}, // 367 days
	}
	for _, b := range bad {
		for _, series := range []string{"videos", "users"} {
			res := e.wantError(e.do("GET", "/api/admin/statistics/"+series+"?"+b.query, nil, admin), 400)
			if res.Errors[b.field] == "" {
				t.Fatalf("%s %s: errors %v", series, b.query, res.Errors)
			}
		}
	}
	type rows struct {
		List []struct {
			Date string `json:"date"`
		} `json:"list"`
	}
	today := time.Now().Format(store.DateFormat)
	cases := []struct {
		query       string
		n           int
		first, last string
	}{
		{"", 30, time.Now().AddDate(0, 0, -29).Format(store.DateFormat), today},
		{"start_date=2024-01-01&end_date=2024-12-31", 366, "2024-01-01", "2024-12-31"}, // leap year: 366 is the cap
		{"start_date=2024-03-05&end_date=2024-03-05", 1, "2024-03-05", "2024-03-05"},
		{"start_date=2024-03-01", 30, "2024-03-01", "2024-03-30"},
		{"end_date=2024-03-30", 30, "2024-03-01", "2024-03-30"},
		{"start_date=" + time.Now().AddDate(0, 0, -2).Format(store.DateFormat), 3, time.Now().AddDate(0, 0, -2).Format(store.DateFormat), today},
	}
	for _, c := range cases {
		for _, series := range []string{"videos", "users"} {
			var got rows
			e.mustOK(e.do("GET", "/api/admin/statistics/"+series+"?"+c.query, nil, admin)).into(t, &got)
			if len(got.List) != c.n || got.List[0].Date != c.first || got.List[c.n-1].Date != c.last {
				t.Fatalf("%s %q: %d rows %s…%s", series, c.query, len(got.List), got.List[0].Date, got.List[len(got.List)-1].Date)
			}
		}
	}
}

type videoStats struct {
	List []struct {
		Date      string `json:"date"`
		NewVideos int64  `json:"new_videos"`
		Views     int64  `json:"views"`
	} `json:"list"`
	Total struct {
		NewVideos int64 `json:"new_videos"`
		Views     int64 `json:"views"`
	} `json:"total"`
}

type userStats struct {
	List []struct {
		Date        string `json:"date"`
		NewUsers    int64  `json:"new_users"`
		ActiveUsers int64  `json:"active_users"`
	} `json:"list"`
	Total struct {
		NewUsers    int64 `json:"new_users"`
		ActiveUsers int64 `json:"active_users"`
	} `json:"total"`
}

func TestStatsCountToday(t *testing.T) {
	awayFromMidnight(t, time.Minute) // rows stamped, counted and asked for on one day
	e := newTestEnv(t)
	ctx := context.Background()
	adminID, admin := e.createUser("root", true)
	_, user := e.createUser("joe", false)
	e.createUser("idle", false)
	for i := range 2 {
		v, _, err := e.store.CreateVideo(ctx, store.NewVideo{UserID: adminID, Title: fmt.Sprint("v", i)})
		if err != nil {
			t.Fatal(err)
		}
		for _, viewer := range []string{"1.2.3.4", "5.6.7.8"} {
			if _, err := e.store.RecordView(ctx, v.ID, viewer); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(e.data.Media(), "covers", "1.jpg"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustOK(e.do("GET", "/api/user/profile", nil, user))

	var o overviewData
	e.mustOK(e.do("GET", "/api/admin/statistics/overview", nil, admin)).into(t, &o)
	want := overviewData{TotalVideos: 2, TotalUsers: 3, TotalViews: 4, StorageUsed: 1000,
		Today: todayStats{NewVideos: 2, NewUsers: 3, Views: 4}}
	if o != want {
		t.Fatalf("overview %+v\nwant %+v", o, want)
	}

	today := time.Now().Format(store.DateFormat)
	from := time.Now().AddDate(0, 0, -3).Format(store.DateFormat)
	var vs videoStats
	e.mustOK(e.do("GET", "/api/admin/statistics/videos?start_date="+from+"&end_date="+today, nil, admin)).into(t, &vs)
	if len(vs.List) != 4 || vs.Total.NewVideos != 2 || vs.Total.Views != 4 {
		t.Fatalf("videos %+v", vs)
	}
	for i, d := range vs.List[:3] {
		if d.NewVideos != 0 || d.Views != 0 {
			t.Fatalf("day %d not zero: %+v", i, d)
		}
	}
	if last := vs.List[3]; last.Date != today || last.NewVideos != 2 || last.Views != 4 {
		t.Fatalf("today %+v", last)
	}
	var us userStats
	e.mustOK(e.do("GET", "/api/admin/statistics/users?start_date="+from+"&end_date="+today, nil, admin)).into(t, &us)
	// Active today: joe (profile) and root (these admin calls); idle never came.
	if last := us.List[3]; last.NewUsers != 3 || last.ActiveUsers != 2 || us.Total.NewUsers != 3 || us.Total.ActiveUsers != 2 {
		t.Fatalf("users %+v", us)
	}
}

func TestNoteActiveWritesOncePerDay(t *testing.T) {
	e := newTestEnv(t)
	id, tok := e.createUser("root", true)
	for range 5 {
		e.mustOK(e.do("GET", "/api/user/profile", nil, tok))
	}
	e.srv.activity.mu.Lock()
	seen := e.srv.activity.seen[id]
	e.srv.activity.mu.Unlock()
	if !seen {
		t.Fatal("activity not remembered")
	}
	u, err := e.store.UserByID(context.Background(), id)
	if err != nil || time.Now().Unix()-u.LastActiveAt > 60 {
		t.Fatalf("last_active_at %d %v", u.LastActiveAt, err)
	}
	var list struct {
		List []adminUser `json:"list"`
	}
	e.mustOK(e.do("GET", "/api/admin/users", nil, tok)).into(t, &list)
	if len(list.List) != 1 || list.List[0].LastActiveAt == "" {
		t.Fatalf("list %+v", list)
	}
}

func TestStorageMeterCachesAndRefreshes(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "hls", "1", "720p"), 0o755)
	os.WriteFile(filepath.Join(dir, "hls", "1", "720p", "seg.ts"), make([]byte, 300), 0o644)
	os.WriteFile(filepath.Join(dir, "a.mp4"), make([]byte, 50), 0o644)
	m := newStorageMeter(dir, nil)
	m.ttl = time.Hour
	ctx := context.Background()
	if n, err := m.used(ctx); err != nil || n != 350 {
		t.Fatalf("first %d %v", n, err)
	}
	os.WriteFile(filepath.Join(dir, "b.mp4"), make([]byte, 7), 0o644)
	if n, _ := m.used(ctx); n != 350 {
		t.Fatalf("cached value changed before its ttl: %d", n)
	}
	waitFor := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if n, _ := m.used(ctx); n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("never measured %d", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	m.mu.Lock()
	m.measured = time.Now().Add(-2 * time.Hour)
	m.mu.Unlock()
	if n, _ := m.used(ctx); n != 350 {
		t.Fatalf("a stale read answers the cached value while it re-measures: %d", n)
	}
	waitFor(357)
	// A kick re-measures at once, whatever the ttl.
	os.Remove(filepath.Join(dir, "a.mp4"))
	m.kick()
	waitFor(307)
}

func TestSettingsValidation(t *testing.T) {
	e := newTestEnv(t)
	_, admin := e.createUser("root", true)
	cases := []struct {
		body string
		bad  []string
	}{
		{`{"nope": 1}`, []string{"nope"}},
		// Read-only keys may come back only as the server answers them.
		{`{"webhook_secret": "x", "hwaccel_available": ["none", "nvenc"]}`, []string{"webhook_secret", "hwaccel_available"}},
		{`{"webhook_secret": 5, "hwaccel_available": "none"}`, []string{"webhook_secret", "hwaccel_available"}},
		{`{"webhook_secret": null, "hwaccel_available": []}`, []string{"webhook_secret", "hwaccel_available"}},
		{`{"site_name": ""}`, []string{"site_name"}},
		{`{"site_name": "   "}`, []string{"site_name"}},
		{`{"site_name": "` + strings.Repeat("名", 101) + `"}`, []string{"site_name"}},
		{`{"site_name": 5}`, []string{"site_name"}},
		{`{"site_url": "ftp://x.org"}`, []string{"site_url"}},
		{`{"site_url": "example.com"}`, []string{"site_url"}},
		{`{"register_mode": "maybe"}`, []string{"register_mode"}},
		{`{"auto_publish": "yes"}`, []string{"auto_publish"}},
		{`{"auto_publish": null}`, []string{"auto_publish"}},
		{`{"transcode_concurrency": 0}`, []string{"transcode_concurrency"}},
		{`{"transcode_concurrency": 17}`, []string{"transcode_concurrency"}},
		{`{"transcode_concurrency": 1.5}`, []string{"transcode_concurrency"}},
		{`{"transcode_concurrency": "2"}`, []string{"transcode_concurrency"}},
		{`{"ladder": []}`, []string{"ladder"}},
		{`{"ladder": [720, 720]}`, []string{"ladder"}},
		{`{"ladder": [100]}`, []string{"ladder"}},
		{`{"ladder": [2162]}`, []string{"ladder"}},
		{`{"ladder": [721]}`, []string{"ladder"}},
		{`{"ladder": [144,240,360,480,576,720,1080,1440,2160]}`, []string{"ladder"}},
		{`{"ladder": "720"}`, []string{"ladder"}},
		{`{"hls_segment_seconds": 1}`, []string{"hls_segment_seconds"}},
		{`{"hls_segment_seconds": 11}`, []string{"hls_segment_seconds"}},
		{`{"video_preset": "quick"}`, []string{"video_preset"}},
		{`{"hwaccel": "nvenc"}`, []string{"hwaccel"}},
		{`{"max_upload_bytes": -1}`, []string{"max_upload_bytes"}},
		{`{"rate_limit_rps": -1}`, []string{"rate_limit_rps"}},
		{`{"rate_limit_rps": 10001}`, []string{"rate_limit_rps"}},
		{`{"rate_limit_burst": 100001}`, []string{"rate_limit_burst"}},
		{`{"webhook_url": "not a url"}`, []string{"webhook_url"}},
		// One bad key spoils the whole request.
		{`{"site_name": "Changed", "register_mode": "closed", "hls_segment_seconds": 99}`, []string{"hls_segment_seconds"}},
	}
	for _, c := range cases {
		res := e.wantError(e.do("PUT", "/api/admin/settings", c.body, admin), 400)
		if len(res.Errors) != len(c.bad) {
			t.Fatalf("%s: errors %v", c.body, res.Errors)
		}
		for _, k := range c.bad {
			if res.Errors[k] == "" {
				t.Fatalf("%s: no error for %s: %v", c.body, k, res.Errors)
			}
		}
	}
	if got := e.store.Settings(); got.SiteName != "Mika" || got.RegisterMode != "open" {
		t.Fatalf("a refused PUT changed settings: %+v", got)
	}
	e.wantError(e.do("PUT", "/api/admin/settings", `[1]`, admin), 400)
	e.wantError(e.do("PUT", "/api/admin/settings", `null`, admin), 400)
	e.wantError(e.do("PUT", "/api/admin/settings", `{bad`, admin), 400)

	good := map[string]any{"site_name": " 米卡 ", "site_url": "https://v.example.com", "register_mode": "invite",
		"auto_publish": false, "transcode_concurrency": 4, "ladder": []int{480, 1080, 720}, "hls_segment_seconds": 4,
		"video_preset": "slow", "hwaccel": "none", "max_upload_bytes": 1 << 30, "rate_limit_rps": 0, "rate_limit_burst": 0,
		"webhook_url": "http://127.0.0.1:9/hook"}
	var a settingsAnswer
	e.mustOK(e.do("PUT", "/api/admin/settings", good, admin)).into(t, &a)
	if a.SiteName != "米卡" || a.RegisterMode != "invite" || a.AutoPublish || a.TranscodeConcurrency != 4 ||
		!slices.Equal(a.Ladder, []int{1080, 720, 480}) || a.HLSSegmentSeconds != 4 || a.VideoPreset != "slow" ||
		a.MaxUploadBytes != 1<<30 || a.WebhookURL != "http://127.0.0.1:9/hook" || len(a.WebhookSecret) != 64 ||
		!slices.Equal(a.HWAccelAvailable, []string{"none"}) {
		t.Fatalf("answer %+v", a)
	}
	// Partial: other keys keep their values; GET answers the same.
	e.mustOK(e.do("PUT", "/api/admin/settings", map[string]any{"site_url": ""}, admin))
	var b settingsAnswer
	e.mustOK(e.do("GET", "/api/admin/settings", nil, admin)).into(t, &b)
	if b.SiteURL != "" || b.SiteName != "米卡" || b.WebhookSecret != a.WebhookSecret || b.WebhookLastDelivery != nil {
		t.Fatalf("after partial PUT %+v", b)
	}
	var pub map[string]any
	e.mustOK(e.do("GET", "/api/settings/public", nil, "")).into(t, &pub)
	if len(pub) != 4 || pub["site_name"] != "米卡" || pub["register_mode"] != "invite" || pub["needs_setup"] != false ||
		pub["max_upload_bytes"] != float64(b.MaxUploadBytes) {
		t.Fatalf("public %v", pub)
	}
}

// TestSettingsRoundTrip: "PUT takes any subset" of what GET answers, so a
// client that edits one value of a GET answer and sends it all back gets a
// 200; the read-only values it echoes change nothing.
func TestSettingsRoundTrip(t *testing.T) {
	e := newTestEnv(t)
	_, admin := e.createUser("root", true)
	var all map[string]any
	e.mustOK(e.do("GET", "/api/admin/settings", nil, admin)).into(t, &all)
	secret := all["webhook_secret"]

	// Changing a read-only value is still refused, and nothing is applied.
	changed := maps.Clone(all)
	changed["site_name"] = "Not applied"
	changed["webhook_secret"] = strings.Repeat("0", 64)
	res := e.wantError(e.do("PUT", "/api/admin/settings", changed, admin), 400)
	if len(res.Errors) != 1 || res.Errors["webhook_secret"] == "" {
		t.Fatalf("errors %v", res.Errors)
	}
	if got := e.store.Settings(); got.SiteName != "Mika" || got.WebhookSecret != secret {
		t.Fatalf("a refused PUT changed settings: %+v", got)
	}

	all["site_name"] = "Edited"
	all["webhook_last_delivery"] = map[string]any{"at": "2024-01-01 00:00:00"} // a report, ignored
	var a settingsAnswer
	e.mustOK(e.do("PUT", "/api/admin/settings", all, admin)).into(t, &a)
	if a.SiteName != "Edited" || a.WebhookSecret != secret || a.WebhookLastDelivery != nil ||
		!slices.Equal(a.HWAccelAvailable, []string{"none"}) {
		t.Fatalf("answer %+v", a)
	}
}

func TestSettingsTakeEffectLive(t *testing.T) {
	e := newTestEnv(t)
	_, admin := e.createUser("root", true)
	wakes := func() int { e.fake.mu.Lock(); defer e.fake.mu.Unlock(); return e.fake.wakes }
	// A stopped clock: at 1 req/s a second between the requests below (a
	// loaded machine) would refill a token and let the fourth through.
	e.srv.limiter.now = (&fakeClock{t: time.Unix(1_700_000_000, 0)}).now
	before := wakes()
	e.mustOK(e.do("PUT", "/api/admin/settings", map[string]any{"rate_limit_rps": 1, "rate_limit_burst": 3}, admin))
	if wakes() != before+1 {
		t.Fatal("the pool was not woken to pick up the new concurrency")
	}
	for i := range 3 {
		if res := e.do("GET", "/api/settings/public", nil, ""); res.Status != 200 {
			t.Fatalf("request %d within the burst: %d", i, res.Status)
		}
	}
	res := e.wantError(e.do("GET", "/api/settings/public", nil, ""), 429)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Turning it off applies at once too (0 = no limit).
	if err := e.store.SaveSettings(context.Background(), func() store.Settings {
		s := e.store.Settings()
		s.RateLimitRPS = 0
		return s
	}()); err != nil {
		t.Fatal(err)
	}
	e.mustOK(e.do("GET", "/api/settings/public", nil, ""))

	// Upload cap.
	upload := func() *response {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("title", "big")
		fw, _ := mw.CreateFormFile("file", "big.mp4")
		fw.Write(make([]byte, 3<<20))
		mw.Close()
		req := httptest.NewRequest("POST", "/api/videos/upload", &buf)
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+admin)
		return e.serve(req)
	}
	e.mustOK(e.do("PUT", "/api/admin/settings", map[string]any{"max_upload_bytes": 1 << 20}, admin))
	e.wantError(upload(), 413)
	e.mustOK(e.do("PUT", "/api/admin/settings", map[string]any{"max_upload_bytes": 0}, admin))
	e.mustOK(upload())

	// auto_publish decides what a finished transcode does to its video.
	ctx := context.Background()
	for _, c := range []struct {
		auto bool
		want int
	}{{false, store.VideoHidden}, {true, store.VideoPublished}} {
		e.mustOK(e.do("PUT", "/api/admin/settings", map[string]any{"auto_publish": c.auto}, admin))
		v, taskID, err := e.store.CreateVideo(ctx, store.NewVideo{UserID: 1, Title: "t"})
		if err != nil {
			t.Fatal(err)
		}
		for {
			claimed, err := e.store.ClaimTask(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if claimed.ID == taskID {
				break
			}
		}
		if err := e.store.FinishTask(ctx, taskID, store.TaskEnd{Status: store.TaskCompleted}); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.store.VideoByID(ctx, v.ID); got.Status != c.want {
			t.Fatalf("auto_publish %v: status %d", c.auto, got.Status)
		}
	}

	e.mustOK(e.do("PUT", "/api/admin/settings", map[string]any{"register_mode": "closed"}, admin))
	e.wantError(e.do("POST", "/api/auth/register", map[string]any{"username": "newbie", "password": "password123", "email": "n@example.com"}, ""), 403)
	e.mustOK(e.do("PUT", "/api/admin/settings", map[string]any{"register_mode": "open"}, admin))
	e.mustOK(e.do("POST", "/api/auth/register", map[string]any{"username": "newbie", "password": "password123", "email": "n@example.com"}, ""))
}

func TestUsersAdmin(t *testing.T) {
	e := newTestEnv(t)
	rootID, root := e.createUser("root", true)
	joeID, joe := e.createUser("joe", false)
	e.createUser("jane", false)

	var page struct {
		List  []adminUser `json:"list"`
		Total int64       `json:"total"`
		Page  int         `json:"page"`
		Size  int         `json:"size"`
	}
	e.mustOK(e.do("GET", "/api/admin/users?keyword=ja&size=1", nil, root)).into(t, &page)
	if page.Total != 1 || len(page.List) != 1 || page.List[0].Username != "jane" || page.Size != 1 {
		t.Fatalf("keyword page %+v", page)
	}
	e.mustOK(e.do("GET", "/api/admin/users?page=2&size=2", nil, root)).into(t, &page)
	if page.Total != 3 || len(page.List) != 1 || page.List[0].Username != "root" {
		t.Fatalf("page 2 %+v", page)
	}
	e.wantError(e.do("GET", "/api/admin/users?page=x", nil, root), 400)

	e.wantError(e.do("PUT", "/api/admin/users/999", map[string]any{"points": 1}, root), 404)
	e.wantError(e.do("PUT", "/api/admin/users/999", map[string]any{"points": -1}, root), 404) // missing before invalid
	e.wantError(e.do("PUT", "/api/admin/users/abc", map[string]any{"points": 1}, root), 404)
	for _, body := range []string{`{"role": "owner"}`, `{"vip_level": 11}`, `{"vip_level": -1}`, `{"vip_expire": "2024-13-01"}`,
		`{"points": -5}`, `{"disabled": "yes"}`, `{"points": 1.5}`} {
		e.wantError(e.do("PUT", fmt.Sprintf("/api/admin/users/%d", joeID), body, root), 400)
	}
	// The only admin can neither step down nor switch itself off.
	e.wantError(e.do("PUT", fmt.Sprintf("/api/admin/users/%d", rootID), map[string]any{"role": "user"}, root), 409)
	e.wantError(e.do("PUT", fmt.Sprintf("/api/admin/users/%d", rootID), map[string]any{"disabled": true}, root), 409)

	var u adminUser
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/users/%d", joeID),
		map[string]any{"vip_level": 2, "vip_expire": "2030-12-31", "points": 1000}, root)).into(t, &u)
	if u.VIPLevel != 2 || u.VIPExpire != "2030-12-31" || u.Points != 1000 || u.Role != "user" || u.Disabled {
		t.Fatalf("updated %+v", u)
	}

	// A disabled user is locked out mid-session.
	var jk struct {
		APIKey    string `json:"api_key"`
		SecretKey string `json:"secret_key"`
	}
	e.mustOK(e.do("POST", "/api/user/api-keys", map[string]any{"name": "script"}, joe)).into(t, &jk)
	e.mustOK(e.do("GET", "/api/user/profile", nil, "", adminTestKeyHeaders(jk.APIKey, jk.SecretKey)...))
	e.mustOK(e.do("GET", "/api/user/profile", nil, joe))
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/users/%d", joeID), map[string]any{"disabled": true}, root)).into(t, &u)
	if !u.Disabled || u.VIPLevel != 2 {
		t.Fatalf("disabled %+v", u)
	}
	e.wantError(e.do("GET", "/api/user/profile", nil, joe), 401)
	e.wantError(e.do("POST", "/api/auth/login", map[string]any{"username": "joe", "password": "password123"}, ""), 401)
	// Nor do the user's API keys work (checked by the key's owner).
	e.wantError(e.do("GET", "/api/user/profile", nil, "", adminTestKeyHeaders(jk.APIKey, jk.SecretKey)...), 401)
	// Enabling again does not revive the old token.
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/users/%d", joeID), map[string]any{"disabled": false}, root))
	e.wantError(e.do("GET", "/api/user/profile", nil, joe), 401)

	// With a second admin, the first may step down.
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/users/%d", joeID), map[string]any{"role": "admin"}, root))
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/users/%d", rootID), map[string]any{"role": "user"}, root)).into(t, &u)
	if u.Role != "user" {
		t.Fatalf("demoted %+v", u)
	}
	e.wantError(e.do("GET", "/api/admin/users", nil, root), 403)
}

func TestLastAdminUnderConcurrency(t *testing.T) {
	e := newTestEnv(t)
	aID, _ := e.createUser("a1", true)
	bID, _ := e.createUser("b1", true)
	// Two admins switched off at once: the check and the write share one
	// transaction, so exactly one may win.
	yes := true
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []int64{aID, bID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.store.UpdateUserAdmin(context.Background(), id, store.UserAdminUpdate{Disabled: &yes})
		}()
	}
	wg.Wait()
	lost := 0
	for _, err := range errs {
		if errors.Is(err, store.ErrLastAdmin) {
			lost++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if lost != 1 {
		t.Fatalf("errors %v", errs)
	}
}

// adminTestKeyHeaders signs a request with the document's API key scheme.
func adminTestKeyHeaders(key, secret string) []string {
	ts := fmt.Sprint(time.Now().Unix())
	sum := sha256.Sum256([]byte(key + ts + secret))
	return []string{"X-API-Key", key, "X-Timestamp", ts, "X-Sign", hex.EncodeToString(sum[:])}
}

var inviteCode = regexp.MustCompile(`^[ABCDEFGHJKLMNPQRSTUVWXYZ2-9]{12}$`)

func TestInvitesAdmin(t *testing.T) {
	e := newTestEnv(t)
	_, root := e.createUser("root", true)
	seen := map[string]bool{}
	for range 3 {
		var inv inviteItem
		e.mustOK(e.do("POST", "/api/admin/invites", nil, root)).into(t, &inv)
		if !inviteCode.MatchString(inv.Code) || seen[inv.Code] || inv.CreatedByUsername != "root" || inv.UsedBy != 0 || inv.UsedAt != "" {
			t.Fatalf("invite %+v", inv)
		}
		seen[inv.Code] = true
	}
	var page struct {
		List  []inviteItem `json:"list"`
		Total int64        `json:"total"`
	}
	e.mustOK(e.do("GET", "/api/admin/invites?size=2", nil, root)).into(t, &page)
	if page.Total != 3 || len(page.List) != 2 || !seen[page.List[0].Code] {
		t.Fatalf("list %+v", page)
	}
	e.wantError(e.do("GET", "/api/admin/invites?size=0", nil, root), 400)

	// A code admits one registration while register_mode is invite.
	e.mustOK(e.do("PUT", "/api/admin/settings", map[string]any{"register_mode": "invite"}, root))
	code := page.List[0].Code
	reg := func(name, code string) *response {
		return e.do("POST", "/api/auth/register", map[string]any{"username": name, "password": "password123",
			"email": name + "@example.com", "invite_code": code}, "")
	}
	e.wantError(reg("nocode", ""), 400)
	e.wantError(reg("badcode", "ZZZZZZZZZZZZ"), 400)
	e.mustOK(reg("invited", strings.ToLower(code)))
	e.wantError(reg("again", code), 400)
	e.mustOK(e.do("GET", "/api/admin/invites", nil, root)).into(t, &page)
	if u := page.List[0]; u.Code != code || u.UsedByUsername != "invited" || u.UsedAt == "" || page.List[1].UsedBy != 0 {
		t.Fatalf("after use %+v", page.List)
	}
}

func TestBackupUnderConcurrentWrites(t *testing.T) {
	e := newTestEnv(t)
	_, root := e.createUser("root", true)
	ctx, cancel := context.WithCancel(context.Background())
	var wrote atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := e.store.CreateUser(ctx, store.NewUser{Username: fmt.Sprintf("w%d", i), PasswordHash: "x"}); err == nil {
				wrote.Add(1)
			}
		}
	}()
	for wrote.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	rec := e.adminRaw("GET", "/api/admin/backup", root)
	cancel()
	<-done
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("backup answered %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if cd := rec.Header().Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="mika-\d{8}-\d{6}\.db"$`).MatchString(cd) {
		t.Fatalf("Content-Disposition %q", cd)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, rec.Body.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	var users int64
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check %q %v", check, err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM users").Scan(&users); err != nil || users < 21 || users > wrote.Load()+1 {
		t.Fatalf("users in copy %d (wrote %d) %v", users, wrote.Load(), err)
	}
	left, _ := os.ReadDir(e.data.Tmp())
	if len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func TestMetrics(t *testing.T) {
	e := newTestEnv(t)
	uid, _ := e.createUser("root", true)
	if _, _, err := e.store.CreateVideo(context.Background(), store.NewVideo{UserID: uid, Title: "v"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.data.Media(), "covers", "9.jpg"), make([]byte, 123), 0o644)
	e.mustOK(e.do("GET", "/api/settings/public", nil, ""))
	e.mustOK(e.do("GET", "/api/settings/public", nil, ""))
	e.wantError(e.do("GET", "/api/nothing-here", nil, ""), 404)
	rec := e.adminRaw("GET", "/metrics", "")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{
		`mika_http_requests_total{route="/api/settings/public",method="GET",status="200"} 2`,
		`mika_http_request_duration_seconds_bucket{route="/api/settings/public",le="+Inf"} 2`,
		`mika_http_request_duration_seconds_count{route="/api/settings/public"} 2`,
		`# TYPE mika_http_request_duration_seconds histogram`,
		`mika_tasks{status="pending"} 1`,
		`mika_tasks{status="failed"} 0`,
		"mika_transcode_seconds_total 0\n",
		"mika_storage_bytes 123\n",
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics lack %q:\n%s", want, body)
		}
	}
	if !regexp.MustCompile(`mika_http_requests_total\{route="[^"]*",method="GET",status="404"\} 1`).MatchString(body) {
		t.Fatalf("404 not counted:\n%s", body)
	}
	// Every sample line is name{labels} value.
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$`)
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(line, "# ") && !sample.MatchString(line) {
			t.Fatalf("bad line %q", line)
		}
	}
}

func TestOpenAPIMatchesRouter(t *testing.T) {
	e := newTestEnv(t)
	rec := e.adminRaw("GET", "/api/openapi.json", "")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json %d", rec.Code)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			if m == "parameters" {
				continue
			}
			if op["responses"] == nil {
				t.Errorf("%s %s has no responses", m, p)
			}
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	routed := map[string]bool{}
	mux, isMux := e.srv.handler.(chi.Routes)
	if !isMux {
		t.Fatal("the server's handler is not the chi router")
	}
	err := chi.Walk(mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route == "/*" {
			return nil // the web app
		}
		// chi's trailing catch-all is a path parameter named in the document.
		if strings.HasSuffix(route, "/*") {
			route = strings.TrimSuffix(route, "*") + "{file}"
		}
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routed) < 40 {
		t.Fatalf("walked only %d routes", len(routed))
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routed[d] {
			t.Errorf("openapi.json documents %s, which no route serves", d)
		}
	}
}

// newFuzzEnv is newTestEnv for a fuzz target, whose iterations share one
// server; each iteration sets e.t to its own T.
func newFuzzEnv(f *testing.F) *testEnv {
	d, err := media.New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	if err := d.Init(); err != nil {
		f.Fatal(err)
	}
	st, err := store.Open(context.Background(), d.DB(), os.DirFS(migrationsDir(f)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	set := st.Settings()
	set.RateLimitRPS, set.RateLimitBurst = 0, 0
	if err := st.SaveSettings(context.Background(), set); err != nil {
		f.Fatal(err)
	}
	fake := &fakeTranscoder{}
	srv, err := New(context.Background(), Config{Store: st, Data: d, Transcoder: fake})
	if err != nil {
		f.Fatal(err)
	}
	return &testEnv{srv: srv, store: st, data: d, fake: fake}
}

// FuzzUpdateSettings: whatever the body, a settings PUT answers 200 or 400
// in the envelope, and what it stores passes its own validation again.
func FuzzUpdateSettings(f *testing.F) {
	for _, seed := range []string{`{"site_name":"x"}`, `{"ladder":[720,480]}`, `{"ladder":[1e3]}`, `{"rate_limit_rps":5}`,
		`{"hwaccel":"none","video_preset":"slow"}`, `{"webhook_url":"http://[::1]:1/x"}`, `[]`, `{"a":{"b":1}}`, `{"max_upload_bytes":9223372036854775807}`} {
		f.Add(seed)
	}
	e := newFuzzEnv(f)
	var admin string
	f.Fuzz(func(t *testing.T, body string) {
		e.t = t
		if admin == "" {
			_, admin = e.createUser("root", true)
		}
		res := e.do("PUT", "/api/admin/settings", body, admin)
		if res.Status != 200 && res.Status != 400 && res.Status != 413 {
			t.Fatalf("%q answered %d %s", body, res.Status, res.Message)
		}
		set := e.store.Settings()
		b, _ := json.Marshal(set)
		var all map[string]json.RawMessage
		json.Unmarshal(b, &all)
		delete(all, "webhook_secret")
		for k, raw := range all {
			if why := settingRules[k](raw, &store.Settings{}, e.srv.hwAccels()); why != "" {
				t.Fatalf("%q stored a bad %s=%s: %s", body, k, raw, why)
			}
		}
		if set.RateLimitRPS != 0 || set.RateLimitBurst != 0 {
			set.RateLimitRPS, set.RateLimitBurst = 0, 0
			if err := e.store.SaveSettings(context.Background(), set); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzStatsRange: any query is a range of 1–366 days or a 400.
func FuzzStatsRange(f *testing.F) {
	for _, seed := range []string{"", "start_date=2024-01-01", "start_date=2024-01-01&end_date=2024-12-31",
		"end_date=2024-02-29", "start_date=0001-01-01&end_date=9999-12-31", "start_date=%00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.RawQuery = query
		days, err := statsRange(r)
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != 400 || len(ae.Errors) == 0 {
				t.Fatalf("%q: %v", query, err)
			}
			return
		}
		if len(days) < 1 || len(days) > maxStatsDays {
			t.Fatalf("%q: %d days", query, len(days))
		}
		for i := 1; i < len(days); i++ {
			if days[i] <= days[i-1] {
				t.Fatalf("%q: days out of order at %d: %v", query, i, days[i-1:i+1])
			}
		}
	})
}
