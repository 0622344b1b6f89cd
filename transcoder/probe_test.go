package transcoder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mika/store"
)

func TestProbeRejects(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	random := filepath.Join(dir, "random.mp4")
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i*7919 + i/13)
	}
	if err := os.WriteFile(random, b, 0o644); err != nil {
		t.Fatal(err)
	}
	audioOnly := filepath.Join(dir, "audio.m4a")
	runFFmpeg(t, "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", audioOnly)

	tests := []struct {
		name string
		path string
		want error
	}{
		{"random bytes", random, ErrUnreadable},
		{"missing file", filepath.Join(dir, "nope.mp4"), ErrUnreadable},
		{"audio only", audioOnly, ErrNoVideo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Probe(context.Background(), "ffprobe", tt.path)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	needFFmpeg(t)
	tests := []struct {
		name       string
		clip       clip
		w, h, rot  int
		codec, pix string
		depth      int
		audio      bool
	}{
		{"h264 with audio", clip{size: "320x180", seconds: "1", audio: true}, 320, 180, 0, "h264", "yuv420p", 8, true},
		{"rotated portrait", clip{size: "320x180", seconds: "1", rotate: "90"}, 180, 320, 270, "h264", "yuv420p", 8, false},
		{"10-bit", clip{size: "320x180", seconds: "1", pixFmt: "yuv420p10le"}, 320, 180, 0, "h264", "yuv420p10le", 10, false},
		{"vp9 webm", clip{size: "160x90", seconds: "1", codec: "libvpx-vp9", ext: ".webm",
			extraOut: []string{"-deadline", "realtime", "-cpu-used", "8"}}, 160, 90, 0, "vp9", "yuv420p", 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := makeClip(t, t.TempDir(), tt.clip)
			p, err := Probe(context.Background(), "ffprobe", src)
			if err != nil {
				t.Fatal(err)
			}
			if p.Width != tt.w || p.Height != tt.h || p.Rotation != tt.rot {
				t.Errorf("size %dx%d rot %d, want %dx%d rot %d", p.Width, p.Height, p.Rotation, tt.w, tt.h, tt.rot)
			}
			if p.VideoCodec != tt.codec || p.PixFmt != tt.pix || p.BitDepth != tt.depth {
				t.Errorf("codec %s %s %d-bit, want %s %s %d", p.VideoCodec, p.PixFmt, p.BitDepth, tt.codec, tt.pix, tt.depth)
			}
			if p.HasAudio != tt.audio || (tt.audio && p.AudioCodec != "aac") {
				t.Errorf("audio %v %q, want %v", p.HasAudio, p.AudioCodec, tt.audio)
			}
			if p.Duration < 0.9 || p.Duration > 1.2 {
				t.Errorf("duration %v, want ~1", p.Duration)
			}
			if p.FPS < 24.9 || p.FPS > 25.1 {
				t.Errorf("fps %v, want 25", p.FPS)
			}
		})
	}
}

func TestProbeHDR(t *testing.T) {
	for _, transfer := range []string{"smpte2084", "arib-std-b67"} {
		p, err := Probe(context.Background(), "ffprobe", hdrClip(t, transfer))
		if err != nil {
			t.Fatal(err)
		}
		if !p.HDR() || p.ColorTransfer != transfer || p.ColorPrimaries != "bt2020" || p.BitDepth != 10 {
			t.Errorf("%s: HDR %v transfer %q primaries %q depth %d", transfer, p.HDR(), p.ColorTransfer, p.ColorPrimaries, p.BitDepth)
		}
	}
	sdr, err := Probe(context.Background(), "ffprobe", makeClip(t, t.TempDir(), clip{size: "160x90", seconds: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if sdr.HDR() {
		t.Errorf("an SDR clip (transfer %q) reads as HDR", sdr.ColorTransfer)
	}
}

// TestProbeDefaultAudio: of several audio streams, the one marked default
// plays, and only it is mapped.
func TestProbeDefaultAudio(t *testing.T) {
	needFFmpeg(t)
	src := filepath.Join(t.TempDir(), "two.mkv")
	runFFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=1",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-f", "lavfi", "-i", "sine=frequency=880:duration=1",
		"-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
		"-disposition:a:0", "0", "-disposition:a:1", "default", src)
	p, err := Probe(context.Background(), "ffprobe", src)
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasAudio || p.AudioStream != 1 {
		t.Fatalf("audio %v stream %d, want the second (default) one", p.HasAudio, p.AudioStream)
	}
	c, err := BuildCommand("ffmpeg", src, "/out", PlanFor(p, store.DefaultSettings()))
	if err != nil {
		t.Fatal(err)
	}
	if line := strings.Join(c.Args, " "); !strings.Contains(line, "-map 0:a:1") || strings.Contains(line, "0:a:0") {
		t.Errorf("want only the default audio stream mapped:\n%s", line)
	}
	// With no stream marked default, the first plays.
	if q, _ := parseProbe([]byte(`{"streams":[{"codec_type":"video","width":2,"height":2},
		{"codec_type":"audio","codec_name":"aac"},{"codec_type":"audio","codec_name":"mp3"}]}`)); q.AudioStream != 0 || q.AudioCodec != "aac" {
		t.Errorf("no default: stream %d %q, want the first", q.AudioStream, q.AudioCodec)
	}
}
