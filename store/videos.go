package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Video statuses (SPEC §5).
const (
	VideoProcessing = 0
	VideoPublished  = 1
	VideoFailed     = 2
	VideoHidden     = 3
)

// Variant is one rung of a video's HLS ladder as the API shows it.
type Variant struct {
	Name      string `json:"name"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	Bandwidth int    `json:"bandwidth"`
}

// Video is one item of the library.
type Video struct {
	ID              int64
	UserID          int64
	Title           string
	Description     string
	CategoryID      int64
	Tags            []string
	Status          int
	TranscodeStatus string
	SourcePath      string // relative to the data folder, or absolute for library imports
	SourceName      string // the uploaded file's name
	FileSize        int64
	Duration        float64
	Width, Height   int
	Resolution      string
	Variants        []Variant
	Playable        bool
	HasCover        bool
	HLSBytes        int64
	Views           int64
	LibraryID       int64
	Missing         bool
	CreatedAt       int64
	UpdatedAt       int64
}

const videoColumns = `id, user_id, title, description, category_id, tags, status, transcode_status,
	source_path, source_name, file_size, duration, width, height, resolution, variants, playable,
	has_cover, hls_bytes, views, library_id, missing, created_at, updated_at`

// listColumns are videoColumns for list pages, which do not show the
// variants: decoding their JSON cost more than the rest of a row.
var listColumns = strings.Replace(videoColumns, "variants", "'[]'", 1)

func scanVideo(row interface{ Scan(...any) error }) (*Video, error) {
	var v Video
	var tags, variants string
	err := row.Scan(&v.ID, &v.UserID, &v.Title, &v.Description, &v.CategoryID, &tags, &v.Status,
		&v.TranscodeStatus, &v.SourcePath, &v.SourceName, &v.FileSize, &v.Duration, &v.Width, &v.Height,
		&v.Resolution, &variants, &v.Playable, &v.HasCover, &v.HLSBytes, &v.Views, &v.LibraryID,
		&v.Missing, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	v.Tags = decodeTags(tags)
	v.Variants = []Variant{}
	if variants != "" && variants != "[]" {
		if err := json.Unmarshal([]byte(variants), &v.Variants); err != nil || v.Variants == nil {
			v.Variants = []Variant{}
		}
	}
	return &v, nil
}

// decodeTags reads the tags column, a JSON array of strings as
// marshalTags writes it. Without a backslash no string holds a quote or an
// escape, so splitting at "," is exact (list pages decode 20 of these per
// request); anything else goes through encoding/json.
func decodeTags(s string) []string {
	if s == "" || s == "[]" {
		return []string{}
	}
	if inner, ok := strings.CutPrefix(s, `["`); ok && !strings.Contains(s, `\`) {
		if inner, ok = strings.CutSuffix(inner, `"]`); ok {
			return strings.Split(inner, `","`)
		}
	}
	var tags []string
	if err := json.Unmarshal([]byte(s), &tags); err != nil || tags == nil {
		return []string{}
	}
	return tags
}

// NewVideo is what CreateVideo needs.
type NewVideo struct {
	UserID      int64
	Title       string
	Description string
	CategoryID  int64
	Tags        []string
	SourcePath  string
	SourceName  string
	FileSize    int64
	LibraryID   int64
}

// CreateVideo inserts a video in status 0 together with its pending
// transcode task, in one transaction: an upload that is stored is always
// queued. It returns the video and the task id.
func (s *Store) CreateVideo(ctx context.Context, n NewVideo) (*Video, int64, error) {
	var v *Video
	var taskID int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		v, taskID, err = createVideo(ctx, tx, n, nil)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("create video: %w", err)
	}
	return v, taskID, nil
}

// PlaceFunc puts a new video's original into place once its id is known and
// returns the source path to store. It runs inside the transaction that
// creates the video, so the task only becomes visible with the file there.
type PlaceFunc func(id int64) (sourcePath string, err error)

