package store

import (
	"context"
	"database/sql"
	"testing"
)

// Every read connection maps the database file; the write connection,
// which every change goes through, does not.
func TestReadConnectionsMapTheFile(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if readMmapBytes == 0 {
		t.Skip("no map on 32-bit systems")
	}
	mmapSize := func(c *sql.Conn) int64 {
		t.Helper()
		var n int64
		if err := c.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Hold every read connection at once, so each is a different one.
	for range s.ReadConns() {
		c, err := s.read.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := mmapSize(c); got != readMmapBytes {
			t.Fatalf("read connection mmap_size = %d, want %d", got, readMmapBytes)
		}
	}
	w, err := s.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := mmapSize(w); got != 0 {
		t.Fatalf("write connection mmap_size = %d, want 0", got)
	}
}
