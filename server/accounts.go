package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

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

// setup creates the first admin while no user exists. Once one exists the
// endpoint is closed: it answers 403 whatever the body, as register does
// when registration is closed.
func (s *Server) setup(w http.ResponseWriter, r *http.Request) error {
	n, err := s.store.CountUsers(r.Context())
	if err != nil {
		return err
	}
	if n > 0 {
		return &APIError{Code: http.StatusForbidden, Message: "setup is already done"}
	}
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

// register creates an account by the register_mode setting: open (any
// invite_code is ignored), invite (a valid unused code is required and is
// consumed with the insert) or closed (403).
func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	mode := s.store.Settings().RegisterMode
	if mode == "closed" {
		return &APIError{Code: http.StatusForbidden, Message: "registration is closed"}
	}
	var in struct {
		Username   string `json:"username"`
		Password   string `json:"password"`
		Email      string `json:"email"`
		InviteCode string `json:"invite_code"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	in.Email = strings.TrimSpace(in.Email)
	code := strings.ToUpper(strings.TrimSpace(in.InviteCode))
	errs := map[string]string{}
	validateUsername(in.Username, errs)
	validatePassword(in.Password, errs)
	validateEmail(in.Email, errs)
	if mode == "invite" && code == "" {
		errs["invite_code"] = "is required"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	hash, err := hashPassword(in.Password)
	if err != nil {
		return err
	}
	n := store.NewUser{Username: in.Username, PasswordHash: hash, Email: in.Email}
	var u *store.User
	if mode == "invite" {
		u, err = s.store.CreateUserWithInvite(r.Context(), n, code)
	} else {
		u, err = s.store.CreateUser(r.Context(), n)
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		return errConflict("username is taken", map[string]string{"username": "is taken"})
	case errors.Is(err, store.ErrInviteInvalid):
		return errField("invite_code", "is unknown or already used")
	case err != nil:
		return err
	}
	s.log.Info("user registered", slog.Int64("user_id", u.ID), slog.String("username", u.Username))
	s.noteActive(r.Context(), u)
	return s.loginAnswer(w, u)
}

// updateProfile changes nickname, avatar and email; fields left out keep
// their values.
func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Nickname *string `json:"nickname"`
		Avatar   *string `json:"avatar"`
		Email    *string `json:"email"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	u := currentUser(r)
	errs := map[string]string{}
	if in.Nickname != nil {
		nick := strings.TrimSpace(*in.Nickname)
		switch {
		case utf8.RuneCountInString(nick) > 50:
			errs["nickname"] = "must be at most 50 characters"
		case strings.IndexFunc(nick, unicode.IsControl) >= 0:
			errs["nickname"] = "may not contain control characters"
		case nick == "":
			nick = u.Username
		}
		in.Nickname = &nick
	}
	if in.Email != nil {
		email := strings.TrimSpace(*in.Email)
		validateEmail(email, errs)
		in.Email = &email
	}
	if in.Avatar != nil && *in.Avatar != "" && !validAvatarPath(*in.Avatar) {
		errs["avatar"] = "must be an /avatars/ path or empty"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	nu, orphan, err := s.store.UpdateProfile(r.Context(), u.ID,
		store.ProfileUpdate{Nickname: in.Nickname, Email: in.Email, Avatar: in.Avatar})
	if err != nil {
		return err
	}
	s.removeAvatar(r.Context(), orphan)
	return ok(w, profileOf(nu))
}

// changePassword checks the old password and sets a new one. Every earlier
// token dies; the answer carries a fresh one so the caller stays signed in.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		OldPassword string `json:"old_password"`
		NewPassword string `json:"new_password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	errs := map[string]string{}
	if in.OldPassword == "" {
		errs["old_password"] = "is required"
	}
	validatePassword(in.NewPassword, errs)
	if why, bad := errs["password"]; bad {
		delete(errs, "password")
		errs["new_password"] = why
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	u := currentUser(r)
	if !checkPassword(u.PasswordHash, in.OldPassword) {
		return errField("old_password", "is wrong")
	}
	hash, err := hashPassword(in.NewPassword)
	if err != nil {
		return err
	}
	if err := s.store.SetPassword(r.Context(), u.ID, hash); err != nil {
		return err
	}
	nu, err := s.store.UserByID(r.Context(), u.ID)
	if err != nil {
		return err
	}
	s.log.Info("password changed", slog.Int64("user_id", u.ID))
	return s.loginAnswer(w, nu)
}

// validateEmail: one plain address (no display name), at most 254 bytes.
func validateEmail(email string, errs map[string]string) {
	if email == "" {
		errs["email"] = "is required"
		return
	}
	a, err := mail.ParseAddress(email)
	at := strings.LastIndexByte(email, '@')
	if err != nil || a.Address != email || len(email) > 254 || at < 1 || !strings.Contains(email[at:], ".") ||
		strings.ContainsAny(email, " \t\r\n<>\"") {
		errs["email"] = "must be a valid email address"
	}
}
