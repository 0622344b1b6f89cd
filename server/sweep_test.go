package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"mika/store"
)

// A delete cut short by a crash (row gone, files not yet) leaves nothing
// behind once housekeeping runs; a live video's files are untouched.
func TestSweepAfterInterruptedDelete(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	uid, _ := e.createUser("alice", false)
	files := func(id int64) []string {
		hls, _ := e.data.HLSFile(id, "360p/seg_00000.ts")
		return []string{e.data.Original(id, ".mp4"), hls, e.data.Cover(id)}
	}
	var ids []int64
	for _, title := range []string{"gone", "kept"} {
		v, _, err := e.store.CreateVideoPlaced(ctx, store.NewVideo{UserID: uid, Title: title},
			func(id int64) (string, error) { return e.data.Rel(e.data.Original(id, ".mp4")) })
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files(v.ID) {
			os.MkdirAll(filepath.Dir(f), 0o755)
			if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, v.ID)
	}
	// The crash: the row is deleted, the files are not.
	if _, _, err := e.store.DeleteVideo(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.expireUploads(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range files(ids[0]) {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s of the deleted video is still there (%v)", f, err)
		}
	}
	if _, err := os.Stat(e.data.HLS(ids[0])); !os.IsNotExist(err) {
		t.Errorf("HLS folder of the deleted video is still there")
	}
	for _, f := range files(ids[1]) {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s of the live video is gone: %v", f, err)
		}
	}
}
