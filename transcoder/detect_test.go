package transcoder

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mika/store"
)

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// A binary that is not there at all is known when Start returns, so the
// first /healthz after a start without ffmpeg says "missing", not
// "detecting".
func TestPoolStartKnowsAMissingBinaryAtOnce(t *testing.T) {
	dir := t.TempDir()
	present := writeScript(t, filepath.Join(dir, "present"), "exit 0\n")
	tests := []struct{ name, ffmpeg, ffprobe string }{
		{"no ffmpeg", filepath.Join(dir, "no-ffmpeg"), present},
		{"no ffprobe", present, filepath.Join(dir, "no-ffprobe")},
		{"neither on PATH", "mika-no-such-ffmpeg", "mika-no-such-ffprobe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestPool(t, nil)
			p := New(Config{Store: tp.store, Data: tp.data, FFmpeg: tt.ffmpeg, FFprobe: tt.ffprobe})
			tp.start(p)
			if !p.FFmpegDetected() {
				t.Fatal("a missing binary was not known when Start returned")
			}
			if v := p.FFmpegVersion(); v != "" {
				t.Errorf("version %q for a missing binary", v)
			}
		})
	}
}

// Start does not wait for `ffmpeg -version`, and no task is claimed until
// it has answered.
func TestPoolClaimsNothingUntilFFmpegDetected(t *testing.T) {
	tp := newTestPool(t, nil)
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	ffmpeg := writeScript(t, filepath.Join(dir, "ffmpeg"), `if [ "$2" = -version ]; then
	while [ ! -e `+release+` ]; do sleep 0.02; done
	echo "ffmpeg version 9.9-fake Copyright (c) the FFmpeg developers"
	exit 0
fi
exit 1
`)
	ffprobe := writeScript(t, filepath.Join(dir, "ffprobe"), "exit 1\n")
	_, taskID := tp.addVideoAt(filepath.Join(dir, "a.mp4"))

	p := New(Config{Store: tp.store, Data: tp.data, FFmpeg: ffmpeg, FFprobe: ffprobe})
	p.PollInterval = 50 * time.Millisecond
	started := time.Now()
	tp.start(p)
	if took := time.Since(started); took > time.Second {
		t.Errorf("Start took %v: it waited for ffmpeg", took)
	}
	for range 6 {
		p.Wake()
		time.Sleep(50 * time.Millisecond)
		if p.FFmpegDetected() {
			t.Fatal("detected before ffmpeg -version answered")
		}
		task, err := tp.store.TaskByID(context.Background(), taskID)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != store.TaskPending || task.Attempts != 0 {
			t.Fatalf("task %s (attempts %d) while ffmpeg was still being detected", task.Status, task.Attempts)
		}
	}

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if v := p.FFmpegVersion(); v != "9.9-fake" {
		t.Fatalf("version %q, want 9.9-fake", v)
	}
	if !p.FFmpegDetected() {
		t.Error("FFmpegVersion answered but FFmpegDetected says no")
	}
	// Once detected, the queued task is claimed (and fails: the fake
	// ffprobe reads nothing).
	p.Wake()
	tp.waitTask(taskID, 10*time.Second, store.TaskProcessing, store.TaskFailed, store.TaskCompleted)
}
