//go:build !linux

package library

// networkFS is only known on Linux; elsewhere the watcher is tried and the
// periodic scan covers what it misses.
func networkFS(string) (string, bool) { return "", false }
