package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Hashing at bcrypt's default cost would dominate the package's test time.
func init() { passwordCost = bcrypt.MinCost }

func TestSetupCreatesFirstAdminOnce(t *testing.T) {
	e := newTestEnv(t)
	e.wantError(e.do("POST", "/api/setup", map[string]any{"username": "ad", "password": "short"}, ""), 400)
	res := e.mustOK(e.do("POST", "/api/setup", map[string]any{"username": "admin", "password": "password123"}, ""))
	var d loginData
	res.into(t, &d)
	if d.Token == "" || d.User.Role != "admin" {
		t.Fatalf("setup answer %+v", d)
	}
	e.wantError(e.do("POST", "/api/setup", map[string]any{"username": "admin2", "password": "password123"}, ""), 403)
	// Once done, setup is closed whatever the body: no validation answer.
	for _, body := range []any{map[string]any{"username": "ad", "password": "short"}, `{not json`, ""} {
		if res := e.wantError(e.do("POST", "/api/setup", body, ""), 403); len(res.Errors) != 0 {
			t.Fatalf("%v: errors %v", body, res.Errors)
		}
	}
}

func TestLoginAndProfile(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("alice", false)
	e.wantError(e.do("POST", "/api/auth/login", map[string]any{"username": "alice", "password": "wrongpass1"}, ""), 401)
	e.wantError(e.do("POST", "/api/auth/login", map[string]any{"username": "nobody", "password": "wrongpass1"}, ""), 401)
	e.wantError(e.do("POST", "/api/auth/login", `{"username": 5}`, ""), 400)
	e.wantError(e.do("POST", "/api/auth/login", `{not json`, ""), 400)
	var d loginData
	e.mustOK(e.do("POST", "/api/auth/login", map[string]any{"username": "alice", "password": "password123"}, "")).into(t, &d)
	var p profile
	e.mustOK(e.do("GET", "/api/user/profile", nil, d.Token)).into(t, &p)
	if p.Username != "alice" || p.Role != "user" || p.CreatedAt == "" {
		t.Fatalf("profile %+v", p)
	}
	e.wantError(e.do("GET", "/api/user/profile", nil, ""), 401)
	e.wantError(e.do("GET", "/api/user/profile", nil, d.Token+"x"), 401)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newTestEnv(t)
	e.wantError(e.do("GET", "/api/does-not-exist", nil, ""), 404)
	e.wantError(e.do("DELETE", "/api/auth/login", nil, ""), 405)
}

