package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"mika/store"
)

// Limits on a video's editable fields.
const (
	maxTitleRunes       = 200
	maxDescriptionRunes = 5000
	maxTags             = 20
	maxTagRunes         = 30
	maxKeywordRunes     = 100
)

// categoryRef is a video's category as the API shows it: always an
// object, as in the document, so that clients can read category.name
// without a check; a video without a category shows {"id": 0, "name": ""}
// (0 is the root, as for parent_id).
type categoryRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// videoItem is one entry of the video list: the document's fields first.
type videoItem struct {
	ID              int64       `json:"id"`
	Title           string      `json:"title"`
	Description     string      `json:"description"`
	Cover           string      `json:"cover"`
	Duration        int64       `json:"duration"`
	Views           int64       `json:"views"`
	Category        categoryRef `json:"category"`
	CreatedAt       string      `json:"created_at"`
	Status          int         `json:"status"`
	TranscodeStatus string      `json:"transcode_status"`
	Resolution      string      `json:"resolution"`
	UserID          int64       `json:"user_id"`
	Tags            []string    `json:"tags"`
	Missing         bool        `json:"missing"`
	// TranscodeProgress is 0–100: the running task's progress, 100 once
	// transcoded.
	TranscodeProgress int `json:"transcode_progress"`
}

// videoDetail is the answer of GET /api/videos/{id}.
type videoDetail struct {
	ID              int64           `json:"id"`
	Title           string          `json:"title"`
	Description     string          `json:"description"`
	Cover           string          `json:"cover"`
	PlayURL         string          `json:"play_url"`
	Duration        int64           `json:"duration"`
	Resolution      string          `json:"resolution"`
	FileSize        int64           `json:"file_size"`
	Views           int64           `json:"views"`
	Category        categoryRef     `json:"category"`
	Tags            []string        `json:"tags"`
	CreatedAt       string          `json:"created_at"`
	Status          int             `json:"status"`
	TranscodeStatus string          `json:"transcode_status"`
	UserID          int64           `json:"user_id"`
	Variants        []store.Variant `json:"variants"`
	Missing         bool            `json:"missing"`
	// TranscodeProgress is 0–100: the running task's progress, 100 once
	// transcoded.
	TranscodeProgress int `json:"transcode_progress"`
	// Uploader is who uploaded it, as the site shows people: nickname and
	// avatar (id 0 and empty when the account is gone).
	Uploader uploaderRef `json:"uploader"`
	// TranscodeError says why the transcode failed, to the owner and
	// admins ("" otherwise), with paths inside the data folder relative.
	TranscodeError string `json:"transcode_error"`
}

type uploaderRef struct {
	ID       int64  `json:"id"`
	Nickname string `json:"nickname"`
	Avatar   string `json:"avatar"`
}

func coverURL(v *store.Video) string {
	if !v.HasCover {
		return ""
	}
	return fmt.Sprintf("/covers/%d.jpg", v.ID)
}

func seconds(d float64) int64 { return int64(math.Round(d)) }

// canSee: published videos are public; the rest belong to owner and admins.
func canSee(u *store.User, v *store.Video) bool {
	return v.Status == store.VideoPublished || canEdit(u, v)
}

// canEdit: the owner and admins.
func canEdit(u *store.User, v *store.Video) bool {
	return u != nil && (u.IsAdmin() || u.ID == v.UserID)
}

// categoryOf is the category a video shows, from store.CategoryNames.
func categoryOf(id int64, names map[int64]string) categoryRef {
	name, found := names[id]
	if id == 0 || !found {
		return categoryRef{}
	}
	return categoryRef{ID: id, Name: name}
}

