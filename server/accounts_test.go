package server

import "testing"

func TestSetupCreatesFirstAdminOnce(t *testing.T) {
	e := newTestEnv(t)
	e.wantError(e.do("POST", "/api/setup", map[string]any{"username": "ad", "password": "short"}, ""), 400)
	res := e.mustOK(e.do("POST", "/api/setup", map[string]any{"username": "admin", "password": "password123"}, ""))
	var d loginData
	res.into(t, &d)
	if d.Token == "" || d.User.Role != "admin" {
		t.Fatalf("setup answer %+v", d)
	}
	e.wantError(e.do("POST", "/api/setup", map[string]any{"username": "admin2", "password": "password123"}, ""), 403)
}

func TestLoginAndProfile(t *testing.T) {
	e := newTestEnv(t)
	e.createUser("alice", false)
	e.wantError(e.do("POST", "/api/auth/login", map[string]any{"username": "alice", "password": "wrongpass1"}, ""), 401)
	e.wantError(e.do("POST", "/api/auth/login", map[string]any{"username": "nobody", "password": "wrongpass1"}, ""), 401)
	e.wantError(e.do("POST", "/api/auth/login", `{"username": 5}`, ""), 400)
	e.wantError(e.do("POST", "/api/auth/login", `{not json`, ""), 400)
	var d loginData
	e.mustOK(e.do("POST", "/api/auth/login", map[string]any{"username": "alice", "password": "password123"}, "")).into(t, &d)
	var p profile
	e.mustOK(e.do("GET", "/api/user/profile", nil, d.Token)).into(t, &p)
	if p.Username != "alice" || p.Role != "user" || p.CreatedAt == "" {
		t.Fatalf("profile %+v", p)
	}
	e.wantError(e.do("GET", "/api/user/profile", nil, ""), 401)
	e.wantError(e.do("GET", "/api/user/profile", nil, d.Token+"x"), 401)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newTestEnv(t)
	e.wantError(e.do("GET", "/api/does-not-exist", nil, ""), 404)
	e.wantError(e.do("DELETE", "/api/auth/login", nil, ""), 405)
}
