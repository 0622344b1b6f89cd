// Package media is the one place that builds file paths under the data
// folder. Every path it hands out is inside the folder; names that would
// escape it are refused.
//
// Layout:
//
//	<data>/mika.db                     the database
//	<data>/media/originals/<id><ext>   uploaded originals
//	<data>/media/uploads/<upload_id>   files of unfinished chunked uploads
//	<data>/media/hls/<id>/...          HLS output: index.m3u8 and one folder per rung
//	<data>/media/covers/<id>.jpg       covers
//	<data>/media/avatars/<name>        avatars
//	<data>/tmp/                        scratch space (same file system, for renames)
package media

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrBadName is returned for a name that is empty, absolute or escapes its folder.
var ErrBadName = errors.New("bad file name")

// Dir is a data folder.
type Dir struct{ root string }

// New returns the data folder at root (made absolute). Call Init to create it.
func New(root string) (Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Dir{}, err
	}
	return Dir{root: abs}, nil
}

// Init creates the folder tree.
func (d Dir) Init() error {
	for _, p := range []string{d.root, d.Media(), d.sub("originals"), d.sub("uploads"), d.sub("hls"),
		d.sub("covers"), d.sub("avatars"), d.Tmp()} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	return nil
}

func (d Dir) sub(name string) string { return filepath.Join(d.root, "media", name) }

// ResetTmp empties the scratch folder. Call it at start, before anything
// writes there: what it holds then was left by a process that died.
func (d Dir) ResetTmp() error {
	entries, err := os.ReadDir(d.Tmp())
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(d.Tmp(), e.Name())))
	}
	return errors.Join(errs...)
}

// Root is the data folder itself.
func (d Dir) Root() string { return d.root }

// DB is the database file.
func (d Dir) DB() string { return filepath.Join(d.root, "mika.db") }

// Media is the folder whose size is the "storage used".
func (d Dir) Media() string { return filepath.Join(d.root, "media") }

// Tmp is scratch space on the same file system as the media.
func (d Dir) Tmp() string { return filepath.Join(d.root, "tmp") }

// Original is where video id's uploaded original lives; ext is like ".mp4".
func (d Dir) Original(id int64, ext string) string {
	return filepath.Join(d.sub("originals"), fmt.Sprintf("%d%s", id, cleanExt(ext)))
}

// Upload is the file an unfinished chunked upload writes into.
func (d Dir) Upload(uploadID string) (string, error) { return d.join(d.sub("uploads"), uploadID) }

// HLS is video id's HLS folder.
func (d Dir) HLS(id int64) string { return filepath.Join(d.sub("hls"), fmt.Sprint(id)) }

// HLSFile resolves a path requested below video id's HLS folder, such as
// "720p/seg_00001.ts"; it refuses anything that escapes the folder.
func (d Dir) HLSFile(id int64, rel string) (string, error) { return d.join(d.HLS(id), rel) }

// Cover is video id's cover JPEG.
func (d Dir) Cover(id int64) string { return filepath.Join(d.sub("covers"), fmt.Sprintf("%d.jpg", id)) }

// Avatar resolves an avatar file name.
func (d Dir) Avatar(name string) (string, error) { return d.join(d.sub("avatars"), name) }

// Rel turns a path inside the data folder into one relative to it, for
// storing in the database.
func (d Dir) Rel(p string) (string, error) {
	rel, err := filepath.Rel(d.root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: %w", p, ErrBadName)
	}
	return rel, nil
}

// Abs resolves a path stored relative to the data folder. Absolute paths
// (library originals) are returned as they are.
func (d Dir) Abs(stored string) (string, error) {
	if filepath.IsAbs(stored) {
		return stored, nil
	}
	return d.join(d.root, stored)
}

// Contains reports whether p is the data folder or inside it.
func (d Dir) Contains(p string) bool {
	rel, err := filepath.Rel(d.root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// join joins rel under base, refusing absolute names, NUL bytes and any
// path that would leave base.
func (d Dir) join(base, rel string) (string, error) {
	if rel == "" || filepath.IsAbs(rel) || strings.ContainsRune(rel, 0) || strings.Contains(rel, "\\") {
		return "", ErrBadName
	}
	p := filepath.Join(base, rel)
	r, err := filepath.Rel(base, p)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", ErrBadName
	}
	return p, nil
}

func cleanExt(ext string) string {
	ext = strings.ToLower(ext)
	if len(ext) < 2 || len(ext) > 8 || ext[0] != '.' {
		return ""
	}
	for _, c := range ext[1:] {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return ""
		}
	}
	return ext
}
