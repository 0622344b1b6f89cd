package library

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1080p.mkv", "1080p"},
		{".mkv", "mkv"},
		{"My.Film", "My Film"},
		{"Spider-Man.mkv", "Spider-Man"},
		{"Charlotte's.Web.1973.mp4", "Charlotte's Web 1973"},
		{"Movie.Name.2019.1080p.BluRay.x264-YTS.mp4", "Movie Name (2019)"},
		{"Movie_Name_2019_720p_WEBRip_x265.mkv", "Movie Name (2019)"},
		{"Movie Name (2019) [1080p] [YTS.MX].mp4", "Movie Name (2019)"},
		{"[SubGroup] Show Name - 01 [720p].mkv", "Show Name - 01"},
		{"Show.S01E02.Episode.Title.720p.WEB-DL.DDP5.1.H.264-GRP.mkv", "Show S01E02 Episode Title"},
		{"Film.2160p.UHD.BluRay.HDR.HEVC.TrueHD.7.1.Atmos-GROUP", "Film"},
		{"Film.4K.HDR.mkv", "Film"},
		{"Old.Movie.1962.DVDRip.XviD.AC3.avi", "Old Movie (1962)"},
		{"Clip.10bit.x265.AAC.mkv", "Clip"},
		{"2012.2009.1080p.mkv", "2012 (2009)"},
		{"holiday_video.MOV", "holiday video"},
		{"noext", "noext"},
		{"A  lot   of    spaces.mp4", "A lot of spaces"},
		{" ", "Untitled"},
		{"示例视频.mp4", "示例视频"},
		{"Movie.h265.mkv", "Movie"},
		{"Movie.x264-GROUP.mkv", "Movie"},
		{"Movie (1080p).mkv", "Movie"},
	}
	for _, tt := range tests {
		if got := CleanTitle(tt.in); got != tt.want {
			t.Errorf("CleanTitle(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanTitleLength(t *testing.T) {
	long := ""
	for range 300 {
		long += "字"
	}
	if got := []rune(CleanTitle(long + ".mp4")); len(got) != maxTitle {
		t.Fatalf("title of %d runes, want %d", len(got), maxTitle)
	}
	spaced := strings.Repeat("a", maxTitle-1) + " b.mp4"
	if got := CleanTitle(spaced); got != strings.Repeat("a", maxTitle-1) {
		t.Fatalf("cut title ends %q", got[len(got)-3:])
	}
}

func FuzzCleanTitle(f *testing.F) {
	for _, s := range []string{"Movie.Name.2019.1080p.BluRay.x264-YTS.mkv", "[A] b - 01 [720p].mkv", "", ".", "x264", "(2019)", "a-b-c-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := CleanTitle(name)
		if utf8.ValidString(name) && !utf8.ValidString(got) {
			t.Fatalf("CleanTitle(%q) = %q is not valid UTF-8", name, got)
		}
		if n := utf8.RuneCountInString(got); n > maxTitle {
			t.Fatalf("CleanTitle(%q) has %d runes", name, n)
		}
		if got == "" || got != strings.TrimSpace(got) || strings.Contains(got, "  ") {
			t.Fatalf("CleanTitle(%q) = %q: empty or badly spaced", name, got)
		}
	})
}
