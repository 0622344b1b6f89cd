package transcoder

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	ffmpeg "github.com/u2takey/ffmpeg-go"

	"mika/store"
)

func init() {
	// ffmpeg-go logs every compiled command through the standard logger;
	// the pool logs commands itself, with the task's attributes.
	ffmpeg.LogCompiledCommand = false
}

// audioKbps is the AAC-LC bit rate of every encoded rung.
const audioKbps = 128

// Rung is one variant of the HLS ladder.
type Rung struct {
	Name      string // "720p"; also the rung's folder name
	Width     int
	Height    int
	VideoKbps int  // -maxrate of the rung; for a copied rung, the source's rate
	Copy      bool // the source's own stream, remuxed
}

// Bandwidth is the rung's nominal peak rate in bits/s for the master
// playlist, with room for the MPEG-TS overhead.
func (r Rung) Bandwidth(audio bool) int {
	kbps := r.VideoKbps
	if audio {
		kbps += audioKbps
	}
	return kbps * 1100
}

// Plan is how one source becomes an HLS ladder.
type Plan struct {
	Rungs          []Rung // highest first
	SegmentSeconds int
	// InitSegmentSeconds, when set, is the length of the first few
	// segments (which together make one full segment): a new video is
	// playable after a couple of seconds of output instead of a full segment.
	InitSegmentSeconds float64
	Preset             string
	FPS                float64 // output frame rate of encoded rungs
	ForceFPS           bool    // VFR or too fast a source: encoded rungs get a constant FPS
	GOP                int     // frames per segment at FPS: keyframes align across rungs
	// KeyframesFromSource is set when a rung is copied: the copy can only
	// be cut at the source's keyframes, so every encoded rung gets a
	// keyframe exactly where the source has one, and no other. The HLS
	// muxer then cuts every rung at the same frames.
	KeyframesFromSource bool
	// Deinterlace is set for an interlaced source: its frames are
	// deinterlaced (bwdif, one frame per frame) before anything else.
	Deinterlace bool
	// ToneMap is set for an HDR source (PQ or HLG): its picture is mapped
	// to SDR BT.709 once, before the ladder is scaled from it.
	ToneMap bool
	Audio   bool
	// AudioStream is which of the source's audio streams plays
	// (ProbeResult.AudioStream).
	AudioStream int
	AudioCopy   bool   // the source's AAC-LC is copied rather than re-encoded
	HWAccel     string // none | vaapi | qsv | nvenc
	// SourceWidth and SourceHeight are the decoded picture's size (upright):
	// a rung of that size needs no scaling, so the cascade starts below it.
	SourceWidth, SourceHeight int
}

// maxFPS caps the output frame rate.
const maxFPS = 60

