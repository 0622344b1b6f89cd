package store

import (
	"context"
	"fmt"
)

// ContentGeneration answers a number that changes in the same transaction
// as anything a video list shows: a video row (views included), a category,
// a task's status or progress (migration 00008's triggers).
//
// Read it before building an answer from those tables: every read that
// follows sees at least that state, so an answer filed under n is never
// older than n, and it stays exact for as long as the number is still n.
func (s *Store) ContentGeneration(ctx context.Context) (int64, error) {
	var n int64
	if err := s.read.QueryRowContext(ctx, "SELECT n FROM content_generation WHERE id = 1").Scan(&n); err != nil {
		return 0, fmt.Errorf("content generation: %w", err)
	}
	return n, nil
}
