package transcoder

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mika/store"
)

func TestPlanFor(t *testing.T) {
	h264 := func(w, h int) *ProbeResult {
		return &ProbeResult{Width: w, Height: h, FPS: 25, VideoCodec: "h264", Profile: "High", PixFmt: "yuv420p", BitDepth: 8,
			HasAudio: true, AudioCodec: "aac", AudioProfile: "LC", BitRate: 4_000_000, KeyframeGap: 2, KeyframeSpacing: 2}
	}
	hevc := func(w, h int) *ProbeResult {
		p := h264(w, h)
		p.VideoCodec, p.PixFmt, p.BitDepth = "hevc", "yuv420p10le", 10
		return p
	}
	with := func(p *ProbeResult, f func(*ProbeResult)) *ProbeResult { f(p); return p }
	def := store.DefaultSettings()

	tests := []struct {
		name   string
		probe  *ProbeResult
		ladder []int
		want   string // rungs as name:WxH, "*" marks the copied rung
		fps    float64
		force  bool
		gop    int
	}{
		{"1080p h264+aac: own rung copied", h264(1920, 1080), nil,
			"1080p:1920x1080* 720p:1280x720 480p:854x480 360p:640x360", 25, false, 150},
		{"1080p hevc 10-bit: all encoded", hevc(1920, 1080), nil,
			"1080p:1920x1080 720p:1280x720 480p:854x480 360p:640x360", 25, false, 150},
		{"4K h264 above the top rung: encoded", h264(3840, 2160), nil,
			"1080p:1920x1080 720p:1280x720 480p:854x480 360p:640x360", 25, false, 150},
		{"360p is not upscaled", hevc(640, 360), nil, "360p:640x360", 25, false, 150},
		{"below the lowest rung: own size", hevc(426, 240), nil, "240p:426x240", 25, false, 150},
		{"odd size below the lowest rung: even", hevc(321, 181), nil, "180p:320x180", 25, false, 150},
		{"odd size between rungs", hevc(1918, 1078), nil, "720p:1282x720 480p:854x480 360p:640x360", 25, false, 150},
		{"portrait phone video", hevc(1080, 1920), nil,
			"1080p:1080x1920 720p:720x1280 480p:480x854 360p:360x640", 25, false, 150},
		{"rotated h264 is encoded", with(h264(720, 1280), func(p *ProbeResult) { p.Rotation = 90 }), nil,
			"720p:720x1280 480p:480x854 360p:360x640", 25, false, 150},
		{"h264 High 4:4:4 Predictive (lossless x264) is encoded", with(h264(640, 360), func(p *ProbeResult) { p.Profile = "High 4:4:4 Predictive" }), nil,
			"360p:640x360", 25, false, 150},
		{"h264 Main is copied", with(h264(640, 360), func(p *ProbeResult) { p.Profile, p.BitRate = "Main", 1_500_000 }), nil,
			"360p:640x360*", 25, false, 150},
		{"h264 far above the rung's rate is encoded", with(h264(640, 360), func(p *ProbeResult) { p.BitRate = 101_000_000 }), nil,
			"360p:640x360", 25, false, 150},
		{"a phone's 1080p at 18 Mbit/s is copied", with(h264(1920, 1080), func(p *ProbeResult) { p.BitRate = 18_000_000 }), nil,
			"1080p:1920x1080* 720p:1280x720 480p:854x480 360p:640x360", 25, false, 150},
		{"h264 with HE-AAC is encoded", with(h264(1280, 720), func(p *ProbeResult) { p.AudioProfile = "HE-AAC" }), nil,
			"720p:1280x720 480p:854x480 360p:640x360", 25, false, 150},
		{"h264 without audio copied between rungs", with(h264(1000, 562), func(p *ProbeResult) { p.HasAudio = false }), nil,
			"562p:1000x562* 480p:854x480 360p:640x360", 25, false, 150},
		{"odd-sized h264 is copied at its exact size", with(h264(1001, 563), func(p *ProbeResult) { p.HasAudio = false }), nil,
			"563p:1001x563* 480p:854x480 360p:640x360", 25, false, 150},
		{"h264 with x264's 250 frames at 24 fps between keyframes is copied", with(h264(640, 360), func(p *ProbeResult) {
			p.KeyframeGap, p.KeyframeSpacing = 250/23.976, 250/23.976
			p.BitRate = 1_500_000
		}), nil,
			"360p:640x360*", 25, false, 150},
		{"full-range h264 (yuvj420p) is encoded", with(h264(640, 360), func(p *ProbeResult) { p.PixFmt = "yuvj420p"; p.BitRate = 1_500_000 }), nil,
			"360p:640x360", 25, false, 150},
		{"anamorphic h264 (1440x1080 shown 16:9) is encoded at its display size", with(h264(1920, 1080), func(p *ProbeResult) { p.SAR = 4.0 / 3 }), nil,
			"1080p:1920x1080 720p:1280x720 480p:854x480 360p:640x360", 25, false, 150},
		{"h264 with an 11 s keyframe gap is encoded", with(h264(640, 360), func(p *ProbeResult) { p.KeyframeGap = 11; p.BitRate = 1_500_000 }), nil,
			"360p:640x360", 25, false, 150},
		{"h264 with a keyframe every 2 frames is encoded", with(h264(640, 360), func(p *ProbeResult) { p.KeyframeGap, p.KeyframeSpacing = 0.08, 0.08; p.BitRate = 1_500_000 }), nil,
			"360p:640x360", 25, false, 150},
		{"h264 with unknown keyframes is encoded", with(h264(640, 360), func(p *ProbeResult) { p.KeyframeGap, p.KeyframeSpacing = 0, 0; p.BitRate = 1_500_000 }), nil,
			"360p:640x360", 25, false, 150},
		{"VFR gets a constant rate", with(hevc(640, 360), func(p *ProbeResult) { p.VFR, p.FPS = true, 29.6 }), nil,
			"360p:640x360", 30, true, 180},
		{"120 fps is capped at 60", with(hevc(640, 360), func(p *ProbeResult) { p.FPS = 120 }), nil,
			"360p:640x360", 60, true, 360},
		{"unknown rate", with(hevc(640, 360), func(p *ProbeResult) { p.FPS = 0 }), nil, "360p:640x360", 30, true, 180},
		{"NTSC rate", with(hevc(640, 360), func(p *ProbeResult) { p.FPS = 30000.0 / 1001 }), nil, "360p:640x360", 30000.0 / 1001, false, 180},
		{"custom ladder, duplicates and order", hevc(1920, 1080), []int{480, 720, 720, 2160},
			"720p:1280x720 480p:854x480", 25, false, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := def
			if tt.ladder != nil {
				s.Ladder = tt.ladder
			}
			p := PlanFor(tt.probe, s)
			var got []string
			for _, r := range p.Rungs {
				g := fmt.Sprintf("%s:%dx%d", r.Name, r.Width, r.Height)
				if r.Copy {
					g += "*"
				}
				got = append(got, g)
				if !r.Copy && (r.Width%2 != 0 || r.Height%2 != 0) {
					t.Errorf("odd rung %s", g)
				}
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("rungs %s\n want %s", strings.Join(got, " "), tt.want)
			}
			if p.FPS != tt.fps || p.ForceFPS != tt.force || p.GOP != tt.gop {
				t.Errorf("fps %v force %v gop %d, want %v %v %d", p.FPS, p.ForceFPS, p.GOP, tt.fps, tt.force, tt.gop)
			}
			if p.KeyframesFromSource != strings.Contains(tt.want, "*") {
				t.Errorf("keyframes from source %v with rungs %s", p.KeyframesFromSource, tt.want)
			}
			if p.SegmentSeconds != 6 || p.Preset != "veryfast" || p.HWAccel != "none" {
				t.Errorf("plan %+v", p)
			}
			if _, err := BuildCommand("ffmpeg", "/in.mp4", "/out", p); err != nil {
				t.Errorf("build: %v", err)
			}
		})
	}
}