// CreateVideoPlaced is CreateVideo for an upload whose file is named after
// the video id: place moves the file into position before the commit, and
// an error from place rolls everything back.
func (s *Store) CreateVideoPlaced(ctx context.Context, n NewVideo, place PlaceFunc) (*Video, int64, error) {
	var v *Video
	var taskID int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		v, taskID, err = createVideo(ctx, tx, n, place)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("create video: %w", err)
	}
	return v, taskID, nil
}

// createVideo inserts the video and its pending task within tx.
func createVideo(ctx context.Context, tx *sql.Tx, n NewVideo, place PlaceFunc) (*Video, int64, error) {
	t := now()
	res, err := tx.ExecContext(ctx, `INSERT INTO videos(user_id, title, description, category_id, tags,
		status, transcode_status, source_path, source_name, file_size, library_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, 'pending', ?, ?, ?, ?, ?, ?)`,
		n.UserID, n.Title, n.Description, n.CategoryID, marshalTags(n.Tags), n.SourcePath, n.SourceName,
		n.FileSize, n.LibraryID, t, t)
	if err != nil {
		return nil, 0, err
	}
	id, _ := res.LastInsertId()
	if place != nil {
		src, err := place(id)
		if err != nil {
			return nil, 0, err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE videos SET source_path = ? WHERE id = ?", src, id); err != nil {
			return nil, 0, err
		}
	}
	res, err = tx.ExecContext(ctx, `INSERT INTO tasks(video_id, status, created_at, updated_at)
		VALUES (?, 'pending', ?, ?)`, id, t, t)
	if err != nil {
		return nil, 0, err
	}
	taskID, _ := res.LastInsertId()
	v, err := scanVideo(tx.QueryRowContext(ctx, "SELECT "+videoColumns+" FROM videos WHERE id = ?", id))
	return v, taskID, err
}

