// Package library turns folders on the NAS into streaming libraries
// (SPEC §10): it walks them, recognises videos with ffprobe, imports each
// file whose size has settled as a video read in place, follows renames and
// moves, marks vanished files missing, and watches the folders between
// scans. Originals are only ever opened read-only; nothing here writes,
// moves or deletes a file in a library.
package library

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"mika/store"
	"mika/transcoder"
)

// DefaultStableFor is how long a file's size and mtime must stay unchanged
// before it is imported, so a copy in progress is never half-imported.
const DefaultStableFor = 60 * time.Second

// Prober decides whether a file is a video. The real one is FFprobe; tests
// that are not about recognition use a fake.
type Prober interface {
	// IsVideo answers ok, or !ok with the reason the file is skipped. An
	// error means the question could not be asked (ffprobe missing); the
	// file is then asked about again later.
	IsVideo(ctx context.Context, path string) (ok bool, reason string, err error)
}

// FFprobe recognises videos with transcoder.Probe.
type FFprobe struct{ Path string }

// IsVideo probes path. Besides files without a video stream it refuses the
// things ffprobe reads as a "video" that no one would call one: still
// images and text rendered by the tty demuxer (.nfo, .txt).
func (p FFprobe) IsVideo(ctx context.Context, path string) (bool, string, error) {
	r, err := transcoder.Probe(ctx, p.Path, path)
	switch {
	case errors.Is(err, transcoder.ErrNoVideo):
		return false, "no video stream", nil
	case errors.Is(err, transcoder.ErrUnreadable):
		// ffprobe names the file; the row already does, by its relative path.
		return false, strings.ReplaceAll(err.Error(), path+": ", ""), nil
	case err != nil:
		return false, "", err
	}
	switch f := r.Format; {
	case f == "tty":
		return false, "a text file, not a video", nil
	case f == "image2" || strings.HasSuffix(f, "_pipe") || f == "gif" || f == "apng":
		return false, "a still image, not a video", nil
	}
	return true, "", nil
}

// Scanner compares a library's folder with what the database knows of it
// and brings the database up to date. It is not safe for concurrent scans
// of the same library; the Service runs one at a time per library.
type Scanner struct {
	Store     *store.Store
	Prober    Prober
	Wake      func()                // tells the transcoder a task was queued
	Log       *slog.Logger          // may be nil
	StableFor time.Duration         // 0 means DefaultStableFor; tests use ~1 s
	Now       func() time.Time      // nil means time.Now
	Progress  func(done, total int) // called as files are handled; may be nil
}

// Scope is part of a library to scan: Dir is slash-separated and relative
// to the library ("" is its root); Recursive includes every folder below.
type Scope struct {
	Dir       string
	Recursive bool
}

// Whole is the scope of a full scan.
var Whole = []Scope{{Dir: "", Recursive: true}}

// Result says what a scan did.
type Result struct {
	Files    int // regular files found in the scanned scopes
	Imported int // new videos queued
	Skipped  int // files recognised as not videos
	Pending  int // files seen changing, waiting to be stable
	Moved    int // files found renamed or moved; their video followed
	Missing  int // files gone; their video marked missing
	Restored int // missing files back in place
	Errors   int // files that could not be probed or read this time
}

// skipName reports whether a file or folder is left out of a library:
// hidden names and the bookkeeping folders NAS systems put everywhere
// (Synology's @eaDir thumbnails and #recycle bin, Windows' recycle bin).
func skipName(name string) bool {
	switch {
	case strings.HasPrefix(name, "."), name == "@eaDir", name == "#recycle", name == "#snapshot",
		strings.EqualFold(name, "$RECYCLE.BIN"), name == "lost+found":
		return true
	}
	return false
}

type seenFile struct {
	rel         string
	size, mtime int64
}

func (sc *Scanner) now() time.Time {
	if sc.Now != nil {
		return sc.Now()
	}
	return time.Now()
}

func (sc *Scanner) stableFor() time.Duration {
	if sc.StableFor > 0 {
		return sc.StableFor
	}
	return DefaultStableFor
}

