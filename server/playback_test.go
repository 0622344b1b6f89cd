package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mika/store"
	"mika/transcoder"
)

// playableVideo gives a queued video a small hand-written HLS tree and
// marks it playable; status sets the video status.
func (e *testEnv) playableVideo(owner int64, ownerToken string, status int) int64 {
	e.t.Helper()
	id, taskID := e.queueVideo(owner, "clip")
	dir := e.data.HLS(id)
	os.MkdirAll(filepath.Join(dir, "360p"), 0o755)
	os.WriteFile(filepath.Join(dir, "index.m3u8"), []byte("#EXTM3U\n#EXT-X-VERSION:6\n"+
		"#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n360p/index.m3u8\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "360p", "index.m3u8"), []byte("#EXTM3U\n#EXT-X-TARGETDURATION:6\n"+
		"#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:6.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "360p", "seg_00000.ts"), []byte(strings.Repeat("0123456789", 100)), 0o644)
	os.WriteFile(e.data.Cover(id), []byte("\xff\xd8jpeg"), 0o644)
	ctx := context.Background()
	if _, err := e.store.ClaimTask(ctx); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.FinishTask(ctx, taskID, store.TaskEnd{Status: store.TaskCompleted, HasCover: true,
		Media: store.Media{Resolution: "360p", Variants: []store.Variant{{Name: "360p", Width: 640, Height: 360}}}}); err != nil {
		e.t.Fatal(err)
	}
	if status != store.VideoPublished {
		e.mustOK(e.do("PUT", fmt.Sprintf("/api/videos/%d", id), map[string]any{"status": status}, ownerToken))
	}
	return id
}

// get fetches a non-API path and returns the raw recorder.
func (e *testEnv) get(path string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = "192.0.2.7:999"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, code int, what string) {
	t.Helper()
	if rec.Code != code {
		t.Errorf("%s: status %d, want %d (%s)", what, rec.Code, code, rec.Body.String())
	}
	if code >= 400 && !strings.Contains(rec.Body.String(), fmt.Sprintf(`"code":%d`, code)) {
		t.Errorf("%s: not an envelope: %s", what, rec.Body.String())
	}
}

func TestPlaybackTokens(t *testing.T) {
	e := newTestEnv(t)
	ownerID, owner := e.createUser("owner", false)
	_, other := e.createUser("other", false)
	_, admin := e.createUser("root", true)
	id := e.playableVideo(ownerID, owner, store.VideoPublished)
	hidden := e.playableVideo(ownerID, owner, store.VideoHidden)
	tok := e.srv.playToken(id, 0, time.Now())
	base := fmt.Sprintf("/videos/%d/", id)

	// Issued 13 h ago its expiry may be this very second (the first second
	// of an hour), when it still works; a second earlier it never does.
	expired := e.srv.playToken(id, 0, time.Now().Add(-13*time.Hour-time.Second))
	tampered := tamperFirst(tok, strings.LastIndex(tok, ".")+1) // "xx" for the end was no change when it ended so
	otherVideo := e.srv.playToken(hidden, 0, time.Now())
	exp, sig, _ := strings.Cut(tok, ".")
	var later int64
	fmt.Sscan(exp, &later)
	extended := fmt.Sprintf("%d.%s", later+3600, sig)
	for name, q := range map[string]string{
		"no token": "", "empty": "?token=", "tampered": "?token=" + tampered, "expired": "?token=" + expired,
		"another video's": "?token=" + url.QueryEscape(otherVideo), "extended expiry": "?token=" + extended,
		"garbage": "?token=abc",
	} {
		for _, p := range []string{"index.m3u8", "360p/index.m3u8", "360p/seg_00000.ts"} {
			wantStatus(t, e.get(base+p+q), 403, name+" "+p)
		}
	}
	wantStatus(t, e.get(base+"index.m3u8", "Authorization", "Bearer nonsense"), 403, "bad bearer")
	wantStatus(t, e.get(fmt.Sprintf("/videos/%d/index.m3u8", hidden), "Authorization", "Bearer "+other), 403,
		"hidden video, other user's bearer")

	for _, p := range []string{"../../mika.db", "..%2f..%2fmika.db", "360p/../../../mika.db", "360p/nope.ts",
		"notes.txt", "360p"} {
		rec := e.get(base + p + "?token=" + tok)
		if rec.Code != 404 && rec.Code != 403 {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
	wantStatus(t, e.get("/videos/999/index.m3u8?token="+tok), 404, "unknown video")

	// The master playlist: every URI carries the same token.
	rec := e.get(base + "index.m3u8?token=" + tok)
	wantStatus(t, rec, 200, "master")
	if ct := rec.Header().Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
		t.Errorf("content type %q", ct)
	}
	if !strings.Contains(rec.Body.String(), "\n360p/index.m3u8?token="+url.QueryEscape(tok)+"\n") {
		t.Errorf("master not rewritten:\n%s", rec.Body.String())
	}
	rec = e.get(base + "360p/index.m3u8?token=" + tok)
	wantStatus(t, rec, 200, "rung playlist")
	body := rec.Body.String()
	if !strings.Contains(body, "\nseg_00000.ts?token=") || !strings.Contains(body, `URI="init.mp4?token=`) {
		t.Errorf("rung playlist not rewritten:\n%s", body)
	}
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "private") {
		t.Errorf("playlist cache %q", cc)
	}

	// Segments: content type, Range, long private caching.
	rec = e.get(base+"360p/seg_00000.ts?token="+tok, "Range", "bytes=10-19")
	wantStatus(t, rec, 206, "segment range")
	if rec.Body.String() != "0123456789" || rec.Header().Get("Content-Type") != "video/mp2t" ||
		rec.Header().Get("Cache-Control") != "private, max-age=86400" {
		t.Errorf("segment: %q %v", rec.Body.String(), rec.Header())
	}

	// A Bearer token of someone who may see the video works without a token.
	wantStatus(t, e.get(fmt.Sprintf("/videos/%d/index.m3u8", hidden), "Authorization", "Bearer "+owner), 200, "owner bearer")
	wantStatus(t, e.get(fmt.Sprintf("/videos/%d/360p/seg_00000.ts", hidden), "Authorization", "Bearer "+admin), 200, "admin bearer")
	wantStatus(t, e.get(base+"index.m3u8", "Authorization", "Bearer "+other), 200, "published, any user")
}

// A play token works until the end of the hour 12 to 13 hours after it
// was issued, its last second included, for its own video only.
func TestPlayTokenExpiryEdges(t *testing.T) {
	e := newTestEnv(t)
	for _, issued := range []time.Time{
		time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 5, 10, 12, 0, 0, 500_000_000, time.UTC),
		time.Date(2024, 5, 10, 12, 59, 59, 999_000_000, time.UTC),
	} {
		exp := time.Date(2024, 5, 11, 1, 0, 0, 0, time.UTC)
		tok := e.srv.playToken(7, 3, issued)
		for _, c := range []struct {
			at   time.Time
			want bool
		}{
			{issued, true}, {exp.Add(-time.Second), true}, {exp.Add(999 * time.Millisecond), true},
			{exp.Add(time.Second), false}, {exp.Add(time.Hour), false},
		} {
			if uid, ok := e.srv.checkPlayToken(7, tok, c.at); ok != c.want || (ok && uid != 3) {
				t.Errorf("issued %s, checked %s: uid %d ok %v, want ok %v", issued, c.at, uid, ok, c.want)
			}
		}
		if _, ok := e.srv.checkPlayToken(8, tok, issued); ok {
			t.Errorf("a token for video 7 works for video 8")
		}
	}
}

func TestPlaybackCountsViewsOnMaster(t *testing.T) {
	e := newTestEnv(t)
	ownerID, owner := e.createUser("owner", false)
	id := e.playableVideo(ownerID, owner, store.VideoPublished)
	tok := e.srv.playToken(id, 0, time.Now())
	for range 3 {
		wantStatus(t, e.get(fmt.Sprintf("/videos/%d/index.m3u8?token=%s", id, tok)), 200, "master")
		wantStatus(t, e.get(fmt.Sprintf("/videos/%d/360p/index.m3u8?token=%s", id, tok)), 200, "rung")
	}
	v, _ := e.store.VideoByID(context.Background(), id)
	if v.Views != 1 {
		t.Errorf("views %d, want 1 (same viewer within 30 min, rung playlists do not count)", v.Views)
	}
}

func TestPlaybackHeadCountsNoView(t *testing.T) {
	e := newTestEnv(t)
	ownerID, owner := e.createUser("owner", false)
	id := e.playableVideo(ownerID, owner, store.VideoPublished)
	master := fmt.Sprintf("/videos/%d/index.m3u8?token=%s", id, e.srv.playToken(id, 0, time.Now()))
	views := func() int64 {
		v, err := e.store.VideoByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return v.Views
	}
	for range 2 {
		req := httptest.NewRequest("HEAD", master, nil)
		req.RemoteAddr = "192.0.2.7:999"
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		wantStatus(t, rec, 200, "HEAD master")
		if ct := rec.Header().Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
			t.Errorf("HEAD master Content-Type %q", ct)
		}
	}
	if n := views(); n != 0 {
		t.Errorf("views after HEAD %d, want 0", n)
	}
	wantStatus(t, e.get(master), 200, "GET master")
	if n := views(); n != 1 {
		t.Errorf("views after GET %d, want 1", n)
	}
}