func TestRegisterValidation(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("taken_name", false)
	good := map[string]any{"username": "newuser", "password": "password123", "email": "user@example.com"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	cases := []struct {
		name  string
		body  any
		code  int
		field string
	}{
		{"short username", with("username", "ab"), 400, "username"},
		{"long username", with("username", strings.Repeat("a", 33)), 400, "username"},
		{"bad username chars", with("username", "new-user"), 400, "username"},
		{"chinese username", with("username", "用户名字"), 400, "username"},
		{"short password", with("password", "1234567"), 400, "password"},
		{"password over 72 bytes", with("password", strings.Repeat("p", 73)), 400, "password"},
		{"missing email", with("email", ""), 400, "email"},
		{"bad email", with("email", "not-an-email"), 400, "email"},
		{"email with name", with("email", "Bob <bob@example.com>"), 400, "email"},
		{"email without domain dot", with("email", "bob@localhost"), 400, "email"},
		{"wrong type", with("username", 12), 400, "username"},
		{"malformed", `{"username":`, 400, "body"},
		{"taken username", with("username", "taken_name"), 409, "username"},
		{"taken username other case", with("username", "TAKEN_NAME"), 409, "username"},
	}
	for _, c := range cases {
		e.run(t, c.name, func(t *testing.T) {
			res := e.wantError(e.do("POST", "/api/auth/register", c.body, ""), c.code)
			if res.Errors[c.field] == "" {
				t.Fatalf("want errors.%s, got %v", c.field, res.Errors)
			}
		})
	}
	n, _ := e.store.CountUsers(context.Background())
	if n != 1 {
		t.Fatalf("failed registrations made users: %d", n)
	}
}

func TestRegisterOpenAnswersLikeLogin(t *testing.T) {
	e := newTestEnv(t)
	// open mode ignores any invite_code, even a bogus one.
	var d loginData
	e.mustOK(e.do("POST", "/api/auth/register", map[string]any{"username": "newuser", "password": "password123",
		"email": "user@example.com", "invite_code": "NOPE"}, "")).into(t, &d)
	if d.Token == "" || d.Expire <= time.Now().Unix() || d.User.Username != "newuser" || d.User.Role != "user" {
		t.Fatalf("register answer %+v", d)
	}
	var p profile
	e.mustOK(e.do("GET", "/api/user/profile", nil, d.Token)).into(t, &p)
	if p.Email != "user@example.com" || p.Nickname != "newuser" {
		t.Fatalf("profile %+v", p)
	}
	e.mustOK(e.do("POST", "/api/auth/login", map[string]any{"username": "newuser", "password": "password123"}, ""))
}

func setRegisterMode(t *testing.T, e *testEnv, mode string) {
	t.Helper()
	set := e.store.Settings()
	set.RegisterMode = mode
	if err := e.store.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterClosed(t *testing.T) {
	e := newTestEnv(t)
	setRegisterMode(t, e, "closed")
	e.wantError(e.do("POST", "/api/auth/register", map[string]any{"username": "newuser", "password": "password123",
		"email": "user@example.com"}, ""), 403)
	// Closed answers 403 before looking at the body.
	e.wantError(e.do("POST", "/api/auth/register", `{bad`, ""), 403)
}

func TestRegisterInviteOnly(t *testing.T) {
	e := newTestEnv(t)
	adminID, _ := e.createUser("root", true)
	setRegisterMode(t, e, "invite")
	ctx := context.Background()
	if _, err := e.store.CreateInvite(ctx, "GOODCODE2345", adminID); err != nil {
		t.Fatal(err)
	}
	body := func(user, code string) map[string]any {
		m := map[string]any{"username": user, "password": "password123", "email": user + "@example.com"}
		if code != "-" {
			m["invite_code"] = code
		}
		return m
	}
	res := e.wantError(e.do("POST", "/api/auth/register", body("first", "-"), ""), 400)
	if res.Errors["invite_code"] == "" {
		t.Fatalf("missing code: %v", res.Errors)
	}
	res = e.wantError(e.do("POST", "/api/auth/register", body("first", "UNKNOWNCODE2"), ""), 400)
	if res.Errors["invite_code"] == "" {
		t.Fatalf("unknown code: %v", res.Errors)
	}
	// A taken username does not burn the code.
	e.wantError(e.do("POST", "/api/auth/register", body("root", "GOODCODE2345"), ""), 409)
	// Codes are matched case-insensitively and with spaces trimmed.
	var d loginData
	e.mustOK(e.do("POST", "/api/auth/register", body("first", " goodcode2345 "), "")).into(t, &d)
	res = e.wantError(e.do("POST", "/api/auth/register", body("second", "GOODCODE2345"), ""), 400)
	if res.Errors["invite_code"] == "" {
		t.Fatalf("used code: %v", res.Errors)
	}
	list, _, err := e.store.ListInvites(ctx, 10, 0)
	if err != nil || len(list) != 1 || list[0].UsedBy != d.User.ID || list[0].UsedAt == 0 {
		t.Fatalf("invite after use: %+v %v", list, err)
	}
	n, _ := e.store.CountUsers(ctx)
	if n != 2 {
		t.Fatalf("users: %d", n)
	}
}

// TestRegisterInviteRace: many registrations with one code make one user.
func TestRegisterInviteRace(t *testing.T) {
	e := newTestEnv(t)
	adminID, _ := e.createUser("root", true)
	setRegisterMode(t, e, "invite")
	if _, err := e.store.CreateInvite(context.Background(), "RACECODE2345", adminID); err != nil {
		t.Fatal(err)
	}
	const n = 6
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, _ := json.Marshal(map[string]any{"username": fmt.Sprintf("racer%d", i), "password": "password123",
				"email": "r@example.com", "invite_code": "RACECODE2345"})
			req := httptest.NewRequest("POST", "/api/auth/register", bytes.NewReader(j))
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			codes[i] = rec.Code
		}()
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		switch c {
		case 200:
			wins++
		case 400:
		default:
			t.Fatalf("unexpected status %d", c)
		}
	}
	total, _ := e.store.CountUsers(context.Background())
	if wins != 1 || total != 2 {
		t.Fatalf("wins %d users %d (%v)", wins, total, codes)
	}
}

