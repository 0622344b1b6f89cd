package transcoder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mika/store"
)

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// heldFFmpeg is an ffmpeg whose `-version` answers only once released
// (a real one takes 0.1–0.4 s), and fails while dir/fail exists.
type heldFFmpeg struct {
	t                    *testing.T
	dir, ffmpeg, ffprobe string
}

func newHeldFFmpeg(t *testing.T, version string) *heldFFmpeg {
	dir := t.TempDir()
	f := &heldFFmpeg{t: t, dir: dir, ffmpeg: filepath.Join(dir, "ffmpeg"), ffprobe: filepath.Join(dir, "ffprobe")}
	f.write(version)
	writeScript(t, f.ffprobe, "exit 1\n")
	return f
}

// write (re)writes ffmpeg to print version.
func (f *heldFFmpeg) write(version string) {
	writeScript(f.t, f.ffmpeg, `if [ "$2" = -version ]; then
	echo run >> `+f.dir+`/runs
	while [ ! -e `+f.dir+`/release ]; do sleep 0.02; done
	[ -e `+f.dir+`/fail ] && exit 1
	echo "ffmpeg version `+version+` Copyright (c) the FFmpeg developers"
	exit 0
fi
exit 1
`)
}

// versionRuns counts the `ffmpeg -version` runs so far.
func (f *heldFFmpeg) versionRuns() int {
	b, _ := os.ReadFile(filepath.Join(f.dir, "runs"))
	return strings.Count(string(b), "run\n")
}