// marshalTags encodes tags as stored: a JSON array, "[]" when empty, with
// no HTML escaping so that the stored text is what keyword search sees.
func marshalTags(tags []string) string {
	if len(tags) == 0 {
		return "[]"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(tags)
	return strings.TrimSuffix(b.String(), "\n")
}

// VideoByID loads a video.
func (s *Store) VideoByID(ctx context.Context, id int64) (*Video, error) {
	return scanVideo(s.read.QueryRowContext(ctx, "SELECT "+videoColumns+" FROM videos WHERE id = ?", id))
}

// VideoFilter selects and orders a page of videos.
type VideoFilter struct {
	// Status keeps videos in this status; AnyStatus lifts the filter.
	Status    int
	AnyStatus bool
	// UserID keeps one user's videos when not 0.
	UserID int64
	// CategoryID keeps videos of this category and its descendants when not 0.
	CategoryID int64
	// Keyword keeps videos whose title, description or tags contain it,
	// case-insensitively.
	Keyword string
	// ByViews orders most viewed first; otherwise newest first. Ties go to
	// the higher (newer) id.
	ByViews       bool
	Limit, Offset int
	// AtGeneration, when not 0, is the content generation the caller
	// knows to be current (ContentGeneration): a total already counted at
	// it is used without counting again.
	AtGeneration int64

	subtree []int64 // CategoryID and its descendants, resolved by ListVideos
}

// minTrigram is the shortest keyword the trigram index can answer; shorter
// ones fall back to LIKE (a scan).
const minTrigram = 3

// bigResult is the match count above which a keyword page in views order
// walks the views index and tests each row against the matches, instead of
// fetching every match and sorting them.
var bigResult int64 = 2000

// where builds the filter's WHERE clause and its arguments. With probe,
// a keyword's matches are only tested for membership (the "+" keeps the
// planner from driving the query by rowid).
func (f VideoFilter) where(probe bool) (string, []any) {
	var conds []string
	var args []any
	if !f.AnyStatus {
		conds = append(conds, "status = ?")
		args = append(args, f.Status)
	}
	if f.UserID != 0 {
		conds = append(conds, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.CategoryID != 0 {
		// One category (the usual leaf) is an equality, so its index
		// serves the order too; a subtree is a list.
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(f.subtree)), ", ")
		conds = append(conds, "category_id IN ("+marks+")")
		for _, id := range f.subtree {
			args = append(args, id)
		}
	}
	if kw := f.keyword(); kw != "" {
		if utf8.RuneCountInString(kw) >= minTrigram {
			col := "id"
			if probe {
				col = "+id"
			}
			conds = append(conds, col+" IN (SELECT rowid FROM videos_fts WHERE videos_fts MATCH ?)")
			args = append(args, ftsPhrase(kw))
		} else {
			conds = append(conds, `(title LIKE ? ESCAPE '\' OR description LIKE ? ESCAPE '\'
				OR EXISTS (SELECT 1 FROM json_each(tags) WHERE value LIKE ? ESCAPE '\'))`)
			p := "%" + likeEscape(kw) + "%"
			args = append(args, p, p, p)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ftsPhrase quotes s as one FTS5 phrase: with the trigram tokenizer a phrase
// matches wherever s occurs as a substring.
func ftsPhrase(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// likeEscape escapes LIKE's wildcards and its escape character.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ListVideos answers a page of videos and the total that match f. A list
// does not show variants: they are left empty (VideoByID has them).
//
// "Newest first" is id order: ids are handed out in creation order, so it
// is created_at order, and every index already ends in the id. That lets a
// keyword page stream from the search index newest first and stop at the
// page's end instead of fetching and sorting every match.
func (s *Store) ListVideos(ctx context.Context, f VideoFilter) ([]*Video, int64, error) {
	if f.CategoryID != 0 {
		var err error
		if f.subtree, err = s.categorySubtree(ctx, f.CategoryID); err != nil {
			return nil, 0, fmt.Errorf("list videos: %w", err)
		}
		if len(f.subtree) == 0 {
			return []*Video{}, 0, nil
		}
	}
	if match, ok, err := s.publicMatch(ctx, f); err != nil {
		return nil, 0, fmt.Errorf("list videos: %w", err)
	} else if ok {
		return s.listPublic(ctx, f, match)
	}
	probe, err := s.probeKeyword(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("count videos: %w", err)
	}
	total, err := s.countVideos(ctx, f, probe)
	if err != nil {
		return nil, 0, fmt.Errorf("count videos: %w", err)
	}
	list := []*Video{}
	if total == 0 || int64(f.Offset) >= total {
		return list, total, nil
	}
	var q string
	var args []any
	offset := f.Offset
	if f.searchOnly() && !f.ByViews {
		q = "SELECT " + prefixed("v", listColumns) + ` FROM videos_fts f CROSS JOIN videos v ON v.id = f.rowid
			WHERE videos_fts MATCH ?`
		args = append(args, ftsPhrase(f.keyword()))
		if !f.AnyStatus {
			q, args = q+" AND v.status = ?", append(args, f.Status)
		}
		q += " ORDER BY f.rowid DESC"
	} else {
		var where string
		where, args = f.where(probe || (f.searchOnly() && total > bigResult))
		if f.keyword() == "" {
			if where, args, offset, err = s.seekPage(ctx, f.AtGeneration, f.ByViews, where, args, offset); err != nil {
				return nil, 0, err
			}
		}
		q = "SELECT " + listColumns + " FROM videos" + where + " ORDER BY id DESC"
		if f.ByViews {
			q = "SELECT " + listColumns + " FROM videos" + where + " ORDER BY views DESC, id DESC"
		}
	}
	list, err = s.queryVideos(ctx, q+" LIMIT ? OFFSET ?", append(args, f.Limit, offset)...)
	return list, total, err
}

// keyword is the keyword as searched: trimmed, without NUL characters
// (which would end FTS5's query string early).
func (f VideoFilter) keyword() string {
	return strings.TrimSpace(strings.ReplaceAll(f.Keyword, "\x00", ""))
}

// categorySubtree lists category id and its descendants; empty when id
// does not exist.
func (s *Store) categorySubtree(ctx context.Context, id int64) ([]int64, error) {
	rows, err := s.read.QueryContext(ctx, `WITH RECURSIVE sub(id) AS (
		SELECT id FROM categories WHERE id = ?
		UNION SELECT c.id FROM categories c JOIN sub ON c.parent_id = sub.id)
		SELECT id FROM sub`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var c int64
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		ids = append(ids, c)
	}
	return ids, rows.Err()
}

// searchOnly reports whether f is a keyword the index can answer, with no
// user or category filter.
func (f VideoFilter) searchOnly() bool {
	return f.UserID == 0 && f.CategoryID == 0 && utf8.RuneCountInString(f.keyword()) >= minTrigram
}

// prefixed qualifies each column of a column list with table alias t.
func prefixed(t, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		if c = strings.TrimSpace(c); !strings.HasPrefix(c, "'") { // a literal stays as it is
			c = t + "." + c
		}
		cols[i] = c
	}
	return strings.Join(cols, ", ")
}

// probeKeyword decides, for a keyword the index answers together with a
// user or category filter, which side drives the query: when the filter
// keeps fewer rows than the keyword matches, walk the filter's index and
// test each row against the matches; otherwise look up each match.
func (s *Store) probeKeyword(ctx context.Context, f VideoFilter) (bool, error) {
	if f.searchOnly() || utf8.RuneCountInString(f.keyword()) < minTrigram {
		return false, nil
	}
	var matches int64
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM videos_fts WHERE videos_fts MATCH ?",
		ftsPhrase(f.keyword())).Scan(&matches); err != nil {
		return false, err
	}
	plain := f
	plain.Keyword = ""
	rows, err := s.countVideos(ctx, plain, false)
	return rows < matches, err
}

// countVideos counts what f matches. Without filters the per-status
// counters answer at once; a keyword alone is counted by the search index
// (joined to the rows only to check their status).
func (s *Store) countVideos(ctx context.Context, f VideoFilter, probe bool) (int64, error) {
	var total int64
	var q string
	var args []any
	switch {
	case f.UserID == 0 && f.CategoryID == 0 && f.keyword() == "":
		q = "SELECT COALESCE(sum(n), 0) FROM video_status_counts"
		if !f.AnyStatus {
			q, args = q+" WHERE status = ?", append(args, f.Status)
		}
	case f.searchOnly() && f.AnyStatus:
		q, args = "SELECT count(*) FROM videos_fts WHERE videos_fts MATCH ?", append(args, ftsPhrase(f.keyword()))
	case f.searchOnly():
		q = `SELECT count(*) FROM videos_fts f CROSS JOIN videos v ON v.id = f.rowid
			WHERE videos_fts MATCH ? AND v.status = ?`
		args = append(args, ftsPhrase(f.keyword()), f.Status)
	case f.UserID == 0 && f.keyword() == "" && !f.AnyStatus && f.Status == VideoPublished:
		// A category's published videos: their number changes only with
		// the published index (whose rows carry the category).
		where, wargs := f.where(false)
		return s.publicTotal(ctx, "\x00"+fmt.Sprint(wargs...), "SELECT count(*) FROM videos"+where, wargs...)
	default:
		var where string
		where, args = f.where(probe)
		q = "SELECT count(*) FROM videos" + where
	}
	key := ""
	if f.AtGeneration != 0 {
		key = q + "\x00" + fmt.Sprint(args...)
		if n, ok := s.totals.get(f.AtGeneration, key); ok {
			return n, nil
		}
	}
	if err := s.read.QueryRowContext(ctx, q, args...).Scan(&total); err != nil {
		return 0, err
	}
	if key != "" {
		s.totals.put(f.AtGeneration, key, total)
	}
	return total, nil
}

// totalsAt keeps the totals of lists counted while the content generation
// was gen: a page of a list that is not changing then no longer counts
// the whole list again (one statement less per page, 5–10 % of a random
// page's cost under wrk -c50 at 200,000 videos). A count filed under a
// generation reflects that generation or a later one (generations only
// grow), so it is as current as the caller's own knowledge of the
// generation.
type totalsAt struct {
	mu  sync.Mutex
	gen int64
	n   map[string]int64
}

// maxTotalsAt bounds the totals kept at one generation; when full the
// store starts over.
const maxTotalsAt = 4096

func (t *totalsAt) get(gen int64, key string) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.n[key]
	return n, ok && gen == t.gen
}

func (t *totalsAt) put(gen int64, key string, n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case gen < t.gen:
		return
	case gen > t.gen || len(t.n) >= maxTotalsAt:
		t.gen, t.n = gen, map[string]int64{}
	}
	t.n[key] = n
}

// VideoChanges are the editable fields of a video; nil leaves a field as it is.
type VideoChanges struct {
	Title       *string
	Description *string
	CategoryID  *int64
	Tags        *[]string
	Status      *int
}

// UpdateVideo applies ch to video id and answers the result.
func (s *Store) UpdateVideo(ctx context.Context, id int64, ch VideoChanges) (*Video, error) {
	var sets []string
	var args []any
	if ch.Title != nil {
		sets, args = append(sets, "title = ?"), append(args, *ch.Title)
	}
	if ch.Description != nil {
		sets, args = append(sets, "description = ?"), append(args, *ch.Description)
	}
	if ch.CategoryID != nil {
		sets, args = append(sets, "category_id = ?"), append(args, *ch.CategoryID)
	}
	if ch.Tags != nil {
		sets, args = append(sets, "tags = ?"), append(args, marshalTags(*ch.Tags))
	}
	if ch.Status != nil {
		sets, args = append(sets, "status = ?"), append(args, *ch.Status)
	}
	var v *Video
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if len(sets) > 0 {
			res, err := tx.ExecContext(ctx, "UPDATE videos SET "+strings.Join(sets, ", ")+", updated_at = ? WHERE id = ?",
				append(args, now(), id)...)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrNotFound
			}
		}
		var err error
		v, err = scanVideo(tx.QueryRowContext(ctx, "SELECT "+videoColumns+" FROM videos WHERE id = ?", id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update video %d: %w", id, err)
	}
	return v, nil
}

// DeleteVideo removes video id and its tasks in one transaction and answers
// the deleted row and the ids of its tasks that were pending or processing,
// for the caller to cancel. Files are the caller's to remove.
func (s *Store) DeleteVideo(ctx context.Context, id int64) (*Video, []int64, error) {
	var v *Video
	var active []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if v, err = scanVideo(tx.QueryRowContext(ctx, "SELECT "+videoColumns+" FROM videos WHERE id = ?", id)); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT id FROM tasks WHERE video_id = ? AND status IN ('pending', 'processing')", id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t int64
			if err := rows.Scan(&t); err != nil {
				return err
			}
			active = append(active, t)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, q := range []string{"DELETE FROM tasks WHERE video_id = ?", "DELETE FROM video_views WHERE video_id = ?",
			"DELETE FROM videos WHERE id = ?"} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("delete video %d: %w", id, err)
	}
	return v, active, nil
}

