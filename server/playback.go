package server

import (
	"bufio"
	"bytes"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"mika/store"
)

// servePlayback answers GET /videos/{id}/*: the HLS master playlist, rung
// playlists and segments of a playable video. A request needs the play
// token of this video (the query "token" that play_url carries) or the
// Bearer token of someone who may see the video; otherwise 403. Playlists
// are rewritten so every URI in them carries the same token, so players
// that send no headers follow them.
func (s *Server) servePlayback(w http.ResponseWriter, r *http.Request) {
	if err := s.playback(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) playback(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	rest := urlParam(r, "*")
	v, err := s.store.PlaybackVideo(r.Context(), id)
	if err != nil {
		return err
	}
	if !v.Playable {
		return errNotFound
	}
	token := r.URL.Query().Get("token")
	var viewer *store.User
	allowed := false
	if uid, valid := s.checkPlayToken(id, token, time.Now()); token != "" && valid {
		// A segment of a published video needs no lookup of the viewer: the
		// hot path of playback stays one indexed read.
		if v.Status == store.VideoPublished && rest != "index.m3u8" {
			uid = 0
		}
		allowed, viewer, err = s.tokenViewer(r, v, uid)
		if err != nil {
			return err
		}
	}
	if !allowed && (bearer(r) != "" || r.Header.Get("X-API-Key") != "") {
		if u, err := s.authenticate(r); err == nil && u != nil && canPlay(u, v) {
			allowed, viewer = true, u
		}
	}
	if !allowed {
		return errForbidden
	}
	file, err := s.data.HLSFile(id, rest)
	if err != nil {
		return errNotFound
	}
	switch path.Ext(rest) {
	case ".m3u8":
		return s.servePlaylist(w, r, id, file, rest, token, viewer)
	case ".ts":
		return serveMedia(w, r, file, "video/mp2t", "private, max-age=86400")
	case ".m4s", ".mp4":
		return serveMedia(w, r, file, "video/mp4", "private, max-age=86400")
	default:
		return errNotFound
	}
}

// canPlay is canSee over the columns playback reads.
func canPlay(u *store.User, v *store.PlaybackVideo) bool {
	return canSee(u, &store.Video{ID: v.ID, UserID: v.UserID, Status: v.Status, Playable: v.Playable})
}

// tokenViewer decides whether a valid play token issued to user uid (0:
// anonymous) still opens v: a published video plays for anyone holding the
// link; any other plays only while that user may see it (owner or admin).
func (s *Server) tokenViewer(r *http.Request, v *store.PlaybackVideo, uid int64) (bool, *store.User, error) {
	var u *store.User
	if uid > 0 {
		var err error
		u, err = s.store.UserByID(r.Context(), uid)
		if errors.Is(err, store.ErrNotFound) {
			u = nil
		} else if err != nil {
			return false, nil, err
		}
		if u != nil && u.Disabled {
			u = nil
		}
	}
	if v.Status == store.VideoPublished {
		return true, u, nil
	}
	return u != nil && canPlay(u, v), u, nil
}

func (s *Server) servePlaylist(w http.ResponseWriter, r *http.Request, videoID int64, file, rest, token string,
	viewer *store.User) error {
	f, st, err := openRegular(file)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	// A HEAD (a link checker, a player probing the type) plays nothing:
	// only a GET of the master playlist counts a view, a Range or
	// conditional GET included (players fetch the master whole).
	if rest == "index.m3u8" && r.Method != http.MethodHead {
		who := "ip:" + s.clientIP(r)
		if viewer != nil {
			who = "u:" + strconv.FormatInt(viewer.ID, 10)
		}
		if _, err := s.store.RecordView(r.Context(), videoID, who); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("record view", slog.Int64("video_id", videoID), slog.Any("err", err))
		}
	}
	cache := "private, no-cache"
	if bytes.Contains(b, []byte("#EXT-X-ENDLIST")) {
		cache = "private, max-age=60"
	}
	if token != "" {
		b = withToken(b, token)
	}
	// The rewritten bytes go out through ServeContent, as segments do:
	// Range, If-Range, conditional requests and HEAD behave the same. A
	// playlist still being written changes several times a second, finer
	// than Last-Modified tells, so an ETag of the bytes sent decides
	// revalidation (If-None-Match wins over If-Modified-Since).
	h := fnv.New64a()
	h.Write(b)
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("ETag", `"`+strconv.FormatUint(h.Sum64(), 36)+`"`)
	http.ServeContent(w, r, "", st.ModTime(), bytes.NewReader(b))
	return nil
}

// withToken appends ?token= to every URI of a playlist: the URI lines and
// the URI="…" attributes of tags.
func withToken(pl []byte, token string) []byte {
	q := "token=" + url.QueryEscape(token)
	add := func(uri string) string {
		if uri == "" || strings.Contains(uri, "token=") {
			return uri
		}
		if strings.Contains(uri, "?") {
			return uri + "&" + q
		}
		return uri + "?" + q
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(pl))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "#"):
			if i := strings.Index(line, `URI="`); i >= 0 {
				j := strings.IndexByte(line[i+5:], '"')
				if j >= 0 {
					line = line[:i+5] + add(line[i+5:i+5+j]) + line[i+5+j:]
				}
			}
		case strings.TrimSpace(line) != "":
			line = add(strings.TrimSpace(line))
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// openRegular opens a regular file to serve; anything else (missing, a
// folder) is a 404.
func openRegular(file string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, errNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = errNotFound
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// serveMedia serves a file with Range support. The response leaves corked
// (corkResponse): the header and the file go out in full TCP segments.
func serveMedia(w http.ResponseWriter, r *http.Request, file, contentType, cache string) error {
	f, st, err := openRegular(file)
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	defer corkResponse(r)()
	http.ServeContent(w, r, "", st.ModTime(), f)
	return nil
}

// serveCover answers GET /covers/{id}.jpg: public for published videos;
// owner and admins (Bearer) see the covers of their other videos.
func (s *Server) serveCover(w http.ResponseWriter, r *http.Request) {
	if err := s.cover(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) cover(w http.ResponseWriter, r *http.Request) error {
	name, ok := strings.CutSuffix(urlParam(r, "name"), ".jpg")
	id, err := strconv.ParseInt(name, 10, 64)
	if !ok || err != nil || id < 1 || strconv.FormatInt(id, 10) != name {
		return errNotFound
	}
	v, err := s.store.VideoByID(r.Context(), id)
	if err != nil {
		return err
	}
	if !v.HasCover {
		return errNotFound
	}
	cache := "public, max-age=3600"
	if v.Status != store.VideoPublished {
		u, err := s.authenticate(r)
		if err != nil || !canEdit(u, v) {
			return errNotFound
		}
		cache = "private, max-age=3600"
	}
	return serveMedia(w, r, s.data.Cover(id), "image/jpeg", cache)
}

// removeTranscodeOutput deletes a video's HLS folder and cover.
func (s *Server) removeTranscodeOutput(videoID int64) {
	for _, p := range []string{s.data.HLS(videoID), s.data.Cover(videoID)} {
		if err := os.RemoveAll(p); err != nil {
			s.log.Warn("remove transcode output", slog.Int64("video_id", videoID), slog.String("path", p),
				slog.Any("err", err))
		}
	}
}