func TestPlaybackUnplayableIs404(t *testing.T) {
	e := newTestEnv(t)
	ownerID, owner := e.createUser("owner", false)
	id, _ := e.queueVideo(ownerID, "pending")
	tok := e.srv.playToken(id, 0, time.Now())
	wantStatus(t, e.get(fmt.Sprintf("/videos/%d/index.m3u8?token=%s", id, tok)), 404, "not playable")
	wantStatus(t, e.get(fmt.Sprintf("/videos/%d/index.m3u8", id), "Authorization", "Bearer "+owner), 404, "not playable, owner")
}

func TestCovers(t *testing.T) {
	e := newTestEnv(t)
	ownerID, owner := e.createUser("owner", false)
	_, other := e.createUser("other", false)
	pub := e.playableVideo(ownerID, owner, store.VideoPublished)
	hidden := e.playableVideo(ownerID, owner, store.VideoHidden)
	rec := e.get(fmt.Sprintf("/covers/%d.jpg", pub))
	wantStatus(t, rec, 200, "published cover")
	if rec.Header().Get("Content-Type") != "image/jpeg" || !strings.Contains(rec.Header().Get("Cache-Control"), "max-age") {
		t.Errorf("cover headers %v", rec.Header())
	}
	wantStatus(t, e.get(fmt.Sprintf("/covers/%d.jpg", hidden)), 404, "hidden cover, anonymous")
	wantStatus(t, e.get(fmt.Sprintf("/covers/%d.jpg", hidden), "Authorization", "Bearer "+other), 404, "hidden cover, other")
	wantStatus(t, e.get(fmt.Sprintf("/covers/%d.jpg", hidden), "Authorization", "Bearer "+owner), 200, "hidden cover, owner")
	for _, n := range []string{"999.jpg", "abc.jpg", fmt.Sprintf("%d.png", pub), fmt.Sprintf("0%d.jpg", pub), "-1.jpg"} {
		wantStatus(t, e.get("/covers/"+n), 404, n)
	}
}

