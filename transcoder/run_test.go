package transcoder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReadProgress(t *testing.T) {
	in := "frame=10\nfps=0.0\nout_time_us=N/A\nprogress=continue\n" +
		"frame=20\nout_time_ms=1500000\nout_time_us=1500000\nout_time=00:00:01.500000\nprogress=continue\n" +
		"garbage line\n\n" +
		"out_time_us=-5\nprogress=continue\n" +
		"out_time_us=4100000\nprogress=end\n"
	var got []progressEvent
	if err := readProgress(strings.NewReader(in), func(ev progressEvent) { got = append(got, ev) }); err != nil {
		t.Fatal(err)
	}
	want := []progressEvent{{-1, false}, {1500000, false}, {1500000, false}, {4100000, true}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		us   int64
		dur  float64
		want int
	}{
		{-1, 10, 0}, {0, 10, 0}, {5_000_000, 10, 50}, {9_990_000, 10, 99},
		{12_000_000, 10, 99}, // ffmpeg's last time may pass the duration
		{1_000_000, 0, 0},    // unknown duration
	}
	for _, tt := range tests {
		if got := percent(tt.us, tt.dur); got != tt.want {
			t.Errorf("percent(%d, %v) = %d, want %d", tt.us, tt.dur, got, tt.want)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 20}
	for i := range 50 {
		tb.Write([]byte("line " + strconv.Itoa(i) + "\n"))
	}
	got := tb.String()
	if len(got) > 20 || !strings.HasSuffix(got, "line 49\n") || strings.HasPrefix(got, "ine") {
		t.Errorf("tail %q", got)
	}
}

func TestLastErrorLine(t *testing.T) {
	got := lastErrorLine("Input #0\n[h264 @ 0x1] error while decoding MB 3 4\nframe=1\n  \n")
	if got != "[h264 @ 0x1] error while decoding MB 3 4" {
		t.Errorf("got %q", got)
	}
	if got := lastErrorLine(""); got != "no output" {
		t.Errorf("got %q", got)
	}
}

// fakeFFmpeg writes a shell script standing in for ffmpeg.
func fakeFFmpeg(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunnerKilledBySignal: an ffmpeg killed from outside is said to be,
// once, without its unrelated last stderr line.
func TestRunnerKilledBySignal(t *testing.T) {
	ff := fakeFFmpeg(t, `echo "[hls @ 0x1] Opening '/data/media/hls/1/720p/index.m3u8.tmp' for writing" >&2; kill -9 $$`)
	tail, err := runner{stall: time.Minute}.run(context.Background(), Command{Path: ff}, func(int64) {})
	if err == nil || err.Error() != "ffmpeg ended by signal 9 (killed)" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(tail, "Opening") {
		t.Errorf("the log's tail lost stderr: %q", tail)
	}
}

func TestRunnerFailureKeepsStderrTail(t *testing.T) {
	ff := fakeFFmpeg(t, `i=0; while [ $i -lt 6000 ]; do echo "noise line $i" >&2; i=$((i+1)); done
echo "out_time_us=1000000"; echo "progress=continue"
echo "/in.mp4: Invalid data found when processing input" >&2; exit 1`)
	var seen []int64
	tail, err := runner{stall: time.Minute}.run(context.Background(), Command{Path: ff}, func(us int64) { seen = append(seen, us) })
	if err == nil || !strings.Contains(err.Error(), "exit status 1") || !strings.Contains(err.Error(), "Invalid data found") {
		t.Fatalf("err = %v", err)
	}
	if len(tail) > stderrTailBytes || !strings.Contains(tail, "noise line 5999") || strings.Contains(tail, "noise line 1\n") {
		t.Errorf("tail of %d bytes is not the bounded end", len(tail))
	}
	if len(seen) != 1 || seen[0] != 1000000 {
		t.Errorf("progress %v", seen)
	}
}

func TestRunnerCancelKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	sleep := filepath.Join(dir, "sleeper")
	if err := os.Link("/bin/sleep", sleep); err != nil {
		b, err := os.ReadFile("/bin/sleep")
		if err != nil {
			t.Skip("no /bin/sleep")
		}
		os.WriteFile(sleep, b, 0o755)
	}
	// The fake starts a grandchild that must die with it.
	ff := fakeFFmpeg(t, sleep+" 30 & "+sleep+" 31; wait")
	marker := dir
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := runner{stall: time.Minute}.run(ctx, Command{Path: ff}, nil)
		errc <- err
	}()
	deadline := time.Now().Add(testWait)
	for len(ffmpegsFor(marker)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("fake ffmpeg did not start: %v", ffmpegsFor(marker))
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancel took %s", took)
	}
	// Every process of the group is gone within the 2 s of SPEC §7. (A
	// killed process has left /proc's command lines once run has read the
	// end of its stdout; the wait only covers a slow kernel.)
	for {
		pids := ffmpegsFor(marker)
		if len(pids) == 0 {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("processes survived: %v", pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunnerStall(t *testing.T) {
	ff := fakeFFmpeg(t, `echo "out_time_us=1"; echo "progress=continue"; exec sleep 30`)
	start := time.Now()
	_, err := runner{stall: 500 * time.Millisecond}.run(context.Background(), Command{Path: ff}, nil)
	if !errors.Is(err, errStalled) {
		t.Fatalf("err = %v", err)
	}
	// Detected by the stall timer, long before the fake would end by
	// itself (30 s): a loaded machine may take a few seconds more.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stall detected after %s", took)
	}
}

func TestRunnerNice(t *testing.T) {
	if n := ownNice(t); n != 0 {
		t.Skipf("the test itself runs at nice %d; ffmpeg's level is only checked from 0", n)
	}
	// The fake reports its own nice value (field 19 of /proc/PID/stat).
	ff := fakeFFmpeg(t, `sleep 0.2; echo "nice=$(cut -d' ' -f19 /proc/$$/stat)" >&2`)
	for _, nice := range []string{"", "/usr/bin/nice"} {
		if nice != "" {
			if _, err := os.Stat(nice); err != nil {
				continue
			}
		}
		tail, err := runner{nice: nice}.run(context.Background(), Command{Path: ff}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(tail) != "nice=10" {
			t.Errorf("nice %q: ffmpeg ran with %q, want nice=10", nice, tail)
		}
	}
}

// ownNice is this process's nice value (field 19 of /proc/self/stat).
func ownNice(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	// The command name (field 2) may hold spaces; count from after it.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	var n int
	fmt.Sscan(strings.Fields(rest)[16], &n)
	return n
}

// The runner reports the CPU time ffmpeg used: a fake one that spins for a
// while reports some, and never more than it could have used.
func TestRunnerReportsCPUTime(t *testing.T) {
	ff := fakeFFmpeg(t, `i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo "progress=end"`)
	var cpu time.Duration
	began := time.Now()
	if _, err := (runner{stall: time.Minute, cpu: &cpu}).run(context.Background(), Command{Path: ff}, nil); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(began)
	if cpu <= 0 || cpu > wall*time.Duration(runtime.NumCPU()) {
		t.Fatalf("cpu %v for a run of %v", cpu, wall)
	}
}
