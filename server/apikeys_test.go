package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"mika/store"
	"mika/store/media"
)

// apiKeyPair is a key as the create answer shows it.
type apiKeyPair struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	APIKey    string `json:"api_key"`
	SecretKey string `json:"secret_key"`
	CreatedAt string `json:"created_at"`
}

func (e *testEnv) createKey(token, name string) apiKeyPair {
	e.t.Helper()
	var k apiKeyPair
	var body any
	if name != "" {
		body = map[string]any{"name": name}
	}
	e.mustOK(e.do("POST", "/api/user/api-keys", body, token)).into(e.t, &k)
	return k
}

// legacySign is the document's scheme, computed independently of the server.
func legacySign(k apiKeyPair, ts string) string {
	sum := sha256.Sum256([]byte(k.APIKey + ts + k.SecretKey))
	return hex.EncodeToString(sum[:])
}

// strongSign is SPEC §3's HMAC form, computed independently of the server.
func strongSign(k apiKeyPair, method, path, ts, nonce string, body []byte) string {
	bh := sha256.Sum256(body)
	m := hmac.New(sha256.New, []byte(k.SecretKey))
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%s", method, path, ts, nonce, hex.EncodeToString(bh[:]))
	return hex.EncodeToString(m.Sum(nil))
}

// signed sends a request authenticated only by headers.
func (e *testEnv) signed(method, target string, body []byte, contentType string, hdr map[string]string) *response {
	e.t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.RemoteAddr = "192.0.2.1:1234"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return e.serve(req)
}

func unixNow() string { return strconv.FormatInt(time.Now().Unix(), 10) }

func TestAPIKeyManagement(t *testing.T) {
	e := newTestEnv(t)
	_, alice := e.createUser("alice", false)
	_, bob := e.createUser("bob", false)
	e.wantError(e.do("GET", "/api/user/api-keys", nil, ""), 401)
	e.wantError(e.do("POST", "/api/user/api-keys", map[string]any{"name": strings.Repeat("n", 51)}, alice), 400)
	e.wantError(e.do("POST", "/api/user/api-keys", map[string]any{"name": 5}, alice), 400)
	e.wantError(e.do("POST", "/api/user/api-keys", `{"name":`, alice), 400)

	named := e.createKey(alice, "backup script")
	unnamed := e.createKey(alice, "")
	if named.Name != "backup script" || len(named.APIKey) != 32 || len(named.SecretKey) != 64 || named.CreatedAt == "" {
		t.Fatalf("create answer %+v", named)
	}
	if unnamed.APIKey == named.APIKey || unnamed.SecretKey == named.SecretKey {
		t.Fatal("keys repeat")
	}
	res := e.mustOK(e.do("GET", "/api/user/api-keys", nil, alice))
	if bytes.Contains(res.Data, []byte("secret")) || bytes.Contains(res.Data, []byte(named.SecretKey)) {
		t.Fatalf("list shows a secret: %s", res.Data)
	}
	var list struct {
		List []apiKeyItem `json:"list"`
	}
	res.into(t, &list)
	if len(list.List) != 2 || list.List[0].APIKey != named.APIKey || list.List[0].LastUsedAt != "" {
		t.Fatalf("list %+v", list)
	}
	var paged listData
	e.mustOK(e.do("GET", "/api/user/api-keys?page=2&size=1", nil, alice)).into(t, &paged)
	if paged.Total != 2 || paged.Page != 2 || paged.Size != 1 || len(paged.List.([]any)) != 1 {
		t.Fatalf("page 2: %+v", paged)
	}
	e.mustOK(e.do("GET", "/api/user/api-keys?page=9", nil, alice)).into(t, &paged)
	if paged.Total != 2 || len(paged.List.([]any)) != 0 {
		t.Fatalf("past the end: %+v", paged)
	}
	e.wantError(e.do("GET", "/api/user/api-keys?size=x", nil, alice), 400)

	// Bob sees none of Alice's keys and cannot revoke them.
	e.mustOK(e.do("GET", "/api/user/api-keys", nil, bob)).into(t, &list)
	if len(list.List) != 0 {
		t.Fatalf("bob sees %+v", list)
	}
	e.wantError(e.do("DELETE", fmt.Sprintf("/api/user/api-keys/%d", named.ID), nil, bob), 404)
	e.wantError(e.do("DELETE", "/api/user/api-keys/999", nil, alice), 404)
	e.wantError(e.do("DELETE", "/api/user/api-keys/abc", nil, alice), 404)

	// The key works until revoked, then stops.
	ts := unixNow()
	hdr := map[string]string{"X-API-Key": named.APIKey, "X-Timestamp": ts, "X-Sign": legacySign(named, ts)}
	e.mustOK(e.signed("GET", "/api/user/profile", nil, "", hdr))
	e.mustOK(e.do("DELETE", fmt.Sprintf("/api/user/api-keys/%d", named.ID), nil, alice))
	e.wantError(e.signed("GET", "/api/user/profile", nil, "", hdr), 401)
	e.wantError(e.do("DELETE", fmt.Sprintf("/api/user/api-keys/%d", named.ID), nil, alice), 404)
	e.mustOK(e.do("GET", "/api/user/api-keys", nil, alice)).into(t, &list)
	if len(list.List) != 1 || list.List[0].ID != unnamed.ID {
		t.Fatalf("after revoke %+v", list)
	}
}

