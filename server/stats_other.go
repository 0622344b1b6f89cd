//go:build !unix

package server

import "io/fs"

// storedBytes is a file's size where the system does not report allocation.
func storedBytes(info fs.FileInfo) int64 { return info.Size() }
