package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// Upload is an unfinished chunked upload. Its file is preallocated to
// FileSize and each chunk is written at Index*ChunkSize.
type Upload struct {
	ID          string
	UserID      int64
	Filename    string
	FileSize    int64
	ChunkSize   int64
	TotalChunks int
	Title       string
	Description string
	CategoryID  int64
	Tags        []string
	SHA256      string // lowercase hex of the whole file, or ""
	CreatedAt   int64
	UpdatedAt   int64
}

// ChunkLen is the exact length chunk idx must have: ChunkSize, except the
// last chunk, which holds the remainder.
func (u *Upload) ChunkLen(idx int) int64 {
	if idx == u.TotalChunks-1 {
		return u.FileSize - int64(idx)*u.ChunkSize
	}
	return u.ChunkSize
}

const uploadColumns = `id, user_id, filename, filesize, chunk_size, total_chunks, title, description,
	category_id, tags, sha256, created_at, updated_at`

func scanUpload(row interface{ Scan(...any) error }) (*Upload, error) {
	var u Upload
	var tags string
	err := row.Scan(&u.ID, &u.UserID, &u.Filename, &u.FileSize, &u.ChunkSize, &u.TotalChunks, &u.Title,
		&u.Description, &u.CategoryID, &tags, &u.SHA256, &u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(tags), &u.Tags); err != nil || u.Tags == nil {
		u.Tags = []string{}
	}
	return &u, nil
}

// CreateUpload records a new chunked upload; the caller has created its file.
func (s *Store) CreateUpload(ctx context.Context, u *Upload) error {
	t := now()
	u.CreatedAt, u.UpdatedAt = t, t
	_, err := s.write.ExecContext(ctx, `INSERT INTO uploads(id, user_id, filename, filesize, chunk_size,
		total_chunks, title, description, category_id, tags, sha256, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.UserID, u.Filename, u.FileSize, u.ChunkSize, u.TotalChunks, u.Title, u.Description,
		u.CategoryID, marshalTags(u.Tags), u.SHA256, t, t)
	if err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	return nil
}

// UploadByID loads an upload.
func (s *Store) UploadByID(ctx context.Context, id string) (*Upload, error) {
	return scanUpload(s.read.QueryRowContext(ctx, "SELECT "+uploadColumns+" FROM uploads WHERE id = ?", id))
}

// UploadChunks lists the indexes of the chunks stored so far, ascending.
func (s *Store) UploadChunks(ctx context.Context, id string) ([]int, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT idx FROM upload_chunks WHERE upload_id = ? ORDER BY idx", id)
	if err != nil {
		return nil, fmt.Errorf("upload chunks: %w", err)
	}
	defer rows.Close()
	list := []int{}
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		list = append(list, i)
	}
	return list, rows.Err()
}

// ChunkStored reports whether chunk idx of upload id is recorded.
func (s *Store) ChunkStored(ctx context.Context, id string, idx int) (bool, error) {
	var n int
	err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM upload_chunks WHERE upload_id = ? AND idx = ?",
		id, idx).Scan(&n)
	return n > 0, err
}

// MarkChunk records chunk idx as stored (its bytes are on disk and synced)
// and answers how many chunks are stored. ErrNotFound when the upload is gone.
func (s *Store) MarkChunk(ctx context.Context, id string, idx int) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE uploads SET updated_at = ? WHERE id = ?", now(), id)
		if err != nil {
			return err
		}
		if c, _ := res.RowsAffected(); c == 0 {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO upload_chunks(upload_id, idx) VALUES (?, ?)", id, idx); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT count(*) FROM upload_chunks WHERE upload_id = ?", id).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("mark chunk: %w", err)
	}
	return n, nil
}

// CompleteUpload turns upload id into a video with its pending task and
// deletes the upload, in one transaction; place moves the file into the
// originals (see CreateVideoPlaced). ErrNotFound when the upload is gone.
func (s *Store) CompleteUpload(ctx context.Context, id string, n NewVideo, place PlaceFunc) (*Video, int64, error) {
	var v *Video
	var taskID int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM uploads WHERE id = ?", id)
		if err != nil {
			return err
		}
		if c, _ := res.RowsAffected(); c == 0 {
			return ErrNotFound
		}
		v, taskID, err = createVideo(ctx, tx, n, place)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("complete upload: %w", err)
	}
	return v, taskID, nil
}

// DeleteUpload removes an upload and its chunk records.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	_, err := s.write.ExecContext(ctx, "DELETE FROM uploads WHERE id = ?", id)
	return err
}

// IdleUploads lists the uploads not touched since before (Unix seconds).
func (s *Store) IdleUploads(ctx context.Context, before int64) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT id FROM uploads WHERE updated_at < ?", before)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ClearChunks forgets every stored chunk of an upload (its data proved
// wrong), so that the client sends them again.
func (s *Store) ClearChunks(ctx context.Context, id string) error {
	_, err := s.write.ExecContext(ctx, "DELETE FROM upload_chunks WHERE upload_id = ?", id)
	return err
}
