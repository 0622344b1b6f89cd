package library

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"mika/store"
)

// Config is what the library service is built from.
type Config struct {
	Store     *store.Store
	FFprobe   string       // ffprobe binary, for the default Prober
	Prober    Prober       // nil: FFprobe{Path: FFprobe}
	Wake      func()       // tells the transcoder a task was queued
	Log       *slog.Logger // may be nil
	StableFor time.Duration
	Poll      time.Duration // how often the libraries table is read (scan requests, new libraries); 0: 1 s
	Debounce  time.Duration // quiet time after a change before the light rescan; 0: 2 s
	// MaxWatchedFolders caps the folders watched per library (each costs
	// an inotify watch and kernel memory); a larger library relies on its
	// periodic scans. 0: DefaultMaxWatchedFolders.
	MaxWatchedFolders int
}

// DefaultMaxWatchedFolders is the default cap on watched folders per library.
const DefaultMaxWatchedFolders = 50000

// Service keeps every library up to date: one worker per library runs a
// full scan at start, on request ("scan now" sets scan_requested_at in the
// row) and every scan_interval_minutes, light rescans of the folders the
// watcher reports, and a settle pass when waiting files become stable. The
// HTTP side and the service meet only in the database.
type Service struct {
	cfg Config
	log *slog.Logger

	stop context.CancelFunc
	done chan struct{}

	mu      sync.Mutex
	workers map[int64]*worker
}

// worker is the goroutine that owns one library.
type worker struct {
	path   string
	cancel context.CancelFunc
	done   chan struct{}
	rows   chan store.Library // the latest row, newest wins

	mu      sync.Mutex
	scopes  map[Scope]bool // folders the watcher reported since the last light rescan
	changed chan struct{}
}

// New builds the service; Start runs it.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Prober == nil {
		p := cfg.FFprobe
		if p == "" {
			p = "ffprobe"
		}
		cfg.Prober = FFprobe{Path: p}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 2 * time.Second
	}
	if cfg.StableFor <= 0 {
		cfg.StableFor = DefaultStableFor
	}
	if cfg.MaxWatchedFolders <= 0 {
		cfg.MaxWatchedFolders = DefaultMaxWatchedFolders
	}
	return &Service{cfg: cfg, log: cfg.Log, workers: map[int64]*worker{}}
}

// Start runs the service until ctx ends or Shutdown.
func (s *Service) Start(ctx context.Context) {
	ctx, s.stop = context.WithCancel(ctx)
	s.done = make(chan struct{})
	if err := s.cfg.Store.ResetLibraryScans(ctx); err != nil {
		s.log.Warn("library: reset scan state", slog.Any("err", err))
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.Poll)
		defer t.Stop()
		for {
			s.reconcile(ctx)
			select {
			case <-ctx.Done():
				s.mu.Lock()
				for id, w := range s.workers {
					w.cancel()
					<-w.done
					delete(s.workers, id)
				}
				s.mu.Unlock()
				return
			case <-t.C:
			}
		}
	}()
}

// Shutdown stops every scan and watcher and waits for them.
func (s *Service) Shutdown() {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
}

