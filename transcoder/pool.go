// Package transcoder owns transcode tasks and the ffmpeg processes that run
// them: the worker pool, the ladder plan and the process runner.
package transcoder

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"sync"

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
}

// Pool runs transcode tasks with a number of workers set by the
// transcode_concurrency setting.
type Pool struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	version string
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
	return &Pool{cfg: cfg, log: cfg.Log}
}

// Start detects ffmpeg and starts the workers.
func (p *Pool) Start(ctx context.Context) {
	p.detect(ctx)
}

// Shutdown stops the workers.
func (p *Pool) Shutdown(ctx context.Context) error { return nil }

func (p *Pool) detect(ctx context.Context) {
	out, err := exec.CommandContext(ctx, p.cfg.FFmpeg, "-hide_banner", "-version").Output()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.version = ""
		p.log.Warn("ffmpeg not found: videos stay pending until it is installed (apt-get install -y ffmpeg)",
			slog.String("ffmpeg", p.cfg.FFmpeg), slog.Any("err", err))
		return
	}
	line, _, _ := strings.Cut(string(out), "\n")
	p.version = strings.TrimPrefix(strings.TrimSpace(line), "ffmpeg version ")
	if i := strings.IndexByte(p.version, ' '); i > 0 {
		p.version = p.version[:i]
	}
}

// Wake tells the workers a task was queued.
func (p *Pool) Wake() {}

// CancelTask stops a running task.
func (p *Pool) CancelTask(id int64) {}

// FFmpegVersion is the detected ffmpeg version, or "" when missing.
func (p *Pool) FFmpegVersion() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

// HWAccels lists the hardware encoders that work here.
func (p *Pool) HWAccels() []string { return []string{"none"} }
