package transcoder

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"
)

func TestDetectHWAccels(t *testing.T) {
	needFFmpeg(t)
	start := time.Now()
	got := detectHWAccels(context.Background(), "ffmpeg", slog.New(slog.DiscardHandler))
	if len(got) == 0 || got[0] != "none" {
		t.Fatalf("got %v, want none first", got)
	}
	for _, h := range got[1:] {
		if !slices.Contains([]string{"vaapi", "qsv", "nvenc"}, h) {
			t.Errorf("unknown hwaccel %q", h)
		}
	}
	if took := time.Since(start); took > 50*time.Second {
		t.Errorf("detection took %s", took)
	}
}

func TestDetectHWAccelsWithoutFFmpeg(t *testing.T) {
	got := detectHWAccels(context.Background(), "/nonexistent/ffmpeg", slog.New(slog.DiscardHandler))
	if !slices.Equal(got, []string{"none"}) {
		t.Errorf("got %v", got)
	}
}
