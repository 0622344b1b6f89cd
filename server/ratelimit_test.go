package server

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for limiters.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func setRateLimit(t *testing.T, e *testEnv, rps, burst int) {
	t.Helper()
	set := e.store.Settings()
	set.RateLimitRPS, set.RateLimitBurst = rps, burst
	if err := e.store.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
}

// from sends a request from the socket peer ip, with an optional
// X-Forwarded-For and an optional JSON body.
func (e *testEnv) from(ip, xff, method, path, body string) *response {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = ip + ":5555"
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return e.serve(req)
}

func want429(t *testing.T, res *response) int {
	t.Helper()
	if res.Status != 429 || res.Code != 429 {
		t.Fatalf("want 429, got %d/%d", res.Status, res.Code)
	}
	ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	return ra
}

func TestGlobalRateLimit(t *testing.T) {
	e := newTestEnv(t)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	e.srv.limiter.now = clock.now
	setRateLimit(t, e, 2, 3)
	// Loopback is not exempt.
	for i := range 3 {
		if res := e.from("127.0.0.1", "", "GET", "/api/settings/public", ""); res.Status != 200 {
			t.Fatalf("request %d: %d", i, res.Status)
		}
	}
	ra := want429(t, e.from("127.0.0.1", "", "GET", "/api/settings/public", ""))
	if ra != 1 {
		t.Fatalf("Retry-After %d, want 1 at 2 req/s", ra)
	}
	// Any /api route counts, and a 404 is still limited.
	want429(t, e.from("127.0.0.1", "", "GET", "/api/nope", ""))
	// Another client has its own bucket.
	e.mustOK(e.from("198.51.100.7", "", "GET", "/api/settings/public", ""))
	// Half a second refills one token at 2 req/s.
	clock.advance(500 * time.Millisecond)
	e.mustOK(e.from("127.0.0.1", "", "GET", "/api/settings/public", ""))
	want429(t, e.from("127.0.0.1", "", "GET", "/api/settings/public", ""))
	// /healthz is outside the API and not limited.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	e.srv.ServeHTTP(rec, req)
	if rec.Code == 429 {
		t.Fatal("healthz limited")
	}
	// A settings change applies at once; 0 turns the limit off.
	setRateLimit(t, e, 0, 0)
	for range 10 {
		e.mustOK(e.from("127.0.0.1", "", "GET", "/api/settings/public", ""))
	}
}

func TestAuthRateLimit(t *testing.T) {
	e := newTestEnv(t)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	// What New builds: 10 per minute per IP.
	e.srv.authLimits = newRateLimiter(func() (float64, int) { return 10.0 / 60, 10 })
	e.srv.authLimits.now = clock.now
	// Login and register share the bucket; malformed bodies keep bcrypt out of the test.
	for i := range 10 {
		path := "/api/auth/login"
		if i%2 == 1 {
			path = "/api/auth/register"
		}
		if res := e.from("192.0.2.9", "", "POST", path, "{"); res.Status != 400 {
			t.Fatalf("request %d: %d", i, res.Status)
		}
	}
	ra := want429(t, e.from("192.0.2.9", "", "POST", "/api/auth/login", "{"))
	if ra != 6 {
		t.Fatalf("Retry-After %d, want 6 at 10/min", ra)
	}
	want429(t, e.from("192.0.2.9", "", "POST", "/api/auth/register", "{"))
	// Other routes are not held back by the stricter limit.
	e.mustOK(e.from("192.0.2.9", "", "GET", "/api/settings/public", ""))
	// Another IP is unaffected; after 6 s one more attempt is allowed.
	e.wantError(e.from("192.0.2.10", "", "POST", "/api/auth/login", "{"), 400)
	clock.advance(6 * time.Second)
	e.wantError(e.from("192.0.2.9", "", "POST", "/api/auth/login", "{"), 400)
	want429(t, e.from("192.0.2.9", "", "POST", "/api/auth/login", "{"))
}

func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	e := newTestEnv(t)
	// A stopped clock: at 1 req/s a second between two requests (a loaded
	// machine) would refill the bucket the test expects empty.
	e.srv.limiter.now = (&fakeClock{t: time.Unix(1_700_000_000, 0)}).now
	setRateLimit(t, e, 1, 1)
	// Untrusted peer: X-Forwarded-For is ignored, so rotating it does not help.
	e.mustOK(e.from("203.0.113.50", "198.51.100.1", "GET", "/api/settings/public", ""))
	want429(t, e.from("203.0.113.50", "198.51.100.2", "GET", "/api/settings/public", ""))

	// Behind a trusted proxy each forwarded client has its own bucket.
	e.srv.proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	e.mustOK(e.from("10.0.0.2", "198.51.100.1", "GET", "/api/settings/public", ""))
	e.mustOK(e.from("10.0.0.2", "198.51.100.2", "GET", "/api/settings/public", ""))
	want429(t, e.from("10.0.0.2", "198.51.100.1", "GET", "/api/settings/public", ""))
	// A client cannot escape by prepending a forged hop.
	want429(t, e.from("10.0.0.2", "6.6.6.6, 198.51.100.1", "GET", "/api/settings/public", ""))
}

func TestClientIP(t *testing.T) {
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	cases := []struct{ peer, xff, want string }{
		{"203.0.113.5:1", "198.51.100.1", "203.0.113.5"},         // untrusted peer
		{"10.0.0.1:1", "", "10.0.0.1"},                           // trusted, no header
		{"10.0.0.1:1", "198.51.100.1", "198.51.100.1"},           // one hop
		{"10.0.0.1:1", "1.2.3.4, 198.51.100.1", "198.51.100.1"},  // right-most untrusted
		{"10.0.0.1:1", "198.51.100.1, 10.0.0.9", "198.51.100.1"}, // chain of proxies
		{"10.0.0.1:1", "garbage", "10.0.0.1"},                    // unparsable
		{"10.0.0.1:1", "1.2.3.4, garbage, 10.0.0.3", "10.0.0.3"}, // stops at garbage
		{"[::1]:1", "2001:db8::1", "2001:db8::1"},                // IPv6
		{"[::ffff:10.0.0.1]:1", "198.51.100.1", "198.51.100.1"},  // v4-mapped peer
		{"10.0.0.1:1", "::ffff:198.51.100.1", "198.51.100.1"},    // v4-mapped hop
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.clientIP(r); got != c.want {
			t.Errorf("peer %s xff %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

func TestRateLimiterBucket(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	rps, burst := 1.0, 2
	l := newRateLimiter(func() (float64, int) { return rps, burst })
	l.now = clock.now
	for i := range 2 {
		if _, ok := l.allow("a"); !ok {
			t.Fatalf("burst %d refused", i)
		}
	}
	wait, ok := l.allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("over burst: %v %v", wait, ok)
	}
	// A long pause refills to the burst, never beyond.
	clock.advance(time.Hour)
	for i := range 2 {
		if _, ok := l.allow("a"); !ok {
			t.Fatalf("refill %d refused", i)
		}
	}
	if _, ok := l.allow("a"); ok {
		t.Fatal("refilled beyond burst")
	}
	// Idle buckets are swept.
	clock.advance(2 * time.Minute)
	l.allow("b")
	if _, kept := l.buckets["a"]; kept {
		t.Fatal("idle bucket kept")
	}
}
