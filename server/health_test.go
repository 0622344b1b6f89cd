package server

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// versionTranscoder is a pool that found ffmpeg version (or none).
type versionTranscoder struct {
	fakeTranscoder
	version string
}

func (v *versionTranscoder) FFmpegVersion() string { return v.version }

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

// "ffmpeg" is a version or "missing", never anything else (SPEC §9).
func TestHealthzFFmpeg(t *testing.T) {
	tests := []struct {
		name       string
		transcoder Transcoder
		want       string
	}{
		{"missing", &versionTranscoder{}, "missing"},
		{"found", &versionTranscoder{version: "5.1.9"}, "5.1.9"},
		{"distribution build", &versionTranscoder{version: "6.1.1-3ubuntu5"}, "6.1.1-3ubuntu5"},
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