// MaxVideoID is the highest video id in use (0 when there is none).
func (s *Store) MaxVideoID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	err := s.read.QueryRowContext(ctx, "SELECT max(id) FROM videos").Scan(&id)
	return id.Int64, err
}

// RemoveIfNoVideo calls remove unless a video with this id and source path
// exists. It runs inside a write transaction, so no video is being created
// meanwhile: a file placed by CreateVideoPlaced is either committed (and
// kept) or rolled back (and an orphan). It reports whether remove ran.
func (s *Store) RemoveIfNoVideo(ctx context.Context, id int64, sourcePath string, remove func() error) (bool, error) {
	removed := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM videos WHERE id = ? AND source_path = ?",
			id, sourcePath).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		removed = true
		return remove()
	})
	return removed, err
}

// maxShortTerms caps how many index terms a 1–2 character keyword may
// expand to; beyond it the keyword falls back to LIKE.
const maxShortTerms = 256

// publicMatch builds, for a keyword search of published videos (in any
// category, not one user's), the MATCH expression over videos_pub_fts, the
// index of published videos only. ok is false when the filter is not such a
// search; match is "" when nothing can match.
//
// A keyword of three characters or more is one phrase (a substring search
// with the trigram tokenizer). A shorter one is every trigram that begins
// with it: each indexed text ends in char(31), so every occurrence of the
// keyword begins some trigram of the index.
func (s *Store) publicMatch(ctx context.Context, f VideoFilter) (match string, ok bool, err error) {
	kw := f.keyword()
	if f.AnyStatus || f.Status != VideoPublished || f.UserID != 0 || kw == "" || strings.ContainsRune(kw, 31) {
		return "", false, nil
	}
	var text string
	if utf8.RuneCountInString(kw) >= minTrigram {
		text = ftsPhrase(kw)
	} else {
		terms, err := s.shortTerms(ctx, foldCase(kw))
		if err != nil || terms == nil {
			return "", false, err
		}
		if len(terms) == 0 {
			return "", true, nil
		}
		for i, t := range terms {
			terms[i] = ftsPhrase(t)
		}
		text = "(" + strings.Join(terms, " OR ") + ")"
	}
	match = "{title description tags} : " + text
	if f.CategoryID != 0 {
		cats := make([]string, len(f.subtree))
		for i, id := range f.subtree {
			cats[i] = fmt.Sprintf(`cat : "#%d#"`, id)
		}
		match += " AND (" + strings.Join(cats, " OR ") + ")"
	}
	return match, true, nil
}

