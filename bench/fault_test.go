package bench

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// openUpload is a chunked upload in progress and the chunks the server
// acknowledged.
type openUpload struct {
	u     *Upload
	body  []byte
	mu    sync.Mutex
	acked map[int]bool
}

func (o *openUpload) ackedList() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []int
	for i := range o.acked {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

func (o *openUpload) chunk(i int) []byte {
	end := min(int64(len(o.body)), int64(i+1)*o.u.ChunkSize)
	return o.body[int64(i)*o.u.ChunkSize : end]
}

// TestFaults kills the server with SIGKILL at random moments while chunks
// are being written, a transcode runs and settings are being saved, then
// restarts it on the same data folder, MIKA_FAULT_ROUNDS times (default 10):
// every acknowledged chunk must still be listed, every finished upload must
// be byte-identical, every committed row must still be there, every task
// must end completed, no ffmpeg may outlive the server, and the database
// must pass PRAGMA integrity_check.
func TestFaults(t *testing.T) {
	needFFmpeg(t)
	rounds := 10
	if n, err := strconv.Atoi(os.Getenv("MIKA_FAULT_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	e := newEnv(t)
	src := t.TempDir()
	// A clip whose transcode takes a few seconds, and a small-picture clip
	// at a high constant bitrate that spans three chunks.
	transcodeClip := clip(t, src, "transcode.mp4", Clip{Width: 640, Height: 360, Seconds: 5, Audio: true})
	chunkedPath := clip(t, src, "chunked.mp4", Clip{Width: 320, Height: 180, Seconds: 4, Audio: true, Bitrate: "30M"})
	transcodeBody, err := os.ReadFile(transcodeClip)
	if err != nil {
		t.Fatal(err)
	}
	chunkedBody, err := os.ReadFile(chunkedPath)
	if err != nil {
		t.Fatal(err)
	}
	chunkedSum := SHA256(chunkedBody)

	committed := map[int64]string{} // video id -> sha256 of what was sent
	var deleted []int64             // videos deleted during a round
	settingsAcked := "Mika"         // site_name last answered 200
	// The moments of the kills are random; MIKA_FAULT_SEED replays a run's.
	seed := uint64(time.Now().UnixNano())
	if n, err := strconv.ParseUint(os.Getenv("MIKA_FAULT_SEED"), 10, 64); err == nil {
		seed = n
	}
	t.Logf("MIKA_FAULT_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var orphans []string

	for round := 0; round < rounds; round++ {
		// One upload queues a transcode; it is committed once answered.
		id, r, err := e.admin.UploadFile(fmt.Sprintf("fault round %d", round), "transcode.mp4", strings.NewReader(string(transcodeBody)))
		notLanded(t, r, "POST /api/videos/upload")
		if err != nil {
			t.Fatalf("round %d: upload: %v", round, err)
		}
		committed[id] = SHA256(transcodeBody)

		up, err := e.admin.InitUpload(fmt.Sprintf("fault chunked %d", round), "chunked.mp4", int64(len(chunkedBody)), chunkedSum)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if up.TotalChunks < 3 {
			t.Fatalf("chunked clip of %d bytes is only %d chunks", len(chunkedBody), up.TotalChunks)
		}
		open := &openUpload{u: up, body: chunkedBody, acked: map[int]bool{}}

		stop := make(chan struct{})
		var wg sync.WaitGroup
		// Deleter: from the second round on, one committed video (often the
		// one transcoding) is deleted at a random moment.
		var doomed int64
		var deleteStatus atomic.Int64
		if round > 0 {
			// Never the newest video: SQLite would give its id to the next one
			// (TestDeletedIDNotReused), and its files would no longer tell
			// anything. Often the one transcoding right now.
			var older []int64
			for vid := range committed {
				if vid != id {
					older = append(older, vid)
				}
			}
			slices.Sort(older)
			doomed = older[rng.IntN(len(older))]
			if tk, err := e.admin.Do(http.MethodGet, "/api/admin/transcode/tasks?status=processing", nil, ""); err == nil && tk.OK() == nil && rng.IntN(2) == 0 {
				var d struct {
					List []Task `json:"list"`
				}
				if tk.Into(&d) == nil && len(d.List) > 0 && slices.Contains(older, d.List[0].VideoID) {
					doomed = d.List[0].VideoID
				}
			}
			delete(committed, doomed)
			deleted = append(deleted, doomed)
			delay := time.Duration(rng.IntN(1500)) * time.Millisecond
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-stop:
					return
				case <-time.After(delay):
				}
				if r, err := e.admin.Do(http.MethodDelete, fmt.Sprintf("/api/videos/%d", doomed), nil, ""); err == nil {
					deleteStatus.Store(int64(r.Status))
				}
			}()
		}
		// Chunk writer: the chunks in random order, two at a time, over and
		// over (a chunk sent again is idempotent) so that a write is in
		// flight whenever the kill comes.
		order := rng.Perm(up.TotalChunks)
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := w; k < 200*len(order); k += 2 {
					select {
					case <-stop:
						return
					default:
					}
					i := order[k%len(order)]
					r, err := e.admin.Chunk(up.ID, i, open.chunk(i))
					if err == nil && r.Status == http.StatusOK {
						open.mu.Lock()
						open.acked[i] = true
						open.mu.Unlock()
					}
					if err != nil {
						return
					}
				}
			}()
		}
		// Settings writer: a new site name each time; remember the last
		// acknowledged and the one in flight when the server died.
		var setMu sync.Mutex
		inflight := ""
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 10000; k++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("fault-%d-%d", round, k)
				setMu.Lock()
				inflight = name
				setMu.Unlock()
				r, err := e.admin.JSON(http.MethodPut, "/api/admin/settings", map[string]any{"site_name": name})
				if err != nil {
					return
				}
				setMu.Lock()
				if r.Status == http.StatusOK {
					settingsAcked = name
				} else {
					t.Errorf("settings write answered %s", r)
				}
				inflight = ""
				setMu.Unlock()
			}
		}()

		// Kill at a random moment: some rounds as soon as the transcode is
		// seen running, others after a random delay.
		if round%2 == 0 {
			waitProcessing(e, 4*time.Second)
		}
		time.Sleep(time.Duration(50+rng.IntN(1500)) * time.Millisecond)
		pid := e.srv.PID()
		running := len(FFmpegProcs(e.data))
		e.srv.Kill()
		close(stop)
		wg.Wait()

		// No ffmpeg survives its server. (SIGKILL is at once; the bound is
		// for a loaded machine, and returns as soon as they are gone.)
		if left := waitNoFFmpeg(e.data, 10*time.Second); len(left) > 0 {
			for _, p := range left {
				orphans = append(orphans, fmt.Sprintf("round %d (server pid %d): pid %d: %s", round, pid, p.PID, tail(p.Cmdline, 300)))
				// Ours (our server started it): end it so rounds stay independent.
				syscall.Kill(p.PID, syscall.SIGKILL)
			}
			waitNoFFmpeg(e.data, 10*time.Second)
		}

		if err := e.srv.Start(); err != nil {
			t.Fatalf("round %d: restart: %v", round, err)
		}
		e.rebase()

		// Every acknowledged chunk is still listed.
		st, r, err := e.admin.UploadStatus(up.ID)
		if err != nil {
			t.Fatalf("round %d: upload status after restart: %v %v", round, r, err)
		}
		acked := open.ackedList()
		for _, i := range acked {
			if !slices.Contains(st.Uploaded, i) {
				t.Errorf("round %d: chunk %d was acknowledged before the kill but is not listed after restart (listed %v)", round, i, st.Uploaded)
			}
		}
		// A deleted video is gone or, if the delete did not finish, the
		// client deletes it again.
		if doomed != 0 {
			r, err := e.admin.Do(http.MethodGet, fmt.Sprintf("/api/videos/%d", doomed), nil, "")
			if err == nil {
				t.Logf("round %d: video %d deleted during the round (answer %d before the kill); after restart its detail answers %d",
					round, doomed, deleteStatus.Load(), r.Status)
			}
			switch {
			case err != nil:
				t.Fatal(err)
			case r.Status == http.StatusOK:
				if deleteStatus.Load() == http.StatusOK {
					t.Errorf("round %d: video %d was deleted (answered 200) but is back after restart", round, doomed)
				}
				if r, err := e.admin.Do(http.MethodDelete, fmt.Sprintf("/api/videos/%d", doomed), nil, ""); err != nil || r.OK() != nil {
					t.Errorf("round %d: deleting video %d again: %v %v", round, doomed, r, err)
				}
			case r.Status != http.StatusNotFound:
				t.Errorf("round %d: deleted video %d answers %s", round, doomed, r)
			}
		}
		// Every committed video is still there.
		for vid := range committed {
			if _, r, err := e.admin.Video(vid); err != nil {
				t.Errorf("round %d: video %d (committed) after restart: %v %v", round, vid, r, err)
			}
		}
		// The settings write that was answered 200 (or the one in flight) stuck.
		r, err = e.admin.Do(http.MethodGet, "/api/admin/settings", nil, "")
		if err != nil || r.OK() != nil {
			t.Fatalf("round %d: settings after restart: %v %v", round, r, err)
		}
		var set struct {
			SiteName string `json:"site_name"`
		}
		r.Into(&set)
		if set.SiteName != settingsAcked && (inflight == "" || set.SiteName != inflight) {
			t.Errorf("round %d: site_name is %q after restart; last acknowledged %q, in flight %q", round, set.SiteName, settingsAcked, inflight)
		}

		// The client resumes: the missing chunks, then complete.
		for i := 0; i < up.TotalChunks; i++ {
			if slices.Contains(st.Uploaded, i) {
				continue
			}
			if r, err := e.admin.Chunk(up.ID, i, open.chunk(i)); err != nil || r.OK() != nil {
				t.Fatalf("round %d: resume chunk %d: %v %v", round, i, r, err)
			}
		}
		vid, r, err := e.admin.Complete(up.ID)
		if err != nil {
			t.Fatalf("round %d: complete after restart: %v %v", round, r, err)
		}
		committed[vid] = chunkedSum
		t.Logf("round %d: killed pid %d with %d ffmpeg running; %d of %d chunks acknowledged before the kill; site_name %q (last acknowledged %q)",
			round, pid, running, len(acked), up.TotalChunks, set.SiteName, settingsAcked)
	}

	if len(orphans) > 0 {
		t.Errorf("FINDING: %d ffmpeg/ffprobe processes outlived the killed server (the transcoder must tie them to the server's life, e.g. Pdeathsig):\n%s",
			len(orphans), strings.Join(orphans, "\n"))
	}

	// Every task ends completed (tasks that were running at a kill run again).
	deadline := time.Now().Add(6 * time.Minute)
	var tasks []Task
	for time.Now().Before(deadline) {
		tasks, err = e.admin.Tasks()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(tasks, func(x Task) bool { return x.Status == "pending" || x.Status == "processing" }) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(tasks) < len(committed) {
		t.Errorf("%d tasks for %d committed videos", len(tasks), len(committed))
	}
	for _, x := range tasks {
		if x.Status != "completed" && !slices.Contains(deleted, x.VideoID) {
			t.Errorf("task %d (video %d) ended %q: %s", x.ID, x.VideoID, x.Status, x.Error)
		}
	}
	// Every committed original is byte-identical.
	for vid, sum := range committed {
		p, err := OriginalPath(e.data, vid)
		if err != nil {
			t.Error(err)
			continue
		}
		if got, err := SHA256File(p); err != nil || got != sum {
			t.Errorf("video %d: original %s has sha256 %s, sent %s (%v)", vid, p, got, sum, err)
		}
	}

	if !e.srv.Stop(15 * time.Second) {
		t.Error("server did not stop within 15 s of SIGTERM")
	}
	if left := waitNoFFmpeg(e.data, 10*time.Second); len(left) > 0 {
		t.Errorf("ffmpeg still running after a clean stop: %v", left)
		for _, p := range left {
			syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	// A deleted video leaves no file behind, whenever the kill came. (An id
	// given again to a later video — see TestDeletedIDNotReused — now holds
	// that video's files.)
	for _, vid := range deleted {
		if _, reused := committed[vid]; reused {
			t.Logf("video id %d was deleted and then given to a new video", vid)
			continue
		}
		for _, p := range []string{filepath.Join(e.data, "media", "hls", strconv.FormatInt(vid, 10)),
			filepath.Join(e.data, "media", "covers", strconv.FormatInt(vid, 10)+".jpg")} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("deleted video %d left %s behind", vid, p)
			}
		}
		if p, err := OriginalPath(e.data, vid); err == nil {
			t.Errorf("deleted video %d left its original %s behind", vid, p)
		}
	}
	t.Logf("%d videos deleted during rounds; left in tmp/: %v; in media/uploads/: %v", len(deleted), dirNames(filepath.Join(e.data, "tmp")), dirNames(filepath.Join(e.data, "media", "uploads")))
	if v, err := IntegrityCheck(e.data + "/mika.db"); err != nil || v != "ok" {
		t.Errorf("PRAGMA integrity_check: %q %v", v, err)
	}
	if bad := serverLogProblems(e.srv.Log()); len(bad) > 0 {
		t.Errorf("server log has %d bad lines, e.g.:\n%s", len(bad), strings.Join(bad[:min(5, len(bad))], "\n"))
	}
}