// PlanFor decides the ladder for a probed source under the settings. It is a
// pure function of its inputs.
func PlanFor(p *ProbeResult, s store.Settings) Plan {
	seg := s.HLSSegmentSeconds
	if seg < 1 {
		seg = 6
	}
	plan := Plan{SegmentSeconds: seg, Preset: s.VideoPreset, HWAccel: s.HWAccel,
		Audio: p.HasAudio, AudioStream: p.AudioStream, SourceWidth: p.Width, SourceHeight: p.Height,
		ToneMap: p.HDR(), Deinterlace: p.Interlaced()}
	if plan.Preset == "" {
		plan.Preset = "veryfast"
	}
	if plan.HWAccel == "" {
		plan.HWAccel = "none"
	}

	fps := p.FPS
	switch {
	case fps <= 0 || fps > 240:
		plan.FPS, plan.ForceFPS = 30, true
	case fps > maxFPS:
		plan.FPS, plan.ForceFPS = maxFPS, true
	case p.VFR:
		plan.FPS, plan.ForceFPS = math.Min(math.Round(fps), maxFPS), true
	default:
		plan.FPS = fps
	}
	plan.GOP = max(1, int(math.Round(plan.FPS*float64(seg))))
	if seg > 2 {
		plan.InitSegmentSeconds = float64(seg) / math.Ceil(float64(seg)/2)
	}

	// "Lines" of a video are its short side, so a portrait phone video of
	// 1080x1920 is a 1080p source and gets a 1080p rung 1080 wide.
	w, h := max(p.Width, 2), max(p.Height, 2)
	short := min(w, h)
	ladder := slices.Clone(s.Ladder)
	if len(ladder) == 0 {
		ladder = store.DefaultSettings().Ladder
	}
	slices.Sort(ladder)
	ladder = slices.Compact(ladder)
	slices.Reverse(ladder)

	if remuxable(p, ladder[0]) {
		// A copied stream keeps its exact size, odd or not.
		plan.Rungs = append(plan.Rungs, Rung{Name: fmt.Sprintf("%dp", short), Width: w, Height: h,
			VideoKbps: sourceKbps(p, w, h), Copy: true})
		plan.AudioCopy = p.HasAudio
		plan.KeyframesFromSource = true
		// No shorter first pieces: a copy is cut at the source's first
		// keyframe after each boundary, and ffmpeg 5.1's muxer keeps
		// hls_init_time as its step for the whole stream, so every
		// segment would be ~2 s instead of hls_segment_seconds.
		plan.InitSegmentSeconds = 0
		for _, lines := range ladder {
			if lines < short {
				plan.Rungs = append(plan.Rungs, rungAt(lines, w, h, plan.FPS))
			}
		}
		return plan
	}
	for _, lines := range ladder {
		if lines <= short {
			plan.Rungs = append(plan.Rungs, rungAt(lines, w, h, plan.FPS))
		}
	}
	if len(plan.Rungs) == 0 {
		plan.Rungs = append(plan.Rungs, rungAt(short, w, h, plan.FPS))
	}
	return plan
}

// remuxable reports whether the source's own video can be copied into a
// rung: H.264 8-bit 4:2:0 in a profile every player decodes, in TV range
// (a full-range "yuvj420p" copy would switch brightness against the
// encoded rungs), with square pixels (the other rungs have them, and a
// player would change the picture's shape between rungs), progressive,
// SDR, upright, with AAC-LC or no audio, no larger than the top rung, at a
// rate a stream can carry (at most maxCopyRate times what Mika would encode
// it at), and with keyframes a stream can be cut at (copyableKeyframes).
// A lossless x264 source, for one, is "yuv420p" in the High 4:4:4
// Predictive profile at ~100 Mbit/s for 360p: phones and Safari do not
// play it, and no network carries it.
func remuxable(p *ProbeResult, top int) bool {
	return p.VideoCodec == "h264" && playableProfiles[p.Profile] && p.BitDepth == 8 &&
		p.PixFmt == "yuv420p" && p.SAR == 0 && !p.HDR() && !p.Interlaced() && copyableKeyframes(p) &&
		p.Rotation == 0 && !p.VFR && p.FPS > 0 && p.FPS <= maxFPS &&
		(!p.HasAudio || (p.AudioCodec == "aac" && (p.AudioProfile == "LC" || p.AudioProfile == ""))) &&
		min(p.Width, p.Height) <= top &&
		sourceKbps(p, p.Width, p.Height) <= maxCopyRate*videoKbps(p.Width, p.Height, p.FPS)
}

// copyableKeyframes reports whether a copied stream, cut at the source's
// keyframes, makes segments players handle and Mika can match in the
// encoded rungs: no gap between keyframes over maxCopyKeyframeGap, and
// keyframes no denser than one every half second on average (the encoded
// rungs get as many). Unknown keyframes (a failed scan) do not copy.
func copyableKeyframes(p *ProbeResult) bool {
	return p.KeyframeGap > 0 && p.KeyframeGap <= maxCopyKeyframeGap && p.KeyframeSpacing >= 0.5
}

