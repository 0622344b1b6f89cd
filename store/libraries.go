package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
)

// Library is a folder on the NAS whose videos are imported in place (SPEC §10).
type Library struct {
	ID                  int64
	Path                string // absolute, cleaned
	CategoryID          int64
	ScanIntervalMinutes int // 0: no periodic scan
	CreatedBy           int64
	ScanRequestedAt     int64 // Unix seconds; 0 when no scan is waiting
	Scanning            bool
	ScanScanned         int64
	ScanTotal           int64
	LastScanAt          int64
	LastError           string
	Watching            bool // the file watcher is active for this library
	CreatedAt           int64
	UpdatedAt           int64

	VideoCount   int64 // videos imported from this library
	MissingCount int64 // of which the original is gone
}

const libraryColumns = `l.id, l.path, l.category_id, l.scan_interval_minutes, l.created_by,
	l.scan_requested_at, l.scanning, l.scan_scanned, l.scan_total, l.last_scan_at, l.last_error,
	l.watching, l.created_at, l.updated_at,
	(SELECT COUNT(*) FROM videos v WHERE v.library_id = l.id),
	(SELECT COUNT(*) FROM videos v WHERE v.library_id = l.id AND v.missing = 1)`

func scanLibrary(row interface{ Scan(...any) error }) (*Library, error) {
	var l Library
	err := row.Scan(&l.ID, &l.Path, &l.CategoryID, &l.ScanIntervalMinutes, &l.CreatedBy,
		&l.ScanRequestedAt, &l.Scanning, &l.ScanScanned, &l.ScanTotal, &l.LastScanAt, &l.LastError,
		&l.Watching, &l.CreatedAt, &l.UpdatedAt, &l.VideoCount, &l.MissingCount)
	if err != nil {
		return nil, notFound(err)
	}
	return &l, nil
}

// Libraries lists every library, oldest first.
func (s *Store) Libraries(ctx context.Context) ([]Library, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+libraryColumns+" FROM libraries l ORDER BY l.id")
	if err != nil {
		return nil, fmt.Errorf("list libraries: %w", err)
	}
	defer rows.Close()
	out := []Library{}
	for rows.Next() {
		l, err := scanLibrary(rows)
		if err != nil {
			return nil, fmt.Errorf("list libraries: %w", err)
		}
		out = append(out, *l)
	}
	return out, rows.Err()
}

// LibraryByID loads one library.
func (s *Store) LibraryByID(ctx context.Context, id int64) (*Library, error) {
	return scanLibrary(s.read.QueryRowContext(ctx, "SELECT "+libraryColumns+" FROM libraries l WHERE l.id = ?", id))
}

// NewLibrary is what CreateLibrary needs. The path must already be validated.
type NewLibrary struct {
	Path                string
	CategoryID          int64
	ScanIntervalMinutes int
	CreatedBy           int64
}

