package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrLastAdmin is returned when a change would leave no enabled admin.
var ErrLastAdmin = errors.New("the last enabled admin cannot be demoted or disabled")

// ListUsers pages through accounts, newest first. keyword, when not empty,
// matches a substring of the username, nickname or email.
func (s *Store) ListUsers(ctx context.Context, keyword string, limit, offset int) ([]*User, int64, error) {
	where, args := "", []any{}
	if keyword != "" {
		like := "%" + escapeLike(keyword) + "%"
		where = ` WHERE username LIKE ? ESCAPE '\' OR nickname LIKE ? ESCAPE '\' OR email LIKE ? ESCAPE '\'`
		args = append(args, like, like, like)
	}
	var total int64
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM users"+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, "SELECT "+userColumns+" FROM users"+where+" ORDER BY id DESC LIMIT ? OFFSET ?",
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	list := []*User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, err
		}
		list = append(list, u)
	}
	return list, total, rows.Err()
}

// escapeLike escapes LIKE's wildcards so a keyword matches literally.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UserAdminUpdate is what an admin may change on an account; nil fields
// keep their values.
type UserAdminUpdate struct {
	Role      *string
	VIPLevel  *int
	VIPExpire *string
	Points    *int64
	Disabled  *bool
}

// UpdateUserAdmin applies u to account id in one transaction. It refuses
// (ErrLastAdmin) to leave the installation without an enabled admin, and
// disabling bumps the token version so the user's tokens die at once.
func (s *Store) UpdateUserAdmin(ctx context.Context, id int64, u UserAdminUpdate) (*User, error) {
	var out *User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		if err != nil {
			return err
		}
		next := *cur
		if u.Role != nil {
			next.Role = *u.Role
		}
		if u.VIPLevel != nil {
			next.VIPLevel = *u.VIPLevel
		}
		if u.VIPExpire != nil {
			next.VIPExpire = *u.VIPExpire
		}
		if u.Points != nil {
			next.Points = *u.Points
		}
		if u.Disabled != nil {
			next.Disabled = *u.Disabled
		}
		wasAdmin := cur.IsAdmin() && !cur.Disabled
		if wasAdmin && (!next.IsAdmin() || next.Disabled) {
			var others int
			if err := tx.QueryRowContext(ctx,
				"SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?", id).Scan(&others); err != nil {
				return err
			}
			if others == 0 {
				return ErrLastAdmin
			}
		}
		if next.Disabled && !cur.Disabled {
			next.TokenVersion++
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET role = ?, vip_level = ?, vip_expire = ?, points = ?,
			disabled = ?, token_version = ?, updated_at = ? WHERE id = ?`,
			next.Role, next.VIPLevel, next.VIPExpire, next.Points, next.Disabled, next.TokenVersion, now(), id)
		if err != nil {
			return fmt.Errorf("update user %d: %w", id, err)
		}
		out, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		return err
	})
	return out, err
}