func (sc *Scanner) log() *slog.Logger {
	if sc.Log != nil {
		return sc.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Scan brings the rows of lib's files in scopes up to date with the
// folder: new files are recorded as pending, files stable for StableFor are
// probed and imported, moved files keep their video, vanished ones are
// marked missing. An error means the scan stopped (the library folder is
// unreadable, or ctx ended); what was written before stays valid.
func (sc *Scanner) Scan(ctx context.Context, lib *store.Library, scopes []Scope) (Result, error) {
	var res Result
	root := lib.Path
	if err := checkRoot(root); err != nil {
		return res, err
	}
	rows, err := sc.Store.LibraryFiles(ctx, lib.ID)
	if err != nil {
		return res, err
	}
	known := make(map[string]*store.LibraryFile, len(rows))
	for i := range rows {
		known[rows[i].RelPath] = &rows[i]
	}
	found, unreadable := sc.walk(root, scopes)
	res.Files = len(found)
	now := sc.now()
	nowMS := now.UnixMilli()
	ripeBefore := now.Add(-sc.stableFor()).UnixMilli()

	done, total := 0, len(found)
	progress := func() {
		done++
		if sc.Progress != nil {
			sc.Progress(done, total)
		}
	}
	if sc.Progress != nil {
		sc.Progress(0, total)
	}

	var changes []store.LibraryFileChange
	var fresh []seenFile
	var ripe []*store.LibraryFile
	rels := make([]string, 0, len(found))
	for rel := range found {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		f := found[rel]
		row, ok := known[rel]
		switch {
		case !ok:
			fresh = append(fresh, f)
			progress()
		case row.State == store.FileMissing:
			row.Size, row.MTime = f.size, f.mtime
			row.HeadTailHash, _ = headTailHash(filepath.Join(root, filepath.FromSlash(rel)), f.size)
			row.State = store.FileImported
			changes = append(changes, store.LibraryFileChange{Op: store.FileRestore, File: *row})
			res.Restored++
			sc.log().Info("library file is back", slog.Int64("library_id", lib.ID), slog.String("file", rel),
				slog.Int64("video_id", row.VideoID))
			progress()
		case row.Size != f.size || row.MTime != f.mtime:
			row.Size, row.MTime = f.size, f.mtime
			switch row.State {
			case store.FileImported:
				// Rewritten in place: keep the video, refresh what a move is matched by.
				row.HeadTailHash, _ = headTailHash(filepath.Join(root, filepath.FromSlash(rel)), f.size)
				sc.log().Warn("library original changed in place; its video is kept as transcoded",
					slog.Int64("library_id", lib.ID), slog.String("file", rel), slog.Int64("video_id", row.VideoID))
			default:
				row.State, row.Reason, row.HeadTailHash, row.StableSince = store.FilePending, "", "", nowMS
				res.Pending++
			}
			changes = append(changes, store.LibraryFileChange{Op: store.FileStat, File: *row})
			progress()
		case row.State == store.FilePending && row.StableSince <= ripeBefore:
			ripe = append(ripe, row) // progress counted when settled
		default:
			if row.State == store.FilePending {
				res.Pending++
			}
			progress()
		}
	}

	// Rows of the scanned scopes whose file is gone, unless their folder
	// could not be read this time.
	vanished := map[string]*store.LibraryFile{}
	for rel, row := range known {
		if row.State == store.FileMissing || !inScopes(rel, scopes) || underAny(rel, unreadable) {
			continue
		}
		if _, ok := found[rel]; !ok {
			vanished[rel] = row
		}
	}

	// A new file with the size and head/tail hash of a vanished or missing
	// row is that file, moved.
	bySize := map[int64][]*store.LibraryFile{}
	for _, row := range known {
		_, gone := vanished[row.RelPath]
		if (gone || row.State == store.FileMissing) && row.HeadTailHash != "" {
			bySize[row.Size] = append(bySize[row.Size], row)
		}
	}
	var adds []store.LibraryFileChange
	for _, f := range fresh {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		abs := filepath.Join(root, filepath.FromSlash(f.rel))
		if cands := bySize[f.size]; len(cands) > 0 {
			h, err := headTailHash(abs, f.size)
			if err == nil {
				if from := takeMatch(bySize, f.size, h); from != nil {
					to := store.LibraryFile{RelPath: f.rel, Size: f.size, MTime: f.mtime, HeadTailHash: h}
					if err := sc.Store.MoveLibraryFile(ctx, lib.ID, from.RelPath, to, abs); err != nil {
						return res, err
					}
					delete(vanished, from.RelPath)
					res.Moved++
					sc.log().Info("library file moved", slog.Int64("library_id", lib.ID),
						slog.String("from", from.RelPath), slog.String("to", f.rel), slog.Int64("video_id", from.VideoID))
					continue
				}
			}
		}
		adds = append(adds, store.LibraryFileChange{Op: store.FileAdd, File: store.LibraryFile{RelPath: f.rel, Size: f.size,
			MTime: f.mtime, FirstSeenAt: now.Unix(), StableSince: nowMS, State: store.FilePending}})
		res.Pending++
	}
	changes = append(changes, adds...)
	for rel, row := range vanished {
		if row.VideoID > 0 {
			row.State = store.FileMissing
			changes = append(changes, store.LibraryFileChange{Op: store.FileMarkMissing, File: *row})
			res.Missing++
			sc.log().Warn("library file is gone; its video is marked missing", slog.Int64("library_id", lib.ID),
				slog.String("file", rel), slog.Int64("video_id", row.VideoID))
			continue
		}
		changes = append(changes, store.LibraryFileChange{Op: store.FileDrop, File: *row})
	}
	if err := sc.Store.ApplyLibraryFiles(ctx, lib.ID, changes); err != nil {
		return res, err
	}

	if len(ripe) > 0 {
		// A waiting file may be a missing one that came back under a new
		// name (copied, then the old one deleted). Only rows with a video
		// are kept as missing; the others were dropped above.
		missing := map[int64][]*store.LibraryFile{}
		for size, list := range bySize {
			for _, row := range list {
				if row.State == store.FileMissing {
					missing[size] = append(missing[size], row)
				}
			}
		}
		if err := sc.settle(ctx, lib, ripe, missing, &res, progress); err != nil {
			return res, err
		}
	}
	return res, nil
}

// settle imports (or skips) the files that have been stable long enough.
func (sc *Scanner) settle(ctx context.Context, lib *store.Library, ripe []*store.LibraryFile,
	missing map[int64][]*store.LibraryFile, res *Result, progress func()) error {
	cats, err := sc.Store.Categories(ctx)
	if err != nil {
		return err
	}
	for _, row := range ripe {
		if err := ctx.Err(); err != nil {
			return err
		}
		progress()
		abs := filepath.Join(lib.Path, filepath.FromSlash(row.RelPath))
		h, err := headTailHash(abs, row.Size)
		if err != nil {
			res.Errors++
			sc.log().Warn("library file unreadable", slog.Int64("library_id", lib.ID),
				slog.String("file", row.RelPath), slog.Any("err", err))
			continue
		}
		if from := takeMatch(missing, row.Size, h); from != nil {
			to := store.LibraryFile{RelPath: row.RelPath, Size: row.Size, MTime: row.MTime, HeadTailHash: h}
			if err := sc.Store.MoveLibraryFile(ctx, lib.ID, from.RelPath, to, abs); err != nil {
				return err
			}
			res.Moved++
			sc.log().Info("library file moved", slog.Int64("library_id", lib.ID),
				slog.String("from", from.RelPath), slog.String("to", row.RelPath), slog.Int64("video_id", from.VideoID))
			continue
		}
		reason := "empty file"
		ok := false
		if row.Size > 0 {
			ok, reason, err = sc.Prober.IsVideo(ctx, abs)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				res.Errors++
				sc.log().Warn("cannot probe library file; will try again", slog.Int64("library_id", lib.ID),
					slog.String("file", row.RelPath), slog.Any("err", err))
				continue
			}
		}
		if !ok {
			row.HeadTailHash, row.Reason = h, reason
			if err := sc.Store.ApplyLibraryFiles(ctx, lib.ID,
				[]store.LibraryFileChange{{Op: store.FileSkip, File: *row}}); err != nil {
				return err
			}
			res.Skipped++
			sc.log().Info("library file is not a video; skipped", slog.Int64("library_id", lib.ID),
				slog.String("file", row.RelPath), slog.String("reason", reason))
			continue
		}
		if err := sc.importFile(ctx, lib, row, abs, h, cats); err != nil {
			return err
		}
		res.Imported++
	}
	return nil
}

// importFile creates the video of a stable file and queues its transcode.
func (sc *Scanner) importFile(ctx context.Context, lib *store.Library, row *store.LibraryFile, abs, hash string,
	cats []*store.Category) error {
	// A video created just before a crash, before its row was linked, is
	// adopted rather than imported twice.
	id, err := sc.Store.LibraryVideoBySource(ctx, lib.ID, abs)
	created := false
	if errors.Is(err, store.ErrNotFound) {
		v, _, err := sc.Store.CreateVideo(ctx, store.NewVideo{
			UserID:     lib.CreatedBy,
			Title:      CleanTitle(path.Base(row.RelPath)),
			CategoryID: categoryFor(lib.CategoryID, row.RelPath, cats),
			SourcePath: abs,
			SourceName: path.Base(row.RelPath),
			FileSize:   row.Size,
			LibraryID:  lib.ID,
		})
		if err != nil {
			return err
		}
		id, created = v.ID, true
	} else if err != nil {
		return err
	}
	if err := sc.Store.LinkLibraryFile(ctx, lib.ID, row.RelPath, hash, id); err != nil {
		if errors.Is(err, store.ErrNotFound) && created {
			// The library was deleted while this file was probed.
			return errors.Join(err, sc.Store.DropLibraryVideo(ctx, lib.ID, id))
		}
		return err
	}
	sc.log().Info("library video imported", slog.Int64("library_id", lib.ID), slog.String("file", row.RelPath),
		slog.Int64("video_id", id))
	if sc.Wake != nil {
		sc.Wake()
	}
	return nil
}

// categoryFor is the category of a file: that of the nearest enclosing
// folder named like an existing category (case-insensitive), else the
// library's own if it still exists, else none.
func categoryFor(libCategory int64, rel string, cats []*store.Category) int64 {
	byName := make(map[string]int64, len(cats)) // the oldest category of a name wins
	libExists := false
	for _, c := range cats {
		k := strings.ToLower(c.Name)
		if id, ok := byName[k]; !ok || c.ID < id {
			byName[k] = c.ID
		}
		libExists = libExists || c.ID == libCategory
	}
	if !libExists {
		libCategory = 0
	}
	for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if id, ok := byName[strings.ToLower(path.Base(dir))]; ok {
			return id
		}
	}
	return libCategory
}