func TestVideoKbpsScalesWithSize(t *testing.T) {
	sizes := [][2]int{{640, 360}, {854, 480}, {1280, 720}, {1920, 1080}, {3840, 2160}}
	var prev int
	for _, s := range sizes {
		k := videoKbps(s[0], s[1], 30)
		if k <= prev {
			t.Errorf("%dx%d: %dk not above %dk", s[0], s[1], k, prev)
		}
		prev = k
	}
	if k := videoKbps(1920, 1080, 30); k != 5000 {
		t.Errorf("1080p30 = %dk, want 5000k", k)
	}
	if a, b := videoKbps(1280, 720, 30), videoKbps(1280, 720, 60); b <= a {
		t.Errorf("60 fps %dk not above 30 fps %dk", b, a)
	}
}

func TestBuildCommand(t *testing.T) {
	probe := &ProbeResult{Width: 1280, Height: 720, FPS: 25, VideoCodec: "vp9", PixFmt: "yuv420p", BitDepth: 8}
	s := store.DefaultSettings()
	s.HLSSegmentSeconds = 4
	s.VideoPreset = "faster"
	c, err := BuildCommand("/usr/bin/ffmpeg", "/data/in.webm", "/data/hls/7", PlanFor(probe, s))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(c.Args, " ")
	for _, want := range []string{
		"-i /data/in.webm",
		"split=3",
		"scale=1280:720", "setsar=1", "format=yuv420p",
		"-c:v:0 libx264", "-preset:v:0 faster", "-maxrate:v:0 2700k", "-bufsize:v:0 5400k",
		"-g:v:2 100", "-keyint_min:v:2 100", "-sc_threshold:v:2 0", "-force_key_frames:v:1 expr:if(lt(n_forced,2),gte(t,n_forced*2),gte(t,(n_forced-1)*4))",
		"-hls_init_time 2",
		"-f hls", "-hls_time 4", "-hls_playlist_type event", "-hls_flags independent_segments+temp_file",
		"-hls_segment_filename /data/hls/7/%v/seg_%05d.ts",
		"-var_stream_map v:0,name:720p v:1,name:480p v:2,name:360p",
		"/data/hls/7/%v/index.m3u8",
		"-progress pipe:1", "-nostats",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("command lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "0:a") || strings.Contains(line, "fps=") {
		t.Errorf("no audio and a constant rate expected:\n%s", line)
	}
	if c.Path != "/usr/bin/ffmpeg" || !slices.Contains(c.Args, "-nostdin") {
		t.Errorf("command %+v", c)
	}
	if _, err := BuildCommand("ffmpeg", "/in", "/out", Plan{}); err == nil {
		t.Error("empty plan built")
	}
}

// TestPlanToneMapsHDR: an HDR source is tone mapped once, at the top
// rung's size when it is larger, and never copied; an interlaced one is
// deinterlaced, and never copied either.
func TestPlanToneMapsHDR(t *testing.T) {
	hdr := &ProbeResult{Width: 3840, Height: 2160, FPS: 30, VideoCodec: "hevc", PixFmt: "yuv420p10le", BitDepth: 10,
		ColorTransfer: "smpte2084", ColorPrimaries: "bt2020"}
	p := PlanFor(hdr, store.DefaultSettings())
	if !p.ToneMap {
		t.Fatal("an HDR10 source is not tone mapped")
	}
	c, err := BuildCommand("ffmpeg", "/in.mkv", "/out", p)
	if err != nil {
		t.Fatal(err)
	}
	graph := strings.Join(c.Args, " ")
	for _, want := range []string{"[0:v:0]zscale=h=1080:npl=100:t=linear:w=1920", "tonemap=desat=0:tonemap=hable",
		"zscale=m=bt709:r=tv:t=bt709", "format=yuv420p[s5];[s5]split=2"} {
		if !strings.Contains(graph, want) {
			t.Errorf("graph lacks %q:\n%s", want, graph)
		}
	}
	if n := strings.Count(graph, "tonemap=desat"); n != 1 {
		t.Errorf("%d tone maps, want 1", n)
	}
	// Scaled from the mapped 1080p picture: 720p from it, the rest from 720p.
	want := map[string]string{"1920:1080": "source", "1280:720": "source", "854:480": "1280:720/lanczos", "640:360": "1280:720/lanczos"}
	if got := scaleInputs(t, c.Args); !maps.Equal(got, want) {
		t.Errorf("scaled from %v, want %v", got, want)
	}

	hlg := &ProbeResult{Width: 1920, Height: 1080, FPS: 30, VideoCodec: "h264", Profile: "High", PixFmt: "yuv420p", BitDepth: 8,
		BitRate: 4_000_000, KeyframeGap: 1, KeyframeSpacing: 1, ColorTransfer: "arib-std-b67"}
	p = PlanFor(hlg, store.DefaultSettings())
	if !p.ToneMap || p.Rungs[0].Copy {
		t.Errorf("8-bit H.264 HLG: tone map %v, copied %v; want mapped and encoded", p.ToneMap, p.Rungs[0].Copy)
	}
	c, _ = BuildCommand("ffmpeg", "/in.mp4", "/out", p)
	if strings.Contains(strings.Join(c.Args, " "), "zscale=h=") {
		t.Error("a source at the top rung's size is resized before the tone map")
	}
	interlaced := *hlg
	interlaced.ColorTransfer, interlaced.FieldOrder = "bt709", "tt"
	p = PlanFor(&interlaced, store.DefaultSettings())
	c, _ = BuildCommand("ffmpeg", "/in.mp4", "/out", p)
	if graph := strings.Join(c.Args, " "); !p.Deinterlace || p.Rungs[0].Copy ||
		!strings.Contains(graph, "[0:v:0]bwdif=deint=interlaced:mode=send_frame[s0]") {
		t.Errorf("interlaced H.264: deinterlace %v, copied %v; want deinterlaced first and encoded:\n%s",
			p.Deinterlace, p.Rungs[0].Copy, graph)
	}
	sdr := *hlg
	sdr.ColorTransfer, sdr.FieldOrder = "bt709", "progressive"
	if p := PlanFor(&sdr, store.DefaultSettings()); p.ToneMap || p.Deinterlace || !p.Rungs[0].Copy {
		t.Errorf("progressive SDR: tone map %v, deinterlace %v, copied %v", p.ToneMap, p.Deinterlace, p.Rungs[0].Copy)
	}
}

// TestBuildCommandWithCopiedRung: the encoded rungs take their keyframes
// from the source, and only from it, when a rung is copied.
func TestBuildCommandWithCopiedRung(t *testing.T) {
	probe := &ProbeResult{Width: 1280, Height: 720, FPS: 30, VideoCodec: "h264", Profile: "Main", PixFmt: "yuv420p",
		BitDepth: 8, BitRate: 3_000_000, KeyframeGap: 4, KeyframeSpacing: 2}
	c, err := BuildCommand("ffmpeg", "/in.mp4", "/out", PlanFor(probe, store.DefaultSettings()))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(c.Args, " ")
	for _, want := range []string{"-c:v:0 copy", "-force_key_frames:v:1 source", "-force_key_frames:v:2 source",
		"-g:v:1 65535", "-sc_threshold:v:2 0", "-hls_time 6"} {
		if !strings.Contains(line, want) {
			t.Errorf("command lacks %q:\n%s", want, line)
		}
	}
	for _, unwanted := range []string{"keyint_min", "expr:", "-force_key_frames:v:0", "-g:v:0", "hls_init_time"} {
		if strings.Contains(line, unwanted) {
			t.Errorf("command has %q:\n%s", unwanted, line)
		}
	}
}

func TestEncoderForcesIDRFrames(t *testing.T) {
	for _, tt := range []struct{ hw, opt string }{{"nvenc", "forced-idr:v:1"}, {"qsv", "forced_idr:v:1"}} {
		if got := encoderFor(tt.hw).rateArgs("1", "veryfast", 1000)[tt.opt]; got != "1" {
			t.Errorf("%s: %s = %q, want 1", tt.hw, tt.opt, got)
		}
	}
}

func TestKeyframeGaps(t *testing.T) {
	tests := []struct {
		name          string
		out           string
		duration      float64
		longest, mean float64
	}{
		{"nothing read", "", 10, 0, 0},
		{"no keyframe", "0.000000,__\n0.040000,__\n", 10, 0, 0},
		{"one keyframe, short clip: to its end", "0.000000,K_\n0.040000,__\n3.960000,__\n", 4, 4, 4},
		{"regular", "0.000000,K_\n1.000000,K_\n1.500000,__\n2.000000,K_\n2.960000,__\n", 3, 1, 1},
		{"irregular, out of order, N/A skipped", "0.000000,K_\nN/A,__\n3.500000,K_\n0.500000,K_\n4.000000,__\n", 4.04, 3, 4.04 / 3},
		{"long clip: the window's last packet ends it", "0.000000,K_\n10.000000,K_\n59.960000,__\n", 7200, 49.96, 59.96 / 2},
		{"late start", "1.400000,K_\n1.440000,__\n", 2, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			longest, mean := keyframeGaps([]byte(tt.out), tt.duration)
			if math.Abs(longest-tt.longest) > 1e-9 || math.Abs(mean-tt.mean) > 1e-9 {
				t.Errorf("gaps %v %v, want %v %v", longest, mean, tt.longest, tt.mean)
			}
		})
	}
}

