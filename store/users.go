package store

import (
	"context"
	"database/sql"
	"fmt"
)

// User is an account. PasswordHash never leaves the server.
type User struct {
	ID           int64
	Username     string
	PasswordHash string
	Nickname     string
	Email        string
	Avatar       string
	Role         string // "admin" or "user"
	VIPLevel     int
	VIPExpire    string // "YYYY-MM-DD" or ""
	Points       int64
	Disabled     bool
	TokenVersion int64
	LastActiveAt int64
	CreatedAt    int64
	UpdatedAt    int64
}

// IsAdmin reports whether the user has the admin role.
func (u *User) IsAdmin() bool { return u.Role == "admin" }

const userColumns = `id, username, password_hash, nickname, email, avatar, role, vip_level,
	vip_expire, points, disabled, token_version, last_active_at, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Nickname, &u.Email, &u.Avatar, &u.Role,
		&u.VIPLevel, &u.VIPExpire, &u.Points, &u.Disabled, &u.TokenVersion, &u.LastActiveAt,
		&u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &u, nil
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Username     string
	PasswordHash string
	Email        string
	Nickname     string
	Role         string
}

// CreateUser inserts a user; ErrConflict when the username is taken.
func (s *Store) CreateUser(ctx context.Context, n NewUser) (*User, error) {
	var u *User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = createUser(ctx, tx, n)
		return err
	})
	return u, err
}

func createUser(ctx context.Context, tx *sql.Tx, n NewUser) (*User, error) {
	if n.Role == "" {
		n.Role = "user"
	}
	if n.Nickname == "" {
		n.Nickname = n.Username
	}
	t := now()
	res, err := tx.ExecContext(ctx, `INSERT INTO users(username, password_hash, nickname, email, role, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, n.Username, n.PasswordHash, n.Nickname, n.Email, n.Role, t, t)
	if isUnique(err) {
		return nil, fmt.Errorf("username %q: %w", n.Username, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	id, _ := res.LastInsertId()
	return scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
}

// CreateFirstAdmin creates an admin only while no user exists; ErrConflict
// otherwise. The check and insert share one transaction.
func (s *Store) CreateFirstAdmin(ctx context.Context, n NewUser) (*User, error) {
	var u *User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var count int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&count); err != nil {
			return err
		}
		if count > 0 {
			return fmt.Errorf("users exist: %w", ErrConflict)
		}
		n.Role = "admin"
		var err error
		u, err = createUser(ctx, tx, n)
		return err
	})
	return u, err
}

// CountUsers returns how many accounts exist.
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n)
	return n, err
}

// UserByID loads a user.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	return scanUser(s.read.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
}

// UserByUsername loads a user by name, case-insensitively.
func (s *Store) UserByUsername(ctx context.Context, username string) (*User, error) {
	return scanUser(s.read.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE username = ?", username))
}

// SetPassword replaces the hash and bumps the token version, so every token
// issued before is dead.
func (s *Store) SetPassword(ctx context.Context, id int64, hash string) error {
	res, err := s.write.ExecContext(ctx,
		"UPDATE users SET password_hash = ?, token_version = token_version + 1, updated_at = ? WHERE id = ?",
		hash, now(), id)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
