package transcoder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNoVideo is returned by Probe for a file that ffprobe reads but that has
// no video stream (an audio file, a subtitle file).
var ErrNoVideo = errors.New("no video stream")

// ErrUnreadable is returned by Probe for a file ffprobe cannot read as media.
var ErrUnreadable = errors.New("not a readable media file")

// ProbeResult is what a task needs to know about a source before planning.
type ProbeResult struct {
	Format     string  // container format name(s), e.g. "mov,mp4,m4a,3gp,3g2,mj2"
	Duration   float64 // seconds
	Width      int     // display width, after rotation and pixel aspect
	Height     int     // display height, after rotation
	Rotation   int     // degrees clockwise the player must rotate: 0, 90, 180, 270
	VideoCodec string  // e.g. "h264", "hevc", "vp9"
	Profile    string  // e.g. "High", "Main 10"
	PixFmt     string  // e.g. "yuv420p", "yuv420p10le"
	BitDepth   int     // bits per sample of the video, 8 when unknown
	FPS        float64 // average frame rate, 0 when unknown
	VFR        bool    // r_frame_rate and avg_frame_rate disagree
	BitRate    int64   // video bit rate, bits/s, 0 when unknown
	Level      int     // codec level as ffprobe reports it, e.g. 40 for H.264 4.0
	HasAudio   bool
	// AudioStream is which audio stream plays (0 is the first): the one
	// marked default when a file has several (a film's dubs, a commentary).
	AudioStream int
	AudioCodec  string // e.g. "aac", "" without audio
	// AudioProfile is e.g. "LC" or "HE-AAC".
	AudioProfile  string
	FormatBitRate int64 // whole-file bit rate, bits/s
	// ColorTransfer and ColorPrimaries are ffprobe's names, e.g.
	// "smpte2084" (HDR10's PQ) or "arib-std-b67" (HLG), "bt2020".
	ColorTransfer, ColorPrimaries string
	// FieldOrder is ffprobe's: "progressive", or "tt", "bb", "tb", "bt" for
	// interlaced video (TV recordings, DVDs, older camcorders).
	FieldOrder string
	// SAR is the width of a stored pixel against its height when that is
	// not 1 (anamorphic video: a DVD's 720x576 shown at 16:9 has 64:45);
	// 0 for square pixels. Width already accounts for it.
	SAR float64
	// KeyframeGap is the longest stretch between video keyframes in the
	// first keyframeWindow seconds (a shorter clip's tail counts), and
	// KeyframeSpacing the mean one there: a copied stream is cut at its
	// own keyframes. Both are 0 when not measured (only H.264 is).
	KeyframeGap, KeyframeSpacing float64
}

// keyframeWindow is how many seconds of an H.264 source the keyframe scan
// reads: it only reads packets, a few milliseconds for a minute of 1080p.
const keyframeWindow = 60

// HDR reports whether the video is high dynamic range: HDR10 (PQ) or HLG,
// as phones record by default. Shown as SDR without tone mapping, it looks
// grey and washed out.
func (p *ProbeResult) HDR() bool {
	return p.ColorTransfer == "smpte2084" || p.ColorTransfer == "arib-std-b67"
}

// Interlaced reports whether the video is stored as fields: shown as
// frames, every movement is combed.
func (p *ProbeResult) Interlaced() bool {
	switch p.FieldOrder {
	case "tt", "bb", "tb", "bt":
		return true
	}
	return false
}