// CreateLibrary inserts a library with its first scan requested. A path that
// is already a library is ErrConflict.
func (s *Store) CreateLibrary(ctx context.Context, n NewLibrary) (*Library, error) {
	t := now()
	res, err := s.write.ExecContext(ctx, `INSERT INTO libraries(path, category_id, scan_interval_minutes,
		created_by, scan_requested_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		n.Path, n.CategoryID, n.ScanIntervalMinutes, n.CreatedBy, t, t, t)
	if isUnique(err) {
		return nil, ErrConflict
	}
	if err != nil {
		return nil, fmt.Errorf("create library: %w", err)
	}
	id, _ := res.LastInsertId()
	return s.libraryByIDWrite(ctx, id)
}

// libraryByIDWrite reads through the write pool, so a caller sees its own write.
func (s *Store) libraryByIDWrite(ctx context.Context, id int64) (*Library, error) {
	return scanLibrary(s.write.QueryRowContext(ctx, "SELECT "+libraryColumns+" FROM libraries l WHERE l.id = ?", id))
}

// LibraryUpdate is what UpdateLibrary changes; every field is set.
type LibraryUpdate struct {
	Path                string
	CategoryID          int64
	ScanIntervalMinutes int
}

// UpdateLibrary changes a library. A new path also rewrites the source
// paths of its videos (the files are expected at the same relative paths,
// as after a remount) and requests a scan, which marks what is not there
// missing.
func (s *Store) UpdateLibrary(ctx context.Context, id int64, u LibraryUpdate) (*Library, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var old string
		if err := tx.QueryRowContext(ctx, "SELECT path FROM libraries WHERE id = ?", id).Scan(&old); err != nil {
			return notFound(err)
		}
		t := now()
		if _, err := tx.ExecContext(ctx, `UPDATE libraries SET path = ?, category_id = ?,
			scan_interval_minutes = ?, updated_at = ? WHERE id = ?`,
			u.Path, u.CategoryID, u.ScanIntervalMinutes, t, id); err != nil {
			if isUnique(err) {
				return ErrConflict
			}
			return err
		}
		if old == u.Path {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE libraries SET scan_requested_at = ? WHERE id = ?", t, id); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT f.video_id, f.rel_path FROM library_files f
			WHERE f.library_id = ? AND f.video_id > 0`, id)
		if err != nil {
			return err
		}
		type move struct {
			id  int64
			src string
		}
		var moves []move
		for rows.Next() {
			var m move
			var rel string
			if err := rows.Scan(&m.id, &rel); err != nil {
				rows.Close()
				return err
			}
			m.src = filepath.Join(u.Path, filepath.FromSlash(rel))
			moves = append(moves, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range moves {
			if _, err := tx.ExecContext(ctx, `UPDATE videos SET source_path = ?, updated_at = ?
				WHERE id = ? AND library_id = ?`, m.src, t, m.id, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
			return nil, err
		}
		return nil, fmt.Errorf("update library %d: %w", id, err)
	}
	return s.libraryByIDWrite(ctx, id)
}

// DeletedLibrary is what the caller must clean up after DeleteLibrary: the
// transcoded output of these videos, and these tasks if a worker runs them.
type DeletedLibrary struct {
	VideoIDs      []int64
	ActiveTaskIDs []int64 // tasks that were pending or processing
}

// DeleteLibrary removes a library, its file rows, and its videos with their
// tasks, in one transaction. It never touches the files themselves.
func (s *Store) DeleteLibrary(ctx context.Context, id int64) (*DeletedLibrary, error) {
	var d DeletedLibrary
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM libraries WHERE id = ?", id).Scan(&one); err != nil {
			return notFound(err)
		}
		var err error
		if d.VideoIDs, err = queryIDs(ctx, tx, "SELECT id FROM videos WHERE library_id = ? ORDER BY id", id); err != nil {
			return err
		}
		if d.ActiveTaskIDs, err = queryIDs(ctx, tx, `SELECT t.id FROM tasks t JOIN videos v ON v.id = t.video_id
			WHERE v.library_id = ? AND t.status IN ('pending', 'processing') ORDER BY t.id`, id); err != nil {
			return err
		}
		for _, q := range []string{
			"DELETE FROM tasks WHERE video_id IN (SELECT id FROM videos WHERE library_id = ?)",
			"DELETE FROM video_views WHERE video_id IN (SELECT id FROM videos WHERE library_id = ?)",
			"DELETE FROM videos WHERE library_id = ?",
			"DELETE FROM library_files WHERE library_id = ?",
			"DELETE FROM libraries WHERE id = ?",
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("delete library %d: %w", id, err)
	}
	return &d, nil
}

func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// RequestLibraryScan asks the library service for a full scan. ErrConflict
// when one is already running or waiting.
func (s *Store) RequestLibraryScan(ctx context.Context, id int64) error {
	res, err := s.write.ExecContext(ctx, `UPDATE libraries SET scan_requested_at = ?
		WHERE id = ? AND scanning = 0 AND scan_requested_at = 0`, now(), id)
	if err != nil {
		return fmt.Errorf("request scan of library %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var one int
	if err := s.write.QueryRowContext(ctx, "SELECT 1 FROM libraries WHERE id = ?", id).Scan(&one); err != nil {
		return notFound(err)
	}
	return ErrConflict
}

// BeginLibraryScan marks a full scan as running and clears its request.
func (s *Store) BeginLibraryScan(ctx context.Context, id int64) error {
	return s.execLibrary(ctx, `UPDATE libraries SET scanning = 1, scan_requested_at = 0,
		scan_scanned = 0, scan_total = 0 WHERE id = ?`, id)
}

// LibraryScanProgress records how far the running scan is.
func (s *Store) LibraryScanProgress(ctx context.Context, id, scanned, total int64) error {
	return s.execLibrary(ctx, "UPDATE libraries SET scan_scanned = ?, scan_total = ? WHERE id = ?", scanned, total, id)
}

// EndLibraryScan marks a full scan as done; errMsg is "" on success.
func (s *Store) EndLibraryScan(ctx context.Context, id int64, errMsg string) error {
	return s.execLibrary(ctx, `UPDATE libraries SET scanning = 0, last_scan_at = ?, last_error = ?,
		scan_scanned = scan_total WHERE id = ?`, now(), errMsg, id)
}

// SetLibraryError records a problem seen outside a full scan ("" clears it).
func (s *Store) SetLibraryError(ctx context.Context, id int64, msg string) error {
	return s.execLibrary(ctx, "UPDATE libraries SET last_error = ? WHERE id = ?", msg, id)
}

// SetLibraryWatching records whether the file watcher is active.
func (s *Store) SetLibraryWatching(ctx context.Context, id int64, on bool) error {
	return s.execLibrary(ctx, "UPDATE libraries SET watching = ? WHERE id = ?", on, id)
}

// ResetLibraryScans clears scan and watcher state left by a process that
// stopped mid-scan; the service calls it before it starts.
func (s *Store) ResetLibraryScans(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, `UPDATE libraries SET scanning = 0, watching = 0
		WHERE scanning = 1 OR watching = 1`)
	if err != nil {
		return fmt.Errorf("reset library scans: %w", err)
	}
	return nil
}

func (s *Store) execLibrary(ctx context.Context, q string, args ...any) error {
	if _, err := s.write.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("library: %w", err)
	}
	return nil
}

// File states of library_files.
const (
	FilePending  = "pending"
	FileImported = "imported"
	FileSkipped  = "skipped"
	FileMissing  = "missing"
)

// LibraryFile is one file the scanner has seen in a library.
type LibraryFile struct {
	LibraryID    int64
	RelPath      string // slash-separated, relative to the library
	Size         int64
	MTime        int64 // Unix nanoseconds
	HeadTailHash string
	VideoID      int64
	FirstSeenAt  int64 // Unix seconds
	StableSince  int64 // Unix milliseconds
	State        string
	Reason       string
}

// LibraryFiles loads every file row of a library.
func (s *Store) LibraryFiles(ctx context.Context, libraryID int64) ([]LibraryFile, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT library_id, rel_path, size, mtime, head_tail_hash, video_id,
		first_seen_at, stable_since, state, reason FROM library_files WHERE library_id = ?`, libraryID)
	if err != nil {
		return nil, fmt.Errorf("library files: %w", err)
	}
	defer rows.Close()
	var out []LibraryFile
	for rows.Next() {
		var f LibraryFile
		if err := rows.Scan(&f.LibraryID, &f.RelPath, &f.Size, &f.MTime, &f.HeadTailHash, &f.VideoID,
			&f.FirstSeenAt, &f.StableSince, &f.State, &f.Reason); err != nil {
			return nil, fmt.Errorf("library files: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// NextLibrarySettle is the earliest stable_since (Unix ms) of a pending
// file, or 0 when none is pending.
func (s *Store) NextLibrarySettle(ctx context.Context, libraryID int64) (int64, error) {
	var ms sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT MIN(stable_since) FROM library_files
		WHERE library_id = ? AND state = 'pending'`, libraryID).Scan(&ms)
	if err != nil {
		return 0, fmt.Errorf("library settle: %w", err)
	}
	return ms.Int64, nil
}

