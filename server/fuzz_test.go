package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzVerifySignature: verifySign never panics, accepts the right
// signature (in either letter case) and nothing else.
func FuzzVerifySignature(f *testing.F) {
	f.Add("0123456789abcdef0123456789abcdef", "s3cr3t", "GET", "/api/videos", "1704067200", "", []byte(nil), "")
	f.Add("k", "s", "POST", "/api/x", "1704067200", "abcdefghijklmnop", []byte(`{"a":1}`),
		"fe4a5d614f52ffa9bb67d811664e1fce82a7574ecbeda5b6aad896802cde16b4")
	f.Add("k", "s", "PUT", "/", "1", "nonce-nonce-nonce", []byte("x"), "zz")
	f.Add("", "", "", "", "", "", []byte{}, strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, apiKey, secret, method, path, ts, nonce string, body []byte, got string) {
		q := signedRequest{APIKey: apiKey, Secret: secret, Method: method, Path: path, Timestamp: ts, Nonce: nonce}
		if nonce != "" {
			sum := sha256.Sum256(body)
			q.BodySHA256 = sum[:]
		}
		right := q.sign()
		if nonce == "" {
			sum := sha256.Sum256([]byte(apiKey + ts + secret))
			if right != hex.EncodeToString(sum[:]) {
				t.Fatalf("legacy sign is not sha256(api_key + timestamp + secret_key)")
			}
		}
		if !verifySign(q, right) || !verifySign(q, strings.ToUpper(right)) {
			t.Fatalf("right sign %s refused", right)
		}
		if accepted, want := verifySign(q, got), strings.EqualFold(got, right); accepted != want {
			t.Fatalf("verifySign(%q) = %v, right is %s", got, accepted, right)
		}
		// Any single changed character is refused.
		i := len(got) % len(right)
		flipped := []byte(right)
		flipped[i] = "1032547698badcfe"[strings.IndexByte("0123456789abcdef", flipped[i])]
		if verifySign(q, string(flipped)) {
			t.Fatalf("altered sign %s accepted", flipped)
		}
	})
}

// decodeTarget has a field of every kind a request body uses.
type decodeTarget struct {
	Name   string            `json:"name"`
	N      int               `json:"n"`
	ID     int64             `json:"id"`
	F      float64           `json:"f"`
	On     *bool             `json:"on"`
	Nick   *string           `json:"nick"`
	Tags   []string          `json:"tags"`
	Ladder []int             `json:"ladder"`
	Inner  struct{ X int }   `json:"inner"`
	Map    map[string]string `json:"map"`
}

// FuzzDecodeJSON: decodeJSON never panics and answers nil or a 400/413
// API error.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"name":"x","n":1}`, `{"n":"1"}`, `{"n":1e400}`, `{"on":null}`,
		`{"tags":["a",1]}`, `{"inner":{"X":[]}}`, `{} {}`, `[1,2]`, `null`, `"str"`, `{"map":{"a":1}}`,
		`{"n":-9223372036854775809}`, "{\"name\":\"\xff\"}", `{"name":"a"} x`, `  {"id": 1}  `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := httptest.NewRequest("POST", "/api/x", bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		var dst decodeTarget
		err := decodeJSON(httptest.NewRecorder(), req, &dst)
		if err == nil {
			return
		}
		var ae *APIError
		if !errors.As(err, &ae) || (ae.Code != 400 && ae.Code != 413) {
			t.Fatalf("decodeJSON(%q) = %v", data, err)
		}
		if ae.Code == 400 && len(ae.Errors) == 0 {
			t.Fatalf("400 without errors for %q", data)
		}
	})
}
