// Package transcoder owns transcode tasks and the ffmpeg processes that run
// them: the worker pool, the ladder plan and the process runner.
package transcoder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"mika/store"
	"mika/store/media"
)

// Config is what the pool is built from.
type Config struct {
	Store   *store.Store
	Data    media.Dir
	FFmpeg  string // path or name on PATH
	FFprobe string
	Log     *slog.Logger
	// OnTaskEnd, when set, is called in its own goroutine after a task
	// reaches completed or failed (the webhook).
	OnTaskEnd func(ctx context.Context, taskID int64)
	// Detection, when set, is the first ffmpeg detection, started early
	// with DetectFFmpeg for the same FFmpeg and FFprobe.
	Detection *Detection
}

// Defaults of the pool's timings; tests shorten them.
const (
	DefaultStallTimeout = 120 * time.Second
	defaultPoll         = 3 * time.Second
	ffmpegRedetect      = 30 * time.Second
	// maxAttempts is the first run plus the two automatic retries of a
	// stalled task.
	maxAttempts = 3
)

// Causes of a task's context ending.
var (
	errCanceled = errors.New("task canceled")
	errShutdown = errors.New("pool shutting down")
)

// Pool runs transcode tasks, as many at once as the transcode_concurrency
// setting says (read before every claim, so a change applies live).
type Pool struct {
	cfg Config
	log *slog.Logger

	// StallTimeout is how long ffmpeg may go without progress before the
	// task is killed as stalled. Set before Start.
	StallTimeout time.Duration
	// PollInterval is how often idle workers look for tasks without a Wake.
	PollInterval time.Duration

	mu       sync.Mutex
	version  string
	stored   detectedVersion // what the store remembers
	early    *Detection      // Config.Detection until the first detect
	hw       []string
	detected time.Time
	jobs     map[int64]*job
	// toneMap says whether the ffmpeg of version toneMapFor has the
	// filters HDR sources need (canToneMap).
	toneMap    bool
	toneMapFor string

	// known is closed once version can be trusted: remembered from an
	// earlier start with the same binaries, or read by this one.
	// firstDetect is closed once this start's first ffmpeg detection has
	// finished, hwDetected once the hardware encoders have been tried.
	known       chan struct{}
	firstDetect chan struct{}
	hwDetected  chan struct{}
	versionWait time.Duration

	wake   chan struct{}
	stop   context.CancelCauseFunc
	wg     sync.WaitGroup
	nice   string
	closed bool
}

// job is a running task.
type job struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// New builds a pool; Start runs it.
func New(cfg Config) *Pool {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.FFprobe == "" {
		cfg.FFprobe = "ffprobe"
	}
	nice, _ := exec.LookPath("nice")
	return &Pool{cfg: cfg, log: cfg.Log, StallTimeout: DefaultStallTimeout, PollInterval: defaultPoll,
		hw: []string{"none"}, jobs: map[int64]*job{}, wake: make(chan struct{}, 1), nice: nice,
		known: make(chan struct{}), firstDetect: make(chan struct{}), hwDetected: make(chan struct{}),
		versionWait: versionWait, early: cfg.Detection}
}

// Start requeues tasks an earlier run left processing, detects ffmpeg and
// the hardware encoders in the background, and dispatches tasks once both
// detections are done, until ctx ends or Shutdown. It does not wait for
// `ffmpeg -version`: when the binaries are the very files an earlier start
// read the version from, that version is known at once; otherwise
// FFmpegVersion waits for it.
func (p *Pool) Start(ctx context.Context) {
	ctx, p.stop = context.WithCancelCause(ctx)
	if n, err := p.cfg.Store.RequeueProcessing(ctx); err != nil {
		p.log.Error("requeue interrupted tasks", slog.Any("err", err))
	} else if n > 0 {
		p.log.Info("requeued interrupted tasks", slog.Int64("tasks", n))
	}
	// A binary that is not there at all is known at once, so the first
	// answer of /healthz after such a start already says "missing". The
	// version of one that is there is read in the background (`ffmpeg
	// -version` takes 0.1–0.4 s: it loads some 200 libraries); a stat of
	// each binary tells whether the version remembered from an earlier
	// start still holds, in which case nothing waits for it.
	stored := p.remembered(ctx)
	bins, err := statBinaries(p.cfg.FFmpeg, p.cfg.FFprobe)
	missing := err != nil
	trusted := !missing && stored.Version != "" && stored.Binaries == bins
	p.mu.Lock()
	p.stored = stored
	if trusted {
		p.version = stored.Version
	}
	p.mu.Unlock()
	switch {
	case missing:
		p.detect(ctx)
		close(p.firstDetect)
		close(p.known)
	case trusted:
		close(p.known)
	}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		if !missing {
			p.detect(ctx)
			close(p.firstDetect)
			if !trusted {
				close(p.known)
			}
		}
		hw := detectHWAccels(ctx, p.cfg.FFmpeg, p.log)
		p.mu.Lock()
		p.hw = hw
		p.mu.Unlock()
		close(p.hwDetected)
	}()
	go func() {
		defer p.wg.Done()
		p.dispatch(ctx)
	}()
}

