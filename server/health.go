package server

import (
	"net/http"
)

type health struct {
	Status string `json:"status"`
	FFmpeg string `json:"ffmpeg"`
	DB     string `json:"db"`
}

// healthz answers {"status","ffmpeg","db"} without auth. It is not wrapped
// in the envelope: monitors read it as it is. "ffmpeg" is the version or
// "missing", nothing else: right after a start whose ffmpeg version is not
// known yet, the transcoder makes this wait for it (3 s at most).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	h := health{Status: "ok", FFmpeg: "missing", DB: "ok"}
	if v := s.transcoder.FFmpegVersion(); v != "" {
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
