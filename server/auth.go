package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"mika/store"
)

// tokenLifetime is how long a login token lives.
const tokenLifetime = 24 * time.Hour

type ctxKey int

const userKey ctxKey = iota

// currentUser is the authenticated user of the request, or nil.
func currentUser(r *http.Request) *store.User {
	u, _ := r.Context().Value(userKey).(*store.User)
	return u
}

func withUser(r *http.Request, u *store.User) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), userKey, u))
}

// tokenClaims are the JWT's claims. Ver is the user's token version: a
// password change or disabling bumps it and kills every earlier token.
type tokenClaims struct {
	Ver int64 `json:"ver"`
	jwt.RegisteredClaims
}

// issueToken signs a login token for u.
func (s *Server) issueToken(u *store.User) (string, int64, error) {
	now := time.Now()
	exp := now.Add(tokenLifetime)
	claims := tokenClaims{
		Ver: u.TokenVersion,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(u.ID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.jwtSecret)
	return tok, exp.Unix(), err
}

// userFromToken verifies a bearer token and loads its live user.
func (s *Server) userFromToken(ctx context.Context, raw string) (*store.User, error) {
	var c tokenClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return s.jwtSecret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		// Each token has one spelling: a signature whose unused last bits
		// were changed is refused, not read as the same bytes.
		jwt.WithStrictDecoding())
	if err != nil {
		return nil, errUnauthorized
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil {
		return nil, errUnauthorized
	}
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled || u.TokenVersion != c.Ver {
		return nil, errUnauthorized
	}
	return u, nil
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate resolves the caller from a Bearer token or an API key
// signature. No credentials: nil user, no error. Bad credentials: 401.
func (s *Server) authenticate(r *http.Request) (*store.User, error) {
	if tok := bearer(r); tok != "" {
		return s.userFromToken(r.Context(), tok)
	}
	if r.Header.Get("X-API-Key") != "" {
		return s.userFromAPIKey(r)
	}
	return nil, nil
}

// optionalAuth attaches the caller when credentials are present; bad
// credentials are still a 401.
func (s *Server) optionalAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.authenticate(r)
		if sb, ok := r.Body.(*spooledBody); ok {
			defer sb.Close() // the strong signing form spooled the body
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if u != nil {
			s.noteActive(r.Context(), u)
			r = withUser(r, u)
		}
		next.ServeHTTP(w, r)
	})
}

// requireAuth answers 401 unless the caller is authenticated.
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return s.optionalAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) == nil {
			s.writeError(w, r, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// requireAdmin answers 401 without credentials and 403 for non-admins.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return s.requireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !currentUser(r).IsAdmin() {
			s.writeError(w, r, errForbidden)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// passwordCost is bcrypt's cost for new hashes. Tests lower it: at the
// default, hashing dominates the package's test time.
var passwordCost = bcrypt.DefaultCost

// hashPassword hashes with bcrypt at passwordCost.
func hashPassword(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), passwordCost)
	return string(b), err
}

// HashPassword is hashPassword for the command line.
func HashPassword(pw string) (string, error) { return hashPassword(pw) }

// dummyHash is compared against when a username is unknown, so both
// failures take the same time. It is a literal (bcrypt of
// "mika-dummy-password" at DefaultCost): hashing it in the package's init
// cost every start ~70 ms of CPU, several times that on a busy machine,
// before main could even open the database.
var dummyHash = []byte("$2a$10$EqRYA9gNQ.pbDUshgF44nu5Phylftm6fAN0kPEYfwgpstmn65ywKG")

func checkPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