// Shutdown stops claiming, stops running tasks (they go back to pending)
// and waits for the workers, or for ctx.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	if p.stop != nil {
		p.stop(errShutdown)
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("transcoder shutdown: %w", ctx.Err())
	}
}

// Wake tells the workers a task was queued.
func (p *Pool) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// CancelTask stops task id if it runs here and returns once its ffmpeg is
// gone and its partial output removed (or after a few seconds at most).
// The task's new state is the caller's to store.
func (p *Pool) CancelTask(id int64) {
	p.mu.Lock()
	j := p.jobs[id]
	p.mu.Unlock()
	if j == nil {
		return
	}
	j.cancel(errCanceled)
	select {
	case <-j.done:
	case <-time.After(5 * time.Second):
		p.log.Warn("task did not stop in time", slog.Int64("task_id", id))
	}
}

// FFmpegDetected says whether this start's first ffmpeg detection has
// ended. It never waits.
func (p *Pool) FFmpegDetected() bool {
	select {
	case <-p.firstDetect:
		return true
	default:
		return false
	}
}

// FFmpegVersion is ffmpeg's version, or "" when missing. Right after a
// Start that could not trust a remembered version it waits for the first
// detection, 3 s at most, then answers what is known.
func (p *Pool) FFmpegVersion() string {
	select {
	case <-p.known:
	default:
		t := time.NewTimer(p.versionWait)
		select {
		case <-p.known:
		case <-t.C:
		}
		t.Stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

// HWAccels lists the hardware encoders that work here, "none" first.
func (p *Pool) HWAccels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.hw...)
}

// running is the number of tasks in flight.
func (p *Pool) running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.jobs)
}

// dispatch claims tasks while fewer than transcode_concurrency run. It
// claims nothing before ffmpeg and the hardware encoders are detected: a
// task claimed earlier would run without knowing them.
func (p *Pool) dispatch(ctx context.Context) {
	select {
	case <-p.hwDetected:
	case <-ctx.Done():
		return
	}
	tick := time.NewTicker(p.PollInterval)
	defer tick.Stop()
	for ctx.Err() == nil {
		if p.FFmpegVersion() == "" {
			p.mu.Lock()
			stale := time.Since(p.detected) >= ffmpegRedetect
			p.mu.Unlock()
			if stale {
				p.detect(ctx)
			}
		} else if p.running() < concurrency(p.cfg.Store.Settings()) {
			t, err := p.cfg.Store.ClaimTask(ctx)
			if err == nil {
				p.launch(ctx, t)
				continue
			}
			if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
				p.log.Error("claim task", slog.Any("err", err))
			}
		}
		select {
		case <-ctx.Done():
		case <-p.wake:
		case <-tick.C:
		}
	}
}

func concurrency(s store.Settings) int { return min(max(s.TranscodeConcurrency, 1), 16) }

func (p *Pool) launch(ctx context.Context, t *store.Task) {
	jctx, cancel := context.WithCancelCause(ctx)
	j := &job{cancel: cancel, done: make(chan struct{})}
	p.mu.Lock()
	p.jobs[t.ID] = j
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() {
			p.mu.Lock()
			delete(p.jobs, t.ID)
			p.mu.Unlock()
			cancel(nil)
			close(j.done)
			p.Wake()
		}()
		p.runTask(jctx, t)
	}()
}

