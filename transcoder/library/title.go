package library

import (
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
)

// videoExts are the extensions stripped from a title. Recognising a video
// is ffprobe's job; this list only decides what "the extension" is, so that
// "My.Film" (no extension) keeps its last word.
var videoExts = map[string]bool{
	".mp4": true, ".m4v": true, ".mkv": true, ".avi": true, ".mov": true, ".wmv": true, ".flv": true,
	".webm": true, ".mpg": true, ".mpeg": true, ".mpe": true, ".m2ts": true, ".mts": true, ".ts": true,
	".vob": true, ".ogv": true, ".ogm": true, ".3gp": true, ".3g2": true, ".divx": true, ".xvid": true,
	".asf": true, ".rm": true, ".rmvb": true, ".f4v": true, ".mxf": true, ".dv": true, ".y4m": true,
	".h264": true, ".hevc": true, ".264": true, ".265": true,
}

var (
	bracketed     = regexp.MustCompile(`\[[^\]]*\]|\{[^}]*\}`)
	audioChannels = regexp.MustCompile(`(?i)\b(ddp|dd|e?ac3|aac|dts|truehd|atmos|flac|opus)[ ._-]?[1-9][ ._][0-9]\b`)
	dottedCodec   = regexp.MustCompile(`(?i)\b([hx])[ ._](26[45])\b`)
	resolution    = regexp.MustCompile(`^\d{3,4}[pi]$`)
	bitDepth      = regexp.MustCompile(`^(8|10|12)[ -]?bits?$`)
	codecToken    = regexp.MustCompile(`^[hx]\.?26[45]$`)
	year          = regexp.MustCompile(`^\(?((19|20)\d\d)\)?$`)
)

// noise are release-name tokens that are never part of a title. Words that
// also occur in real titles ("web", "dv") are deliberately left out.
var noise = map[string]bool{
	"4k": true, "uhd": true, "hevc": true, "avc": true, "xvid": true, "divx": true,
	"bluray": true, "blu-ray": true, "brrip": true, "bdrip": true, "bdremux": true, "remux": true,
	"webrip": true, "web-dl": true, "webdl": true, "web-rip": true, "hdtv": true, "hdrip": true,
	"dvdrip": true, "dvdscr": true, "dvd5": true, "dvd9": true, "hdcam": true,
	"aac": true, "ac3": true, "eac3": true, "dts": true, "dts-hd": true, "dd": true, "ddp": true,
	"dd+": true, "truehd": true, "atmos": true, "flac": true,
	"hdr": true, "hdr10": true, "hdr10+": true, "sdr": true,
	"proper": true, "repack": true,
}

// isNoise reports whether a token is release-group noise. A token like
// "x264-GROUP" is noise when the part before its last hyphen is.
func isNoise(tok string) bool {
	t := strings.ToLower(strings.Trim(tok, "()"))
	if t == "" {
		return false
	}
	if noise[t] || resolution.MatchString(t) || bitDepth.MatchString(t) || codecToken.MatchString(t) {
		return true
	}
	if i := strings.LastIndexByte(t, '-'); i > 0 {
		return isNoise(t[:i])
	}
	return false
}

// maxTitle is the longest title the API accepts, in characters.
const maxTitle = 200

// CleanTitle turns a file name into a video title: without its extension,
// dots and underscores as spaces, and release-group noise (resolution,
// codec, source, audio tags, bracketed groups, a trailing "-GROUP") cut off.
// A year is kept, in parentheses: "Movie.2019.1080p.x264-YTS.mkv" becomes
// "Movie (2019)".
func CleanTitle(name string) string {
	base := filepath.Base(name)
	if ext := filepath.Ext(base); videoExts[strings.ToLower(ext)] && len(ext) < len(base) {
		base = strings.TrimSuffix(base, ext)
	}
	s := bracketed.ReplaceAllString(base, " ")
	s = audioChannels.ReplaceAllString(s, "$1")
	s = dottedCodec.ReplaceAllString(s, "$1$2")
	s = strings.NewReplacer(".", " ", "_", " ").Replace(s)

	toks := strings.Fields(s)
	cut := len(toks)
	for i, t := range toks {
		if i > 0 && isNoise(t) {
			cut = i
			break
		}
	}
	toks = toks[:cut]
	// A bare year just before the noise is the release year: "Movie (2019)".
	if n := len(toks); n > 1 && cut < len(strings.Fields(s)) {
		if m := year.FindStringSubmatch(toks[n-1]); m != nil {
			toks[n-1] = "(" + m[1] + ")"
		}
	}
	title := strings.Trim(strings.Join(toks, " "), " -–")
	title = strings.ReplaceAll(title, "()", "")
	title = strings.Join(strings.Fields(title), " ")
	if title == "" {
		title = strings.Join(strings.Fields(base), " ")
	}
	if title == "" {
		title = "Untitled" // a file named only with spaces
	}
	if utf8.RuneCountInString(title) > maxTitle {
		title = strings.TrimSpace(string([]rune(title)[:maxTitle]))
	}
	return title
}
