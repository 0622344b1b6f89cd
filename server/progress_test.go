package server

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"mika/store"
)

// My videos show how far each video's transcode has come.
func TestVideoTranscodeProgress(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	uid, tok := e.createUser("alice", false)
	running, _, err := e.store.CreateVideo(ctx, store.NewVideo{UserID: uid, Title: "running"})
	if err != nil {
		t.Fatal(err)
	}
	waiting, _, err := e.store.CreateVideo(ctx, store.NewVideo{UserID: uid, Title: "waiting"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := e.store.ClaimTask(ctx)
	if err != nil || task.VideoID != running.ID {
		t.Fatalf("claim: %+v %v", task, err)
	}
	if err := e.store.TaskProgress(ctx, task.ID, 42); err != nil {
		t.Fatal(err)
	}
	var list struct {
		List []videoItem `json:"list"`
	}
	e.mustOK(e.do("GET", "/api/videos?mine=1", nil, tok)).into(t, &list)
	got := map[int64]int{}
	for _, it := range list.List {
		got[it.ID] = it.TranscodeProgress
	}
	if got[running.ID] != 42 || got[waiting.ID] != 0 || len(got) != 2 {
		t.Fatalf("list progress %v", got)
	}
	var d videoDetail
	e.mustOK(e.do("GET", fmt.Sprintf("/api/videos/%d", running.ID), nil, tok)).into(t, &d)
	if d.TranscodeProgress != 42 {
		t.Fatalf("detail progress %d", d.TranscodeProgress)
	}
	if err := e.store.FinishTask(ctx, task.ID, store.TaskEnd{Status: store.TaskCompleted}); err != nil {
		t.Fatal(err)
	}
	e.mustOK(e.do("GET", fmt.Sprintf("/api/videos/%d", running.ID), nil, tok)).into(t, &d)
	if d.TranscodeProgress != 100 {
		t.Fatalf("completed progress %d", d.TranscodeProgress)
	}
}

// A failed transcode says why to its owner and to admins, without the
// data folder's own path; others (and other states) get "".
func TestDetailSaysWhyTheTranscodeFailed(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	_, alice := e.createUser("alice", false)
	_, bob := e.createUser("bob", false)
	_, admin := e.createUser("root", true)
	id := e.upload(alice, "broken")
	detail := func(tok string) videoDetail {
		t.Helper()
		var d videoDetail
		e.mustOK(e.do("GET", fmt.Sprintf("/api/videos/%d", id), nil, tok)).into(t, &d)
		return d
	}
	if d := detail(alice); d.TranscodeError != "" {
		t.Fatalf("pending video's transcode_error %q", d.TranscodeError)
	}
	task, err := e.store.ClaimTask(ctx)
	if err != nil || task == nil {
		t.Fatal(task, err)
	}
	src := filepath.Join(e.data.Root(), "media", "originals", fmt.Sprintf("%d.mp4", id))
	why := "source is not a readable video: " + src + ": Invalid data found when processing input"
	if err := e.store.FinishTask(ctx, task.ID, store.TaskEnd{Status: store.TaskFailed, Error: why}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("source is not a readable video: media/originals/%d.mp4: Invalid data found when processing input", id)
	for _, tok := range []string{alice, admin} {
		if d := detail(tok); d.TranscodeError != want {
			t.Errorf("transcode_error %q, want %q", d.TranscodeError, want)
		}
	}
	e.setStatus(id, store.VideoPublished) // now bob may see it, but not why it failed
	if d := detail(bob); d.TranscodeError != "" {
		t.Errorf("another user sees transcode_error %q", d.TranscodeError)
	}
}
