package server

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMethodNotAllowedNamesAllowedMethods: a 405 must carry an Allow header
// naming the methods the path answers (RFC 9110 §15.5.6), still in the
// envelope.
func TestMethodNotAllowedNamesAllowedMethods(t *testing.T) {
	e := newTestEnv(t)
	cases := []struct {
		method, path, allow string
	}{
		{"DELETE", "/api/auth/login", "POST"},
		{"PUT", "/api/categories", "GET, HEAD"},
		{"PATCH", "/api/videos/7", "GET, HEAD, PUT, DELETE"},
		{"POST", "/api/videos/upload/abc", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
		{"PUT", "/videos/7/index.m3u8", "GET, HEAD"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			e.t = t
			res := e.wantError(e.do(tc.method, tc.path, nil, ""), 405)
			if got := res.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

// TestCORS: pages on other origins may call the API and play streams (a
// preflight gets the path's methods), and the web app itself is not shared.
func TestCORS(t *testing.T) {
	e := newTestEnv(t)
	raw := func(method, path string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Origin", "https://elsewhere.example")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec
	}
	t.Run("preflights", func(t *testing.T) {
		for _, tc := range []struct{ path, methods string }{
			{"/api/videos/7", "GET, HEAD, PUT, DELETE"},
			{"/api/videos/upload/chunk", "GET, HEAD, POST"}, // also GET …/upload/{upload_id}
			{"/videos/7/720p/index.m3u8", "GET, HEAD"},
		} {
			rec := raw("OPTIONS", tc.path, "Access-Control-Request-Method", "GET",
				"Access-Control-Request-Headers", "authorization")
			h := rec.Header()
			if rec.Code != 204 || h.Get("Access-Control-Allow-Origin") != "*" ||
				h.Get("Access-Control-Allow-Methods") != tc.methods {
				t.Errorf("%s: %d origin %q methods %q, want 204 * %q", tc.path, rec.Code,
					h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Methods"), tc.methods)
			}
			for _, want := range []string{"Authorization", "X-API-Key", "X-Sign", "Range"} {
				if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
					t.Errorf("%s: allowed headers %q lack %s", tc.path, h.Get("Access-Control-Allow-Headers"), want)
				}
			}
		}
	})
	t.Run("answers carry the origin, errors too", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/api/categories", 200},
			{"GET", "/api/user/profile", 401},
			{"GET", "/videos/7/index.m3u8", 404}, // no such video
			{"OPTIONS", "/api/videos/7", 405},    // not a preflight
			{"OPTIONS", "/api/nope", 404},        // a preflight for no path
		} {
			hdr := []string{}
			if tc.path == "/api/nope" {
				hdr = []string{"Access-Control-Request-Method", "GET"}
			}
			rec := raw(tc.method, tc.path, hdr...)
			if rec.Code != tc.status || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s %s: %d origin %q, want %d *", tc.method, tc.path, rec.Code,
					rec.Header().Get("Access-Control-Allow-Origin"), tc.status)
			}
			if !strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), "Content-Range") {
				t.Errorf("%s: exposed %q", tc.path, rec.Header().Get("Access-Control-Expose-Headers"))
			}
		}
	})
	t.Run("the web app is not shared", func(t *testing.T) {
		rec := raw("GET", "/")
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("web app: Access-Control-Allow-Origin %q", got)
		}
	})
}
