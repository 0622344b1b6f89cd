package server

import "testing"

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
