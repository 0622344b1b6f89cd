package library

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"mika/store"
)

// eventually polls cond until it holds, or fails the test after 30 s: it
// returns as soon as cond holds, so the bound only has to be generous enough
// for a loaded machine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startService(t *testing.T, e *testLib, wakes *atomic.Int64, maxFolders ...int) *Service {
	t.Helper()
	s := New(Config{Store: e.st, Prober: anyVideo{}, Wake: func() { wakes.Add(1) },
		StableFor: 300 * time.Millisecond, Poll: 50 * time.Millisecond, Debounce: 100 * time.Millisecond})
	if len(maxFolders) > 0 {
		s.cfg.MaxWatchedFolders = maxFolders[0]
	}
	s.Start(context.Background())
	t.Cleanup(s.Shutdown)
	return s
}

// scanAndWait asks for a full scan and waits until a full scan that began
// after the request has ended. A worker may decide on a periodic scan from
// a row read before its previous scan ended (and so still "due"); once a
// scan started after the request is over, any such scan is over too, and
// the rows the worker reads next are the ones written before the request.
func scanAndWait(t *testing.T, e *testLib) {
	t.Helper()
	ctx := context.Background()
	// Refused (409) while a full scan runs: asked again until taken.
	eventually(t, "a scan request to be taken", func() bool { return e.st.RequestLibraryScan(ctx, e.lib.ID) == nil })
	eventually(t, "the requested scan to end", func() bool {
		l, err := e.st.LibraryByID(ctx, e.lib.ID)
		return err == nil && l.ScanRequestedAt == 0 && !l.Scanning
	})
}

// TestServiceWatchesLibrary runs the whole service with a real watcher:
// files added, added in a new folder, renamed and removed between scans
// are seen without any scan being asked for.
func TestServiceWatchesLibrary(t *testing.T) {
	e := newTestLib(t)
	e.write("first.mp4", "one")
	var wakes atomic.Int64
	s := startService(t, e, &wakes)
	ctx := context.Background()

	videoOf := func(rel string) func() bool {
		return func() bool {
			return e.count("SELECT COUNT(*) FROM library_files WHERE rel_path = ? AND state = 'imported'", rel) == 1
		}
	}
	eventually(t, "the first scan to import first.mp4", videoOf("first.mp4"))
	eventually(t, "the watcher to be active", func() bool {
		l, err := e.st.LibraryByID(ctx, e.lib.ID)
		return err == nil && l.Watching && !l.Scanning && l.LastScanAt > 0
	})

	e.write("later.mp4", "two")
	eventually(t, "a file added later to be imported", videoOf("later.mp4"))
	// A file written into a folder the watcher has not added yet is still
	// seen: the new folder is rescanned once it is watched.
	if err := os.MkdirAll(filepath.Join(e.root, "New", "Deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("New/Deeper/nested.mp4", "three")
	eventually(t, "a file in a new folder to be imported", videoOf("New/Deeper/nested.mp4"))

	id := e.file("later.mp4").VideoID
	if err := os.Rename(e.path("later.mp4"), e.path("New/renamed.mp4")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rename to be followed", func() bool {
		v, err := e.st.VideoByID(ctx, id)
		return err == nil && v.SourcePath == filepath.Join(e.root, "New", "renamed.mp4") && !v.Missing
	})
	gone := e.file("first.mp4").VideoID
	if err := os.Remove(e.path("first.mp4")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removal to mark the video missing", func() bool {
		v, err := e.st.VideoByID(ctx, gone)
		return err == nil && v.Missing
	})
	// A whole folder renamed: its videos follow, and the new folder is watched.
	nested := e.file("New/Deeper/nested.mp4").VideoID
	if err := os.Rename(e.path("New/Deeper"), e.path("Renamed")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the folder rename to be followed", func() bool {
		v, err := e.st.VideoByID(ctx, nested)
		return err == nil && v.SourcePath == filepath.Join(e.root, "Renamed", "nested.mp4") && !v.Missing
	})
	e.write("Renamed/fourth.mp4", "four")
	eventually(t, "a file in the renamed folder to be imported", videoOf("Renamed/fourth.mp4"))

	if n := e.count("SELECT COUNT(*) FROM videos"); n != 4 || wakes.Load() != 4 {
		t.Fatalf("%d videos and %d wakes, want 4 and 4", n, wakes.Load())
	}

	// Deleting the library stops its worker.
	if _, err := e.st.DeleteLibrary(ctx, e.lib.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the worker to stop", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.workers) == 0
	})
}