// listVideos answers GET /api/videos. Anonymous callers and users see
// published videos; mine=1 lists the caller's own in every status; admins
// see every status. A status filter other than 1 is a 400 for non-admins
// outside mine=1.
func (s *Server) listVideos(w http.ResponseWriter, r *http.Request) error {
	errs := map[string]string{}
	p := parsePage(r, errs)
	q := r.URL.Query()
	u := currentUser(r)
	f := store.VideoFilter{Status: store.VideoPublished, Limit: p.Size, Offset: p.Offset()}

	if id, ok := queryInt64(r, "category_id", errs); ok {
		if id < 0 {
			errs["category_id"] = "must be an integer ≥ 0"
		}
		f.CategoryID = id
	}
	status, hasStatus := queryInt64(r, "status", errs)
	if hasStatus && (status < 0 || status > 3) {
		errs["status"] = "must be 0, 1, 2 or 3"
	}
	switch q.Get("order") {
	case "", "created_at":
	case "views":
		f.ByViews = true
	default:
		errs["order"] = "must be views or created_at"
	}
	mine := false
	switch q.Get("mine") {
	case "", "0", "false":
	case "1", "true":
		mine = true
	default:
		errs["mine"] = "must be 1 or 0"
	}
	f.Keyword = strings.TrimSpace(q.Get("keyword"))
	if utf8.RuneCountInString(f.Keyword) > maxKeywordRunes {
		errs["keyword"] = fmt.Sprintf("must be at most %d characters", maxKeywordRunes)
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}

	switch {
	case mine:
		if u == nil {
			return errUnauthorized
		}
		f.UserID = u.ID
		f.AnyStatus, f.Status = !hasStatus, int(status)
	case u != nil && u.IsAdmin():
		f.AnyStatus, f.Status = !hasStatus, int(status)
	case hasStatus && status != store.VideoPublished:
		return errField("status", "only admins may filter by a status other than 1; use mine=1 for your own videos")
	}

	// The public view is the same for every caller: answer it from the
	// pages already built at the current content generation.
	public := !mine && (u == nil || !u.IsAdmin())
	var gen int64
	var key string
	if public {
		key = fmt.Sprintf("%d\x00%t\x00%d\x00%d\x00%s", f.CategoryID, f.ByViews, p.Page, p.Size, f.Keyword)
		writes := s.store.Writes()
		body, current, ok := s.lists.fresh(writes, key)
		if !ok {
			var err error
			if current, err = s.store.ContentGeneration(r.Context()); err != nil {
				return err
			}
			s.lists.confirm(current, writes)
			body, _ = s.lists.get(current, key)
		}
		if body != nil {
			writeJSONBytes(w, http.StatusOK, body)
			return nil
		}
		gen = current
	}

	var videos []*store.Video
	var total int64
	var names map[int64]string
	var progress map[int64]int
	var body []byte
	err := s.listQueries(r.Context(), func(ctx context.Context) (err error) {
		if public {
			// Built by a request that queued ahead of this one?
			body, _ = s.lists.get(gen, key)
			if body != nil {
				return nil
			}
		} else if gen, err = s.store.ContentGeneration(ctx); err != nil {
			return err
		}
		f.AtGeneration = gen
		if videos, total, err = s.store.ListVideos(ctx, f); err != nil {
			return err
		}
		if names, err = s.store.CategoryNames(ctx, gen); err != nil {
			return err
		}
		progress, err = s.transcodeProgress(ctx, videos...)
		return err
	})
	if err != nil {
		return err
	}
	if body != nil {
		writeJSONBytes(w, http.StatusOK, body)
		return nil
	}
	list := make([]videoItem, 0, len(videos))
	for _, v := range videos {
		list = append(list, videoItem{ID: v.ID, Title: v.Title, Description: v.Description, Cover: coverURL(v),
			Duration: seconds(v.Duration), Views: v.Views, Category: categoryOf(v.CategoryID, names),
			CreatedAt: store.FormatTime(v.CreatedAt), Status: v.Status, TranscodeStatus: v.TranscodeStatus,
			Resolution: v.Resolution, UserID: v.UserID, Tags: v.Tags, Missing: v.Missing,
			TranscodeProgress: progress[v.ID]})
	}
	if !public {
		return ok(w, pageOf(p, list, total))
	}
	body, err = encodeJSON(envelope{Code: 0, Message: "success", Data: pageOf(p, list, total)})
	if err != nil {
		return err
	}
	s.lists.put(gen, key, body)
	writeJSONBytes(w, http.StatusOK, body)
	return nil
}

// transcodeProgress answers each video's transcoding progress: its active
// task's, 100 when transcoded, 0 otherwise. One query for the whole page.
func (s *Server) transcodeProgress(ctx context.Context, videos ...*store.Video) (map[int64]int, error) {
	out := make(map[int64]int, len(videos))
	var active []int64
	for _, v := range videos {
		switch v.TranscodeStatus {
		case store.TaskCompleted:
			out[v.ID] = 100
		case store.TaskPending, store.TaskProcessing:
			active = append(active, v.ID)
		}
	}
	running, err := s.store.ActiveProgress(ctx, active)
	if err != nil {
		return nil, err
	}
	for id, p := range running {
		out[id] = p
	}
	return out, nil
}

