// Command mikabench measures the targets of `make bench` against a built
// mika binary on 127.0.0.1, with temporary data folders, and writes
// bench/RESULTS.md. It installs and builds nothing: run it through
// bench/run.sh after `make build` (which also installs ffmpeg, wrk, nginx).
//
// Ratios are measured side by side in the same run (Mika, then the
// reference, then Mika or the reference again), since absolute times drift
// on a shared machine.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"mika/bench"
)

// result is one line of the results table.
type result struct {
	Name     string
	Figure   string
	Target   string
	Met      *bool // nil: reported, no target
	Err      string
	Details  []string
	Commands []string
}

func met(ok bool) *bool { return &ok }

// config is the run's sizes; quick mode shrinks them for a smoke test.
type config struct {
	mika, out, cache string
	quick            bool

	overheadClip bench.Clip
	ladderClip   cameraClip
	ttfpClip     bench.Clip
	uploadBytes  int64
	seedRows     int
	wrkSeconds   int
	latSeconds   int
}

func main() {
	var c config
	flag.StringVar(&c.mika, "mika", "./mika", "the mika binary")
	flag.StringVar(&c.out, "out", "bench/RESULTS.md", "results file")
	flag.StringVar(&c.cache, "cache", "bench/out", "folder for generated sources (kept between runs)")
	flag.BoolVar(&c.quick, "quick", os.Getenv("BENCH_QUICK") == "1", "small sizes, for a smoke test (BENCH_QUICK=1)")
	only := flag.String("only", "", "comma-separated steps to run (default all): start,overhead,hls,ladder,ttfp,upload,list")
	flag.Parse()
	log.SetFlags(log.Ltime)

	c.overheadClip = bench.Clip{Width: 1920, Height: 1080, Seconds: 60, Audio: true}
	c.ladderClip = cameraClip{Width: 1920, Height: 1080, Seconds: 60, Kbps: 12000}
	c.ttfpClip = bench.Clip{Width: 1920, Height: 1080, Seconds: 600, Audio: true, CRF: 28}
	c.uploadBytes = 2 << 30
	c.seedRows = 200_000
	c.wrkSeconds, c.latSeconds = 10, 10
	if c.quick {
		c.overheadClip = bench.Clip{Width: 1280, Height: 720, Seconds: 8, Audio: true}
		c.ladderClip = cameraClip{Width: 1280, Height: 720, Seconds: 8, Kbps: 6000}
		c.ttfpClip = bench.Clip{Width: 1920, Height: 1080, Seconds: 30, Audio: true, CRF: 28}
		c.uploadBytes = 256 << 20
		c.seedRows = 20_000
		c.wrkSeconds, c.latSeconds = 3, 3
	}
	abs, err := filepath.Abs(c.mika)
	if err != nil {
		log.Fatal(err)
	}
	c.mika = abs
	if _, err := os.Stat(c.mika); err != nil {
		log.Fatalf("%s: %v (run `make build` first)", c.mika, err)
	}
	if err := os.MkdirAll(c.cache, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, tool := range []string{"ffmpeg", "ffprobe", "wrk", "nginx"} {
		if _, err := lookPath(tool); err != nil {
			log.Fatalf("%s is missing: run `make bench` (it installs it) or apt-get install -y %s", tool, tool)
		}
	}

	started := time.Now()
	steps := []struct {
		name string
		run  func(*config) []result
	}{
		{"start", coldStart},
		{"overhead", overheadAndHLS},
		{"ladder", ladder},
		{"ttfp", timeToFirstPlay},
		{"upload", chunkedUpload},
		{"list", listAndSearch},
	}
	var results []result
	for _, s := range steps {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), s.name) &&
			!(s.name == "overhead" && slices.Contains(strings.Split(*only, ","), "hls")) {
			continue
		}
		log.Printf("== %s", s.name)
		rs := s.run(&c)
		for _, r := range rs {
			log.Printf("   %s: %s %s", r.Name, r.Figure, r.Err)
		}
		results = append(results, rs...)
	}
	md := report(&c, results, time.Since(started))
	if err := os.WriteFile(c.out, []byte(md), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println()
	fmt.Println("Mika benchmarks (" + mode(&c) + "), details in " + c.out + ":")
	failed := false
	for _, r := range results {
		verdict := "info"
		switch {
		case r.Err != "":
			verdict, failed = "ERROR", true
		case r.Met == nil:
		case *r.Met:
			verdict = "met"
		default:
			verdict = "NOT met"
		}
		target := ""
		if r.Target != "" {
			target = " (target " + r.Target + ")"
		}
		fmt.Printf("  %-8s %s: %s%s%s\n", verdict, r.Name, r.Figure, target, errSuffix(r.Err))
	}
	if failed {
		os.Exit(1)
	}
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " — " + e
}

func mode(c *config) string {
	if c.quick {
		return "QUICK mode: small sizes, figures not comparable to the targets"
	}
	return "full"
}

func lookPath(tool string) (string, error) {
	if p, err := exec.LookPath(tool); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, tool)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", tool)
}

// session is a server over a fresh data folder with an admin signed in and
// the per-IP rate limit off: a benchmark measures what the server can do,
// not how fast it turns a load generator away.
type session struct {
	root  string
	srv   *bench.Server
	admin *bench.Client
}

