package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"mika/store"
	"mika/store/media"
)

// fakeTranscoder records what the server asks of the pool.
type fakeTranscoder struct {
	mu       sync.Mutex
	wakes    int
	canceled []int64
}

func (f *fakeTranscoder) Wake() { f.mu.Lock(); f.wakes++; f.mu.Unlock() }
func (f *fakeTranscoder) CancelTask(id int64) {
	f.mu.Lock()
	f.canceled = append(f.canceled, id)
	f.mu.Unlock()
}
func (f *fakeTranscoder) FFmpegVersion() string { return "test" }
func (f *fakeTranscoder) HWAccels() []string    { return []string{"none"} }

// testEnv is a server over a fresh data folder with the real migrations.
type testEnv struct {
	t     *testing.T
	srv   *Server
	store *store.Store
	data  media.Dir
	fake  *fakeTranscoder
}

// migrationsDir finds the repository's migrations folder.
func migrationsDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "migrations")
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	d, err := media.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Init(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), d.DB(), os.DirFS(migrationsDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Tests are not about rate limits unless they say so.
	set := st.Settings()
	set.RateLimitRPS, set.RateLimitBurst = 0, 0
	if err := st.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	fake := &fakeTranscoder{}
	srv, err := New(context.Background(), Config{Store: st, Data: d, Transcoder: fake})
	if err != nil {
		t.Fatal(err)
	}
	srv.authLimits = newRateLimiter(func() (float64, int) { return 0, 0 })
	return &testEnv{t: t, srv: srv, store: st, data: d, fake: fake}
}

// response is a decoded envelope.
type response struct {
	Status  int
	Header  http.Header
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Data    json.RawMessage   `json:"data"`
	Errors  map[string]string `json:"errors"`
}

// into decodes Data into v.
func (r *response) into(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// do sends a request; body may be nil, a string (sent raw), or a value sent
// as JSON. token, when not empty, is sent as a Bearer token.
func (e *testEnv) do(method, path string, body any, token string, hdr ...string) *response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "192.0.2.1:1234"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.serve(req)
}

// serve runs a prepared request through the server and decodes the envelope.
func (e *testEnv) serve(req *http.Request) *response {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	res := &response{Status: rec.Code, Header: rec.Header()}
	if err := json.Unmarshal(rec.Body.Bytes(), res); err != nil {
		e.t.Fatalf("%s %s: not an envelope (%d): %s", req.Method, req.URL, rec.Code, rec.Body.String())
	}
	return res
}

// mustOK fails the test unless res is a success.
func (e *testEnv) mustOK(res *response) *response {
	e.t.Helper()
	if res.Status != 200 || res.Code != 0 {
		e.t.Fatalf("want success, got %d %d %q %v", res.Status, res.Code, res.Message, res.Errors)
	}
	return res
}

// wantError fails the test unless res is an error with this code.
func (e *testEnv) wantError(res *response, code int) *response {
	e.t.Helper()
	if res.Status != code || res.Code != code {
		e.t.Fatalf("want error %d, got %d/%d %q %s", code, res.Status, res.Code, res.Message, res.Data)
	}
	if got := res.Header.Get("WWW-Authenticate"); code == 401 && !strings.HasPrefix(got, "Bearer ") {
		e.t.Fatalf("a 401 must name its scheme (RFC 9110 §15.5.2): WWW-Authenticate %q", got)
	}
	return res
}

// createUser makes a user directly in the store and returns a login token.
func (e *testEnv) createUser(name string, admin bool) (int64, string) {
	e.t.Helper()
	hash, err := hashPassword("password123")
	if err != nil {
		e.t.Fatal(err)
	}
	role := "user"
	if admin {
		role = "admin"
	}
	u, err := e.store.CreateUser(context.Background(), store.NewUser{Username: name, PasswordHash: hash, Role: role})
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.srv.issueToken(u)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID, tok
}

// awayFromMidnight returns once the local date will not change for at least
// margin, waiting for the new day when it is nearer: a test that counts
// "today" from several readings of the clock (the server's and its own)
// must not run across midnight.
func awayFromMidnight(t testing.TB, margin time.Duration) {
	t.Helper()
	for {
		now := time.Now()
		y, m, d := now.Date()
		left := time.Date(y, m, d+1, 0, 0, 0, 0, now.Location()).Sub(now)
		if left >= margin {
			return
		}
		t.Logf("waiting %v for the date to change", left)
		time.Sleep(left + time.Millisecond)
	}
}
