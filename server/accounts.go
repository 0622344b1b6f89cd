package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"mika/store"
)

// userBrief is the user inside the login answer.
type userBrief struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Nickname string `json:"nickname"`
	Avatar   string `json:"avatar"`
	Role     string `json:"role"`
}

// profile is the profile answer: the document's fields plus role.
type profile struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Nickname  string `json:"nickname"`
	Email     string `json:"email"`
	Avatar    string `json:"avatar"`
	Role      string `json:"role"`
	VIPLevel  int    `json:"vip_level"`
	VIPExpire string `json:"vip_expire"`
	Points    int64  `json:"points"`
	CreatedAt string `json:"created_at"`
}

func profileOf(u *store.User) profile {
	return profile{ID: u.ID, Username: u.Username, Nickname: u.Nickname, Email: u.Email,
		Avatar: u.Avatar, Role: u.Role, VIPLevel: u.VIPLevel, VIPExpire: u.VIPExpire, Points: u.Points,
		CreatedAt: store.FormatTime(u.CreatedAt)}
}

type loginData struct {
	Token  string    `json:"token"`
	Expire int64     `json:"expire"`
	User   userBrief `json:"user"`
}

// loginAnswer issues a token for u in the login answer's shape.
func (s *Server) loginAnswer(w http.ResponseWriter, u *store.User) error {
	tok, exp, err := s.issueToken(u)
	if err != nil {
		return err
	}
	return ok(w, loginData{Token: tok, Expire: exp, User: userBrief{ID: u.ID, Username: u.Username,
		Nickname: u.Nickname, Avatar: u.Avatar, Role: u.Role}})
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// setup creates the first admin while no user exists.
func (s *Server) setup(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	errs := map[string]string{}
	validateUsername(in.Username, errs)
	validatePassword(in.Password, errs)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	n, err := s.store.CountUsers(r.Context())
	if err != nil {
		return err
	}
	if n > 0 {
		return &APIError{Code: http.StatusForbidden, Message: "setup is already done"}
	}
	hash, err := hashPassword(in.Password)
	if err != nil {
		return err
	}
	u, err := s.store.CreateFirstAdmin(r.Context(), store.NewUser{Username: in.Username, PasswordHash: hash})
	if errors.Is(err, store.ErrConflict) {
		return &APIError{Code: http.StatusForbidden, Message: "setup is already done"}
	}
	if err != nil {
		return err
	}
	s.log.Info("first admin created", "user_id", u.ID, "username", u.Username)
	return s.loginAnswer(w, u)
}

// login checks a username and password. Both failures answer the same.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	errs := map[string]string{}
	if strings.TrimSpace(in.Username) == "" {
		errs["username"] = "is required"
	}
	if in.Password == "" {
		errs["password"] = "is required"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	bad := &APIError{Code: http.StatusUnauthorized, Message: "wrong username or password"}
	u, err := s.store.UserByUsername(r.Context(), in.Username)
	if errors.Is(err, store.ErrNotFound) {
		checkPassword(string(dummyHash), in.Password)
		return bad
	}
	if err != nil {
		return err
	}
	if !checkPassword(u.PasswordHash, in.Password) {
		return bad
	}
	if u.Disabled {
		return &APIError{Code: http.StatusUnauthorized, Message: "this account is disabled"}
	}
	s.noteActive(r.Context(), u)
	return s.loginAnswer(w, u)
}

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request) error {
	return ok(w, profileOf(currentUser(r)))
}

// validateUsername: 3–32 of [A-Za-z0-9_].
func validateUsername(name string, errs map[string]string) {
	if len(name) < 3 || len(name) > 32 {
		errs["username"] = "must be 3–32 characters"
		return
	}
	for _, c := range name {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			errs["username"] = "may contain only letters, digits and _"
			return
		}
	}
}

// validatePassword: at least 8 characters, at most 72 bytes (bcrypt's limit).
func validatePassword(pw string, errs map[string]string) {
	switch {
	case len([]rune(pw)) < 8:
		errs["password"] = "must be at least 8 characters"
	case len(pw) > 72:
		errs["password"] = "must be at most 72 bytes"
	}
}

// ValidateUsername checks a username by the API's rule, for the command line.
func ValidateUsername(name string) error {
	errs := map[string]string{}
	validateUsername(name, errs)
	if why, bad := errs["username"]; bad {
		return fmt.Errorf("username %s", why)
	}
	return nil
}
