//go:build unix

package server

import (
	"io/fs"
	"syscall"
)

// storedBytes is what a file holds for the storage meter: its size, except
// for a file with holes larger than a mebibyte, which counts what is
// allocated. An unfinished chunked upload is created at its full declared
// size but holds only the chunks received, so a client that announces a
// terabyte and sends nothing must not show a terabyte used. The mebibyte of
// slack keeps compressing file systems (ZFS, btrfs), where a small or
// freshly written file may report fewer blocks than its size, at their size.
func storedBytes(info fs.FileInfo) int64 {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return info.Size()
	}
	if allocated := int64(st.Blocks) * 512; allocated < info.Size()-1<<20 {
		return allocated
	}
	return info.Size()
}