func TestAPIKeyLimit(t *testing.T) {
	e := newTestEnv(t)
	id, tok := e.createUser("alice", false)
	for i := range maxAPIKeys {
		if _, err := e.store.CreateAPIKey(context.Background(), id, "", fmt.Sprintf("key%d", i), "s"); err != nil {
			t.Fatal(err)
		}
	}
	e.wantError(e.do("POST", "/api/user/api-keys", nil, tok), 409)
}

func TestLegacySignature(t *testing.T) {
	e := newTestEnv(t)
	uid, tok := e.createUser("alice", false)
	k := e.createKey(tok, "")
	other := e.createKey(tok, "")
	ts := unixNow()
	old := strconv.FormatInt(time.Now().Add(-301*time.Second).Unix(), 10)
	// The server reads its clock after this: one second boundary in between
	// brings 301 s ahead to 300, inside the window. A minute ahead stays
	// outside; TestTimestampWindowEdges checks the exact edges.
	future := strconv.FormatInt(time.Now().Add(361*time.Second).Unix(), 10)
	cases := map[string]map[string]string{
		"no timestamp":       {"X-API-Key": k.APIKey, "X-Sign": legacySign(k, ts)},
		"no sign":            {"X-API-Key": k.APIKey, "X-Timestamp": ts},
		"stale":              {"X-API-Key": k.APIKey, "X-Timestamp": old, "X-Sign": legacySign(k, old)},
		"future":             {"X-API-Key": k.APIKey, "X-Timestamp": future, "X-Sign": legacySign(k, future)},
		"timestamp not int":  {"X-API-Key": k.APIKey, "X-Timestamp": ts + ".0", "X-Sign": legacySign(k, ts+".0")},
		"timestamp signed +": {"X-API-Key": k.APIKey, "X-Timestamp": "+" + ts, "X-Sign": legacySign(k, "+"+ts)},
		"unknown key":        {"X-API-Key": "nope", "X-Timestamp": ts, "X-Sign": legacySign(apiKeyPair{APIKey: "nope", SecretKey: k.SecretKey}, ts)},
		"wrong secret":       {"X-API-Key": k.APIKey, "X-Timestamp": ts, "X-Sign": legacySign(apiKeyPair{APIKey: k.APIKey, SecretKey: other.SecretKey}, ts)},
		"other ts in sign":   {"X-API-Key": k.APIKey, "X-Timestamp": ts, "X-Sign": legacySign(k, old)},
		"sign not hex":       {"X-API-Key": k.APIKey, "X-Timestamp": ts, "X-Sign": "zz" + legacySign(k, ts)[2:]},
		"sign truncated":     {"X-API-Key": k.APIKey, "X-Timestamp": ts, "X-Sign": legacySign(k, ts)[:40]},
	}
	for name, hdr := range cases {
		e.run(t, name, func(t *testing.T) {
			e.wantError(e.signed("GET", "/api/user/profile", nil, "", hdr), 401)
		})
	}
	// Two calls in the same second with the same headers both pass, and the
	// key acts as its owner.
	hdr := map[string]string{"X-API-Key": k.APIKey, "X-Timestamp": ts, "X-Sign": legacySign(k, ts)}
	var p profile
	e.mustOK(e.signed("GET", "/api/user/profile", nil, "", hdr)).into(t, &p)
	e.mustOK(e.signed("GET", "/api/user/profile", nil, "", hdr))
	if p.ID != uid {
		t.Fatalf("acted as %d, want %d", p.ID, uid)
	}
	// Upper-case hex is the same signature.
	hdr["X-Sign"] = strings.ToUpper(hdr["X-Sign"])
	e.mustOK(e.signed("GET", "/api/user/profile", nil, "", hdr))
	// Edges of the window pass.
	edge := strconv.FormatInt(time.Now().Add(-290*time.Second).Unix(), 10)
	e.mustOK(e.signed("GET", "/api/user/profile", nil, "", map[string]string{"X-API-Key": k.APIKey, "X-Timestamp": edge, "X-Sign": legacySign(k, edge)}))
	// A bad key is a 401 even on routes that need no auth.
	e.wantError(e.signed("GET", "/api/videos", nil, "", cases["wrong secret"]), 401)

	// last_used_at is stamped.
	var list struct {
		List []apiKeyItem `json:"list"`
	}
	e.mustOK(e.do("GET", "/api/user/api-keys", nil, tok)).into(t, &list)
	if list.List[0].LastUsedAt == "" || list.List[1].LastUsedAt != "" {
		t.Fatalf("last used %+v", list.List)
	}
}

