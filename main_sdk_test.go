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

// TestPythonSDKExample runs the original document's Python MikaAPI class,
// unmodified, against the real server: login, profile, upload, list.
func TestPythonSDKExample(t *testing.T) {
	if err := exec.Command("python3", "-c", "import requests").Run(); err != nil {
		t.Skip("python3 with requests is not installed (apt-get install -y python3-requests)")
	}
	data := t.TempDir()
	base := startServe(t, data, "--ffmpeg", "/nonexistent/ffmpeg") // keep the upload pending
	if _, err := runCLI(t, "user", "create", "--username", "admin", "--password", "password123", "--admin", "--data", data); err != nil {
		t.Fatal(err)
	}
	_, env := login(t, base, "admin", "password123")
	token := env["data"].(map[string]any)["token"].(string)
	body, _ := json.Marshal(map[string]any{"name": "电影", "parent_id": 0, "sort": 1})
	req, _ := http.NewRequest("POST", base+"/api/admin/categories", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Code int
		Data struct{ ID int64 }
	}
	json.NewDecoder(res.Body).Decode(&cat)
	res.Body.Close()
	if cat.Code != 0 || cat.Data.ID == 0 {
		t.Fatalf("create category: %+v", cat)
	}

	clip := filepath.Join(t.TempDir(), "clip.mp4")
	junk := make([]byte, 64<<10)
	rand.Read(junk)
	if err := os.WriteFile(clip, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "scripts/sdk/check.py", base, "admin", "password123", clip, strconv.FormatInt(cat.Data.ID, 10))
	cmd.Env = append(os.Environ(), "PYTHONPATH=scripts/sdk", "NO_PROXY=127.0.0.1,localhost")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python SDK example: %v\n%s", err, out)
	}
}
