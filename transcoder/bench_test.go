package transcoder

// Benchmarks of SPEC §7's targets. They are heavy (minutes of CPU); run
// them alone, once:
//
//	go test ./transcoder -run '^$' -bench . -benchtime 1x -timeout 30m
//
// Each reports its figure as a custom metric; the source clips are made
// once per run in a temporary folder (MIKA_BENCH_DIR keeps them between runs).

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"mika/store"
)

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

// benchSources makes a 60 s 1080p25 H.264+AAC clip (testsrc2, like a phone
// upload) and a 10-minute one made of it by stream copy.
func benchSources(b *testing.B) (clip60, clip600 string) {
	b.Helper()
	needFFmpeg(b)
	benchOnce.Do(func() {
		if benchErr = benchFolder(); benchErr != nil {
			return
		}
		c60 := filepath.Join(benchDir, "src60.mp4")
		if _, err := os.Stat(c60); err != nil {
			out, err := exec.Command("ffmpeg", "-v", "error", "-y",
				"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25:duration=60",
				"-f", "lavfi", "-i", "sine=frequency=440:duration=60",
				"-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
				"-c:a", "aac", "-b:a", "128k", "-shortest", c60+".tmp.mp4").CombinedOutput()
			if err != nil {
				benchErr = &exec.ExitError{Stderr: out}
				return
			}
			benchErr = os.Rename(c60+".tmp.mp4", c60)
		}
		c600 := filepath.Join(benchDir, "src600.mp4")
		if _, err := os.Stat(c600); err != nil {
			out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-stream_loop", "9", "-i", c60,
				"-c", "copy", c600+".tmp.mp4").CombinedOutput()
			if err != nil {
				benchErr = &exec.ExitError{Stderr: out}
				return
			}
			benchErr = os.Rename(c600+".tmp.mp4", c600)
		}
	})
	if benchErr != nil {
		b.Fatalf("bench sources: %v", benchErr)
	}
	return filepath.Join(benchDir, "src60.mp4"), filepath.Join(benchDir, "src600.mp4")
}

var (
	benchDirOnce sync.Once
	benchDirErr  error
)

// benchFolder sets benchDir: MIKA_BENCH_DIR, or a new temporary folder.
func benchFolder() error {
	benchDirOnce.Do(func() {
		benchDir = os.Getenv("MIKA_BENCH_DIR")
		if benchDir == "" {
			benchDir, benchDirErr = os.MkdirTemp("", "mika-bench-")
		}
	})
	return benchDirErr
}

// runByHand runs the exact command a task would run, with nothing around
// it, at the same nice level the pool uses.
func runByHand(b *testing.B, c Command, outDir string, plan Plan) time.Duration {
	b.Helper()
	os.RemoveAll(outDir)
	for _, r := range plan.Rungs {
		os.MkdirAll(filepath.Join(outDir, r.Name), 0o755)
	}
	start := time.Now()
	cmd := exec.Command(c.Path, c.Args...)
	if nice, err := exec.LookPath("nice"); err == nil {
		cmd = exec.Command(nice, append([]string{"-n", "10", c.Path}, c.Args...)...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg by hand: %v\n%s", err, lastErrorLine(string(out)))
	}
	return time.Since(start)
}

func planOf(b *testing.B, src string) Plan {
	b.Helper()
	p, err := Probe(context.Background(), "ffprobe", src)
	if err != nil {
		b.Fatal(err)
	}
	return PlanFor(p, store.DefaultSettings())
}

// cpuTime is the CPU time (user+sys) used so far by this process and its
// finished children: the pool's work, ffmpeg and ffprobe included.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// BenchmarkTaskOverhead compares a whole task (queue, probe, ffmpeg,
// playlists, cover) with the same ffmpeg command run by hand on the 60 s
// 1080p clip, by hand before and after the task to even out a changing
// load. Target: task/hand ≤ 1.05 in wall time; the CPU-time ratio is the
// same comparison on a machine shared with other work.
func BenchmarkTaskOverhead(b *testing.B) {
	src, _ := benchSources(b)
	plan := planOf(b, src)
	hand := func() (wall, cpu time.Duration) {
		out := filepath.Join(b.TempDir(), "hls")
		c, err := BuildCommand("ffmpeg", src, out, plan)
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		wall = runByHand(b, c, out, plan)
		return wall, cpuTime() - c0
	}
	for range b.N {
		hw1, hc1 := hand()

		tp := openPool(b, b.TempDir(), nil)
		tp.start(tp.pool)
		c0 := cpuTime()
		start := time.Now()
		_, taskID := tp.addVideoAt(src)
		tp.pool.Wake()
		task := tp.waitTask(taskID, 20*time.Minute, store.TaskCompleted, store.TaskFailed)
		taskWall, taskCPU := time.Since(start), cpuTime()-c0
		if task.Status != store.TaskCompleted {
			b.Fatalf("task %s: %s", task.Status, task.Error)
		}

		hw2, hc2 := hand()
		handWall, handCPU := (hw1+hw2)/2, (hc1+hc2)/2
		b.ReportMetric(taskWall.Seconds(), "task-s")
		b.ReportMetric(handWall.Seconds(), "hand-s")
		b.ReportMetric(taskWall.Seconds()/handWall.Seconds(), "task/hand")
		b.ReportMetric(taskCPU.Seconds()/handCPU.Seconds(), "task/hand-cpu")
	}
}

var (
	cameraOnce sync.Once
	cameraErr  error
)

// cameraSource makes a 60 s 1080p30 clip like a phone or camera upload, the
// same as `make bench`'s ladder step (bench/cmd/mikabench/ladder.go, which
// says why): H.264 High with CABAC and B-frames at 12 Mbit/s, testsrc2 with
// temporal noise so that it costs what real footage costs to decode.
func cameraSource(b *testing.B) string {
	b.Helper()
	needFFmpeg(b)
	if err := benchFolder(); err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(benchDir, "camera60.mp4")
	cameraOnce.Do(func() {
		if _, err := os.Stat(p); err == nil {
			return
		}
		out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y",
			"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60,noise=alls=5:allf=t",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
			"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-bf", "3", "-g", "60",
			"-b:v", "12000k", "-maxrate", "15000k", "-bufsize", "24000k", "-pix_fmt", "yuv420p",
			"-c:a", "aac", "-ac", "2", "-b:a", "128k", "-movflags", "+faststart", p+".tmp.mp4").CombinedOutput()
		if err != nil {
			cameraErr = &exec.ExitError{Stderr: out}
			return
		}
		cameraErr = os.Rename(p+".tmp.mp4", p)
	})
	if cameraErr != nil {
		b.Fatalf("camera source: %v", cameraErr)
	}
	return p
}