// The window is 300 s either side of the server's clock, edges included.
func TestTimestampWindowEdges(t *testing.T) {
	now := time.Unix(1_700_000_000, 999_000_000)
	for _, c := range []struct {
		ts   string
		want bool
	}{
		{"1699999699", false}, {"1699999700", true}, {"1700000000", true}, {"1700000300", true}, {"1700000301", false},
		{"", false}, {"+1700000000", false}, {"1700000000.0", false}, {"-1", false}, {"1700000000000", false},
	} {
		if _, ok := parseTimestamp(c.ts, now); ok != c.want {
			t.Errorf("timestamp %q at %d: fresh %v, want %v", c.ts, now.Unix(), ok, c.want)
		}
	}
}

func TestStrongSignature(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	k := e.createKey(tok, "")
	other := e.createKey(tok, "")
	body := []byte(`{"nickname":"signed"}`)
	path := "/api/user/profile"
	n := 0
	nonce := func() string { n++; return fmt.Sprintf("nonce-%016d", n) }
	hdr := func(k apiKeyPair, method, path, ts, nonce string, body []byte) map[string]string {
		return map[string]string{"X-API-Key": k.APIKey, "X-Timestamp": ts, "X-Nonce": nonce,
			"X-Sign": strongSign(k, method, path, ts, nonce, body)}
	}
	ts := unixNow()
	old := strconv.FormatInt(time.Now().Add(-301*time.Second).Unix(), 10)
	bad := []struct {
		name string
		hdr  map[string]string
		body []byte
	}{
		{"stale", hdr(k, "PUT", path, old, nonce(), body), body},
		{"short nonce", hdr(k, "PUT", path, ts, "short", body), body},
		{"long nonce", hdr(k, "PUT", path, ts, strings.Repeat("n", 65), body), body},
		{"nonce with space", hdr(k, "PUT", path, ts, "nonce with spaces!", body), body},
		{"wrong secret", hdr(apiKeyPair{APIKey: k.APIKey, SecretKey: other.SecretKey}, "PUT", path, ts, nonce(), body), body},
		{"other method", hdr(k, "POST", path, ts, nonce(), body), body},
		{"other path", hdr(k, "PUT", "/api/user/password", ts, nonce(), body), body},
		{"other body", hdr(k, "PUT", path, ts, nonce(), body), []byte(`{"nickname":"tampered"}`)},
		{"legacy sign with nonce", func() map[string]string {
			h := hdr(k, "PUT", path, ts, nonce(), body)
			h["X-Sign"] = legacySign(k, ts)
			return h
		}(), body},
	}
	for _, c := range bad {
		e.run(t, c.name, func(t *testing.T) {
			e.wantError(e.signed("PUT", path, c.body, "application/json", c.hdr), 401)
		})
	}
	var p profile
	e.mustOK(e.do("GET", path, nil, tok)).into(t, &p)
	if p.Nickname != "alice" {
		t.Fatalf("a rejected request changed the profile: %+v", p)
	}

	// A good one passes once; the handler still reads the body; a replay is
	// a 401, also with a fresh timestamp signed again by someone who saw it.
	good := hdr(k, "PUT", path, ts, nonce(), body)
	e.mustOK(e.signed("PUT", path, body, "application/json", good)).into(t, &p)
	if p.Nickname != "signed" {
		t.Fatalf("handler did not see the body: %+v", p)
	}
	e.wantError(e.signed("PUT", path, body, "application/json", good), 401)
	// The same nonce on another key is fine.
	e.mustOK(e.signed("PUT", path, body, "application/json", hdr(other, "PUT", path, ts, good["X-Nonce"], body)))
	// The query string is not signed; GET with no body hashes the empty body.
	e.mustOK(e.signed("GET", "/api/videos?page=1&size=5", nil, "", hdr(k, "GET", "/api/videos", ts, nonce(), nil)))
	// A multipart body is hashed and replayed for the handler too.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "a.png")
	fw.Write(tinyPNG)
	mw.Close()
	var av struct {
		Avatar string `json:"avatar"`
	}
	e.mustOK(e.signed("POST", "/api/user/avatar", mp.Bytes(), mw.FormDataContentType(),
		hdr(k, "POST", "/api/user/avatar", ts, nonce(), mp.Bytes()))).into(t, &av)
	if !strings.HasPrefix(av.Avatar, "/avatars/") {
		t.Fatalf("avatar answer %+v", av)
	}
	// The spooled body left nothing in tmp.
	if left := dirEntries(t, e.data.Tmp()); len(left) != 0 {
		t.Fatalf("tmp not empty: %v", left)
	}
	// A JSON body over the cap is a 413 before the handler.
	big := bytes.Repeat([]byte(" "), maxJSONBody+1)
	e.wantError(e.signed("PUT", path, big, "application/json", hdr(k, "PUT", path, ts, nonce(), big)), 413)
}

