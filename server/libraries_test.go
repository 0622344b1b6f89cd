package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mika/store"
	"mika/transcoder/library"
)

func TestLibrariesNeedAdmin(t *testing.T) {
	e := newTestEnv(t)
	_, user := e.createUser("viewer", false)
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/admin/libraries"},
		{"POST", "/api/admin/libraries"},
		{"PUT", "/api/admin/libraries/1"},
		{"DELETE", "/api/admin/libraries/1"},
		{"POST", "/api/admin/libraries/1/scan"},
	} {
		e.wantError(e.do(r.method, r.path, map[string]any{}, ""), 401)
		e.wantError(e.do(r.method, r.path, map[string]any{}, user), 403)
	}
}

func TestCreateLibraryValidation(t *testing.T) {
	e := newTestEnv(t)
	_, admin := e.createUser("admin", true)
	outside := t.TempDir()
	existing := filepath.Join(outside, "existing")
	for _, d := range []string{existing, filepath.Join(existing, "sub"), filepath.Join(outside, "other")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(outside, "file.mp4")
	os.WriteFile(file, []byte("x"), 0o644)
	link := filepath.Join(outside, "link-to-data")
	if err := os.Symlink(e.data.Media(), link); err != nil {
		t.Fatal(err)
	}
	e.mustOK(e.do("POST", "/api/admin/libraries", map[string]any{"path": existing}, admin))

	tests := []struct {
		name  string
		body  any
		field string
		why   string
	}{
		{"no path", map[string]any{}, "path", "is required"},
		{"empty", map[string]any{"path": " "}, "path", "is required"},
		{"relative", map[string]any{"path": "movies"}, "path", "must be an absolute path"},
		{"dot-relative", map[string]any{"path": "./" + filepath.Base(outside)}, "path", "must be an absolute path"},
		{"missing", map[string]any{"path": filepath.Join(outside, "nope")}, "path", "does not exist"},
		{"a file", map[string]any{"path": file}, "path", "is not a folder"},
		{"the data folder", map[string]any{"path": e.data.Root()}, "path", "is inside Mika's data folder"},
		{"inside the data folder", map[string]any{"path": e.data.Media()}, "path", "is inside Mika's data folder"},
		{"a link into the data folder", map[string]any{"path": link}, "path", "is inside Mika's data folder"},
		{"containing the data folder", map[string]any{"path": filepath.Dir(e.data.Root())}, "path", "contains Mika's data folder"},
		{"duplicate", map[string]any{"path": existing}, "path", "is already a library"},
		{"duplicate, unclean", map[string]any{"path": existing + "/sub/.."}, "path", "is already a library"},
		{"nested in another library", map[string]any{"path": filepath.Join(existing, "sub")}, "path", "is inside library #1"},
		{"containing another library", map[string]any{"path": outside}, "path", "contains library #1"},
		{"unknown category", map[string]any{"path": filepath.Join(outside, "other"), "category_id": 99}, "category_id", "does not exist"},
		{"negative category", map[string]any{"path": filepath.Join(outside, "other"), "category_id": -1}, "category_id", "must be 0"},
		{"interval too long", map[string]any{"path": filepath.Join(outside, "other"), "scan_interval_minutes": 10081}, "scan_interval_minutes", "must be 0"},
		{"negative interval", map[string]any{"path": filepath.Join(outside, "other"), "scan_interval_minutes": -5}, "scan_interval_minutes", "must be 0"},
		{"path of the wrong type", map[string]any{"path": 5}, "path", "must be a string"},
		{"interval of the wrong type", map[string]any{"path": outside, "scan_interval_minutes": "often"}, "scan_interval_minutes", "must be an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.wantError(e.do("POST", "/api/admin/libraries", tt.body, admin), 400)
			if !strings.Contains(res.Errors[tt.field], tt.why) {
				t.Fatalf("errors %v, want %s: %q", res.Errors, tt.field, tt.why)
			}
		})
	}
	if n := len(mustLibraries(t, e, admin)); n != 1 {
		t.Fatalf("%d libraries after failed creations, want 1", n)
	}
}

func TestCreateLibraryUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every folder")
	}
	e := newTestEnv(t)
	_, admin := e.createUser("admin", true)
	dir := filepath.Join(t.TempDir(), "locked")
	if err := os.Mkdir(dir, 0o000); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	res := e.wantError(e.do("POST", "/api/admin/libraries", map[string]any{"path": dir}, admin), 400)
	if !strings.Contains(res.Errors["path"], "cannot be read") {
		t.Fatalf("errors %v", res.Errors)
	}
}