// TestPlayURLWithFFprobe runs the real pool on a generated clip and has
// ffprobe read the finished stream from play_url through an HTTP server.
func TestPlayURLWithFFprobe(t *testing.T) {
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed", b)
		}
	}
	e := newTestEnv(t)
	set := e.store.Settings()
	set.VideoPreset, set.HLSSegmentSeconds, set.Ladder = "ultrafast", 2, []int{360, 240}
	e.store.SaveSettings(context.Background(), set)
	pool := transcoder.New(transcoder.Config{Store: e.store, Data: e.data})
	e.srv.transcoder = pool
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		pool.Shutdown(sctx)
	}()
	pool.Start(ctx)

	src := filepath.Join(e.data.Tmp(), "src.mp4")
	if b, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=3",
		"-f", "lavfi", "-i", "sine=duration=3", "-c:v", "mpeg4", "-c:a", "aac", "-shortest", src).CombinedOutput(); err != nil {
		t.Fatalf("make clip: %v %s", err, b)
	}
	ownerID, owner := e.createUser("owner", false)
	rel, _ := e.data.Rel(src)
	v, taskID, err := e.store.CreateVideo(ctx, store.NewVideo{UserID: ownerID, Title: "clip", SourcePath: rel})
	if err != nil {
		t.Fatal(err)
	}
	pool.Wake()
	deadline := time.Now().Add(time.Minute)
	for {
		task, _ := e.store.TaskByID(ctx, taskID)
		if task.Status == store.TaskCompleted {
			break
		}
		if task.Status == store.TaskFailed || time.Now().After(deadline) {
			t.Fatalf("task %s: %s\n%s", task.Status, task.Error, task.Log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var d struct {
		PlayURL string `json:"play_url"`
	}
	e.mustOK(e.do("GET", fmt.Sprintf("/api/videos/%d", v.ID), nil, owner)).into(t, &d)
	if !strings.HasPrefix(d.PlayURL, fmt.Sprintf("/videos/%d/index.m3u8?token=", v.ID)) {
		t.Fatalf("play_url %q", d.PlayURL)
	}
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
		"-of", "csv=p=0", hs.URL+d.PlayURL).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{"h264,640,360", "h264,426,240", "aac"} {
		if !strings.Contains(got, want) {
			t.Errorf("ffprobe saw %q, want %s", got, want)
		}
	}
	// Without the token, the same URL is refused.
	res, err := http.Get(hs.URL + strings.Split(d.PlayURL, "?")[0])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Errorf("without token: %d", res.StatusCode)
	}
}