type ffprobeOut struct {
	Streams []struct {
		CodecType        string            `json:"codec_type"`
		CodecName        string            `json:"codec_name"`
		Profile          string            `json:"profile"`
		Level            int               `json:"level"`
		Width            int               `json:"width"`
		Height           int               `json:"height"`
		PixFmt           string            `json:"pix_fmt"`
		ColorTransfer    string            `json:"color_transfer"`
		ColorPrimaries   string            `json:"color_primaries"`
		FieldOrder       string            `json:"field_order"`
		SampleAspect     string            `json:"sample_aspect_ratio"`
		BitsPerRawSample string            `json:"bits_per_raw_sample"`
		RFrameRate       string            `json:"r_frame_rate"`
		AvgFrameRate     string            `json:"avg_frame_rate"`
		BitRate          string            `json:"bit_rate"`
		Duration         string            `json:"duration"`
		Tags             map[string]string `json:"tags"`
		Disposition      map[string]int    `json:"disposition"`
		SideDataList     []struct {
			SideDataType string  `json:"side_data_type"`
			Rotation     float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

// Probe runs ffprobe on path. It answers ErrNoVideo (wrapped) for a media
// file without a video stream and ErrUnreadable (wrapped, with ffprobe's
// last error line) for anything ffprobe cannot read.
func Probe(ctx context.Context, ffprobe, path string) (*ProbeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "error", "-print_format", "json",
		"-show_format", "-show_streams", "--", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ffprobe: %w", ctx.Err())
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, fmt.Errorf("run ffprobe: %w", err)
		}
		return nil, fmt.Errorf("%w: %s", ErrUnreadable, lastLine(stderr.String()))
	}
	p, err := parseProbe(stdout.Bytes())
	if err != nil || p.VideoCodec != "h264" {
		return p, err
	}
	// Only an H.264 source may be copied into a rung, and whether it may
	// depends on its keyframes. A failed scan leaves them unknown, and the
	// source is encoded.
	scan := exec.CommandContext(ctx, ffprobe, "-v", "error", "-select_streams", "v:0",
		"-read_intervals", "%+"+strconv.Itoa(keyframeWindow),
		"-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", "--", path)
	if out, err := scan.Output(); err == nil {
		p.KeyframeGap, p.KeyframeSpacing = keyframeGaps(out, p.Duration)
	}
	return p, nil
}

// keyframeGaps reads ffprobe's "pts_time,flags" packet lines and answers
// the longest and the mean gap between keyframes, from the first keyframe to
// the last packet read (or the clip's end, when it is shorter). Both are 0
// when no keyframe was read.
func keyframeGaps(out []byte, duration float64) (longest, mean float64) {
	var keys []float64
	last := math.Inf(-1)
	for line := range strings.Lines(string(out)) {
		pts, flags, _ := strings.Cut(strings.TrimSpace(line), ",")
		t, err := strconv.ParseFloat(pts, 64)
		if err != nil {
			continue // N/A
		}
		last = max(last, t)
		if strings.Contains(flags, "K") {
			keys = append(keys, t)
		}
	}
	if len(keys) == 0 {
		return 0, 0
	}
	slices.Sort(keys)
	end := last
	if duration > 0 && duration < keyframeWindow {
		// The whole clip was read: its last frame lasts to its end.
		end = max(end, keys[0]+duration)
	}
	for i := 1; i < len(keys); i++ {
		longest = max(longest, keys[i]-keys[i-1])
	}
	longest = max(longest, end-keys[len(keys)-1])
	if longest == 0 {
		return 0, 0
	}
	return longest, (end - keys[0]) / float64(len(keys))
}

func parseProbe(b []byte) (*ProbeResult, error) {
	var out ffprobeOut
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: ffprobe answered no JSON", ErrUnreadable)
	}
	p := &ProbeResult{Format: out.Format.FormatName, BitDepth: 8}
	p.Duration, _ = strconv.ParseFloat(out.Format.Duration, 64)
	p.FormatBitRate, _ = strconv.ParseInt(out.Format.BitRate, 10, 64)
	video, audio, chosenDefault := -1, 0, false
	for i, s := range out.Streams {
		switch s.CodecType {
		case "video":
			// Cover art in MP4/MKV is a "video" stream with attached_pic.
			if video < 0 && s.Disposition["attached_pic"] == 0 && s.Width > 0 && s.Height > 0 {
				video = i
			}
		case "audio":
			if !p.HasAudio || (!chosenDefault && s.Disposition["default"] == 1) {
				p.HasAudio, p.AudioStream, p.AudioCodec, p.AudioProfile = true, audio, s.CodecName, s.Profile
				chosenDefault = s.Disposition["default"] == 1
			}
			audio++
		}
	}
	if video < 0 {
		return nil, ErrNoVideo
	}
	s := out.Streams[video]
	p.VideoCodec, p.Profile, p.PixFmt, p.Level = s.CodecName, s.Profile, s.PixFmt, s.Level
	p.ColorTransfer, p.ColorPrimaries, p.FieldOrder = s.ColorTransfer, s.ColorPrimaries, s.FieldOrder
	if n, err := strconv.Atoi(s.BitsPerRawSample); err == nil && n > 0 {
		p.BitDepth = n
	} else if d := pixFmtDepth(s.PixFmt); d > 0 {
		p.BitDepth = d
	}
	p.BitRate, _ = strconv.ParseInt(s.BitRate, 10, 64)
	if p.Duration <= 0 {
		p.Duration, _ = strconv.ParseFloat(s.Duration, 64)
	}
	avg, r := parseRate(s.AvgFrameRate), parseRate(s.RFrameRate)
	p.FPS = avg
	if p.FPS == 0 {
		p.FPS = r
	}
	p.VFR = avg > 0 && r > 0 && math.Abs(avg-r) > 0.01*r

	rot := 0.0
	if v, ok := s.Tags["rotate"]; ok {
		rot, _ = strconv.ParseFloat(v, 64)
	}
	for _, sd := range s.SideDataList {
		if sd.SideDataType == "Display Matrix" && sd.Rotation != 0 {
			// The display matrix states the counter-clockwise angle.
			rot = -sd.Rotation
		}
	}
	p.Rotation = ((int(math.Round(rot/90))*90)%360 + 360) % 360
	p.Width, p.Height = s.Width, s.Height
	if sar := parseRate(strings.Replace(s.SampleAspect, ":", "/", 1)); sar > 0 && math.Abs(sar-1) > 0.01 {
		// Stored pixels are not square: the picture is shown this wide.
		p.SAR = sar
		p.Width = max(2, int(math.Round(float64(s.Width)*sar)))
	}
	if p.Rotation == 90 || p.Rotation == 270 {
		p.Width, p.Height = s.Height, s.Width
	}
	return p, nil
}

// pixFmtDepth guesses the bit depth from a pixel format name.
func pixFmtDepth(f string) int {
	switch {
	case f == "":
		return 0
	case strings.Contains(f, "p10"), strings.Contains(f, "p010"):
		return 10
	case strings.Contains(f, "p12"):
		return 12
	case strings.Contains(f, "p16"):
		return 16
	default:
		return 8
	}
}

// parseRate reads "30000/1001" or "25"; 0 when unknown.
func parseRate(s string) float64 {
	num, den, found := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 {
		return 0
	}
	if !found {
		return n
	}
	d, err := strconv.ParseFloat(den, 64)
	if err != nil || d <= 0 {
		return 0
	}
	return n / d
}

// lastLine is the last non-empty line of s, trimmed and bounded.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if l == "" {
		l = "ffprobe failed"
	}
	if len(l) > 300 {
		l = l[:300]
	}
	return l
}
