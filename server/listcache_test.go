package server

import (
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"mika/store"
)

// The public list is answered from the pages already built, and every change
// it shows is seen on the very next request.
func TestListCacheFollowsChanges(t *testing.T) {
	l := newLibrary(t)
	ctx := context.Background()
	first := l.list("", "")
	if got := listIDs(first); fmt.Sprint(got) != fmt.Sprint([]int64{l.bobPub, l.pub}) {
		t.Fatalf("list %v", got)
	}
	gen, err := l.store.ContentGeneration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, hit := l.srv.lists.get(gen, fmt.Sprintf("0\x00false\x001\x0020\x00")); !hit {
		t.Fatal("the public page was not kept")
	}
	if again := l.list("", l.bob); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("the kept page differs:\n%v\n%v", again, first)
	}
	// Admins and mine=1 are never answered from the public pages.
	if got := listIDs(l.list("", l.admin)); !slices.Contains(got, l.hidden) {
		t.Fatalf("admin list %v lacks the hidden video", got)
	}
	if got := listIDs(l.list("?mine=1", l.alice)); !slices.Contains(got, l.processing) {
		t.Fatalf("mine list %v lacks the processing video", got)
	}

	item := func(a listAnswer, id int64) map[string]any {
		for _, v := range a.List {
			if int64(v["id"].(float64)) == id {
				return v
			}
		}
		t.Fatalf("video %d not listed: %v", id, listIDs(a))
		return nil
	}
	changes := []struct {
		name  string
		do    func()
		check func(a listAnswer) bool
	}{
		{"title edited", func() {
			l.mustOK(l.do("PUT", fmt.Sprintf("/api/videos/%d", l.pub), map[string]any{"title": "新标题"}, l.alice))
		}, func(a listAnswer) bool { return item(a, l.pub)["title"] == "新标题" }},
		{"a view counted", func() {
			if _, err := l.store.RecordView(ctx, l.bobPub, "someone"); err != nil {
				t.Fatal(err)
			}
		}, func(a listAnswer) bool { return item(a, l.bobPub)["views"] == float64(1) }},
		{"category renamed", func() {
			name := "纪录片"
			if _, err := l.store.UpdateCategory(ctx, l.cat.ID, store.CategoryChanges{Name: &name}); err != nil {
				t.Fatal(err)
			}
		}, func(a listAnswer) bool { return item(a, l.pub)["category"].(map[string]any)["name"] == "纪录片" }},
		{"hidden video published", func() { l.setStatus(l.hidden, store.VideoPublished) },
			func(a listAnswer) bool { return a.Total == 3 && slices.Contains(listIDs(a), l.hidden) }},
		{"video deleted", func() {
			l.mustOK(l.do("DELETE", fmt.Sprintf("/api/videos/%d", l.bobPub), nil, l.bob))
		}, func(a listAnswer) bool { return a.Total == 2 && !slices.Contains(listIDs(a), l.bobPub) }},
	}
	for _, c := range changes {
		l.list("", "") // the page is kept before the change
		c.do()
		if a := l.list("", ""); !c.check(a) {
			t.Errorf("%s: the list did not follow: %+v", c.name, a.List)
		}
	}
}