// BenchmarkLadderOneProcess compares the ladder in one ffmpeg process (one
// decode, the lower rungs scaled from the 720p picture) with one process
// per rung, run one after the other, each writing the same rung with the
// same settings and the same audio handling, on the camera-like 60 s 1080p
// clip. Target: per-rung/one ≥ 1.3. `make bench` (step ladder) runs the
// same comparison interleaved three times and reports the medians.
func BenchmarkLadderOneProcess(b *testing.B) {
	src := cameraSource(b)
	for range b.N {
		plan := planOf(b, src)
		out := filepath.Join(b.TempDir(), "hls")
		c, err := BuildCommand("ffmpeg", src, out, plan)
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		one := runByHand(b, c, out, plan)
		oneCPU := cpuTime() - c0
		c0 = cpuTime()
		var each time.Duration
		for _, r := range plan.Rungs {
			single := plan
			single.Rungs = []Rung{r}
			dir := filepath.Join(b.TempDir(), r.Name)
			c, err := BuildCommand("ffmpeg", src, dir, single)
			if err != nil {
				b.Fatal(err)
			}
			each += runByHand(b, c, dir, single)
		}
		b.ReportMetric(one.Seconds(), "one-process-s")
		b.ReportMetric(each.Seconds(), "per-rung-s")
		eachCPU := cpuTime() - c0
		b.ReportMetric(each.Seconds()/one.Seconds(), "per-rung/one")
		b.ReportMetric(eachCPU.Seconds()/oneCPU.Seconds(), "per-rung/one-cpu")
	}
}

// BenchmarkTimeToFirstPlay measures, for a 10-minute 1080p source, the time
// from queuing its task (what upload "complete" does) to the video being
// playable (play_url handed out). Target: ≤ 10 s.
func BenchmarkTimeToFirstPlay(b *testing.B) {
	_, src := benchSources(b)
	for range b.N {
		tp := openPool(b, b.TempDir(), nil)
		tp.start(tp.pool)
		start := time.Now()
		videoID, taskID := tp.addVideoAt(src)
		tp.pool.Wake()
		var took time.Duration
		for {
			v, err := tp.store.VideoByID(context.Background(), videoID)
			if err != nil {
				b.Fatal(err)
			}
			if v.Playable {
				took = time.Since(start)
				break
			}
			if v.TranscodeStatus == store.TaskFailed || time.Since(start) > 5*time.Minute {
				b.Fatalf("not playable: %s", v.TranscodeStatus)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := tp.store.CancelTask(context.Background(), taskID); err != nil {
			b.Fatal(err)
		}
		tp.pool.CancelTask(taskID)
		b.ReportMetric(took.Seconds(), "first-play-s")
	}
}
