package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mika/store"
)

// playTokenLifetime is how long a play_url works. Expiry is rounded up to the
// hour so the same URL is handed out for a while (friendly to caches).
const playTokenLifetime = 12 * time.Hour

// playToken is the signed, expiring query token ("<exp>.<uid>.<sig>") that
// lets a player without headers fetch video id's playlists and segments.
// uid is the user it was issued to (0 for an anonymous viewer): a video that
// is not published plays only while that user may still see it, so an old
// link stops working when the video is hidden.
func (s *Server) playToken(videoID, uid int64, now time.Time) string {
	exp := now.Add(playTokenLifetime).Truncate(time.Hour).Add(time.Hour).Unix()
	return fmt.Sprintf("%d.%d.%s", exp, uid, s.playSig(videoID, uid, exp))
}

func (s *Server) playSig(videoID, uid, exp int64) string {
	m := hmac.New(sha256.New, s.jwtSecret)
	fmt.Fprintf(m, "play:%d:%d:%d", videoID, uid, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// checkPlayToken verifies tok for videoID and answers the user id it was
// issued to (0: anonymous).
func (s *Server) checkPlayToken(videoID int64, tok string, now time.Time) (uid int64, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return 0, false
	}
	exp, err1 := strconv.ParseInt(parts[0], 10, 64)
	uid, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || uid < 0 || now.Unix() > exp {
		return 0, false
	}
	if !hmac.Equal([]byte(parts[2]), []byte(s.playSig(videoID, uid, exp))) {
		return 0, false
	}
	return uid, true
}

// playURL is the play_url of a playable video for viewer u (nil when
// anonymous): the master playlist with a fresh token.
func (s *Server) playURL(videoID int64, u *store.User) string {
	var uid int64
	if u != nil {
		uid = u.ID
	}
	return fmt.Sprintf("/videos/%d/index.m3u8?token=%s", videoID, s.playToken(videoID, uid, time.Now()))
}