func TestStrongSignatureUploadCap(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.createUser("alice", false)
	k := e.createKey(tok, "")
	set := e.store.Settings()
	set.MaxUploadBytes = 1000
	if err := e.store.SaveSettings(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1001)
	ts := unixNow()
	nonce := "0123456789abcdef"
	e.wantError(e.signed("POST", "/api/user/avatar", body, "application/octet-stream", map[string]string{
		"X-API-Key": k.APIKey, "X-Timestamp": ts, "X-Nonce": nonce,
		"X-Sign": strongSign(k, "POST", "/api/user/avatar", ts, nonce, body)}), 413)
}

func TestNoncePrune(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Hour).Unix()
	if err := e.store.UseNonce(ctx, 1, "expired-nonce-0001", past); err != nil {
		t.Fatal(err)
	}
	// An expired nonce may be used again even before pruning.
	if err := e.store.UseNonce(ctx, 1, "expired-nonce-0001", time.Now().Add(time.Minute).Unix()); err != nil {
		t.Fatalf("reuse after expiry: %v", err)
	}
	if err := e.store.UseNonce(ctx, 1, "expired-nonce-0001", time.Now().Add(time.Minute).Unix()); err == nil {
		t.Fatal("live nonce reused")
	}
	if err := e.store.UseNonce(ctx, 1, "expired-nonce-0002", past); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.pruneNonces(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := e.store.PruneNonces(ctx, time.Now().Add(2*time.Minute).Unix()); err != nil || n != 1 {
		t.Fatalf("left after prune: %d %v (want only the live one)", n, err)
	}
}