func mustLibraries(t *testing.T, e *testEnv, token string) []libraryItem {
	t.Helper()
	var page struct {
		List  []libraryItem `json:"list"`
		Total int           `json:"total"`
	}
	e.mustOK(e.do("GET", "/api/admin/libraries", nil, token)).into(t, &page)
	if page.Total != len(page.List) {
		t.Fatalf("total %d for %d items", page.Total, len(page.List))
	}
	return page.List
}

func TestLibraryCRUDAndScanRequests(t *testing.T) {
	e := newTestEnv(t)
	_, admin := e.createUser("admin", true)
	ctx := context.Background()
	cat, err := e.store.CreateCategory(ctx, "Films", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var l libraryItem
	e.mustOK(e.do("POST", "/api/admin/libraries", map[string]any{"path": dir + "/", "category_id": cat.ID}, admin)).into(t, &l)
	if l.Path != dir || l.CategoryID != cat.ID || l.ScanIntervalMinutes != 720 || !l.Scanning || l.CreatedAt == "" ||
		l.LastScanAt != "" || l.VideoCount != 0 {
		t.Fatalf("created %+v", l)
	}
	// The first scan is requested with the library: "scan now" waits for it.
	e.wantError(e.do("POST", fmt.Sprintf("/api/admin/libraries/%d/scan", l.ID), nil, admin), 409)
	if err := e.store.BeginLibraryScan(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.store.LibraryScanProgress(ctx, l.ID, 25, 100); err != nil {
		t.Fatal(err)
	}
	got := mustLibraries(t, e, admin)[0]
	if !got.Scanning || got.ScanProgress != (scanProgress{Scanned: 25, Total: 100, Percent: 25}) {
		t.Fatalf("during a scan: %+v", got)
	}
	e.wantError(e.do("POST", fmt.Sprintf("/api/admin/libraries/%d/scan", l.ID), nil, admin), 409)
	if err := e.store.EndLibraryScan(ctx, l.ID, ""); err != nil {
		t.Fatal(err)
	}
	got = mustLibraries(t, e, admin)[0]
	if got.Scanning || got.LastScanAt == "" || got.ScanProgress.Percent != 100 {
		t.Fatalf("after a scan: %+v", got)
	}
	var again libraryItem
	e.mustOK(e.do("POST", fmt.Sprintf("/api/admin/libraries/%d/scan", l.ID), nil, admin)).into(t, &again)
	if !again.Scanning {
		t.Fatalf("scan now answered %+v", again)
	}
	e.wantError(e.do("POST", "/api/admin/libraries/999/scan", nil, admin), 404)

	// PUT: a subset of fields; 0 turns periodic scans off.
	var put libraryItem
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/libraries/%d", l.ID), map[string]any{"scan_interval_minutes": 0}, admin)).into(t, &put)
	if put.ScanIntervalMinutes != 0 || put.CategoryID != cat.ID || put.Path != dir {
		t.Fatalf("after PUT: %+v", put)
	}
	e.wantError(e.do("PUT", fmt.Sprintf("/api/admin/libraries/%d", l.ID), map[string]any{"category_id": 42}, admin), 400)
	e.wantError(e.do("PUT", fmt.Sprintf("/api/admin/libraries/%d", l.ID), map[string]any{"path": "rel"}, admin), 400)
	e.wantError(e.do("PUT", "/api/admin/libraries/999", map[string]any{"category_id": 0}, admin), 404)
	// The same path (even unclean) is not a clash with itself.
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/libraries/%d", l.ID), map[string]any{"path": dir + "/.", "category_id": 0}, admin))

	// A second library may not sit inside the first, nor move there.
	other := t.TempDir()
	var l2 libraryItem
	e.mustOK(e.do("POST", "/api/admin/libraries", map[string]any{"path": other, "scan_interval_minutes": 10080}, admin)).into(t, &l2)
	os.Mkdir(filepath.Join(dir, "inner"), 0o755)
	res := e.wantError(e.do("PUT", fmt.Sprintf("/api/admin/libraries/%d", l2.ID), map[string]any{"path": filepath.Join(dir, "inner")}, admin), 400)
	if !strings.Contains(res.Errors["path"], fmt.Sprintf("is inside library #%d", l.ID)) {
		t.Fatalf("errors %v", res.Errors)
	}
	moved := t.TempDir()
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/libraries/%d", l2.ID), map[string]any{"path": moved}, admin)).into(t, &l2)
	if l2.Path != moved || !l2.Scanning {
		t.Fatalf("after moving the path: %+v", l2)
	}
	if n := len(mustLibraries(t, e, admin)); n != 2 {
		t.Fatalf("%d libraries", n)
	}
	var page struct {
		List  []libraryItem `json:"list"`
		Total int           `json:"total"`
		Size  int           `json:"size"`
	}
	e.mustOK(e.do("GET", "/api/admin/libraries?page=2&size=1", nil, admin)).into(t, &page)
	if page.Total != 2 || len(page.List) != 1 || page.List[0].ID != l2.ID {
		t.Fatalf("page 2: %+v", page)
	}
	e.wantError(e.do("GET", "/api/admin/libraries?size=x", nil, admin), 400)
	e.wantError(e.do("DELETE", "/api/admin/libraries/999", nil, admin), 404)
}

// anyVideo lets the scanner import every file without ffprobe: this test is
// about what deleting a library removes, not about recognition.
type anyVideo struct{}

func (anyVideo) IsVideo(context.Context, string) (bool, string, error) { return true, "", nil }

func TestDeleteLibraryKeepsOriginals(t *testing.T) {
	e := newTestEnv(t)
	adminID, admin := e.createUser("admin", true)
	ctx := context.Background()
	root := t.TempDir()
	files := map[string]string{"a.mp4": "first", "Sub/b.mkv": "second", "Sub/Deeper/c": "third"}
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(strings.Repeat(content, 1000)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var l libraryItem
	e.mustOK(e.do("POST", "/api/admin/libraries", map[string]any{"path": root}, admin)).into(t, &l)
	lib, err := e.store.LibraryByID(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	sc := &library.Scanner{Store: e.store, Prober: anyVideo{}, Wake: e.fake.Wake, Now: func() time.Time { return clock }}
	if _, err := sc.Scan(ctx, lib, library.Whole); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Minute)
	if res, err := sc.Scan(ctx, lib, library.Whole); err != nil || res.Imported != 3 {
		t.Fatalf("import: %+v %v", res, err)
	}
	got := mustLibraries(t, e, admin)[0]
	if got.VideoCount != 3 || got.MissingCount != 0 {
		t.Fatalf("library after import: %+v", got)
	}
	// An uploaded video outside the library must survive.
	upload, _, err := e.store.CreateVideo(ctx, store.NewVideo{UserID: adminID, Title: "upload", SourcePath: "media/originals/1.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	// One task runs; every video has some output.
	running, err := e.store.ClaimTask(ctx)
	if err != nil || running.VideoID == upload.ID {
		t.Fatalf("claim: %+v %v", running, err)
	}
	var ids []int64
	for _, f := range mustFiles(t, e, l.ID) {
		ids = append(ids, f.VideoID)
		os.MkdirAll(filepath.Join(e.data.HLS(f.VideoID), "720p"), 0o755)
		os.WriteFile(filepath.Join(e.data.HLS(f.VideoID), "index.m3u8"), []byte("#EXTM3U\n"), 0o644)
		os.WriteFile(e.data.Cover(f.VideoID), []byte("jpeg"), 0o644)
	}
	before := treeFingerprint(t, root)

	e.mustOK(e.do("DELETE", fmt.Sprintf("/api/admin/libraries/%d", l.ID), nil, admin))

	if after := treeFingerprint(t, root); after != before {
		t.Fatalf("originals changed:\nbefore %s\nafter  %s", before, after)
	}
	for _, id := range ids {
		if _, err := e.store.VideoByID(ctx, id); err == nil {
			t.Errorf("video %d survived", id)
		}
		for _, p := range []string{e.data.HLS(id), e.data.Cover(id)} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s survived: %v", p, err)
			}
		}
	}
	if _, err := e.store.VideoByID(ctx, upload.ID); err != nil {
		t.Fatalf("the uploaded video went too: %v", err)
	}
	if len(mustFiles(t, e, l.ID)) != 0 {
		t.Fatal("library_files rows survived")
	}
	e.fake.mu.Lock()
	canceled := append([]int64(nil), e.fake.canceled...)
	e.fake.mu.Unlock()
	if len(canceled) != 3 { // one processing, two pending; the upload's untouched
		t.Fatalf("canceled tasks %v, want the library's 3", canceled)
	}
	if n := len(mustLibraries(t, e, admin)); n != 0 {
		t.Fatalf("%d libraries left", n)
	}
	e.wantError(e.do("DELETE", fmt.Sprintf("/api/admin/libraries/%d", l.ID), nil, admin), 404)
}

func mustFiles(t *testing.T, e *testEnv, libraryID int64) []store.LibraryFile {
	t.Helper()
	files, err := e.store.LibraryFiles(context.Background(), libraryID)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// treeFingerprint is every file's path, sha256, size and mtime under root.
func treeFingerprint(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if fi.IsDir() {
			fmt.Fprintf(&b, "%s/ %s\n", rel, fi.ModTime().Format(time.RFC3339Nano))
			return nil
		}
		c, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(c)
		fmt.Fprintf(&b, "%s %s %d %s\n", rel, hex.EncodeToString(sum[:]), fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
