package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// openAPIDoc decodes the served description loosely, enough to look up an
// operation's responses and follow "$ref"s.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPISpec, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// deref follows a local "$ref" ("#/components/...") until it reaches a node.
func deref(doc map[string]any, node any) map[string]any {
	m, _ := node.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var cur any = doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		m, _ = cur.(map[string]any)
	}
	return m
}

// opResponses answers the responses object of method on path template tpl.
func opResponses(t *testing.T, doc map[string]any, method, tpl string) map[string]any {
	t.Helper()
	path, _ := doc["paths"].(map[string]any)[tpl].(map[string]any)
	op, _ := path[strings.ToLower(method)].(map[string]any)
	resp, _ := op["responses"].(map[string]any)
	if resp == nil {
		t.Fatalf("openapi.json has no %s %s", method, tpl)
	}
	return resp
}

// dataProperties answers the properties the 200 answer documents for "data",
// merging the allOf parts of the envelope.
func dataProperties(doc map[string]any, schema map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(s map[string]any)
	walk = func(s map[string]any) {
		s = deref(doc, s)
		if s == nil {
			return
		}
		if parts, ok := s["allOf"].([]any); ok {
			for _, p := range parts {
				walk(deref(doc, p))
			}
		}
		if props, ok := s["properties"].(map[string]any); ok {
			if data := deref(doc, props["data"]); data != nil {
				if dp, ok := data["properties"].(map[string]any); ok {
					for k, v := range dp {
						out[k] = v
					}
				}
			}
		}
	}
	walk(schema)
	return out
}

// TestOpenAPIDocumentsObservedStatuses drives requests whose answers a
// client generated from openapi.json must know about, and checks that the
// status each one really answers is listed for its operation.
func TestOpenAPIDocumentsObservedStatuses(t *testing.T) {
	e := newTestEnv(t)
	doc := openAPIDoc(t)
	_, owner := e.createUser("owner", false)
	_, other := e.createUser("other", false)

	failed := e.upload(owner, "never playable")
	c, _ := initChunked(e, owner, map[string]any{"filename": "a.mp4", "filesize": 10, "title": "t"})
	foreign := &chunked{e: e, tok: other, id: c.id}

	cases := []struct {
		name   string
		method string
		tpl    string
		want   int
		send   func() *response
	}{
		{"wrong password", "POST", "/api/auth/login", 401, func() *response {
			return e.do("POST", "/api/auth/login", map[string]any{"username": "owner", "password": "wrong-password"}, "")
		}},
		{"publish a video that is not playable", "PUT", "/api/videos/{id}", 409, func() *response {
			return e.do("PUT", fmt.Sprintf("/api/videos/%d", failed), map[string]any{"status": 1}, owner)
		}},
		{"someone else's upload: chunk", "POST", "/api/videos/upload/chunk", 403, func() *response {
			return foreign.send(0, []byte("0123456789"))
		}},
		{"someone else's upload: state", "GET", "/api/videos/upload/{upload_id}", 403, func() *response {
			return e.do("GET", "/api/videos/upload/"+c.id, nil, other)
		}},
		{"someone else's upload: complete", "POST", "/api/videos/upload/complete", 403, func() *response {
			return e.do("POST", "/api/videos/upload/complete", map[string]any{"upload_id": c.id}, other)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			res := tc.send()
			if res.Status != tc.want {
				t.Fatalf("%s %s answered %d, want %d (%s)", tc.method, tc.tpl, res.Status, tc.want, res.Message)
			}
			if _, ok := opResponses(t, doc, tc.method, tc.tpl)[fmt.Sprint(tc.want)]; !ok {
				t.Errorf("openapi.json does not list %d for %s %s", tc.want, tc.method, tc.tpl)
			}
		})
	}
}

// TestOpenAPIListsDocumentPaging checks that every list answer documents the
// paging fields SPEC §3 gives every list: {"list","total","page","size"}.
// The daily statistics are not paged lists: SPEC §8 gives them
// {"list","total"} with total an object of sums.
func TestOpenAPIListsDocumentPaging(t *testing.T) {
	doc := openAPIDoc(t)
	for p, ops := range doc["paths"].(map[string]any) {
		if strings.HasPrefix(p, "/api/admin/statistics/") {
			continue
		}
		for m, op := range ops.(map[string]any) {
			resp, _ := op.(map[string]any)["responses"].(map[string]any)
			ok := deref(doc, resp["200"])
			if ok == nil {
				continue
			}
			content, _ := ok["content"].(map[string]any)
			js, _ := content["application/json"].(map[string]any)
			props := dataProperties(doc, deref(doc, js["schema"]))
			if _, isList := props["list"]; !isList {
				continue
			}
			for _, k := range []string{"total", "page", "size"} {
				if _, has := props[k]; !has {
					t.Errorf("%s %s: the list answer does not document %q", strings.ToUpper(m), p, k)
				}
			}
		}
	}
}
