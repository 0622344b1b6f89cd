// Package bench proves Mika under pressure. It starts the real binary on
// 127.0.0.1 over a temporary data folder and drives it over HTTP: the load,
// fault and bad-input tests live in its *_test.go files (part of `make
// test`), and cmd/mikabench measures the targets of `make bench`.
//
// This file is the harness both share: starting, killing and restarting the
// server, a small API client, clip generation and the checks that look at
// the data folder from outside (originals, orphan ffmpeg processes, SQLite
// integrity).
package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // integrity checks open the database directly
)

// Server is one running `mika serve` process.
type Server struct {
	Bin     string
	Data    string
	Addr    string // 127.0.0.1:port
	LogPath string // stderr of every run over this data folder, appended
	Dir     string // working directory ("" = the caller's)
	Extra   []string

	cmd    *exec.Cmd
	logf   *os.File
	exited chan struct{}
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StartServer launches `bin serve` over data on a free loopback port and
// waits until /healthz answers 200. 127.0.0.1 is a trusted proxy, so a
// client may stand for many addresses with X-Forwarded-For (the per-IP rate
// limits then behave as they would for many real clients).
func StartServer(bin, data, logPath string, extra ...string) (*Server, error) {
	s := &Server{Bin: bin, Data: data, LogPath: logPath, Extra: extra}
	return s, s.Start()
}

// Start (re)starts the server over the same data folder on a port of its
// own: it listens on port 0 and logs the address it got ("mika listening
// addr=…"), so no port picked beforehand can be taken by another process
// between the pick and the listen.
func (s *Server) Start() error {
	if s.cmd != nil {
		return errors.New("server already running")
	}
	f, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", s.Data, "--trusted-proxies", "127.0.0.1/32"}, s.Extra...)
	cmd := exec.Command(s.Bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "MIKA_ADDR=", "MIKA_DATA=")
	// The server dies with the test process, whatever happens to the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	s.cmd, s.logf, s.exited = cmd, f, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	addr, err := s.listenAddr(fi.Size(), startTimeout)
	if err == nil {
		s.Addr = addr
		_, err = WaitHealthy("http://"+addr, startTimeout, s.exited)
	}
	if err != nil {
		s.Kill()
		return fmt.Errorf("%w; log tail:\n%s", err, tail(s.Log(), 3000))
	}
	return nil
}

// startTimeout bounds a server's start: generous for a loaded machine, and
// never waited out by a server that starts.
const startTimeout = time.Minute

var listeningLine = regexp.MustCompile(`msg="mika listening" addr=(\S+)`)

// listenAddr waits for this run's "mika listening" line, in the log from
// offset from on, and answers its address.
func (s *Server) listenAddr(from int64, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(s.LogPath); err == nil && int64(len(b)) >= from {
			if m := listeningLine.FindSubmatch(b[from:]); m != nil {
				return string(m[1]), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no \"mika listening\" line within %s", timeout)
		}
		select {
		case <-s.exited:
			// One last look: the line may have come just before the exit.
			if b, err := os.ReadFile(s.LogPath); err == nil && int64(len(b)) >= from {
				if m := listeningLine.FindSubmatch(b[from:]); m != nil {
					return string(m[1]), nil
				}
			}
			return "", errors.New("server exited before it listened")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// WaitHealthy polls base/healthz until it answers 200, the process exits
// (exited closes) or timeout passes; it answers how long that took.
func WaitHealthy(base string, timeout time.Duration, exited <-chan struct{}) (time.Duration, error) {
	start := time.Now()
	hc := &http.Client{Timeout: time.Second}
	for time.Since(start) < timeout {
		res, err := hc.Get(base + "/healthz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		select {
		case <-exited:
			return 0, errors.New("server exited before it was healthy")
		case <-time.After(2 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("not healthy within %s", timeout)
}

// Base is the server's origin.
func (s *Server) Base() string { return "http://" + s.Addr }

// PID is the server's process id (0 when stopped).
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill sends SIGKILL and waits for the process to be gone.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.done("killed")
}

// Stop sends SIGTERM and waits up to limit for a clean exit (then SIGKILL).
// It reports whether the server exited by itself in time.
func (s *Server) Stop(limit time.Duration) bool {
	if s.cmd == nil {
		return true
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	clean := true
	select {
	case <-s.exited:
	case <-time.After(limit):
		clean = false
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	}
	s.done(fmt.Sprintf("stopped (clean=%v, exit %v)", clean, s.cmd.ProcessState))
	return clean
}

func (s *Server) done(how string) {
	fmt.Fprintf(s.logf, "=== %s %s\n", how, time.Now().Format(time.RFC3339Nano))
	s.logf.Close()
	s.cmd, s.logf = nil, nil
}

// Log is everything the server wrote to stderr so far, all runs.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// ProcStatus reads a field such as "VmRSS" or "VmHWM" from /proc/pid/status,
// in bytes.
func ProcStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// Resp is one HTTP answer, decoded as the API envelope when it is one.
type Resp struct {
	Status   int               `json:"-"`
	Header   http.Header       `json:"-"`
	Body     []byte            `json:"-"`
	Envelope bool              `json:"-"` // Body is a {"code","message",...} object
	Code     int               `json:"code"`
	Message  string            `json:"message"`
	Data     json.RawMessage   `json:"data"`
	Errors   map[string]string `json:"errors"`
}

// Into decodes the envelope's data into v.
func (r *Resp) Into(v any) error {
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("decode data of %d answer %.300s: %w", r.Status, r.Body, err)
	}
	return nil
}

// OK is nil for a success envelope and a descriptive error otherwise.
func (r *Resp) OK() error {
	if r.Status == http.StatusOK && r.Envelope && r.Code == 0 {
		return nil
	}
	return fmt.Errorf("HTTP %d: %.400s", r.Status, r.Body)
}

func (r *Resp) String() string { return fmt.Sprintf("HTTP %d %.300s", r.Status, r.Body) }

// Client talks to one server as one user from one address.
type Client struct {
	Base  string
	Token string
	IP    string // sent as X-Forwarded-For when set
	HTTP  *http.Client
}

// DefaultHTTP is shared by clients: enough idle connections for the load test.
var DefaultHTTP = &http.Client{
	Timeout: 120 * time.Second,
	Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// With returns a copy of c using token.
func (c *Client) With(token string) *Client {
	cp := *c
	cp.Token = token
	return &cp
}

// Do sends a request. hdr is name, value pairs.
func (c *Client) Do(method, path string, body io.Reader, contentType string, hdr ...string) (*Resp, error) {
	req, err := http.NewRequest(method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.IP != "" {
		req.Header.Set("X-Forwarded-For", c.IP)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hc := c.HTTP
	if hc == nil {
		hc = DefaultHTTP
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return decodeResp(res.StatusCode, res.Header, b), nil
}

func decodeResp(status int, h http.Header, b []byte) *Resp {
	r := &Resp{Status: status, Header: h, Body: b}
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) == nil {
		_, hasCode := probe["code"]
		_, hasMsg := probe["message"]
		if hasCode && hasMsg && json.Unmarshal(b, r) == nil {
			r.Envelope = true
		}
	}
	return r
}

// JSON sends in (nil for no body) as a JSON body.
func (c *Client) JSON(method, path string, in any) (*Resp, error) {
	if in == nil {
		return c.Do(method, path, nil, "")
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return c.Do(method, path, bytes.NewReader(b), "application/json")
}

// Multipart sends fields and one file part (skipped when fileField is "")
// streamed from content.
func (c *Client) Multipart(path string, fields [][2]string, fileField, fileName string, content io.Reader) (*Resp, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for _, f := range fields {
				if err := mw.WriteField(f[0], f[1]); err != nil {
					return err
				}
			}
			if fileField != "" {
				fw, err := mw.CreateFormFile(fileField, fileName)
				if err != nil {
					return err
				}
				if _, err := io.Copy(fw, content); err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	r, err := c.Do(http.MethodPost, path, pr, mw.FormDataContentType())
	pr.CloseWithError(io.ErrClosedPipe) // unblock the writer if the server answered early
	return r, err
}

// Login answers a token for username.
func (c *Client) Login(username, password string) (string, error) {
	r, err := c.JSON(http.MethodPost, "/api/auth/login", map[string]string{"username": username, "password": password})
	if err != nil {
		return "", err
	}
	if err := r.OK(); err != nil {
		return "", fmt.Errorf("login %s: %w", username, err)
	}
	var d struct {
		Token string `json:"token"`
	}
	if err := r.Into(&d); err != nil {
		return "", err
	}
	return d.Token, nil
}

// Setup creates the first admin through POST /api/setup and answers its token.
func (c *Client) Setup(username, password string) (string, error) {
	r, err := c.JSON(http.MethodPost, "/api/setup", map[string]string{"username": username, "password": password})
	if err != nil {
		return "", err
	}
	if err := r.OK(); err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	var d struct {
		Token string `json:"token"`
	}
	return d.Token, r.Into(&d)
}

// PutSettings changes settings; it fails unless the server answers 200.
func (c *Client) PutSettings(set map[string]any) error {
	r, err := c.JSON(http.MethodPut, "/api/admin/settings", set)
	if err != nil {
		return err
	}
	if err := r.OK(); err != nil {
		return fmt.Errorf("PUT /api/admin/settings %v: %w", set, err)
	}
	return nil
}

// Video is the part of a video's detail the harness reads.
type Video struct {
	ID              int64  `json:"id"`
	Title           string `json:"title"`
	PlayURL         string `json:"play_url"`
	Status          int    `json:"status"`
	TranscodeStatus string `json:"transcode_status"`
	// TranscodeProgress is the running task's percent (0–100).
	TranscodeProgress int   `json:"transcode_progress"`
	FileSize          int64 `json:"file_size"`
}

// Video reads GET /api/videos/{id}.
func (c *Client) Video(id int64) (*Video, *Resp, error) {
	r, err := c.Do(http.MethodGet, fmt.Sprintf("/api/videos/%d", id), nil, "")
	if err != nil {
		return nil, nil, err
	}
	if err := r.OK(); err != nil {
		return nil, r, err
	}
	var v Video
	return &v, r, r.Into(&v)
}

// UploadFile uploads content in one multipart request and answers the new
// video's id.
func (c *Client) UploadFile(title, fileName string, content io.Reader, extra ...[2]string) (int64, *Resp, error) {
	fields := append([][2]string{{"title", title}}, extra...)
	r, err := c.Multipart("/api/videos/upload", fields, "file", fileName, content)
	if err != nil {
		return 0, nil, err
	}
	if err := r.OK(); err != nil {
		return 0, r, err
	}
	var d struct {
		ID int64 `json:"id"`
	}
	if err := r.Into(&d); err != nil || d.ID <= 0 {
		return 0, r, fmt.Errorf("upload answered no id: %s", r.Body)
	}
	return d.ID, r, nil
}

// Upload is an initialised chunked upload.
type Upload struct {
	ID          string `json:"upload_id"`
	ChunkSize   int64  `json:"chunk_size"`
	TotalChunks int    `json:"total_chunks"`
	Uploaded    []int  `json:"uploaded"`
}

// InitUpload starts a chunked upload of a file of size bytes. sum (hex
// sha256) may be "".
func (c *Client) InitUpload(title, fileName string, size int64, sum string) (*Upload, error) {
	in := map[string]any{"filename": fileName, "filesize": size, "title": title}
	if sum != "" {
		in["sha256"] = sum
	}
	r, err := c.JSON(http.MethodPost, "/api/videos/upload/init", in)
	if err != nil {
		return nil, err
	}
	if err := r.OK(); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	var u Upload
	if err := r.Into(&u); err != nil {
		return nil, err
	}
	if u.ID == "" || u.ChunkSize <= 0 || u.TotalChunks <= 0 {
		return nil, fmt.Errorf("init answered %s", r.Body)
	}
	return &u, nil
}

// Chunk sends chunk index of an upload.
func (c *Client) Chunk(uploadID string, index int, data []byte) (*Resp, error) {
	return c.Multipart("/api/videos/upload/chunk",
		[][2]string{{"upload_id", uploadID}, {"chunk_index", strconv.Itoa(index)}},
		"chunk", "blob", bytes.NewReader(data))
}

// UploadStatus reads GET /api/videos/upload/{id}.
func (c *Client) UploadStatus(uploadID string) (*Upload, *Resp, error) {
	r, err := c.Do(http.MethodGet, "/api/videos/upload/"+url.PathEscape(uploadID), nil, "")
	if err != nil {
		return nil, nil, err
	}
	if err := r.OK(); err != nil {
		return nil, r, err
	}
	var u Upload
	return &u, r, r.Into(&u)
}

// Complete finishes an upload and answers the video id.
func (c *Client) Complete(uploadID string) (int64, *Resp, error) {
	r, err := c.JSON(http.MethodPost, "/api/videos/upload/complete", map[string]string{"upload_id": uploadID})
	if err != nil {
		return 0, nil, err
	}
	if err := r.OK(); err != nil {
		return 0, r, err
	}
	var d struct {
		ID int64 `json:"id"`
	}
	if err := r.Into(&d); err != nil || d.ID <= 0 {
		return 0, r, fmt.Errorf("complete answered no id: %s", r.Body)
	}
	return d.ID, r, nil
}

// UploadChunked uploads the file at path with inflight chunks in flight
// and answers the video id.
func (c *Client) UploadChunked(title, path string, inflight int) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	u, err := c.InitUpload(title, filepath.Base(path), fi.Size(), "")
	if err != nil {
		return 0, err
	}
	jobs := make(chan int)
	stop := make(chan struct{})
	var once sync.Once
	var firstErr error
	fail := func(err error) { once.Do(func() { firstErr = err; close(stop) }) }
	var wg sync.WaitGroup
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, u.ChunkSize)
			for i := range jobs {
				n, err := f.ReadAt(buf, int64(i)*u.ChunkSize)
				if err != nil && err != io.EOF {
					fail(err)
					return
				}
				r, err := c.Chunk(u.ID, i, buf[:n])
				if err == nil {
					err = r.OK()
				}
				if err != nil {
					fail(fmt.Errorf("chunk %d: %w", i, err))
					return
				}
			}
		}()
	}
feed:
	for i := 0; i < u.TotalChunks; i++ {
		select {
		case jobs <- i:
		case <-stop:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	id, _, err := c.Complete(u.ID)
	return id, err
}

// Task is a transcode task as the admin API shows it.
type Task struct {
	ID         int64  `json:"id"`
	VideoID    int64  `json:"video_id"`
	Status     string `json:"status"`
	Progress   int    `json:"progress"`
	Error      string `json:"error"`
	Log        string `json:"log"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
}

// Tasks lists every task (admin), newest pages included.
func (c *Client) Tasks() ([]Task, error) {
	var all []Task
	for page := 1; page <= 1000; page++ {
		r, err := c.Do(http.MethodGet, fmt.Sprintf("/api/admin/transcode/tasks?page=%d&size=100", page), nil, "")
		if err != nil {
			return nil, err
		}
		if err := r.OK(); err != nil {
			return nil, err
		}
		var d struct {
			List  []Task `json:"list"`
			Total int    `json:"total"`
		}
		if err := r.Into(&d); err != nil {
			return nil, err
		}
		all = append(all, d.List...)
		if len(d.List) == 0 || len(all) >= d.Total {
			break
		}
	}
	return all, nil
}

// TaskOf answers the latest task of a video.
func (c *Client) TaskOf(videoID int64) (*Task, error) {
	tasks, err := c.Tasks()
	if err != nil {
		return nil, err
	}
	var best *Task
	for i := range tasks {
		if tasks[i].VideoID == videoID && (best == nil || tasks[i].ID > best.ID) {
			best = &tasks[i]
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no task for video %d", videoID)
	}
	return best, nil
}

// Task reads one task with its log.
func (c *Client) Task(id int64) (*Task, error) {
	r, err := c.Do(http.MethodGet, fmt.Sprintf("/api/admin/transcode/tasks/%d", id), nil, "")
	if err != nil {
		return nil, err
	}
	if err := r.OK(); err != nil {
		return nil, err
	}
	var t Task
	return &t, r.Into(&t)
}

// WaitTranscoded polls a video until its transcode_status is final or
// timeout passes, and answers the last detail.
func (c *Client) WaitTranscoded(id int64, timeout time.Duration) (*Video, error) {
	deadline := time.Now().Add(timeout)
	var last *Video
	for time.Now().Before(deadline) {
		v, _, err := c.Video(id)
		if err == nil {
			last = v
			switch v.TranscodeStatus {
			case "completed", "failed", "canceled":
				return v, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if last == nil {
		return nil, fmt.Errorf("video %d: no detail within %s", id, timeout)
	}
	return last, fmt.Errorf("video %d still %q after %s", id, last.TranscodeStatus, timeout)
}

// Get fetches a path (such as a play_url) with no envelope expected.
func (c *Client) Get(path string) (int, []byte, error) {
	r, err := c.Do(http.MethodGet, path, nil, "")
	if err != nil {
		return 0, nil, err
	}
	return r.Status, r.Body, nil
}

// PlaylistURIs answers the URIs of a playlist, resolved against its own URL
// path (query strings kept as written).
func PlaylistURIs(playlistPath string, body []byte) []string {
	base := playlistPath
	if i := strings.IndexByte(base, '?'); i >= 0 {
		base = base[:i]
	}
	dir := base[:strings.LastIndexByte(base, '/')+1]
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "/") {
			out = append(out, line)
		} else if u, err := url.Parse(line); err == nil && u.IsAbs() {
			out = append(out, u.RequestURI())
		} else {
			out = append(out, dir+line)
		}
	}
	return out
}

// HLSFiles fetches a master playlist and answers every variant playlist and
// segment path under it.
func (c *Client) HLSFiles(playURL string) (playlists, segments []string, err error) {
	st, body, err := c.Get(playURL)
	if err != nil {
		return nil, nil, err
	}
	if st != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %d %.200s", playURL, st, body)
	}
	for _, v := range PlaylistURIs(playURL, body) {
		st, vb, err := c.Get(v)
		if err != nil {
			return nil, nil, err
		}
		if st != http.StatusOK {
			return nil, nil, fmt.Errorf("GET %s: %d %.200s", v, st, vb)
		}
		playlists = append(playlists, v)
		segments = append(segments, PlaylistURIs(v, vb)...)
	}
	if len(segments) == 0 {
		return nil, nil, fmt.Errorf("%s lists no segments", playURL)
	}
	return playlists, segments, nil
}

// OriginalPath finds the stored original of video id under the data folder.
func OriginalPath(data string, id int64) (string, error) {
	dir := filepath.Join(data, "media", "originals")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	want := strconv.FormatInt(id, 10)
	for _, e := range ents {
		n := e.Name()
		if n == want || strings.HasPrefix(n, want+".") {
			return filepath.Join(dir, n), nil
		}
	}
	return "", fmt.Errorf("no original for video %d in %s", id, dir)
}

// SHA256File answers the hex sha256 of a file.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SHA256 answers the hex sha256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Proc is a running process seen in /proc.
type Proc struct {
	PID     int
	Cmdline string
}

// FFmpegProcs lists ffmpeg and ffprobe processes whose command line
// mentions dir (our data folder), however they were started.
func FFmpegProcs(dir string) []Proc {
	ents, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		name := strings.TrimSpace(string(comm))
		base := filepath.Base(args[0])
		if name != "ffmpeg" && name != "ffprobe" && base != "ffmpeg" && base != "ffprobe" {
			continue
		}
		if !strings.Contains(string(raw), dir) {
			continue
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && isZombie(st) {
			continue
		}
		out = append(out, Proc{PID: pid, Cmdline: strings.Join(args, " ")})
	}
	return out
}

func isZombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// IntegrityCheck runs PRAGMA integrity_check on a database nobody writes to
// and answers its verdict ("ok" when healthy).
func IntegrityCheck(dbPath string) (string, error) {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return "", err
	}
	defer db.Close()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// Clip describes a test source generated with lavfi.
type Clip struct {
	Width, Height int
	Seconds       int
	Audio         bool
	Preset        string // x264 preset, default ultrafast
	CRF           int    // default 23
	Bitrate       string // constant bitrate with filler (e.g. "30M") instead of CRF: makes big files fast
}

// Args are ffmpeg's arguments to write the clip to out.
func (c Clip) Args(out string) []string {
	preset, crf := c.Preset, c.CRF
	if preset == "" {
		preset = "ultrafast"
	}
	if crf == 0 {
		crf = 23
	}
	args := []string{"-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
		fmt.Sprintf("testsrc2=size=%dx%d:rate=25:duration=%d", c.Width, c.Height, c.Seconds)}
	if c.Audio {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:duration=%d", c.Seconds))
	}
	args = append(args, "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p")
	if c.Bitrate != "" {
		b := c.Bitrate
		args = append(args, "-b:v", b, "-minrate", b, "-maxrate", b, "-bufsize", b, "-x264-params", "nal-hrd=cbr")
	} else {
		args = append(args, "-crf", strconv.Itoa(crf))
	}
	if c.Audio {
		args = append(args, "-c:a", "aac", "-b:a", "96k")
	}
	return append(args, "-movflags", "+faststart", out)
}

// MakeClip writes the clip to out with ffmpeg, unless out already exists
// (generated sources are cached). It writes to a temporary name first so an
// interrupted run leaves no half clip behind.
func MakeClip(ctx context.Context, ffmpeg, out string, c Clip) error {
	if fi, err := os.Stat(out); err == nil && fi.Size() > 0 {
		return nil
	}
	tmp := out + ".part" + filepath.Ext(out)
	cmd := exec.CommandContext(ctx, ffmpeg, c.Args(tmp)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ffmpeg %v: %w: %s", c, err, tail(stderr.String(), 2000))
	}
	return os.Rename(tmp, out)
}

// CreateUser runs `mika user create` against the data folder (works while
// the server runs).
func CreateUser(bin, data, username, password string, admin bool) error {
	args := []string{"user", "create", "--username", username, "--password", password, "--data", data}
	if admin {
		args = append(args, "--admin")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mika %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
