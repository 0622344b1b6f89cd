package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// readPool is the read connection pool with its statements kept prepared.
//
// Parsing and planning a statement costs more than running it for the
// short queries a page needs: under load, preparing was a third of the
// server's CPU time for GET /api/videos. database/sql prepares a *sql.Stmt
// on each connection the first time it runs there and reuses it after, so
// the cache maps SQL text to one *sql.Stmt.
type readPool struct {
	*sql.DB

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// maxStatements bounds the cache. The application's SQL is a fixed set of
// texts (a category subtree's IN list adds one per subtree size), so the
// bound is only a guard; past it statements run unprepared.
const maxStatements = 256

func newReadPool(db *sql.DB) *readPool {
	return &readPool{DB: db, stmts: map[string]*sql.Stmt{}}
}

// stmt answers the prepared statement for q, preparing it on first use; nil
// when the cache is full or preparing failed (the caller then runs q
// directly, so a statement's own error reaches the caller unchanged).
func (p *readPool) stmt(ctx context.Context, q string) *sql.Stmt {
	p.mu.Lock()
	st, ok := p.stmts[q]
	full := len(p.stmts) >= maxStatements
	p.mu.Unlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	st, err := p.DB.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.stmts[q]; ok {
		st.Close()
		return prev
	}
	if len(p.stmts) >= maxStatements {
		st.Close()
		return nil
	}
	p.stmts[q] = st
	return st
}

// QueryContext runs q as a prepared statement.
func (p *readPool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, q, args...)
}

// QueryRowContext runs q as a prepared statement.
func (p *readPool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, q, args...)
}

// txQueryRow runs q inside tx, as the statement prepared for q where there
// is one (tx.StmtContext reuses it when it is already prepared on tx's
// connection).
func (p *readPool) txQueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := p.stmt(ctx, q); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// Close closes the statements, then the pool.
func (p *readPool) Close() error {
	p.mu.Lock()
	var errs []error
	for q, st := range p.stmts {
		errs = append(errs, st.Close())
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	return errors.Join(append(errs, p.DB.Close())...)
}
