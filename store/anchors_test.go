package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// Deep pages started from anchors are the pages OFFSET alone answers, in
// both orders, with and without filters, with ties in views, with and
// without the caller naming the generation, and after the list changes.
func TestSeekPageMatchesOffset(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	cat, err := s.CreateCategory(ctx, "a", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2*anchorEvery + 700
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		// Views repeat (ties), every seventh is hidden, every third in the category.
		if _, err := tx.ExecContext(ctx, `INSERT INTO videos(user_id, title, status, category_id, views, created_at, updated_at)
			VALUES (1, ?, ?, ?, ?, 0, 0)`, fmt.Sprint("v", i), map[bool]int{true: VideoHidden, false: VideoPublished}[i%7 == 0],
			map[bool]int64{true: cat.ID, false: 0}[i%3 == 0], (i*7919)%13); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	ids := func(list []*Video) []int64 {
		out := make([]int64, len(list))
		for i, v := range list {
			out[i] = v.ID
		}
		return out
	}
	// want reads the page with OFFSET alone.
	want := func(f VideoFilter) []int64 {
		if f.CategoryID != 0 {
			f.subtree = []int64{f.CategoryID}
		}
		where, args := f.where(false)
		order := " ORDER BY id DESC"
		if f.ByViews {
			order = " ORDER BY views DESC, id DESC"
		}
		list, err := s.queryVideos(ctx, "SELECT "+videoColumns+" FROM videos"+where+order+" LIMIT ? OFFSET ?",
			append(args, f.Limit, f.Offset)...)
		if err != nil {
			t.Fatal(err)
		}
		return ids(list)
	}
	check := func(stage string) {
		t.Helper()
		gen, err := s.ContentGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, base := range []VideoFilter{
			{Status: VideoPublished},
			{Status: VideoPublished, ByViews: true},
			{AnyStatus: true},
			{AnyStatus: true, ByViews: true},
			{Status: VideoPublished, CategoryID: cat.ID, ByViews: true},
		} {
			const a = anchorEvery
			for _, off := range []int{0, a - 1, a, a + 1, 2*a - 10, 2 * a, 2*a + 13, 2*a + 380, n - 5, n} {
				// Without a generation, and with the current one (the
				// anchors kept at it are then used without reading it).
				for _, at := range []int64{0, gen} {
					f := base
					f.Limit, f.Offset, f.AtGeneration = 20, off, at
					got, _, err := s.ListVideos(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					if w := want(f); !slices.Equal(ids(got), w) {
						t.Fatalf("%s: %+v offset %d: got %v, want %v", stage, base, off, ids(got), w)
					}
				}
			}
		}
	}
	check("first")
	check("from kept anchors")
	// Change the list: views move, rows go; the anchors must follow.
	if _, err := s.write.ExecContext(ctx, "UPDATE videos SET views = views + 5 WHERE id % 5 = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, "DELETE FROM videos WHERE id % 11 = 0"); err != nil {
		t.Fatal(err)
	}
	check("after changes")
}
