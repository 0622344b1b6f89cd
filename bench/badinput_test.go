package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// route is one line of server/routes.go.
type route struct {
	Method, Pattern string
}

// readRoutes parses the route table in server/routes.go, following
// r.Route prefixes, so that a route added there is swept without anyone
// remembering to add it here.
func readRoutes(t *testing.T) []route {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "server", "routes.go"))
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`\br\.(Get|Post|Put|Delete|Patch|Route)\("([^"]*)"`)
	type frame struct {
		prefix string
		depth  int
	}
	var stack []frame
	depth := 0
	var out []route
	for _, line := range strings.Split(string(b), "\n") {
		prefix := ""
		for _, f := range stack {
			prefix += f.prefix
		}
		if m := call.FindStringSubmatch(line); m != nil {
			if m[1] == "Route" {
				stack = append(stack, frame{m[2], depth + 1})
			} else {
				out = append(out, route{strings.ToUpper(m[1]), prefix + m[2]})
			}
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		for len(stack) > 0 && depth < stack[len(stack)-1].depth {
			stack = stack[:len(stack)-1]
		}
	}
	if len(out) < 30 {
		t.Fatalf("read only %d routes from server/routes.go: %v", len(out), out)
	}
	return out
}

func TestReadRoutes(t *testing.T) {
	rs := readRoutes(t)
	for _, want := range []route{{"POST", "/api/auth/login"}, {"PUT", "/api/admin/settings"},
		{"GET", "/videos/{id}/*"}, {"GET", "/api/videos/upload/{upload_id}"}, {"GET", "/healthz"},
		{"POST", "/api/admin/libraries/{id}/scan"}} {
		if !slices.Contains(rs, want) {
			t.Errorf("route %v not read from routes.go (read %v)", want, rs)
		}
	}
}

// forbidden are fragments of internal text that must never reach a client.
var forbidden = []string{"sql", "sqlite", "runtime error", "goroutine", ".go:", "no such", "invalid character",
	"panic", "unexpected eof", "cannot unmarshal", "strconv.", "syntax error", "constraint", "nil pointer",
	"multipart:", "http: ", "mime:", "open /", "permission denied", "errno", "context canceled",
	"deadline exceeded", "unexpected end of json", "json: ", "fts5", "no rows", "database is", "interface {}",
	"ffmpeg version", "exit status", "[]interface", "%!"}

// leak names internal text in an answer's message or errors, or "".
func leak(r *Resp, dataDir string) string {
	texts := []string{r.Message}
	for k, v := range r.Errors {
		texts = append(texts, k, v)
	}
	for _, s := range texts {
		l := strings.ToLower(s)
		for _, f := range forbidden {
			if strings.Contains(l, f) {
				return fmt.Sprintf("%q contains %q", s, f)
			}
		}
		if strings.Contains(s, dataDir) {
			return fmt.Sprintf("%q shows the data folder", s)
		}
	}
	return ""
}

// sweepCase is one bad request.
type sweepCase struct {
	route  route
	method string
	target string
	hdr    [][2]string
	body   []byte
	what   string
}

// sweep holds what the bad-input test found.
type sweep struct {
	e       *env
	marker  string
	n       atomic.Int64
	pending atomic.Int64 // answers of placeholders (not landed yet)
	mu      sync.Mutex
	fails   []string
	nFails  int
	seen    map[route]int
	status  map[route]map[int]int
}

func (s *sweep) fail(c sweepCase, r *Resp, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nFails++
	if len(s.fails) < 60 {
		st := "no answer"
		if r != nil {
			st = fmt.Sprintf("%d %.240q", r.Status, r.Body)
		}
		s.fails = append(s.fails, fmt.Sprintf("%s %.160q [%s]: %s → %s", c.method, c.target, c.what, why, st))
	}
}

// check is what every answer must satisfy.
func (s *sweep) check(c sweepCase, r *Resp, err error) {
	s.n.Add(1)
	s.mu.Lock()
	s.seen[c.route]++
	if err == nil {
		if s.status[c.route] == nil {
			s.status[c.route] = map[int]int{}
		}
		s.status[c.route][r.Status]++
	}
	s.mu.Unlock()
	if err != nil {
		s.fail(c, nil, "transport error: "+err.Error())
		return
	}
	if r.Status == http.StatusNotImplemented && r.Message == "not available yet" {
		s.pending.Add(1)
		return
	}
	if r.Status >= 500 {
		s.fail(c, r, "server error")
		return
	}
	path := c.target
	api := strings.HasPrefix(path, "/api/")
	if api && !r.Envelope && !strings.HasPrefix(path, "/api/admin/backup") && !strings.HasPrefix(path, "/api/openapi.json") {
		s.fail(c, r, "not the envelope")
		return
	}
	if r.Envelope && r.Status >= 400 && r.Code != r.Status {
		s.fail(c, r, fmt.Sprintf("envelope code %d differs from HTTP %d", r.Code, r.Status))
	}
	if r.Envelope {
		if why := leak(r, s.e.data); why != "" {
			s.fail(c, r, "internal text: "+why)
		}
	}
	if !strings.HasPrefix(path, "/api/admin/backup") && bytes.Contains(r.Body, []byte("SQLite format 3")) {
		s.fail(c, r, "answered the database file")
	}
	if bytes.Contains(r.Body, []byte("root:x:0:0")) {
		s.fail(c, r, "answered /etc/passwd")
	}
}