// A play link handed out while a video was published stops working for
// everyone but its owner and admins once the video is hidden.
func TestPlayTokenOfHiddenVideo(t *testing.T) {
	e := newTestEnv(t)
	ownerID, owner := e.createUser("owner", false)
	otherID, _ := e.createUser("other", false)
	adminID, _ := e.createUser("root", true)
	id := e.playableVideo(ownerID, owner, store.VideoPublished)
	master := fmt.Sprintf("/videos/%d/index.m3u8?token=", id)
	anon := e.srv.playToken(id, 0, time.Now())
	others := e.srv.playToken(id, otherID, time.Now())
	owners := e.srv.playToken(id, ownerID, time.Now())
	admins := e.srv.playToken(id, adminID, time.Now())
	for _, tok := range []string{anon, others, owners, admins} {
		wantStatus(t, e.get(master+url.QueryEscape(tok)), 200, "published")
	}
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/videos/%d", id), map[string]any{"status": store.VideoHidden}, owner))
	wantStatus(t, e.get(master+url.QueryEscape(anon)), 403, "hidden, anonymous link")
	wantStatus(t, e.get(master+url.QueryEscape(others)), 403, "hidden, another user's link")
	wantStatus(t, e.get(master+url.QueryEscape(owners)), 200, "hidden, owner's link")
	wantStatus(t, e.get(master+url.QueryEscape(admins)), 200, "hidden, admin's link")
	if err := e.store.SetUserDisabled(context.Background(), ownerID, true); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.get(master+url.QueryEscape(owners)), 403, "hidden, disabled owner's link")
}

// Every segment request reads the video again: a segment link stops
// working as soon as the video is hidden (but for its owner's own link) or
// deleted.
func TestSegmentsStopWhenHiddenOrDeleted(t *testing.T) {
	e := newTestEnv(t)
	ownerID, owner := e.createUser("owner", false)
	id := e.playableVideo(ownerID, owner, store.VideoPublished)
	seg := fmt.Sprintf("/videos/%d/360p/seg_00000.ts?token=", id)
	anon := url.QueryEscape(e.srv.playToken(id, 0, time.Now()))
	owners := url.QueryEscape(e.srv.playToken(id, ownerID, time.Now()))
	wantStatus(t, e.get(seg+anon), 200, "published, anonymous link")

	e.mustOK(e.do("PUT", fmt.Sprintf("/api/videos/%d", id), map[string]any{"status": store.VideoHidden}, owner))
	wantStatus(t, e.get(seg+anon), 403, "hidden, anonymous link")
	wantStatus(t, e.get(seg+owners), 200, "hidden, owner's link")

	e.mustOK(e.do("PUT", fmt.Sprintf("/api/videos/%d", id), map[string]any{"status": store.VideoPublished}, owner))
	wantStatus(t, e.get(seg+anon), 200, "published again")

	e.mustOK(e.do("DELETE", fmt.Sprintf("/api/videos/%d", id), nil, owner))
	wantStatus(t, e.get(seg+anon), 404, "deleted, anonymous link")
	wantStatus(t, e.get(seg+owners), 404, "deleted, owner's link")
}

