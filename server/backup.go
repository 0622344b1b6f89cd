package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// backup streams a consistent copy of the live database. The copy is made
// with VACUUM INTO into the data folder's scratch space and removed once
// sent. Media files are not included: copy the media folder beside it.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) error {
	suffix, err := randomHex(8)
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.data.Tmp(), "backup-"+suffix+".db")
	defer os.Remove(tmp)
	started := time.Now()
	if err := s.store.Backup(r.Context(), tmp); err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	name := fmt.Sprintf("mika-%s.db", started.Format("20060102-150405"))
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Content-Length", strconv.FormatInt(info.Size(), 10))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	n, err := io.Copy(w, f)
	if err != nil {
		s.log.Warn("backup download interrupted", slog.Int64("sent", n), slog.Any("err", err))
		return nil
	}
	s.log.Info("backup downloaded", slog.Int64("bytes", n), slog.Duration("took", time.Since(started)),
		slog.String("by", currentUser(r).Username))
	return nil
}