var (
	badIDs = []string{"-1", "0", "9223372036854775808", "1e309", "abc", "%2e%2e%2f", "..%2f..%2fmika.db",
		"1.5", "0x10", "99999999999999999999999999", "%ff%fe", "%00", "1%20OR%201=1", "%EF%BC%91", "-9223372036854775809"}
	badUploadIDs = []string{"..%2f..%2fmika.db", "%2e%2e%2f%2e%2e%2f%2e%2e%2fmika.db", "abc", "-1", strings.Repeat("a", 3000),
		"%ff%fe", "%00", "..", "."}
	badQueryValues = []string{"-1", "0", "abc", "9223372036854775808", "1e309", "99999999999999999999", "%ff%fe", "%00",
		"%27%3B%20DROP%20TABLE%20videos%3B--", strings.Repeat("a", 10000), "2024-13-45", "..%2F..%2Fetc",
		"%22", "a%22b", "*", "NEAR(a%20b)", "title%3Aabc", "(", "%5Eabc", "a%20OR%20b", "-abc", "%25", "_", "%5C",
		"%E7%A4", "%E7%A4%BA%E4%BE%8B%E8%A7%86", "true", "1,2", "2024-01-01", "2000-01-01"}
	queryNames = []string{"page", "size", "category_id", "keyword", "status", "order", "mine", "start_date", "end_date", "user_id"}
	jsonFields = []string{"username", "password", "email", "nickname", "avatar", "invite_code", "old_password",
		"new_password", "name", "title", "description", "category_id", "tags", "status", "filename", "filesize",
		"sha256", "upload_id", "chunk_index", "chunk_md5", "parent_id", "sort", "role", "vip_level", "vip_expire",
		"points", "disabled", "site_name", "site_url", "register_mode", "auto_publish", "transcode_concurrency",
		"ladder", "hls_segment_seconds", "video_preset", "hwaccel", "max_upload_bytes", "rate_limit_rps",
		"rate_limit_burst", "webhook_url", "webhook_secret", "path", "scan_interval_minutes", "id", "page", "size"}
)

// jsonValues are wrong, huge or hostile values for any field. None of them
// is a valid value that would lock the sweep out (no "admin", no true, no 1).
func jsonValues(marker string) []string {
	return []string{`-1`, `0`, `9223372036854775807`, `9223372036854775808`, `1e309`, `1.5`, `"abc"`, `""`,
		`"` + strings.Repeat("a", 100000) + `"`, `[]`, `{}`, `null`, `"../../` + marker + `"`, `"\u0000"`,
		`"<script>alert(1)</script>"`, `[1e309]`, `["../../x", -1]`, `"\ud800"`, "\"\xff\xfe\"", `"2024-13-45 99:99:99"`}
}

// bodies are malformed or empty request bodies with the content types sent.
func bodies() []struct {
	what, ct string
	body     []byte
} {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	return []struct {
		what, ct string
		body     []byte
	}{
		{"no body", "", nil},
		{"empty JSON", "application/json", []byte{}},
		{"null", "application/json", []byte("null")},
		{"array", "application/json", []byte("[]")},
		{"string", "application/json", []byte(`"s"`)},
		{"number", "application/json", []byte("123")},
		{"truncated", "application/json", []byte(`{"title":`)},
		{"two objects", "application/json", []byte("{}{}")},
		{"empty object", "application/json", []byte("{}")},
		{"non-UTF-8", "application/json", []byte("\xff\xfe{\"title\":\"\xff\"}")},
		{"non-UTF-8 in string", "application/json", []byte("{\"title\":\"\xc3\x28\",\"name\":\"\xed\xa0\x80\"}")},
		{"2 MiB", "application/json", []byte(`{"title":"` + strings.Repeat("a", 2<<20) + `"}`)},
		{"deep nesting", "application/json", []byte(deep)},
		{"text/plain", "text/plain", []byte(`{"title":"x"}`)},
		{"form", "application/x-www-form-urlencoded", []byte("title=x&name=y")},
		{"multipart without boundary", "multipart/form-data", []byte("--x\r\n\r\n")},
		{"bad content type", "application/json; charset=\xff", []byte("{}")},
	}
}