// reconcile starts a worker for each new library, stops those of deleted
// ones, restarts one whose path changed, and hands each its latest row.
func (s *Service) reconcile(ctx context.Context) {
	libs, err := s.cfg.Store.Libraries(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("library: list libraries", slog.Any("err", err))
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[int64]bool{}
	for _, l := range libs {
		seen[l.ID] = true
		w := s.workers[l.ID]
		if w != nil && w.path != l.Path {
			w.cancel()
			<-w.done
			w = nil
		}
		if w == nil {
			w = s.startWorker(ctx, l)
			s.workers[l.ID] = w
		}
		select {
		case <-w.rows:
		default:
		}
		w.rows <- l
	}
	for id, w := range s.workers {
		if !seen[id] {
			w.cancel()
			<-w.done
			delete(s.workers, id)
			s.log.Info("library removed; its watcher stopped", slog.Int64("library_id", id))
		}
	}
}

func (s *Service) startWorker(ctx context.Context, l store.Library) *worker {
	ctx, cancel := context.WithCancel(ctx)
	w := &worker{path: l.Path, cancel: cancel, done: make(chan struct{}), rows: make(chan store.Library, 1),
		scopes: map[Scope]bool{}, changed: make(chan struct{}, 1)}
	go s.run(ctx, w, l)
	return w
}

// run is a library's worker loop. Scans of one library never overlap.
func (s *Service) run(ctx context.Context, w *worker, lib store.Library) {
	defer close(w.done)
	log := s.log.With(slog.Int64("library_id", lib.ID))
	sc := &Scanner{Store: s.cfg.Store, Prober: s.cfg.Prober, Wake: s.cfg.Wake, Log: s.log, StableFor: s.cfg.StableFor}
	rootInfo, _ := os.Stat(lib.Path)
	stopWatch := s.watch(ctx, w, &lib, log)
	defer func() { stopWatch() }()

	full := true // every worker starts with a full scan: files may have changed while Mika was down
	var settleAt time.Time
	for {
		if full {
			full = false
			// A share unmounted and mounted again is a new folder: the old
			// watches see nothing of it. Watch first, then scan, so that no
			// change falls between the two.
			if fi, err := os.Stat(lib.Path); err == nil && (rootInfo == nil || !os.SameFile(fi, rootInfo)) {
				log.Info("library folder was replaced (remounted?); watching it again", slog.String("path", lib.Path))
				stopWatch()
				rootInfo = fi
				stopWatch = s.watch(ctx, w, &lib, log)
			}
			s.fullScan(ctx, sc, &lib, log)
			settleAt = s.nextSettle(ctx, &lib)
		}
		if ctx.Err() != nil {
			return
		}
		var settle <-chan time.Time
		var timer *time.Timer
		if !settleAt.IsZero() {
			timer = time.NewTimer(time.Until(settleAt))
			settle = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case l := <-w.rows:
			if wantsFullScan(l) {
				// The snapshot may predate the scan that just ended: it
				// would still carry that scan's request, or the last_scan_at
				// from before it, and so scan the whole library again.
				if fresh, err := s.cfg.Store.LibraryByID(ctx, l.ID); err == nil {
					l = *fresh
				}
			}
			lib = l
			full = wantsFullScan(l)
		case <-w.changed:
			res, err := sc.Scan(ctx, &lib, w.takeScopes())
			if err != nil && ctx.Err() == nil {
				log.Warn("library: light rescan failed", slog.Any("err", err))
			}
			s.noteProbeErrors(ctx, &lib, res, log)
			settleAt = s.nextSettle(ctx, &lib)
		case <-settle:
			var res Result
			scopes, err := s.pendingScopes(ctx, lib.ID)
			if err == nil && len(scopes) > 0 {
				res, err = sc.Scan(ctx, &lib, scopes)
			}
			if err != nil && ctx.Err() == nil {
				log.Warn("library: settling waiting files failed", slog.Any("err", err))
			}
			s.noteProbeErrors(ctx, &lib, res, log)
			settleAt = s.nextSettle(ctx, &lib)
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// wantsFullScan: an admin asked for a scan, or the periodic one is due.
func wantsFullScan(l store.Library) bool {
	interval := time.Duration(l.ScanIntervalMinutes) * time.Minute
	due := interval > 0 && time.Since(time.Unix(l.LastScanAt, 0)) >= interval
	return l.ScanRequestedAt > 0 || due
}

// fullScan scans the whole library, showing progress in its row.
func (s *Service) fullScan(ctx context.Context, sc *Scanner, lib *store.Library, log *slog.Logger) {
	st := s.cfg.Store
	if err := st.BeginLibraryScan(ctx, lib.ID); err != nil {
		if ctx.Err() == nil {
			log.Warn("library: begin scan", slog.Any("err", err))
		}
		return
	}
	var last time.Time
	sc.Progress = func(done, total int) {
		if time.Since(last) < 500*time.Millisecond && done < total {
			return
		}
		last = time.Now()
		if err := st.LibraryScanProgress(ctx, lib.ID, int64(done), int64(total)); err != nil && ctx.Err() == nil {
			log.Warn("library: scan progress", slog.Any("err", err))
		}
	}
	defer func() { sc.Progress = nil }()
	start := time.Now()
	res, err := sc.Scan(ctx, lib, Whole)
	if ctx.Err() != nil {
		return // shutting down, deleted or moved: the next worker scans again
	}
	msg := scanError(err, res)
	if err != nil {
		log.Warn("library scan failed", slog.String("path", lib.Path), slog.Any("err", err))
	} else {
		log.Info("library scanned", slog.String("path", lib.Path), slog.Duration("took", time.Since(start)),
			slog.Int("files", res.Files), slog.Int("imported", res.Imported), slog.Int("skipped", res.Skipped),
			slog.Int("waiting", res.Pending), slog.Int("moved", res.Moved), slog.Int("missing", res.Missing),
			slog.Int("restored", res.Restored), slog.Int("errors", res.Errors))
	}
	if err := st.EndLibraryScan(ctx, lib.ID, msg); err != nil {
		log.Warn("library: end scan", slog.Any("err", err))
	}
	if l, err := st.LibraryByID(ctx, lib.ID); err == nil {
		*lib = *l
	}
}

const probeErrorSuffix = " file(s) could not be probed (is ffprobe installed?); see the server log"

// scanError is the message an admin sees in the library list: never a raw
// Go error, which may carry paths of other files or system detail.
func scanError(err error, res Result) string {
	switch {
	case err == nil && res.Errors > 0:
		return fmt.Sprint(res.Errors) + probeErrorSuffix
	case err == nil:
		return ""
	case errors.Is(err, fs.ErrNotExist):
		return "the library folder does not exist (is the share mounted?)"
	case errors.Is(err, fs.ErrPermission):
		return "the library folder cannot be read (permission denied)"
	case errors.Is(err, errNotDir):
		return "the library path is not a folder"
	default:
		return "the scan failed; see the server log"
	}
}

// noteProbeErrors shows files that could not be probed between full scans
// in the library's last_error (most imports happen in settle passes), and
// clears that message once probing works again.
func (s *Service) noteProbeErrors(ctx context.Context, lib *store.Library, res Result, log *slog.Logger) {
	msg := scanError(nil, res)
	switch {
	case msg != "":
		if msg == lib.LastError {
			return
		}
	case strings.HasSuffix(lib.LastError, probeErrorSuffix) && res.Imported+res.Skipped > 0:
	default:
		return
	}
	if err := s.cfg.Store.SetLibraryError(ctx, lib.ID, msg); err != nil {
		if ctx.Err() == nil {
			log.Warn("library: record error", slog.Any("err", err))
		}
		return
	}
	lib.LastError = msg
}

// nextSettle is when the earliest waiting file will have been stable long
// enough; zero when nothing waits. A file already due (its probe failed)
// is tried again a whole window later, not in a loop.
func (s *Service) nextSettle(ctx context.Context, lib *store.Library) time.Time {
	ms, err := s.cfg.Store.NextLibrarySettle(ctx, lib.ID)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	at := time.UnixMilli(ms).Add(s.cfg.StableFor + 50*time.Millisecond)
	if time.Until(at) <= 0 {
		at = time.Now().Add(s.cfg.StableFor)
	}
	return at
}

// pendingScopes are the folders holding files that wait to be stable.
func (s *Service) pendingScopes(ctx context.Context, libraryID int64) ([]Scope, error) {
	rows, err := s.cfg.Store.LibraryFiles(ctx, libraryID)
	if err != nil {
		return nil, err
	}
	dirs := map[string]bool{}
	for _, r := range rows {
		if r.State == store.FilePending {
			d := path.Dir(r.RelPath)
			if d == "." {
				d = ""
			}
			dirs[d] = true
		}
	}
	scopes := make([]Scope, 0, len(dirs))
	for d := range dirs {
		scopes = append(scopes, Scope{Dir: d})
	}
	return scopes, nil
}

// addScope records a folder for the next light rescan.
func (w *worker) addScope(sc Scope) {
	w.mu.Lock()
	w.scopes[sc] = true
	w.mu.Unlock()
}

// signal wakes the worker for a light rescan.
func (w *worker) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// maxScopes turns a flood of changes into one full scan.
const maxScopes = 200

func (w *worker) takeScopes() []Scope {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Scope, 0, len(w.scopes))
	for sc := range w.scopes {
		if sc.Dir == "" && sc.Recursive || len(w.scopes) > maxScopes {
			out = Whole
			break
		}
		out = append(out, sc)
	}
	w.scopes = map[Scope]bool{}
	return out
}