// TestCopiedRungAligned runs the real ffmpeg on an H.264 source with
// irregular keyframes: the copied rung and the encoded ones are cut at the
// same frames.
func TestCopiedRungAligned(t *testing.T) {
	dir := t.TempDir()
	src := makeClip(t, dir, clip{size: "320x180", seconds: "12", audio: true,
		extraOut: []string{"-force_key_frames", "0,1.32,2.88,3.52,5.0,7.2,9.1,11.5", "-sc_threshold", "0", "-g", "1000"}})
	p, err := Probe(context.Background(), "ffprobe", src)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.KeyframeGap-2.4) > 0.05 {
		t.Errorf("keyframe gap %v, want 2.4", p.KeyframeGap)
	}
	s := store.DefaultSettings()
	s.VideoPreset, s.Ladder, s.HLSSegmentSeconds = "ultrafast", []int{180, 144, 120}, 4
	plan := PlanFor(p, s)
	if len(plan.Rungs) != 3 || !plan.Rungs[0].Copy || !plan.KeyframesFromSource {
		t.Fatalf("plan %+v: want the 180p rung copied and two encoded", plan)
	}
	out := runPlan(t, src, filepath.Join(dir, "hls"), plan)
	// Where each rung's segments start: the first video packet's time.
	starts := func(rung string) []string {
		var got []string
		segs, _ := filepath.Glob(filepath.Join(out, rung, "seg_*.ts"))
		for _, seg := range segs {
			b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
				"-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", seg).Output()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, strings.TrimSpace(string(b)))
		}
		return got
	}
	want := starts(plan.Rungs[0].Name)
	// Cut at the source's first keyframes after 4 and 8 s (the segment
	// length), 5.0 and 9.1: not every 2 s, as with shorter first pieces.
	if len(want) != 3 {
		t.Fatalf("copied rung segments start at %v, want 3 segments", want)
	}
	for _, r := range plan.Rungs[1:] {
		if got := starts(r.Name); !slices.Equal(got, want) {
			t.Errorf("%s segments start at %v, want %v as the copied rung", r.Name, got, want)
		}
	}
}

