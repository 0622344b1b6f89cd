package transcoder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"mika/store"
)

// result is what a transcode produced.
type result struct {
	media store.Media
	cover bool
	log   string
}

// progressEvery is how often a running task's progress is stored.
const progressEvery = time.Second

// transcode probes the source, runs the ladder's one ffmpeg process into a
// fresh outDir, marks the video playable as soon as every encoded rung has
// its first segment, then finalizes the playlists and makes the cover.
func (p *Pool) transcode(ctx context.Context, log *slog.Logger, t *store.Task, v *store.Video, outDir string) (result, error) {
	var res result
	src, err := p.cfg.Data.Abs(v.SourcePath)
	if err != nil || v.SourcePath == "" {
		return res, errors.New("source file path is invalid")
	}
	if _, err := os.Stat(src); err != nil {
		res.log = "source: " + err.Error()
		return res, errors.New("source file is missing")
	}
	probe, err := Probe(ctx, p.cfg.FFprobe, src)
	if err != nil {
		res.log = "$ " + p.cfg.FFprobe + " " + src + "\n" + err.Error()
		switch {
		case errors.Is(err, ErrNoVideo):
			return res, errors.New("source has no video stream")
		case errors.Is(err, ErrUnreadable):
			// ffprobe names the file first; the reason is what follows.
			why := strings.TrimPrefix(err.Error(), ErrUnreadable.Error()+": ")
			why = strings.TrimPrefix(why, src+": ")
			return res, fmt.Errorf("source is not a readable video: %s", strings.ReplaceAll(why, src, "the source"))
		}
		return res, fmt.Errorf("probe source: %w", err)
	}

	settings := p.cfg.Store.Settings()
	plan := PlanFor(probe, settings)
	if plan.HWAccel != "none" && !slices.Contains(p.HWAccels(), plan.HWAccel) {
		log.Warn("hardware encoder not available here; encoding in software", slog.String("hwaccel", plan.HWAccel))
		plan.HWAccel = "none"
	}
	if plan.ToneMap && !p.canToneMap(ctx) {
		log.Warn("this ffmpeg has no zscale or tonemap filter: the HDR source is encoded without tone mapping, and its colours will look washed out",
			slog.String("transfer", probe.ColorTransfer))
		plan.ToneMap = false
	}
	res.media = store.Media{Duration: probe.Duration, Width: probe.Width, Height: probe.Height,
		Resolution: plan.Rungs[0].Name}

	// Each rung's CODECS, read from its first segment once per encode.
	codecs := map[string]string{}
	logText, err := p.encode(ctx, log, t, v, src, outDir, probe, plan, codecs)
	if err != nil && plan.HWAccel != "none" && ctx.Err() == nil && !errors.Is(err, errStalled) &&
		!errors.Is(err, errCanceled) {
		log.Warn("hardware encode failed; falling back to software", slog.String("hwaccel", plan.HWAccel),
			slog.String("reason", err.Error()))
		plan.HWAccel = "none"
		var sw string
		sw, err = p.encode(ctx, log, t, v, src, outDir, probe, plan, codecs)
		logText += "\n--- " + "hardware encode failed; software fallback ---\n" + sw
	}
	res.log = logText
	if err != nil {
		return res, err
	}

	// Done: the event playlists become VOD, the master gets measured rates.
	variants, err := p.writeMaster(ctx, outDir, plan, plan.Rungs, true, codecs)
	if err != nil {
		return res, fmt.Errorf("write master playlist: %w", err)
	}
	res.media.Variants = variants
	res.cover = p.makeCover(ctx, log, src, outDir, plan, v.ID, probe.Duration)
	return res, ctx.Err()
}