func (f *heldFFmpeg) release() { f.touch("release") }
func (f *heldFFmpeg) hold()    { os.Remove(filepath.Join(f.dir, "release")) }
func (f *heldFFmpeg) touch(name string) {
	if err := os.WriteFile(filepath.Join(f.dir, name), nil, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// startPool starts a pool on tp's store with f's binaries. FFmpegVersion
// waits for the fake's answer as long as a test may take: with the 3 s of
// versionWait, a fake that a loaded machine runs late would read as missing.
func (f *heldFFmpeg) startPool(tp *testPool) *Pool {
	p := New(Config{Store: tp.store, Data: tp.data, FFmpeg: f.ffmpeg, FFprobe: f.ffprobe})
	p.PollInterval = 50 * time.Millisecond
	p.versionWait = testWait
	tp.start(p)
	return p
}

// testWait bounds the waits for something that must happen: long enough for
// a loaded machine, and never waited out when things work.
const testWait = time.Minute

// detectOnce runs a pool until its detection ended and stops it, as a
// start that was stopped a while later does.
func (f *heldFFmpeg) detectOnce(tp *testPool) {
	f.release()
	p := f.startPool(tp)
	if v := p.FFmpegVersion(); v == "" {
		f.t.Fatal("first detection found no version")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

// versionAnswer calls FFmpegVersion in the background.
func versionAnswer(p *Pool) <-chan string {
	c := make(chan string, 1)
	go func() { c <- p.FFmpegVersion() }()
	return c
}

func waitDetected(t *testing.T, p *Pool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !p.FFmpegDetected() {
		if time.Now().After(deadline) {
			t.Fatal("detection did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func remembered(t *testing.T, st *store.Store) detectedVersion {
	t.Helper()
	v, err := st.Meta(context.Background(), ffmpegMetaKey)
	if err != nil {
		t.Fatal(err)
	}
	var d detectedVersion
	if v != "" {
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			t.Fatalf("remembered %q: %v", v, err)
		}
	}
	return d
}

// A binary that is not there at all is known when Start returns, so the
// first /healthz after a start without ffmpeg already says "missing".
func TestPoolStartKnowsAMissingBinaryAtOnce(t *testing.T) {
	dir := t.TempDir()
	present := writeScript(t, filepath.Join(dir, "present"), "exit 0\n")
	tests := []struct{ name, ffmpeg, ffprobe string }{
		{"no ffmpeg", filepath.Join(dir, "no-ffmpeg"), present},
		{"no ffprobe", present, filepath.Join(dir, "no-ffprobe")},
		{"neither on PATH", "mika-no-such-ffmpeg", "mika-no-such-ffprobe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPool(t, nil)
			p := New(Config{Store: tp.store, Data: tp.data, FFmpeg: tt.ffmpeg, FFprobe: tt.ffprobe})
			// Were the answer waited for, FFmpegVersion would take this long.
			p.versionWait = testWait
			tp.start(p)
			if !p.FFmpegDetected() {
				t.Fatal("a missing binary was not known when Start returned")
			}
			select {
			case <-p.known:
			default:
				t.Fatal("the version of a missing binary was not known when Start returned")
			}
			started := time.Now()
			if v := p.FFmpegVersion(); v != "" {
				t.Errorf("version %q for a missing binary", v)
			}
			if took := time.Since(started); took >= testWait/2 {
				t.Errorf("FFmpegVersion took %v for a missing binary: it waited for an answer", took)
			}
		})
	}
}

// A version the pool cannot trust yet is waited for, but not forever: after
// versionWait FFmpegVersion answers what is known, nothing.
func TestPoolFFmpegVersionWaitIsBounded(t *testing.T) {
	tp := newTestPool(t, nil)
	f := newHeldFFmpeg(t, "9.9-fake") // never released
	p := New(Config{Store: tp.store, Data: tp.data, FFmpeg: f.ffmpeg, FFprobe: f.ffprobe})
	p.versionWait = 200 * time.Millisecond
	tp.start(p)
	started := time.Now()
	v := p.FFmpegVersion()
	took := time.Since(started)
	// At least versionWait (a timer); at most a lot more only on a machine
	// too loaded to run the test: the fake never answers, so an unbounded
	// wait would never end.
	if v != "" || took < 150*time.Millisecond || took > 10*time.Second {
		t.Errorf("FFmpegVersion = %q after %v, want \"\" after about 200ms", v, took)
	}
}

// On a store that remembers no version for these binaries, Start does not
// wait for `ffmpeg -version`, FFmpegVersion does, and the version read is
// remembered with the files it came from. An early detection (main starts
// one beside the migrations) is that first detection: ffmpeg runs once.
func TestPoolFirstStartWaitsForTheVersion(t *testing.T) {
	for _, early := range []bool{false, true} {
		name := map[bool]string{false: "detected by the pool", true: "detected early"}[early]
		t.Run(name, func(t *testing.T) {
			tp := newTestPool(t, nil)
			f := newHeldFFmpeg(t, "9.9-fake")
			cfg := Config{Store: tp.store, Data: tp.data, FFmpeg: f.ffmpeg, FFprobe: f.ffprobe}
			if early {
				cfg.Detection = DetectFFmpeg(context.Background(), f.ffmpeg, f.ffprobe)
			}
			p := New(cfg)
			// FFmpegVersion waits for the held fake for as long as the test
			// runs, so an answer before the release can only be a guess.
			p.versionWait = testWait
			// Start returns while ffmpeg -version is held: one that waited
			// for it would not return before the release below.
			started := make(chan struct{})
			go func() { tp.start(p); close(started) }()
			select {
			case <-started:
			case <-time.After(testWait / 2):
				t.Fatal("Start waited for ffmpeg -version")
			}
			answer := versionAnswer(p)
			select {
			case v := <-answer:
				t.Fatalf("FFmpegVersion answered %q before ffmpeg -version did", v)
			case <-time.After(300 * time.Millisecond):
			}
			f.release()
			select {
			case v := <-answer:
				if v != "9.9-fake" {
					t.Fatalf("version %q, want 9.9-fake", v)
				}
			case <-time.After(testWait):
				t.Fatal("FFmpegVersion did not answer once ffmpeg -version did")
			}
			want, err := statBinaries(f.ffmpeg, f.ffprobe)
			if err != nil {
				t.Fatal(err)
			}
			if got := remembered(t, tp.store); got.Version != "9.9-fake" || got.Binaries != want {
				t.Errorf("remembered %+v, want 9.9-fake from %+v", got, want)
			}
			if runs := f.versionRuns(); runs != 1 {
				t.Errorf("ffmpeg -version ran %d times, want 1", runs)
			}
		})
	}
}

// A later start trusts the remembered version only for the very same files:
// a binary replaced, touched or pointed elsewhere is read again first.
func TestPoolTrustsTheRememberedVersionOnlyForTheSameBinaries(t *testing.T) {
	tests := []struct {
		name    string
		change  func(t *testing.T, f *heldFFmpeg)
		trusted bool
		want    string // version once the new detection ended
	}{
		{"same binaries", func(*testing.T, *heldFFmpeg) {}, true, "9.9-fake"},
		{"ffmpeg replaced", func(_ *testing.T, f *heldFFmpeg) { f.write("10.0-fake") }, false, "10.0-fake"},
		{"ffmpeg touched", func(t *testing.T, f *heldFFmpeg) {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(f.ffmpeg, later, later); err != nil {
				t.Fatal(err)
			}
		}, false, "9.9-fake"},
		{"ffprobe replaced", func(t *testing.T, f *heldFFmpeg) { writeScript(t, f.ffprobe, "exit 1 # 2.0\n") }, false, "9.9-fake"},
		{"symlink pointed at a copy", func(t *testing.T, f *heldFFmpeg) {
			// Same content, size and time; only the file differs.
			b, err := os.ReadFile(f.ffmpeg)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(f.ffmpeg)
			if err != nil {
				t.Fatal(err)
			}
			cp := filepath.Join(f.dir, "ffmpeg-copy")
			if err := os.WriteFile(cp, b, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(cp, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(f.link()); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(cp, f.link()); err != nil {
				t.Fatal(err)
			}
		}, false, "9.9-fake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPool(t, nil)
			f := newHeldFFmpeg(t, "9.9-fake")
			// ffmpeg is reached through a symlink, as /usr/bin/ffmpeg often is.
			target := f.ffmpeg
			f.ffmpeg = f.link()
			if err := os.Symlink(target, f.ffmpeg); err != nil {
				t.Fatal(err)
			}
			f.detectOnce(tp)
			f.hold()
			// write rewrites through the symlink, as an upgrade in place does.
			tt.change(t, f)

			p := f.startPool(tp)
			answer := versionAnswer(p)
			if tt.trusted {
				// An untrusted version would be waited for as long as the
				// fake is held (startPool), i.e. past this test's end.
				select {
				case v := <-answer:
					if v != "9.9-fake" {
						t.Fatalf("version %q, want the remembered 9.9-fake", v)
					}
				case <-time.After(testWait / 2):
					t.Fatal("the remembered version was not trusted")
				}
				if p.FFmpegDetected() {
					t.Fatal("detection ended while ffmpeg -version was held")
				}
			} else {
				select {
				case v := <-answer:
					t.Fatalf("FFmpegVersion answered %q from a binary that changed", v)
				case <-time.After(300 * time.Millisecond):
				}
			}
			f.release()
			if !tt.trusted {
				if v := <-answer; v != tt.want {
					t.Errorf("version %q once detected, want %q", v, tt.want)
				}
			}
			waitDetected(t, p)
			if v := p.FFmpegVersion(); v != tt.want {
				t.Errorf("version %q after detection, want %q", v, tt.want)
			}
			if got := remembered(t, tp.store); got.Version != tt.want {
				t.Errorf("remembered %+v, want %q", got, tt.want)
			}
		})
	}
}

// link is the symlink the symlink test reaches ffmpeg through.
func (f *heldFFmpeg) link() string { return filepath.Join(f.dir, "ffmpeg-link") }

// When the remembered binaries stop answering, the version is forgotten:
// the next start waits for its own detection again.
func TestPoolForgetsAVersionTheBinaryNoLongerGives(t *testing.T) {
	tp := newTestPool(t, nil)
	f := newHeldFFmpeg(t, "9.9-fake")
	f.detectOnce(tp)
	f.touch("fail")
	f.hold() // until the remembered version was read: a fast failure would forget it first
	p := f.startPool(tp)
	if v := p.FFmpegVersion(); v != "9.9-fake" {
		t.Fatalf("version %q, want the remembered 9.9-fake", v)
	}
	f.release()
	waitDetected(t, p)
	if v := p.FFmpegVersion(); v != "" {
		t.Errorf("version %q after ffmpeg -version failed", v)
	}
	if got := remembered(t, tp.store); got != (detectedVersion{}) {
		t.Errorf("still remembered: %+v", got)
	}
}

// A start stopped before `ffmpeg -version` answered learnt nothing: what
// is remembered stays (a monitor that restarts the server quickly would
// otherwise make every other start wait).
func TestPoolKeepsTheVersionWhenStoppedBeforeFFmpegAnswered(t *testing.T) {
	tp := newTestPool(t, nil)
	f := newHeldFFmpeg(t, "9.9-fake")
	f.detectOnce(tp)
	want := remembered(t, tp.store)
	f.hold()
	p := f.startPool(tp)
	if v := p.FFmpegVersion(); v != "9.9-fake" {
		t.Fatalf("version %q, want the remembered 9.9-fake", v)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := remembered(t, tp.store); got != want {
		t.Errorf("remembered %+v after a stop, want %+v", got, want)
	}
}

// No task is claimed until this start's detection ended, even when the
// version was known at once from an earlier start.
func TestPoolClaimsNothingUntilFFmpegDetected(t *testing.T) {
	for _, earlier := range []bool{false, true} {
		name := map[bool]string{false: "first start", true: "version remembered"}[earlier]
		t.Run(name, func(t *testing.T) {
			tp := newTestPool(t, nil)
			f := newHeldFFmpeg(t, "9.9-fake")
			if earlier {
				f.detectOnce(tp)
				f.hold()
			}
			_, taskID := tp.addVideoAt(filepath.Join(f.dir, "a.mp4"))
			p := f.startPool(tp)
			for range 6 {
				p.Wake()
				time.Sleep(50 * time.Millisecond)
				if p.FFmpegDetected() {
					t.Fatal("detected before ffmpeg -version answered")
				}
				task, err := tp.store.TaskByID(context.Background(), taskID)
				if err != nil {
					t.Fatal(err)
				}
				if task.Status != store.TaskPending || task.Attempts != 0 {
					t.Fatalf("task %s (attempts %d) while ffmpeg was still being detected", task.Status, task.Attempts)
				}
			}

			f.release()
			if v := p.FFmpegVersion(); v != "9.9-fake" {
				t.Fatalf("version %q, want 9.9-fake", v)
			}
			// Once detected, the queued task is claimed (and fails: the fake
			// ffprobe reads nothing).
			p.Wake()
			tp.waitTask(taskID, testWait, store.TaskProcessing, store.TaskFailed, store.TaskCompleted)
		})
	}
}