func newSession(c *config, name string) (*session, error) {
	root, err := os.MkdirTemp("", "mika-bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	srv, err := bench.StartServer(c.mika, filepath.Join(root, "data"), filepath.Join(root, "server.log"))
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	s := &session{root: root, srv: srv}
	anon := &bench.Client{Base: srv.Base()}
	tok, err := anon.Setup("bench_admin", "bench-admin-password")
	if err == nil {
		s.admin = anon.With(tok)
		err = s.admin.PutSettings(map[string]any{"rate_limit_rps": 0, "rate_limit_burst": 0})
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) restart() error {
	if err := s.srv.Start(); err != nil {
		return err
	}
	s.admin.Base = s.srv.Base()
	return nil
}

func (s *session) close() {
	if s.srv.PID() != 0 {
		s.srv.Stop(15 * time.Second)
	}
	os.RemoveAll(s.root)
}

func fail(name string, err error) []result {
	return []result{{Name: name, Err: err.Error()}}
}

// median is the middle value (the upper one of an even count).
func median[T cmp.Ordered](x []T) T {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtRatios(x []float64) string {
	out := make([]string, len(x))
	for i, r := range x {
		out[i] = fmt.Sprintf("%.3f×", r)
	}
	return strings.Join(out, ", ")
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// coldStart: process start to a healthy /healthz, on a fresh and on an
// existing data folder; idle memory; binary size.
func coldStart(c *config) []result {
	var out []result
	fi, err := os.Stat(c.mika)
	if err != nil {
		return fail("binary size", err)
	}
	out = append(out, result{Name: "Binary size", Figure: mib(fi.Size()), Commands: []string{"stat -c %s ./mika"}})

	root, err := os.MkdirTemp("", "mika-bench-start-")
	if err != nil {
		return fail("cold start", err)
	}
	defer os.RemoveAll(root)
	startOnce := func(data string) (time.Duration, error) {
		addr, err := bench.FreeAddr()
		if err != nil {
			return 0, err
		}
		cmd := exec.Command(c.mika, "serve", "--addr", addr, "--data", data)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		exited := make(chan struct{})
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		go func() { cmd.Wait(); close(exited) }()
		_, err = bench.WaitHealthy("http://"+addr, 20*time.Second, exited)
		took := time.Since(t0)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		return took, err
	}
	var fresh, existing []time.Duration
	for i := 0; i < 5; i++ {
		d, err := startOnce(filepath.Join(root, fmt.Sprintf("fresh-%d", i)))
		if err != nil {
			return append(out, result{Name: "Cold start", Err: err.Error()})
		}
		fresh = append(fresh, d)
	}
	for i := 0; i < 5; i++ {
		d, err := startOnce(filepath.Join(root, "fresh-0"))
		if err != nil {
			return append(out, result{Name: "Cold start", Err: err.Error()})
		}
		existing = append(existing, d)
	}
	worst := max(median(fresh), median(existing))
	out = append(out, result{
		Name:   "Cold start to healthy /healthz",
		Figure: fmt.Sprintf("%s new data folder, %s existing (medians of 5)", median(fresh).Round(time.Millisecond), median(existing).Round(time.Millisecond)),
		Target: "≤ 200 ms", Met: met(worst <= 200*time.Millisecond),
		Details: []string{fmt.Sprintf("new data folder (creates it and runs every migration): %v", fresh),
			fmt.Sprintf("existing data folder: %v", existing)},
		Commands: []string{"time from exec of `mika serve --addr 127.0.0.1:PORT --data DIR` to the first 200 from GET /healthz (polled every 2 ms)"},
	})

	// Idle memory: a started server with an admin, after a quiet while.
	s, err := newSession(c, "idle")
	if err != nil {
		return append(out, result{Name: "Idle RSS", Err: err.Error()})
	}
	defer s.close()
	s.admin.Do(http.MethodGet, "/api/videos", nil, "")
	time.Sleep(5 * time.Second)
	rss, err := bench.ProcStatus(s.srv.PID(), "VmRSS")
	if err != nil {
		return append(out, result{Name: "Idle RSS", Err: err.Error()})
	}
	out = append(out, result{Name: "Idle RSS", Figure: mib(rss), Target: "≤ 40 MB", Met: met(rss <= 40_000_000),
		Commands: []string{"VmRSS from /proc/PID/status, 5 s after setup, one login and one list"}})
	return out
}

// clipPath generates (or reuses) a source clip in the cache folder.
func clipPath(c *config, cl bench.Clip) (string, error) {
	name := fmt.Sprintf("src-%dx%d-%ds-crf%d.mp4", cl.Width, cl.Height, cl.Seconds, cl.CRF)
	p := filepath.Join(c.cache, name)
	if _, err := os.Stat(p); err != nil {
		log.Printf("   generating %s (cached for later runs): ffmpeg %s", p, strings.Join(cl.Args(p), " "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	return p, bench.MakeClip(ctx, "ffmpeg", p, cl)
}

// waitDone polls a video until its transcode is final: every 250 ms, and
// every 20 ms once the task says 95 % (the end is then seen within 20 ms,
// and the polling itself, which runs at normal priority beside the niced
// ffmpeg, costs a few hundred requests less).
func waitDone(cl *bench.Client, id int64, limit time.Duration) (*bench.Video, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		v, _, err := cl.Video(id)
		pause := 250 * time.Millisecond
		if err == nil {
			switch v.TranscodeStatus {
			case "completed":
				return v, nil
			case "failed", "canceled":
				return v, fmt.Errorf("video %d: transcode %s", id, v.TranscodeStatus)
			}
			if v.TranscodeProgress >= 95 {
				pause = 20 * time.Millisecond
			}
		}
		time.Sleep(pause)
	}
	return nil, fmt.Errorf("video %d not transcoded within %s", id, limit)
}

type taskEnd struct {
	event   string
	videoID int64
}

// webhookEnds points Mika's webhook_url at a listener on 127.0.0.1 and
// hands on each delivery's event and video id.
func webhookEnds(admin *bench.Client) (<-chan taskEnd, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	ch := make(chan taskEnd, 64)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Event string `json:"event"`
			Task  struct {
				VideoID int64 `json:"video_id"`
			} `json:"task"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		select {
		case ch <- taskEnd{body.Event, body.Task.VideoID}:
		default:
		}
	})}
	go srv.Serve(ln)
	if err := admin.PutSettings(map[string]any{"webhook_url": "http://" + ln.Addr().String() + "/hook"}); err != nil {
		srv.Close()
		return nil, nil, err
	}
	return ch, func() { srv.Close() }, nil
}

// overheadAndHLS: Mika's whole task against the same ffmpeg command run by
// hand; then segment serving against nginx over the output.
func overheadAndHLS(c *config) []result {
	src, err := clipPath(c, c.overheadClip)
	if err != nil {
		return fail("Transcoding overhead", err)
	}
	s, err := newSession(c, "overhead")
	if err != nil {
		return fail("Transcoding overhead", err)
	}
	defer s.close()

	// Mika's webhook says when a task has ended, so nothing asks the API
	// while ffmpeg runs: a client polling every 250 ms slowed ffmpeg itself
	// on this 2-core machine (interleaved runs, November 2026: Mika's
	// ffmpeg 12 % slower than the hand run with curl polling, level with it
	// when nothing polled), which is the bench's work, not Mika's.
	ended, stopHooks, err := webhookEnds(s.admin)
	if err != nil {
		return fail("Transcoding overhead", err)
	}
	defer stopHooks()
	// The hand run needs Mika's exact command: run Mika once first.
	runMika := func(title string) (int64, time.Duration, error) {
		f, err := os.Open(src)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		id, _, err := s.admin.UploadFile(title, filepath.Base(src), f)
		if err != nil {
			return 0, 0, err
		}
		t0 := time.Now()
		timeout := time.After(60 * time.Minute)
		for {
			select {
			case e := <-ended:
				if e.videoID != id {
					continue
				}
				took := time.Since(t0)
				if e.event != "task.completed" {
					return id, took, fmt.Errorf("video %d: %s", id, e.event)
				}
				_, err = waitDone(s.admin, id, time.Minute) // the API agrees
				return id, took, err
			case <-timeout:
				return id, 0, fmt.Errorf("video %d: no webhook within an hour", id)
			}
		}
	}
	id1, mika1, err := runMika("overhead run 1")
	if err != nil {
		return fail("Transcoding overhead", err)
	}
	task, err := s.admin.TaskOf(id1)
	if err == nil {
		task, err = s.admin.Task(task.ID)
	}
	if err != nil {
		return fail("Transcoding overhead", err)
	}
	// The log holds each command run as a "$ …" line: take the last ffmpeg.
	var args []string
	for _, line := range strings.Split(task.Log, "\n") {
		cmdline, ok := strings.CutPrefix(line, "$ ")
		if !ok {
			continue
		}
		a, err := shellSplit(cmdline)
		if err == nil && len(a) > 1 && strings.Contains(filepath.Base(a[0]), "ffmpeg") {
			args = a
		}
	}
	if args == nil {
		return fail("Transcoding overhead", fmt.Errorf("no ffmpeg command in the task log %.300q", task.Log))
	}
	hlsDir := filepath.Join(s.srv.Data, "media", "hls", strconv.FormatInt(id1, 10))
	// handRun runs the command as typed by hand, at the shell's priority.
	var handCPU []time.Duration
	handRun := func(n int) (time.Duration, string, error) {
		dir := filepath.Join(s.root, fmt.Sprintf("hand-%d", n))
		// The input is a copy of the clip written just before, as Mika's
		// input is the upload it just wrote: on this machine the same
		// command ran about 2 s (8 %) slower on a file just written than on
		// one read many times before (interleaved runs, November 2026),
		// which is no work of Mika's.
		input := dir + "-input" + filepath.Ext(src)
		if err := copyFileSync(src, input); err != nil {
			return 0, "", err
		}
		defer os.Remove(input)
		hand := make([]string, len(args))
		for i, a := range args {
			hand[i] = strings.ReplaceAll(a, hlsDir, dir)
			if i > 0 && args[i-1] == "-i" {
				hand[i] = input
			}
		}
		for _, name := range rungNames(hand) {
			if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
				return 0, "", err
			}
		}
		cmd := exec.Command(hand[0], hand[1:]...)
		cmd.Stdout = io.Discard
		var stderr strings.Builder
		cmd.Stderr = &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		t0 := time.Now()
		err := cmd.Run()
		took := time.Since(t0)
		defer os.RemoveAll(dir)
		if err != nil {
			return 0, "", fmt.Errorf("hand-typed ffmpeg: %v: %.500s", err, stderr.String())
		}
		handCPU = append(handCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		return took, shellJoin(hand), nil
	}
	// Interleaved pairs, the order swapped every pair (Mika, hand, hand,
	// Mika, Mika, hand, …) so that a drift of the machine's speed weighs on
	// both alike. Single runs on this shared machine spread by 5 % and more
	// within minutes (the same command took 21 s, then 33 s a few minutes
	// later), far more than Mika's own time around ffmpeg (about 1 %). So
	// the figure compares each run with its neighbour: the median of the
	// pairs' ratios, which a slow stretch of the machine moves far less than
	// the ratio of the two medians (also given).
	// (Earlier runs also timed the hand command under `nice -n 10`, Mika's
	// priority: the same as at the shell's on an idle machine.)
	mikaRuns, handRuns := []time.Duration{mika1}, []time.Duration{}
	var handCmd string
	pairs := 9
	if c.quick {
		pairs = 2
	}
	for i := 1; i <= pairs; i++ {
		if i > 1 && i%2 == 1 {
			_, m, err := runMika(fmt.Sprintf("overhead run %d", i))
			if err != nil {
				return fail("Transcoding overhead", err)
			}
			mikaRuns = append(mikaRuns, m)
		}
		h, cmdline, err := handRun(i)
		if err != nil {
			return fail("Transcoding overhead", err)
		}
		handRuns, handCmd = append(handRuns, h), cmdline
		if i%2 == 0 {
			_, m, err := runMika(fmt.Sprintf("overhead run %d", i))
			if err != nil {
				return fail("Transcoding overhead", err)
			}
			mikaRuns = append(mikaRuns, m)
		}
	}
	mikaT, handT := median(mikaRuns), median(handRuns)
	// mikaRuns[i] and handRuns[i] ran one after the other.
	var pairRatios []float64
	for i := range handRuns {
		pairRatios = append(pairRatios, mikaRuns[i].Seconds()/handRuns[i].Seconds())
	}
	ratio := median(pairRatios)
	// Mika logs how long its ffmpeg ran ("ffmpeg ended took=…"): the rest
	// of a Mika run is its own work (probe, master playlist, cover, polling).
	inside, insideCPU := ffmpegTimes(filepath.Join(s.root, "server.log"))
	var own []time.Duration
	for i := range min(len(inside), len(mikaRuns)) {
		own = append(own, mikaRuns[i]-inside[i])
	}
	round := func(d []time.Duration) []time.Duration {
		out := make([]time.Duration, len(d))
		for i, x := range d {
			out[i] = x.Round(10 * time.Millisecond)
		}
		return out
	}
	out := []result{{
		Name:   fmt.Sprintf("Transcoding overhead (%ds %dp clip)", c.overheadClip.Seconds, c.overheadClip.Height),
		Figure: fmt.Sprintf("%.3f× (median of %d side-by-side pairs; medians: Mika task %.1f s, same ffmpeg by hand %.1f s)", ratio, pairs, mikaT.Seconds(), handT.Seconds()),
		Target: "≤ 1.05", Met: met(ratio <= 1.05),
		Details: []string{fmt.Sprintf("Mika runs: %v (upload answered → Mika's task.completed webhook received, nothing asking the API meanwhile: probe, ffmpeg, master playlist, cover)", round(mikaRuns)),
			fmt.Sprintf("hand runs: %v (the task log's ffmpeg command, output folder changed, input a copy of the clip written just before, as Mika's is the upload it just stored; run as it is: Mika runs it at nice 10, the hand run at normal priority)", round(handRuns)),
			fmt.Sprintf("ffmpeg inside the Mika runs (its log's \"ffmpeg ended took=\"): %v; Mika's own time around it: %v", round(inside), round(own)),
			fmt.Sprintf("ffmpeg's CPU time (user + system): Mika runs %v, hand runs %v (equal CPU with a longer wall time means the run waited for the CPU)", round(insideCPU), round(handCPU)),
			fmt.Sprintf("order: Mika, hand, hand, Mika, Mika, hand, …; each pair's ratio: %s; the ratio of the medians: %.3f×",
				fmtRatios(pairRatios), mikaT.Seconds()/handT.Seconds())},
		Commands: []string{"source: ffmpeg " + shellJoin(c.overheadClip.Args(src)), handCmd},
	}}
	return append(out, hlsServing(c, s, id1))
}

// copyFileSync copies src to dst and syncs it, as an upload is stored.
func copyFileSync(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Sync(), out.Close())
}

// ffmpegTimes reads every "ffmpeg ended" line of a server log: its wall
// time (took=) and CPU time (cpu=, 0 when the line has none).
func ffmpegTimes(logFile string) (took, cpu []time.Duration) {
	b, _ := os.ReadFile(logFile)
	field := func(line, name string) time.Duration {
		_, after, ok := strings.Cut(line, " "+name+"=")
		if !ok {
			return 0
		}
		v, _, _ := strings.Cut(after, " ")
		d, _ := time.ParseDuration(v)
		return d
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `msg="ffmpeg ended"`) {
			took, cpu = append(took, field(line, "took")), append(cpu, field(line, "cpu"))
		}
	}
	return took, cpu
}

// rungNames reads the rung names from var_stream_map ("name:720p").
func rungNames(args []string) []string {
	var names []string
	for i, a := range args {
		if a == "-var_stream_map" && i+1 < len(args) {
			for _, f := range strings.Fields(args[i+1]) {
				for _, kv := range strings.Split(f, ",") {
					if n, ok := strings.CutPrefix(kv, "name:"); ok {
						names = append(names, n)
					}
				}
			}
		}
	}
	return names
}

// shellSplit splits a command line written with POSIX single and double quotes.
func shellSplit(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unclosed quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					cur.WriteByte(s[j])
					continue
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unclosed quote")
			}
			i = j
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ' || ch == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func shellJoin(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "" || strings.ContainsAny(a, " \t\n'\"$;&|()<>*?[]\\") {
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// wrkLua rotates through the paths listed in MIKA_WRK_PATHS.
const wrkLua = `local paths = {}
for line in io.lines(os.getenv("MIKA_WRK_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
`

// hlsServing: wrk over every segment of video id, signed URLs from Mika,
// against nginx serving the same files from the same folder.
func hlsServing(c *config, s *session, id int64) result {
	const name = "HLS segment serving vs nginx (wrk, 64 connections)"
	v, _, err := s.admin.Video(id)
	if err != nil {
		return result{Name: name, Err: err.Error()}
	}
	_, segs, err := s.admin.HLSFiles(v.PlayURL)
	if err != nil {
		return result{Name: name, Err: err.Error()}
	}
	// The same files for nginx: /videos/<id>/<rung>/<seg>?token=… is
	// media/hls/<id>/<rung>/<seg>.
	var mikaPaths, nginxPaths []string
	for _, p := range segs {
		mikaPaths = append(mikaPaths, p)
		plain, _, _ := strings.Cut(strings.TrimPrefix(p, "/videos"), "?")
		nginxPaths = append(nginxPaths, plain)
	}
	dir := filepath.Join(s.root, "wrk")
	os.MkdirAll(dir, 0o755)
	script := filepath.Join(dir, "paths.lua")
	os.WriteFile(script, []byte(wrkLua), 0o644)
	os.WriteFile(filepath.Join(dir, "mika.txt"), []byte(strings.Join(mikaPaths, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "nginx.txt"), []byte(strings.Join(nginxPaths, "\n")+"\n"), 0o644)

	ng, err := startNginx(filepath.Join(dir, "nginx"), filepath.Join(s.srv.Data, "media", "hls"))
	if err != nil {
		return result{Name: name, Err: err.Error()}
	}
	defer ng.stop()
	// Same bytes from both before measuring.
	st1, b1, err1 := s.admin.Get(mikaPaths[0])
	st2, b2, err2 := (&bench.Client{Base: ng.base}).Get(nginxPaths[0])
	if err1 != nil || err2 != nil || st1 != 200 || st2 != 200 || string(b1) != string(b2) {
		return result{Name: name, Err: fmt.Sprintf("mika and nginx disagree on %s: %d %v / %d %v", nginxPaths[0], st1, err1, st2, err2)}
	}
	var segBytes int64
	for _, p := range nginxPaths {
		if fi, err := os.Stat(filepath.Join(s.srv.Data, "media", "hls", p)); err == nil {
			segBytes += fi.Size()
		}
	}
	wrkRun := func(base, paths string) (float64, string, string, error) {
		args := []string{"-t2", "-c64", fmt.Sprintf("-d%ds", c.wrkSeconds), "-s", script, base + "/"}
		cmd := exec.Command("wrk", args...)
		cmd.Env = append(os.Environ(), "MIKA_WRK_PATHS="+paths)
		outb, err := cmd.CombinedOutput()
		text := string(outb)
		if err != nil {
			return 0, text, "", fmt.Errorf("wrk: %v: %s", err, text)
		}
		rps := 0.0
		for _, l := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Requests/sec:"); ok {
				rps, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
			if strings.Contains(l, "Non-2xx") {
				return 0, text, "", fmt.Errorf("wrk saw errors: %s", strings.TrimSpace(l))
			}
		}
		return rps, text, "MIKA_WRK_PATHS=" + paths + " wrk " + strings.Join(args, " "), nil
	}
	var mikaR, ngR []float64
	var mikaCmd, ngCmd, mikaOut, ngOut string
	for round := 0; round < 2; round++ {
		r, text, cmdline, err := wrkRun(ng.base, filepath.Join(dir, "nginx.txt"))
		if err != nil {
			return result{Name: name, Err: err.Error()}
		}
		ngR, ngCmd, ngOut = append(ngR, r), cmdline, text
		r, text, cmdline, err = wrkRun(s.srv.Base(), filepath.Join(dir, "mika.txt"))
		if err != nil {
			return result{Name: name, Err: err.Error()}
		}
		mikaR, mikaCmd, mikaOut = append(mikaR, r), cmdline, text
	}
	avg := func(x []float64) float64 { return (x[0] + x[1]) / 2 }
	ratio := avg(mikaR) / avg(ngR)
	return result{
		Name:   name,
		Figure: fmt.Sprintf("%.2f× nginx (Mika %.0f req/s, nginx %.0f req/s)", ratio, avg(mikaR), avg(ngR)),
		Target: "≥ 0.8×", Met: met(ratio >= 0.8),
		Details: []string{fmt.Sprintf("%d segments, %s in all, rotated; runs nginx, Mika, nginx, Mika: Mika %v, nginx %v req/s", len(segs), mib(segBytes), mikaR, ngR),
			"nginx: worker_processes auto, sendfile on, access_log off, same folder",
			"last Mika wrk output:\n" + indent(mikaOut), "last nginx wrk output:\n" + indent(ngOut)},
		Commands: []string{mikaCmd, ngCmd, "nginx -p " + filepath.Join(dir, "nginx") + " -c nginx.conf (conf in RESULTS below)"},
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

type nginx struct {
	cmd  *exec.Cmd
	base string
}

const nginxConf = `%s
worker_processes auto;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  types { video/mp2t ts; application/vnd.apple.mpegurl m3u8; }
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  server {
    listen %[3]s;
    root %[4]s;
  }
}
`

// startNginx serves root on a free loopback port from a private prefix,
// as the current user.
func startNginx(prefix, root string) (*nginx, error) {
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return nil, err
	}
	addr, err := bench.FreeAddr()
	if err != nil {
		return nil, err
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must read the data folder like Mika does
	}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, user, prefix, addr, root)), 0o644); err != nil {
		return nil, err
	}
	bin, err := lookPath("nginx")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", conf)
	logf, _ := os.Create(filepath.Join(prefix, "stderr.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &nginx{cmd: cmd, base: "http://" + addr}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(n.base + "/"); err == nil {
			res.Body.Close()
			return n, nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(prefix, "stderr.log"))
			e, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			return nil, fmt.Errorf("nginx exited: %s %s", b, e)
		case <-time.After(20 * time.Millisecond):
		}
	}
	n.stop()
	return nil, fmt.Errorf("nginx did not answer on %s", addr)
}

func (n *nginx) stop() {
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { n.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// timeToFirstPlay: from sending `complete` of a long 1080p upload to a
// play_url whose master playlist, first rung playlist and first segment
// all answer 200.
func timeToFirstPlay(c *config) []result {
	name := fmt.Sprintf("Upload complete → playable play_url (%d min %dp source)", c.ttfpClip.Seconds/60, c.ttfpClip.Height)
	if c.ttfpClip.Seconds < 60 {
		name = fmt.Sprintf("Upload complete → playable play_url (%d s %dp source)", c.ttfpClip.Seconds, c.ttfpClip.Height)
	}
	src, err := clipPath(c, c.ttfpClip)
	if err != nil {
		return fail(name, err)
	}
	s, err := newSession(c, "ttfp")
	if err != nil {
		return fail(name, err)
	}
	defer s.close()
	fi, err := os.Stat(src)
	if err != nil {
		return fail(name, err)
	}
	f, err := os.Open(src)
	if err != nil {
		return fail(name, err)
	}
	defer f.Close()
	u, err := s.admin.InitUpload("time to first play", filepath.Base(src), fi.Size(), "")
	if err != nil {
		return fail(name, err)
	}
	if err := sendChunks(s.admin, u, f, 3); err != nil {
		return fail(name, err)
	}
	t0 := time.Now()
	id, _, err := s.admin.Complete(u.ID)
	if err != nil {
		return fail(name, err)
	}
	answered := time.Since(t0)
	var playable, urlSeen time.Duration
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		v, _, err := s.admin.Video(id)
		if err == nil && v.PlayURL != "" {
			if urlSeen == 0 {
				urlSeen = time.Since(t0)
			}
			if _, _, err := firstSegment(s.admin, v.PlayURL); err == nil {
				playable = time.Since(t0)
				break
			}
		}
		if err == nil && (v.TranscodeStatus == "failed" || v.TranscodeStatus == "canceled") {
			return fail(name, fmt.Errorf("transcode %s", v.TranscodeStatus))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The rest of the ladder is not part of this figure: stop it.
	if t, err := s.admin.TaskOf(id); err == nil {
		s.admin.JSON(http.MethodPost, fmt.Sprintf("/api/admin/transcode/tasks/%d/cancel", t.ID), nil)
	}
	if playable == 0 {
		return fail(name, fmt.Errorf("not playable within 10 minutes"))
	}
	return []result{{
		Name: name, Figure: fmt.Sprintf("%.1f s", playable.Seconds()),
		Target: "≤ 10 s", Met: met(playable <= 10*time.Second),
		Details: []string{fmt.Sprintf("complete answered after %s; play_url first seen after %s; master, first rung playlist and its first segment all 200 after %s",
			answered.Round(time.Millisecond), urlSeen.Round(time.Millisecond), playable.Round(time.Millisecond)),
			fmt.Sprintf("source %s (%s), uploaded in chunks beforehand; detail polled every 100 ms", filepath.Base(src), mib(fi.Size()))},
		Commands: []string{"source: ffmpeg " + shellJoin(c.ttfpClip.Args(src))},
	}}
}

// firstSegment fetches a master playlist, its first rung playlist and that
// rung's first segment.
func firstSegment(cl *bench.Client, playURL string) (string, int, error) {
	st, body, err := cl.Get(playURL)
	if err != nil || st != 200 {
		return "", 0, fmt.Errorf("master: %d %v", st, err)
	}
	rungs := bench.PlaylistURIs(playURL, body)
	if len(rungs) == 0 {
		return "", 0, fmt.Errorf("master lists no rung")
	}
	st, body, err = cl.Get(rungs[0])
	if err != nil || st != 200 {
		return "", 0, fmt.Errorf("rung: %d %v", st, err)
	}
	segs := bench.PlaylistURIs(rungs[0], body)
	if len(segs) == 0 {
		return "", 0, fmt.Errorf("rung lists no segment")
	}
	st, body, err = cl.Get(segs[0])
	if err != nil || st != 200 {
		return "", 0, fmt.Errorf("segment: %d %v", st, err)
	}
	return segs[0], len(body), nil
}

// sendChunks uploads every chunk of f with inflight requests at a time.
func sendChunks(cl *bench.Client, u *bench.Upload, f *os.File, inflight int) error {
	jobs := make(chan int)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, u.ChunkSize)
			for i := range jobs {
				mu.Lock()
				stop := first != nil
				mu.Unlock()
				if stop {
					continue
				}
				n, err := f.ReadAt(buf, int64(i)*u.ChunkSize)
				if err == io.EOF {
					err = nil
				}
				if err == nil {
					var r *bench.Resp
					r, err = cl.Chunk(u.ID, i, buf[:n])
					if err == nil {
						err = r.OK()
					}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("chunk %d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < u.TotalChunks; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return first
}

// chunkedUpload: a large file through init/chunk/complete with three
// chunks in flight, against cp of the same file on the same disk; the
// server's peak memory.
func chunkedUpload(c *config) []result {
	name := fmt.Sprintf("Chunked upload of %s, 3 chunks in flight, vs cp", sizeName(c.uploadBytes))
	src := filepath.Join(c.cache, fmt.Sprintf("upload-%d.bin", c.uploadBytes))
	if err := randomFile(src, c.uploadBytes); err != nil {
		return fail(name, err)
	}
	s, err := newSession(c, "upload")
	if err != nil {
		return fail(name, err)
	}
	defer s.close()
	// Read the source once so every run reads it from the page cache.
	if f, err := os.Open(src); err == nil {
		io.Copy(io.Discard, f)
		f.Close()
	}
	// Every run starts after a sync (not timed), so that none pays for
	// writing back what the run before it left in the page cache: the
	// kernel throttles a writer while earlier dirty pages are flushed, and
	// plain cp runs of the same file took 0.7 s to 4.2 s without it. No
	// file is removed until every run is done: this disk is mounted with
	// `discard`, and deleting 2 GiB between runs made the next cp take
	// 7–9 s while cp + sync of the same file took 1.7 s.
	settle := func() { exec.Command("sync").Run() }
	var written []string
	defer func() {
		for _, p := range written {
			os.Remove(p)
		}
	}()
	cpRun := func(n int, withSync bool) (time.Duration, error) {
		dst := filepath.Join(s.root, fmt.Sprintf("cp-%d.bin", n))
		written = append(written, dst)
		settle()
		t0 := time.Now()
		if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("cp: %v %s", err, out)
		}
		if withSync {
			if out, err := exec.Command("sync", dst).CombinedOutput(); err != nil {
				return 0, fmt.Errorf("sync: %v %s", err, out)
			}
		}
		return time.Since(t0), nil
	}
	upRun := func(n int) (time.Duration, string, error) {
		f, err := os.Open(src)
		if err != nil {
			return 0, "", err
		}
		defer f.Close()
		settle()
		t0 := time.Now()
		u, err := s.admin.InitUpload(fmt.Sprintf("upload bench %d", n), filepath.Base(src), c.uploadBytes, "")
		if err != nil {
			return 0, "", err
		}
		if err := sendChunks(s.admin, u, f, 3); err != nil {
			return 0, "", err
		}
		id, _, err := s.admin.Complete(u.ID)
		took := time.Since(t0)
		if err != nil {
			return 0, "", err
		}
		identical := "not checked"
		if p, err := bench.OriginalPath(s.srv.Data, id); err == nil {
			written = append(written, p)
			a, _ := bench.SHA256File(p)
			b, _ := bench.SHA256File(src)
			identical = fmt.Sprint(a == b && a != "")
		}
		return took, identical, nil
	}
	// cp, API, cp, API, then cp + sync.
	var cps, ups []time.Duration
	var identical []string
	for i := 1; i <= 2; i++ {
		cp, err := cpRun(i, false)
		if err != nil {
			return fail(name, err)
		}
		up, same, err := upRun(i)
		if err != nil {
			return fail(name, err)
		}
		cps, ups, identical = append(cps, cp), append(ups, up), append(identical, same)
	}
	cpSync, err := cpRun(3, true)
	if err != nil {
		return fail(name, err)
	}
	hwm, _ := bench.ProcStatus(s.srv.PID(), "VmHWM")
	mbps := func(d time.Duration) float64 { return float64(c.uploadBytes) / (1 << 20) / d.Seconds() }
	cpT, upT := (cps[0]+cps[1])/2, (ups[0]+ups[1])/2
	ratio := mbps(upT) / mbps(cpT)
	ms := func(d []time.Duration) string {
		var out []string
		for _, x := range d {
			out = append(out, x.Round(time.Millisecond).String())
		}
		return strings.Join(out, ", ")
	}
	return []result{
		{
			Name:   name,
			Figure: fmt.Sprintf("%.2f× cp (API %.0f MiB/s, cp %.0f MiB/s, means of 2)", ratio, mbps(upT), mbps(cpT)),
			Target: "≥ 0.7×", Met: met(ratio >= 0.7),
			Details: []string{fmt.Sprintf("API runs (init → last chunk → complete answered): %s; stored originals byte-identical: %s", ms(ups), strings.Join(identical, ", ")),
				fmt.Sprintf("cp runs: %s; cp followed by `sync FILE` (data on disk, as an acknowledged chunk must be): %s = %.0f MiB/s (API = %.2f× of that)",
					ms(cps), cpSync.Round(time.Millisecond), mbps(cpSync), mbps(upT)/mbps(cpSync)),
				"order: cp, API, cp, API, cp + sync; each run after an untimed `sync`; nothing deleted until the end",
				"source and destinations on the same file system; the source was read once before, so every run reads it from the page cache"},
			Commands: []string{"cp SRC DST", "cp SRC DST && sync DST", "POST /api/videos/upload/init, " + strconv.Itoa(int((c.uploadBytes+5242879)/5242880)) + " × POST /api/videos/upload/chunk (3 at a time), POST /api/videos/upload/complete"},
		},
		{
			Name: "Server peak RSS during the chunked upload", Figure: mib(hwm),
			Target: "≤ 100 MB", Met: met(hwm > 0 && hwm <= 100_000_000),
			Commands: []string{"VmHWM from /proc/PID/status of a server started for this step, after two uploads"},
		},
	}
}

func sizeName(b int64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%d GiB", b>>30)
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

// randomFile writes size pseudo-random bytes (incompressible, fast) to p,
// unless it is already there.
func randomFile(p string, size int64) error {
	if fi, err := os.Stat(p); err == nil && fi.Size() == size {
		return nil
	}
	log.Printf("   writing %s (%s, cached for later runs)", p, sizeName(size))
	tmp := p + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	var x uint64 = 0x9E3779B97F4A7C15
	for written := int64(0); written < size; {
		for i := 0; i+8 <= len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			for k := 0; k < 8; k++ {
				buf[i+k] = byte(x >> (8 * k))
			}
		}
		n := min(int64(len(buf)), size-written)
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		written += n
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// listAndSearch: GET /api/videos pages and keyword searches over seeded
// rows, 50 connections, p99.
func listAndSearch(c *config) []result {
	s, err := newSession(c, "list")
	if err != nil {
		return fail("List and search", err)
	}
	defer s.close()
	s.srv.Stop(15 * time.Second)
	t0 := time.Now()
	if err := bench.Seed(context.Background(), filepath.Join(s.srv.Data, "mika.db"), c.seedRows, 1); err != nil {
		return fail("List and search", err)
	}
	seedTook := time.Since(t0)
	if err := s.restart(); err != nil {
		return fail("List and search", err)
	}
	// The server tidies a freshly loaded search index at start (seconds of
	// CPU after 200,000 rows at once): measure after that, as a library
	// that has been running would be.
	settled := waitIdle(s.srv.PID(), time.Minute)
	// Each scenario is one path, or (with hi > 0) a path with %d drawn
	// at random from lo..hi for every request, so that hardly any two are
	// alike and the server's kept pages (server/listcache.go) rarely
	// answer: the cost of the queries.
	type scenario struct {
		name, path string
		lo, hi     int
	}
	pages := (c.seedRows + 19) / 20
	scs := []scenario{
		{"list, newest first", "/api/videos", 0, 0},
		{"list, most viewed", "/api/videos?order=views", 0, 0},
		{"list, page 500", "/api/videos?page=500", 0, 0},
		{"list, one category", "/api/videos?category_id=3", 0, 0},
	}
	for _, k := range bench.SeedKeywords() {
		scs = append(scs, scenario{"search: " + k.Name + " (" + k.Keyword + ")", "/api/videos?keyword=" + urlQuery(k.Keyword), 0, 0})
	}
	scs = append(scs,
		scenario{fmt.Sprintf("uncached: list, a random page of all %d", pages), "/api/videos?page=%d", 1, pages},
		scenario{fmt.Sprintf("uncached: list, most viewed, a random page of all %d", pages), "/api/videos?order=views&page=%d", 1, pages},
		scenario{"uncached: search, a random number as keyword", "/api/videos?keyword=%d", 100, c.seedRows - 1},
	)
	dir := filepath.Join(s.root, "wrk")
	os.MkdirAll(dir, 0o755)
	script := filepath.Join(dir, "latency.lua")
	os.WriteFile(script, []byte(wrkLatencyLua), 0o644)
	var out []result
	for _, sc := range scs {
		name := fmt.Sprintf("%s at %d videos", sc.name, c.seedRows)
		shown := sc.path
		if sc.hi > 0 {
			shown = strings.Replace(sc.path, "%d", fmt.Sprintf("<%d–%d>", sc.lo, sc.hi), 1)
		}
		// A second of warm-up, then the measured run; then one connection
		// alone: what a request costs without queueing. (With 50 closed-loop
		// connections, p99 ≤ 20 ms needs about 2,500 answers a second at the
		// very least, more since latencies spread.)
		run := func(conns, secs int) (wrkLatency, string, error) {
			return runWrkLatency(s.srv.Base(), script, sc.path, sc.lo, sc.hi, conns, secs)
		}
		if _, _, err := run(50, 1); err != nil {
			out = append(out, result{Name: name, Err: err.Error()})
			continue
		}
		l, cmdline, err := run(50, c.latSeconds)
		if err != nil {
			out = append(out, result{Name: name, Err: err.Error()})
			continue
		}
		one, _, err := run(1, max(1, c.latSeconds/2))
		if err != nil {
			out = append(out, result{Name: name, Err: err.Error()})
			continue
		}
		r := result{
			Name:   name,
			Figure: fmt.Sprintf("p99 %.1f ms (p50 %.1f ms, %.0f req/s; one connection alone: p99 %.1f ms)", l.p99, l.p50, l.rps, one.p99),
			Target: "p99 ≤ 20 ms",
			Met:    met(l.p99 <= 20 && l.bad == 0),
			Details: []string{fmt.Sprintf("%d requests, %d not 200 or failed, max %.1f ms; one connection alone: %d requests, p50 %.1f ms, p99 %.1f ms",
				l.requests, l.bad, l.max, one.requests, one.p50, one.p99)},
			Commands: []string{fmt.Sprintf("GET %s — %s, after 1 s of warm-up", shown, cmdline),
				fmt.Sprintf("rows seeded straight into the database in %s (bench.Seed); the restarted server was idle after %s", seedTook.Round(time.Millisecond), settled.Round(100*time.Millisecond))},
		}
		if l.bad > 0 {
			r.Err = fmt.Sprintf("%d answers were not 200", l.bad)
		}
		out = append(out, r)
	}
	return out
}

// wrkLatencyLua asks MIKA_WRK_PATH, with %d replaced by a random number
// from MIKA_WRK_LO..MIKA_WRK_HI when MIKA_WRK_HI is above 0 (each thread
// its own random sequence), and prints one line of figures at the end.
const wrkLatencyLua = `local path = os.getenv("MIKA_WRK_PATH")
local lo = tonumber(os.getenv("MIKA_WRK_LO") or "0")
local hi = tonumber(os.getenv("MIKA_WRK_HI") or "0")
local threads = 0
function setup(thread)
  thread:set("seed", 7919 * threads + 1)
  threads = threads + 1
end
function init(args)
  math.randomseed(seed)
  if hi > 0 then
    request = function()
      return wrk.format("GET", string.format(path, math.random(lo, hi)))
    end
  else
    wrk.path = path
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("MIKA-LATENCY %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`

// wrkLatency is one wrk run's figures: latencies in milliseconds.
type wrkLatency struct {
	requests, bad int
	rps           float64
	p50, p99, max float64
}

// runWrkLatency runs wrk with conns connections (closed loop) for secs
// against base+path (see wrkLatencyLua) and answers its figures and the
// command line.
func runWrkLatency(base, script, path string, lo, hi, conns, secs int) (wrkLatency, string, error) {
	threads := min(2, conns)
	args := []string{fmt.Sprintf("-t%d", threads), fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs), "-s", script, base}
	cmd := exec.Command("wrk", args...)
	env := []string{"MIKA_WRK_PATH=" + path, fmt.Sprintf("MIKA_WRK_LO=%d", lo), fmt.Sprintf("MIKA_WRK_HI=%d", hi)}
	cmd.Env = append(os.Environ(), env...)
	cmdline := strings.Join(env, " ") + " wrk " + strings.Join(args, " ")
	outb, err := cmd.CombinedOutput()
	if err != nil {
		return wrkLatency{}, cmdline, fmt.Errorf("wrk: %v: %s", err, outb)
	}
	for _, line := range strings.Split(string(outb), "\n") {
		f, ok := strings.CutPrefix(line, "MIKA-LATENCY ")
		if !ok {
			continue
		}
		var n, durUS, bad int
		var p50, p99, mx float64
		if _, err := fmt.Sscan(f, &n, &durUS, &bad, &p50, &p99, &mx); err != nil {
			return wrkLatency{}, cmdline, fmt.Errorf("wrk's figures %q: %v", f, err)
		}
		if n == 0 || durUS == 0 {
			return wrkLatency{}, cmdline, fmt.Errorf("wrk made no request: %s", outb)
		}
		return wrkLatency{requests: n, bad: bad, rps: float64(n) / (float64(durUS) / 1e6),
			p50: p50 / 1000, p99: p99 / 1000, max: mx / 1000}, cmdline, nil
	}
	return wrkLatency{}, cmdline, fmt.Errorf("no figures in wrk's output: %s", outb)
}

// waitIdle waits until process pid used under 5 % of a CPU over half a
// second, or limit passed, and answers how long that took.
func waitIdle(pid int, limit time.Duration) time.Duration {
	cpu := func() int64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return -1
		}
		// The fields after the command name (which may hold spaces):
		// utime and stime are the 12th and 13th of them, in clock ticks.
		_, rest, _ := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if len(f) < 13 {
			return -1
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		return u + s
	}
	start := time.Now()
	for time.Since(start) < limit {
		before := cpu()
		time.Sleep(500 * time.Millisecond)
		after := cpu()
		if before < 0 || after < 0 || after-before <= 2 { // ticks of 10 ms: ≤ 20 ms of 500
			break
		}
	}
	return time.Since(start)
}

func urlQuery(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// report writes RESULTS.md.
func report(c *config, results []result, took time.Duration) string {
	var b strings.Builder
	b.WriteString("# Mika benchmark results\n\n")
	b.WriteString("Written by `make bench` (bench/run.sh → bench/cmd/mikabench). Mode: " + mode(c) + ". ")
	b.WriteString(fmt.Sprintf("Run took %s.\n\n", took.Round(time.Second)))
	b.WriteString("| Measure | Figure | Target | Verdict |\n|---|---|---|---|\n")
	for _, r := range results {
		verdict := "—"
		switch {
		case r.Err != "":
			verdict = "**error**: " + r.Err
		case r.Met == nil:
		case *r.Met:
			verdict = "met"
		default:
			verdict = "**NOT met**"
		}
		b.WriteString(fmt.Sprintf("| %s | %s | %s | %s |\n", cell(r.Name), cell(r.Figure), cell(r.Target), cell(verdict)))
	}
	b.WriteString("\n## Machine\n\n")
	for _, l := range machine(c) {
		b.WriteString("- " + l + "\n")
	}
	b.WriteString("\n## Details and commands\n")
	for _, r := range results {
		b.WriteString("\n### " + r.Name + "\n\n")
		for _, d := range r.Details {
			if strings.Contains(d, "\n") {
				title, body, _ := strings.Cut(d, "\n")
				b.WriteString("- " + title + "\n\n```\n" + strings.TrimLeft(body, "\n") + "\n```\n\n")
			} else {
				b.WriteString("- " + d + "\n")
			}
		}
		for _, cmd := range r.Commands {
			b.WriteString("- `" + strings.ReplaceAll(cmd, "`", "'") + "`\n")
		}
		if r.Err != "" {
			b.WriteString("- error: " + r.Err + "\n")
		}
	}
	b.WriteString("\n## nginx configuration used for the comparison\n\n```nginx\n" +
		fmt.Sprintf(nginxConf, "[user root; when run as root]", "PREFIX", "127.0.0.1:PORT", "DATA/media/hls") + "```\n")
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }

// machine describes where the figures come from.
func machine(c *config) []string {
	first := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return "unavailable"
		}
		l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return l
	}
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		mem = strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " ")
	}
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	ngx, _ := lookPath("nginx")
	return []string{
		"date: " + time.Now().UTC().Format("2006-01-02 15:04:05 UTC"),
		fmt.Sprintf("CPU: %s, %d cores (nproc)", cpu, runtime.NumCPU()),
		"memory: " + mem,
		"load average at the end of the run: " + load + " (other work on the machine skews absolute figures; the ratios are side by side)",
		"kernel: " + first("uname", "-sr"),
		"file system of the temporary folders: " + first("sh", "-c", "df -T "+os.TempDir()+" | tail -1 | awk '{print $1\" \"$2}'"),
		"mika: " + first(c.mika, "version"),
		"go: " + first("go", "version"),
		"ffmpeg: " + first("ffmpeg", "-hide_banner", "-version"),
		"wrk: " + first("sh", "-c", "wrk -v 2>&1 | head -1"),
		"nginx: " + first(ngx, "-v"),
	}
}
