package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"

	"mika/store"
)

const (
	// maxAvatarBytes caps an avatar image.
	maxAvatarBytes = 2 << 20
	// avatarPrefix is the URL path avatars are served under.
	avatarPrefix = "/avatars/"
)

// avatarTypes are the image types an avatar may be, with their extension.
var avatarTypes = map[string]string{
	"image/jpeg": ".jpg",
	"image/png":  ".png",
	"image/gif":  ".gif",
	"image/webp": ".webp",
}

// avatarName is what an avatar file may be called: no separators, no
// dot-dot, one of the image extensions.
var avatarName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}\.(jpg|png|gif|webp)$`)

// validAvatarPath reports whether p is an /avatars/ path with a sane name.
func validAvatarPath(p string) bool {
	name, found := strings.CutPrefix(p, avatarPrefix)
	return found && avatarName.MatchString(name)
}

// uploadAvatar takes a multipart "file" (a JPEG, PNG, GIF or WebP of at
// most 2 MiB, recognised by its bytes, not its name), stores it under a
// random name and makes it the caller's avatar.
func (s *Server) uploadAvatar(w http.ResponseWriter, r *http.Request) error {
	// The image plus room for the multipart framing and other small fields.
	r.Body = http.MaxBytesReader(w, r.Body, maxAvatarBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return errField("file", "a multipart/form-data body with an image is required")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return errField("file", "is required")
		}
		if err != nil {
			return multipartError(err)
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		defer part.Close()
		return s.saveAvatar(w, r, part)
	}
}

// saveAvatar copies the image to tmp, checks its type and size, and moves it
// into the avatars folder.
func (s *Server) saveAvatar(w http.ResponseWriter, r *http.Request, src io.Reader) error {
	f, err := os.CreateTemp(s.data.Tmp(), "avatar-*")
	if err != nil {
		return fmt.Errorf("avatar temp file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	n, err := io.Copy(f, io.LimitReader(src, maxAvatarBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return multipartError(err)
	}
	if n > maxAvatarBytes {
		return &APIError{Code: http.StatusRequestEntityTooLarge, Message: "an avatar may be at most 2 MiB"}
	}
	if n == 0 {
		return errField("file", "is empty")
	}
	head := make([]byte, 512)
	if f, err = os.Open(tmp); err != nil {
		return err
	}
	m, _ := io.ReadFull(f, head)
	f.Close()
	ext, good := avatarTypes[http.DetectContentType(head[:m])]
	if !good {
		return errField("file", "must be a JPEG, PNG, GIF or WebP image")
	}
	rnd, err := randomHex(16)
	if err != nil {
		return err
	}
	name := rnd + ext
	dst, err := s.data.Avatar(name)
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("store avatar: %w", err)
	}
	path := avatarPrefix + name
	u := currentUser(r)
	_, orphan, err := s.store.UpdateProfile(r.Context(), u.ID, store.ProfileUpdate{Avatar: &path})
	if err != nil {
		os.Remove(dst)
		return err
	}
	s.removeAvatar(r.Context(), orphan)
	s.log.Info("avatar uploaded", slog.Int64("user_id", u.ID), slog.String("avatar", path))
	return ok(w, map[string]string{"avatar": path})
}

// removeAvatar deletes the file behind an avatar path that no account shows
// any more. Paths that are not ours, and files already gone, are ignored.
func (s *Server) removeAvatar(ctx context.Context, path string) {
	name, found := strings.CutPrefix(path, avatarPrefix)
	if !found || !avatarName.MatchString(name) {
		return
	}
	p, err := s.data.Avatar(name)
	if err != nil {
		return
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.WarnContext(ctx, "remove old avatar", slog.String("path", p), slog.Any("err", err))
	}
}

// multipartError maps a failure reading a multipart body to an API error.
func multipartError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &APIError{Code: http.StatusRequestEntityTooLarge, Message: "an avatar may be at most 2 MiB"}
	}
	return errBadRequest("malformed multipart body", map[string]string{"file": "could not be read"})
}

// serveAvatar serves an avatar file publicly. Names are random and never
// reused, so clients may cache them for long.
func (s *Server) serveAvatar(w http.ResponseWriter, r *http.Request) {
	name := urlParam(r, "name")
	if !avatarName.MatchString(name) {
		s.writeError(w, r, errNotFound)
		return
	}
	p, err := s.data.Avatar(name)
	if err != nil {
		s.writeError(w, r, errNotFound)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		s.writeError(w, r, errNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		s.writeError(w, r, errNotFound)
		return
	}
	ext := name[strings.LastIndexByte(name, '.'):]
	for mt, e := range avatarTypes {
		if e == ext {
			w.Header().Set("Content-Type", mt)
		}
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, st.ModTime(), f)
}
