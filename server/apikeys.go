package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mika/store"
)

// API keys sign requests in one of two forms (SPEC §3):
//
//	legacy: X-Sign = hex(sha256(api_key + timestamp + secret_key))
//	strong: X-Nonce present, X-Sign = hex(HMAC-SHA256(secret_key,
//	        METHOD "\n" path "\n" timestamp "\n" nonce "\n" hex(sha256(body))))
//
// The legacy form is the original document's and is replayable within the
// window; the strong form binds the request and is accepted once per nonce.

const (
	// signWindow is how far X-Timestamp may be from the server clock.
	signWindow = 300 * time.Second
	// maxAPIKeys is how many live keys one user may hold.
	maxAPIKeys = 50
	// keyTouchEvery is how stale last_used_at may get before a call stamps it.
	keyTouchEvery = time.Minute
)

// signedRequest is everything a signature covers.
type signedRequest struct {
	APIKey, Secret   string
	Method, Path     string
	Timestamp, Nonce string // Nonce "" is the legacy form
	BodySHA256       []byte // sha256 of the body; strong form only
}

// sign computes the request's signature as lowercase hex.
func (q signedRequest) sign() string {
	if q.Nonce == "" {
		sum := sha256.Sum256([]byte(q.APIKey + q.Timestamp + q.Secret))
		return hex.EncodeToString(sum[:])
	}
	m := hmac.New(sha256.New, []byte(q.Secret))
	m.Write([]byte(q.Method + "\n" + q.Path + "\n" + q.Timestamp + "\n" + q.Nonce + "\n" + hex.EncodeToString(q.BodySHA256)))
	return hex.EncodeToString(m.Sum(nil))
}

// verifySign reports whether got is q's signature, comparing in constant
// time. got is hex; its letter case does not matter.
func verifySign(q signedRequest, got string) bool {
	raw, err := hex.DecodeString(got)
	if err != nil || len(raw) != sha256.Size {
		return false
	}
	want, _ := hex.DecodeString(q.sign())
	return hmac.Equal(raw, want)
}

// parseTimestamp reads X-Timestamp (decimal Unix seconds) and checks it is
// within signWindow of now.
func parseTimestamp(v string, now time.Time) (int64, bool) {
	if v == "" || len(v) > 12 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	ts, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	d := now.Unix() - ts
	if d < 0 {
		d = -d
	}
	return ts, d <= int64(signWindow/time.Second)
}

// validNonce: 16–64 visible ASCII characters.
func validNonce(n string) bool {
	if len(n) < 16 || len(n) > 64 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x21 || n[i] > 0x7e {
			return false
		}
	}
	return true
}

func errKey(msg string) *APIError { return &APIError{Code: http.StatusUnauthorized, Message: msg} }

// userFromAPIKey authenticates a request signed with an API key and returns
// the key's owner. Every failure is a 401.
func (s *Server) userFromAPIKey(r *http.Request) (*store.User, error) {
	ctx := r.Context()
	apiKey, tsRaw, got := r.Header.Get("X-API-Key"), r.Header.Get("X-Timestamp"), r.Header.Get("X-Sign")
	nonces, strong := r.Header["X-Nonce"]
	if tsRaw == "" || got == "" {
		return nil, errKey("X-API-Key needs X-Timestamp and X-Sign")
	}
	ts, fresh := parseTimestamp(tsRaw, time.Now())
	if !fresh {
		return nil, errKey("X-Timestamp must be Unix seconds within 300 seconds of the server clock")
	}
	nonce := ""
	if strong {
		nonce = nonces[0]
		if len(nonces) != 1 || !validNonce(nonce) {
			return nil, errKey("X-Nonce must be 16–64 visible ASCII characters")
		}
	}
	k, err := s.store.APIKeyByKey(ctx, apiKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errKey("invalid API key")
	}
	if err != nil {
		return nil, err
	}
	if k.Revoked {
		return nil, errKey("invalid API key")
	}
	q := signedRequest{APIKey: k.APIKey, Secret: k.SecretKey, Method: r.Method, Path: r.URL.Path,
		Timestamp: tsRaw, Nonce: nonce}
	if strong {
		if q.BodySHA256, err = s.hashBody(r); err != nil {
			return nil, err
		}
	}
	if !verifySign(q, got) {
		return nil, errKey("invalid signature")
	}
	u, err := s.store.UserByID(ctx, k.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errKey("invalid API key")
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, errKey("this account is disabled")
	}
	if strong {
		// The nonce lives as long as a replay of this request could pass
		// the timestamp check.
		err := s.store.UseNonce(ctx, k.ID, nonce, ts+int64(signWindow/time.Second)+1)
		if errors.Is(err, store.ErrConflict) {
			return nil, errKey("X-Nonce was already used")
		}
		if err != nil {
			return nil, err
		}
	}
	if t := time.Now().Unix(); t-k.LastUsedAt >= int64(keyTouchEvery/time.Second) {
		if err := s.store.TouchAPIKey(ctx, k.ID, t); err != nil {
			s.log.Warn("touch api key", slog.Int64("key_id", k.ID), slog.Any("err", err))
		}
	}
	return u, nil
}

