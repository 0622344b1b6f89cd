package library

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"mika/store"
)

var errTooManyFolders = errors.New("too many folders to watch")

// maxDebounceFactor bounds how long a steady stream of changes can delay
// the light rescan: at most this many Debounce periods after the first.
const maxDebounceFactor = 10

// watch starts an fsnotify watcher on every folder of the library and feeds
// the folders it reports to the worker, debounced. Where watching is not
// possible (a network share, whose remote changes inotify never sees; too
// many folders for the inotify watch limit) it logs why and leaves the
// library to its periodic scans. It returns the function that stops it.
func (s *Service) watch(ctx context.Context, w *worker, lib *store.Library, log *slog.Logger) func() {
	noop := func() {}
	fallback := func(why string, err error) {
		attrs := []any{slog.String("path", lib.Path), slog.String("why", why)}
		if err != nil {
			attrs = append(attrs, slog.Any("err", err))
		}
		if lib.ScanIntervalMinutes > 0 {
			attrs = append(attrs, slog.Int("scan_interval_minutes", lib.ScanIntervalMinutes))
			log.Warn("library changes are not watched; relying on periodic scans", attrs...)
		} else {
			log.Warn("library changes are not watched and periodic scans are off; only \"scan now\" will see changes", attrs...)
		}
		_ = s.cfg.Store.SetLibraryWatching(ctx, lib.ID, false)
	}
	if fsType, ok := networkFS(lib.Path); ok {
		fallback("network file system ("+fsType+"): remote changes raise no events", nil)
		return noop
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		fallback("cannot create a file watcher", err)
		return noop
	}
	root := lib.Path
	watched := 0
	// addTree watches dir and every folder below it. It fails when the
	// system refuses more watches or the library has too many folders.
	addTree := func(dir string) error {
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root {
					return err
				}
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				return nil
			}
			if p != root && skipName(d.Name()) {
				return fs.SkipDir
			}
			if watched >= s.cfg.MaxWatchedFolders {
				return errTooManyFolders
			}
			watched++
			if err := fw.Add(p); err != nil {
				if p == root || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) {
					return err
				}
				log.Debug("library: cannot watch folder", slog.String("path", p), slog.Any("err", err))
			}
			return nil
		})
	}
	if err := addTree(root); err != nil {
		fw.Close()
		why := "cannot watch the library folder"
		switch {
		case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE):
			why = "the system's watch limit is reached (raise fs.inotify.max_user_watches)"
		case errors.Is(err, errTooManyFolders):
			why = "the library has more folders than are watched"
		}
		fallback(why, err)
		return noop
	}
	if err := s.cfg.Store.SetLibraryWatching(ctx, lib.ID, true); err != nil {
		log.Warn("library: record watching", slog.Any("err", err))
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		var first time.Time // first change not yet handed over; zero when none
		note := func(sc Scope) {
			w.addScope(sc)
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			delay := s.cfg.Debounce
			if limit := first.Add(maxDebounceFactor * s.cfg.Debounce); now.Add(delay).After(limit) {
				delay = max(limit.Sub(now), 0)
			}
			timer.Reset(delay)
		}
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
				first = time.Time{}
				w.signal()
			case err, ok := <-fw.Errors:
				if !ok {
					return
				}
				if errors.Is(err, fsnotify.ErrEventOverflow) {
					log.Warn("library: too many changes at once; rescanning the whole library")
					note(Whole[0])
					continue
				}
				log.Warn("library watcher", slog.Any("err", err))
			case ev, ok := <-fw.Events:
				if !ok {
					return
				}
				// Writes are ignored: a file being written was seen when it was
				// created, and the settle pass re-checks it until it is stable.
				if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) {
					continue
				}
				rel, err := filepath.Rel(root, ev.Name)
				if err != nil || rel == "." || rel == ".." || hiddenPath(filepath.ToSlash(rel)) {
					continue
				}
				rel = filepath.ToSlash(rel)
				parent := path.Dir(rel)
				if parent == "." {
					parent = ""
				}
				note(Scope{Dir: parent})
				if ev.Has(fsnotify.Create) {
					if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
						if err := addTree(ev.Name); err != nil {
							log.Warn("library: cannot watch a new folder; periodic scans will see it",
								slog.String("path", ev.Name), slog.Any("err", err))
						}
						note(Scope{Dir: rel, Recursive: true})
					}
				} else {
					// A folder moved away or removed takes its files with it.
					_ = fw.Remove(ev.Name)
					note(Scope{Dir: rel, Recursive: true})
				}
			}
		}
	}()
	return func() {
		fw.Close()
		<-done
	}
}
