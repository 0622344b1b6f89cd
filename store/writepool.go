package store

import (
	"context"
	"database/sql"
	"sync/atomic"
)

// writePool is the one-connection write pool, counting the writes that
// have completed: Writes lets a cache built on the content generation skip
// reading it while nothing was written since (server/listcache.go).
type writePool struct {
	*sql.DB
	writes atomic.Int64
}

// ExecContext runs q and counts it once it returned (committed, when it
// ran outside a transaction).
func (p *writePool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	defer p.writes.Add(1)
	return p.DB.ExecContext(ctx, q, args...)
}

// Writes counts the write statements and the committed transactions of this
// process that have completed (a rolled back transaction changed nothing).
// A reader that loads it before reading the database sees every write it
// counts; a write that completes after that moves it.
func (s *Store) Writes() int64 { return s.write.writes.Load() }
