package server

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// tinyPNG is a real 1×1 PNG.
var tinyPNG = func() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	return b.Bytes()
}()

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// uploadAvatar posts content as the multipart field field.
func (e *testEnv) uploadAvatar(token, field string, content []byte) *response {
	e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("note", "ignored")
	fw, _ := mw.CreateFormFile(field, "picture.png")
	fw.Write(content)
	mw.Close()
	req := httptest.NewRequest("POST", "/api/user/avatar", &b)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return e.serve(req)
}

func TestAvatarUploadRejects(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	html := []byte("<html><body>hi</body></html>")
	huge := append(append([]byte{}, tinyPNG...), make([]byte, maxAvatarBytes)...)
	cases := []struct {
		name    string
		field   string
		content []byte
		code    int
	}{
		{"svg", "file", svg, 400},
		{"html", "file", html, 400},
		{"text", "file", []byte("just text"), 400},
		{"empty", "file", nil, 400},
		{"wrong field", "image", tinyPNG, 400},
		{"too large", "file", huge, 413},
	}
	for _, c := range cases {
		e.run(t, c.name, func(t *testing.T) {
			e.wantError(e.uploadAvatar(tok, c.field, c.content), c.code)
		})
	}
	e.wantError(e.uploadAvatar("", "file", tinyPNG), 401)
	e.wantError(e.do("POST", "/api/user/avatar", map[string]any{"file": "x"}, tok), 400)
	if left := dirEntries(t, e.data.Tmp()); len(left) != 0 {
		t.Fatalf("tmp not cleaned: %v", left)
	}
	avatars, _ := e.data.Avatar("x.png")
	if left := dirEntries(t, strings.TrimSuffix(avatars, "/x.png")); len(left) != 0 {
		t.Fatalf("avatars stored on failure: %v", left)
	}
}

func TestAvatarUploadAndServe(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	var first struct {
		Avatar string `json:"avatar"`
	}
	e.mustOK(e.uploadAvatar(tok, "file", tinyPNG)).into(t, &first)
	if !strings.HasPrefix(first.Avatar, "/avatars/") || !strings.HasSuffix(first.Avatar, ".png") {
		t.Fatalf("avatar %q", first.Avatar)
	}
	var p profile
	e.mustOK(e.do("GET", "/api/user/profile", nil, tok)).into(t, &p)
	if p.Avatar != first.Avatar {
		t.Fatalf("profile avatar %q", p.Avatar)
	}
	// Served publicly, with its type and a cache header.
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest("GET", first.Avatar, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" ||
		!strings.Contains(rec.Header().Get("Cache-Control"), "max-age") || !bytes.Equal(rec.Body.Bytes(), tinyPNG) {
		t.Fatalf("serve: %d %v", rec.Code, rec.Header())
	}
	// A GIF replaces it and the old file is gone.
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	var second struct {
		Avatar string `json:"avatar"`
	}
	e.mustOK(e.uploadAvatar(tok, "file", gif)).into(t, &second)
	if !strings.HasSuffix(second.Avatar, ".gif") || second.Avatar == first.Avatar {
		t.Fatalf("second avatar %q", second.Avatar)
	}
	oldPath, _ := e.data.Avatar(strings.TrimPrefix(first.Avatar, "/avatars/"))
	if _, err := os.Stat(oldPath); !os.IsNotExist(err) {
		t.Fatalf("old avatar still there: %v", err)
	}
	rec = httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest("GET", second.Avatar, nil))
	if body, _ := io.ReadAll(rec.Body); rec.Code != 200 || rec.Header().Get("Content-Type") != "image/gif" || !bytes.Equal(body, gif) {
		t.Fatalf("serve gif: %d %v", rec.Code, rec.Header())
	}
	// Another user showing the same path keeps the file alive when Alice moves on.
	_, bob := e.createUser("bob", false)
	e.mustOK(e.do("PUT", "/api/user/profile", map[string]any{"avatar": second.Avatar}, bob))
	e.mustOK(e.do("PUT", "/api/user/profile", map[string]any{"avatar": ""}, tok))
	secondPath, _ := e.data.Avatar(strings.TrimPrefix(second.Avatar, "/avatars/"))
	if _, err := os.Stat(secondPath); err != nil {
		t.Fatalf("shared avatar removed: %v", err)
	}
	// Once nobody shows it, it goes.
	e.mustOK(e.do("PUT", "/api/user/profile", map[string]any{"avatar": ""}, bob))
	if _, err := os.Stat(secondPath); !os.IsNotExist(err) {
		t.Fatalf("orphan avatar kept: %v", err)
	}
}

func TestServeAvatarBadNames(t *testing.T) {
	e := newTestEnv(t)
	// A file right outside the avatars folder that traversal would reach.
	if err := os.WriteFile(e.data.Media()+"/secret.png", tinyPNG, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/avatars/missing.png", "/avatars/..%2Fsecret.png", "/avatars/%2e%2e%2fsecret.png",
		"/avatars/secret.exe", "/avatars/.png", "/avatars/a%00.png", "/avatars/..", "/avatars/%2Fetc%2Fpasswd"} {
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 404 {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
}