// Playlists are rewritten per request, yet answer Range, conditional
// requests and HEAD like the files they come from.
func TestPlaybackPlaylistRange(t *testing.T) {
	e := newTestEnv(t)
	ownerID, owner := e.createUser("owner", false)
	id := e.playableVideo(ownerID, owner, store.VideoPublished)
	tok := e.srv.playToken(id, 0, time.Now())
	for _, p := range []string{"index.m3u8", "360p/index.m3u8"} {
		u := fmt.Sprintf("/videos/%d/%s?token=%s", id, p, url.QueryEscape(tok))
		full := e.get(u)
		wantStatus(t, full, 200, p+" without Range")
		body := full.Body.String()
		n := len(body)
		if !strings.Contains(body, "?token=") || full.Header().Get("Content-Length") != fmt.Sprint(n) {
			t.Fatalf("%s: not the rewritten playlist (%s): %q", p, full.Header().Get("Content-Length"), body)
		}
		for _, c := range []struct {
			rg, want, cr string
			code         int
		}{
			{fmt.Sprintf("bytes=%d-", n), "", fmt.Sprintf("bytes */%d", n), 416},
			{fmt.Sprintf("bytes=%d-%d", n+10, n+20), "", fmt.Sprintf("bytes */%d", n), 416},
			{"bytes=0-9", body[:10], fmt.Sprintf("bytes 0-9/%d", n), 206},
			{"bytes=-10", body[n-10:], fmt.Sprintf("bytes %d-%d/%d", n-10, n-1, n), 206},
			{"bytes=10-", body[10:], fmt.Sprintf("bytes 10-%d/%d", n-1, n), 206},
		} {
			rec := e.get(u, "Range", c.rg)
			if rec.Code != c.code || rec.Header().Get("Content-Range") != c.cr {
				t.Errorf("%s Range %s: %d %q, want %d %q", p, c.rg, rec.Code, rec.Header().Get("Content-Range"), c.code, c.cr)
			}
			if c.code == 206 && (rec.Body.String() != c.want || rec.Header().Get("Content-Type") != "application/vnd.apple.mpegurl" ||
				rec.Header().Get("Cache-Control") != full.Header().Get("Cache-Control")) {
				t.Errorf("%s Range %s: %q %v, want %q", p, c.rg, rec.Body.String(), rec.Header(), c.want)
			}
		}
		if rec := e.get(u, "If-None-Match", full.Header().Get("ETag")); rec.Code != 304 {
			t.Errorf("%s If-None-Match its ETag: %d", p, rec.Code)
		}
	}

	// A playlist rewritten within the same second as the copy a player
	// holds: its revalidation gets the new bytes, not a 304.
	rung := filepath.Join(e.data.HLS(id), "360p", "index.m3u8")
	st, err := os.Stat(rung)
	if err != nil {
		t.Fatal(err)
	}
	u := fmt.Sprintf("/videos/%d/360p/index.m3u8?token=%s", id, url.QueryEscape(tok))
	old := e.get(u)
	os.WriteFile(rung, []byte("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\nseg_00000.ts\n#EXTINF:6.0,\nseg_00001.ts\n"), 0o644)
	os.Chtimes(rung, st.ModTime(), st.ModTime().Truncate(time.Second).Add(999*time.Millisecond))
	rec := e.get(u, "If-None-Match", old.Header().Get("ETag"), "If-Modified-Since", old.Header().Get("Last-Modified"))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "seg_00001.ts?token=") {
		t.Errorf("revalidated after a change within the second: %d %q", rec.Code, rec.Body.String())
	}
}
