package server

import (
	"fmt"
	"strings"
	"testing"
)

func TestCategories(t *testing.T) {
	e := newTestEnv(t)
	_, admin := e.createUser("root", true)
	_, user := e.createUser("alice", false)

	create := func(body map[string]any) int64 {
		t.Helper()
		var c struct {
			ID int64 `json:"id"`
		}
		e.mustOK(e.do("POST", "/api/admin/categories", body, admin)).into(t, &c)
		return c.ID
	}
	films := create(map[string]any{"name": " 电影 ", "parent_id": 0, "sort": 2})
	music := create(map[string]any{"name": "音乐", "sort": 1})
	action := create(map[string]any{"name": "动作片", "parent_id": films, "sort": 2})
	comedy := create(map[string]any{"name": "喜剧片", "parent_id": films, "sort": 1})

	res := e.mustOK(e.do("GET", "/api/categories", nil, ""))
	want := fmt.Sprintf(`[{"id":%d,"name":"音乐","parent_id":0,"sort":1},`+
		`{"id":%d,"name":"电影","parent_id":0,"sort":2,"children":[`+
		`{"id":%d,"name":"喜剧片","parent_id":%d,"sort":1},{"id":%d,"name":"动作片","parent_id":%d,"sort":2}]}]`,
		music, films, comedy, films, action, films)
	if string(res.Data) != want {
		t.Fatalf("tree\n%s\nwant\n%s", res.Data, want)
	}

	// Only admins write.
	e.wantError(e.do("POST", "/api/admin/categories", map[string]any{"name": "x"}, user), 403)
	e.wantError(e.do("POST", "/api/admin/categories", map[string]any{"name": "x"}, ""), 401)
	e.wantError(e.do("DELETE", fmt.Sprintf("/api/admin/categories/%d", music), nil, user), 403)

	bad := []struct {
		method, path string
		body         any
		code         int
		field        string
	}{
		{"POST", "/api/admin/categories", map[string]any{"name": "  "}, 400, "name"},
		{"POST", "/api/admin/categories", map[string]any{"name": strings.Repeat("名", 51)}, 400, "name"},
		{"POST", "/api/admin/categories", map[string]any{"name": "x", "parent_id": 999}, 400, "parent_id"},
		{"POST", "/api/admin/categories", map[string]any{"name": "x", "sort": "a"}, 400, "sort"},
		{"POST", "/api/admin/categories", map[string]any{"name": "动作片", "parent_id": films}, 409, "name"},
		{"PUT", fmt.Sprintf("/api/admin/categories/%d", comedy), map[string]any{"name": "动作片"}, 409, "name"},
		{"PUT", fmt.Sprintf("/api/admin/categories/%d", films), map[string]any{"parent_id": action}, 400, "parent_id"},
		{"PUT", fmt.Sprintf("/api/admin/categories/%d", films), map[string]any{"parent_id": films}, 400, "parent_id"},
		{"PUT", fmt.Sprintf("/api/admin/categories/%d", films), map[string]any{"parent_id": 999}, 400, "parent_id"},
		{"PUT", "/api/admin/categories/999", map[string]any{"name": "x"}, 404, ""},
		{"PUT", "/api/admin/categories/999", map[string]any{"name": "  "}, 404, ""}, // missing before invalid
		{"DELETE", "/api/admin/categories/999", nil, 404, ""},
	}
	for _, b := range bad {
		res := e.wantError(e.do(b.method, b.path, b.body, admin), b.code)
		if b.field != "" && res.Errors[b.field] == "" {
			t.Fatalf("%s %s %v: errors %v", b.method, b.path, b.body, res.Errors)
		}
	}

	// Update keeps what is left out; a move is allowed when it makes no cycle.
	var c map[string]any
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/categories/%d", comedy), map[string]any{"sort": 5}, admin)).into(t, &c)
	if c["name"] != "喜剧片" || c["sort"] != float64(5) || c["parent_id"] != float64(films) {
		t.Fatalf("after update %v", c)
	}
	e.mustOK(e.do("PUT", fmt.Sprintf("/api/admin/categories/%d", comedy), map[string]any{"parent_id": music}, admin))

	// A category with children or videos is kept, and the answer says why.
	_, owner := e.createUser("bob", false)
	e.upload(owner, "v", field("category_id", fmt.Sprint(films)))
	res = e.wantError(e.do("DELETE", fmt.Sprintf("/api/admin/categories/%d", films), nil, admin), 409)
	if res.Message != "category has 1 sub-category and 1 video" {
		t.Fatalf("message %q", res.Message)
	}
	res = e.wantError(e.do("DELETE", fmt.Sprintf("/api/admin/categories/%d", music), nil, admin), 409)
	if res.Message != "category has 1 sub-category and 0 videos" {
		t.Fatalf("message %q", res.Message)
	}
	e.mustOK(e.do("DELETE", fmt.Sprintf("/api/admin/categories/%d", action), nil, admin))
	e.mustOK(e.do("DELETE", fmt.Sprintf("/api/admin/categories/%d", comedy), nil, admin))
	e.mustOK(e.do("DELETE", fmt.Sprintf("/api/admin/categories/%d", music), nil, admin))
	res = e.mustOK(e.do("GET", "/api/categories", nil, ""))
	if string(res.Data) != fmt.Sprintf(`[{"id":%d,"name":"电影","parent_id":0,"sort":2}]`, films) {
		t.Fatalf("tree after deletes %s", res.Data)
	}
}