func TestUpdateProfile(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	cases := []struct {
		body  any
		field string
	}{
		{map[string]any{"nickname": strings.Repeat("名", 51)}, "nickname"},
		{map[string]any{"nickname": "bad\x00nick"}, "nickname"},
		{map[string]any{"email": "nope"}, "email"},
		{map[string]any{"avatar": "http://evil.example/x.jpg"}, "avatar"},
		{map[string]any{"avatar": "/avatars/../mika.db"}, "avatar"},
		{map[string]any{"avatar": "/avatars/a/b.jpg"}, "avatar"},
		{map[string]any{"nickname": 5}, "nickname"},
	}
	for _, c := range cases {
		res := e.wantError(e.do("PUT", "/api/user/profile", c.body, tok), 400)
		if res.Errors[c.field] == "" {
			t.Fatalf("%v: want errors.%s, got %v", c.body, c.field, res.Errors)
		}
	}
	e.wantError(e.do("PUT", "/api/user/profile", map[string]any{"nickname": "x"}, ""), 401)

	var p profile
	e.mustOK(e.do("PUT", "/api/user/profile", map[string]any{"nickname": "新昵称", "avatar": "/avatars/new.jpg",
		"role": "admin", "points": 99999, "username": "root"}, tok)).into(t, &p)
	if p.Nickname != "新昵称" || p.Avatar != "/avatars/new.jpg" || p.Role != "user" || p.Points != 0 || p.Username != "alice" {
		t.Fatalf("after put %+v", p)
	}
	// Left-out fields keep their values.
	e.mustOK(e.do("PUT", "/api/user/profile", map[string]any{"email": "a@example.org"}, tok)).into(t, &p)
	if p.Nickname != "新昵称" || p.Avatar != "/avatars/new.jpg" || p.Email != "a@example.org" {
		t.Fatalf("partial put %+v", p)
	}
	e.mustOK(e.do("GET", "/api/user/profile", nil, tok)).into(t, &p)
	if p.Email != "a@example.org" {
		t.Fatalf("profile not stored %+v", p)
	}
	// An empty avatar clears it; an empty nickname falls back to the username.
	e.mustOK(e.do("PUT", "/api/user/profile", map[string]any{"avatar": "", "nickname": "  "}, tok)).into(t, &p)
	if p.Avatar != "" || p.Nickname != "alice" {
		t.Fatalf("cleared %+v", p)
	}
}

func TestChangePassword(t *testing.T) {
	e := newTestEnv(t)
	_, old := e.createUser("alice", false)
	res := e.wantError(e.do("PUT", "/api/user/password", map[string]any{"old_password": "wrongpass1", "new_password": "newpassword1"}, old), 400)
	if res.Errors["old_password"] == "" {
		t.Fatalf("wrong old: %v", res.Errors)
	}
	res = e.wantError(e.do("PUT", "/api/user/password", map[string]any{"old_password": "password123", "new_password": "short"}, old), 400)
	if res.Errors["new_password"] == "" {
		t.Fatalf("short new: %v", res.Errors)
	}
	res = e.wantError(e.do("PUT", "/api/user/password", map[string]any{"new_password": "newpassword1"}, old), 400)
	if res.Errors["old_password"] == "" {
		t.Fatalf("missing old: %v", res.Errors)
	}
	// Failed attempts left the token alive.
	e.mustOK(e.do("GET", "/api/user/profile", nil, old))

	var d loginData
	e.mustOK(e.do("PUT", "/api/user/password", map[string]any{"old_password": "password123", "new_password": "newpassword1"}, old)).into(t, &d)
	if d.Token == "" || d.Token == old {
		t.Fatalf("no fresh token: %+v", d)
	}
	// The token from before the change is dead; the fresh one works.
	e.wantError(e.do("GET", "/api/user/profile", nil, old), 401)
	e.mustOK(e.do("GET", "/api/user/profile", nil, d.Token))
	e.wantError(e.do("POST", "/api/auth/login", map[string]any{"username": "alice", "password": "password123"}, ""), 401)
	e.mustOK(e.do("POST", "/api/auth/login", map[string]any{"username": "alice", "password": "newpassword1"}, ""))
}

func TestBadTokens(t *testing.T) {
	e := newTestEnv(t)
	id, good := e.createUser("alice", false)
	u, err := e.store.UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(exp time.Time, ver int64) tokenClaims {
		return tokenClaims{Ver: ver, RegisteredClaims: jwt.RegisteredClaims{Subject: fmt.Sprint(id),
			IssuedAt: jwt.NewNumericDate(exp.Add(-time.Hour)), ExpiresAt: jwt.NewNumericDate(exp)}}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	future := time.Now().Add(time.Hour)
	noExp := tokenClaims{Ver: u.TokenVersion, RegisteredClaims: jwt.RegisteredClaims{Subject: fmt.Sprint(id)}}
	cases := map[string]string{
		"expired":            sign(jwt.SigningMethodHS256, e.srv.jwtSecret, claims(time.Now().Add(-time.Minute), u.TokenVersion)),
		"other secret":       sign(jwt.SigningMethodHS256, []byte("not-the-secret"), claims(future, u.TokenVersion)),
		"alg none":           sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(future, u.TokenVersion)),
		"HS512":              sign(jwt.SigningMethodHS512, e.srv.jwtSecret, claims(future, u.TokenVersion)),
		"old version":        sign(jwt.SigningMethodHS256, e.srv.jwtSecret, claims(future, u.TokenVersion-1)),
		"no expiry":          sign(jwt.SigningMethodHS256, e.srv.jwtSecret, noExp),
		"unknown user":       sign(jwt.SigningMethodHS256, e.srv.jwtSecret, tokenClaims{Ver: 1, RegisteredClaims: jwt.RegisteredClaims{Subject: "999", ExpiresAt: jwt.NewNumericDate(future)}}),
		"garbage":            "abc.def.ghi",
		"tampered signature": tamperFirst(good, strings.LastIndex(good, ".")+1),
		"padding bits":       flipPaddingBit(good),
	}
	for name, tok := range cases {
		e.run(t, name, func(t *testing.T) {
			e.wantError(e.do("GET", "/api/user/profile", nil, tok), 401)
		})
	}
	// The control: a well-made token works.
	e.mustOK(e.do("GET", "/api/user/profile", nil, sign(jwt.SigningMethodHS256, e.srv.jwtSecret, claims(future, u.TokenVersion))))
}