// waitProcessing waits until some task is processing, or limit passes.
func waitProcessing(e *env, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		r, err := e.admin.Do(http.MethodGet, "/api/admin/transcode/tasks?status=processing", nil, "")
		if err == nil && r.OK() == nil {
			var d struct {
				Total int `json:"total"`
			}
			if r.Into(&d) == nil && d.Total > 0 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitNoFFmpeg waits until no ffmpeg mentions data, and answers the ones
// still there after limit.
func waitNoFFmpeg(data string, limit time.Duration) []Proc {
	deadline := time.Now().Add(limit)
	for {
		left := FFmpegProcs(data)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dirNames(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestDeletedIDNotReused: a deleted video's id must never name another
// video. Play tokens, cover URLs, bookmarks and webhooks carry the id; if it
// is given again, a play_url handed out for the deleted video plays the new
// one (whoever owns it, published or not) until the token expires.
func TestDeletedIDNotReused(t *testing.T) {
	e := newEnv(t)
	first, r, err := e.admin.UploadFile("first", "a.bin", strings.NewReader("not a video, first"))
	notLanded(t, r, "POST /api/videos/upload")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e.admin.Do(http.MethodDelete, fmt.Sprintf("/api/videos/%d", first), nil, ""); err != nil || r.OK() != nil {
		t.Fatalf("delete: %v %v", r, err)
	}
	second, _, err := e.admin.UploadFile("second", "b.bin", strings.NewReader("not a video, second"))
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Errorf("the video uploaded after deleting video %d got the same id %d: links and play tokens of the deleted video now reach the new one", first, second)
	}
}

// TestFFmpegProcs proves the orphan detector sees an ffmpeg working on a
// folder, so that finding none after a kill means something.
func TestFFmpegProcs(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5",
		"-t", "20", "-f", "null", filepath.Join(dir, "out"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if ps := FFmpegProcs(dir); len(ps) == 1 && ps[0].PID == cmd.Process.Pid {
			if others := FFmpegProcs(t.TempDir()); len(others) != 0 {
				t.Errorf("an unrelated folder matched %v", others)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("ffmpeg pid %d on %s not found: %v", cmd.Process.Pid, dir, FFmpegProcs(dir))
}
