package transcoder

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"time"
)

// hwProbe is a tiny test encode for one hardware encoder, and the device it
// needs: an encoder that ffmpeg lists is not an encoder that works.
type hwProbe struct {
	name   string
	device string // skip at once when this is missing
	args   []string
}

var hwProbes = []hwProbe{
	{"vaapi", "/dev/dri/renderD128", []string{"-vaapi_device", "/dev/dri/renderD128",
		"-f", "lavfi", "-i", "testsrc2=size=256x144:rate=10:duration=0.2",
		"-vf", "format=nv12,hwupload", "-c:v", "h264_vaapi", "-f", "null", "-"}},
	{"qsv", "/dev/dri/renderD128", []string{"-f", "lavfi", "-i", "testsrc2=size=256x144:rate=10:duration=0.2",
		"-pix_fmt", "nv12", "-c:v", "h264_qsv", "-f", "null", "-"}},
	{"nvenc", "/dev/nvidiactl", []string{"-f", "lavfi", "-i", "testsrc2=size=256x144:rate=10:duration=0.2",
		"-pix_fmt", "yuv420p", "-c:v", "h264_nvenc", "-f", "null", "-"}},
}

// detectHWAccels answers "none" followed by each hardware encoder whose test
// encode succeeds, each try bounded to a few seconds.
func detectHWAccels(ctx context.Context, ffmpeg string, log *slog.Logger) []string {
	out := []string{"none"}
	for _, h := range hwProbes {
		if _, err := os.Stat(h.device); err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		args := append([]string{"-hide_banner", "-nostdin", "-v", "error"}, h.args...)
		b, err := exec.CommandContext(cctx, ffmpeg, args...).CombinedOutput()
		cancel()
		if err != nil {
			log.Info("hardware encoder unavailable", slog.String("hwaccel", h.name), slog.String("why", lastErrorLine(string(b))))
			continue
		}
		log.Info("hardware encoder works", slog.String("hwaccel", h.name))
		out = append(out, h.name)
	}
	return out
}