// flipPaddingBit changes the last bit of a JWT's last character: a bit
// that base64 leaves unused in a 32-byte signature, so a lenient decoder
// reads the same signature.
func flipPaddingBit(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[last^1])
}

// tamperFirst changes s's character at i to another one. The first
// character of a base64 signature carries six bits of it; the last may
// carry only two, the rest being padding bits a decoder ignores (so
// ending "xw" and "xx" is the same signature: a token changed there can
// still be valid).
func tamperFirst(s string, i int) string {
	c := byte('A')
	if s[i] == c {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestDisabledUser(t *testing.T) {
	e := newTestEnv(t)
	id, tok := e.createUser("alice", false)
	e.mustOK(e.do("GET", "/api/user/profile", nil, tok))
	ctx := context.Background()
	if err := e.store.SetUserDisabled(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	e.wantError(e.do("GET", "/api/user/profile", nil, tok), 401)
	e.wantError(e.do("GET", "/api/videos", nil, tok), 401)
	e.wantError(e.do("POST", "/api/auth/login", map[string]any{"username": "alice", "password": "password123"}, ""), 401)
	// A token issued while disabled (the version matches) is still refused.
	u, _ := e.store.UserByID(ctx, id)
	fresh, _, _ := e.srv.issueToken(u)
	e.wantError(e.do("GET", "/api/user/profile", nil, fresh), 401)

	if err := e.store.SetUserDisabled(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	// Enabling again does not revive the tokens from before disabling.
	e.wantError(e.do("GET", "/api/user/profile", nil, tok), 401)
	e.mustOK(e.do("POST", "/api/auth/login", map[string]any{"username": "alice", "password": "password123"}, ""))
}

func TestNonAdminOnAdminRoutes(t *testing.T) {
	e := newTestEnv(t)
	_, user := e.createUser("alice", false)
	_, admin := e.createUser("root", true)
	for _, path := range []string{"/api/admin/settings", "/api/admin/users", "/api/admin/invites"} {
		e.wantError(e.do("GET", path, nil, ""), 401)
		e.wantError(e.do("GET", path, nil, user), 403)
	}
	e.wantError(e.do("PUT", "/api/admin/settings", map[string]any{"register_mode": "open"}, user), 403)
	e.mustOK(e.do("GET", "/api/admin/settings", nil, admin))
}

// TestGetWithJSONContentType: the document's Python client sends
// Content-Type: application/json on every call, GETs without a body included.
func TestGetWithJSONContentType(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("admin", true)
	var d loginData
	e.mustOK(e.do("POST", "/api/auth/login", map[string]any{"username": "admin", "password": "password123"}, "")).into(t, &d)
	for _, path := range []string{"/api/videos?page=1&size=20", "/api/user/profile"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+d.Token)
		e.mustOK(e.serve(req))
	}
}

// run runs fn as a subtest and points e's helpers at it, so a failure is
// reported by the subtest that saw it and the others still run.
func (e *testEnv) run(t *testing.T, name string, fn func(t *testing.T)) {
	t.Run(name, func(st *testing.T) {
		parent := e.t
		e.t = st
		defer func() { e.t = parent }()
		fn(st)
	})
}

func TestPublicSettingsSaysWhenSetupIsNeeded(t *testing.T) {
	e := newTestEnv(t)
	var pub struct {
		NeedsSetup bool `json:"needs_setup"`
	}
	e.mustOK(e.do("GET", "/api/settings/public", nil, "")).into(t, &pub)
	if !pub.NeedsSetup {
		t.Fatal("a fresh install must say needs_setup")
	}
	e.mustOK(e.do("POST", "/api/setup", map[string]any{"username": "admin", "password": "password123"}, ""))
	e.mustOK(e.do("GET", "/api/settings/public", nil, "")).into(t, &pub)
	if pub.NeedsSetup {
		t.Fatal("needs_setup after the first admin exists")
	}
}
