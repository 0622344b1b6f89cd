//go:build !linux

package server

import (
	"errors"
	"os"
)

// syncData makes f's data durable.
func syncData(f *os.File) error { return f.Sync() }

// preallocate is not available here: the file stays sparse.
func preallocate(*os.File, int64) error { return errors.ErrUnsupported }

// startWriteback does nothing here: the acknowledging sync writes it all.
func startWriteback(*os.File, int64, int64) {}