// runTask runs one claimed task to its end and stores the outcome.
func (p *Pool) runTask(ctx context.Context, t *store.Task) {
	log := p.log.With(slog.Int64("task_id", t.ID), slog.Int64("video_id", t.VideoID), slog.Int("attempt", t.Attempts))
	bg := context.WithoutCancel(ctx)
	v, err := p.cfg.Store.VideoByID(bg, t.VideoID)
	if err != nil {
		// The video was deleted under us: nothing to do, nothing to keep.
		log.Info("task's video is gone", slog.Any("err", err))
		return
	}
	out := p.cfg.Data.HLS(v.ID)
	log.Info("task started")
	res, err := p.transcode(ctx, log, t, v, out)

	switch {
	case errors.Is(err, errCanceled) || (ctx.Err() != nil && !errors.Is(err, errStalled)):
		p.removeOutput(v.ID)
		if errors.Is(err, errCanceled) || errors.Is(context.Cause(ctx), errCanceled) {
			log.Info("task canceled")
			// The canceled task keeps what ran and how far it got.
			if err := p.cfg.Store.SetTaskLog(bg, t.ID, store.TaskCanceled, res.log); err != nil && !gone(err) {
				log.Warn("store task log", slog.Any("err", err))
			}
			return
		}
		if err := p.cfg.Store.RequeueTask(bg, t.ID, "", false); err != nil && !errors.Is(err, store.ErrConflict) {
			log.Error("requeue task", slog.Any("err", err))
		}
		log.Info("task interrupted; back to pending")
	case errors.Is(err, errStalled) && t.Attempts < maxAttempts:
		p.removeOutput(v.ID)
		reason := "stalled: " + strings.TrimPrefix(err.Error(), errStalled.Error()+": ")
		log.Warn("task stalled; retrying", slog.String("reason", reason))
		if err := p.cfg.Store.RequeueTask(bg, t.ID, reason, true); err != nil && !errors.Is(err, store.ErrConflict) {
			log.Error("requeue task", slog.Any("err", err))
		}
		p.Wake()
	case err != nil:
		p.removeOutput(v.ID)
		reason := err.Error()
		if errors.Is(err, errStalled) {
			reason = "stalled: " + strings.TrimPrefix(reason, errStalled.Error()+": ")
		}
		log.Warn("task failed", slog.String("reason", reason))
		end := store.TaskEnd{Status: store.TaskFailed, Error: oneLine(reason), Log: res.log}
		if err := p.cfg.Store.FinishTask(bg, t.ID, end); err != nil {
			if !gone(err) {
				log.Error("store task failure", slog.Any("err", err))
			}
			return
		}
		p.taskEnded(bg, t.ID)
	default:
		end := store.TaskEnd{Status: store.TaskCompleted, Log: res.log, Media: res.media,
			HasCover: res.cover, HLSBytes: dirSize(out)}
		if err := p.cfg.Store.FinishTask(bg, t.ID, end); err != nil {
			// Canceled or deleted at the last moment: keep nothing.
			p.removeOutput(v.ID)
			if !gone(err) {
				log.Error("store task completion", slog.Any("err", err))
			}
			return
		}
		log.Info("task completed", slog.String("resolution", res.media.Resolution),
			slog.Int64("hls_bytes", end.HLSBytes))
		p.taskEnded(bg, t.ID)
	}
}

// gone reports a task or video that was canceled or deleted meanwhile.
func gone(err error) bool {
	return errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound)
}

func (p *Pool) taskEnded(ctx context.Context, id int64) {
	if p.cfg.OnTaskEnd != nil {
		go p.cfg.OnTaskEnd(ctx, id)
	}
}

// removeOutput deletes a video's HLS folder and cover.
func (p *Pool) removeOutput(videoID int64) {
	if err := os.RemoveAll(p.cfg.Data.HLS(videoID)); err != nil {
		p.log.Warn("remove partial output", slog.Int64("video_id", videoID), slog.Any("err", err))
	}
	_ = os.Remove(p.cfg.Data.Cover(videoID))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