// maxCopyKeyframeGap bounds the keyframe gaps of a copied source. Every
// rung's first segment ends at the source's first keyframe after
// hls_init_time, so this is also how much video the encode must reach
// before the first play. x264's default of 250 frames at 24 fps (10.4 s)
// passes; a screen recording with a keyframe a minute does not.
const maxCopyKeyframeGap = 10.5

// playableProfiles are the H.264 profiles (as ffprobe names them) that
// browsers, phones and TVs all decode.
var playableProfiles = map[string]bool{"Constrained Baseline": true, "Baseline": true, "Main": true, "High": true}

// maxCopyRate bounds a copied rung's rate against the peak rate Mika would
// encode the same picture at: 4× lets a phone's 1080p30 at 16–20 Mbit/s
// through.
const maxCopyRate = 4

// rungAt is the rung of the given lines (short side) for a w×h source,
// keeping the aspect ratio with even dimensions.
func rungAt(lines, w, h int, fps float64) Rung {
	var rw, rh int
	if lines >= min(w, h) {
		// The source's own size, made even.
		rw, rh = max(w&^1, 2), max(h&^1, 2)
		lines = min(rw, rh)
		return Rung{Name: fmt.Sprintf("%dp", lines), Width: rw, Height: rh, VideoKbps: videoKbps(rw, rh, fps)}
	}
	if w >= h {
		rh = lines
		rw = int(math.Round(float64(lines)*float64(w)/float64(h)/2)) * 2
	} else {
		rw = lines
		rh = int(math.Round(float64(lines)*float64(h)/float64(w)/2)) * 2
	}
	rw, rh = max(rw&^1, 2), max(rh&^1, 2)
	return Rung{Name: fmt.Sprintf("%dp", lines), Width: rw, Height: rh, VideoKbps: videoKbps(rw, rh, fps)}
}

// videoKbps scales the peak video rate with the picture: 5000k for 1080p30,
// about 2800k for 720p, 1500k for 480p, 950k for 360p; ×1.5 above 30 fps.
func videoKbps(w, h int, fps float64) int {
	k := 5000 * math.Pow(float64(w*h)/(1920*1080), 0.75)
	if fps > 31 {
		k *= 1.5
	}
	return max(150, int(math.Round(k/50))*50)
}

// sourceKbps is the copied rung's rate: the stream's own when known.
func sourceKbps(p *ProbeResult, w, h int) int {
	if p.BitRate > 0 {
		return int(p.BitRate / 1000)
	}
	if p.FormatBitRate > 0 {
		return int(p.FormatBitRate / 1000)
	}
	return videoKbps(w, h, p.FPS)
}

// Command is a planned ffmpeg run: the program and its arguments.
type Command struct {
	Path string
	Args []string
}

