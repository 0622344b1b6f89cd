package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mika/store"
)

// formPart is one part of a multipart body; a filename makes it a file.
type formPart struct {
	name, filename string
	data           []byte
}

func field(name, value string) formPart { return formPart{name: name, data: []byte(value)} }

func multipartBody(t *testing.T, parts ...formPart) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		var err error
		var w interface{ Write([]byte) (int, error) }
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

// postForm sends a multipart request with the parts in the given order.
func (e *testEnv) postForm(path, token string, parts ...formPart) *response {
	e.t.Helper()
	body, ctype := multipartBody(e.t, parts...)
	req := httptest.NewRequest("POST", path, body)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.serve(req)
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// mediaFiles lists every file in the data folder except the database.
func (e *testEnv) mediaFiles() []string {
	var out []string
	for _, f := range files(e.t, e.data.Root()) {
		if !strings.HasPrefix(f, "mika.db") {
			out = append(out, f)
		}
	}
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestUploadVideo(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	cat, err := e.store.CreateCategory(context.Background(), "电影", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(100_000)
	orders := map[string][]formPart{
		"fields first": {field("title", "  视频标题 "), field("description", "视频描述"),
			field("category_id", fmt.Sprint(cat.ID)), field("tags", "动作, 科幻,动作,,"),
			{name: "file", filename: "clip.MP4", data: data}},
		"fields after the file": {{name: "file", filename: "clip.MP4", data: data}, field("title", "  视频标题 "),
			field("description", "视频描述"), field("category_id", fmt.Sprint(cat.ID)), field("tags", "动作, 科幻,动作,,")},
	}
	for name, parts := range orders {
		t.Run(name, func(t *testing.T) {
			wakes := e.fake.wakes
			res := e.mustOK(e.postForm("/api/videos/upload", tok, parts...))
			var raw map[string]any
			res.into(t, &raw)
			id := int64(raw["id"].(float64))
			want := map[string]any{"id": float64(id), "title": "视频标题", "status": "pending", "upload_progress": float64(100)}
			if fmt.Sprint(raw) != fmt.Sprint(want) {
				t.Fatalf("answer %v, want %v", raw, want)
			}
			v, err := e.store.VideoByID(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if v.SourcePath != fmt.Sprintf("media/originals/%d.mp4", id) || v.SourceName != "clip.MP4" ||
				v.FileSize != int64(len(data)) || v.CategoryID != cat.ID || fmt.Sprint(v.Tags) != "[动作 科幻]" ||
				v.Status != store.VideoProcessing || v.TranscodeStatus != "pending" || v.Description != "视频描述" {
				t.Fatalf("video %+v", v)
			}
			got, err := os.ReadFile(e.data.Original(id, ".mp4"))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("original differs (%v)", err)
			}
			if e.fake.wakes != wakes+1 {
				t.Fatalf("transcoder not woken")
			}
			if tmp := files(t, e.data.Tmp()); len(tmp) != 0 {
				t.Fatalf("tmp not empty: %v", tmp)
			}
		})
	}
	tasks, total, err := e.store.ListTasks(context.Background(), "pending", 0, 10)
	if err != nil || total != 2 || len(tasks) != 2 {
		t.Fatalf("tasks %v %d %v", tasks, total, err)
	}
}

func TestUploadVideoRejects(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	file := formPart{name: "file", filename: "a.mp4", data: []byte("video")}
	tests := []struct {
		name  string
		parts []formPart
		field string
	}{
		{"no file", []formPart{field("title", "t")}, "file"},
		{"empty file", []formPart{field("title", "t"), {name: "file", filename: "a.mp4"}}, "file"},
		{"no title", []formPart{file}, "title"},
		{"blank title", []formPart{field("title", "   "), file}, "title"},
		{"long title", []formPart{field("title", strings.Repeat("长", 201)), file}, "title"},
		{"long description", []formPart{field("title", "t"), field("description", strings.Repeat("x", 5001)), file}, "description"},
		{"unknown category", []formPart{field("title", "t"), field("category_id", "999"), file}, "category_id"},
		{"bad category", []formPart{field("title", "t"), field("category_id", "abc"), file}, "category_id"},
		{"too many tags", []formPart{field("title", "t"), field("tags", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u"), file}, "tags"},
		{"long tag", []formPart{field("title", "t"), field("tags", strings.Repeat("x", 31)), file}, "tags"},
		{"two files", []formPart{field("title", "t"), file, file}, "file"},
		{"huge field", []formPart{field("title", strings.Repeat("x", 70_000)), file}, "title"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.wantError(e.postForm("/api/videos/upload", tok, tc.parts...), 400)
			if res.Errors[tc.field] == "" {
				t.Fatalf("errors %v, want %s", res.Errors, tc.field)
			}
			if left := e.mediaFiles(); len(left) != 0 {
				t.Fatalf("files left: %v", left)
			}
		})
	}
	e.wantError(e.postForm("/api/videos/upload", "", field("title", "t"), file), 401)
	e.wantError(e.do("POST", "/api/videos/upload", map[string]string{"title": "t"}, tok), 400)
	if list, total, _ := e.store.ListVideos(context.Background(), store.VideoFilter{AnyStatus: true, Limit: 10}); total != 0 {
		t.Fatalf("videos created: %v", list)
	}
}

func TestUploadVideoCap(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	set := e.store.Settings()
	set.MaxUploadBytes = 1000
	if err := e.store.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	e.wantError(e.postForm("/api/videos/upload", tok, field("title", "t"),
		formPart{name: "file", filename: "a.mp4", data: randomBytes(1001)}), 413)
	if left := e.mediaFiles(); len(left) != 0 {
		t.Fatalf("files left after 413: %v", left)
	}
	// A body far over the cap is refused from its Content-Length alone.
	body, ctype := multipartBody(t, field("title", "t"), formPart{name: "file", filename: "a.mp4", data: randomBytes(2 << 20)})
	req := httptest.NewRequest("POST", "/api/videos/upload", body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+tok)
	e.wantError(e.serve(req), 413)
	e.mustOK(e.postForm("/api/videos/upload", tok, field("title", "t"),
		formPart{name: "file", filename: "a.mp4", data: randomBytes(1000)}))
	// init is refused up front too, and every refusal names the limit.
	res := e.wantError(e.do("POST", "/api/videos/upload/init", map[string]any{"filename": "a.mp4", "filesize": 1001, "title": "t"}, tok), 413)
	if !strings.Contains(res.Message, "at most 1000 bytes") {
		t.Errorf("413 message %q does not name the limit", res.Message)
	}
	var pub map[string]any
	e.mustOK(e.do("GET", "/api/settings/public", nil, "")).into(t, &pub)
	if pub["max_upload_bytes"] != float64(1000) {
		t.Errorf("public settings %v: want max_upload_bytes 1000", pub)
	}
}

// chunked drives the chunked upload API for one user.
type chunked struct {
	e   *testEnv
	tok string
	id  string
}

func (c *chunked) send(idx int, data []byte, extra ...formPart) *response {
	parts := append([]formPart{field("upload_id", c.id), field("chunk_index", fmt.Sprint(idx))}, extra...)
	parts = append(parts, formPart{name: "chunk", filename: "blob", data: data})
	return c.e.postForm("/api/videos/upload/chunk", c.tok, parts...)
}

func (c *chunked) status() []int {
	var st struct {
		UploadID    string `json:"upload_id"`
		ChunkSize   int    `json:"chunk_size"`
		TotalChunks int    `json:"total_chunks"`
		Uploaded    []int  `json:"uploaded"`
	}
	c.e.mustOK(c.e.do("GET", "/api/videos/upload/"+c.id, nil, c.tok)).into(c.e.t, &st)
	return st.Uploaded
}

func chunkOf(data []byte, i int) []byte {
	return data[i*chunkSize : min((i+1)*chunkSize, len(data))]
}

func initChunked(e *testEnv, tok string, body map[string]any) (*chunked, int) {
	e.t.Helper()
	var init struct {
		UploadID    string `json:"upload_id"`
		ChunkSize   int    `json:"chunk_size"`
		TotalChunks int    `json:"total_chunks"`
	}
	e.mustOK(e.do("POST", "/api/videos/upload/init", body, tok)).into(e.t, &init)
	if init.ChunkSize != 5242880 || init.UploadID == "" {
		e.t.Fatalf("init answer %+v", init)
	}
	return &chunked{e: e, tok: tok, id: init.UploadID}, init.TotalChunks
}

func TestChunkedUpload(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	data := randomBytes(2*chunkSize + 12345)
	sum := sha256.Sum256(data)
	c, total := initChunked(e, tok, map[string]any{"filename": "movie.mkv", "filesize": len(data), "title": "标题",
		"tags": []string{"a", "b"}, "sha256": hex.EncodeToString(sum[:])})
	if total != 3 {
		t.Fatalf("total_chunks %d", total)
	}
	if got := c.status(); len(got) != 0 {
		t.Fatalf("fresh upload lists %v", got)
	}
	// Out of order, with a duplicate and an MD5 (after the chunk, which is
	// written in place first: the MD5 is read back).
	m := md5.Sum(chunkOf(data, 2))
	e.mustOK(e.postForm("/api/videos/upload/chunk", tok, field("upload_id", c.id), field("chunk_index", "2"),
		formPart{name: "chunk", filename: "blob", data: chunkOf(data, 2)}, field("chunk_md5", hex.EncodeToString(m[:]))))
	var ack struct {
		Uploaded    int `json:"uploaded"`
		TotalChunks int `json:"total_chunks"`
	}
	e.mustOK(c.send(0, chunkOf(data, 0))).into(t, &ack)
	if ack.Uploaded != 2 || ack.TotalChunks != 3 {
		t.Fatalf("ack %+v", ack)
	}
	e.mustOK(c.send(0, chunkOf(data, 0)))
	if got := c.status(); fmt.Sprint(got) != "[0 2]" {
		t.Fatalf("status %v", got)
	}
	res := e.wantError(e.do("POST", "/api/videos/upload/complete", map[string]string{"upload_id": c.id}, tok), 400)
	if res.Errors["missing"] != "1" {
		t.Fatalf("missing %v", res.Errors)
	}
	// The chunk part before its fields (curl -F order is the caller's).
	e.mustOK(e.postForm("/api/videos/upload/chunk", tok, formPart{name: "chunk", filename: "blob", data: chunkOf(data, 1)},
		field("chunk_index", "1"), field("upload_id", c.id)))

	res = e.mustOK(e.do("POST", "/api/videos/upload/complete", map[string]string{"upload_id": c.id}, tok))
	var done uploadAnswer
	res.into(t, &done)
	if done.Title != "标题" || done.Status != "pending" || done.UploadProgress != 100 {
		t.Fatalf("complete answer %+v", done)
	}
	got, err := os.ReadFile(e.data.Original(done.ID, ".mkv"))
	if err != nil || sha256.Sum256(got) != sum {
		t.Fatalf("original differs (%v)", err)
	}
	v, _ := e.store.VideoByID(context.Background(), done.ID)
	if v.FileSize != int64(len(data)) || fmt.Sprint(v.Tags) != "[a b]" || v.SourceName != "movie.mkv" {
		t.Fatalf("video %+v", v)
	}
	if left := e.mediaFiles(); fmt.Sprint(left) != fmt.Sprintf("[media/originals/%d.mkv]", done.ID) {
		t.Fatalf("files %v", left)
	}
	// The upload is gone: a second complete, a chunk and the status say so.
	e.wantError(e.do("POST", "/api/videos/upload/complete", map[string]string{"upload_id": c.id}, tok), 400)
	e.wantError(c.send(0, chunkOf(data, 0)), 400)
	e.wantError(e.do("GET", "/api/videos/upload/"+c.id, nil, tok), 404)
}

func TestChunkedUploadRejects(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	_, other := e.createUser("bob", false)
	data := randomBytes(chunkSize + 10)
	c, _ := initChunked(e, tok, map[string]any{"filename": "a.mp4", "filesize": len(data), "title": "t", "tags": "x, y"})

	initTests := []struct {
		name  string
		body  any
		field string
	}{
		{"no filesize", map[string]any{"filename": "a.mp4", "title": "t"}, "filesize"},
		{"negative filesize", map[string]any{"filename": "a.mp4", "filesize": -1, "title": "t"}, "filesize"},
		{"string filesize", map[string]any{"filename": "a.mp4", "filesize": "10", "title": "t"}, "filesize"},
		{"no filename", map[string]any{"filesize": 10, "title": "t"}, "filename"},
		{"no title", map[string]any{"filename": "a.mp4", "filesize": 10}, "title"},
		{"unknown category", map[string]any{"filename": "a.mp4", "filesize": 10, "title": "t", "category_id": 5}, "category_id"},
		{"bad tags", map[string]any{"filename": "a.mp4", "filesize": 10, "title": "t", "tags": 5}, "tags"},
		{"bad sha256", map[string]any{"filename": "a.mp4", "filesize": 10, "title": "t", "sha256": "xyz"}, "sha256"},
	}
	for _, tc := range initTests {
		t.Run("init "+tc.name, func(t *testing.T) {
			res := e.wantError(e.do("POST", "/api/videos/upload/init", tc.body, tok), 400)
			if res.Errors[tc.field] == "" {
				t.Fatalf("errors %v, want %s", res.Errors, tc.field)
			}
		})
	}

	// A size beyond what the file system can hold is too large, not a 500
	// (a file system that can hold it sparse answers 200).
	if res := e.do("POST", "/api/videos/upload/init", map[string]any{"filename": "a.mp4", "filesize": int64(math.MaxInt64),
		"title": "t"}, tok); res.Status != 413 && res.Status != 200 {
		t.Fatalf("init of an enormous file: %d %s", res.Status, res.Message)
	}

	md5Wrong := field("chunk_md5", strings.Repeat("0", 32))
	chunkTests := []struct {
		name  string
		parts []formPart
		field string
	}{
		{"unknown id", []formPart{field("upload_id", "nope"), field("chunk_index", "0"), {name: "chunk", filename: "b", data: chunkOf(data, 0)}}, "upload_id"},
		{"index out of range", []formPart{field("upload_id", c.id), field("chunk_index", "2"), {name: "chunk", filename: "b", data: []byte("x")}}, "chunk_index"},
		{"negative index", []formPart{field("upload_id", c.id), field("chunk_index", "-1"), {name: "chunk", filename: "b", data: []byte("x")}}, "chunk_index"},
		{"short chunk", []formPart{field("upload_id", c.id), field("chunk_index", "0"), {name: "chunk", filename: "b", data: chunkOf(data, 0)[:100]}}, "chunk"},
		{"long last chunk", []formPart{field("upload_id", c.id), field("chunk_index", "1"), {name: "chunk", filename: "b", data: make([]byte, 11)}}, "chunk"},
		{"long chunk spooled", []formPart{{name: "chunk", filename: "b", data: make([]byte, chunkSize+1)}, field("upload_id", c.id), field("chunk_index", "0")}, "chunk"},
		{"bad md5", []formPart{field("upload_id", c.id), field("chunk_index", "1"), md5Wrong, {name: "chunk", filename: "b", data: chunkOf(data, 1)}}, "chunk_md5"},
		{"bad md5 spooled", []formPart{{name: "chunk", filename: "b", data: chunkOf(data, 1)}, field("upload_id", c.id), field("chunk_index", "1"), md5Wrong}, "chunk_md5"},
		{"bad md5 after the chunk", []formPart{field("upload_id", c.id), field("chunk_index", "1"), {name: "chunk", filename: "b", data: chunkOf(data, 1)}, md5Wrong}, "chunk_md5"},
		{"no chunk", []formPart{field("upload_id", c.id), field("chunk_index", "1")}, "chunk"},
		{"index twice", []formPart{field("upload_id", c.id), field("chunk_index", "0"), field("chunk_index", "1"), {name: "chunk", filename: "b", data: chunkOf(data, 1)}}, "chunk_index"},
		{"no index", []formPart{field("upload_id", c.id), {name: "chunk", filename: "b", data: []byte("x")}}, "chunk_index"},
	}
	for _, tc := range chunkTests {
		t.Run("chunk "+tc.name, func(t *testing.T) {
			res := e.wantError(e.postForm("/api/videos/upload/chunk", tok, tc.parts...), 400)
			if res.Errors[tc.field] == "" {
				t.Fatalf("errors %v, want %s", res.Errors, tc.field)
			}
			if got := c.status(); len(got) != 0 {
				t.Fatalf("a refused chunk was recorded: %v", got)
			}
		})
	}

	// Only the uploader touches an upload.
	bob := &chunked{e: e, tok: other, id: c.id}
	e.wantError(bob.send(1, chunkOf(data, 1)), 403)
	e.wantError(e.do("GET", "/api/videos/upload/"+c.id, nil, other), 403)
	e.wantError(e.do("POST", "/api/videos/upload/complete", map[string]string{"upload_id": c.id}, other), 403)
	e.wantError(e.do("GET", "/api/videos/upload/"+c.id, nil, ""), 401)
	e.wantError(e.do("GET", "/api/videos/upload/nope", nil, tok), 404)
	e.wantError(e.do("POST", "/api/videos/upload/complete", map[string]string{}, tok), 400)

	res := e.wantError(e.do("POST", "/api/videos/upload/complete", map[string]string{"upload_id": c.id}, tok), 400)
	if res.Errors["missing"] != "0,1" {
		t.Fatalf("missing %v", res.Errors)
	}
	if left := files(t, e.data.Tmp()); len(left) != 0 {
		t.Fatalf("spool files left: %v", left)
	}
}

func TestChunkedUploadSHA256Mismatch(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	data := randomBytes(100)
	c, _ := initChunked(e, tok, map[string]any{"filename": "a.mp4", "filesize": 100, "title": "t",
		"sha256": strings.Repeat("ab", 32)})
	e.mustOK(c.send(0, data))
	res := e.wantError(e.do("POST", "/api/videos/upload/complete", map[string]string{"upload_id": c.id}, tok), 400)
	if res.Errors["sha256"] == "" {
		t.Fatalf("errors %v", res.Errors)
	}
	// The upload stays, its chunks forgotten, so the client can send again.
	if got := c.status(); len(got) != 0 {
		t.Fatalf("chunks kept after a mismatch: %v", got)
	}
	if left := e.mediaFiles(); len(left) != 1 || !strings.HasPrefix(left[0], "media/uploads/") {
		t.Fatalf("files %v", left)
	}
}

// reopen closes e's store and builds a new store and server over the same
// data folder, as a restart after a crash would.
func reopen(t *testing.T, e *testEnv) *testEnv {
	t.Helper()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), e.data.DB(), os.DirFS(migrationsDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fake := &fakeTranscoder{}
	srv, err := New(context.Background(), Config{Store: st, Data: e.data, Transcoder: fake})
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, srv: srv, store: st, data: e.data, fake: fake}
}

func TestChunkedUploadSurvivesRestart(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	data := randomBytes(3*chunkSize + 1)
	sum := sha256.Sum256(data)
	c, _ := initChunked(e, tok, map[string]any{"filename": "a.mp4", "filesize": len(data), "title": "t",
		"sha256": hex.EncodeToString(sum[:])})
	e.mustOK(c.send(3, chunkOf(data, 3)))
	e.mustOK(c.send(1, chunkOf(data, 1)))

	e2 := reopen(t, e)
	// Housekeeping after the restart keeps the live upload.
	if err := e2.srv.expireUploads(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.e = e2
	if got := c.status(); fmt.Sprint(got) != "[1 3]" {
		t.Fatalf("after restart: %v", got)
	}
	e2.mustOK(c.send(0, chunkOf(data, 0)))
	e2.mustOK(c.send(2, chunkOf(data, 2)))
	var done uploadAnswer
	e2.mustOK(e2.do("POST", "/api/videos/upload/complete", map[string]string{"upload_id": c.id}, tok)).into(t, &done)
	got, err := os.ReadFile(e2.data.Original(done.ID, ".mp4"))
	if err != nil || sha256.Sum256(got) != sum {
		t.Fatalf("original differs after restart (%v)", err)
	}
}

func TestExpireUploadsAndSweep(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	_, tok := e.createUser("alice", false)
	c, _ := initChunked(e, tok, map[string]any{"filename": "a.mp4", "filesize": 10, "title": "t"})
	e.mustOK(c.send(0, randomBytes(10)))
	live := e.mustOK(e.postForm("/api/videos/upload", tok, field("title", "kept"),
		formPart{name: "file", filename: "k.mp4", data: []byte("video")}))
	var kept uploadAnswer
	live.into(t, &kept)

	old := time.Now().Add(-48 * time.Hour)
	stray := func(path string) string {
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, old, old)
		return path
	}
	orphan := stray(e.data.Original(kept.ID+5, ".mp4")) // placed, never committed
	noRowPath, _ := e.data.Upload("deadbeef")
	noRow := stray(noRowPath)
	staleTmp := stray(filepath.Join(e.data.Tmp(), "upload-123"))
	staleSpool := stray(filepath.Join(e.data.Tmp(), "chunk-123"))
	othersTmp := stray(filepath.Join(e.data.Tmp(), "transcode-scratch"))

	if err := e.srv.expireUploads(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{orphan, noRow, staleTmp, staleSpool} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s not removed", p)
		}
	}
	for _, p := range []string{othersTmp, e.data.Original(kept.ID, ".mp4")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s removed: %v", p, err)
		}
	}
	if got := c.status(); fmt.Sprint(got) != "[0]" {
		t.Fatalf("live upload touched: %v", got)
	}

	// A day without a chunk expires the upload and its file.
	if err := e.srv.expireIdleUploadsBefore(ctx, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.wantError(e.do("GET", "/api/videos/upload/"+c.id, nil, tok), 404)
	if p, _ := e.data.Upload(c.id); fileExists(p) {
		t.Fatalf("expired upload's file kept")
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestInitUploadTagsForms(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	for _, tags := range []any{[]string{" a", "b", "a"}, "a，b, a", nil} {
		c, _ := initChunked(e, tok, map[string]any{"filename": "a.mp4", "filesize": 3, "title": "t", "tags": tags})
		e.mustOK(c.send(0, []byte("abc")))
		var done uploadAnswer
		e.mustOK(e.do("POST", "/api/videos/upload/complete", map[string]string{"upload_id": c.id}, tok)).into(t, &done)
		v, _ := e.store.VideoByID(context.Background(), done.ID)
		want := []string{"a", "b"}
		if tags == nil {
			want = []string{}
		}
		if !slices.Equal(v.Tags, want) {
			t.Fatalf("tags %v from %v", v.Tags, tags)
		}
	}
}

// A chunk refused before its data was read (here: an unknown upload_id)
// is answered only once the client has sent it all. A client that writes
// the whole request before it reads (Python's http.client) otherwise gets
// a reset connection instead of the error.
func TestRefusedChunkIsReadBeforeTheAnswer(t *testing.T) {
	e := newTestEnv(t)
	_, token := e.createUser("alice", false)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("upload_id", "no-such-upload")
	mw.WriteField("chunk_index", "0")
	part, _ := mw.CreateFormFile("chunk", "chunk.bin")
	part.Write(bytes.Repeat([]byte{7}, chunkSize))
	mw.Close()

	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "POST /api/videos/upload/chunk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: %s\r\nContent-Length: %d\r\n\r\n", token, mw.FormDataContentType(), body.Len())
	// Write it all, slowly enough that the server has answered long before the end.
	data := body.Bytes()
	for len(data) > 0 {
		n := min(len(data), 256<<10)
		if _, err := conn.Write(data[:n]); err != nil {
			t.Fatalf("the connection broke with %d bytes left to send: %v", len(data), err)
		}
		data = data[n:]
		time.Sleep(2 * time.Millisecond)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after the whole chunk: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode < 400 || res.StatusCode >= 500 {
		t.Fatalf("status %d, want a 4xx", res.StatusCode)
	}
}
