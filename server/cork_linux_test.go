//go:build linux

package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"mika/store"
)

func corkOf(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	v, serr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return v
}

// corkProbe sits under the server's own response writer wrappers and notes
// the connection's TCP_CORK when the body starts, and whether the body went
// through ReadFrom with a file (the path to sendfile).
type corkProbe struct {
	http.ResponseWriter
	t        *testing.T
	conn     *net.TCPConn
	cork     int // at the first body write; -1 when nothing was written
	sendfile bool
}

func (p *corkProbe) seen() {
	if p.cork < 0 {
		p.cork = corkOf(p.t, p.conn)
	}
}

func (p *corkProbe) Write(b []byte) (int, error) {
	p.seen()
	return p.ResponseWriter.Write(b)
}

func (p *corkProbe) ReadFrom(r io.Reader) (int64, error) {
	p.seen()
	src := r
	if lr, ok := r.(*io.LimitedReader); ok {
		src = lr.R
	}
	_, p.sendfile = src.(*os.File)
	return p.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
}

func (p *corkProbe) Flush() { p.ResponseWriter.(http.Flusher).Flush() }

func (p *corkProbe) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return p.ResponseWriter.(http.Hijacker).Hijack()
}

// Segments and covers leave corked over a real TCP connection, through the
// file path that sendfile takes, and the connection is uncorked after each
// response, so what follows on it is not held back.
func TestMediaGoesOutCorked(t *testing.T) {
	e := newTestEnv(t)
	ownerID, owner := e.createUser("owner", false)
	id := e.playableVideo(ownerID, owner, store.VideoPublished)
	seg := strings.Repeat("0123456789", 100)
	big := strings.Repeat("abcdefghijklmnopqrstuvwxyz", 40000) // 1 MB: more than one sendfile
	os.WriteFile(filepath.Join(e.data.HLS(id), "360p", "seg_00001.ts"), []byte(big), 0o644)
	tok := url.QueryEscape(e.srv.playToken(id, 0, time.Now()))

	type seen struct {
		cork, after int
		sendfile    bool
	}
	got := make(chan seen, 1)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(connKey{}).(*net.TCPConn)
		p := &corkProbe{ResponseWriter: w, t: t, conn: c, cork: -1}
		e.srv.ServeHTTP(p, r)
		got <- seen{p.cork, corkOf(t, c), p.sendfile}
	}))
	ts.Config.ConnContext = e.srv.HTTPServer("").ConnContext
	ts.Start()
	defer ts.Close()

	base := fmt.Sprintf("/videos/%d/", id)
	for _, c := range []struct {
		method, path, rng string
		status            int
		body              string
		corked, sendfile  bool
	}{
		{"GET", "360p/seg_00000.ts", "", 200, seg, true, true},
		{"GET", "360p/seg_00001.ts", "", 200, big, true, true},
		{"GET", "360p/seg_00001.ts", "bytes=100-199", 206, big[100:200], true, true},
		{"HEAD", "360p/seg_00001.ts", "", 200, "", false, false},
		{"GET", "360p/index.m3u8", "", 200, "", false, false},
		{"GET", "360p/seg_09999.ts", "", 404, "", false, false},
		{"GET", fmt.Sprintf("/covers/%d.jpg", id), "", 200, "\xff\xd8jpeg", true, true},
	} {
		p := base + c.path + "?token=" + tok
		if strings.HasPrefix(c.path, "/") {
			p = c.path
		}
		req, _ := http.NewRequest(c.method, ts.URL+p, nil)
		if c.rng != "" {
			req.Header.Set("Range", c.rng)
		}
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		what := c.method + " " + c.path + " " + c.rng
		if err != nil || res.StatusCode != c.status {
			t.Fatalf("%s: %d %v", what, res.StatusCode, err)
		}
		if c.status < 300 && c.method == "GET" && c.body != "" && string(b) != c.body {
			t.Errorf("%s: %d bytes, not the file's", what, len(b))
		}
		var s seen
		select {
		case s = <-got: // the handler has returned
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the handler did not return", what)
		}
		if (s.cork == 1) != c.corked {
			t.Errorf("%s: TCP_CORK %d while writing the body, want corked %v", what, s.cork, c.corked)
		}
		if s.after != 0 {
			t.Errorf("%s: connection still corked (%d) after the response", what, s.after)
		}
		if s.sendfile != c.sendfile {
			t.Errorf("%s: body from a file through ReadFrom %v, want %v", what, s.sendfile, c.sendfile)
		}
	}
}
