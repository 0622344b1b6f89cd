package store

import "context"

// PlaybackVideo is the part of a video that decides whether its HLS files
// may be served: every playlist and segment request reads it, so it is one
// primary-key read of four columns (VideoByID also scans and decodes the
// tags and variants, which playback never shows).
type PlaybackVideo struct {
	ID       int64
	UserID   int64
	Status   int
	Playable bool
}

// PlaybackVideo reads what playback needs of video id; ErrNotFound when
// there is no such video.
//
// The read does not follow ctx's cancellation: it is a single indexed row,
// and a cancellable context makes the SQLite driver start a goroutine per
// query to watch it, which cost as much as the query itself under segment
// load (about 15 µs against 7 µs on the development machine).
func (s *Store) PlaybackVideo(ctx context.Context, id int64) (*PlaybackVideo, error) {
	v := PlaybackVideo{ID: id}
	err := s.read.QueryRowContext(context.WithoutCancel(ctx),
		"SELECT user_id, status, playable FROM videos WHERE id = ?", id).Scan(&v.UserID, &v.Status, &v.Playable)
	if err != nil {
		return nil, notFound(err)
	}
	return &v, nil
}