// BuildCommand turns a plan into the one ffmpeg command that decodes src
// once and writes every rung into outDir/<rung>/ as an HLS event playlist.
// ffmpeg-go builds the argument list; it panics on some graphs, so the
// panic becomes an error.
func BuildCommand(ffmpegPath, src, outDir string, plan Plan) (cmd Command, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("build ffmpeg command: %v", r)
		}
	}()
	if len(plan.Rungs) == 0 {
		return Command{}, fmt.Errorf("build ffmpeg command: empty ladder")
	}
	hw := encoderFor(plan.HWAccel)
	in := ffmpeg.Input(src, hw.inputArgs)
	video := in.Get("v:0")

	var encoded []int
	for i, r := range plan.Rungs {
		if !r.Copy {
			encoded = append(encoded, i)
		}
	}
	outs := make([]*ffmpeg.Stream, len(plan.Rungs))
	if len(encoded) > 0 {
		base := video
		if plan.Deinterlace {
			// Only the frames marked interlaced, so a mixed source
			// keeps its progressive parts untouched.
			base = base.Filter("bwdif", nil, ffmpeg.KwArgs{"mode": "send_frame", "deint": "interlaced"})
		}
		if plan.ForceFPS {
			base = base.Filter("fps", ffmpeg.Args{strconv.FormatFloat(plan.FPS, 'f', -1, 64)})
		}
		if plan.ToneMap {
			base, plan = toneMap(base, plan, plan.Rungs[encoded[0]])
		}
		pictures := scaleLadder(base, plan, encoded)
		for k, i := range encoded {
			s := pictures[k]
			for _, f := range hw.filters {
				var args ffmpeg.Args
				if f[1] != "" {
					args = ffmpeg.Args{f[1]}
				}
				s = s.Filter(f[0], args)
			}
			outs[i] = s
		}
	}

	kw := ffmpeg.KwArgs{
		"f":                    "hls",
		"hls_time":             strconv.Itoa(plan.SegmentSeconds),
		"hls_playlist_type":    "event",
		"hls_flags":            "independent_segments+temp_file",
		"hls_segment_type":     "mpegts",
		"hls_segment_filename": filepath.Join(outDir, "%v", "seg_%05d.ts"),
	}
	var streams []*ffmpeg.Stream
	var varMap []string
	gop := strconv.Itoa(plan.GOP)
	for i, r := range plan.Rungs {
		v := strconv.Itoa(i)
		if r.Copy {
			streams = append(streams, video)
			kw["c:v:"+v] = "copy"
		} else {
			streams = append(streams, outs[i])
			kw["c:v:"+v] = hw.encoder
			for k, val := range hw.rateArgs(v, plan.Preset, r.VideoKbps) {
				kw[k] = val
			}
			kw["sc_threshold:v:"+v] = "0"
			if plan.KeyframesFromSource {
				kw["force_key_frames:v:"+v] = "source"
				kw["g:v:"+v] = strconv.Itoa(noOwnKeyframes)
			} else {
				kw["force_key_frames:v:"+v] = keyframeExpr(plan)
				kw["g:v:"+v] = gop
				kw["keyint_min:v:"+v] = gop
			}
		}
		entry := "v:" + v
		if plan.Audio {
			streams = append(streams, in.Get("a:"+strconv.Itoa(plan.AudioStream)))
			if plan.AudioCopy {
				kw["c:a:"+v] = "copy"
			} else {
				kw["c:a:"+v] = "aac"
				kw["b:a:"+v] = fmt.Sprintf("%dk", audioKbps)
				kw["ac:a:"+v] = "2"
			}
			entry += ",a:" + v
		}
		varMap = append(varMap, entry+",name:"+r.Name)
	}
	kw["var_stream_map"] = joinSpace(varMap)
	if plan.InitSegmentSeconds > 0 {
		kw["hls_init_time"] = strconv.FormatFloat(plan.InitSegmentSeconds, 'f', -1, 64)
	}

	out := ffmpeg.Output(streams, filepath.Join(outDir, "%v", "index.m3u8"), kw).
		GlobalArgs("-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats")
	c := out.SetFfmpegPath(ffmpegPath).Compile()
	return Command{Path: ffmpegPath, Args: c.Args[1:]}, nil
}

// toneMap maps an HDR picture (PQ or HLG, BT.2020) to SDR BT.709 with
// zscale and tonemap (Hable's curve, as Jellyfin's software path does).
// The mapping works on linear light in 32-bit float RGB, the costliest
// step of an HDR task (about 1.7 s of CPU per second of 1080p here), so a
// source larger than the top encoded rung is first brought down to that
// rung's size; the ladder is then scaled from the mapped picture, which
// the returned plan takes as the source.
func toneMap(s *ffmpeg.Stream, plan Plan, top Rung) (*ffmpeg.Stream, Plan) {
	linear := ffmpeg.KwArgs{"t": "linear", "npl": "100"}
	if top.Width < plan.SourceWidth || top.Height < plan.SourceHeight {
		linear["w"], linear["h"] = strconv.Itoa(top.Width), strconv.Itoa(top.Height)
		plan.SourceWidth, plan.SourceHeight = top.Width, top.Height
	}
	s = s.Filter("zscale", nil, linear).
		Filter("format", ffmpeg.Args{"gbrpf32le"}).
		Filter("zscale", nil, ffmpeg.KwArgs{"p": "bt709"}).
		Filter("tonemap", nil, ffmpeg.KwArgs{"tonemap": "hable", "desat": "0"}).
		Filter("zscale", nil, ffmpeg.KwArgs{"t": "bt709", "m": "bt709", "r": "tv"}).
		Filter("format", ffmpeg.Args{"yuv420p"})
	return s, plan
}

