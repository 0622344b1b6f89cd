package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// importFile creates a video for rel in the library the way the scanner does.
func importFile(t *testing.T, s *Store, l *Library, rel string) int64 {
	t.Helper()
	ctx := context.Background()
	if err := s.ApplyLibraryFiles(ctx, l.ID, []LibraryFileChange{{Op: FileAdd,
		File: LibraryFile{RelPath: rel, Size: 10, MTime: 1, FirstSeenAt: 1, StableSince: 1, State: FilePending}}}); err != nil {
		t.Fatal(err)
	}
	v, _, err := s.CreateVideo(ctx, NewVideo{UserID: 1, Title: rel, SourcePath: filepath.Join(l.Path, rel), LibraryID: l.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LinkLibraryFile(ctx, l.ID, rel, "hash", v.ID); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

func TestLibraryScanRequests(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if err := s.RequestLibraryScan(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown library: %v", err)
	}
	l, err := s.CreateLibrary(ctx, NewLibrary{Path: "/mnt/a", ScanIntervalMinutes: 720, CreatedBy: 1})
	if err != nil {
		t.Fatal(err)
	}
	if l.ScanRequestedAt == 0 {
		t.Fatal("a new library has no scan requested")
	}
	if _, err := s.CreateLibrary(ctx, NewLibrary{Path: "/mnt/a", CreatedBy: 1}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate path: %v", err)
	}
	if err := s.RequestLibraryScan(ctx, l.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("request while one waits: %v", err)
	}
	if err := s.BeginLibraryScan(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestLibraryScan(ctx, l.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("request while one runs: %v", err)
	}
	if err := s.EndLibraryScan(ctx, l.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestLibraryScan(ctx, l.ID); err != nil {
		t.Fatalf("request after the scan: %v", err)
	}
	// A crash mid-scan leaves scanning set; the next start clears it.
	s.BeginLibraryScan(ctx, l.ID)
	s.SetLibraryWatching(ctx, l.ID, true)
	if err := s.ResetLibraryScans(ctx); err != nil {
		t.Fatal(err)
	}
	if l, _ = s.LibraryByID(ctx, l.ID); l.Scanning || l.Watching {
		t.Fatalf("after reset: %+v", l)
	}
}

func TestUpdateLibraryPathMovesSources(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	l, _ := s.CreateLibrary(ctx, NewLibrary{Path: "/mnt/old", ScanIntervalMinutes: 720, CreatedBy: 1})
	other, _ := s.CreateLibrary(ctx, NewLibrary{Path: "/mnt/other", ScanIntervalMinutes: 720, CreatedBy: 1})
	a := importFile(t, s, l, "Films/a.mkv")
	b := importFile(t, s, other, "b.mkv")
	s.BeginLibraryScan(ctx, l.ID)
	s.EndLibraryScan(ctx, l.ID, "")

	if _, err := s.UpdateLibrary(ctx, l.ID, LibraryUpdate{Path: "/mnt/other"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("path of another library: %v", err)
	}
	if _, err := s.UpdateLibrary(ctx, 99, LibraryUpdate{Path: "/x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown library: %v", err)
	}
	got, err := s.UpdateLibrary(ctx, l.ID, LibraryUpdate{Path: "/mnt/new", CategoryID: 3, ScanIntervalMinutes: 0})
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != "/mnt/new" || got.CategoryID != 3 || got.ScanIntervalMinutes != 0 || got.ScanRequestedAt == 0 {
		t.Fatalf("updated %+v", got)
	}
	if v, _ := s.VideoByID(ctx, a); v.SourcePath != "/mnt/new/Films/a.mkv" {
		t.Fatalf("source path %q", v.SourcePath)
	}
	if v, _ := s.VideoByID(ctx, b); v.SourcePath != "/mnt/other/b.mkv" {
		t.Fatalf("other library's video moved to %q", v.SourcePath)
	}
	// The same path again requests nothing.
	s.BeginLibraryScan(ctx, l.ID)
	s.EndLibraryScan(ctx, l.ID, "")
	if got, _ = s.UpdateLibrary(ctx, l.ID, LibraryUpdate{Path: "/mnt/new", CategoryID: 3}); got.ScanRequestedAt != 0 {
		t.Fatal("an unchanged path requested a scan")
	}
}

func TestDeleteLibraryRows(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	l, _ := s.CreateLibrary(ctx, NewLibrary{Path: "/mnt/a", CreatedBy: 1})
	other, _ := s.CreateLibrary(ctx, NewLibrary{Path: "/mnt/b", CreatedBy: 1})
	a1 := importFile(t, s, l, "1.mkv")
	a2 := importFile(t, s, l, "2.mkv")
	keep := importFile(t, s, other, "3.mkv")
	upload, _, _ := s.CreateVideo(ctx, NewVideo{UserID: 1, Title: "upload", SourcePath: "media/originals/9.mp4"})
	claimed, err := s.ClaimTask(ctx)
	if err != nil || claimed.VideoID != a1 {
		t.Fatalf("claim: %+v %v", claimed, err)
	}

	d, err := s.DeleteLibrary(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.VideoIDs) != 2 || d.VideoIDs[0] != a1 || d.VideoIDs[1] != a2 || len(d.ActiveTaskIDs) != 2 {
		t.Fatalf("deleted %+v", d)
	}
	for _, id := range []int64{a1, a2} {
		if _, err := s.VideoByID(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("video %d: %v", id, err)
		}
	}
	for _, id := range []int64{keep, upload.ID} {
		if _, err := s.VideoByID(ctx, id); err != nil {
			t.Fatalf("video %d of elsewhere went: %v", id, err)
		}
	}
	if files, _ := s.LibraryFiles(ctx, l.ID); len(files) != 0 {
		t.Fatalf("%d file rows left", len(files))
	}
	if files, _ := s.LibraryFiles(ctx, other.ID); len(files) != 1 {
		t.Fatalf("other library has %d file rows", len(files))
	}
	if _, err := s.DeleteLibrary(ctx, l.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// Writes for a deleted library are dropped, and a link fails so the
	// scanner removes the video it just made.
	if err := s.ApplyLibraryFiles(ctx, l.ID, []LibraryFileChange{{Op: FileAdd, File: LibraryFile{RelPath: "x", State: FilePending}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.LinkLibraryFile(ctx, l.ID, "x", "h", 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("link in a deleted library: %v", err)
	}
}

func TestLibraryCounts(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	l, _ := s.CreateLibrary(ctx, NewLibrary{Path: "/mnt/a", CreatedBy: 1})
	importFile(t, s, l, "1.mkv")
	importFile(t, s, l, "2.mkv")
	if err := s.ApplyLibraryFiles(ctx, l.ID, []LibraryFileChange{{Op: FileMarkMissing,
		File: LibraryFile{RelPath: "2.mkv", VideoID: 2}}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Libraries(ctx)
	if err != nil || len(list) != 1 || list[0].VideoCount != 2 || list[0].MissingCount != 1 {
		t.Fatalf("libraries %+v %v", list, err)
	}
	if err := s.ApplyLibraryFiles(ctx, l.ID, []LibraryFileChange{{Op: FileRestore,
		File: LibraryFile{RelPath: "2.mkv", VideoID: 2, Size: 10}}}); err != nil {
		t.Fatal(err)
	}
	if l, _ = s.LibraryByID(ctx, l.ID); l.MissingCount != 0 {
		t.Fatalf("after restore: %+v", l)
	}
}