// foldCase lower-cases s as the trigram tokenizer folds what it indexes.
func foldCase(s string) string { return strings.Map(unicode.ToLower, s) }

// shortTerms lists the published index's terms that begin with kw: an
// empty list when there is none, nil when there are more than
// maxShortTerms.
func (s *Store) shortTerms(ctx context.Context, kw string) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT term FROM videos_pub_terms WHERE term >= ? AND term < ? LIMIT ?",
		kw, kw+string(utf8.MaxRune), maxShortTerms+1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	terms := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	if len(terms) > maxShortTerms {
		return nil, rows.Err()
	}
	return terms, rows.Err()
}

// listPublic answers a keyword search of published videos from their own
// index: the total is counted inside it, a newest-first page is read from
// it in rowid (= minus the id) order, and only the page's rows are looked up.
func (s *Store) listPublic(ctx context.Context, f VideoFilter, match string) ([]*Video, int64, error) {
	list := []*Video{}
	if match == "" {
		return list, 0, nil
	}
	newest := "SELECT " + listColumns + ` FROM videos WHERE id IN (SELECT -rowid FROM videos_pub_fts
		WHERE videos_pub_fts MATCH ? ORDER BY rowid LIMIT ? OFFSET ?) ORDER BY id DESC`
	count := func() (int64, error) {
		n, err := s.publicTotal(ctx, match, "SELECT count(*) FROM videos_pub_fts WHERE videos_pub_fts MATCH ?", match)
		if err != nil {
			return 0, fmt.Errorf("count videos: %w", err)
		}
		return n, nil
	}
	if !f.ByViews && f.Offset == 0 {
		// The first page first: when it is not full it is every match,
		// and its length is the total (most searches that name something
		// match a few videos), with no count to run.
		list, err := s.queryVideos(ctx, newest, match, f.Limit, 0)
		if err != nil || len(list) < f.Limit {
			return list, int64(len(list)), err
		}
		total, err := count()
		if err != nil {
			return nil, 0, err
		}
		return list, max(total, int64(len(list))), nil
	}
	total, err := count()
	if err != nil {
		return nil, 0, err
	}
	if total == 0 || int64(f.Offset) >= total {
		return list, total, nil
	}
	var q string
	args := []any{match}
	switch {
	case !f.ByViews:
		q = newest
		args = append(args, f.Limit, f.Offset)
	case total <= bigResult:
		// Few matches: look each up and sort them.
		q = "SELECT " + prefixed("v", listColumns) + ` FROM videos_pub_fts f CROSS JOIN videos v ON v.id = -f.rowid
			WHERE videos_pub_fts MATCH ? ORDER BY v.views DESC, v.id DESC LIMIT ? OFFSET ?`
		args = append(args, f.Limit, f.Offset)
	default:
		// Many: walk the views index and test each row against the
		// matches, fetched once. (Looking each row up in the index instead
		// measured slower: 31 ms against 27 ms for a third of 200,000.)
		plain := f
		plain.Keyword = ""
		where, wargs := plain.where(false)
		q = "SELECT " + listColumns + " FROM videos" + where +
			` AND +id IN (SELECT -rowid FROM videos_pub_fts WHERE videos_pub_fts MATCH ?)
			ORDER BY views DESC, id DESC LIMIT ? OFFSET ?`
		args = append(wargs, match, f.Limit, f.Offset)
	}
	list, err = s.queryVideos(ctx, q, args...)
	return list, total, err
}