// part is one part of a hand-built multipart body.
type part struct {
	name, filename string
	file           bool
	body           []byte
}

// multipartBody builds a multipart body byte for byte (so names may hold
// anything); truncate leaves the closing boundary out.
func multipartBody(parts []part, truncate bool) (string, []byte) {
	const boundary = "mikasweepboundary"
	var b bytes.Buffer
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\r\n", boundary)
		if p.file {
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n", p.name, p.filename)
		} else {
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=\"%s\"\r\n\r\n", p.name)
		}
		b.Write(p.body)
		b.WriteString("\r\n")
	}
	if !truncate {
		fmt.Fprintf(&b, "--%s--\r\n", boundary)
	}
	return "multipart/form-data; boundary=" + boundary, b.Bytes()
}

// snapshot lists every file under root, except below skip.
func snapshot(t *testing.T, root, skip string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p == skip {
			return filepath.SkipDir
		}
		out[p] = true
		return nil
	})
	return out
}

// TestBadInput hits every route of server/routes.go with wrong types,
// missing fields, huge values, negative and enormous ids, path traversal
// (plain and encoded, in paths, multipart file names and HLS paths),
// non-UTF-8 bytes, wrong content types and empty bodies. No answer may be a
// 5xx or leak internal text, errors must be the envelope with code = HTTP
// status, no file may appear outside the data folder, and the database file
// may never be served.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	s := &sweep{e: e, marker: fmt.Sprintf("mika-evil-%d", time.Now().UnixNano()), seen: map[route]int{}, status: map[route]map[int]int{}}
	routes := readRoutes(t)

	// Real things for the handlers to chew on.
	userC := e.user("sweep_user", "10.9.0.1")
	victim := e.user("sweep_victim", "10.9.0.2")
	var victimID int64
	if r, err := victim.Do(http.MethodGet, "/api/user/profile", nil, ""); err == nil && r.OK() == nil {
		var p struct {
			ID int64 `json:"id"`
		}
		r.Into(&p)
		victimID = p.ID
	}
	if err := os.MkdirAll(filepath.Join(e.root, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{"video": "1", "category": "1", "task": "1", "key": "1", "library": "1", "user": fmt.Sprint(victimID), "upload": "none"}
	idOf := func(r *Resp, err error, key, field string) {
		if err != nil || r.OK() != nil {
			t.Logf("set-up of a %s: %v %v", key, r, err)
			return
		}
		var m map[string]any
		json.Unmarshal(r.Data, &m)
		switch v := m[field].(type) {
		case float64:
			ids[key] = strconv.FormatInt(int64(v), 10)
		case string:
			ids[key] = v
		}
	}
	r, err := e.admin.JSON(http.MethodPost, "/api/admin/categories", map[string]any{"name": "sweep", "parent_id": 0, "sort": 1})
	idOf(r, err, "category", "id")
	var playURL string
	if hasFFmpeg() {
		c := clip(t, t.TempDir(), "sweep.mp4", Clip{Width: 320, Height: 180, Seconds: 2, Audio: true})
		f, _ := os.Open(c)
		id, r, err := e.admin.UploadFile("sweep video 示例", "sweep.mp4", f)
		f.Close()
		if err == nil {
			ids["video"] = fmt.Sprint(id)
			if v, err := e.admin.WaitTranscoded(id, 2*time.Minute); err == nil && v.PlayURL != "" {
				playURL = v.PlayURL
			}
			if tk, err := e.admin.TaskOf(id); err == nil {
				ids["task"] = fmt.Sprint(tk.ID)
			}
		} else {
			t.Logf("set-up of a video: %v %v", r, err)
		}
	}
	if u, err := e.admin.InitUpload("sweep upload", "sweep.mp4", 6<<20, ""); err == nil {
		ids["upload"] = u.ID
	} else {
		t.Logf("set-up of an upload: %v", err)
	}
	r, err = userC.JSON(http.MethodPost, "/api/user/api-keys", map[string]any{"name": "sweep"})
	idOf(r, err, "key", "id")
	var key struct {
		APIKey    string `json:"api_key"`
		SecretKey string `json:"secret_key"`
	}
	if err == nil && r.OK() == nil {
		r.Into(&key)
	}
	r, err = e.admin.JSON(http.MethodPost, "/api/admin/libraries", map[string]any{"path": filepath.Join(e.root, "lib"), "category_id": 0})
	idOf(r, err, "library", "id")
	t.Logf("real ids: %v, play_url %q", ids, playURL)

	realID := func(pattern string) string {
		switch {
		case strings.Contains(pattern, "/videos/{id}"), strings.HasPrefix(pattern, "/videos/"):
			return ids["video"]
		case strings.Contains(pattern, "categories"):
			return ids["category"]
		case strings.Contains(pattern, "tasks"):
			return ids["task"]
		case strings.Contains(pattern, "api-keys"):
			return ids["key"]
		case strings.Contains(pattern, "libraries"):
			return ids["library"]
		case strings.Contains(pattern, "users"):
			return ids["user"]
		}
		return "1"
	}
	tokenFor := func(pattern string) string {
		if strings.HasPrefix(pattern, "/api/user/") {
			return userC.Token
		}
		return e.admin.Token
	}
	ipN := atomic.Int64{}
	// Every request comes from its own address so the login limit (10 a
	// minute per address) lets the handler itself be reached.
	nextIP := func() string {
		n := ipN.Add(1)
		return fmt.Sprintf("10.%d.%d.%d", 100+n>>16&0x3f, n>>8&0xff, n&0xff)
	}

	before := snapshot(t, e.root, e.data)
	var cases []sweepCase
	add := func(rt route, method, target, token string, hdr [][2]string, body []byte, what string) {
		h := [][2]string{{"X-Forwarded-For", ""}} // filled with a fresh address when sent
		if slices.ContainsFunc(hdr, func(kv [2]string) bool { return kv[0] == "X-Forwarded-For" }) {
			h = nil
		}
		if token != "" {
			h = append(h, [2]string{"Authorization", "Bearer " + token})
		}
		h = append(h, hdr...)
		cases = append(cases, sweepCase{route: rt, method: method, target: target, hdr: h, body: body, what: what})
	}
	fill := func(pattern, id, uploadID, rest string) string {
		p := strings.ReplaceAll(pattern, "{id}", id)
		p = strings.ReplaceAll(p, "{upload_id}", uploadID)
		p = strings.ReplaceAll(p, "{name}", rest)
		return strings.ReplaceAll(p, "*", rest)
	}
	values := jsonValues(s.marker)
	// A real API key with wrong signatures, stale or future timestamps,
	// bad and replayed nonces; and forged client addresses.
	now := strconv.FormatInt(time.Now().Unix(), 10)
	authVariants := [][][2]string{
		nil,
		{{"Authorization", "Bearer garbage"}},
		{{"Authorization", "Bearer " + strings.Repeat("x", 8000)}},
		{{"Authorization", "Bearer \xff\xfe.\xff.\xff"}},
		{{"Authorization", "Basic YWRtaW46YWRtaW4="}},
		{{"Authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."}},
		{{"X-API-Key", "nokey"}, {"X-Timestamp", "1e309"}, {"X-Sign", "zz"}},
		{{"X-API-Key", "\xff"}, {"X-Timestamp", "-1"}, {"X-Sign", ""}, {"X-Nonce", strings.Repeat("n", 1000)}},
		{{"X-API-Key", "nokey"}, {"X-Timestamp", "99999999999999999999"}, {"X-Sign", strings.Repeat("0", 64)}, {"X-Nonce", "short"}},
		{{"X-API-Key", key.APIKey}, {"X-Timestamp", now}, {"X-Sign", strings.Repeat("0", 64)}},
		{{"X-API-Key", key.APIKey}, {"X-Timestamp", "1"}, {"X-Sign", SHA256([]byte(key.APIKey + "1" + key.SecretKey))}},
		{{"X-API-Key", key.APIKey}, {"X-Timestamp", now}, {"X-Sign", "\xff\xfe"}, {"X-Nonce", "0123456789abcdef\xff"}},
		{{"X-API-Key", key.APIKey}, {"X-Timestamp", now}, {"X-Sign", strings.Repeat("a", 64)}, {"X-Nonce", "0123456789abcdef"}},
		{{"X-API-Key", key.APIKey}, {"X-Timestamp", now + ".5"}, {"X-Sign", SHA256([]byte(key.APIKey + now + key.SecretKey))}},
		{{"X-Forwarded-For", "\xff, not-an-ip, 999.1.1.1, ::::, 10.0.0.1%eth0"}},
		{{"X-Forwarded-For", strings.Repeat("1.2.3.4, ", 2000)}},
	}
	for _, rt := range routes {
		p := rt.Pattern
		if p == "/*" || p == "/videos/{id}/*" || p == "/covers/{name}" || p == "/avatars/{name}" {
			continue // the file routes have their own cases below
		}
		tok := tokenFor(p)
		good := fill(p, realID(p), ids["upload"], "x")
		// Who is asking: nobody, garbage tokens, bad API key signatures.
		for _, h := range authVariants {
			add(rt, rt.Method, good, "", h, nil, "auth variant")
		}
		// Bad ids in the path.
		if strings.Contains(p, "{id}") {
			for _, id := range badIDs {
				var body []byte
				if rt.Method == "POST" || rt.Method == "PUT" {
					body = []byte("{}")
				}
				add(rt, rt.Method, fill(p, id, ids["upload"], "x"), tok, [][2]string{{"Content-Type", "application/json"}}, body, "bad id")
			}
		}
		if strings.Contains(p, "{upload_id}") {
			for _, id := range badUploadIDs {
				add(rt, rt.Method, fill(p, "1", id, "x"), tok, nil, nil, "bad upload id")
			}
		}
		// Bad query values.
		if rt.Method == "GET" {
			for _, q := range queryNames {
				for _, v := range badQueryValues {
					add(rt, "GET", good+"?"+q+"="+v, tok, nil, nil, "bad query "+q)
				}
			}
			add(rt, "GET", good+"?page=1&page=2&size=1&size=100000&keyword=a&keyword=b", tok, nil, nil, "repeated query")
			add(rt, "GET", good+"?"+strings.Repeat("x=1&", 20000), tok, nil, nil, "80 KB query")
		}
		if rt.Method != "POST" && rt.Method != "PUT" {
			continue
		}
		multipartRoute := p == "/api/videos/upload" || p == "/api/videos/upload/chunk" || p == "/api/user/avatar"
		// Malformed bodies and wrong content types.
		for _, b := range bodies() {
			var h [][2]string
			if b.ct != "" {
				h = [][2]string{{"Content-Type", b.ct}}
			}
			add(rt, rt.Method, good, tok, h, b.body, "body: "+b.what)
		}
		if multipartRoute {
			continue // their fields are form fields, swept below
		}
		// One wrong value in one field at a time.
		for _, f := range jsonFields {
			for _, v := range values {
				add(rt, rt.Method, good, tok, [][2]string{{"Content-Type", "application/json"}},
					[]byte(`{"`+f+`":`+v+`}`), "field "+f)
			}
		}
	}
	s.multipartCases(t, routes, add, ids, tokenFor)
	s.fileCases(t, routes, add, ids, playURL)

	// Everything but deletions first, in parallel; then deletions.
	run := func(cs []sweepCase) {
		ch := make(chan sweepCase)
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc := &RawClient{Addr: e.srv.Addr}
				defer rc.Close()
				for c := range ch {
					for i := range c.hdr {
						if c.hdr[i][0] == "X-Forwarded-For" {
							c.hdr[i][1] = nextIP()
						}
					}
					r, err := rc.Do(c.method, c.target, c.hdr, c.body)
					s.check(c, r, err)
				}
			}()
		}
		for _, c := range cs {
			ch <- c
		}
		close(ch)
		wg.Wait()
	}
	var first, last []sweepCase
	for _, c := range cases {
		if c.method == "DELETE" {
			last = append(last, c)
		} else {
			first = append(first, c)
		}
	}
	start := time.Now()
	run(first)
	run(last)
	t.Logf("%d requests over %d routes in %s; %d answered by placeholders (not landed yet)",
		s.n.Load(), len(s.seen), time.Since(start).Round(time.Millisecond), s.pending.Load())
	for _, rt := range routes {
		if s.seen[rt] == 0 {
			t.Errorf("route %s %s was not swept", rt.Method, rt.Pattern)
		}
		if testing.Verbose() {
			t.Logf("%-6s %-36s %v", rt.Method, rt.Pattern, s.status[rt])
		}
	}
	if s.nFails > 0 {
		t.Errorf("%d bad answers; the first ones:\n%s", s.nFails, strings.Join(s.fails, "\n"))
	}

	// Nothing appeared outside the data folder, and no file bears the marker.
	after := snapshot(t, e.root, e.data)
	for p := range after {
		if !before[p] {
			t.Errorf("file created outside the data folder: %s", p)
		}
	}
	for _, dir := range []string{e.data, os.TempDir(), filepath.Dir(e.root)} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && p != dir && dir != e.data {
				return filepath.SkipDir // only the top level of shared folders
			}
			if strings.Contains(d.Name(), s.marker) {
				t.Errorf("a file named after an uploaded path exists: %s", p)
			}
			return nil
		})
	}
	// No scratch file may be left behind (a rejected upload or a truncated
	// body must not leak disk space). The one open chunked upload of the
	// set-up may keep its file. A handler may still be cleaning up after
	// its answer was read (its deferred removals run after the answer was
	// sent), so what is there is looked at until it goes, for a while.
	leftover := func() []string {
		var out []string
		for _, dir := range []string{filepath.Join(e.data, "tmp"), filepath.Join(e.data, "media", "uploads")} {
			for _, n := range dirNames(dir) {
				if n != ids["upload"] {
					out = append(out, filepath.Join(dir, n))
				}
			}
		}
		return out
	}
	left := leftover()
	for deadline := time.Now().Add(30 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = leftover() {
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range left {
		t.Errorf("left behind after the sweep: %s", p)
	}
	// The server is still well, and the admin still signed in.
	if r, err := e.admin.Do(http.MethodGet, "/api/user/profile", nil, ""); err != nil || r.OK() != nil {
		t.Errorf("admin profile after the sweep: %v %v", r, err)
	}
	if bad := serverLogProblems(e.srv.Log()); len(bad) > 0 {
		t.Errorf("server log has %d bad lines, e.g.:\n%s", len(bad), strings.Join(bad[:min(5, len(bad))], "\n"))
	}
}

func hasFFmpeg() bool {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, "ffmpeg")); err == nil {
			return true
		}
	}
	return false
}