// runPlan runs the real ffmpeg with the plan's command, writing into out,
// and returns out.
func runPlan(t *testing.T, src, out string, plan Plan) string {
	t.Helper()
	for _, r := range plan.Rungs {
		os.MkdirAll(filepath.Join(out, r.Name), 0o755)
	}
	c, err := BuildCommand("ffmpeg", src, out, plan)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(c.Path, c.Args...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, lastErrorLine(string(b)))
	}
	return out
}

func TestInitSegments(t *testing.T) {
	tests := []struct {
		seg  int
		init float64
	}{{2, 0}, {3, 1.5}, {4, 2}, {5, 5.0 / 3}, {6, 2}, {10, 2}}
	for _, tt := range tests {
		s := store.DefaultSettings()
		s.HLSSegmentSeconds = tt.seg
		p := PlanFor(&ProbeResult{Width: 640, Height: 360, FPS: 25, VideoCodec: "vp9"}, s)
		if p.InitSegmentSeconds != tt.init {
			t.Errorf("seg %d: init %v, want %v", tt.seg, p.InitSegmentSeconds, tt.init)
		}
	}
}

// TestShortFirstSegments runs the real ffmpeg: with 4 s segments the first
// full segment is cut in two, and every rung is cut at the same times.
func TestShortFirstSegments(t *testing.T) {
	dir := t.TempDir()
	src := makeClip(t, dir, clip{size: "320x180", seconds: "9", codec: "mpeg4"})
	s := store.DefaultSettings()
	s.HLSSegmentSeconds, s.VideoPreset, s.Ladder = 4, "ultrafast", []int{180, 144}
	p, err := Probe(context.Background(), "ffprobe", src)
	if err != nil {
		t.Fatal(err)
	}
	plan := PlanFor(p, s)
	out := runPlan(t, src, filepath.Join(dir, "hls"), plan)
	want := []string{"2.000000,", "2.000000,", "4.000000,", "1.000000,"}
	for _, r := range plan.Rungs {
		if got := extinfs(t, filepath.Join(out, r.Name, "index.m3u8")); !slices.Equal(got, want) {
			t.Errorf("%s segments %v, want %v", r.Name, got, want)
		}
	}
}