// visibleVideo loads path video {id} if the caller may see it (404 otherwise).
func (s *Server) visibleVideo(r *http.Request) (*store.Video, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	v, err := s.store.VideoByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !canSee(currentUser(r), v) {
		return nil, errNotFound
	}
	return v, nil
}

func (s *Server) detailOf(ctx context.Context, u *store.User, v *store.Video) (videoDetail, error) {
	d := videoDetail{ID: v.ID, Title: v.Title, Description: v.Description, Cover: coverURL(v),
		Duration: seconds(v.Duration), Resolution: v.Resolution, FileSize: v.FileSize, Views: v.Views,
		Tags: v.Tags, CreatedAt: store.FormatTime(v.CreatedAt), Status: v.Status,
		TranscodeStatus: v.TranscodeStatus, UserID: v.UserID, Variants: v.Variants, Missing: v.Missing}
	progress, err := s.transcodeProgress(ctx, v)
	if err != nil {
		return d, err
	}
	d.TranscodeProgress = progress[v.ID]
	if v.Playable && canSee(u, v) {
		d.PlayURL = s.playURL(v.ID, u)
	}
	switch up, err := s.store.UserByID(ctx, v.UserID); {
	case err == nil:
		d.Uploader = uploaderRef{ID: up.ID, Nickname: cmp.Or(up.Nickname, up.Username), Avatar: up.Avatar}
	case !errors.Is(err, store.ErrNotFound):
		return d, err
	}
	if v.TranscodeStatus == store.TaskFailed && canEdit(u, v) {
		why, err := s.store.VideoTaskError(ctx, v.ID)
		if err != nil {
			return d, err
		}
		d.TranscodeError = strings.ReplaceAll(why, s.data.Root()+string(filepath.Separator), "")
	}
	if v.CategoryID != 0 {
		c, err := s.store.CategoryByID(ctx, v.CategoryID)
		switch {
		case err == nil:
			d.Category = categoryRef{ID: c.ID, Name: c.Name}
		case !errors.Is(err, store.ErrNotFound):
			return d, err
		}
	}
	return d, nil
}

// getVideo answers GET /api/videos/{id}.
func (s *Server) getVideo(w http.ResponseWriter, r *http.Request) error {
	v, err := s.visibleVideo(r)
	if err != nil {
		return err
	}
	d, err := s.detailOf(r.Context(), currentUser(r), v)
	if err != nil {
		return err
	}
	return ok(w, d)
}

// videoFields are the editable fields as they arrive, before validation.
type videoFields struct {
	Title       *string
	Description *string
	CategoryID  *int64
	Tags        []string // normalised; nil when absent
}

// validate checks the fields that are present, trimming the title, and
// records problems in errs.
func (s *Server) validateFields(ctx context.Context, f *videoFields, errs map[string]string) error {
	if f.Title != nil {
		t := strings.TrimSpace(*f.Title)
		f.Title = &t
		switch n := utf8.RuneCountInString(t); {
		case n == 0:
			errs["title"] = "is required"
		case n > maxTitleRunes:
			errs["title"] = fmt.Sprintf("must be at most %d characters", maxTitleRunes)
		}
	}
	if f.Description != nil && utf8.RuneCountInString(*f.Description) > maxDescriptionRunes {
		errs["description"] = fmt.Sprintf("must be at most %d characters", maxDescriptionRunes)
	}
	if f.CategoryID != nil && *f.CategoryID != 0 {
		if *f.CategoryID < 0 {
			errs["category_id"] = "does not exist"
			return nil
		}
		_, err := s.store.CategoryByID(ctx, *f.CategoryID)
		if errors.Is(err, store.ErrNotFound) {
			errs["category_id"] = "does not exist"
		} else if err != nil {
			return err
		}
	}
	return nil
}

// splitTags normalises tags: trimmed, empty ones dropped, duplicates
// (ignoring case) dropped, at most maxTags of at most maxTagRunes each.
func splitTags(raw []string) ([]string, string) {
	tags := []string{}
	seen := map[string]bool{}
	for _, t := range raw {
		t = strings.TrimSpace(t)
		if t == "" || seen[strings.ToLower(t)] {
			continue
		}
		if utf8.RuneCountInString(t) > maxTagRunes {
			return nil, fmt.Sprintf("each tag must be at most %d characters", maxTagRunes)
		}
		seen[strings.ToLower(t)] = true
		tags = append(tags, t)
	}
	if len(tags) > maxTags {
		return nil, fmt.Sprintf("at most %d tags", maxTags)
	}
	return tags, ""
}

