package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"mika/store"
)

const maxCategoryRunes = 50

// categoryNode is a category in the tree answer; leaves carry no children
// key, as in the document.
type categoryNode struct {
	ID       int64           `json:"id"`
	Name     string          `json:"name"`
	ParentID int64           `json:"parent_id"`
	Sort     int             `json:"sort"`
	Children []*categoryNode `json:"children,omitempty"`
}

func nodeOf(c *store.Category) *categoryNode {
	return &categoryNode{ID: c.ID, Name: c.Name, ParentID: c.ParentID, Sort: c.Sort}
}

// listCategories answers GET /api/categories: the whole tree, siblings by
// sort then id.
func (s *Server) listCategories(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.Categories(r.Context())
	if err != nil {
		return err
	}
	nodes := make(map[int64]*categoryNode, len(list))
	for _, c := range list {
		nodes[c.ID] = nodeOf(c)
	}
	roots := []*categoryNode{}
	// list is ordered by (parent_id, sort, id), so children append in order.
	for _, c := range list {
		if p, found := nodes[c.ParentID]; found && c.ParentID != 0 {
			p.Children = append(p.Children, nodes[c.ID])
		} else {
			roots = append(roots, nodes[c.ID])
		}
	}
	return ok(w, roots)
}

// categoryName trims and checks a category name.
func categoryName(name string, errs map[string]string) string {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > maxCategoryRunes {
		errs["name"] = fmt.Sprintf("must be 1 to %d characters", maxCategoryRunes)
	}
	return name
}

// categoryError maps the store's refusals to API errors.
func categoryError(err error) error {
	var inUse *store.CategoryInUseError
	switch {
	case errors.Is(err, store.ErrConflict):
		return errConflict("a sibling category has this name", map[string]string{"name": "is taken by a sibling category"})
	case errors.Is(err, store.ErrNoParent):
		return errField("parent_id", "does not exist")
	case errors.Is(err, store.ErrCycle):
		return errField("parent_id", "cannot be the category itself or one of its sub-categories")
	case errors.As(err, &inUse):
		return errConflict(inUse.Error(), nil)
	}
	return err
}

// createCategory answers POST /api/admin/categories.
func (s *Server) createCategory(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name     string `json:"name"`
		ParentID int64  `json:"parent_id"`
		Sort     int    `json:"sort"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	errs := map[string]string{}
	name := categoryName(body.Name, errs)
	if body.ParentID < 0 {
		errs["parent_id"] = "does not exist"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	c, err := s.store.CreateCategory(r.Context(), name, body.ParentID, body.Sort)
	if err != nil {
		return categoryError(err)
	}
	return ok(w, nodeOf(c))
}

// updateCategory answers PUT /api/admin/categories/{id}; fields left out
// keep their values.
func (s *Server) updateCategory(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	// A category that does not exist is a 404 whatever the body says.
	if _, err := s.store.CategoryByID(r.Context(), id); err != nil {
		return err
	}
	var body struct {
		Name     *string `json:"name"`
		ParentID *int64  `json:"parent_id"`
		Sort     *int    `json:"sort"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	errs := map[string]string{}
	ch := store.CategoryChanges{ParentID: body.ParentID, Sort: body.Sort}
	if body.Name != nil {
		name := categoryName(*body.Name, errs)
		ch.Name = &name
	}
	if body.ParentID != nil && *body.ParentID < 0 {
		errs["parent_id"] = "does not exist"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	c, err := s.store.UpdateCategory(r.Context(), id, ch)
	if err != nil {
		return categoryError(err)
	}
	return ok(w, nodeOf(c))
}

// deleteCategory answers DELETE /api/admin/categories/{id}; a category that
// still has sub-categories or videos is a 409 saying how many.
func (s *Server) deleteCategory(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.store.DeleteCategory(r.Context(), id); err != nil {
		return categoryError(err)
	}
	return ok(w, map[string]int64{"id": id})
}