// cascadeFlags is the scaler of a rung made from the hub's picture rather
// than from the decoded source. Lanczos over the smaller picture costs less
// than the default bicubic over the full one (720p → 480p with lanczos:
// 1.1 s of CPU per 600 frames; 1080p → 480p bicubic: 1.6 s) and lands closer
// to a lanczos scale of the source than the direct bicubic scale did
// (bench/RESULTS.md, ladder step, has the measured SSIM and PSNR).
const cascadeFlags = "lanczos"

// scaleLadder makes the picture of every encoded rung (indexes into
// plan.Rungs, highest first): its size, square pixels, 8-bit 4:2:0. The
// first rung smaller than the source (the hub) is scaled from the decoded
// picture, and so is every rung at the source's own size (which only needs
// its pixel format converted). A rung at most 2/3 of the hub's size is
// scaled from the hub's picture, so a 1080p frame is read by one scaler
// instead of one per rung; a rung closer to the hub (360p under a 480p
// hub) lost detail through two resamplings and is scaled from the source.
// The format filter costs nothing of its own: ffmpeg negotiates yuv420p
// as the scaler's output, so a bit-depth conversion happens in the same pass.
func scaleLadder(base *ffmpeg.Stream, plan Plan, encoded []int) []*ffmpeg.Stream {
	hub := -1
	for k, i := range encoded {
		r := plan.Rungs[i]
		if r.Width < plan.SourceWidth || r.Height < plan.SourceHeight {
			hub = k
			break
		}
	}
	fromHub := make([]bool, len(encoded))
	var direct []int // rungs scaled from the decoded picture
	cascaded := 0
	for k, i := range encoded {
		if hub >= 0 && k > hub {
			h, r := plan.Rungs[encoded[hub]], plan.Rungs[i]
			if 2*min(h.Width, h.Height) >= 3*min(r.Width, r.Height) {
				fromHub[k] = true
				cascaded++
				continue
			}
		}
		direct = append(direct, k)
	}
	scale := func(s *ffmpeg.Stream, r Rung, flags string) *ffmpeg.Stream {
		var kw []ffmpeg.KwArgs
		if flags != "" {
			kw = append(kw, ffmpeg.KwArgs{"flags": flags})
		}
		return s.Filter("scale", ffmpeg.Args{fmt.Sprintf("%d:%d", r.Width, r.Height)}, kw...).
			Filter("setsar", ffmpeg.Args{"1"}).
			Filter("format", ffmpeg.Args{"yuv420p"})
	}
	pictures := make([]*ffmpeg.Stream, len(encoded))
	for j, s := range fanOut(base, len(direct)) {
		k := direct[j]
		pictures[k] = scale(s, plan.Rungs[encoded[k]], "")
	}
	if cascaded > 0 {
		outs := fanOut(pictures[hub], 1+cascaded)
		pictures[hub] = outs[0]
		j := 1
		for k, i := range encoded {
			if fromHub[k] {
				pictures[k] = scale(outs[j], plan.Rungs[i], cascadeFlags)
				j++
			}
		}
	}
	return pictures
}

// fanOut gives n uses of s: s itself, or the outputs of a split.
func fanOut(s *ffmpeg.Stream, n int) []*ffmpeg.Stream {
	if n == 1 {
		return []*ffmpeg.Stream{s}
	}
	split := s.Split()
	out := make([]*ffmpeg.Stream, n)
	for k := range out {
		out[k] = split.Get(strconv.Itoa(k))
	}
	return out
}