type addFunc func(rt route, method, target, token string, hdr [][2]string, body []byte, what string)

func findRoute(routes []route, method, pattern string) route {
	for _, r := range routes {
		if r.Method == method && r.Pattern == pattern {
			return r
		}
	}
	return route{method, pattern}
}

// multipartCases: evil file names, missing parts, bad form values and
// broken multipart bodies for the three upload routes.
func (s *sweep) multipartCases(t *testing.T, routes []route, add addFunc, ids map[string]string, tokenFor func(string) string) {
	m := s.marker
	evilNames := []string{"../../" + m + ".mp4", "..\\..\\" + m + ".mp4", "/tmp/" + m + ".mp4", "%2e%2e%2f%2e%2e%2f" + m + ".mp4",
		"....//....//" + m + ".mp4", "\xff\xfe" + m + ".mp4", m + "\x00.mp4", "", strings.Repeat("a", 300) + ".mp4", ".mp4", "..",
		"../../../data/mika.db", "mika.db", m + ".mp4%00.jpg", "C:\\" + m + ".mp4", "./" + m + ".MP4"}
	junk := []byte("not a video at all")
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 1, 1)))

	// Single upload.
	rt := findRoute(routes, "POST", "/api/videos/upload")
	send := func(rt route, parts []part, truncate bool, what string) {
		ct, body := multipartBody(parts, truncate)
		add(rt, rt.Method, rt.Pattern, tokenFor(rt.Pattern), [][2]string{{"Content-Type", ct}}, body, what)
	}
	for _, n := range evilNames {
		send(rt, []part{{name: "title", body: []byte("evil name")}, {name: "file", filename: n, file: true, body: junk}}, false, "file name "+n)
	}
	titleOK := part{name: "title", body: []byte("t")}
	fileOK := part{name: "file", filename: "a.mp4", file: true, body: junk}
	for _, c := range []struct {
		parts    []part
		truncate bool
		what     string
	}{
		{[]part{titleOK}, false, "no file"},
		{[]part{fileOK}, false, "no title"},
		{[]part{{name: "title", body: bytes.Repeat([]byte("标"), 10000)}, fileOK}, false, "title 30 KB"},
		{[]part{{name: "title", body: []byte("\xff\xfe")}, fileOK}, false, "title non-UTF-8"},
		{[]part{{name: "title"}, fileOK}, false, "empty title"},
		{[]part{titleOK, {name: "tags", body: bytes.Repeat([]byte("a,"), 50000)}, fileOK}, false, "100 KB tags"},
		{[]part{titleOK, {name: "tags", body: []byte("\xff,\x00,,,")}, fileOK}, false, "odd tags"},
		{[]part{titleOK, {name: "description", body: bytes.Repeat([]byte("d"), 200000)}, fileOK}, false, "200 KB description"},
		{[]part{titleOK, {name: "chunk", filename: "a.mp4", file: true, body: junk}}, false, "file under another name"},
		{[]part{titleOK, fileOK, fileOK}, false, "two files"},
		{[]part{titleOK, fileOK}, true, "truncated multipart"},
		{[]part{titleOK, {name: "file", filename: "a.mp4", file: true}}, false, "empty file"},
	} {
		send(rt, c.parts, c.truncate, c.what)
	}
	for _, id := range append(slices.Clone(badIDs), "", "1 2", "%") {
		send(rt, []part{titleOK, {name: "category_id", body: []byte(id)}, fileOK}, false, "category_id "+id)
	}

	// Chunks.
	rt = findRoute(routes, "POST", "/api/videos/upload/chunk")
	up := ids["upload"]
	chunkOK := part{name: "chunk", filename: "blob", file: true, body: junk}
	for _, idx := range []string{"-1", "abc", "9223372036854775808", "1e309", "99999", "", "1.5", "2", "0x1", " 0"} {
		send(rt, []part{{name: "upload_id", body: []byte(up)}, {name: "chunk_index", body: []byte(idx)}, chunkOK}, false, "chunk_index "+idx)
	}
	for _, id := range []string{"../../mika.db", "../../../" + m, "%2e%2e%2fmika.db", "", strings.Repeat("z", 5000), "\xff\xfe", "a/b", "/etc/passwd"} {
		send(rt, []part{{name: "upload_id", body: []byte(id)}, {name: "chunk_index", body: []byte("0")}, chunkOK}, false, "upload_id "+id)
	}
	idx0 := part{name: "chunk_index", body: []byte("0")}
	upP := part{name: "upload_id", body: []byte(up)}
	for _, c := range []struct {
		parts []part
		what  string
	}{
		{[]part{upP, idx0}, "no chunk"},
		{[]part{upP, idx0, {name: "chunk", filename: "blob", file: true, body: make([]byte, 5<<20+1)}}, "chunk over chunk_size"},
		{[]part{upP, idx0, {name: "chunk_md5", body: []byte("zz")}, chunkOK}, "bad chunk_md5"},
		{[]part{upP, idx0, {name: "chunk_md5", body: bytes.Repeat([]byte("f"), 1000)}, chunkOK}, "long chunk_md5"},
		{[]part{upP, idx0, {name: "chunk", filename: "../../" + m, file: true, body: junk}}, "evil chunk file name"},
		{[]part{upP, {name: "chunk_index", body: []byte("1")}, chunkOK}, "last chunk too short or index past the end"},
	} {
		send(rt, c.parts, false, c.what)
	}

	// Avatars.
	rt = findRoute(routes, "POST", "/api/user/avatar")
	for _, n := range evilNames {
		send(rt, []part{{name: "file", filename: strings.TrimSuffix(n, ".mp4") + ".png", file: true, body: pngBuf.Bytes()}}, false, "avatar name "+n)
	}
	for _, c := range []struct {
		parts []part
		what  string
	}{
		{[]part{{name: "file", filename: "a.png", file: true, body: junk}}, "not an image"},
		{[]part{{name: "file", filename: "a.png", file: true, body: make([]byte, 3<<20)}}, "3 MiB"},
		{[]part{{name: "file", filename: "a.svg", file: true, body: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)}}, "svg with script"},
		{[]part{{name: "avatar", filename: "a.png", file: true, body: pngBuf.Bytes()}}, "another field name"},
		{nil, "no parts"},
	} {
		send(rt, c.parts, false, c.what)
	}
}

