package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// playTokenLifetime is how long a play_url works. Expiry is rounded up to the
// hour so the same URL is handed out for a while (friendly to caches).
const playTokenLifetime = 12 * time.Hour

// PlayToken is the signed, expiring query token ("<exp>.<sig>") that lets a
// player without headers fetch video id's playlists and segments.
func (s *Server) playToken(videoID int64, now time.Time) string {
	exp := now.Add(playTokenLifetime).Truncate(time.Hour).Add(time.Hour).Unix()
	return fmt.Sprintf("%d.%s", exp, s.playSig(videoID, exp))
}

func (s *Server) playSig(videoID, exp int64) string {
	m := hmac.New(sha256.New, s.jwtSecret)
	fmt.Fprintf(m, "play:%d:%d", videoID, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// checkPlayToken reports whether tok is a valid, unexpired token for videoID.
func (s *Server) checkPlayToken(videoID int64, tok string, now time.Time) bool {
	expStr, sig, found := strings.Cut(tok, ".")
	if !found {
		return false
	}
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil || now.Unix() > exp {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(s.playSig(videoID, exp)))
}

// playURL is the play_url of a playable video: the master playlist with a
// fresh token.
func (s *Server) playURL(videoID int64) string {
	return fmt.Sprintf("/videos/%d/index.m3u8?token=%s", videoID, s.playToken(videoID, time.Now()))
}