// noOwnKeyframes is the GOP of an encoded rung that takes its keyframes
// from the source: longer than any gap a copied source has, so the encoder
// adds none of its own, and within every encoder's range (QSV's is 16-bit).
const noOwnKeyframes = 65535

// keyframeExpr forces a keyframe at every segment boundary, in every rung
// alike: every InitSegmentSeconds until the first full segment, then every
// SegmentSeconds.
func keyframeExpr(plan Plan) string {
	if plan.InitSegmentSeconds <= 0 {
		return fmt.Sprintf("expr:gte(t,n_forced*%d)", plan.SegmentSeconds)
	}
	k := int(math.Round(float64(plan.SegmentSeconds) / plan.InitSegmentSeconds))
	return fmt.Sprintf("expr:if(lt(n_forced,%d),gte(t,n_forced*%s),gte(t,(n_forced-%d)*%d))",
		k, strconv.FormatFloat(plan.InitSegmentSeconds, 'f', -1, 64), k-1, plan.SegmentSeconds)
}

func joinSpace(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// encoder is how one hwaccel choice encodes H.264.
type encoder struct {
	encoder   string
	inputArgs ffmpeg.KwArgs
	filters   [][2]string // appended after scale/format
	rateArgs  func(stream, preset string, kbps int) ffmpeg.KwArgs
}

func encoderFor(hwaccel string) encoder {
	rate := func(v string, kbps int) ffmpeg.KwArgs {
		return ffmpeg.KwArgs{
			"maxrate:v:" + v: fmt.Sprintf("%dk", kbps),
			"bufsize:v:" + v: fmt.Sprintf("%dk", kbps*2),
		}
	}
	switch hwaccel {
	case "vaapi":
		return encoder{
			encoder:   "h264_vaapi",
			inputArgs: ffmpeg.KwArgs{"vaapi_device": "/dev/dri/renderD128"},
			filters:   [][2]string{{"format", "nv12"}, {"hwupload", ""}},
			rateArgs: func(v, _ string, kbps int) ffmpeg.KwArgs {
				kw := rate(v, kbps)
				kw["b:v:"+v] = fmt.Sprintf("%dk", kbps*3/4)
				kw["profile:v:"+v] = "high"
				return kw
			},
		}
	case "qsv":
		return encoder{
			encoder:   "h264_qsv",
			inputArgs: ffmpeg.KwArgs{},
			filters:   [][2]string{{"format", "nv12"}},
			rateArgs: func(v, _ string, kbps int) ffmpeg.KwArgs {
				kw := rate(v, kbps)
				kw["b:v:"+v] = fmt.Sprintf("%dk", kbps*3/4)
				kw["preset:v:"+v] = "medium"
				// A forced keyframe is otherwise a plain I frame, which
				// the HLS muxer does not cut at.
				kw["forced_idr:v:"+v] = "1"
				return kw
			},
		}
	case "nvenc":
		return encoder{
			encoder:   "h264_nvenc",
			inputArgs: ffmpeg.KwArgs{},
			rateArgs: func(v, _ string, kbps int) ffmpeg.KwArgs {
				kw := rate(v, kbps)
				kw["b:v:"+v] = fmt.Sprintf("%dk", kbps*3/4)
				kw["preset:v:"+v] = "p4"
				kw["profile:v:"+v] = "high"
				kw["forced-idr:v:"+v] = "1" // as for QSV
				return kw
			},
		}
	default:
		return encoder{
			encoder:   "libx264",
			inputArgs: ffmpeg.KwArgs{},
			rateArgs: func(v, preset string, kbps int) ffmpeg.KwArgs {
				kw := rate(v, kbps)
				kw["crf:v:"+v] = "22"
				kw["preset:v:"+v] = preset
				kw["profile:v:"+v] = "high"
				return kw
			},
		}
	}
}