func TestListCacheBounds(t *testing.T) {
	c := newListCache()
	c.put(5, "a", []byte("five"))
	if b, ok := c.get(5, "a"); !ok || string(b) != "five" {
		t.Fatalf("get: %q %v", b, ok)
	}
	if _, ok := c.get(6, "a"); ok {
		t.Fatal("a page served at another generation")
	}
	c.put(4, "b", []byte("older"))
	if _, ok := c.get(4, "b"); ok {
		t.Fatal("a page built before the generation held was kept")
	}
	c.put(7, "c", []byte("seven"))
	if _, ok := c.get(7, "a"); ok || c.size != len("seven") {
		t.Fatalf("a newer generation kept older pages (size %d)", c.size)
	}
	big := make([]byte, maxListCacheBytes/2+1)
	c.put(7, "d", big)
	c.put(7, "e", big)
	if c.size > maxListCacheBytes {
		t.Fatalf("size %d over the bound", c.size)
	}
	if _, ok := c.get(7, "e"); !ok {
		t.Fatal("the newest page was not kept")
	}
	c.put(7, "huge", make([]byte, maxListCacheBytes+1))
	if _, ok := c.get(7, "huge"); ok || c.size > maxListCacheBytes {
		t.Fatal("a page larger than the bound was kept")
	}
	if _, ok := c.get(7, "e"); !ok {
		t.Fatal("a page too large to keep pushed out the others")
	}

	// Full of small pages: each new one pushes out only what it needs, so
	// nearly all of them stay; the size is counted exactly throughout.
	c = newListCache()
	page := make([]byte, 8<<10)
	n := maxListCacheBytes / len(page)
	for i := range 2 * n {
		c.put(1, fmt.Sprint(i), page)
		if c.size > maxListCacheBytes || c.size != len(c.pages)*len(page) {
			t.Fatalf("after %d pages: size %d for %d pages", i+1, c.size, len(c.pages))
		}
	}
	if len(c.pages) != n {
		t.Fatalf("%d pages kept, room for %d", len(c.pages), n)
	}
	if _, ok := c.get(1, fmt.Sprint(2*n-1)); !ok {
		t.Fatal("the newest page was not kept")
	}
	// The same key again replaces its page instead of adding to the size.
	c.put(1, fmt.Sprint(2*n-1), make([]byte, 100))
	if c.size != (n-1)*len(page)+100 {
		t.Fatalf("size %d after replacing a page", c.size)
	}
}

// A write by another process (mika user, sqlite3 by hand) does not move this
// process's write count: the kept page may answer until the generation is
// read again, which happens within maxUnconfirmed.
func TestListCacheSeesOtherProcessesWithinABound(t *testing.T) {
	l := newLibrary(t)
	clock := time.Now()
	l.srv.lists.now = func() time.Time { return clock }
	l.list("", "") // built and kept
	l.list("", "") // the generation is confirmed at this write count

	other, err := sql.Open("sqlite", "file:"+l.data.DB()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("UPDATE videos SET title = 'by hand' WHERE id = ?", l.pub); err != nil {
		t.Fatal(err)
	}
	title := func() string {
		for _, v := range l.list("", "").List {
			if int64(v["id"].(float64)) == l.pub {
				return v["title"].(string)
			}
		}
		t.Fatal("not listed")
		return ""
	}
	if got := title(); got != "示例视频" {
		t.Fatalf("the kept page was not answered without reading the generation: %q", got)
	}
	clock = clock.Add(maxUnconfirmed)
	if got := title(); got != "by hand" {
		t.Fatalf("after %s the list still says %q", maxUnconfirmed, got)
	}
}

// A list page that is not kept queries the database only in its turn:
// while every turn is taken it waits, and a request whose client goes away
// meanwhile ends with nginx's 499 and never queries.
func TestListQueriesWaitTheirTurn(t *testing.T) {
	l := newLibrary(t)
	if cap(l.srv.listGate) != l.store.ReadConns() {
		t.Fatalf("%d turns for %d read connections", cap(l.srv.listGate), l.store.ReadConns())
	}
	for range cap(l.srv.listGate) {
		l.srv.listGate <- struct{}{} // every turn taken
	}
	ran := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- l.srv.listQueries(context.Background(), func(context.Context) error { ran <- struct{}{}; return nil })
	}()
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/api/videos?page=2", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	answered := make(chan struct{})
	go func() { l.srv.ServeHTTP(rec, req); close(answered) }()
	select {
	case <-ran:
		t.Fatal("ran while every turn was taken")
	case <-answered:
		t.Fatalf("answered %d while every turn was taken", rec.Code)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	<-answered
	if rec.Code != statusClientClosed || !strings.Contains(rec.Body.String(), "client closed request") {
		t.Fatalf("canceled while waiting: %d %s", rec.Code, rec.Body)
	}
	<-l.srv.listGate // one turn free: the waiting query runs
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("did not run once a turn was free")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range cap(l.srv.listGate) - 1 {
		<-l.srv.listGate
	}
	l.list("", "") // and pages are answered again
}
