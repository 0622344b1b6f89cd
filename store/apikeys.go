package store

import (
	"context"
	"fmt"
)

// APIKey is a key pair that signs requests on behalf of its user. The
// secret is kept as it is: verifying an HMAC needs it.
type APIKey struct {
	ID         int64
	UserID     int64
	Name       string
	APIKey     string
	SecretKey  string
	Revoked    bool
	LastUsedAt int64
	CreatedAt  int64
}

const apiKeyColumns = "id, user_id, name, api_key, secret_key, revoked, last_used_at, created_at"

func scanAPIKey(row interface{ Scan(...any) error }) (*APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.UserID, &k.Name, &k.APIKey, &k.SecretKey, &k.Revoked, &k.LastUsedAt, &k.CreatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &k, nil
}

// CreateAPIKey stores a new key pair for user userID; ErrConflict when the
// api_key exists already.
func (s *Store) CreateAPIKey(ctx context.Context, userID int64, name, apiKey, secretKey string) (*APIKey, error) {
	t := now()
	res, err := s.write.ExecContext(ctx, `INSERT INTO api_keys(user_id, name, api_key, secret_key, created_at)
		VALUES (?, ?, ?, ?, ?)`, userID, name, apiKey, secretKey, t)
	if isUnique(err) {
		return nil, fmt.Errorf("api key: %w", ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("create api key: %w", err)
	}
	id, _ := res.LastInsertId()
	return scanAPIKey(s.write.QueryRowContext(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE id = ?", id))
}

// ListAPIKeys lists user userID's live (not revoked) keys, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, userID int64) ([]*APIKey, error) {
	rows, err := s.read.QueryContext(ctx,
		"SELECT "+apiKeyColumns+" FROM api_keys WHERE user_id = ? AND revoked = 0 ORDER BY id", userID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	list := []*APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, k)
	}
	return list, rows.Err()
}

// CountAPIKeys counts user userID's live keys.
func (s *Store) CountAPIKeys(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked = 0", userID).Scan(&n)
	return n, err
}

// RevokeAPIKey revokes key id of user userID. A key of another user, or
// one already revoked, is ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, userID, id int64) error {
	res, err := s.write.ExecContext(ctx, "UPDATE api_keys SET revoked = 1 WHERE id = ? AND user_id = ? AND revoked = 0", id, userID)
	if err != nil {
		return fmt.Errorf("revoke api key %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// APIKeyByKey loads a key (revoked ones too) by its public api_key.
func (s *Store) APIKeyByKey(ctx context.Context, apiKey string) (*APIKey, error) {
	return scanAPIKey(s.read.QueryRowContext(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE api_key = ?", apiKey))
}

// TouchAPIKey sets key id's last use to t.
func (s *Store) TouchAPIKey(ctx context.Context, id, t int64) error {
	if _, err := s.write.ExecContext(ctx, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", t, id); err != nil {
		return fmt.Errorf("touch api key %d: %w", id, err)
	}
	return nil
}

// UseNonce records nonce for key keyID until expiresAt (Unix seconds). A
// nonce still live for that key is ErrConflict: the request is a replay. An
// expired row left for the pruner is taken over.
func (s *Store) UseNonce(ctx context.Context, keyID int64, nonce string, expiresAt int64) error {
	res, err := s.write.ExecContext(ctx, `INSERT INTO api_nonces(key_id, nonce, expires_at) VALUES (?, ?, ?)
		ON CONFLICT(key_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE api_nonces.expires_at < ?`,
		keyID, nonce, expiresAt, now())
	if err != nil {
		return fmt.Errorf("use nonce: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("nonce replayed: %w", ErrConflict)
	}
	return nil
}

// PruneNonces deletes nonces that expired before t and reports how many.
func (s *Store) PruneNonces(ctx context.Context, t int64) (int64, error) {
	res, err := s.write.ExecContext(ctx, "DELETE FROM api_nonces WHERE expires_at < ?", t)
	if err != nil {
		return 0, fmt.Errorf("prune nonces: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
