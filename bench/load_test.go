package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sentUpload is what a client uploaded and was told was stored.
type sentUpload struct {
	id     int64
	owner  *Client
	sha    string
	size   int64
	how    string // single or chunked
	source string
}

// loadStats counts answers per operation.
type loadStats struct {
	mu        sync.Mutex
	count     map[string]int
	statuses  map[string]map[int]int
	latencies map[string][]time.Duration
	failures  []string // first few unexpected answers
	nFailures int
	uploads   []sentUpload
}

func (s *loadStats) record(op string, status int, took time.Duration, body []byte, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count[op]++
	if s.statuses[op] == nil {
		s.statuses[op] = map[int]int{}
	}
	s.statuses[op][status]++
	s.latencies[op] = append(s.latencies[op], took)
	bad := err != nil || status != http.StatusOK ||
		bytes.Contains(bytes.ToLower(body), []byte("database is locked")) ||
		bytes.Contains(bytes.ToLower(body), []byte("sqlite_busy"))
	if bad {
		s.nFailures++
		if len(s.failures) < 20 {
			s.failures = append(s.failures, fmt.Sprintf("%s: status %d err %v body %.300s", op, status, err, body))
		}
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// TestLoad runs 100 concurrent clients for MIKA_LOAD_SECONDS (default 30)
// mixing logins, lists, searches (Chinese and English), details, playlist
// and segment fetches, single and chunked uploads, while a transcode runs.
// No answer may be a 5xx (or anything but 200), nothing may say "database
// is locked", every upload must be stored byte for byte, and the transcode
// that ran under load must complete.
func TestLoad(t *testing.T) {
	needFFmpeg(t)
	const clients = 100
	duration := envSeconds("MIKA_LOAD_SECONDS", 30)
	e := newEnv(t)
	// The general per-IP limit is off: this test measures whether the server
	// holds up under load, not whether it turns a load away.
	e.settings(map[string]any{"rate_limit_rps": 0, "rate_limit_burst": 0})
	src := t.TempDir()

	// Many real users arrive from many addresses: 127.0.0.1 is a trusted
	// proxy, so each client's X-Forwarded-For is its own address. The login
	// limit (10 a minute per address) stays on; each client logs in at most
	// five times.
	users := make([]*Client, 10)
	for i := range users {
		users[i] = e.user(fmt.Sprintf("load_user_%d", i), fmt.Sprintf("10.1.0.%d", i+1))
	}

	// A published video to play: a tiny clip, transcoded before the load.
	tiny := clip(t, src, "tiny.mp4", Clip{Width: 320, Height: 180, Seconds: 2, Audio: true})
	f, err := os.Open(tiny)
	if err != nil {
		t.Fatal(err)
	}
	tinyID, r, err := e.admin.UploadFile("示例视频 load tiny clip", "tiny.mp4", f)
	f.Close()
	notLanded(t, r, "POST /api/videos/upload")
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.admin.WaitTranscoded(tinyID, 3*time.Minute)
	if err != nil || v.TranscodeStatus != "completed" || v.PlayURL == "" {
		t.Fatalf("tiny clip: %+v %v", v, err)
	}
	playlists, segments, err := e.admin.HLSFiles(v.PlayURL)
	if err != nil {
		t.Fatal(err)
	}
	hlsPaths := append(append([]string{v.PlayURL}, playlists...), segments...)

	// The transcode that runs under load, queued right at the start.
	busy := clip(t, src, "busy.mp4", Clip{Width: 1280, Height: 720, Seconds: 6, Audio: true})
	bf, err := os.Open(busy)
	if err != nil {
		t.Fatal(err)
	}
	busyID, _, err := e.admin.UploadFile("load busy transcode", "busy.mp4", bf)
	bf.Close()
	if err != nil {
		t.Fatal(err)
	}

	keywords := []string{"示例", "示例视", "视频", "load", "tiny", "clip", "不存在的词", "zzzz", "a", "transcode"}
	st := &loadStats{count: map[string]int{}, statuses: map[string]map[int]int{}, latencies: map[string][]time.Duration{}}
	var singles, chunked atomic.Int64
	const maxSingles, maxChunked = 300, 30

	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			uname := fmt.Sprintf("load_user_%d", i%len(users))
			c := &Client{Base: e.srv.Base(), Token: users[i%len(users)].Token, IP: fmt.Sprintf("10.2.%d.%d", i/200, i%200+1)}
			if i%10 == 0 {
				c.Token = e.admin.Token // a few admins among the crowd
			}
			var mine []int64
			logins := 0
			for n := 0; time.Now().Before(deadline) && n < 100000; n++ {
				op := rng.IntN(100)
				start := time.Now()
				var res *Resp
				var err error
				name := ""
				switch {
				case op < 3 && logins < 5 && c.Token != e.admin.Token:
					name, logins = "login", logins+1
					res, err = c.JSON(http.MethodPost, "/api/auth/login", map[string]string{"username": uname, "password": userPass})
				case op < 20:
					name = "list"
					q := []string{"/api/videos", "/api/videos?page=2&size=10", "/api/videos?order=views", "/api/videos?mine=1"}[rng.IntN(4)]
					res, err = c.Do(http.MethodGet, q, nil, "")
				case op < 38:
					name = "search"
					kw := keywords[rng.IntN(len(keywords))]
					res, err = c.Do(http.MethodGet, "/api/videos?keyword="+url.QueryEscape(kw), nil, "")
				case op < 52:
					name = "detail"
					id := tinyID
					if len(mine) > 0 && rng.IntN(2) == 0 {
						id = mine[rng.IntN(len(mine))]
					}
					res, err = c.Do(http.MethodGet, fmt.Sprintf("/api/videos/%d", id), nil, "")
				case op < 62:
					name = "playlist"
					res, err = c.Do(http.MethodGet, hlsPaths[rng.IntN(1+len(playlists))], nil, "")
				case op < 80:
					name = "segment"
					res, err = c.Do(http.MethodGet, segments[rng.IntN(len(segments))], nil, "")
				case op < 95 && singles.Add(1) <= maxSingles:
					name = "upload"
					body := make([]byte, 16<<10+rng.IntN(512<<10))
					fillRandom(rng, body)
					fname := fmt.Sprintf("load-%d-%d.mp4", i, n)
					var id int64
					id, res, err = c.UploadFile("load upload "+fname, fname, bytes.NewReader(body))
					if err == nil {
						mine = append(mine, id)
						st.mu.Lock()
						st.uploads = append(st.uploads, sentUpload{id: id, owner: c, sha: SHA256(body), size: int64(len(body)), how: "single", source: fname})
						st.mu.Unlock()
					}
				case chunked.Add(1) <= maxChunked:
					name = "chunked"
					var id int64
					id, res, err = chunkedUpload(c, rng, fmt.Sprintf("load-chunked-%d-%d.bin", i, n), st)
					if err == nil {
						mine = append(mine, id)
					}
				default:
					name = "list"
					res, err = c.Do(http.MethodGet, "/api/videos", nil, "")
				}
				status := 0
				var body []byte
				if res != nil {
					status, body = res.Status, res.Body
					if err != nil && status == http.StatusOK {
						err = nil // a decoding complaint of ours, already in res
					}
				}
				st.record(name, status, time.Since(start), body, err)
			}
		}()
	}
	wg.Wait()

	var ops []string
	for op := range st.count {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	total := 0
	for _, op := range ops {
		total += st.count[op]
		t.Logf("%-9s n=%5d p50=%-8s p99=%-8s statuses=%v", op, st.count[op],
			percentile(st.latencies[op], .5).Round(time.Millisecond), percentile(st.latencies[op], .99).Round(time.Millisecond), st.statuses[op])
	}
	t.Logf("%d requests in %s from %d clients (%.0f/s)", total, duration, clients, float64(total)/duration.Seconds())
	if st.nFailures > 0 {
		t.Errorf("%d answers were not 200 (or mentioned a locked database); first ones:\n%s", st.nFailures, strings.Join(st.failures, "\n"))
	}
	for _, op := range []string{"list", "search", "detail", "playlist", "segment", "upload", "chunked"} {
		if st.count[op] == 0 {
			t.Errorf("the mix never ran %s", op)
		}
	}

	// Every upload is there, byte for byte.
	for _, u := range st.uploads {
		if _, r, err := u.owner.Video(u.id); err != nil {
			t.Errorf("%s upload %s (video %d): detail for its owner: %v %v", u.how, u.source, u.id, r, err)
			continue
		}
		p, err := OriginalPath(e.data, u.id)
		if err != nil {
			t.Errorf("%s upload %s: %v", u.how, u.source, err)
			continue
		}
		if sum, err := SHA256File(p); err != nil || sum != u.sha {
			t.Errorf("%s upload %s (video %d): stored %s has sha256 %s, sent %s (%v)", u.how, u.source, u.id, p, sum, u.sha, err)
		}
	}
	t.Logf("%d uploads verified byte for byte", len(st.uploads))

	// The transcode that ran under load completes.
	bv, err := e.admin.WaitTranscoded(busyID, 5*time.Minute)
	if err != nil || bv.TranscodeStatus != "completed" {
		t.Errorf("the transcode under load: %+v %v", bv, err)
	}
	if bad := serverLogProblems(e.srv.Log()); len(bad) > 0 {
		t.Errorf("server log has %d bad lines, e.g.:\n%s", len(bad), strings.Join(bad[:min(5, len(bad))], "\n"))
	}
}

// chunkedUpload sends a file of two chunks (5 MiB + a bit) in shuffled
// order, one chunk twice, with the whole file's sha256 given at init, and
// records it.
func chunkedUpload(c *Client, rng *rand.Rand, name string, st *loadStats) (int64, *Resp, error) {
	const chunk = 5 << 20
	body := make([]byte, chunk+1+rng.IntN(256<<10))
	fillRandom(rng, body)
	sum := SHA256(body)
	u, err := c.InitUpload("load chunked "+name, name, int64(len(body)), sum)
	if err != nil {
		return 0, nil, err
	}
	if u.ChunkSize != chunk || u.TotalChunks != 2 {
		return 0, nil, fmt.Errorf("init answered chunk_size %d total_chunks %d for %d bytes", u.ChunkSize, u.TotalChunks, len(body))
	}
	for _, i := range []int{1, 0, 1} {
		end := min(int64(len(body)), int64(i+1)*u.ChunkSize)
		r, err := c.Chunk(u.ID, i, body[int64(i)*u.ChunkSize:end])
		if err != nil {
			return 0, r, err
		}
		if err := r.OK(); err != nil {
			return 0, r, fmt.Errorf("chunk %d: %w", i, err)
		}
	}
	id, r, err := c.Complete(u.ID)
	if err == nil {
		st.mu.Lock()
		st.uploads = append(st.uploads, sentUpload{id: id, owner: c, sha: sum, size: int64(len(body)), how: "chunked", source: name})
		st.mu.Unlock()
	}
	return id, r, err
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
}
