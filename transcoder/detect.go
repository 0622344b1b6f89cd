package transcoder

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"mika/store"
)

// ffmpegMetaKey is the meta row that remembers the last ffmpeg version read
// and which files ffmpeg and ffprobe were when it was read: `ffmpeg
// -version` takes 0.1–0.4 s (it loads every libav library), and a start on
// a data folder whose binaries did not change answers /healthz with the
// remembered version without waiting for it.
const ffmpegMetaKey = "ffmpeg_detected"

// versionWait bounds how long FFmpegVersion waits for a version it cannot
// trust yet; after it, it answers what is known ("" when nothing).
const versionWait = 3 * time.Second

// binaryFile says which file a binary is: its path with every symlink
// resolved, its size and modification time. An upgrade or a replacement
// changes at least one of them.
type binaryFile struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
}

// binaries are the files ffmpeg and ffprobe are.
type binaries struct {
	FFmpeg  binaryFile `json:"ffmpeg"`
	FFprobe binaryFile `json:"ffprobe"`
}

// detectedVersion is what ffmpegMetaKey holds.
type detectedVersion struct {
	Binaries binaries `json:"binaries"`
	Version  string   `json:"version"`
}

// statBinary finds name (a path, or a name on PATH) and says which file it
// is, without running it.
func statBinary(name string) (binaryFile, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return binaryFile{}, err
	}
	if p, err = filepath.Abs(p); err != nil {
		return binaryFile{}, err
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		return binaryFile{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return binaryFile{}, err
	}
	return binaryFile{Path: p, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, nil
}

// statBinaries says which files ffmpeg and ffprobe are; an error when either
// is not there.
func statBinaries(ffmpeg, ffprobe string) (binaries, error) {
	var b binaries
	var err error
	if b.FFmpeg, err = statBinary(ffmpeg); err != nil {
		return b, err
	}
	b.FFprobe, err = statBinary(ffprobe)
	return b, err
}

// remembered is what the store remembers of an earlier detection (zero
// when nothing).
func (p *Pool) remembered(ctx context.Context) detectedVersion {
	var d detectedVersion
	v, err := p.cfg.Store.Meta(ctx, ffmpegMetaKey)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			p.log.Warn("read the remembered ffmpeg version", slog.Any("err", err))
		}
		return d
	}
	if v != "" && json.Unmarshal([]byte(v), &d) != nil {
		return detectedVersion{}
	}
	return d
}

// remember stores the version read from b ("" forgets: the next start
// waits for its own detection).
func (p *Pool) remember(ctx context.Context, b binaries, version string) {
	v := ""
	if version != "" {
		j, err := json.Marshal(detectedVersion{Binaries: b, Version: version})
		if err != nil {
			p.log.Warn("remember the ffmpeg version", slog.Any("err", err))
			return
		}
		v = string(j)
	}
	// A shutdown right after the version is read still keeps it.
	if err := p.cfg.Store.SetMeta(context.WithoutCancel(ctx), ffmpegMetaKey, v); err != nil {
		p.log.Warn("remember the ffmpeg version", slog.Any("err", err))
	}
}

// runDetect reads ffmpeg's version line and says which files ffmpeg and
// ffprobe were (looked at before running, so a binary replaced meanwhile
// is not trusted on the next start).
func runDetect(ctx context.Context, ffmpeg, ffprobe string) ([]byte, binaries, error) {
	b, err := statBinaries(ffmpeg, ffprobe)
	if err != nil {
		return nil, b, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-version").Output()
	return out, b, err
}

// Detection is a first `ffmpeg -version` started before the pool exists,
// so that on a new data folder (where /healthz waits for it) it runs
// beside the migrations. Pass it as Config.Detection.
type Detection struct {
	done chan struct{}
	out  []byte
	bins binaries
	err  error
}

// DetectFFmpeg starts reading ffmpeg's version in the background.
func DetectFFmpeg(ctx context.Context, ffmpeg, ffprobe string) *Detection {
	d := &Detection{done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.out, d.bins, d.err = runDetect(ctx, ffmpeg, ffprobe)
	}()
	return d
}

// parseVersion takes the version out of `ffmpeg -version`'s first line.
func parseVersion(out []byte) string {
	line, _, _ := strings.Cut(string(out), "\n")
	v := strings.TrimPrefix(strings.TrimSpace(line), "ffmpeg version ")
	if i := strings.IndexByte(v, ' '); i > 0 {
		v = v[:i]
	}
	return v
}

// detect reads ffmpeg's version, remembers it in the store when it changed
// and only then makes it the pool's.
func (p *Pool) detect(ctx context.Context) {
	var out []byte
	var b binaries
	var err error
	if d := p.early; d != nil {
		// The early detection answers the first time only; later ones
		// (ffmpeg installed meanwhile) run afresh.
		p.early = nil
		select {
		case <-d.done:
			out, b, err = d.out, d.bins, d.err
		case <-ctx.Done():
		}
	} else {
		out, b, err = runDetect(ctx, p.cfg.FFmpeg, p.cfg.FFprobe)
	}
	if ctx.Err() != nil {
		// Stopped (a shutdown) before ffmpeg answered: that says nothing
		// about ffmpeg; what is remembered stays for the next start.
		return
	}
	v := ""
	if err == nil {
		v = parseVersion(out)
	}
	p.mu.Lock()
	first := p.detected.IsZero()
	was, stored := p.version, p.stored
	p.mu.Unlock()
	if err == nil && v == "" {
		err = errors.New("ffmpeg -version printed no version")
	}
	now := detectedVersion{Binaries: b, Version: v}
	if err != nil {
		now = detectedVersion{}
	}
	if now != stored {
		p.remember(ctx, b, now.Version)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.detected = time.Now()
	p.stored = now
	p.version = now.Version
	if err != nil {
		if first || was != "" {
			p.log.Warn("ffmpeg or ffprobe not found: videos stay pending until it is installed (apt-get install -y ffmpeg)",
				slog.String("ffmpeg", p.cfg.FFmpeg), slog.String("ffprobe", p.cfg.FFprobe), slog.Any("err", err))
		}
		return
	}
	if was == "" || first {
		p.log.Info("ffmpeg found", slog.String("version", v))
	}
}

// canToneMap reports whether this ffmpeg has the zscale and tonemap filters
// (zscale needs libzimg, which some builds leave out). It asks ffmpeg once
// per version.
func (p *Pool) canToneMap(ctx context.Context) bool {
	p.mu.Lock()
	v, known, ok := p.version, p.toneMapFor, p.toneMap
	p.mu.Unlock()
	if v != "" && v == known {
		return ok
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, p.cfg.FFmpeg, "-hide_banner", "-filters").Output()
	ok = err == nil && hasFilters(out, "zscale", "tonemap")
	if err == nil {
		p.mu.Lock()
		p.toneMapFor, p.toneMap = v, ok
		p.mu.Unlock()
	}
	return ok
}

// hasFilters reads "ffmpeg -filters" and reports whether every name is
// listed (each line: flags, name, pads, description).
func hasFilters(out []byte, names ...string) bool {
	have := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) >= 3 {
			have[f[1]] = true
		}
	}
	for _, n := range names {
		if !have[n] {
			return false
		}
	}
	return true
}
