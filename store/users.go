package store

import (
	"context"
	"database/sql"
	"errors"
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

// ErrInviteInvalid is returned when an invite code is unknown or used.
var ErrInviteInvalid = errors.New("invite code is unknown or already used")

// CreateUserWithInvite inserts a user and consumes invite code in the same
// transaction: either both happen or neither. ErrConflict when the username
// is taken, ErrInviteInvalid when the code is unknown or already used.
func (s *Store) CreateUserWithInvite(ctx context.Context, n NewUser, code string) (*User, error) {
	var u *User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = createUser(ctx, tx, n); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "UPDATE invites SET used_by = ?, used_at = ? WHERE code = ? AND used_by = 0",
			u.ID, now(), code)
		if err != nil {
			return fmt.Errorf("use invite: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrInviteInvalid
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ProfileUpdate is what a user may change on their own account; nil fields
// keep their values.
type ProfileUpdate struct {
	Nickname *string
	Email    *string
	Avatar   *string
}

// UpdateProfile applies p to account id. orphan is the previous avatar when
// the update replaced it and no other account still shows it, so the caller
// may delete its file.
func (s *Store) UpdateProfile(ctx context.Context, id int64, p ProfileUpdate) (u *User, orphan string, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		if err != nil {
			return err
		}
		next := *cur
		if p.Nickname != nil {
			next.Nickname = *p.Nickname
		}
		if p.Email != nil {
			next.Email = *p.Email
		}
		if p.Avatar != nil {
			next.Avatar = *p.Avatar
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET nickname = ?, email = ?, avatar = ?, updated_at = ? WHERE id = ?",
			next.Nickname, next.Email, next.Avatar, now(), id); err != nil {
			return fmt.Errorf("update profile %d: %w", id, err)
		}
		if cur.Avatar != "" && cur.Avatar != next.Avatar {
			var others int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE avatar = ?", cur.Avatar).Scan(&others); err != nil {
				return err
			}
			if others == 0 {
				orphan = cur.Avatar
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return u, orphan, nil
}

// SetUserDisabled disables or enables account id. Disabling bumps the token
// version, so every token issued before is dead at once.
func (s *Store) SetUserDisabled(ctx context.Context, id int64, disabled bool) error {
	bump := 0
	if disabled {
		bump = 1
	}
	res, err := s.write.ExecContext(ctx,
		"UPDATE users SET disabled = ?, token_version = token_version + ?, updated_at = ? WHERE id = ?",
		disabled, bump, now(), id)
	if err != nil {
		return fmt.Errorf("set user %d disabled: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