// TestServiceScanRequestsAndPeriodicScans: "scan now" through the row, and
// the periodic scan when the interval has passed.
func TestServiceScanRequestsAndPeriodicScans(t *testing.T) {
	e := newTestLib(t)
	var wakes atomic.Int64
	startService(t, e, &wakes)
	ctx := context.Background()
	lib := func() *store.Library {
		l, err := e.st.LibraryByID(ctx, e.lib.ID)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	eventually(t, "the first scan", func() bool { l := lib(); return l.LastScanAt > 0 && !l.Scanning })
	// A scan decided on a row read during the first one (last_scan_at 0,
	// so due) would end later and pass for the periodic scan below.
	scanAndWait(t, e)

	// Mark the last scan long ago: a periodic scan follows.
	e.exec("UPDATE libraries SET last_scan_at = 1, scan_interval_minutes = 1")
	eventually(t, "a periodic scan", func() bool { return lib().LastScanAt > 1 })

	// No periodic scans: only a request starts one. Periodic scans go off
	// first, and the scans decided before that are waited out, so that
	// none ends after last_scan_at is set back below.
	e.exec("UPDATE libraries SET scan_interval_minutes = 0")
	scanAndWait(t, e)
	e.exec("UPDATE libraries SET last_scan_at = 1")
	time.Sleep(300 * time.Millisecond)
	if l := lib(); l.LastScanAt != 1 {
		t.Fatalf("scanned with periodic scans off: last_scan_at %d", l.LastScanAt)
	}
	if err := e.st.RequestLibraryScan(ctx, e.lib.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the requested scan", func() bool { l := lib(); return l.LastScanAt > 1 && l.ScanRequestedAt == 0 })

	// A library whose folder disappeared reports it, and marks nothing missing.
	e.write("v.mp4", "x")
	if err := e.st.RequestLibraryScan(ctx, e.lib.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "v.mp4 imported", func() bool { return e.count("SELECT COUNT(*) FROM videos") == 1 })
	if err := os.RemoveAll(e.root + ".gone"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(e.root, e.root+".gone"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a quiet moment", func() bool { return e.st.RequestLibraryScan(ctx, e.lib.ID) == nil })
	eventually(t, "the failed scan's message", func() bool {
		l := lib()
		return l.LastError == "the library folder does not exist (is the share mounted?)" && !l.Scanning
	})
	if n := e.count("SELECT COUNT(*) FROM videos WHERE missing = 1"); n != 0 {
		t.Fatalf("%d videos missing after a scan of an absent folder", n)
	}

	// The share comes back as a new folder (a remount): the next scan finds
	// its files, and the watcher follows the new folder.
	if err := os.Mkdir(e.root, 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("v.mp4", "x")
	if err := e.st.RequestLibraryScan(ctx, e.lib.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the scan of the remounted folder", func() bool { l := lib(); return l.LastError == "" && l.LastScanAt > 1 })
	eventually(t, "v.mp4 imported again", func() bool {
		return e.count("SELECT COUNT(*) FROM library_files WHERE state = 'pending'") == 0 &&
			e.count("SELECT COUNT(*) FROM library_files WHERE rel_path = 'v.mp4' AND state = 'imported'") == 1
	})
	e.write("after-remount.mp4", "y")
	eventually(t, "the watcher on the remounted folder", func() bool {
		return e.count("SELECT COUNT(*) FROM library_files WHERE rel_path = 'after-remount.mp4' AND state = 'imported'") == 1
	})
}

// TestServiceFallsBackToPeriodicScans: a library that cannot be watched
// (here: more folders than the cap) says so, and its periodic scans still
// see changes.
func TestServiceFallsBackToPeriodicScans(t *testing.T) {
	e := newTestLib(t)
	e.write("a/one.mp4", "one")
	e.write("b/two.mp4", "two")
	var wakes atomic.Int64
	startService(t, e, &wakes, 2) // root, a, b: one too many
	ctx := context.Background()
	eventually(t, "both files imported", func() bool {
		return e.count("SELECT COUNT(*) FROM library_files WHERE state = 'imported'") == 2
	})
	l, err := e.st.LibraryByID(ctx, e.lib.ID)
	if err != nil || l.Watching {
		t.Fatalf("library %+v %v: want watching false", l, err)
	}
	// A full scan decided on a row read during the first scan (last_scan_at
	// 0, so due) would see the new file: wait such scans out first.
	scanAndWait(t, e)
	e.write("c/three.mp4", "three")
	time.Sleep(500 * time.Millisecond)
	if n := e.count("SELECT COUNT(*) FROM library_files WHERE rel_path = 'c/three.mp4'"); n != 0 {
		t.Fatal("an unwatched library saw a change without a scan")
	}
	e.exec("UPDATE libraries SET last_scan_at = 1, scan_interval_minutes = 1")
	eventually(t, "the periodic scan to import the new file", func() bool {
		return e.count("SELECT COUNT(*) FROM library_files WHERE rel_path = 'c/three.mp4' AND state = 'imported'") == 1
	})
}

// brokenProber fails like a missing ffprobe until fixed.
type brokenProber struct{ fixed atomic.Bool }

func (p *brokenProber) IsVideo(context.Context, string) (bool, string, error) {
	if !p.fixed.Load() {
		return false, "", errors.New(`exec: "ffprobe": executable file not found in $PATH`)
	}
	return true, "", nil
}

// TestServiceShowsProbeErrors: files that cannot be probed wait, the
// library says why, and they are imported once probing works.
func TestServiceShowsProbeErrors(t *testing.T) {
	e := newTestLib(t)
	e.write("a.mp4", "a")
	p := &brokenProber{}
	s := New(Config{Store: e.st, Prober: p, StableFor: 200 * time.Millisecond, Poll: 50 * time.Millisecond,
		Debounce: 50 * time.Millisecond})
	s.Start(context.Background())
	t.Cleanup(s.Shutdown)
	lastError := func() string {
		l, err := e.st.LibraryByID(context.Background(), e.lib.ID)
		if err != nil {
			t.Fatal(err)
		}
		return l.LastError
	}
	eventually(t, "the probe error to show", func() bool { return lastError() == "1"+probeErrorSuffix })
	if e.file("a.mp4").State != store.FilePending {
		t.Fatal("a file that could not be probed is not waiting")
	}
	p.fixed.Store(true)
	eventually(t, "the import once ffprobe works", func() bool {
		return e.file("a.mp4").State == store.FileImported && lastError() == ""
	})
}

// scanCounter counts the "library scanned" lines of a logger.
type scanCounter struct{ n *atomic.Int64 }

func (c scanCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c scanCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c scanCounter) WithGroup(string) slog.Handler            { return c }
func (c scanCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "library scanned" {
		c.n.Add(1)
	}
	return nil
}

// TestServiceStaleRowStartsNoSecondScan: a worker handed a row read before
// its scan ended (the periodic scan still looking due, as the service's
// reconcile does during a long scan) does not scan the whole library again.
func TestServiceStaleRowStartsNoSecondScan(t *testing.T) {
	e := newTestLib(t)
	e.write("a.mp4", "a")
	var scans atomic.Int64
	s := New(Config{Store: e.st, Prober: anyVideo{}, Log: slog.New(scanCounter{&scans}),
		Poll: time.Hour, StableFor: time.Hour, Debounce: time.Hour}) // reconcile once, at start
	s.Start(context.Background())
	t.Cleanup(s.Shutdown)
	eventually(t, "the first scan", func() bool { return scans.Load() == 1 })
	s.mu.Lock()
	w := s.workers[e.lib.ID]
	s.mu.Unlock()
	// The row as reconcile reads it during the first scan: the request
	// taken, last_scan_at still 0, so due with a 720-minute interval.
	stale := *e.lib
	stale.ScanRequestedAt, stale.Scanning = 0, true
	if stale.LastScanAt != 0 || stale.ScanIntervalMinutes == 0 {
		t.Fatalf("the row as created is not due: %+v", stale)
	}
	// rows holds one: the third send returns only once the worker has
	// taken the second, so it is done with the first (and any scan it began).
	for range 3 {
		w.rows <- stale
	}
	if n := scans.Load(); n != 1 {
		t.Fatalf("%d full scans, want 1: a stale row started another", n)
	}
}
