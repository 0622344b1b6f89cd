package store

import (
	"context"
	"fmt"
)

// Invite is a single-use registration code.
type Invite struct {
	ID            int64
	Code          string
	CreatedBy     int64
	CreatedByName string
	UsedBy        int64
	UsedByName    string
	UsedAt        int64
	CreatedAt     int64
}

// CreateInvite stores a new code made by user createdBy; ErrConflict when
// the code exists already.
func (s *Store) CreateInvite(ctx context.Context, code string, createdBy int64) (*Invite, error) {
	t := now()
	res, err := s.write.ExecContext(ctx, "INSERT INTO invites(code, created_by, created_at) VALUES (?, ?, ?)", code, createdBy, t)
	if isUnique(err) {
		return nil, fmt.Errorf("invite code: %w", ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("create invite: %w", err)
	}
	id, _ := res.LastInsertId()
	return s.inviteByID(ctx, id)
}

const inviteSelect = `SELECT i.id, i.code, i.created_by, COALESCE(c.username, ''), i.used_by,
	COALESCE(u.username, ''), i.used_at, i.created_at
	FROM invites i LEFT JOIN users c ON c.id = i.created_by LEFT JOIN users u ON u.id = i.used_by`

func scanInvite(row interface{ Scan(...any) error }) (*Invite, error) {
	var i Invite
	if err := row.Scan(&i.ID, &i.Code, &i.CreatedBy, &i.CreatedByName, &i.UsedBy, &i.UsedByName, &i.UsedAt, &i.CreatedAt); err != nil {
		return nil, notFound(err)
	}
	return &i, nil
}

func (s *Store) inviteByID(ctx context.Context, id int64) (*Invite, error) {
	return scanInvite(s.write.QueryRowContext(ctx, inviteSelect+" WHERE i.id = ?", id))
}

// ListInvites pages through invites, newest first.
func (s *Store) ListInvites(ctx context.Context, limit, offset int) ([]*Invite, int64, error) {
	var total int64
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM invites").Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count invites: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, inviteSelect+" ORDER BY i.id DESC LIMIT ? OFFSET ?", limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list invites: %w", err)
	}
	defer rows.Close()
	list := []*Invite{}
	for rows.Next() {
		i, err := scanInvite(rows)
		if err != nil {
			return nil, 0, err
		}
		list = append(list, i)
	}
	return list, total, rows.Err()
}