// takeMatch removes and returns the row of this size and hash, if any.
func takeMatch(bySize map[int64][]*store.LibraryFile, size int64, hash string) *store.LibraryFile {
	list := bySize[size]
	for i, c := range list {
		if c.HeadTailHash == hash {
			bySize[size] = append(list[:i:i], list[i+1:]...)
			return c
		}
	}
	return nil
}

var errNotDir = errors.New("not a directory")

// checkRoot refuses to scan a library whose folder is gone or unreadable:
// that is a NAS share not mounted, not a library whose files all vanished.
func checkRoot(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("library folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("library folder %s: %w", root, errNotDir)
	}
	f, err := os.Open(root)
	if err != nil {
		return fmt.Errorf("library folder: %w", err)
	}
	defer f.Close()
	if _, err := f.ReadDir(1); err != nil && err != io.EOF {
		return fmt.Errorf("library folder: %w", err)
	}
	return nil
}

// walk lists the regular files of the scopes. Symbolic links to files are
// followed; links to folders are not, so a link loop cannot trap a scan.
// Folders that cannot be read are returned so their files are not taken
// for gone.
func (sc *Scanner) walk(root string, scopes []Scope) (map[string]seenFile, []string) {
	found := map[string]seenFile{}
	var unreadable []string
	add := func(abs string, d fs.DirEntry) {
		var fi fs.FileInfo
		var err error
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err = os.Stat(abs)
		} else {
			fi, err = d.Info()
		}
		if err != nil || !fi.Mode().IsRegular() {
			return
		}
		rel, err := filepath.Rel(root, abs)
		if err != nil {
			return
		}
		rel = filepath.ToSlash(rel)
		found[rel] = seenFile{rel: rel, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	}
	for _, s := range scopes {
		dir := filepath.Join(root, filepath.FromSlash(s.Dir))
		if s.Dir != "" && hiddenPath(s.Dir) {
			continue
		}
		if !s.Recursive {
			entries, err := os.ReadDir(dir)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					unreadable = append(unreadable, s.Dir)
				}
				continue
			}
			for _, d := range entries {
				if !d.IsDir() && !skipName(d.Name()) {
					add(filepath.Join(dir, d.Name()), d)
				}
			}
			continue
		}
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					rel, _ := filepath.Rel(root, p)
					unreadable = append(unreadable, filepath.ToSlash(rel))
					sc.log().Warn("library folder unreadable", slog.String("path", p), slog.Any("err", err))
				}
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if p != dir && skipName(d.Name()) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				add(p, d)
			}
			return nil
		})
	}
	return found, unreadable
}