// encode runs ffmpeg for plan into a fresh outDir and returns the task log.
// codecs starts empty and gets each rung's CODECS as its first segment
// appears; encode's goroutine is done with it when encode returns.
func (p *Pool) encode(ctx context.Context, log *slog.Logger, t *store.Task, v *store.Video, src, outDir string,
	probe *ProbeResult, plan Plan, codecs map[string]string) (string, error) {
	clear(codecs)
	if err := os.RemoveAll(outDir); err != nil {
		return "", fmt.Errorf("clear output folder: %w", err)
	}
	for _, r := range plan.Rungs {
		if err := os.MkdirAll(filepath.Join(outDir, r.Name), 0o755); err != nil {
			return "", fmt.Errorf("create output folder: %w", err)
		}
	}
	cmd, err := BuildCommand(p.cfg.FFmpeg, src, outDir, plan)
	if err != nil {
		return "", err
	}
	line := commandLine(cmd)
	log.Info("ffmpeg started", slog.String("cmd", line))
	if err := p.cfg.Store.SetTaskLog(ctx, t.ID, store.TaskProcessing, "$ "+line); err != nil && !errors.Is(err, store.ErrConflict) {
		log.Warn("store task log", slog.Any("err", err))
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu      sync.Mutex
		pct     int
		wg      sync.WaitGroup
		stopped = make(chan struct{})
	)
	// One goroutine stores progress every second and watches for the first
	// segment of every rung; the progress write also notices a task that
	// was canceled or deleted elsewhere.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		shown := 0 // rungs in the master playlist so far
		for {
			select {
			case <-stopped:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			mu.Lock()
			cur := pct
			mu.Unlock()
			if err := p.cfg.Store.TaskProgress(ctx, t.ID, cur); errors.Is(err, store.ErrConflict) {
				cancel(errCanceled)
				return
			}
			if shown == len(plan.Rungs) {
				continue
			}
			ready := readyRungs(outDir, plan)
			if len(ready) <= shown || (shown == 0 && !playableWith(plan, ready)) {
				continue
			}
			variants, err := p.writeMaster(ctx, outDir, plan, ready, false, codecs)
			if err == nil {
				err = p.cfg.Store.SetPlayable(ctx, t.ID, store.Media{Duration: probe.Duration,
					Width: probe.Width, Height: probe.Height, Resolution: ready[0].Name, Variants: variants})
			}
			if errors.Is(err, store.ErrConflict) {
				cancel(errCanceled)
				return
			}
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("mark playable", slog.Any("err", err))
				}
				continue
			}
			if shown == 0 {
				log.Info("playable", slog.Int("rungs", len(ready)))
			}
			shown = len(ready)
		}
	}()
	var cpu time.Duration
	r := runner{nice: p.nice, stall: p.StallTimeout, cpu: &cpu}
	began := time.Now()
	tail, err := r.run(ctx, cmd, func(us int64) {
		mu.Lock()
		pct = percent(us, probe.Duration)
		mu.Unlock()
	})
	log.Info("ffmpeg ended", slog.Duration("took", time.Since(began)), slog.Duration("cpu", cpu.Round(time.Millisecond)),
		slog.Bool("ok", err == nil))
	close(stopped)
	wg.Wait()
	logText := "$ " + line + "\n" + tail
	if errors.Is(context.Cause(ctx), errCanceled) && err != nil && !errors.Is(err, errStalled) {
		return logText, errCanceled
	}
	if err != nil {
		return logText, err
	}
	for _, r := range plan.Rungs {
		if err := finalizePlaylist(rungPlaylist(outDir, r)); err != nil {
			return logText, fmt.Errorf("finalize %s playlist: %w", r.Name, err)
		}
	}
	return logText, nil
}

// readyRungs are the rungs, in plan order, whose playlist lists a segment.
func readyRungs(outDir string, plan Plan) []Rung {
	var ready []Rung
	for _, r := range plan.Rungs {
		if firstSegmentReady(outDir, r) {
			ready = append(ready, r)
		}
	}
	return ready
}

// playableWith reports whether a video may be offered with the ready rungs:
// every encoded rung has a segment. A copied rung may join later, since its
// segments end at the source's keyframes, which can be far apart.
func playableWith(plan Plan, ready []Rung) bool {
	if len(ready) == 0 {
		return false
	}
	for _, r := range plan.Rungs {
		if !r.Copy && !slices.ContainsFunc(ready, func(x Rung) bool { return x.Name == r.Name }) {
			return false
		}
	}
	return true
}

// writeMaster writes the master playlist of rungs. While encoding it states
// each rung's nominal rate; when final, the rates measured from the segments.
// A rung's codec is read from its first segment once and kept in codecs
// (an ffprobe per rung costs ~0.1 s, on the way to a finished task).
func (p *Pool) writeMaster(ctx context.Context, outDir string, plan Plan, rungs []Rung, final bool,
	codecs map[string]string) ([]store.Variant, error) {
	vs := make([]variantInfo, len(rungs))
	out := make([]store.Variant, len(rungs))
	for i, r := range rungs {
		codec, known := codecs[r.Name]
		if !known {
			if codec, known = segmentCodec(ctx, p.cfg.FFprobe, outDir, r); known {
				codecs[r.Name] = codec
			}
		}
		vi := variantInfo{Rung: r, Bandwidth: r.Bandwidth(plan.Audio), VideoCodec: codec}
		if final {
			if peak, avg, err := measureRung(outDir, r); err == nil && peak > 0 {
				vi.Bandwidth, vi.AverageBandwidth = peak, avg
			}
		}
		vs[i] = vi
		out[i] = store.Variant{Name: r.Name, Width: r.Width, Height: r.Height, Bandwidth: vi.Bandwidth}
	}
	fps := plan.FPS
	if err := writeFileAtomic(filepath.Join(outDir, MasterName), []byte(masterPlaylist(vs, plan.Audio, fps))); err != nil {
		return nil, err
	}
	return out, nil
}