// LibraryFileOp is what ApplyLibraryFiles does with one row.
type LibraryFileOp string

// The changes the scanner makes to library_files.
const (
	FileAdd         LibraryFileOp = "add"     // a new file, pending
	FileStat        LibraryFileOp = "stat"    // size or mtime changed
	FileSkip        LibraryFileOp = "skip"    // not a video: state skipped with a reason
	FileMarkMissing LibraryFileOp = "missing" // gone: the row and its video are marked missing
	FileRestore     LibraryFileOp = "restore" // back in place: imported, video no longer missing
	FileDrop        LibraryFileOp = "drop"    // gone and without a video: the row is removed
)

// LibraryFileChange is one write the scanner makes to library_files (and,
// for missing and restored files, to the video's missing flag).
type LibraryFileChange struct {
	Op   LibraryFileOp
	File LibraryFile
}

// ApplyLibraryFiles writes a batch of changes in one transaction; an
// unchanged library produces no batch at all. A change to a library that
// no longer exists is dropped silently (the foreign key would refuse it).
func (s *Store) ApplyLibraryFiles(ctx context.Context, libraryID int64, changes []LibraryFileChange) error {
	if len(changes) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM libraries WHERE id = ?", libraryID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return err
		}
		t := now()
		for _, c := range changes {
			f := c.File
			var err error
			switch c.Op {
			case FileAdd:
				_, err = tx.ExecContext(ctx, `INSERT INTO library_files(library_id, rel_path, size, mtime,
					head_tail_hash, video_id, first_seen_at, stable_since, state, reason, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
					ON CONFLICT(library_id, rel_path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime,
					stable_since = excluded.stable_since, state = excluded.state, reason = excluded.reason,
					updated_at = excluded.updated_at`,
					libraryID, f.RelPath, f.Size, f.MTime, f.HeadTailHash, f.VideoID, f.FirstSeenAt,
					f.StableSince, f.State, f.Reason, t)
			case FileStat:
				_, err = tx.ExecContext(ctx, `UPDATE library_files SET size = ?, mtime = ?, head_tail_hash = ?,
					stable_since = ?, state = ?, reason = ?, updated_at = ? WHERE library_id = ? AND rel_path = ?`,
					f.Size, f.MTime, f.HeadTailHash, f.StableSince, f.State, f.Reason, t, libraryID, f.RelPath)
				if err == nil && f.VideoID > 0 {
					_, err = tx.ExecContext(ctx, `UPDATE videos SET file_size = ?, updated_at = ?
						WHERE id = ? AND library_id = ?`, f.Size, t, f.VideoID, libraryID)
				}
			case FileSkip:
				_, err = tx.ExecContext(ctx, `UPDATE library_files SET head_tail_hash = ?, state = 'skipped',
					reason = ?, updated_at = ? WHERE library_id = ? AND rel_path = ?`,
					f.HeadTailHash, f.Reason, t, libraryID, f.RelPath)
			case FileMarkMissing:
				_, err = tx.ExecContext(ctx, `UPDATE library_files SET state = 'missing', updated_at = ?
					WHERE library_id = ? AND rel_path = ?`, t, libraryID, f.RelPath)
				if err == nil && f.VideoID > 0 {
					_, err = tx.ExecContext(ctx, `UPDATE videos SET missing = 1, updated_at = ?
						WHERE id = ? AND library_id = ?`, t, f.VideoID, libraryID)
				}
			case FileRestore:
				_, err = tx.ExecContext(ctx, `UPDATE library_files SET size = ?, mtime = ?, head_tail_hash = ?,
					state = 'imported', updated_at = ? WHERE library_id = ? AND rel_path = ?`,
					f.Size, f.MTime, f.HeadTailHash, t, libraryID, f.RelPath)
				if err == nil {
					_, err = tx.ExecContext(ctx, `UPDATE videos SET missing = 0, file_size = ?, updated_at = ?
						WHERE id = ? AND library_id = ?`, f.Size, t, f.VideoID, libraryID)
				}
			case FileDrop:
				_, err = tx.ExecContext(ctx, "DELETE FROM library_files WHERE library_id = ? AND rel_path = ?",
					libraryID, f.RelPath)
			default:
				err = fmt.Errorf("unknown library file change %q", c.Op)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", c.Op, f.RelPath, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("library %d files: %w", libraryID, err)
	}
	return nil
}