func TestPlayableWith(t *testing.T) {
	copyRung := Rung{Name: "1080p", Copy: true}
	a, b := Rung{Name: "720p"}, Rung{Name: "480p"}
	withCopy := Plan{Rungs: []Rung{copyRung, a, b}}
	onlyCopy := Plan{Rungs: []Rung{copyRung}}
	tests := []struct {
		plan  Plan
		ready []Rung
		want  bool
	}{
		{withCopy, nil, false},
		{withCopy, []Rung{a}, false},
		{withCopy, []Rung{a, b}, true}, // the copied rung may join later
		{withCopy, []Rung{copyRung, a, b}, true},
		{withCopy, []Rung{copyRung, b}, false},
		{onlyCopy, nil, false},
		{onlyCopy, []Rung{copyRung}, true},
	}
	for i, tt := range tests {
		if got := playableWith(tt.plan, tt.ready); got != tt.want {
			t.Errorf("%d: playableWith = %v, want %v", i, got, tt.want)
		}
	}
}

// scaleInputs reads a command's filter graph and tells, for each scale
// filter's size, what it scales: "source" (the decoded picture, through
// split and fps only) or the size of the scale it reads from, with the
// scaler flags after a slash ("1280:720/lanczos").
func scaleInputs(t *testing.T, args []string) map[string]string {
	t.Helper()
	graph := ""
	for i, a := range args {
		if a == "-filter_complex" && i+1 < len(args) {
			graph = args[i+1]
		}
	}
	type node struct{ in, filter string }
	made := map[string]node{} // output label → the filter that writes it
	for _, stmt := range strings.Split(graph, ";") {
		in, rest, ok := strings.Cut(strings.TrimPrefix(stmt, "["), "]")
		if !ok {
			t.Fatalf("statement %q", stmt)
		}
		filter, outs, _ := strings.Cut(rest, "[")
		for _, o := range strings.Split(strings.TrimSuffix(outs, "]"), "][") {
			made[o] = node{in, filter}
		}
	}
	got := map[string]string{}
	for _, n := range made {
		size, isScale := strings.CutPrefix(n.filter, "scale=")
		if !isScale {
			continue
		}
		size, flags, _ := strings.Cut(size, ":flags=")
		from := "source"
		for l := n.in; ; {
			up, ok := made[l]
			if !ok {
				break // the input stream
			}
			if s, ok := strings.CutPrefix(up.filter, "scale="); ok {
				from, _, _ = strings.Cut(s, ":flags=")
				break
			}
			l = up.in
		}
		if flags != "" {
			from += "/" + flags
		}
		if _, dup := got[size]; dup {
			t.Errorf("two scales to %s", size)
		}
		got[size] = from
	}
	return got
}