// fileCases: traversal and odd names on the HLS, cover, avatar and web app
// routes, with and without a valid play token, and odd Range headers.
func (s *sweep) fileCases(t *testing.T, routes []route, add addFunc, ids map[string]string, playURL string) {
	vid := ids["video"]
	tok := ""
	if i := strings.Index(playURL, "token="); i >= 0 {
		tok = playURL[i+len("token="):]
		if j := strings.IndexByte(tok, '&'); j >= 0 {
			tok = tok[:j]
		}
	}
	withTok := func(p string) string {
		if tok == "" {
			return p
		}
		if strings.Contains(p, "?") {
			return p + "&token=" + tok
		}
		return p + "?token=" + tok
	}
	rt := findRoute(routes, "GET", "/videos/{id}/*")
	for _, rest := range []string{"..%2f..%2fmika.db", "../../mika.db", "../../../mika.db", "..%2f..%2f..%2fmika.db",
		"..%2f..%2f..%2f..%2fmika.db", "%2e%2e/%2e%2e/%2e%2e/mika.db", "360p/..%2f..%2f..%2f..%2fmika.db",
		"index.m3u8%00.ts", "%ff%fe", "....//....//....//mika.db", "..\\..\\..\\mika.db", "", ".", "..",
		"..%2f" + vid + "%2findex.m3u8", "..%2f..%2foriginals%2f" + vid + ".mp4", "..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
		"%2fetc%2fpasswd", "/etc/passwd", "index.m3u8/.."} {
		add(rt, "GET", withTok("/videos/"+vid+"/"+rest), "", nil, nil, "HLS path")
		add(rt, "GET", "/videos/"+vid+"/"+rest, "", nil, nil, "HLS path without token")
	}
	for _, id := range badIDs {
		add(rt, "GET", withTok("/videos/"+id+"/index.m3u8"), "", nil, nil, "HLS bad id")
	}
	for _, tv := range []string{"", "abc", "1.x", "-1.abc", "9223372036854775808.abc", "99999999999.AAAA", "%ff", strings.Repeat("a", 5000), tok + "x", tok + "%00"} {
		add(rt, "GET", "/videos/"+vid+"/index.m3u8?token="+tv, "", nil, nil, "HLS bad token")
	}
	if playURL != "" {
		_, segs, err := (&Client{Base: s.e.srv.Base()}).HLSFiles(playURL)
		if err == nil && len(segs) > 0 {
			for _, rg := range []string{"bytes=5-1", "bytes=abc", "bytes=-0", "bytes=9223372036854775807-", "bytes=0-9223372036854775808",
				"bytes=" + strings.Repeat("0-0,", 500) + "0-0", "bytes=-99999999999999999999", "items=0-1"} {
				add(rt, "GET", segs[0], "", [][2]string{{"Range", rg}}, nil, "Range "+rg)
			}
		}
	}
	for _, pat := range []string{"/covers/{name}", "/avatars/{name}"} {
		rt := findRoute(routes, "GET", pat)
		base := strings.TrimSuffix(pat, "{name}")
		for _, n := range []string{"..%2fmika.db", "..%2f..%2fmika.db", "..%2f..%2f..%2fmika.db", "%2e%2e%2f%2e%2e%2fmika.db",
			"%2e%2e", "..", vid + ".jpg", "-1.jpg", "9223372036854775808.jpg", "abc.jpg", "%ff.jpg", "%00.jpg",
			"..%5c..%5cmika.db", strings.Repeat("a", 3000) + ".jpg", "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd"} {
			add(rt, "GET", base+n, "", nil, nil, "file name")
		}
	}
	rt = findRoute(routes, "GET", "/*")
	for _, p := range []string{"/../../../../etc/passwd", "/..%2f..%2f..%2f..%2fetc%2fpasswd", "/assets/..%2f..%2f..%2fmika.db",
		"/%2e%2e/%2e%2e/%2e%2e/mika.db", "/index.html%00", "/%ff", "/" + strings.Repeat("a/", 3000), "/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/api/../../mika.db", "/api/%2e%2e/%2e%2e/mika.db"} {
		add(rt, "GET", p, "", nil, nil, "web app path")
	}
}

