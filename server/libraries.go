package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"mika/store"
)

// Library folders (SPEC §10). The handlers only write the libraries table:
// the library service (transcoder/library) notices new, changed and deleted
// libraries and "scan now" requests within a second, and writes scan
// progress back into the rows.

// Scan interval limits: 0 turns periodic scans off (the watcher and "scan
// now" still work); otherwise 1 minute to 1 week.
const (
	defaultScanInterval = 720
	maxScanInterval     = 7 * 24 * 60
)

// libraryItem is a library as the API shows it.
type libraryItem struct {
	ID                  int64        `json:"id"`
	Path                string       `json:"path"`
	CategoryID          int64        `json:"category_id"`
	ScanIntervalMinutes int          `json:"scan_interval_minutes"`
	VideoCount          int64        `json:"video_count"`
	MissingCount        int64        `json:"missing_count"`
	LastScanAt          string       `json:"last_scan_at"`
	Scanning            bool         `json:"scanning"` // running or about to start
	ScanProgress        scanProgress `json:"scan_progress"`
	Watching            bool         `json:"watching"` // changes are seen as they happen
	LastError           string       `json:"last_error"`
	CreatedAt           string       `json:"created_at"`
}

type scanProgress struct {
	Scanned int64 `json:"scanned"`
	Total   int64 `json:"total"`
	Percent int   `json:"percent"`
}

func libraryOf(l *store.Library) libraryItem {
	p := scanProgress{Scanned: l.ScanScanned, Total: l.ScanTotal}
	if l.ScanTotal > 0 {
		p.Percent = int(min(100, l.ScanScanned*100/l.ScanTotal))
	} else if !l.Scanning && l.LastScanAt > 0 {
		p.Percent = 100
	}
	return libraryItem{
		ID:                  l.ID,
		Path:                l.Path,
		CategoryID:          l.CategoryID,
		ScanIntervalMinutes: l.ScanIntervalMinutes,
		VideoCount:          l.VideoCount,
		MissingCount:        l.MissingCount,
		LastScanAt:          store.FormatTime(l.LastScanAt),
		Scanning:            l.Scanning || l.ScanRequestedAt > 0,
		ScanProgress:        p,
		Watching:            l.Watching,
		LastError:           l.LastError,
		CreatedAt:           store.FormatTime(l.CreatedAt),
	}
}

// listLibraries is GET /api/admin/libraries.
func (s *Server) listLibraries(w http.ResponseWriter, r *http.Request) error {
	errs := map[string]string{}
	page := parsePage(r, errs)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	libs, err := s.store.Libraries(r.Context())
	if err != nil {
		return err
	}
	list := []libraryItem{}
	lo, hi := page.Bounds(len(libs))
	for i := lo; i < hi; i++ {
		list = append(list, libraryOf(&libs[i]))
	}
	return ok(w, pageOf(page, list, int64(len(libs))))
}

// libraryInput is the body of POST and PUT; absent fields are nil.
type libraryInput struct {
	Path                *string `json:"path"`
	CategoryID          *int64  `json:"category_id"`
	ScanIntervalMinutes *int    `json:"scan_interval_minutes"`
}

// createLibrary is POST /api/admin/libraries.
func (s *Server) createLibrary(w http.ResponseWriter, r *http.Request) error {
	var in libraryInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	n := store.NewLibrary{ScanIntervalMinutes: defaultScanInterval, CreatedBy: currentUser(r).ID}
	errs := map[string]string{}
	if in.Path == nil {
		errs["path"] = "is required"
	} else {
		n.Path = s.checkLibraryPath(r.Context(), *in.Path, 0, errs)
	}
	if in.CategoryID != nil {
		n.CategoryID = *in.CategoryID
	}
	s.checkLibraryCategory(r.Context(), n.CategoryID, errs)
	if in.ScanIntervalMinutes != nil {
		n.ScanIntervalMinutes = *in.ScanIntervalMinutes
	}
	checkScanInterval(n.ScanIntervalMinutes, errs)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	l, err := s.store.CreateLibrary(r.Context(), n)
	if errors.Is(err, store.ErrConflict) {
		return errField("path", "is already a library")
	}
	if err != nil {
		return err
	}
	s.log.Info("library added", slog.Int64("library_id", l.ID), slog.String("path", l.Path),
		slog.Int64("by", n.CreatedBy))
	return ok(w, libraryOf(l))
}