// queryVideos runs a SELECT of videoColumns and scans every row.
func (s *Store) queryVideos(ctx context.Context, q string, args ...any) ([]*Video, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list videos: %w", err)
	}
	defer rows.Close()
	list := []*Video{}
	for rows.Next() {
		v, err := scanVideo(rows)
		if err != nil {
			return nil, fmt.Errorf("list videos: %w", err)
		}
		list = append(list, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list videos: %w", err)
	}
	return list, nil
}

// publicTotals remembers the totals of public searches, each with the
// search generation it was counted at: counting a common keyword's matches
// costs tens of milliseconds, and the answer holds until the published
// index changes (views do not change it).
var publicTotals = struct {
	sync.Mutex
	m map[totalKey]countedAt
}{m: map[totalKey]countedAt{}}

type totalKey struct {
	s   *Store
	key string // the MATCH expression, or "\x00" and the WHERE clause's arguments
}

type countedAt struct{ gen, n int64 }

// maxTotals bounds publicTotals; when full it starts over.
const maxTotals = 4096

// publicTotal answers a count of published videos, exactly: from
// publicTotals under key when the published index has not changed since,
// otherwise by running q (in one read transaction with the generation it
// is filed under).
func (s *Store) publicTotal(ctx context.Context, key, q string, args ...any) (int64, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var gen int64
	if err := s.read.txQueryRow(ctx, tx, "SELECT n FROM search_generation WHERE id = 1").Scan(&gen); err != nil {
		return 0, err
	}
	k := totalKey{s, key}
	publicTotals.Lock()
	c, ok := publicTotals.m[k]
	publicTotals.Unlock()
	if ok && c.gen == gen {
		return c.n, nil
	}
	var n int64
	if err := s.read.txQueryRow(ctx, tx, q, args...).Scan(&n); err != nil {
		return 0, err
	}
	publicTotals.Lock()
	if len(publicTotals.m) >= maxTotals {
		clear(publicTotals.m)
	}
	publicTotals.m[k] = countedAt{gen, n}
	publicTotals.Unlock()
	return n, nil
}

// TidySearchIndex merges the published index's segments, a bounded step at
// a time (each its own short write), until one is left or maxSteps ran: a
// search reads every term once per segment, so a freshly bulk-loaded or
// long-grown index answers several times slower than a merged one.
func (s *Store) TidySearchIndex(ctx context.Context, maxSteps int) error {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer s.write.writes.Add(1)
	for i := 0; i < maxSteps; i++ {
		var before, after int64
		if err := conn.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
			return err
		}
		// A negative step merges segments of different levels too.
		if _, err := conn.ExecContext(ctx, "INSERT INTO videos_pub_fts(videos_pub_fts, rank) VALUES ('merge', -500)"); err != nil {
			return fmt.Errorf("tidy search index: %w", err)
		}
		if err := conn.QueryRowContext(ctx, "SELECT total_changes()").Scan(&after); err != nil {
			return err
		}
		if after == before {
			return nil
		}
	}
	return nil
}
