package server

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// detectingTranscoder is a pool whose ffmpeg detection may still run.
type detectingTranscoder struct {
	fakeTranscoder
	detected bool
	version  string
}

func (d *detectingTranscoder) FFmpegDetected() bool  { return d.detected }
func (d *detectingTranscoder) FFmpegVersion() string { return d.version }

func getHealth(t *testing.T, e *testEnv) (int, map[string]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var h map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
		t.Fatalf("healthz body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, h
}

func TestHealthzDatabaseGone(t *testing.T) {
	e := newTestEnv(t)
	e.store.Close()
	code, h := getHealth(t, e)
	if code != 503 || h["status"] != "error" || h["db"] != "error" {
		t.Errorf("closed database: %d %v", code, h)
	}
}

func TestHealthzFFmpeg(t *testing.T) {
	tests := []struct {
		name       string
		transcoder Transcoder
		want       string
	}{
		{"still detecting", &detectingTranscoder{}, "detecting"},
		// A version only counts once detection is over.
		{"detecting, stale version", &detectingTranscoder{version: "6.0"}, "detecting"},
		{"detected, missing", &detectingTranscoder{detected: true}, "missing"},
		{"detected", &detectingTranscoder{detected: true, version: "5.1.9"}, "5.1.9"},
		{"transcoder without background detection", &fakeTranscoder{}, "test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.srv.transcoder = tt.transcoder
			code, h := getHealth(t, e)
			if code != 200 || h["status"] != "ok" || h["db"] != "ok" || h["ffmpeg"] != tt.want {
				t.Errorf("got %d %v, want 200 with ffmpeg %q", code, h, tt.want)
			}
		})
	}
}
