package transcoder

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// errStalled is the cause of a run killed for making no progress.
var errStalled = errors.New("stalled")

// stderrTailBytes bounds the stderr kept for a task's log.
const stderrTailBytes = 64 << 10

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2*t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// String is the kept tail, cut at a line start when it was truncated.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.b
	if len(b) > t.max {
		b = b[len(b)-t.max:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// progressEvent is one block of ffmpeg's -progress output.
type progressEvent struct {
	OutTimeUS int64 // -1 when ffmpeg has no time yet ("N/A")
	End       bool
}

// readProgress parses ffmpeg's "-progress pipe:1" key=value lines and calls
// fn at the end of every block ("progress=continue|end").
func readProgress(r io.Reader, fn func(progressEvent)) error {
	sc := bufio.NewScanner(r)
	ev := progressEvent{OutTimeUS: -1}
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		switch k {
		case "out_time_us", "out_time_ms": // both are microseconds in ffmpeg 5.1
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				ev.OutTimeUS = n
			}
		case "progress":
			ev.End = v == "end"
			fn(ev)
			ev = progressEvent{OutTimeUS: ev.OutTimeUS}
		}
	}
	return sc.Err()
}

// percent turns an output time into progress 0–100 of duration seconds;
// ffmpeg's last times may pass the duration, so it is clamped, and 100 is
// kept for the end of the task.
func percent(outUS int64, duration float64) int {
	if duration <= 0 || outUS <= 0 {
		return 0
	}
	p := int(float64(outUS) / 1e6 / duration * 100)
	return min(max(p, 0), 99)
}

// runner starts ffmpeg processes.
type runner struct {
	nice  string        // path of nice(1), or "" to renice after start
	stall time.Duration // no progress for this long kills the run
	// cpu, when not nil, is set to the CPU time (user + system) ffmpeg
	// used once it exited: with the wall time it tells a slow run from
	// one that waited for the CPU.
	cpu *time.Duration
}

// run executes cmd to the end. ctx's end kills ffmpeg's whole process
// group. onProgress gets the output time (µs) whenever it advances. The
// returned tail is the end of stderr (bounded); err is errStalled (wrapped)
// when the run made no progress for r.stall.
func (r runner) run(ctx context.Context, c Command, onProgress func(outUS int64)) (tail string, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	path, args := c.Path, c.Args
	if r.nice != "" {
		path, args = r.nice, append([]string{"-n", "10", c.Path}, c.Args...)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	// Its own process group, so a kill reaches whatever ffmpeg started;
	// killed with the server, so no orphan outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	stderr := &tailBuffer{max: stderrTailBytes}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start ffmpeg: %w", err)
	}
	if r.nice == "" {
		_ = syscall.Setpriority(syscall.PRIO_PGRP, cmd.Process.Pid, 10)
	}

	var mu sync.Mutex
	last, lastUS := time.Now(), int64(-1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = readProgress(stdout, func(ev progressEvent) {
			mu.Lock()
			advanced := ev.OutTimeUS > lastUS
			if advanced {
				last, lastUS = time.Now(), ev.OutTimeUS
			}
			mu.Unlock()
			if advanced && onProgress != nil {
				onProgress(ev.OutTimeUS)
			}
		})
		_, _ = io.Copy(io.Discard, stdout)
	}()
	if r.stall > 0 {
		go func() {
			tick := time.NewTicker(min(time.Second, r.stall/4))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-done:
					return
				case <-tick.C:
					mu.Lock()
					idle := time.Since(last)
					mu.Unlock()
					if idle >= r.stall {
						cancel(errStalled)
						return
					}
				}
			}
		}()
	}
	<-done
	err = cmd.Wait()
	if r.cpu != nil && cmd.ProcessState != nil {
		*r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	tail = stderr.String()
	if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
		return tail, fmt.Errorf("%w: no progress for %ds", errStalled, int(r.stall.Round(time.Second)/time.Second))
	}
	if ctx.Err() != nil {
		return tail, context.Cause(ctx)
	}
	if err != nil {
		if sig, ok := signaled(err); ok {
			// Its last words are whatever it was doing, not why it ended.
			return tail, fmt.Errorf("ffmpeg ended by signal %d (%s)", int(sig), sig)
		}
		return tail, fmt.Errorf("ffmpeg failed (%s): %s", exitReason(err), lastErrorLine(tail))
	}
	return tail, nil
}

// signaled reports the signal that ended a command, if one did.
func signaled(err error) (syscall.Signal, bool) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal(), true
		}
	}
	return 0, false
}

func exitReason(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	return err.Error()
}

// lastErrorLine picks the line of ffmpeg's stderr that best says what went
// wrong: the last one that looks like an error, else the last line.
func lastErrorLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	pick := ""
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if pick == "" {
			pick = l
		}
		low := strings.ToLower(l)
		if strings.Contains(low, "error") || strings.Contains(low, "invalid") || strings.Contains(low, "no such") ||
			strings.Contains(low, "not found") || strings.Contains(low, "failed") || strings.Contains(low, "unknown") {
			pick = l
			break
		}
	}
	if pick == "" {
		pick = "no output"
	}
	if len(pick) > 300 {
		pick = pick[:300]
	}
	return pick
}

// commandLine renders a command for the task log, quoting what needs it.
func commandLine(c Command) string {
	var b strings.Builder
	b.WriteString(c.Path)
	for _, a := range c.Args {
		b.WriteByte(' ')
		if a == "" || strings.ContainsAny(a, " \t\n'\"$;&|()<>*?[]") {
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}
