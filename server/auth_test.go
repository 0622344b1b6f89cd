package server

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The literal dummy hash must be a real bcrypt hash at the cost real
// passwords are hashed at in production: a malformed one fails at once and
// an unknown username would answer faster than a wrong password.
func TestDummyHashCostsLikeARealOne(t *testing.T) {
	cost, err := bcrypt.Cost(dummyHash)
	if err != nil {
		t.Fatalf("dummy hash is not a bcrypt hash: %v", err)
	}
	if cost != bcrypt.DefaultCost {
		t.Errorf("dummy hash cost %d, want bcrypt.DefaultCost %d", cost, bcrypt.DefaultCost)
	}
	if !checkPassword(string(dummyHash), "mika-dummy-password") {
		t.Error("dummy hash does not verify its own password: the comparison may be cut short")
	}
}