func TestAPIKeyOfDisabledUser(t *testing.T) {
	e := newTestEnv(t)
	id, tok := e.createUser("alice", false)
	k := e.createKey(tok, "")
	if err := e.store.SetUserDisabled(context.Background(), id, true); err != nil {
		t.Fatal(err)
	}
	ts := unixNow()
	e.wantError(e.signed("GET", "/api/user/profile", nil, "", map[string]string{
		"X-API-Key": k.APIKey, "X-Timestamp": ts, "X-Sign": legacySign(k, ts)}), 401)
}

// TestSignReferenceVector pins the scheme to fixed values so a change to
// the server's formula cannot pass unnoticed (the README shows these).
func TestSignReferenceVector(t *testing.T) {
	k := apiKeyPair{APIKey: "0123456789abcdef0123456789abcdef", SecretKey: "s3cr3t"}
	q := signedRequest{APIKey: k.APIKey, Secret: k.SecretKey, Timestamp: "1704067200"}
	if got, want := q.sign(), "785f20cb302af395ce12df0960b9ef50106482a7e675c2edfaeacccb46429a6d"; got != want || legacySign(k, "1704067200") != want {
		t.Fatalf("legacy %s != %s", got, want)
	}
	bh := sha256.Sum256([]byte(`{"a":1}`))
	q = signedRequest{APIKey: k.APIKey, Secret: k.SecretKey, Method: "POST", Path: "/api/x", Timestamp: "1704067200",
		Nonce: "abcdefghijklmnop", BodySHA256: bh[:]}
	want := "fe4a5d614f52ffa9bb67d811664e1fce82a7574ecbeda5b6aad896802cde16b4"
	if got := q.sign(); got != want || strongSign(k, "POST", "/api/x", "1704067200", "abcdefghijklmnop", []byte(`{"a":1}`)) != want {
		t.Fatalf("strong %s != %s", got, want)
	}
}

// BenchmarkAuth measures authenticating GET /api/user/profile end to end
// with each credential form.
func BenchmarkAuth(b *testing.B) {
	d, err := media.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	d.Init()
	st, err := store.Open(context.Background(), d.DB(), os.DirFS(migrationsDir(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	set := st.Settings()
	set.RateLimitRPS, set.RateLimitBurst = 0, 0
	st.SaveSettings(context.Background(), set)
	srv, err := New(context.Background(), Config{Store: st, Data: d, Transcoder: &fakeTranscoder{}})
	if err != nil {
		b.Fatal(err)
	}
	u, _ := st.CreateUser(context.Background(), store.NewUser{Username: "alice", PasswordHash: "x"})
	tok, _, _ := srv.issueToken(u)
	k, _ := st.CreateAPIKey(context.Background(), u.ID, "", "benchkey", "benchsecret")
	pair := apiKeyPair{APIKey: k.APIKey, SecretKey: k.SecretKey}
	run := func(b *testing.B, hdr func(i int) map[string]string) {
		for i := 0; b.Loop(); i++ {
			req := httptest.NewRequest("GET", "/api/user/profile", nil)
			for k, v := range hdr(i) {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	}
	b.Run("bearer", func(b *testing.B) {
		run(b, func(int) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} })
	})
	b.Run("legacy", func(b *testing.B) {
		run(b, func(int) map[string]string {
			ts := unixNow()
			return map[string]string{"X-API-Key": pair.APIKey, "X-Timestamp": ts, "X-Sign": legacySign(pair, ts)}
		})
	})
	b.Run("nonce", func(b *testing.B) {
		run(b, func(i int) map[string]string {
			ts, nonce := unixNow(), fmt.Sprintf("bench-nonce-%08d", i)
			return map[string]string{"X-API-Key": pair.APIKey, "X-Timestamp": ts, "X-Nonce": nonce,
				"X-Sign": strongSign(pair, "GET", "/api/user/profile", ts, nonce, nil)}
		})
	})
}