// hiddenPath reports whether any element of a relative path is skipped.
func hiddenPath(rel string) bool {
	for _, el := range strings.Split(rel, "/") {
		if skipName(el) {
			return true
		}
	}
	return false
}

// inScopes reports whether the file at rel belongs to one of the scopes.
func inScopes(rel string, scopes []Scope) bool {
	dir := path.Dir(rel)
	if dir == "." {
		dir = ""
	}
	for _, s := range scopes {
		if s.Recursive && under(s.Dir, rel) || !s.Recursive && dir == s.Dir {
			return true
		}
	}
	return false
}

// under reports whether rel is dir or lies below it ("" is the root).
func under(dir, rel string) bool {
	return dir == "" || dir == "." || rel == dir || strings.HasPrefix(rel, dir+"/")
}

func underAny(rel string, dirs []string) bool {
	for _, d := range dirs {
		if under(d, rel) {
			return true
		}
	}
	return false
}

const mib = 1 << 20

// headTailHash is sha256 over the first MiB, the last MiB and the size of a
// file (the two ranges overlap in files under 2 MiB): cheap to compute on a
// 40 GB film, and enough to recognise the same file under another name.
func headTailHash(p string, size int64) (string, error) {
	f, err := os.Open(p) // read-only: originals are never written
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n := min(size, mib)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, n)); err != nil {
		return "", err
	}
	if _, err := io.Copy(h, io.NewSectionReader(f, size-n, n)); err != nil {
		return "", err
	}
	h.Write([]byte(strconv.FormatInt(size, 10)))
	return hex.EncodeToString(h.Sum(nil)), nil
}