// makeCover writes the cover JPEG from the most representative frame of the
// two seconds from 10% of the video (at most 10 s in), 640 wide at most.
// The frames are read from the finished stream where they can be
// (coverSource): decoding a few seconds of a small rung
// from a keyframe costs a fraction of seeking in a large source. A failure
// only costs the cover.
func (p *Pool) makeCover(ctx context.Context, log *slog.Logger, src, outDir string, plan Plan, videoID int64, duration float64) bool {
	at := min(duration*0.1, 10)
	// Seeking in the source jumps to the keyframe before at; a segment
	// (which ffmpeg does not seek in reliably) is decoded from its start.
	// Should the segment give no frame, the source still may.
	inputs := [][]string{{"-ss", fmt.Sprintf("%.3f", at), "-i", src}}
	if seg, offset, ok := coverSource(outDir, plan, at); ok {
		inputs = append([][]string{{"-i", seg, "-ss", fmt.Sprintf("%.3f", offset)}}, inputs...)
	}
	tmp, err := os.CreateTemp(p.cfg.Data.Tmp(), "cover-*.jpg")
	if err != nil {
		log.Warn("cover", slog.Any("err", err))
		return false
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, input := range inputs {
		args := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, input...)
		args = append(args, "-frames:v", "1", "-vf", coverFilter, "-q:v", "3", "-f", "image2", tmp.Name())
		if out, err := exec.CommandContext(cctx, p.cfg.FFmpeg, args...).CombinedOutput(); err != nil {
			log.Warn("cover", slog.Any("err", err), slog.String("ffmpeg", lastErrorLine(string(out))))
			continue
		}
		if st, err := os.Stat(tmp.Name()); err != nil || st.Size() == 0 {
			log.Warn("cover: ffmpeg wrote no frame", slog.String("input", strings.Join(input, " ")))
			continue
		}
		if err := os.Rename(tmp.Name(), p.cfg.Data.Cover(videoID)); err != nil {
			log.Warn("cover", slog.Any("err", err))
			return false
		}
		return true
	}
	return false
}

// coverFilter picks the cover among the next coverFrames frames, the one
// closest to their average look (ffmpeg's thumbnail filter), so a fade, a
// flash or a cut at the chosen second does not become the cover; at most
// 640 wide, square pixels.
const coverFilter = "thumbnail=" + coverFrames + ",scale='min(640,iw)':-2,setsar=1"

// coverFrames is about two seconds of video; a segment that ends sooner
// gives the best of what it has.
const coverFrames = "50"

// coverSource finds the frame at second at in the finished stream: the
// segment of an encoded rung that holds it and the offset into it. The
// rung is the smallest at least as wide as the cover (640, or the top
// rung's width when smaller); encoded rungs start every segment with a
// keyframe, so the frame is decoded from that segment alone. ok is false
// when no rung is encoded (a remuxed source) or its playlist is unreadable.
func coverSource(outDir string, plan Plan, at float64) (seg string, offset float64, ok bool) {
	if len(plan.Rungs) == 0 {
		return "", 0, false
	}
	want := min(640, plan.Rungs[0].Width)
	var pick *Rung
	for i := range plan.Rungs {
		r := &plan.Rungs[i]
		if r.Copy {
			continue
		}
		switch {
		case pick == nil,
			r.Width >= want && (pick.Width < want || r.Width < pick.Width),
			r.Width < want && pick.Width < want && r.Width > pick.Width:
			pick = r
		}
	}
	if pick == nil {
		return "", 0, false
	}
	segs, err := rungSegments(outDir, *pick)
	if err != nil || len(segs) == 0 {
		return "", 0, false
	}
	// The last segment that starts at or before at holds it.
	var start float64
	k := 0
	for i, sg := range segs {
		if i > 0 && start > at {
			break
		}
		k, offset = i, max(0, at-start)
		start += sg.dur
	}
	if offset >= segs[k].dur {
		offset = 0 // at is past the end: the last segment's first frame
	}
	return filepath.Join(outDir, pick.Name, segs[k].name), offset, true
}