// MoveLibraryFile records that the file of row from now lives at to (a
// rename or move inside the library): the row keeps its video, the video's
// source path follows the file and it is no longer missing. A pending row
// already at to (the new name seen before the move was recognised) is
// replaced.
func (s *Store) MoveLibraryFile(ctx context.Context, libraryID int64, from string, to LibraryFile, sourcePath string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var videoID int64
		var state string
		err := tx.QueryRowContext(ctx, "SELECT video_id, state FROM library_files WHERE library_id = ? AND rel_path = ?",
			libraryID, from).Scan(&videoID, &state)
		if err != nil {
			return notFound(err)
		}
		if state == FileMissing || state == FilePending {
			state = FileImported
			if videoID == 0 {
				state = FilePending
			}
		}
		t := now()
		if _, err := tx.ExecContext(ctx, "DELETE FROM library_files WHERE library_id = ? AND rel_path = ?",
			libraryID, to.RelPath); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE library_files SET rel_path = ?, size = ?, mtime = ?,
			head_tail_hash = ?, state = ?, updated_at = ? WHERE library_id = ? AND rel_path = ?`,
			to.RelPath, to.Size, to.MTime, to.HeadTailHash, state, t, libraryID, from); err != nil {
			return err
		}
		if videoID > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE videos SET source_path = ?, source_name = ?, missing = 0,
				updated_at = ? WHERE id = ? AND library_id = ?`,
				sourcePath, filepath.Base(sourcePath), t, videoID, libraryID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("move library file %s: %w", from, err)
	}
	return nil
}

