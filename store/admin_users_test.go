package store

import (
	"context"
	"errors"
	"testing"
)

func TestUpdateUserAdminKeepsAnAdmin(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	admin, _ := s.CreateUser(ctx, NewUser{Username: "root", PasswordHash: "x", Role: "admin"})
	user, _ := s.CreateUser(ctx, NewUser{Username: "joe", PasswordHash: "x"})
	role := func(r string) *string { return &r }
	yes, no := true, false

	if _, err := s.UpdateUserAdmin(ctx, 99, UserAdminUpdate{Disabled: &yes}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	for _, u := range []UserAdminUpdate{{Role: role("user")}, {Disabled: &yes}} {
		if _, err := s.UpdateUserAdmin(ctx, admin.ID, u); !errors.Is(err, ErrLastAdmin) {
			t.Fatalf("last admin %+v: %v", u, err)
		}
	}
	// A second admin that is disabled does not count.
	second, _ := s.CreateUser(ctx, NewUser{Username: "two", PasswordHash: "x", Role: "admin"})
	if _, err := s.UpdateUserAdmin(ctx, second.ID, UserAdminUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUserAdmin(ctx, admin.ID, UserAdminUpdate{Role: role("user")}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("disabled admin counted: %v", err)
	}
	if _, err := s.UpdateUserAdmin(ctx, second.ID, UserAdminUpdate{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UpdateUserAdmin(ctx, admin.ID, UserAdminUpdate{Role: role("user")}); err != nil || got.Role != "user" {
		t.Fatalf("demote with another admin: %+v %v", got, err)
	}

	lvl, exp, pts := 3, "2030-01-02", int64(50)
	got, err := s.UpdateUserAdmin(ctx, user.ID, UserAdminUpdate{VIPLevel: &lvl, VIPExpire: &exp, Points: &pts, Disabled: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if got.VIPLevel != 3 || got.VIPExpire != exp || got.Points != 50 || !got.Disabled || got.TokenVersion != user.TokenVersion+1 {
		t.Fatalf("updated %+v", got)
	}
	// Fields left out keep their values; re-disabling does not bump again.
	got, _ = s.UpdateUserAdmin(ctx, user.ID, UserAdminUpdate{Disabled: &yes})
	if got.VIPLevel != 3 || got.TokenVersion != user.TokenVersion+1 {
		t.Fatalf("partial update %+v", got)
	}
}

func TestListUsersKeyword(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	for _, n := range []NewUser{
		{Username: "alice", Email: "a@example.com", PasswordHash: "x"},
		{Username: "bob", Nickname: "Bobby_100%", PasswordHash: "x"},
		{Username: "carol", Email: "carol@corp.test", PasswordHash: "x"},
	} {
		if _, err := s.CreateUser(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		kw    string
		want  []string
		total int64
	}{
		{"", []string{"carol", "bob", "alice"}, 3},
		{"example", []string{"alice"}, 1},
		{"BOB", []string{"bob"}, 1},
		{"100%", []string{"bob"}, 1},
		{"_", []string{"bob"}, 1},
		{"%", []string{"bob"}, 1},
		{"zzz", nil, 0},
	}
	for _, c := range cases {
		list, total, err := s.ListUsers(ctx, c.kw, 20, 0)
		if err != nil {
			t.Fatal(err)
		}
		if total != c.total || len(list) != len(c.want) {
			t.Fatalf("%q: total %d list %d", c.kw, total, len(list))
		}
		for i, u := range list {
			if u.Username != c.want[i] {
				t.Fatalf("%q: %d is %s", c.kw, i, u.Username)
			}
		}
	}
	list, total, _ := s.ListUsers(ctx, "", 2, 2)
	if total != 3 || len(list) != 1 || list[0].Username != "alice" {
		t.Fatalf("page 2: %d %v", total, list)
	}
}

func TestInvites(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	admin, _ := s.CreateUser(ctx, NewUser{Username: "root", PasswordHash: "x", Role: "admin"})
	joe, _ := s.CreateUser(ctx, NewUser{Username: "joe", PasswordHash: "x"})
	a, err := s.CreateInvite(ctx, "AAAA2222", admin.ID)
	if err != nil || a.Code != "AAAA2222" || a.CreatedByName != "root" || a.CreatedAt == 0 {
		t.Fatalf("create %+v %v", a, err)
	}
	if _, err := s.CreateInvite(ctx, "AAAA2222", admin.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := s.CreateInvite(ctx, "BBBB3333", admin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.Exec("UPDATE invites SET used_by = ?, used_at = 99 WHERE id = ?", joe.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	list, total, err := s.ListInvites(ctx, 20, 0)
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("list %v %d %v", list, total, err)
	}
	if list[0].Code != "BBBB3333" || list[0].UsedBy != 0 || list[1].UsedByName != "joe" || list[1].UsedAt != 99 {
		t.Fatalf("list %+v %+v", list[0], list[1])
	}
}
