package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// sdkServer starts a server with an admin and one category, and returns the
// base URL, the admin's token and the category id. ffmpeg is pointed at
// nothing so uploads simply stay pending.
func sdkServer(t *testing.T) (base, token, category string) {
	t.Helper()
	data := t.TempDir()
	base = startServe(t, data, "--ffmpeg", "/nonexistent/ffmpeg")
	if _, err := runCLI(t, "user", "create", "--username", "admin", "--password", "password123", "--admin", "--data", data); err != nil {
		t.Fatal(err)
	}
	_, env := login(t, base, "admin", "password123")
	token = env["data"].(map[string]any)["token"].(string)
	body, _ := json.Marshal(map[string]any{"name": "电影", "parent_id": 0, "sort": 1})
	req, _ := http.NewRequest("POST", base+"/api/admin/categories", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var cat struct {
		Code int
		Data struct{ ID int64 }
	}
	json.NewDecoder(res.Body).Decode(&cat)
	if cat.Code != 0 || cat.Data.ID == 0 {
		t.Fatalf("create category: %+v", cat)
	}
	return base, token, strconv.FormatInt(cat.Data.ID, 10)
}

// TestPythonSDKExample runs the original document's Python MikaAPI class,
// unmodified, against the real server: login, profile, upload, list.
func TestPythonSDKExample(t *testing.T) {
	if err := exec.Command("python3", "-c", "import requests").Run(); err != nil {
		t.Skip("python3 with requests is not installed (apt-get install -y python3-requests)")
	}
	base, _, category := sdkServer(t)
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	junk := make([]byte, 64<<10)
	rand.Read(junk)
	if err := os.WriteFile(clip, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "scripts/sdk/check.py", base, "admin", "password123", clip, category)
	cmd.Env = append(os.Environ(), "PYTHONPATH=scripts/sdk", "NO_PROXY=127.0.0.1,localhost")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python SDK example: %v\n%s", err, out)
	}
}

// TestJavaScriptSDKExample runs the document's axios example in Node.
func TestJavaScriptSDKExample(t *testing.T) {
	if _, err := os.Stat("scripts/sdk/node_modules/axios"); err != nil {
		t.Skip("run `make sdk-deps` (npm ci in scripts/sdk) first")
	}
	base, token, category := sdkServer(t)
	cmd := exec.Command("node", "scripts/sdk/check.mjs", base, token, category)
	cmd.Env = append(os.Environ(), "NO_PROXY=127.0.0.1,localhost")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("JavaScript SDK example: %v\n%s", err, out)
	}
}
