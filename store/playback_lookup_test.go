package store

import (
	"context"
	"errors"
	"testing"
)

// PlaybackVideo answers the same access columns as VideoByID, through every
// change that decides playback: transcoded, published, hidden, deleted.
func TestPlaybackVideo(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if _, err := s.PlaybackVideo(ctx, 404); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown video: %v", err)
	}
	u, err := s.CreateUser(ctx, NewUser{Username: "owner", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := s.CreateVideo(ctx, NewVideo{UserID: u.ID, Title: "clip", Tags: []string{"a"}, SourcePath: "media/originals/x.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	same := func(step string) {
		t.Helper()
		full, err := s.VideoByID(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		pv, err := s.PlaybackVideo(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := PlaybackVideo{ID: full.ID, UserID: full.UserID, Status: full.Status, Playable: full.Playable}
		if *pv != want {
			t.Errorf("%s: %+v, want %+v", step, *pv, want)
		}
	}
	same("queued")
	task, err := s.ClaimTask(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishTask(ctx, task.ID, TaskEnd{Status: TaskCompleted, Media: Media{Resolution: "360p",
		Variants: []Variant{{Name: "360p"}}}}); err != nil {
		t.Fatal(err)
	}
	same("transcoded")
	hidden := VideoHidden
	if _, err := s.UpdateVideo(ctx, v.ID, VideoChanges{Status: &hidden}); err != nil {
		t.Fatal(err)
	}
	same("hidden")
	if _, _, err := s.DeleteVideo(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlaybackVideo(ctx, v.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted video: %v", err)
	}
}