// TestScaleCascade: the rungs well below the first downscaled rung (the
// hub) are scaled from its picture; rungs at the source's size, the hub and
// rungs close to it from the decoded picture.
func TestScaleCascade(t *testing.T) {
	src := func(codec string, w, h int) *ProbeResult {
		return &ProbeResult{Width: w, Height: h, FPS: 30, VideoCodec: codec, Profile: "High", PixFmt: "yuv420p", BitDepth: 8,
			KeyframeGap: 2, KeyframeSpacing: 2}
	}
	tests := []struct {
		name  string
		probe *ProbeResult
		want  map[string]string
	}{
		{"1080p h264: top copied, 480p and 360p from 720p", src("h264", 1920, 1080),
			map[string]string{"1280:720": "source", "854:480": "1280:720/lanczos", "640:360": "1280:720/lanczos"}},
		{"1080p hevc: the 1080p rung is not the hub", src("hevc", 1920, 1080),
			map[string]string{"1920:1080": "source", "1280:720": "source", "854:480": "1280:720/lanczos", "640:360": "1280:720/lanczos"}},
		{"4K: every rung below 1080p from it", src("hevc", 3840, 2160),
			map[string]string{"1920:1080": "source", "1280:720": "1920:1080/lanczos", "854:480": "1920:1080/lanczos", "640:360": "1920:1080/lanczos"}},
		{"portrait is measured on its short side", src("hevc", 1080, 1920),
			map[string]string{"1080:1920": "source", "720:1280": "source", "480:854": "720:1280/lanczos", "360:640": "720:1280/lanczos"}},
		{"720p: 360p is too close to the 480p hub", src("vp9", 1280, 720),
			map[string]string{"1280:720": "source", "854:480": "source", "640:360": "source"}},
		{"odd size: 720p hub, the rest from it", src("hevc", 1918, 1078),
			map[string]string{"1282:720": "source", "854:480": "1282:720/lanczos", "640:360": "1282:720/lanczos"}},
		{"one rung: no split", src("hevc", 640, 360), map[string]string{"640:360": "source"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanFor(tt.probe, store.DefaultSettings())
			c, err := BuildCommand("ffmpeg", "/in.mp4", "/out", p)
			if err != nil {
				t.Fatal(err)
			}
			if got := scaleInputs(t, c.Args); !maps.Equal(got, tt.want) {
				t.Errorf("scaled from %v\n          want %v", got, tt.want)
			}
			graph := strings.Join(c.Args, " ")
			if n := strings.Count(graph, "setsar=1"); n != len(tt.want) {
				t.Errorf("%d setsar=1 for %d scaled rungs", n, len(tt.want))
			}
			if n := strings.Count(graph, "format=yuv420p"); n != len(tt.want) {
				t.Errorf("%d format=yuv420p for %d scaled rungs", n, len(tt.want))
			}
		})
	}
}

// TestMeasureRungAverageNotAbovePeak: a clip shorter than a second is
// judged at 1 s for its peak; its average must not exceed that peak.
func TestMeasureRungAverageNotAbovePeak(t *testing.T) {
	dir := t.TempDir()
	r := Rung{Name: "180p"}
	os.MkdirAll(filepath.Join(dir, r.Name), 0o755)
	os.WriteFile(filepath.Join(dir, r.Name, "index.m3u8"),
		[]byte("#EXTM3U\n#EXTINF:0.300000,\nseg_00000.ts\n#EXT-X-ENDLIST\n"), 0o644)
	os.WriteFile(filepath.Join(dir, r.Name, "seg_00000.ts"), make([]byte, 117876), 0o644)
	peak, avg, err := measureRung(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if peak != 117876*8 || avg != peak {
		t.Errorf("peak %d avg %d, want %d for both", peak, avg, 117876*8)
	}
}
