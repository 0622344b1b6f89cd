package library

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mika/store"
)

// testLib is a store over a fresh temporary data folder with the real
// migrations, an admin, and a library folder.
type testLib struct {
	t     testing.TB
	st    *store.Store
	db    *sql.DB // a side connection for fixtures the store has no method for
	admin int64
	root  string
	lib   *store.Library
}

func migrationsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "migrations")
}

func newTestLib(t testing.TB) *testLib {
	t.Helper()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "mika.db")
	st, err := store.Open(context.Background(), dbPath, os.DirFS(migrationsDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	u, err := st.CreateUser(context.Background(), store.NewUser{Username: "admin", PasswordHash: "x", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "library")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	lib, err := st.CreateLibrary(context.Background(), store.NewLibrary{Path: root, ScanIntervalMinutes: 720, CreatedBy: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	return &testLib{t: t, st: st, db: db, admin: u.ID, root: root, lib: lib}
}

// category inserts a category and returns its id.
func (e *testLib) category(name string) int64 {
	e.t.Helper()
	res, err := e.db.Exec("INSERT INTO categories(name, created_at, updated_at) VALUES (?, 1, 1)", name)
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

// exec runs a fixture statement.
func (e *testLib) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.db.Exec(q, args...); err != nil {
		e.t.Fatal(err)
	}
}

// count runs a COUNT query.
func (e *testLib) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// file returns the row of rel.
func (e *testLib) file(rel string) store.LibraryFile {
	e.t.Helper()
	rows, err := e.st.LibraryFiles(context.Background(), e.lib.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rows {
		if r.RelPath == rel {
			return r
		}
	}
	e.t.Fatalf("no library_files row for %q", rel)
	return store.LibraryFile{}
}

// path is rel under the library folder, with its folder created.
func (e *testLib) path(rel string) string {
	p := filepath.Join(e.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// put copies src to rel in the library.
func (e *testLib) put(src, rel string) string {
	e.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		e.t.Fatal(err)
	}
	p := e.path(rel)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// write creates rel in the library with this content.
func (e *testLib) write(rel, content string) string {
	e.t.Helper()
	p := e.path(rel)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// fakeClock is a settable clock for the scanner.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingProber counts the files it is asked about.
type countingProber struct {
	Prober
	n atomic.Int64
}

func (p *countingProber) IsVideo(ctx context.Context, path string) (bool, string, error) {
	p.n.Add(1)
	return p.Prober.IsVideo(ctx, path)
}

// anyVideo says every file is a video, for tests about bookkeeping.
type anyVideo struct{}

func (anyVideo) IsVideo(context.Context, string) (bool, string, error) { return true, "", nil }

func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed", b)
		}
	}
}

var (
	clipsOnce sync.Once
	clipsDir  string
	clipsErr  error
)

// clips returns n distinct one-second 160x90 clips (made once per test
// binary with lavfi; the comment metadata makes each one's bytes differ).
// Even ones are MP4, odd ones Matroska.
func clips(t *testing.T) []string {
	t.Helper()
	needFFmpeg(t)
	const n = 4
	clipsOnce.Do(func() {
		clipsDir, clipsErr = os.MkdirTemp("", "mika-library-clips-")
		for i := 0; i < n && clipsErr == nil; i++ {
			ext := ".mp4"
			if i%2 == 1 {
				ext = ".mkv"
			}
			out := filepath.Join(clipsDir, fmt.Sprintf("clip%d%s", i, ext))
			b, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi",
				"-i", "testsrc2=size=160x90:rate=10:duration=1", "-c:v", "libx264", "-preset", "ultrafast",
				"-pix_fmt", "yuv420p", "-metadata", fmt.Sprintf("comment=clip %d", i), out).CombinedOutput()
			if err != nil {
				clipsErr = fmt.Errorf("make clip: %v\n%s", err, b)
			}
		}
	})
	if clipsErr != nil {
		t.Fatal(clipsErr)
	}
	out := make([]string, n)
	for i := range out {
		ext := ".mp4"
		if i%2 == 1 {
			ext = ".mkv"
		}
		out[i] = filepath.Join(clipsDir, fmt.Sprintf("clip%d%s", i, ext))
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if clipsDir != "" {
		os.RemoveAll(clipsDir)
	}
	os.Exit(code)
}

// fingerprint is a file's content hash and mtime.
type fingerprint struct {
	sum   string
	mtime time.Time
}

// fingerprints records every regular file under root.
func fingerprints(t *testing.T, root string) map[string]fingerprint {
	t.Helper()
	out := map[string]fingerprint{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = fingerprint{hex.EncodeToString(h.Sum(nil)), fi.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
