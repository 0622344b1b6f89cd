package store

import (
	"context"
	"fmt"
	"testing"
)

// Every change a video list shows moves the content generation; a change it
// does not show leaves it.
func TestContentGeneration(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	gen := func() int64 {
		t.Helper()
		n, err := s.ContentGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var v *Video
	var cat *Category
	var task *Task
	title := "renamed"
	name := "电影 2"
	steps := []struct {
		name  string
		moves bool
		do    func() error
	}{
		{"create a category", true, func() (err error) { cat, err = s.CreateCategory(ctx, "电影", 0, 1); return }},
		{"create a video (and its task)", true, func() (err error) { v, _, err = s.CreateVideo(ctx, NewVideo{UserID: 1, Title: "a"}); return }},
		{"claim its task", true, func() (err error) { task, err = s.ClaimTask(ctx); return }},
		{"task progress", true, func() error { return s.TaskProgress(ctx, task.ID, 40) }},
		{"edit the title", true, func() error { _, err := s.UpdateVideo(ctx, v.ID, VideoChanges{Title: &title}); return err }},
		{"count a view", true, func() error { _, err := s.RecordView(ctx, v.ID, "viewer"); return err }},
		{"rename the category", true, func() error { _, err := s.UpdateCategory(ctx, cat.ID, CategoryChanges{Name: &name}); return err }},
		{"a settings write", false, func() error { return s.SaveSettings(ctx, s.Settings()) }},
		{"a user", false, func() error { _, err := s.CreateUser(ctx, NewUser{Username: "bob", PasswordHash: "x"}); return err }},
		{"delete the video", true, func() error { _, _, err := s.DeleteVideo(ctx, v.ID); return err }},
		{"delete the category", true, func() error { return s.DeleteCategory(ctx, cat.ID) }},
	}
	for _, st := range steps {
		before := gen()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if moved := gen() != before; moved != st.moves {
			t.Errorf("%s: generation moved = %v, want %v", st.name, moved, st.moves)
		}
	}
}

// Writes moves once a write statement or transaction has completed, and
// not for reads.
func TestWritesCount(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	v, _, err := s.CreateVideo(ctx, NewVideo{UserID: 1, Title: "a"}) // a transaction
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		moves bool
		do    func() error
	}{
		{"a read", false, func() error { _, err := s.VideoByID(ctx, v.ID); return err }},
		{"a list", false, func() error { _, _, err := s.ListVideos(ctx, VideoFilter{AnyStatus: true, Limit: 5}); return err }},
		{"a transaction", true, func() error { _, err := s.RecordView(ctx, v.ID, "x"); return err }},
		{"one statement", true, func() error { return s.PruneViews(ctx) }},
		{"a rolled back transaction", false, func() error {
			if _, err := s.UpdateVideo(ctx, v.ID+100, VideoChanges{}); err == nil {
				return fmt.Errorf("updated a missing video")
			}
			return nil
		}},
	}
	for _, st := range steps {
		before := s.Writes()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if moved := s.Writes() != before; moved != st.moves {
			t.Errorf("%s: writes moved = %v, want %v", st.name, moved, st.moves)
		}
	}
}

// CategoryNames answers from its copy while the generation it was read at
// is current, and reads the table again once a category changed.
func TestCategoryNamesFollowChanges(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	names := func() map[int64]string {
		t.Helper()
		gen, err := s.ContentGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.CategoryNames(ctx, gen)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := names(); len(m) != 0 {
		t.Fatalf("no categories yet, got %v", m)
	}
	cat, err := s.CreateCategory(ctx, "电影", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m := names(); m[cat.ID] != "电影" || len(m) != 1 {
		t.Fatalf("after create: %v", m)
	}
	name := "纪录片"
	if _, err := s.UpdateCategory(ctx, cat.ID, CategoryChanges{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if m := names(); m[cat.ID] != "纪录片" {
		t.Fatalf("after rename: %v", m)
	}
	if err := s.DeleteCategory(ctx, cat.ID); err != nil {
		t.Fatal(err)
	}
	if m := names(); len(m) != 0 {
		t.Fatalf("after delete: %v", m)
	}
	// An older generation than the kept copy's is answered from the copy.
	if m, err := s.CategoryNames(ctx, 0); err != nil || len(m) != 0 {
		t.Fatalf("older generation: %v, %v", m, err)
	}
}

// A list's total is counted once per content generation the caller names:
// at the same generation it is not counted again, at the next it is.
func TestListTotalsAtGeneration(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	list := func(f VideoFilter) int64 {
		t.Helper()
		_, total, err := s.ListVideos(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return total
	}
	for i := range 3 {
		if _, _, err := s.CreateVideo(ctx, NewVideo{UserID: 1, Title: fmt.Sprint("v", i)}); err != nil {
			t.Fatal(err)
		}
	}
	gen, err := s.ContentGeneration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mine := VideoFilter{UserID: 1, AnyStatus: true, Limit: 20}
	all := VideoFilter{AnyStatus: true, Limit: 20}
	for _, f := range []VideoFilter{mine, all} {
		f.AtGeneration = gen
		if got := list(f); got != 3 {
			t.Fatalf("total at generation %d = %d, want 3", gen, got)
		}
	}
	if _, _, err := s.CreateVideo(ctx, NewVideo{UserID: 1, Title: "v3"}); err != nil {
		t.Fatal(err)
	}
	next, err := s.ContentGeneration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []VideoFilter{mine, all} {
		f.AtGeneration = gen // the caller has not seen the change yet
		if got := list(f); got != 3 {
			t.Errorf("total at the generation before the change = %d, want the 3 kept", got)
		}
	}
	for _, f := range []VideoFilter{mine, all} {
		f.AtGeneration = next
		if got := list(f); got != 4 {
			t.Errorf("total at the generation after the change = %d, want 4", got)
		}
		f.AtGeneration = 0
		if got := list(f); got != 4 {
			t.Errorf("total at no generation = %d, want 4", got)
		}
	}
}
