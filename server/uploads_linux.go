//go:build linux

package server

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncData makes f's data durable (fdatasync: the file's size and blocks
// are already settled by preallocate, so no metadata needs committing
// beyond what the writes themselves change).
func syncData(f *os.File) error {
	return ignoringEINTR(func() error { return unix.Fdatasync(int(f.Fd())) })
}

// preallocate reserves size bytes of disk for f, so that writing a chunk
// allocates nothing.
func preallocate(f *os.File, size int64) error {
	return ignoringEINTR(func() error { return unix.Fallocate(int(f.Fd()), 0, 0, size) })
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// startWriteback asks the kernel to start writing f's bytes [off, off+n) to
// disk now, without waiting: a chunk's data then goes to disk while the
// rest of it is still arriving, and the fdatasync that acknowledges the
// chunk waits only for the tail.
func startWriteback(f *os.File, off, n int64) {
	_ = ignoringEINTR(func() error { return unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE) })
}
