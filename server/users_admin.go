package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"mika/store"
)

// adminUser is a user as the admin list shows it.
type adminUser struct {
	ID           int64  `json:"id"`
	Username     string `json:"username"`
	Nickname     string `json:"nickname"`
	Email        string `json:"email"`
	Avatar       string `json:"avatar"`
	Role         string `json:"role"`
	VIPLevel     int    `json:"vip_level"`
	VIPExpire    string `json:"vip_expire"`
	Points       int64  `json:"points"`
	Disabled     bool   `json:"disabled"`
	CreatedAt    string `json:"created_at"`
	LastActiveAt string `json:"last_active_at"`
}

func adminUserOf(u *store.User) adminUser {
	return adminUser{ID: u.ID, Username: u.Username, Nickname: u.Nickname, Email: u.Email, Avatar: u.Avatar,
		Role: u.Role, VIPLevel: u.VIPLevel, VIPExpire: u.VIPExpire, Points: u.Points, Disabled: u.Disabled,
		CreatedAt: store.FormatTime(u.CreatedAt), LastActiveAt: store.FormatTime(u.LastActiveAt)}
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	errs := map[string]string{}
	p := parsePage(r, errs)
	keyword := strings.TrimSpace(r.URL.Query().Get("keyword"))
	if len(keyword) > 100 {
		errs["keyword"] = "must be at most 100 characters"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	users, total, err := s.store.ListUsers(r.Context(), keyword, p.Size, p.Offset())
	if err != nil {
		return err
	}
	list := make([]adminUser, len(users))
	for i, u := range users {
		list[i] = adminUserOf(u)
	}
	return ok(w, pageOf(p, list, total))
}

type userUpdate struct {
	Role      *string `json:"role"`
	VIPLevel  *int    `json:"vip_level"`
	VIPExpire *string `json:"vip_expire"`
	Points    *int64  `json:"points"`
	Disabled  *bool   `json:"disabled"`
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	// A user who does not exist is a 404 whatever the body says.
	if _, err := s.store.UserByID(r.Context(), id); err != nil {
		return err
	}
	var in userUpdate
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	errs := map[string]string{}
	if in.Role != nil && *in.Role != "admin" && *in.Role != "user" {
		errs["role"] = "must be admin or user"
	}
	if in.VIPLevel != nil && (*in.VIPLevel < 0 || *in.VIPLevel > 10) {
		errs["vip_level"] = "must be between 0 and 10"
	}
	if in.VIPExpire != nil && *in.VIPExpire != "" {
		if _, err := time.Parse(store.DateFormat, *in.VIPExpire); err != nil {
			errs["vip_expire"] = "must be a date YYYY-MM-DD or empty"
		}
	}
	if in.Points != nil && *in.Points < 0 {
		errs["points"] = "must be at least 0"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	u, err := s.store.UpdateUserAdmin(r.Context(), id, store.UserAdminUpdate{Role: in.Role, VIPLevel: in.VIPLevel,
		VIPExpire: in.VIPExpire, Points: in.Points, Disabled: in.Disabled})
	if errors.Is(err, store.ErrLastAdmin) {
		return errConflict("the last enabled admin cannot be demoted or disabled", nil)
	}
	if err != nil {
		return err
	}
	s.log.Info("user changed by admin", slog.Int64("user_id", u.ID), slog.String("role", u.Role),
		slog.Bool("disabled", u.Disabled), slog.String("by", currentUser(r).Username))
	return ok(w, adminUserOf(u))
}