// TestSweepCheck proves the sweep's checker catches what it looks for, so a
// passing sweep means something.
func TestSweepCheck(t *testing.T) {
	e := &env{data: "/srv/mika-data"}
	env := func(status int, msg string) *Resp {
		b, _ := json.Marshal(map[string]any{"code": status, "message": msg, "data": nil})
		return decodeResp(status, nil, b)
	}
	raw := func(status int, body string) *Resp { return decodeResp(status, nil, []byte(body)) }
	for _, c := range []struct {
		target string
		r      *Resp
		bad    bool
	}{
		{"/api/videos", env(400, "invalid parameters"), false},
		{"/api/videos", env(404, "not found"), false},
		{"/api/videos", env(501, "not available yet"), false},
		{"/api/videos", env(500, "internal server error"), true},
		{"/api/videos", env(502, "bad gateway"), true},
		{"/api/videos", env(400, "sql: no rows in result set"), true},
		{"/api/videos", env(400, "invalid character 'x' looking for beginning of value"), true},
		{"/api/videos", env(400, "open /srv/mika-data/media/x: no such file or directory"), true},
		{"/api/videos", env(400, "json: cannot unmarshal string into Go value of type int64"), true},
		{"/api/videos", env(400, "bad path /srv/mika-data/x"), true},
		{"/api/videos", raw(404, "404 page not found"), true},
		{"/api/videos", raw(400, `{"code":404,"message":"not found","data":null}`), true},
		{"/videos/1/x", raw(200, "SQLite format 3\x00..."), true},
		{"/covers/x", raw(200, "root:x:0:0:root:/root:/bin/bash"), true},
		{"/videos/1/x.ts", raw(200, "\x47\x40\x00"), false},
	} {
		s := &sweep{e: e, seen: map[route]int{}, status: map[route]map[int]int{}}
		s.check(sweepCase{method: "GET", target: c.target}, c.r, nil)
		if got := s.nFails > 0; got != c.bad {
			t.Errorf("%s answered %d %q: flagged %v, want %v (%v)", c.target, c.r.Status, c.r.Body, got, c.bad, s.fails)
		}
	}
}
