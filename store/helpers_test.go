package store

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// openTestStore opens a store over a fresh temp dir with the real
// migrations; it is closed when the test ends.
func openTestStore(t testing.TB) *Store {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	migs := os.DirFS(filepath.Join(filepath.Dir(file), "..", "migrations"))
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "mika.db"), migs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
