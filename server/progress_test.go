package server

import (
	"context"
	"fmt"
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
