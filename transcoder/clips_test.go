package transcoder

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// needFFmpeg skips tests that need the real ffmpeg and ffprobe when they are
// not installed.
func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed", b)
		}
	}
}

// clip is a test source generated with lavfi.
type clip struct {
	size     string // "WxH"
	seconds  string
	rate     string // frame rate, default 25
	audio    bool
	codec    string // default libx264
	pixFmt   string // default yuv420p
	rotate   string // rotate metadata written with a stream copy
	ext      string // default .mp4
	extraOut []string
}

// makeClip writes the clip into dir and returns its path.
func makeClip(t testing.TB, dir string, c clip) string {
	t.Helper()
	needFFmpeg(t)
	if c.rate == "" {
		c.rate = "25"
	}
	if c.codec == "" {
		c.codec = "libx264"
	}
	if c.pixFmt == "" {
		c.pixFmt = "yuv420p"
	}
	if c.ext == "" {
		c.ext = ".mp4"
	}
	out := filepath.Join(dir, "src"+c.ext)
	args := []string{"-v", "error", "-y", "-f", "lavfi", "-i",
		"testsrc2=size=" + c.size + ":rate=" + c.rate + ":duration=" + c.seconds}
	if c.audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:duration="+c.seconds)
	}
	args = append(args, "-c:v", c.codec, "-pix_fmt", c.pixFmt)
	if c.codec == "libx264" {
		args = append(args, "-preset", "ultrafast")
	}
	if c.audio {
		args = append(args, "-c:a", "aac", "-shortest")
	}
	args = append(args, c.extraOut...)
	target := out
	if c.rotate != "" {
		target = filepath.Join(dir, "unrotated"+c.ext)
	}
	args = append(args, target)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("make clip: %v\n%s", err, b)
	}
	if c.rotate != "" {
		b, err := exec.Command("ffmpeg", "-v", "error", "-y", "-i", target, "-c", "copy",
			"-metadata:s:v:0", "rotate="+c.rotate, out).CombinedOutput()
		if err != nil {
			t.Fatalf("rotate clip: %v\n%s", err, b)
		}
		os.Remove(target)
	}
	return out
}

// runFFmpeg runs ffmpeg with args, failing the test on error.
func runFFmpeg(t testing.TB, args ...string) {
	t.Helper()
	args = append([]string{"-v", "error", "-y"}, args...)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, b)
	}
}
