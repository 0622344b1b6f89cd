package server

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// listCache keeps the public video list pages the server answered, as the
// bytes it sent, together with the content generation they were built at
// (store.ContentGeneration). A page is served again only while the
// generation has not moved, so it is exactly what a fresh query would
// answer: any change to a video, a category or a task's progress moves the
// generation and drops every page.
//
// Only the public view is kept (what anonymous callers and non-admin users
// see outside mine=1): it is the same for everyone, and it is what a crowd
// of viewers asks for over and over.
//
// Reading the generation is itself a query, so the cache also remembers
// how many writes this process had completed (store.Writes) when it last
// read the generation: while that count has not moved, nothing this
// process wrote can have moved the generation either, and a page is served
// without asking the database. Other processes (mika user, sqlite3 by
// hand) write without moving the count, so the generation is read again at
// least every maxUnconfirmed.
type listCache struct {
	mu        sync.Mutex
	gen       int64
	pages     map[string][]byte
	size      int
	writes    int64     // store.Writes when gen was last read from the database
	confirmed time.Time // when that was
	now       func() time.Time
}

// maxListCacheBytes bounds the pages kept (about 2,000 pages of 20
// videos); when full, pages picked at random make room for a new one, so a
// crowd asking for more distinct pages than fit still finds most of what
// fits.
const maxListCacheBytes = 16 << 20

// maxUnconfirmed bounds how long the generation goes unread while this
// process writes nothing.
const maxUnconfirmed = time.Second

func newListCache() *listCache {
	return &listCache{pages: map[string][]byte{}, writes: -1, now: time.Now}
}

// fresh reports whether the generation held is still the database's: no
// write of this process completed since it was last read (writes is
// store.Writes, loaded now), and that was recently. When it is, gen is
// that generation and body the page under key, nil when none is kept.
func (c *listCache) fresh(writes int64, key string) (body []byte, gen int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if writes != c.writes || c.now().Sub(c.confirmed) >= maxUnconfirmed {
		return nil, 0, false
	}
	return c.pages[key], c.gen, true
}

// confirm records that the database's generation was gen once writes
// writes had completed (writes loaded before gen was read).
func (c *listCache) confirm(gen, writes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.advance(gen) {
		c.writes, c.confirmed = writes, c.now()
	}
}

// get answers the page filed under key at generation gen.
func (c *listCache) get(gen int64, key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return nil, false
	}
	b, ok := c.pages[key]
	return b, ok
}

// put files body under key at generation gen (its capacity counts against
// the bound: it is what the page holds on to). A page built from an older
// generation than the one held is dropped; a newer one starts over.
func (c *listCache) put(gen int64, key string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.advance(gen) {
		return
	}
	if len(body) > maxListCacheBytes {
		return
	}
	if cap(body) > len(body)+len(body)/8 {
		body = bytes.Clone(body) // an encoder's buffer grows by doubling
	}
	if old, ok := c.pages[key]; ok {
		c.size -= cap(old)
		delete(c.pages, key)
	}
	// Go's map iteration starts at a random place: what it meets first
	// is a random pick.
	for k, b := range c.pages {
		if c.size+cap(body) <= maxListCacheBytes {
			break
		}
		delete(c.pages, k)
		c.size -= cap(b)
	}
	c.pages[key] = body
	c.size += cap(body)
}

// advance moves the cache to generation gen, dropping every page when gen
// is newer; false when gen is older than the one held (what was read at
// gen is out of date). c.mu is held.
func (c *listCache) advance(gen int64) bool {
	if gen < c.gen {
		return false
	}
	if gen > c.gen {
		c.reset(gen)
	}
	return true
}

func (c *listCache) reset(gen int64) {
	clear(c.pages)
	c.size, c.gen, c.writes = 0, gen, -1
}

// listQueries runs fn, the database work of a list page, when its turn
// comes. Turns are taken in arrival order (a channel's waiting senders are
// served first in, first out), at most as many at once as the store has
// read connections. Without it, 50 requests for pages not kept all wait
// inside database/sql, which hands a freed connection to a waiter picked
// at random, several times per request: with wrk -c50 over random pages of
// 200,000 videos, p99 was 33–41 ms at a p50 of 10–15 ms; in arrival order,
// 19–22 ms at the same throughput.
func (s *Server) listQueries(ctx context.Context, fn func(context.Context) error) error {
	select {
	case s.listGate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.listGate }()
	return fn(ctx)
}
