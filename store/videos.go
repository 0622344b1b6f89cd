package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// Video statuses (SPEC §5).
const (
	VideoProcessing = 0
	VideoPublished  = 1
	VideoFailed     = 2
	VideoHidden     = 3
)

// Variant is one rung of a video's HLS ladder as the API shows it.
type Variant struct {
	Name      string `json:"name"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	Bandwidth int    `json:"bandwidth"`
}

// Video is one item of the library.
type Video struct {
	ID              int64
	UserID          int64
	Title           string
	Description     string
	CategoryID      int64
	Tags            []string
	Status          int
	TranscodeStatus string
	SourcePath      string // relative to the data folder, or absolute for library imports
	SourceName      string // the uploaded file's name
	FileSize        int64
	Duration        float64
	Width, Height   int
	Resolution      string
	Variants        []Variant
	Playable        bool
	HasCover        bool
	HLSBytes        int64
	Views           int64
	LibraryID       int64
	Missing         bool
	CreatedAt       int64
	UpdatedAt       int64
}

const videoColumns = `id, user_id, title, description, category_id, tags, status, transcode_status,
	source_path, source_name, file_size, duration, width, height, resolution, variants, playable,
	has_cover, hls_bytes, views, library_id, missing, created_at, updated_at`

func scanVideo(row interface{ Scan(...any) error }) (*Video, error) {
	var v Video
	var tags, variants string
	err := row.Scan(&v.ID, &v.UserID, &v.Title, &v.Description, &v.CategoryID, &tags, &v.Status,
		&v.TranscodeStatus, &v.SourcePath, &v.SourceName, &v.FileSize, &v.Duration, &v.Width, &v.Height,
		&v.Resolution, &variants, &v.Playable, &v.HasCover, &v.HLSBytes, &v.Views, &v.LibraryID,
		&v.Missing, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(tags), &v.Tags); err != nil || v.Tags == nil {
		v.Tags = []string{}
	}
	if err := json.Unmarshal([]byte(variants), &v.Variants); err != nil || v.Variants == nil {
		v.Variants = []Variant{}
	}
	return &v, nil
}

// NewVideo is what CreateVideo needs.
type NewVideo struct {
	UserID      int64
	Title       string
	Description string
	CategoryID  int64
	Tags        []string
	SourcePath  string
	SourceName  string
	FileSize    int64
	LibraryID   int64
}

// CreateVideo inserts a video in status 0 together with its pending
// transcode task, in one transaction: an upload that is stored is always
// queued. It returns the video and the task id.
func (s *Store) CreateVideo(ctx context.Context, n NewVideo) (*Video, int64, error) {
	if n.Tags == nil {
		n.Tags = []string{}
	}
	tags, _ := json.Marshal(n.Tags)
	var v *Video
	var taskID int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		res, err := tx.ExecContext(ctx, `INSERT INTO videos(user_id, title, description, category_id, tags,
			status, transcode_status, source_path, source_name, file_size, library_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 0, 'pending', ?, ?, ?, ?, ?, ?)`,
			n.UserID, n.Title, n.Description, n.CategoryID, string(tags), n.SourcePath, n.SourceName,
			n.FileSize, n.LibraryID, t, t)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		res, err = tx.ExecContext(ctx, `INSERT INTO tasks(video_id, status, created_at, updated_at)
			VALUES (?, 'pending', ?, ?)`, id, t, t)
		if err != nil {
			return err
		}
		taskID, _ = res.LastInsertId()
		v, err = scanVideo(tx.QueryRowContext(ctx, "SELECT "+videoColumns+" FROM videos WHERE id = ?", id))
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("create video: %w", err)
	}
	return v, taskID, nil
}

// VideoByID loads a video.
func (s *Store) VideoByID(ctx context.Context, id int64) (*Video, error) {
	return scanVideo(s.read.QueryRowContext(ctx, "SELECT "+videoColumns+" FROM videos WHERE id = ?", id))
}