// hashBody hashes the request body for the strong signing form and puts an
// identical body back for the handler. A JSON body is read into memory under
// the JSON cap; a multipart or other binary body (uploads) is spooled
// through an unlinked file in the data folder's tmp, under the upload cap
// (max_upload_bytes, 0 = none). Past the cap it answers 413.
func (s *Server) hashBody(r *http.Request) ([]byte, error) {
	h := sha256.New()
	if r.Body == nil || r.Body == http.NoBody {
		return h.Sum(nil), nil
	}
	if !isUploadBody(r) {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
		if err != nil {
			return nil, errBadRequest("could not read the request body", map[string]string{"body": "could not be read"})
		}
		if len(b) > maxJSONBody {
			return nil, errBodyTooLarge
		}
		h.Write(b)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(b))
		return h.Sum(nil), nil
	}
	f, err := os.CreateTemp(s.data.Tmp(), "signed-body-*")
	if err != nil {
		return nil, fmt.Errorf("spool body: %w", err)
	}
	// Unlinked at once: the open file stays readable, and a crash leaves nothing.
	os.Remove(f.Name())
	var src io.Reader = r.Body
	limit := s.store.Settings().MaxUploadBytes
	if limit > 0 {
		src = io.LimitReader(r.Body, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if err == nil && limit > 0 && n > limit {
		err = errBodyTooLarge
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		var ae *APIError
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, fmt.Errorf("spool body: %w", err)
	}
	r.Body.Close()
	r.Body = &spooledBody{f}
	return h.Sum(nil), nil
}

// spooledBody is a request body replayed from an unlinked file; optionalAuth
// closes it once the handler is done.
type spooledBody struct{ *os.File }

var errBodyTooLarge = &APIError{Code: http.StatusRequestEntityTooLarge, Message: "request body too large"}

// isUploadBody reports whether the body is a file upload rather than JSON.
func isUploadBody(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return strings.HasPrefix(mt, "multipart/") || mt == "application/octet-stream"
}

// pruneNonces forgets nonces whose replay window is over.
func (s *Server) pruneNonces(ctx context.Context) error {
	n, err := s.store.PruneNonces(ctx, time.Now().Unix())
	if n > 0 {
		s.log.Debug("pruned nonces", slog.Int64("count", n))
	}
	return err
}

// apiKeyItem is a key in the list: never the secret.
type apiKeyItem struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	APIKey     string `json:"api_key"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
}

// listAPIKeys lists the caller's live keys, oldest first, in the API's list
// shape. A user holds at most maxAPIKeys, so paging happens here.
func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	errs := map[string]string{}
	p := parsePage(r, errs)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	keys, err := s.store.ListAPIKeys(r.Context(), currentUser(r).ID)
	if err != nil {
		return err
	}
	list := []apiKeyItem{}
	lo, hi := p.Bounds(len(keys))
	for _, k := range keys[lo:hi] {
		list = append(list, apiKeyItem{ID: k.ID, Name: k.Name, APIKey: k.APIKey,
			CreatedAt: store.FormatTime(k.CreatedAt), LastUsedAt: store.FormatTime(k.LastUsedAt)})
	}
	return ok(w, pageOf(p, list, int64(len(keys))))
}

// newAPIKey is the create answer, the one time the secret is shown.
type newAPIKey struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	APIKey    string `json:"api_key"`
	SecretKey string `json:"secret_key"`
	CreatedAt string `json:"created_at"`
}

// createAPIKey makes a key pair; the body {"name"} is optional.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if utf8.RuneCountInString(in.Name) > 50 {
		return errField("name", "must be at most 50 characters")
	}
	u := currentUser(r)
	n, err := s.store.CountAPIKeys(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if n >= maxAPIKeys {
		return errConflict(fmt.Sprintf("at most %d API keys; revoke one first", maxAPIKeys), nil)
	}
	apiKey, err := randomHex(16)
	if err != nil {
		return err
	}
	secret, err := randomHex(32)
	if err != nil {
		return err
	}
	k, err := s.store.CreateAPIKey(r.Context(), u.ID, in.Name, apiKey, secret)
	if err != nil {
		return err
	}
	s.log.Info("api key created", slog.Int64("user_id", u.ID), slog.Int64("key_id", k.ID))
	return ok(w, newAPIKey{ID: k.ID, Name: k.Name, APIKey: k.APIKey, SecretKey: k.SecretKey,
		CreatedAt: store.FormatTime(k.CreatedAt)})
}

// revokeAPIKey revokes one of the caller's keys; anyone else's is a 404.
func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u := currentUser(r)
	if err := s.store.RevokeAPIKey(r.Context(), u.ID, id); err != nil {
		return err
	}
	s.log.Info("api key revoked", slog.Int64("user_id", u.ID), slog.Int64("key_id", id))
	return ok(w, nil)
}

// decodeOptionalJSON is decodeJSON for a body that may be left out: an
// empty body leaves dst as it is.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		return jsonError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decodeJSON(w, r, dst)
}
