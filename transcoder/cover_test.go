package transcoder

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCoverSource(t *testing.T) {
	out := t.TempDir()
	playlist := "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:2.000000,\nseg_00000.ts\n#EXTINF:2.000000,\nseg_00001.ts\n" +
		"#EXTINF:2.000000,\nseg_00002.ts\n#EXTINF:6.000000,\nseg_00003.ts\n#EXTINF:6.000000,\nseg_00004.ts\n#EXT-X-ENDLIST\n"
	for _, name := range []string{"720p", "480p", "360p", "1080p"} {
		if err := os.MkdirAll(filepath.Join(out, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name, "index.m3u8"), []byte(playlist), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ladder := Plan{Rungs: []Rung{{Name: "1080p", Width: 1920, Copy: true}, {Name: "720p", Width: 1280},
		{Name: "480p", Width: 854}, {Name: "360p", Width: 640}}}
	small := Plan{Rungs: []Rung{{Name: "480p", Width: 854}, {Name: "360p", Width: 640}}}
	tiny := Plan{Rungs: []Rung{{Name: "360p", Width: 320}}}
	remux := Plan{Rungs: []Rung{{Name: "1080p", Width: 1920, Copy: true}}}
	tests := []struct {
		name   string
		plan   Plan
		at     float64
		seg    string
		offset float64
		ok     bool
	}{
		{"640 wide rung, first segment", ladder, 1.5, "360p/seg_00000.ts", 1.5, true},
		{"on a boundary", ladder, 4, "360p/seg_00002.ts", 0, true},
		{"inside a long segment", ladder, 10, "360p/seg_00003.ts", 4, true},
		{"past the end", ladder, 30, "360p/seg_00004.ts", 0, true},
		{"narrower than 640: the widest", tiny, 3, "360p/seg_00001.ts", 1, true},
		{"smallest at least 640", small, 0, "360p/seg_00000.ts", 0, true},
		{"remux only: from the source", remux, 3, "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seg, off, ok := coverSource(out, tc.plan, tc.at)
			want := ""
			if tc.seg != "" {
				want = filepath.Join(out, tc.seg)
			}
			if ok != tc.ok || seg != want || off != tc.offset {
				t.Fatalf("got %q %v %v, want %q %v %v", seg, off, ok, want, tc.offset, tc.ok)
			}
		})
	}
	if _, _, ok := coverSource(t.TempDir(), ladder, 3); ok {
		t.Fatal("a missing playlist gave a cover source")
	}
}