// LinkLibraryFile marks a pending row imported as video videoID.
// ErrNotFound when the row (or its library) is gone: the caller then
// removes the video it just created with DropLibraryVideo.
func (s *Store) LinkLibraryFile(ctx context.Context, libraryID int64, relPath, hash string, videoID int64) error {
	res, err := s.write.ExecContext(ctx, `UPDATE library_files SET state = 'imported', video_id = ?,
		head_tail_hash = ?, reason = '', updated_at = ? WHERE library_id = ? AND rel_path = ?`,
		videoID, hash, now(), libraryID, relPath)
	if err != nil {
		return fmt.Errorf("link library file %s: %w", relPath, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// LibraryVideoBySource finds a video of the library with this source path
// that no file row links to: one created just before a crash, adopted
// instead of imported twice.
func (s *Store) LibraryVideoBySource(ctx context.Context, libraryID int64, sourcePath string) (int64, error) {
	var id int64
	err := s.write.QueryRowContext(ctx, `SELECT v.id FROM videos v WHERE v.library_id = ? AND v.source_path = ?
		AND NOT EXISTS (SELECT 1 FROM library_files f WHERE f.library_id = v.library_id AND f.video_id = v.id)
		ORDER BY v.id LIMIT 1`, libraryID, sourcePath).Scan(&id)
	return id, notFound(err)
}

// DropLibraryVideo removes a video (and its tasks) that an import created
// for a library deleted meanwhile. It only touches rows of that library.
func (s *Store) DropLibraryVideo(ctx context.Context, libraryID, videoID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM videos WHERE id = ? AND library_id = ?", videoID, libraryID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM tasks WHERE video_id = ?", videoID)
		return err
	})
}
