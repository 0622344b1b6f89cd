package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"mika/store"
)

// queueVideo creates a video with its pending task for owner.
func (e *testEnv) queueVideo(owner int64, title string) (videoID, taskID int64) {
	e.t.Helper()
	v, taskID, err := e.store.CreateVideo(context.Background(), store.NewVideo{UserID: owner, Title: title,
		SourcePath: "media/originals/none.mp4"})
	if err != nil {
		e.t.Fatal(err)
	}
	return v.ID, taskID
}

func TestTaskEndpointsNeedAdmin(t *testing.T) {
	e := newTestEnv(t)
	_, user := e.createUser("alice", false)
	for _, p := range []string{"/api/admin/transcode/tasks", "/api/admin/transcode/tasks/1"} {
		e.wantError(e.do("GET", p, nil, ""), 401)
		e.wantError(e.do("GET", p, nil, user), 403)
	}
	e.wantError(e.do("POST", "/api/admin/transcode/tasks/1/cancel", nil, user), 403)
	e.wantError(e.do("POST", "/api/admin/transcode/tasks/1/retry", nil, user), 403)
}

func TestTaskList(t *testing.T) {
	e := newTestEnv(t)
	adminID, admin := e.createUser("root", true)
	var tasks []int64
	for i := range 3 {
		_, id := e.queueVideo(adminID, fmt.Sprintf("video %d", i))
		tasks = append(tasks, id)
	}
	ctx := context.Background()
	if err := e.store.CancelTask(ctx, tasks[1]); err != nil {
		t.Fatal(err)
	}

	bad := []string{"?status=done", "?status=PENDING", "?page=0", "?size=x"}
	for _, q := range bad {
		res := e.wantError(e.do("GET", "/api/admin/transcode/tasks"+q, nil, admin), 400)
		if len(res.Errors) == 0 {
			t.Errorf("%s: no errors field", q)
		}
	}

	type item struct {
		ID         int64   `json:"id"`
		VideoID    int64   `json:"video_id"`
		VideoTitle string  `json:"video_title"`
		Status     string  `json:"status"`
		Progress   int     `json:"progress"`
		CreatedAt  string  `json:"created_at"`
		StartedAt  string  `json:"started_at"`
		FinishedAt string  `json:"finished_at"`
		Error      string  `json:"error"`
		Log        *string `json:"log"`
	}
	var page struct {
		List  []item `json:"list"`
		Total int64  `json:"total"`
		Page  int    `json:"page"`
		Size  int    `json:"size"`
	}
	e.mustOK(e.do("GET", "/api/admin/transcode/tasks?size=2", nil, admin)).into(t, &page)
	if page.Total != 3 || len(page.List) != 2 || page.Size != 2 || page.Page != 1 {
		t.Fatalf("page %+v", page)
	}
	if page.List[0].ID != tasks[2] || page.List[0].VideoTitle != "video 2" || page.List[0].Status != "pending" ||
		page.List[0].CreatedAt == "" || page.List[0].StartedAt != "" || page.List[0].Log != nil {
		t.Errorf("first item %+v", page.List[0])
	}
	e.mustOK(e.do("GET", "/api/admin/transcode/tasks?status=canceled", nil, admin)).into(t, &page)
	if page.Total != 1 || page.List[0].ID != tasks[1] || page.List[0].FinishedAt == "" {
		t.Errorf("canceled filter %+v", page)
	}

	e.wantError(e.do("GET", "/api/admin/transcode/tasks/999", nil, admin), 404)
	e.wantError(e.do("GET", "/api/admin/transcode/tasks/abc", nil, admin), 404)
	var d item
	e.mustOK(e.do("GET", fmt.Sprintf("/api/admin/transcode/tasks/%d", tasks[0]), nil, admin)).into(t, &d)
	if d.ID != tasks[0] || d.Log == nil || d.VideoTitle != "video 0" {
		t.Errorf("detail %+v", d)
	}
}

func TestTaskCancelAndRetry(t *testing.T) {
	e := newTestEnv(t)
	adminID, admin := e.createUser("root", true)
	videoID, taskID := e.queueVideo(adminID, "clip")
	// Output a crashed run left behind goes with the cancel.
	leftover := filepath.Join(e.data.HLS(videoID), "360p")
	os.MkdirAll(leftover, 0o755)

	cancel := fmt.Sprintf("/api/admin/transcode/tasks/%d/cancel", taskID)
	retry := fmt.Sprintf("/api/admin/transcode/tasks/%d/retry", taskID)
	e.wantError(e.do("POST", retry, nil, admin), 409) // pending cannot be retried
	e.wantError(e.do("POST", "/api/admin/transcode/tasks/999/cancel", nil, admin), 404)
	e.wantError(e.do("POST", "/api/admin/transcode/tasks/999/retry", nil, admin), 404)

	var d struct {
		Status string `json:"status"`
	}
	e.mustOK(e.do("POST", cancel, nil, admin)).into(t, &d)
	if d.Status != "canceled" {
		t.Errorf("after cancel: %s", d.Status)
	}
	if !slices.Contains(e.fake.canceled, taskID) {
		t.Errorf("pool not told to cancel: %v", e.fake.canceled)
	}
	if _, err := os.Stat(e.data.HLS(videoID)); !os.IsNotExist(err) {
		t.Errorf("partial output left: %v", err)
	}
	v, _ := e.store.VideoByID(context.Background(), videoID)
	if v.TranscodeStatus != "canceled" {
		t.Errorf("video transcode_status %s", v.TranscodeStatus)
	}
	e.wantError(e.do("POST", cancel, nil, admin), 409)

	wakes := e.fake.wakes
	e.mustOK(e.do("POST", retry, nil, admin)).into(t, &d)
	if d.Status != "pending" || e.fake.wakes != wakes+1 {
		t.Errorf("after retry: %s, wakes %d", d.Status, e.fake.wakes)
	}
	v, _ = e.store.VideoByID(context.Background(), videoID)
	if v.TranscodeStatus != "pending" {
		t.Errorf("video transcode_status %s", v.TranscodeStatus)
	}
	e.wantError(e.do("POST", retry, nil, admin), 409)
}
