package store

import (
	"context"
	"errors"
	"testing"
)

func TestAPIKeys(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	a, _ := s.CreateUser(ctx, NewUser{Username: "ann", PasswordHash: "x"})
	b, _ := s.CreateUser(ctx, NewUser{Username: "bob", PasswordHash: "x"})
	k1, err := s.CreateAPIKey(ctx, a.ID, "one", "key1", "secret1")
	if err != nil || k1.UserID != a.ID || k1.SecretKey != "secret1" || k1.Revoked || k1.CreatedAt == 0 {
		t.Fatalf("create: %+v %v", k1, err)
	}
	if _, err := s.CreateAPIKey(ctx, b.ID, "", "key1", "other"); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate api_key: %v", err)
	}
	k2, _ := s.CreateAPIKey(ctx, a.ID, "two", "key2", "secret2")
	if err := s.RevokeAPIKey(ctx, b.ID, k1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke someone else's: %v", err)
	}
	if err := s.RevokeAPIKey(ctx, a.ID, k1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, a.ID, k1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
	list, err := s.ListAPIKeys(ctx, a.ID)
	if err != nil || len(list) != 1 || list[0].ID != k2.ID {
		t.Fatalf("list: %+v %v", list, err)
	}
	if n, _ := s.CountAPIKeys(ctx, a.ID); n != 1 {
		t.Fatalf("count %d", n)
	}
	got, err := s.APIKeyByKey(ctx, "key1")
	if err != nil || !got.Revoked {
		t.Fatalf("by key: %+v %v", got, err)
	}
	if _, err := s.APIKeyByKey(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if err := s.TouchAPIKey(ctx, k2.ID, 12345); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.APIKeyByKey(ctx, "key2"); got.LastUsedAt != 12345 {
		t.Fatalf("touch: %+v", got)
	}
}

func TestUseNonce(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	t0 := now()
	if err := s.UseNonce(ctx, 1, "n1", t0+300); err != nil {
		t.Fatal(err)
	}
	if err := s.UseNonce(ctx, 1, "n1", t0+300); !errors.Is(err, ErrConflict) {
		t.Fatalf("replay: %v", err)
	}
	if err := s.UseNonce(ctx, 2, "n1", t0+300); err != nil {
		t.Fatalf("other key: %v", err)
	}
	if err := s.UseNonce(ctx, 1, "old", t0-10); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneNonces(ctx, t0); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if err := s.UseNonce(ctx, 1, "old", t0+300); err != nil {
		t.Fatalf("after prune: %v", err)
	}
}
