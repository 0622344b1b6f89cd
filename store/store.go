// Package store owns Mika's SQLite database: opening it, migrating it and
// every SQL statement the application runs. Nothing outside this package
// writes SQL.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Sentinel errors callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Store is the database. Writes go through a pool of exactly one connection
// so SQLite never sees competing writers; reads use a wider pool.
type Store struct {
	write *writePool
	read  *readPool
	path  string

	settings *settingsCache
	anchors  *anchorCache // deep list pages (anchors.go)
	catNames *categoryNames
	totals   totalsAt // list totals at one content generation (videos.go)
}

// ReadConns is how many reads run at once; more wait for a connection.
func (s *Store) ReadConns() int { return s.read.Stats().MaxOpenConnections }

// dsn builds a modernc DSN. busy_timeout comes first so that setting WAL on
// a database another process holds waits instead of failing.
//
// Read connections do not map the file (mmap_size): random list pages of
// 200,000 videos answered 10–17 % more requests a second with a 1 GiB map,
// but each connection maps the file apart, so the pages a connection
// touched count again in the process's resident size for each connection
// (546 MB after one wrk run over list pages, against 50 MB unmapped), and
// an I/O error on a mapped page ends the process instead of a query.
func dsn(path string, readOnly bool) string {
	q := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	if readOnly {
		q = "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&mode=ro"
	}
	return "file:" + path + q
}

// Open opens (creating if needed) the database at path and applies the
// migrations found in migrations.
func Open(ctx context.Context, path string, migrations fs.FS) (*Store, error) {
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := migrate(ctx, w, migrations); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU()*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s := &Store{write: &writePool{DB: w}, read: newReadPool(r), path: path, anchors: newAnchorCache(), catNames: &categoryNames{}}
	if s.settings, err = loadSettings(ctx, w); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func migrate(ctx context.Context, db *sql.DB, migrations fs.FS) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Backup writes a consistent copy of the live database to dst with VACUUM
// INTO. dst must not exist. It runs on a read connection: a WAL read
// transaction sees one snapshot and does not hold up writers meanwhile.
func (s *Store) Backup(ctx context.Context, dst string) error {
	if _, err := s.read.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("backup to %s: %w", dst, err)
	}
	return nil
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	err = tx.Commit()
	s.write.writes.Add(1)
	return err
}

// now is the clock, in Unix seconds; tests may replace it.
var now = func() int64 { return time.Now().Unix() }

// TimeFormat and DateFormat are the API's formats, in the server's zone.
const (
	TimeFormat = "2006-01-02 15:04:05"
	DateFormat = "2006-01-02"
)

// FormatTime renders Unix seconds as the API's time; 0 is "".
func FormatTime(unix int64) string {
	if unix == 0 {
		return ""
	}
	return time.Unix(unix, 0).Local().Format(TimeFormat)
}

// isUnique reports whether err is a UNIQUE constraint failure.
func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// notFound maps sql.ErrNoRows to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// Meta reads a value from the meta table; ErrNotFound when absent.
func (s *Store) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.write.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	return v, notFound(err)
}

// MetaOrInit returns the value of key, storing init() first if absent.
func (s *Store) MetaOrInit(ctx context.Context, key string, init func() (string, error)) (string, error) {
	v, err := s.Meta(ctx, key)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	nv, err := init()
	if err != nil {
		return "", err
	}
	if _, err := s.write.ExecContext(ctx, "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", key, nv); err != nil {
		return "", err
	}
	return s.Meta(ctx, key)
}
