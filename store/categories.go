package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Category errors callers test with errors.Is.
var (
	ErrNoParent = errors.New("parent category does not exist")
	ErrCycle    = errors.New("a category cannot be inside itself")
)

// CategoryInUseError refuses deleting a category that still has
// sub-categories or videos.
type CategoryInUseError struct {
	Children, Videos int64
}

func (e *CategoryInUseError) Error() string {
	return fmt.Sprintf("category has %s and %s", count(e.Children, "sub-category", "sub-categories"),
		count(e.Videos, "video", "videos"))
}

// count is "1 video" or "3 videos".
func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Category is one node of the category tree; ParentID 0 is the root.
type Category struct {
	ID        int64
	Name      string
	ParentID  int64
	Sort      int
	CreatedAt int64
	UpdatedAt int64
}

const categoryColumns = "id, name, parent_id, sort, created_at, updated_at"

func scanCategory(row interface{ Scan(...any) error }) (*Category, error) {
	var c Category
	if err := row.Scan(&c.ID, &c.Name, &c.ParentID, &c.Sort, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, notFound(err)
	}
	return &c, nil
}

// Categories lists every category, siblings ordered by sort then id.
func (s *Store) Categories(ctx context.Context) ([]*Category, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+categoryColumns+" FROM categories ORDER BY parent_id, sort, id")
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	defer rows.Close()
	var list []*Category
	for rows.Next() {
		c, err := scanCategory(rows)
		if err != nil {
			return nil, fmt.Errorf("categories: %w", err)
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

// CategoryByID loads a category.
func (s *Store) CategoryByID(ctx context.Context, id int64) (*Category, error) {
	return scanCategory(s.read.QueryRowContext(ctx, "SELECT "+categoryColumns+" FROM categories WHERE id = ?", id))
}

// CreateCategory inserts a category. ErrNoParent when the parent is
// missing, ErrConflict when a sibling has the name.
func (s *Store) CreateCategory(ctx context.Context, name string, parentID int64, sort int) (*Category, error) {
	var c *Category
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := parentExists(ctx, tx, parentID); err != nil {
			return err
		}
		t := now()
		res, err := tx.ExecContext(ctx, `INSERT INTO categories(name, parent_id, sort, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)`, name, parentID, sort, t, t)
		if isUnique(err) {
			return ErrConflict
		}
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		c, err = scanCategory(tx.QueryRowContext(ctx, "SELECT "+categoryColumns+" FROM categories WHERE id = ?", id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create category: %w", err)
	}
	return c, nil
}

// CategoryChanges are the editable fields; nil keeps a field.
type CategoryChanges struct {
	Name     *string
	ParentID *int64
	Sort     *int
}

// UpdateCategory changes category id. ErrNotFound, ErrNoParent, ErrCycle
// (the new parent is the category or one of its descendants) and
// ErrConflict (a sibling has the name) refuse it.
func (s *Store) UpdateCategory(ctx context.Context, id int64, ch CategoryChanges) (*Category, error) {
	var c *Category
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = scanCategory(tx.QueryRowContext(ctx, "SELECT "+categoryColumns+" FROM categories WHERE id = ?", id)); err != nil {
			return err
		}
		if ch.Name != nil {
			c.Name = *ch.Name
		}
		if ch.Sort != nil {
			c.Sort = *ch.Sort
		}
		if ch.ParentID != nil && *ch.ParentID != c.ParentID {
			if err := parentExists(ctx, tx, *ch.ParentID); err != nil {
				return err
			}
			// Walk up from the new parent; meeting id means a cycle.
			for p := *ch.ParentID; p != 0; {
				if p == id {
					return ErrCycle
				}
				if err := tx.QueryRowContext(ctx, "SELECT parent_id FROM categories WHERE id = ?", p).Scan(&p); err != nil {
					return notFound(err)
				}
			}
			c.ParentID = *ch.ParentID
		}
		c.UpdatedAt = now()
		_, err = tx.ExecContext(ctx, "UPDATE categories SET name = ?, parent_id = ?, sort = ?, updated_at = ? WHERE id = ?",
			c.Name, c.ParentID, c.Sort, c.UpdatedAt, id)
		if isUnique(err) {
			return ErrConflict
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update category %d: %w", id, err)
	}
	return c, nil
}

// DeleteCategory removes a category that has neither sub-categories nor
// videos; otherwise it answers a *CategoryInUseError.
func (s *Store) DeleteCategory(ctx context.Context, id int64) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var e CategoryInUseError
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM categories WHERE parent_id = ?),
			(SELECT count(*) FROM videos WHERE category_id = ?)`, id, id).Scan(&e.Children, &e.Videos); err != nil {
			return err
		}
		if e.Children > 0 || e.Videos > 0 {
			return &e
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM categories WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete category %d: %w", id, err)
	}
	return nil
}

func parentExists(ctx context.Context, tx *sql.Tx, parentID int64) error {
	if parentID == 0 {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM categories WHERE id = ?", parentID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrNoParent
	}
	return nil
}

// categoryNames keeps every category's name as of one content generation:
// every page of videos names its videos' categories, and the table changes
// far less often than once a page.
type categoryNames struct {
	mu    sync.Mutex
	gen   int64
	names map[int64]string
}

// CategoryNames maps every category's id to its name, as of content
// generation gen or later (read gen first, with ContentGeneration). The
// map is shared: callers must not change it.
func (s *Store) CategoryNames(ctx context.Context, gen int64) (map[int64]string, error) {
	c := s.catNames
	c.mu.Lock()
	names, at := c.names, c.gen
	c.mu.Unlock()
	if names != nil && at >= gen {
		return names, nil
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("category names: %w", err)
	}
	defer tx.Rollback()
	if err := s.read.txQueryRow(ctx, tx, "SELECT n FROM content_generation WHERE id = 1").Scan(&at); err != nil {
		return nil, fmt.Errorf("category names: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, name FROM categories")
	if err != nil {
		return nil, fmt.Errorf("category names: %w", err)
	}
	defer rows.Close()
	names = map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("category names: %w", err)
		}
		names[id] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("category names: %w", err)
	}
	c.mu.Lock()
	if at >= c.gen {
		c.gen, c.names = at, names
	}
	c.mu.Unlock()
	return names, nil
}
