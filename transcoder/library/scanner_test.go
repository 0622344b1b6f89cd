package library

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mika/store"
)

func TestScanUnreadableRootChangesNothing(t *testing.T) {
	e := newTestLib(t)
	e.write("a.mp4", "video")
	sc := &Scanner{Store: e.st, Prober: anyVideo{}, StableFor: time.Nanosecond}
	ctx := context.Background()
	if _, err := sc.Scan(ctx, e.lib, Whole); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if res, err := sc.Scan(ctx, e.lib, Whole); err != nil || res.Imported != 1 {
		t.Fatalf("second scan: %+v %v", res, err)
	}
	// An unmounted share: the folder is gone. Nothing may be marked missing.
	if err := os.Rename(e.root, e.root+".away"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Scan(ctx, e.lib, Whole); err == nil {
		t.Fatal("scan of a missing folder succeeded")
	}
	if n := e.count("SELECT COUNT(*) FROM videos WHERE missing = 1"); n != 0 {
		t.Fatalf("%d videos marked missing after a failed scan", n)
	}
	if got := e.file("a.mp4").State; got != store.FileImported {
		t.Fatalf("state %q after a failed scan", got)
	}
}

func TestScanSkipsHiddenAndBookkeepingFolders(t *testing.T) {
	e := newTestLib(t)
	for _, rel := range []string{".hidden.mp4", ".git/x.mp4", "@eaDir/a.mp4/SYNOVIDEO.jpg", "#recycle/old.mp4", "ok/v.mp4"} {
		e.write(rel, "video")
	}
	if err := os.Symlink(e.root, filepath.Join(e.root, "ok", "loop")); err != nil {
		t.Fatal(err)
	}
	sc := &Scanner{Store: e.st, Prober: anyVideo{}}
	res, err := sc.Scan(context.Background(), e.lib, Whole)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 1 {
		t.Fatalf("found %d files, want only ok/v.mp4", res.Files)
	}
	e.file("ok/v.mp4")
}

// TestScanLibrary is the life of a library folder with real clips: first
// sight, import after the stable window, a file still being written, a
// fake video, categories from sub-folders, a rename, a move, a removal and
// a return — and the originals never change.
func TestScanLibrary(t *testing.T) {
	c := clips(t)
	e := newTestLib(t)
	ctx := context.Background()
	cartoons := e.category("cartoons")
	deep := e.category("Deep")
	libCat := e.category("Films")
	e.exec("UPDATE libraries SET category_id = ? WHERE id = ?", libCat, e.lib.ID)
	e.lib.CategoryID = libCat

	e.put(c[0], "a.mp4")
	e.put(c[1], "Movie.Name.2019.1080p.BluRay.x264-YTS.mkv")
	e.put(c[3], "noext") // Matroska without an extension: still a video
	e.put(c[2], "Cartoons/kids.mp4")
	if err := os.WriteFile(e.path("fake.mp4"), []byte(strings.Repeat("not a video\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Cartoons/Deep: the nearest folder named like a category wins.
	e.put(c[0], "Cartoons/Deep/inner.mp4")
	// A copy in progress: half of a clip now, the rest later.
	whole, err := os.ReadFile(c[1])
	if err != nil {
		t.Fatal(err)
	}
	growing := e.path("Other/growing.mkv")
	if err := os.WriteFile(growing, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	// inner.mp4 has the bytes of a.mp4 on purpose: a copy is a new video.
	before := fingerprints(t, e.root)

	clock := &fakeClock{t: time.Now()}
	prober := &countingProber{Prober: FFprobe{Path: "ffprobe"}}
	var wakes atomic.Int64
	sc := &Scanner{Store: e.st, Prober: prober, Now: clock.Now, Wake: func() { wakes.Add(1) }}
	scan := func(scopes []Scope) Result {
		t.Helper()
		res, err := sc.Scan(ctx, e.lib, scopes)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	videos := func() int { return e.count("SELECT COUNT(*) FROM videos WHERE library_id = ?", e.lib.ID) }

	// First sight: everything pending, nothing probed.
	if res := scan(Whole); res.Files != 7 || res.Pending != 7 || res.Imported != 0 {
		t.Fatalf("first scan: %+v", res)
	}
	if prober.n.Load() != 0 || videos() != 0 {
		t.Fatalf("first scan probed %d files, made %d videos", prober.n.Load(), videos())
	}

	// The copy goes on; 61 s later the rest is stable.
	f, err := os.OpenFile(growing, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(whole[len(whole)/2 : len(whole)*3/4])
	f.Close()
	clock.Add(61 * time.Second)
	res := scan(Whole)
	if res.Imported != 5 || res.Skipped != 1 || res.Pending != 1 {
		t.Fatalf("scan after the window: %+v", res)
	}
	if wakes.Load() != 5 {
		t.Fatalf("pool woken %d times, want 5", wakes.Load())
	}
	if n := e.count("SELECT COUNT(*) FROM tasks t JOIN videos v ON v.id = t.video_id WHERE v.library_id = ? AND t.status = 'pending'", e.lib.ID); n != 5 {
		t.Fatalf("%d pending tasks, want 5", n)
	}
	fake := e.file("fake.mp4")
	if fake.State != store.FileSkipped || fake.Reason == "" || fake.VideoID != 0 {
		t.Fatalf("fake.mp4: %+v", fake)
	}
	if g := e.file("Other/growing.mkv"); g.State != store.FilePending {
		t.Fatalf("growing file %q, want pending", g.State)
	}
	wantVideos := []struct {
		rel, title string
		category   int64
	}{
		{"a.mp4", "a", libCat},
		{"Movie.Name.2019.1080p.BluRay.x264-YTS.mkv", "Movie Name (2019)", libCat},
		{"noext", "noext", libCat},
		{"Cartoons/kids.mp4", "kids", cartoons},
		{"Cartoons/Deep/inner.mp4", "inner", deep},
	}
	ids := map[string]int64{}
	for _, w := range wantVideos {
		row := e.file(w.rel)
		if row.State != store.FileImported || row.VideoID == 0 || row.HeadTailHash == "" {
			t.Fatalf("%s: %+v", w.rel, row)
		}
		v, err := e.st.VideoByID(ctx, row.VideoID)
		if err != nil {
			t.Fatal(err)
		}
		abs := filepath.Join(e.root, filepath.FromSlash(w.rel))
		if v.Title != w.title || v.CategoryID != w.category || v.SourcePath != abs || v.LibraryID != e.lib.ID ||
			v.UserID != e.admin || v.Status != store.VideoProcessing || v.Missing || v.FileSize == 0 {
			t.Errorf("%s: video %+v", w.rel, v)
		}
		ids[w.rel] = v.ID
	}

	// Right after: the growing file changed less than 60 s ago; nothing twice.
	probed := prober.n.Load()
	clock.Add(time.Second)
	if res := scan(Whole); res.Imported != 0 || res.Skipped != 0 {
		t.Fatalf("rescan imported again: %+v", res)
	}
	if prober.n.Load() != probed || videos() != 5 {
		t.Fatalf("rescan probed %d more files; %d videos", prober.n.Load()-probed, videos())
	}
	// The copy finishes; a minute later it is imported.
	if err := os.WriteFile(growing, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	scan(Whole)
	clock.Add(61 * time.Second)
	if res := scan(Whole); res.Imported != 1 || videos() != 6 {
		t.Fatalf("finished copy: %+v, %d videos", res, videos())
	}
	before["Other/growing.mkv"] = fingerprints(t, e.root)["Other/growing.mkv"]
	tasks := e.count("SELECT COUNT(*) FROM tasks")

	// Rename, move to another sub-folder, remove.
	mv := func(from, to string) {
		t.Helper()
		if err := os.Rename(e.path(from), e.path(to)); err != nil {
			t.Fatal(err)
		}
		before[to] = before[from]
		delete(before, from)
	}
	mv("a.mp4", "A renamed.mp4")
	mv("Cartoons/kids.mp4", "Other/kids.mp4")
	noext, _ := os.ReadFile(e.path("noext"))
	if err := os.Remove(e.path("noext")); err != nil {
		t.Fatal(err)
	}
	probed = prober.n.Load()
	clock.Add(time.Second)
	if res := scan(Whole); res.Moved != 2 || res.Missing != 1 || res.Imported != 0 {
		t.Fatalf("after rename, move, removal: %+v", res)
	}
	if prober.n.Load() != probed || videos() != 6 || e.count("SELECT COUNT(*) FROM tasks") != tasks {
		t.Fatal("a move probed, imported or queued something")
	}
	for rel, id := range map[string]int64{"A renamed.mp4": ids["a.mp4"], "Other/kids.mp4": ids["Cartoons/kids.mp4"]} {
		row := e.file(rel)
		v, _ := e.st.VideoByID(ctx, id)
		if row.VideoID != id || row.State != store.FileImported || v.SourcePath != filepath.Join(e.root, filepath.FromSlash(rel)) || v.Missing {
			t.Errorf("%s: row %+v video %+v", rel, row, v)
		}
	}
	if v, _ := e.st.VideoByID(ctx, ids["noext"]); !v.Missing {
		t.Fatal("removed file's video is not missing")
	}
	if e.file("noext").State != store.FileMissing {
		t.Fatal("removed file's row is not missing")
	}

	// It comes back: the same video, no longer missing.
	if err := os.WriteFile(e.path("noext"), noext, 0o644); err != nil {
		t.Fatal(err)
	}
	before["noext"] = fingerprints(t, e.root)["noext"]
	if res := scan(Whole); res.Restored != 1 {
		t.Fatalf("return: %+v", res)
	}
	if v, _ := e.st.VideoByID(ctx, ids["noext"]); v.Missing {
		t.Fatal("returned file's video still missing")
	}

	// A move seen by two light rescans (the watcher's way): the source folder
	// first marks it missing, the destination folder then finds it.
	mv("Cartoons/Deep/inner.mp4", "Other/inner.mp4")
	if res := scan([]Scope{{Dir: "Cartoons/Deep"}}); res.Missing != 1 {
		t.Fatalf("light scan of the source: %+v", res)
	}
	if res := scan([]Scope{{Dir: "Other"}}); res.Moved != 1 || res.Pending != 0 {
		t.Fatalf("light scan of the destination: %+v", res)
	}
	if v, _ := e.st.VideoByID(ctx, ids["Cartoons/Deep/inner.mp4"]); v.Missing || !strings.HasSuffix(v.SourcePath, "Other/inner.mp4") {
		t.Fatalf("moved video: %+v", v)
	}

	// A removed folder: everything below it is missing, nothing deleted.
	mv("Other/kids.mp4", "Gone/kids.mp4")
	if res := scan(Whole); res.Moved != 1 {
		t.Fatalf("move into Gone: %+v", res)
	}
	if err := os.Rename(e.path("Gone"), filepath.Join(t.TempDir(), "gone")); err != nil {
		t.Fatal(err)
	}
	delete(before, "Gone/kids.mp4")
	if res := scan([]Scope{{Dir: ""}, {Dir: "Gone", Recursive: true}}); res.Missing != 1 {
		t.Fatalf("removed folder: %+v", res)
	}
	if videos() != 6 {
		t.Fatalf("%d videos after removals, want 6 (nothing deleted)", videos())
	}

	// The originals are byte-identical with the same mtimes.
	after := fingerprints(t, e.root)
	for rel, fp := range before {
		if got, ok := after[rel]; !ok || got.sum != fp.sum || !got.mtime.Equal(fp.mtime) {
			t.Errorf("%s changed: %+v -> %+v", rel, fp, got)
		}
	}
}

func TestCategoryFor(t *testing.T) {
	cats := []*store.Category{{ID: 1, Name: "Movies"}, {ID: 3, Name: "kids"}, {ID: 2, Name: "Kids"}, {ID: 4, Name: "动画"}, {ID: 9, Name: "Library"}}
	tests := []struct {
		rel  string
		want int64
	}{
		{"a.mp4", 9},
		{"Movies/a.mp4", 1},
		{"movies/KIDS/a.mp4", 2},
		{"Kids/Other/a.mp4", 2},
		{"Other/Kids.mp4", 9},
		{"动画/a.mp4", 4},
	}
	for _, tt := range tests {
		if got := categoryFor(9, tt.rel, cats); got != tt.want {
			t.Errorf("categoryFor(%q) = %d, want %d", tt.rel, got, tt.want)
		}
	}
	// The library's category was deleted: none rather than a dangling id.
	if got := categoryFor(7, "a.mp4", cats); got != 0 {
		t.Errorf("deleted library category gave %d", got)
	}
	if got := categoryFor(0, "Movies/a.mp4", nil); got != 0 {
		t.Errorf("no categories gave %d", got)
	}
}

func TestHeadTailHash(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := make([]byte, 3*mib)
	for i := range big {
		big[i] = byte(i % 251)
	}
	middle := append([]byte(nil), big...)
	middle[len(middle)/2] ^= 0xff // outside both MiB: same hash, by design
	tail := append([]byte(nil), big...)
	tail[len(tail)-1] ^= 0xff
	hash := func(p string) string {
		fi, _ := os.Stat(p)
		h, err := headTailHash(p, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b, c := hash(write("a", big)), hash(write("b", middle)), hash(write("c", tail))
	if a != b || a == c {
		t.Fatalf("hashes: big %s middle %s tail %s", a, b, c)
	}
	if hash(write("small", []byte("x"))) == hash(write("small2", []byte("y"))) {
		t.Fatal("small files collide")
	}
}

func TestFFprobeIsVideo(t *testing.T) {
	c := clips(t)
	dir := t.TempDir()
	text := strings.Repeat("Release notes, not a video.\n", 50)
	make := func(name string, args ...string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if len(args) == 0 {
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		if b, err := exec.Command("ffmpeg", append(append([]string{"-v", "error", "-y"}, args...), p)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		return p
	}
	noExt := filepath.Join(dir, "matroska")
	b, _ := os.ReadFile(c[1])
	os.WriteFile(noExt, b, 0o644)
	tests := []struct {
		path string
		want bool
	}{
		{make("fake.mp4"), false},
		{make("release.nfo"), false},
		{make("readme.txt"), false},
		{make("photo.jpg", "-f", "lavfi", "-i", "testsrc2=size=160x90", "-frames:v", "1"), false},
		{make("sound.m4a", "-f", "lavfi", "-i", "sine=duration=1"), false},
		{c[0], true},
		{c[1], true},
		{noExt, true},
	}
	p := FFprobe{Path: "ffprobe"}
	for _, tt := range tests {
		ok, reason, err := p.IsVideo(context.Background(), tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		if ok != tt.want || (!ok && reason == "") {
			t.Errorf("%s: ok=%v reason=%q, want ok=%v with a reason when not", filepath.Base(tt.path), ok, reason, tt.want)
		}
	}
	if _, _, err := (FFprobe{Path: filepath.Join(dir, "no-ffprobe")}).IsVideo(context.Background(), c[0]); err == nil {
		t.Fatal("a missing ffprobe is not an error")
	}
}

// noVideo says no file is a video.
type noVideo struct{}

func (noVideo) IsVideo(context.Context, string) (bool, string, error) {
	return false, "no video stream", nil
}

// TestScanCopiedThenDeleted: a file copied to a new name and the old one
// deleted before the copy is stable. For a video the new file takes over
// the missing video; a skipped file is simply skipped again.
func TestScanCopiedThenDeleted(t *testing.T) {
	for _, tt := range []struct {
		name   string
		prober Prober
		moved  int
	}{
		{"video", anyVideo{}, 1},
		{"not a video", noVideo{}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestLib(t)
			ctx := context.Background()
			clock := &fakeClock{t: time.Now()}
			sc := &Scanner{Store: e.st, Prober: tt.prober, Now: clock.Now}
			e.write("old.bin", "same bytes")
			sc.Scan(ctx, e.lib, Whole)
			clock.Add(time.Minute)
			if _, err := sc.Scan(ctx, e.lib, Whole); err != nil {
				t.Fatal(err)
			}
			e.write("new.bin", "same bytes")
			sc.Scan(ctx, e.lib, Whole) // new.bin waits
			os.Remove(e.path("old.bin"))
			clock.Add(time.Minute)
			res, err := sc.Scan(ctx, e.lib, Whole)
			if err != nil {
				t.Fatal(err)
			}
			if res.Moved != tt.moved || res.Imported != 0 {
				t.Fatalf("result %+v", res)
			}
			rows, _ := e.st.LibraryFiles(ctx, e.lib.ID)
			if len(rows) != 1 || rows[0].RelPath != "new.bin" || rows[0].State == store.FilePending {
				t.Fatalf("rows %+v", rows)
			}
			if n := e.count("SELECT COUNT(*) FROM videos WHERE missing = 0"); n != tt.moved {
				t.Fatalf("%d present videos, want %d", n, tt.moved)
			}
		})
	}
}
