package server

import (
	"net/http"
)

type health struct {
	Status string `json:"status"`
	FFmpeg string `json:"ffmpeg"`
	DB     string `json:"db"`
}

// ffmpegDetector is a transcoder that looks for ffmpeg in the background
// after start (the pool does: `ffmpeg -version` takes 0.1–0.4 s).
type ffmpegDetector interface {
	// FFmpegDetected says whether the first detection has ended.
	FFmpegDetected() bool
}

// healthz answers {"status","ffmpeg","db"} without auth. It is not wrapped
// in the envelope: monitors read it as it is. "ffmpeg" is the version,
// "missing", or, in the first moments after start while ffmpeg's version
// is still being read, "detecting": the server is up and serving, and
// claims no task until detection ends.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	h := health{Status: "ok", FFmpeg: "missing", DB: "ok"}
	if d, ok := s.transcoder.(ffmpegDetector); ok && !d.FFmpegDetected() {
		h.FFmpeg = "detecting"
	} else if v := s.transcoder.FFmpegVersion(); v != "" {
		h.FFmpeg = v
	}
	status := http.StatusOK
	if err := s.store.Ping(r.Context()); err != nil {
		h.Status, h.DB = "error", "error"
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
	return nil
}
