package transcoder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MasterName is the master playlist's file name in a video's HLS folder;
// every rung lives in <rung name>/index.m3u8 next to it.
const MasterName = "index.m3u8"

// rungPlaylist is the path of a rung's media playlist.
func rungPlaylist(outDir string, r Rung) string { return filepath.Join(outDir, r.Name, "index.m3u8") }

// firstSegmentReady reports whether a rung's playlist lists a segment.
func firstSegmentReady(outDir string, r Rung) bool {
	b, err := os.ReadFile(rungPlaylist(outDir, r))
	return err == nil && bytes.Contains(b, []byte("#EXTINF"))
}

// variantInfo is what the master playlist says about one rung.
type variantInfo struct {
	Rung
	Bandwidth        int
	AverageBandwidth int
	VideoCodec       string // "avc1.64001f"
}

// avcCodec builds the RFC 6381 "avc1.PPCCLL" string from ffprobe's profile
// name and level; unknown profiles fall back to High.
func avcCodec(profile string, level int) string {
	pc := "6400"
	switch profile {
	case "Constrained Baseline":
		pc = "42E0"
	case "Baseline":
		pc = "4200"
	case "Main":
		pc = "4D40"
	case "Extended":
		pc = "5800"
	case "High":
		pc = "6400"
	case "High 10":
		pc = "6E00"
	case "High 4:2:2":
		pc = "7A00"
	case "High 4:4:4 Predictive":
		pc = "F400"
	}
	if level <= 0 || level > 255 {
		level = 40
	}
	return fmt.Sprintf("avc1.%s%02x", pc, level)
}

// segmentCodec reads the H.264 profile and level of a rung's first segment,
// so CODECS is true for encoded and copied rungs alike. ok is false when
// the segment could not be read; the codec is then a safe guess.
func segmentCodec(ctx context.Context, ffprobe, outDir string, r Rung) (codec string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=profile,level", "-of", "json",
		filepath.Join(outDir, r.Name, "seg_00000.ts")).Output()
	if err != nil {
		return avcCodec("High", 40), false
	}
	var v struct {
		Streams []struct {
			Profile string `json:"profile"`
			Level   int    `json:"level"`
		} `json:"streams"`
	}
	if json.Unmarshal(out, &v) != nil || len(v.Streams) == 0 {
		return avcCodec("High", 40), false
	}
	return avcCodec(v.Streams[0].Profile, v.Streams[0].Level), true
}

// masterPlaylist renders the master playlist, highest rung first.
func masterPlaylist(vs []variantInfo, audio bool, fps float64) string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, v := range vs {
		codecs := v.VideoCodec
		if audio {
			codecs += ",mp4a.40.2"
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d", v.Bandwidth)
		if v.AverageBandwidth > 0 {
			fmt.Fprintf(&b, ",AVERAGE-BANDWIDTH=%d", v.AverageBandwidth)
		}
		fmt.Fprintf(&b, ",RESOLUTION=%dx%d", v.Width, v.Height)
		if fps > 0 {
			fmt.Fprintf(&b, ",FRAME-RATE=%.3f", fps)
		}
		fmt.Fprintf(&b, ",CODECS=\"%s\"\n%s/index.m3u8\n", codecs, v.Name)
	}
	return b.String()
}

// writeFileAtomic writes name through a temporary file and a rename, so a
// player never reads half a playlist.
func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// finalizePlaylist turns a finished rung's event playlist into VOD.
func finalizePlaylist(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := strings.Replace(string(b), "#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-PLAYLIST-TYPE:VOD", 1)
	if !strings.Contains(s, "#EXT-X-PLAYLIST-TYPE:VOD") {
		s = strings.Replace(s, "#EXTM3U\n", "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n", 1)
	}
	if !strings.Contains(s, "#EXT-X-ENDLIST") {
		s = strings.TrimRight(s, "\n") + "\n#EXT-X-ENDLIST\n"
	}
	return writeFileAtomic(path, []byte(s))
}

// segment is one media segment of a rung playlist: its file name and
// #EXTINF duration.
type segment struct {
	name string
	dur  float64
}

// rungSegments lists the segments of rung r's playlist, in order.
func rungSegments(outDir string, r Rung) ([]segment, error) {
	f, err := os.Open(rungPlaylist(outDir, r))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var segs []segment
	var dur float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if d, ok := strings.CutPrefix(l, "#EXTINF:"); ok {
			d, _, _ = strings.Cut(d, ",")
			dur, _ = strconv.ParseFloat(d, 64)
			continue
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		segs = append(segs, segment{l, dur})
		dur = 0
	}
	return segs, sc.Err()
}

// measureRung reads a finished rung's playlist and segment sizes: the peak
// segment bit rate (BANDWIDTH) and the average (AVERAGE-BANDWIDTH).
func measureRung(outDir string, r Rung) (peak, avg int, err error) {
	segs, err := rungSegments(outDir, r)
	if err != nil {
		return 0, 0, err
	}
	var total float64
	var totalBytes int64
	for _, sg := range segs {
		if sg.dur <= 0 {
			continue
		}
		st, err := os.Stat(filepath.Join(outDir, r.Name, sg.name))
		if err != nil {
			return 0, 0, err
		}
		// Very short tail segments exaggerate the peak; judge them at 1 s.
		rate := float64(st.Size()*8) / max(sg.dur, 1)
		peak = max(peak, int(rate))
		total += sg.dur
		totalBytes += st.Size()
	}
	if total > 0 {
		// A clip shorter than a second, judged at 1 s for its peak, would
		// otherwise average above it; no player expects that.
		avg = min(int(float64(totalBytes*8)/total), peak)
	}
	return peak, avg, nil
}

// dirSize is the bytes of the regular files below dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
