package transcoder

import (
	"context"
	"database/sql"
	"errors"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mika/store"
	"mika/store/media"
)

// testPool is a pool over a fresh data folder with the real migrations.
type testPool struct {
	t     testing.TB
	store *store.Store
	data  media.Dir
	pool  *Pool
	ended chan int64
}

func migrationsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "migrations")
}

// newTestPool opens a store over a fresh data folder and builds (not
// starts) a pool, with fast test settings that tune may change.
func newTestPool(t *testing.T, tune func(*store.Settings)) *testPool {
	t.Helper()
	return openPool(t, t.TempDir(), func(s *store.Settings) {
		s.VideoPreset = "ultrafast"
		s.HLSSegmentSeconds = 2
		if tune != nil {
			tune(s)
		}
	})
}

// openPool opens a store in dir and builds a pool; tune may change the
// default settings.
func openPool(t testing.TB, dir string, tune func(*store.Settings)) *testPool {
	t.Helper()
	d, err := media.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Init(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), d.DB(), os.DirFS(migrationsDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	set := st.Settings()
	if tune != nil {
		tune(&set)
	}
	if err := st.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	tp := &testPool{t: t, store: st, data: d, ended: make(chan int64, 16)}
	tp.pool = tp.newPool("ffmpeg")
	return tp
}

func (tp *testPool) newPool(ffmpeg string) *Pool {
	p := New(Config{Store: tp.store, Data: tp.data, FFmpeg: ffmpeg, FFprobe: "ffprobe",
		OnTaskEnd: func(_ context.Context, id int64) { tp.ended <- id }})
	p.PollInterval = 200 * time.Millisecond
	return p
}

// start runs the pool until the test ends.
func (tp *testPool) start(p *Pool) {
	ctx, cancel := context.WithCancel(context.Background())
	p.Start(ctx)
	tp.t.Cleanup(func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = p.Shutdown(sctx)
	})
}

// addVideo copies src in as an upload and queues its task.
func (tp *testPool) addVideo(src string) (videoID, taskID int64) {
	tp.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tp.t.Fatal(err)
	}
	f, err := os.CreateTemp(tp.data.Tmp(), "src-*"+filepath.Ext(src))
	if err != nil {
		tp.t.Fatal(err)
	}
	f.Write(b)
	f.Close()
	rel, _ := tp.data.Rel(f.Name())
	v, taskID, err := tp.store.CreateVideo(context.Background(), store.NewVideo{UserID: 1, Title: "clip",
		SourcePath: rel, FileSize: int64(len(b))})
	if err != nil {
		tp.t.Fatal(err)
	}
	return v.ID, taskID
}

// addVideoAt queues a video whose source stays where it is (as a library
// import does).
func (tp *testPool) addVideoAt(src string) (videoID, taskID int64) {
	tp.t.Helper()
	v, taskID, err := tp.store.CreateVideo(context.Background(), store.NewVideo{UserID: 1, Title: "clip",
		SourcePath: src})
	if err != nil {
		tp.t.Fatal(err)
	}
	return v.ID, taskID
}

// waitTask waits until the task reaches one of the statuses.
func (tp *testPool) waitTask(id int64, timeout time.Duration, statuses ...string) *store.Task {
	tp.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task, err := tp.store.TaskByID(context.Background(), id)
		if err != nil {
			tp.t.Fatal(err)
		}
		if slices.Contains(statuses, task.Status) {
			return task
		}
		if time.Now().After(deadline) {
			tp.t.Fatalf("task %d still %s (progress %d, error %q) after %s; log:\n%s", id, task.Status,
				task.Progress, task.Error, timeout, task.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ffmpegsFor lists the pids of processes whose command line mentions dir.
func ffmpegsFor(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), dir) {
			// A zombie has an empty cmdline, so this is a live process.
			pids = append(pids, pid)
		}
	}
	return pids
}