// commaTags splits a comma-separated tag string (ASCII or full-width commas).
func commaTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' })
}

// parseTags reads tags given as a JSON array of strings or as one
// comma-separated string.
func parseTags(raw json.RawMessage) ([]string, string) {
	var list []string
	var str string
	switch {
	case json.Unmarshal(raw, &list) == nil:
	case json.Unmarshal(raw, &str) == nil:
		list = commaTags(str)
	default:
		return nil, "must be an array of strings or a comma-separated string"
	}
	return splitTags(list)
}

// updateVideo answers PUT /api/videos/{id}: owner or admin, any subset of
// title, description, category_id, tags and status (1 or 3, playable only).
func (s *Server) updateVideo(w http.ResponseWriter, r *http.Request) error {
	v, err := s.visibleVideo(r)
	if err != nil {
		return err
	}
	u := currentUser(r)
	if !canEdit(u, v) {
		return errForbidden
	}
	var body struct {
		Title       *string         `json:"title"`
		Description *string         `json:"description"`
		CategoryID  *int64          `json:"category_id"`
		Tags        json.RawMessage `json:"tags"`
		Status      *int            `json:"status"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	errs := map[string]string{}
	f := videoFields{Title: body.Title, Description: body.Description, CategoryID: body.CategoryID}
	if len(body.Tags) > 0 && string(body.Tags) != "null" {
		tags, why := parseTags(body.Tags)
		if why != "" {
			errs["tags"] = why
		}
		f.Tags = tags
	}
	if err := s.validateFields(r.Context(), &f, errs); err != nil {
		return err
	}
	if body.Status != nil && *body.Status != store.VideoPublished && *body.Status != store.VideoHidden {
		errs["status"] = "must be 1 (published) or 3 (hidden)"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	if body.Status != nil && *body.Status != v.Status && !v.Playable {
		return errConflict("the video is not playable yet", map[string]string{"status": "can change only once the video is playable"})
	}
	ch := store.VideoChanges{Title: f.Title, Description: f.Description, CategoryID: f.CategoryID, Status: body.Status}
	if f.Tags != nil {
		ch.Tags = &f.Tags
	}
	nv, err := s.store.UpdateVideo(r.Context(), v.ID, ch)
	if err != nil {
		return err
	}
	d, err := s.detailOf(r.Context(), u, nv)
	if err != nil {
		return err
	}
	return ok(w, d)
}

// deleteVideo answers DELETE /api/videos/{id}: the rows go first in one
// transaction, then running work is canceled and every file is removed.
// Library originals are never touched.
func (s *Server) deleteVideo(w http.ResponseWriter, r *http.Request) error {
	v, err := s.visibleVideo(r)
	if err != nil {
		return err
	}
	if !canEdit(currentUser(r), v) {
		return errForbidden
	}
	v, active, err := s.store.DeleteVideo(r.Context(), v.ID)
	if err != nil {
		return err
	}
	for _, id := range active {
		s.transcoder.CancelTask(id)
	}
	s.removeVideoFiles(v)
	s.log.Info("video deleted", slog.Int64("video_id", v.ID), slog.Int64("by", currentUser(r).ID))
	return ok(w, map[string]int64{"id": v.ID})
}

// removeVideoFiles removes what a deleted video had under the data folder.
func (s *Server) removeVideoFiles(v *store.Video) {
	paths := []string{s.data.HLS(v.ID), s.data.Cover(v.ID)}
	if v.LibraryID == 0 && v.SourcePath != "" {
		if p, err := s.data.Abs(v.SourcePath); err == nil && s.data.Contains(p) {
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			s.log.Warn("remove video file", slog.Int64("video_id", v.ID), slog.String("path", p), slog.Any("err", err))
		}
	}
}

// expireUploads is the housekeeping job: chunked uploads idle for 24 h go
// with their files, files that a crash left without a row go, and the
// view-window table is pruned.
func (s *Server) expireUploads(ctx context.Context) error {
	return errors.Join(s.expireIdleUploads(ctx), s.sweepUploadFiles(ctx), s.sweepOriginals(ctx), s.sweepDerived(ctx),
		s.store.PruneViews(ctx), s.store.TidySearchIndex(ctx, 1000))
}

// parseOriginalName reads the video id from an originals file name such as
// "42.mp4".
func parseOriginalName(name string) (int64, bool) {
	base, _, _ := strings.Cut(name, ".")
	id, err := strconv.ParseInt(base, 10, 64)
	return id, err == nil && id > 0
}