// updateLibrary is PUT /api/admin/libraries/{id}: any of path, category_id
// and scan_interval_minutes; absent fields keep their values.
func (s *Server) updateLibrary(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	old, err := s.store.LibraryByID(r.Context(), id)
	if err != nil {
		return err
	}
	var in libraryInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	u := store.LibraryUpdate{Path: old.Path, CategoryID: old.CategoryID, ScanIntervalMinutes: old.ScanIntervalMinutes}
	errs := map[string]string{}
	if in.Path != nil && filepath.Clean(*in.Path) != old.Path {
		u.Path = s.checkLibraryPath(r.Context(), *in.Path, id, errs)
	}
	if in.CategoryID != nil {
		u.CategoryID = *in.CategoryID
		s.checkLibraryCategory(r.Context(), u.CategoryID, errs)
	}
	if in.ScanIntervalMinutes != nil {
		u.ScanIntervalMinutes = *in.ScanIntervalMinutes
		checkScanInterval(u.ScanIntervalMinutes, errs)
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	l, err := s.store.UpdateLibrary(r.Context(), id, u)
	if errors.Is(err, store.ErrConflict) {
		return errField("path", "is already a library")
	}
	if err != nil {
		return err
	}
	return ok(w, libraryOf(l))
}

// deleteLibrary is DELETE /api/admin/libraries/{id}: the library, its
// videos, their tasks and their transcoded output go; the original files
// stay exactly as they are.
func (s *Server) deleteLibrary(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := s.store.DeleteLibrary(r.Context(), id)
	if err != nil {
		return err
	}
	// The rows are gone, so no worker can claim these tasks any more; stop
	// the ones already running before their output is removed.
	for _, t := range d.ActiveTaskIDs {
		s.transcoder.CancelTask(t)
	}
	for _, v := range d.VideoIDs {
		for _, p := range []string{s.data.HLS(v), s.data.Cover(v)} {
			if err := os.RemoveAll(p); err != nil {
				s.log.Warn("remove library video output", slog.Int64("video_id", v), slog.String("path", p),
					slog.Any("err", err))
			}
		}
	}
	s.log.Info("library deleted", slog.Int64("library_id", id), slog.Int("videos", len(d.VideoIDs)))
	return ok(w, map[string]any{"id": id, "videos_removed": len(d.VideoIDs)})
}

// scanLibrary is POST /api/admin/libraries/{id}/scan: a full scan starts in
// the background; 409 while one runs or waits to start.
func (s *Server) scanLibrary(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.store.RequestLibraryScan(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errConflict("a scan of this library is already running", nil)
		}
		return err
	}
	l, err := s.store.LibraryByID(r.Context(), id)
	if err != nil {
		return err
	}
	return ok(w, libraryOf(l))
}

func (s *Server) checkLibraryCategory(ctx context.Context, id int64, errs map[string]string) {
	if id < 0 {
		errs["category_id"] = "must be 0 (none) or an existing category"
		return
	}
	if id == 0 {
		return
	}
	if _, err := s.store.CategoryByID(ctx, id); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("check library category", slog.Any("err", err))
		}
		errs["category_id"] = "does not exist"
	}
}

func checkScanInterval(m int, errs map[string]string) {
	if m < 0 || m > maxScanInterval {
		errs["scan_interval_minutes"] = fmt.Sprintf("must be 0 (no periodic scans) or 1 to %d", maxScanInterval)
	}
}

// checkLibraryPath validates a library folder and returns it cleaned; a
// problem goes into errs["path"]. self is the library being changed (0 for
// a new one), which may not clash with itself.
func (s *Server) checkLibraryPath(ctx context.Context, raw string, self int64, errs map[string]string) string {
	why := func(msg string) string { errs["path"] = msg; return "" }
	switch {
	case strings.TrimSpace(raw) == "":
		return why("is required")
	case len(raw) > 4096 || strings.ContainsRune(raw, 0):
		return why("is not a valid path")
	case !filepath.IsAbs(raw):
		return why("must be an absolute path, such as /mnt/nas/Movies")
	}
	p := filepath.Clean(raw)
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return why("does not exist")
	case errors.Is(err, os.ErrPermission):
		return why("cannot be read by the server (permission denied)")
	case err != nil:
		return why("cannot be read by the server")
	case !fi.IsDir():
		return why("is not a folder")
	}
	f, err := os.Open(p)
	if err != nil {
		return why("cannot be read by the server (permission denied)")
	}
	_, err = f.ReadDir(1)
	f.Close()
	if err != nil && err != io.EOF {
		return why("cannot be read by the server (permission denied)")
	}
	// Compare real locations, so a symbolic link cannot sneak the data
	// folder in (the library would import Mika's own output).
	real := realPath(p)
	data := realPath(s.data.Root())
	switch {
	case within(data, real):
		return why("is inside Mika's data folder")
	case within(real, data):
		return why("contains Mika's data folder")
	}
	libs, err := s.store.Libraries(ctx)
	if err != nil {
		s.log.Warn("check library path", slog.Any("err", err))
		return why("cannot be checked right now")
	}
	for _, l := range libs {
		if l.ID == self {
			continue
		}
		other := realPath(l.Path)
		switch {
		case other == real || l.Path == p:
			return why(fmt.Sprintf("is already a library (#%d)", l.ID))
		case within(other, real):
			return why(fmt.Sprintf("is inside library #%d (%s)", l.ID, l.Path))
		case within(real, other):
			return why(fmt.Sprintf("contains library #%d (%s)", l.ID, l.Path))
		}
	}
	return p
}

// realPath resolves symbolic links; a path that cannot be resolved is
// compared as it is.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// within reports whether p is dir or lies below it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