// deleteVideo removes a video's rows behind the store's back, as the
// videos side does on delete.
func (tp *testPool) deleteVideo(id int64) {
	tp.t.Helper()
	db, err := sql.Open("sqlite", tp.data.DB()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tp.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM tasks WHERE video_id = ?; DELETE FROM videos WHERE id = ?", id, id); err != nil {
		tp.t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// extinfs is the list of segment durations of a media playlist.
func extinfs(t *testing.T, path string) []string {
	var out []string
	for _, l := range strings.Split(readFile(t, path), "\n") {
		if d, ok := strings.CutPrefix(l, "#EXTINF:"); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestPool1080pLadder(t *testing.T) {
	tp := newTestPool(t, func(s *store.Settings) { s.HLSSegmentSeconds = 1 })
	// MPEG-4 Part 2, so every rung is encoded and must align.
	src := makeClip(t, t.TempDir(), clip{size: "1920x1080", seconds: "2", audio: true, codec: "mpeg4",
		extraOut: []string{"-q:v", "10"}})
	videoID, taskID := tp.addVideo(src)
	tp.start(tp.pool)
	task := tp.waitTask(taskID, 3*time.Minute, store.TaskCompleted, store.TaskFailed)
	if task.Status != store.TaskCompleted {
		t.Fatalf("task %s: %s\n%s", task.Status, task.Error, task.Log)
	}
	if task.Progress != 100 || !strings.Contains(task.Log, "-var_stream_map") {
		t.Errorf("progress %d, log without command:\n%.300s", task.Progress, task.Log)
	}
	select {
	case id := <-tp.ended:
		if id != taskID {
			t.Errorf("OnTaskEnd(%d), want %d", id, taskID)
		}
	case <-time.After(testWait):
		t.Error("OnTaskEnd not called")
	}
	v, err := tp.store.VideoByID(context.Background(), videoID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != store.VideoPublished || v.TranscodeStatus != "completed" || !v.Playable || !v.HasCover ||
		v.Resolution != "1080p" || v.HLSBytes <= 0 || v.Width != 1920 || v.Height != 1080 || v.Duration < 1.9 {
		t.Errorf("video after transcode: %+v", v)
	}
	wantRungs := []string{"1080p", "720p", "480p", "360p"}
	if len(v.Variants) != 4 {
		t.Fatalf("variants %+v", v.Variants)
	}
	for i, r := range v.Variants {
		if r.Name != wantRungs[i] || r.Bandwidth <= 0 {
			t.Errorf("variant %d = %+v", i, r)
		}
	}
	if v.Variants[2].Width != 854 || v.Variants[2].Height != 480 {
		t.Errorf("480p rung %+v, want 854x480", v.Variants[2])
	}
	out := tp.data.HLS(videoID)
	master := readFile(t, filepath.Join(out, MasterName))
	stream := 0
	for _, l := range strings.Split(master, "\n") {
		if strings.HasPrefix(l, "#EXT-X-STREAM-INF:") {
			stream++
			for _, attr := range []string{"BANDWIDTH=", "RESOLUTION=", `CODECS="avc1.`, `,mp4a.40.2"`} {
				if !strings.Contains(l, attr) {
					t.Errorf("master line lacks %s: %s", attr, l)
				}
			}
		}
	}
	if stream != 4 {
		t.Errorf("master has %d variants:\n%s", stream, master)
	}
	var first []string
	for _, r := range wantRungs {
		pl := readFile(t, filepath.Join(out, r, "index.m3u8"))
		if !strings.Contains(pl, "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.Contains(pl, "#EXT-X-ENDLIST") {
			t.Errorf("%s playlist is not a finished VOD:\n%s", r, pl)
		}
		d := extinfs(t, filepath.Join(out, r, "index.m3u8"))
		if first == nil {
			first = d
			if len(d) < 2 {
				t.Errorf("%s has %d segments, want 2 (1 s segments of 2 s)", r, len(d))
			}
		} else if !slices.Equal(d, first) {
			t.Errorf("rung %s segments %v, top rung %v: keyframes not aligned", r, d, first)
		}
	}
	// The 480p rung has square pixels and 4:2:0 8-bit.
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=width,height,sample_aspect_ratio,pix_fmt,codec_name", "-of", "csv=p=0",
		filepath.Join(out, "480p", "seg_00000.ts")).Output()
	if line, _, _ := strings.Cut(string(b), "\n"); err != nil || line != "h264,854,480,1:1,yuv420p" {
		t.Errorf("480p segment: %q %v", b, err)
	}
	if _, err := os.Stat(tp.data.Cover(videoID)); err != nil {
		t.Errorf("cover: %v", err)
	}
}

func TestPoolSources(t *testing.T) {
	tests := []struct {
		name      string
		clip      clip
		rung      string
		w, h      int
		copied    bool
		wantAudio bool
	}{
		{"360p without audio is not upscaled", clip{size: "640x360", seconds: "2", codec: "mpeg4"}, "360p", 640, 360, false, false},
		{"rotated portrait comes out upright", clip{size: "320x180", seconds: "2", rotate: "90"}, "180p", 180, 320, false, false},
		{"h264 aac within the ladder is remuxed", clip{size: "320x180", seconds: "2", audio: true}, "180p", 320, 180, true, true},
		{"10-bit becomes 8-bit 4:2:0", clip{size: "320x180", seconds: "2", pixFmt: "yuv420p10le"}, "180p", 320, 180, false, false},
	}
	tp := newTestPool(t, nil)
	tp.start(tp.pool)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := makeClip(t, t.TempDir(), tt.clip)
			videoID, task := tp.transcode(t, src)
			v, _ := tp.store.VideoByID(context.Background(), videoID)
			if len(v.Variants) != 1 || v.Variants[0].Name != tt.rung || v.Variants[0].Width != tt.w || v.Variants[0].Height != tt.h {
				t.Fatalf("variants %+v, want one %s %dx%d", v.Variants, tt.rung, tt.w, tt.h)
			}
			if got := strings.Contains(task.Log, "-c:v:0 copy"); got != tt.copied {
				t.Errorf("copied = %v, want %v", got, tt.copied)
			}
			seg := filepath.Join(tp.data.HLS(videoID), tt.rung, "seg_00000.ts")
			b, err := exec.Command("ffprobe", "-v", "error", "-show_entries",
				"stream=codec_type,width,height,pix_fmt:stream_side_data=rotation", "-of", "csv=p=0", seg).Output()
			if err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(string(b))
			want := "video," + strconv.Itoa(tt.w) + "," + strconv.Itoa(tt.h) + ",yuv420p"
			if !strings.HasPrefix(got, want) || strings.Contains(got, "90") {
				t.Errorf("segment streams %q, want %s and no rotation", got, want)
			}
			if strings.Contains(got, "audio") != tt.wantAudio {
				t.Errorf("segment streams %q: audio want %v", got, tt.wantAudio)
			}
			master := readFile(t, filepath.Join(tp.data.HLS(videoID), MasterName))
			if strings.Contains(master, "mp4a") != tt.wantAudio {
				t.Errorf("master CODECS audio want %v:\n%s", tt.wantAudio, master)
			}
		})
	}
}

func TestPoolRandomBytesFail(t *testing.T) {
	needFFmpeg(t)
	tp := newTestPool(t, nil)
	src := filepath.Join(t.TempDir(), "random.mp4")
	b := make([]byte, 100<<10)
	for i := range b {
		b[i] = byte(i*31 + i>>7)
	}
	os.WriteFile(src, b, 0o644)
	videoID, taskID := tp.addVideo(src)
	tp.start(tp.pool)
	task := tp.waitTask(taskID, testWait, store.TaskCompleted, store.TaskFailed)
	if task.Status != store.TaskFailed || !strings.HasPrefix(task.Error, "source is not a readable video") ||
		!strings.Contains(task.Log, "Invalid data") {
		t.Fatalf("task %s error %q log %q", task.Status, task.Error, task.Log)
	}
	// The one-line reason goes to the owner and to webhooks: ffprobe's
	// reason without the file's place on the server.
	if want := "source is not a readable video: Invalid data found when processing input"; task.Error != want {
		t.Errorf("error %q, want %q", task.Error, want)
	}
	v, _ := tp.store.VideoByID(context.Background(), videoID)
	if v.Status != store.VideoFailed || v.TranscodeStatus != "failed" || v.Playable {
		t.Errorf("video %+v", v)
	}
	if _, err := os.Stat(tp.data.HLS(videoID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output folder left behind: %v", err)
	}
}

// hangingFFmpeg writes a fake ffmpeg that tells its version, fails every
// other run at once (the hardware encoders' test encodes: none works
// here, on any machine), and hangs in each transcode (a run with
// -progress) after noting it in runs.
func hangingFFmpeg(t *testing.T, runs string) string {
	t.Helper()
	fake := filepath.Join(t.TempDir(), "ffmpeg")
	err := os.WriteFile(fake, []byte("#!/bin/sh\n"+
		"if [ \"$2\" = \"-version\" ]; then echo 'ffmpeg version fake'; exit 0; fi\n"+
		"case \" $* \" in *\" -progress \"*) ;; *) exit 1;; esac\n"+
		"echo \"run $*\" >> "+runs+"\n"+
		"exec sleep 30\n"), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	return fake
}

// slowClip is a source that takes ffmpeg several seconds at a slow preset.
func slowClip(t *testing.T) string {
	return makeClip(t, t.TempDir(), clip{size: "640x360", seconds: "20", codec: "mpeg4", rate: "30",
		extraOut: []string{"-q:v", "20"}})
}

// waitRunning waits until ffmpeg writes into the video's HLS folder.
func (tp *testPool) waitRunning(videoID int64) {
	tp.t.Helper()
	out := tp.data.HLS(videoID)
	deadline := time.Now().Add(testWait)
	for len(ffmpegsFor(out)) == 0 {
		if time.Now().After(deadline) {
			tp.t.Fatal("ffmpeg never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPoolCancelThenRetry(t *testing.T) {
	needFFmpeg(t)
	tp := newTestPool(t, func(s *store.Settings) { s.VideoPreset = "veryslow"; s.Ladder = []int{360} })
	videoID, taskID := tp.addVideo(slowClip(t))
	tp.start(tp.pool)
	tp.waitRunning(videoID)
	out := tp.data.HLS(videoID)

	// Playable early: the video gets its variants while ffmpeg still runs
	// (at veryslow, 20 s of video take far longer than the first segment).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		v, _ := tp.store.VideoByID(context.Background(), videoID)
		task, _ := tp.store.TaskByID(context.Background(), taskID)
		if task.Status != store.TaskProcessing {
			t.Fatalf("task %s before it was playable", task.Status)
		}
		if v.Playable {
			if len(v.Variants) != 1 || v.Status != store.VideoProcessing {
				t.Errorf("early playable video %+v", v)
			}
			// The running task already shows its command line.
			if !strings.HasPrefix(task.Log, "$ ") || !strings.Contains(task.Log, "-var_stream_map") {
				t.Errorf("running task's log %q, want its ffmpeg command", task.Log)
			}
			pl := readFile(t, filepath.Join(out, "360p", "index.m3u8"))
			if !strings.Contains(pl, "#EXT-X-PLAYLIST-TYPE:EVENT") || strings.Contains(pl, "#EXT-X-ENDLIST") {
				t.Errorf("running playlist is not an open event playlist:\n%s", pl)
			}
			readFile(t, filepath.Join(out, MasterName))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never playable while encoding")
		}
		time.Sleep(100 * time.Millisecond)
	}

	start := time.Now()
	if err := tp.store.CancelTask(context.Background(), taskID); err != nil {
		t.Fatal(err)
	}
	tp.pool.CancelTask(taskID)
	// SPEC §7: ffmpeg is gone within 2 s and the partial output removed.
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancel took %s", took)
	}
	if pids := ffmpegsFor(out); len(pids) > 0 {
		t.Errorf("ffmpeg still running after cancel: %v", pids)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial output left: %v", err)
	}
	if task := tp.waitTask(taskID, testWait, store.TaskCanceled); task.Status != store.TaskCanceled {
		t.Fatal(task.Status)
	}
	// The canceled task keeps the command and ffmpeg's last words (SPEC §7).
	for deadline := time.Now().Add(testWait); ; time.Sleep(50 * time.Millisecond) {
		task, _ := tp.store.TaskByID(context.Background(), taskID)
		if strings.HasPrefix(task.Log, "$ ") && strings.Count(task.Log, "\n") > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("canceled task's log %q, want the command and stderr's tail", task.Log)
		}
	}

	set := tp.store.Settings()
	set.VideoPreset = "ultrafast"
	tp.store.SaveSettings(context.Background(), set)
	if err := tp.store.RetryTask(context.Background(), taskID); err != nil {
		t.Fatal(err)
	}
	tp.pool.Wake()
	task := tp.waitTask(taskID, 2*time.Minute, store.TaskCompleted, store.TaskFailed)
	if task.Status != store.TaskCompleted {
		t.Fatalf("retry: %s %s", task.Status, task.Error)
	}
	if _, err := os.Stat(filepath.Join(out, "360p", "index.m3u8")); err != nil {
		t.Error(err)
	}
}

func TestPoolShutdownMidTaskResumes(t *testing.T) {
	needFFmpeg(t)
	tp := newTestPool(t, func(s *store.Settings) { s.VideoPreset = "veryslow"; s.Ladder = []int{360} })
	videoID, taskID := tp.addVideo(slowClip(t))
	first := tp.pool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first.Start(ctx)
	tp.waitRunning(videoID)
	// SPEC §12: a stopping server puts a running transcode back to pending
	// and exits within 10 s.
	sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
	defer c()
	if err := first.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	task, _ := tp.store.TaskByID(context.Background(), taskID)
	if task.Status != store.TaskPending {
		t.Fatalf("after shutdown task is %s, want pending", task.Status)
	}
	if pids := ffmpegsFor(tp.data.HLS(videoID)); len(pids) > 0 {
		t.Fatalf("ffmpeg survived shutdown: %v", pids)
	}

	set := tp.store.Settings()
	set.VideoPreset = "ultrafast"
	tp.store.SaveSettings(context.Background(), set)
	second := tp.newPool("ffmpeg")
	tp.start(second)
	task = tp.waitTask(taskID, 2*time.Minute, store.TaskCompleted, store.TaskFailed)
	if task.Status != store.TaskCompleted || task.Attempts != 1 {
		t.Fatalf("after restart: %s attempts %d %s", task.Status, task.Attempts, task.Error)
	}
}

func TestPoolStalledTaskRetriesThenFails(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	fake := hangingFFmpeg(t, filepath.Join(dir, "runs"))
	tp := newTestPool(t, nil)
	src := makeClip(t, t.TempDir(), clip{size: "160x90", seconds: "1"})
	videoID, taskID := tp.addVideo(src)
	p := tp.newPool(fake)
	p.StallTimeout = time.Second
	tp.start(p)
	task := tp.waitTask(taskID, testWait, store.TaskFailed, store.TaskCompleted)
	if task.Status != store.TaskFailed || task.Error != "stalled: no progress for 1s" || task.Attempts != 3 {
		t.Fatalf("task %s attempts %d error %q", task.Status, task.Attempts, task.Error)
	}
	if runs := strings.Count(readFile(t, filepath.Join(dir, "runs")), "run "); runs != 3 {
		t.Errorf("ffmpeg ran %d times, want 3", runs)
	}
	if pids := ffmpegsFor(tp.data.HLS(videoID)); len(pids) > 0 {
		t.Errorf("stalled ffmpeg survived: %v", pids)
	}
}

func TestPoolMissingFFmpegLeavesTasksPending(t *testing.T) {
	needFFmpeg(t)
	tp := newTestPool(t, nil)
	src := makeClip(t, t.TempDir(), clip{size: "160x90", seconds: "1"})
	_, taskID := tp.addVideo(src)
	p := tp.newPool(filepath.Join(t.TempDir(), "no-ffmpeg"))
	tp.start(p)
	time.Sleep(time.Second)
	if v := p.FFmpegVersion(); v != "" {
		t.Errorf("version %q", v)
	}
	task, _ := tp.store.TaskByID(context.Background(), taskID)
	if task.Status != store.TaskPending {
		t.Errorf("task %s, want pending", task.Status)
	}
}

func TestPoolDeletedVideoEndsQuietly(t *testing.T) {
	needFFmpeg(t)
	tp := newTestPool(t, func(s *store.Settings) { s.VideoPreset = "veryslow"; s.Ladder = []int{360} })
	videoID, taskID := tp.addVideo(slowClip(t))
	tp.start(tp.pool)
	tp.waitRunning(videoID)
	// The rows go without telling the pool: its next progress write
	// notices, stops ffmpeg and removes the output.
	tp.deleteVideo(videoID)
	deadline := time.Now().Add(testWait)
	for tp.pool.running() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("task still running after its video was deleted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pids := ffmpegsFor(tp.data.HLS(videoID)); len(pids) > 0 {
		t.Errorf("ffmpeg survived: %v", pids)
	}
	if _, err := os.Stat(tp.data.HLS(videoID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output left: %v", err)
	}
	_ = taskID
}

func TestPoolHardwareFailureFallsBackToSoftware(t *testing.T) {
	needFFmpeg(t)
	tp := newTestPool(t, func(s *store.Settings) { s.HWAccel = "nvenc"; s.Ladder = []int{180} })
	// The real ffmpeg, except that NVENC fails as it does without the
	// device: on a machine with a working NVIDIA encoder it would succeed.
	realFFmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	ffmpeg := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(ffmpeg, []byte("#!/bin/sh\n"+
		"case \" $* \" in *\" h264_nvenc \"*) echo 'Cannot load libcuda.so.1' >&2; exit 1;; esac\n"+
		"exec "+realFFmpeg+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tp.pool = tp.newPool(ffmpeg)
	tp.start(tp.pool)
	// Pretend detection found NVENC; the encode fails and the task must
	// fall back to libx264.
	select {
	case <-tp.pool.hwDetected:
	case <-time.After(testWait):
		t.Fatal("hardware detection did not finish")
	}
	tp.pool.mu.Lock()
	tp.pool.hw = []string{"none", "nvenc"}
	tp.pool.mu.Unlock()
	src := makeClip(t, t.TempDir(), clip{size: "320x180", seconds: "2", codec: "mpeg4"})
	_, taskID := tp.addVideo(src)
	tp.pool.Wake()
	task := tp.waitTask(taskID, 3*time.Minute, store.TaskCompleted, store.TaskFailed)
	if task.Status != store.TaskCompleted {
		t.Fatalf("task %s: %s\n%s", task.Status, task.Error, task.Log)
	}
	if !strings.Contains(task.Log, "h264_nvenc") || !strings.Contains(task.Log, "software fallback") ||
		!strings.Contains(task.Log, "-c:v:0 libx264") {
		t.Errorf("log does not show the fallback:\n%s", task.Log)
	}
}

func TestPoolConcurrencyChangesLive(t *testing.T) {
	needFFmpeg(t)
	fake := hangingFFmpeg(t, filepath.Join(t.TempDir(), "runs"))
	tp := newTestPool(t, func(s *store.Settings) { s.TranscodeConcurrency = 1 })
	src := makeClip(t, t.TempDir(), clip{size: "160x90", seconds: "1"})
	var tasks []int64
	for range 3 {
		_, id := tp.addVideo(src)
		tasks = append(tasks, id)
	}
	p := tp.newPool(fake)
	tp.start(p)
	processing := func() int {
		_, n, err := tp.store.ListTasks(context.Background(), store.TaskProcessing, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(testWait)
		for processing() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d processing, want %d", processing(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(1)
	time.Sleep(500 * time.Millisecond)
	if n := processing(); n != 1 {
		t.Fatalf("concurrency 1 runs %d", n)
	}
	if task, _ := tp.store.TaskByID(context.Background(), tasks[0]); task.Status != store.TaskProcessing {
		t.Errorf("oldest task is %s, want processing", task.Status)
	}
	set := tp.store.Settings()
	set.TranscodeConcurrency = 3
	tp.store.SaveSettings(context.Background(), set)
	waitFor(3) // picked up by the poll, no Wake needed
}

// transcode queues src as an upload and waits for its task to complete,
// failing the test otherwise.
func (tp *testPool) transcode(t testing.TB, src string) (videoID int64, task *store.Task) {
	t.Helper()
	videoID, taskID := tp.addVideo(src)
	tp.pool.Wake()
	task = tp.waitTask(taskID, 3*time.Minute, store.TaskCompleted, store.TaskFailed)
	if task.Status != store.TaskCompleted {
		t.Fatalf("task %s: %s\n%s", task.Status, task.Error, task.Log)
	}
	return videoID, task
}

// hdrClip is a 10-bit HEVC clip tagged as HDR with the given transfer
// ("smpte2084" for HDR10's PQ, "arib-std-b67" for HLG), as phones record.
func hdrClip(t *testing.T, transfer string) string {
	t.Helper()
	return makeClip(t, t.TempDir(), clip{size: "320x180", seconds: "2", codec: "libx265", pixFmt: "yuv420p10le",
		extraOut: []string{"-preset", "ultrafast", "-x265-params", "log-level=error",
			"-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc"}})
}

// videoStream is what ffprobe tells of the first video stream's entries
// (e.g. "width,height"), comma-separated.
func videoStream(t *testing.T, path, entries string) string {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream="+entries, "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}

// colors is the first video stream's "transfer,primaries,space" in
// ffprobe's order.
func colors(t *testing.T, path string) string {
	return videoStream(t, path, "color_transfer,color_primaries,color_space")
}

// TestPoolToneMapsHDR: an HDR10 or HLG source comes out as SDR BT.709,
// tone mapped, not as 8-bit video still tagged (and looking) HDR.
func TestPoolToneMapsHDR(t *testing.T) {
	tp := newTestPool(t, nil)
	tp.start(tp.pool)
	for _, transfer := range []string{"smpte2084", "arib-std-b67"} {
		t.Run(transfer, func(t *testing.T) {
			src := hdrClip(t, transfer)
			if got := colors(t, src); !strings.Contains(got, transfer) {
				t.Fatalf("source colours %q", got)
			}
			videoID, task := tp.transcode(t, src)
			if !strings.Contains(task.Log, "tonemap=desat=0:tonemap=hable") {
				t.Errorf("no tone mapping in the command:\n%s", task.Log)
			}
			seg := filepath.Join(tp.data.HLS(videoID), "180p", "seg_00000.ts")
			if got := colors(t, seg); strings.Count(got, "bt709") != 3 {
				t.Errorf("segment colours %q, want bt709 throughout", got)
			}
		})
	}
}

// TestPoolHDRWithoutZscale: an ffmpeg built without zscale cannot tone
// map; the task still completes, untouched colours and all.
func TestPoolHDRWithoutZscale(t *testing.T) {
	tp := newTestPool(t, nil)
	realFFmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("no ffmpeg")
	}
	ffmpeg := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(ffmpeg, []byte("#!/bin/sh\n"+
		"case \" $* \" in *\" -filters \"*) "+realFFmpeg+" \"$@\" | grep -v -e ' zscale ' -e ' tonemap '; exit 0;; esac\n"+
		"exec "+realFFmpeg+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tp.pool = tp.newPool(ffmpeg)
	tp.start(tp.pool)
	_, taskID := tp.addVideo(hdrClip(t, "smpte2084"))
	tp.pool.Wake()
	task := tp.waitTask(taskID, 3*time.Minute, store.TaskCompleted, store.TaskFailed)
	if task.Status != store.TaskCompleted || strings.Contains(task.Log, "tonemap") {
		t.Fatalf("task %s: %s\n%s", task.Status, task.Error, task.Log)
	}
}

func TestHasFilters(t *testing.T) {
	out := []byte("Filters:\n  T.. = Timeline support\n ------\n" +
		" TS. colorspace        V->V       Convert between colorspaces.\n" +
		" .S. tonemap           V->V       Conversion to/from different dynamic ranges.\n" +
		" .SC zscale            V->V       Apply resizing, colorspace and bit depth conversion.\n")
	if !hasFilters(out, "zscale", "tonemap") {
		t.Error("zscale and tonemap not found")
	}
	if hasFilters(out, "zscale", "libplacebo") || hasFilters(out, "Timeline") || hasFilters(nil, "zscale") {
		t.Error("a filter not listed was found")
	}
}

// TestPoolDeinterlaces: an interlaced H.264 clip (as a camcorder or a TV
// recording makes) is deinterlaced and encoded, not copied with its fields.
func TestPoolDeinterlaces(t *testing.T) {
	tp := newTestPool(t, nil)
	tp.start(tp.pool)
	src := makeClip(t, t.TempDir(), clip{size: "320x180", seconds: "2", rate: "50", audio: true,
		extraOut: []string{"-vf", "tinterlace=mode=interleave_top,setfield=tff", "-flags", "+ildct+ilme",
			"-x264-params", "log-level=error"}})
	order := func(path string) string { return videoStream(t, path, "field_order") }
	if got := order(src); got != "tt" {
		t.Fatalf("source field order %q, want tt", got)
	}
	videoID, task := tp.transcode(t, src)
	if !strings.Contains(task.Log, "bwdif") || strings.Contains(task.Log, "-c:v:0 copy") {
		t.Errorf("want deinterlaced and encoded:\n%s", task.Log)
	}
	if got := order(filepath.Join(tp.data.HLS(videoID), "180p", "seg_00000.ts")); got != "progressive" {
		t.Errorf("segment field order %q, want progressive", got)
	}
}

// TestPoolAnamorphic: a DVD-like source whose pixels are not square (720x576
// stored, shown at 16:9) gives rungs of the shape it is shown at, with
// square pixels, instead of a squashed 5:4 picture.
func TestPoolAnamorphic(t *testing.T) {
	tp := newTestPool(t, nil)
	tp.start(tp.pool)
	src := makeClip(t, t.TempDir(), clip{size: "720x576", seconds: "1", audio: true,
		extraOut: []string{"-vf", "setsar=64/45"}})
	p, err := Probe(context.Background(), "ffprobe", src)
	if err != nil {
		t.Fatal(err)
	}
	if p.Width != 1024 || p.Height != 576 || math.Abs(p.SAR-64.0/45) > 0.001 {
		t.Fatalf("probed %dx%d SAR %v, want 1024x576 shown at 64:45", p.Width, p.Height, p.SAR)
	}
	videoID, _ := tp.transcode(t, src)
	for _, want := range []string{"480p,854,480", "360p,640,360"} {
		rung, _, _ := strings.Cut(want, ",")
		line := videoStream(t, filepath.Join(tp.data.HLS(videoID), rung, "seg_00000.ts"), "width,height,sample_aspect_ratio")
		if got := rung + "," + line; got != want+",1:1" {
			t.Errorf("rung %s, want %s,1:1", got, want)
		}
	}
}

// TestPoolStalledTaskShowsWhyItRetried: the first attempt stalls, the
// automatic retry completes, and the task's log still says why it ran
// twice (issue #4) while its error is empty, as for any completed task.
func TestPoolStalledTaskShowsWhyItRetried(t *testing.T) {
	needFFmpeg(t)
	realFFmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	// The first transcode hangs; every other call is the real ffmpeg.
	fake := filepath.Join(dir, "ffmpeg")
	err = os.WriteFile(fake, []byte("#!/bin/sh\n"+
		"case \" $* \" in *\" -progress \"*)\n"+
		"  if [ ! -e "+runs+" ]; then echo \"run $*\" > "+runs+"; exec sleep 30; fi;;\n"+
		"esac\n"+
		"exec "+realFFmpeg+" \"$@\"\n"), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	tp := newTestPool(t, nil)
	src := makeClip(t, t.TempDir(), clip{size: "160x90", seconds: "1"})
	_, taskID := tp.addVideo(src)
	p := tp.newPool(fake)
	// Long enough for the real ffmpeg to finish this clip in one go.
	p.StallTimeout = 5 * time.Second
	tp.start(p)
	task := tp.waitTask(taskID, testWait, store.TaskFailed, store.TaskCompleted)
	if task.Status != store.TaskCompleted || task.Error != "" || task.Attempts != 2 {
		t.Fatalf("task %s attempts %d error %q; log:\n%s", task.Status, task.Attempts, task.Error, task.Log)
	}
	want := "# attempt 1: stalled: no progress for 5s — retried automatically\n$ " + fake + " "
	if !strings.HasPrefix(task.Log, want) {
		t.Errorf("log does not start with %q:\n%s", want, task.Log)
	}
	if n := strings.Count(task.Log, "# attempt "); n != 1 {
		t.Errorf("log names %d earlier attempts, want 1:\n%s", n, task.Log)
	}
}

// TestPoolCoverSkipsABlackFrame: the frame at 10% of this clip is black
// (a cut); the cover is taken from the frames around it that look like
// the video.
func TestPoolCoverSkipsABlackFrame(t *testing.T) {
	tp := newTestPool(t, nil)
	tp.start(tp.pool)
	src := makeClip(t, t.TempDir(), clip{size: "320x180", seconds: "10",
		extraOut: []string{"-vf", "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,0.9,1.3)'"}})
	videoID, _ := tp.transcode(t, src)
	f, err := os.Open(tp.data.Cover(videoID))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	var sum, n float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum += (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			n++
		}
	}
	if mean := sum / n; mean < 40 {
		t.Errorf("cover's mean brightness %.0f of 255: the black frame became the cover", mean)
	}
}
