package store

import (
	"context"
	"errors"
	"testing"
)

func TestCreateUserWithInvite(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	admin, err := s.CreateUser(ctx, NewUser{Username: "root", PasswordHash: "x", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateInvite(ctx, "CODE1", admin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUserWithInvite(ctx, NewUser{Username: "joe", PasswordHash: "x"}, "NOPE"); !errors.Is(err, ErrInviteInvalid) {
		t.Fatalf("unknown code: %v", err)
	}
	// A taken name leaves the code unused.
	if _, err := s.CreateUserWithInvite(ctx, NewUser{Username: "ROOT", PasswordHash: "x"}, "CODE1"); !errors.Is(err, ErrConflict) {
		t.Fatalf("taken name: %v", err)
	}
	u, err := s.CreateUserWithInvite(ctx, NewUser{Username: "joe", PasswordHash: "x", Email: "j@example.com"}, "CODE1")
	if err != nil || u.Username != "joe" || u.Email != "j@example.com" || u.Role != "user" {
		t.Fatalf("with code: %+v %v", u, err)
	}
	if _, err := s.CreateUserWithInvite(ctx, NewUser{Username: "ann", PasswordHash: "x"}, "CODE1"); !errors.Is(err, ErrInviteInvalid) {
		t.Fatalf("used code: %v", err)
	}
	// The failed attempts rolled back their inserts.
	if _, err := s.UserByUsername(ctx, "ann"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ann exists: %v", err)
	}
	if n, _ := s.CountUsers(ctx); n != 2 {
		t.Fatalf("users %d", n)
	}
	list, _, _ := s.ListInvites(ctx, 10, 0)
	if list[0].UsedBy != u.ID || list[0].UsedAt == 0 {
		t.Fatalf("invite %+v", list[0])
	}
}

func TestUpdateProfileOrphans(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	a, _ := s.CreateUser(ctx, NewUser{Username: "ann", PasswordHash: "x"})
	b, _ := s.CreateUser(ctx, NewUser{Username: "bob", PasswordHash: "x"})
	str := func(v string) *string { return &v }
	if _, _, err := s.UpdateProfile(ctx, 99, ProfileUpdate{Nickname: str("x")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	u, orphan, err := s.UpdateProfile(ctx, a.ID, ProfileUpdate{Avatar: str("/avatars/a.png"), Nickname: str("Ann")})
	if err != nil || orphan != "" || u.Avatar != "/avatars/a.png" || u.Nickname != "Ann" || u.Email != "" {
		t.Fatalf("first: %+v %q %v", u, orphan, err)
	}
	s.UpdateProfile(ctx, b.ID, ProfileUpdate{Avatar: str("/avatars/a.png")})
	if _, orphan, _ = s.UpdateProfile(ctx, a.ID, ProfileUpdate{Avatar: str("/avatars/b.png")}); orphan != "" {
		t.Fatalf("shared avatar reported orphan %q", orphan)
	}
	if _, orphan, _ = s.UpdateProfile(ctx, b.ID, ProfileUpdate{Avatar: str("")}); orphan != "/avatars/a.png" {
		t.Fatalf("orphan %q", orphan)
	}
	// Leaving the avatar out, or setting the same one, orphans nothing.
	if u, orphan, _ = s.UpdateProfile(ctx, a.ID, ProfileUpdate{Email: str("a@example.com")}); orphan != "" || u.Avatar != "/avatars/b.png" {
		t.Fatalf("left out: %+v %q", u, orphan)
	}
	if _, orphan, _ = s.UpdateProfile(ctx, a.ID, ProfileUpdate{Avatar: str("/avatars/b.png")}); orphan != "" {
		t.Fatalf("same: %q", orphan)
	}
}

func TestSetUserDisabled(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, NewUser{Username: "ann", PasswordHash: "x"})
	if err := s.SetUserDisabled(ctx, 99, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if err := s.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	got, _ := s.UserByID(ctx, u.ID)
	if !got.Disabled || got.TokenVersion != u.TokenVersion+1 {
		t.Fatalf("disabled: %+v", got)
	}
	if err := s.SetUserDisabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByID(ctx, u.ID)
	if got.Disabled || got.TokenVersion != u.TokenVersion+1 {
		t.Fatalf("enabled: %+v", got)
	}
}
