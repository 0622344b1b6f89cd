package server

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"mika/store"
)

const (
	// chunkSize is the chunked upload's chunk size (the document's 5 MiB).
	chunkSize = 5 << 20
	// formSlack is what a multipart body may carry beyond its file: the
	// other fields and the boundaries.
	formSlack = 1 << 20
	// maxFieldBytes caps one non-file form field.
	maxFieldBytes = 64 << 10
	// uploadIdle is how long an unfinished chunked upload lives without a chunk.
	uploadIdle = 24 * time.Hour
	// strayAge is how old a file without a row must be before the sweep
	// removes it, so that one being created right now is left alone.
	strayAge = time.Hour
	// Temp file prefixes of this file's handlers (tmp/ is shared).
	uploadTmpPrefix = "upload-"
	chunkTmpPrefix  = "chunk-"
	maxFilenameRune = 255
)

var (
	errTooLarge = &APIError{Code: http.StatusRequestEntityTooLarge, Message: "upload is larger than the server allows"}
	sha256Hex   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	md5Hex      = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// uploadAnswer is the document's answer to a finished upload.
type uploadAnswer struct {
	ID             int64  `json:"id"`
	Title          string `json:"title"`
	Status         string `json:"status"`
	UploadProgress int    `json:"upload_progress"`
}

// overLimit is the 413 for an upload past the max_upload_bytes setting,
// naming the limit so that a client can say it.
func overLimit(limit int64) *APIError {
	return &APIError{Code: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("upload is larger than the server allows (max_upload_bytes: at most %d bytes)", limit)}
}

// bodyError turns an error met while reading a request body into an API
// error; limit is the upload cap that applied (0: none).
func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		if limit > 0 {
			return overLimit(limit)
		}
		return &APIError{Code: http.StatusRequestEntityTooLarge, Message: "request body too large"}
	}
	return errBadRequest("malformed or interrupted multipart body", map[string]string{"body": "could not be read"})
}

// bodyBufSize is the read buffer under a multipart body: the multipart
// reader asks for 4 KiB at a time, and this turns that into fewer, larger
// reads of the connection.
const bodyBufSize = 256 << 10

// multipartReader reads r's multipart/form-data body through a large buffer.
func multipartReader(r *http.Request) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errBadRequest("expected multipart/form-data", map[string]string{"body": "must be multipart/form-data"})
	}
	return multipart.NewReader(bufio.NewReaderSize(r.Body, bodyBufSize), params["boundary"]), nil
}

// copyBufSize is the unit in which upload data is copied to disk.
const copyBufSize = 1 << 20

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyLarge copies src to dst in writes of up to copyBufSize bytes (a
// multipart part reads 4 KiB at a time; the disk prefers fewer, larger
// writes), feeding h too when it is not nil.
func copyLarge(dst io.Writer, src io.Reader, h hash.Hash) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := io.ReadFull(src, buf)
		if m > 0 {
			if h != nil {
				h.Write(buf[:m])
			}
			w, werr := dst.Write(buf[:m])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// writebackWriter writes at an offset of f and starts each write on its way
// to disk at once (startWriteback), so that writing to disk overlaps
// receiving the rest of a chunk. Measured on the 2 GiB bench upload.
type writebackWriter struct {
	f   *os.File
	off int64
}

func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	if n > 0 {
		startWriteback(w.f, w.off, int64(n))
	}
	w.off += int64(n)
	return n, err
}

// readField reads a small form field.
func readField(p *multipart.Part, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxFieldBytes {
		return "", errField(name, "is too long")
	}
	if !utf8.Valid(b) {
		return "", errField(name, "must be UTF-8 text")
	}
	return string(b), nil
}

// fileName keeps the base name of an uploaded file, bounded.
func fileName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" {
		return ""
	}
	if utf8.RuneCountInString(name) > maxFilenameRune {
		name = string([]rune(name)[:maxFilenameRune])
	}
	return name
}

// syncDir makes a rename or link inside dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// placement puts an upload's file at a new video's original path from
// inside the transaction that creates the video. It hard-links where it can,
// so the source stays until the commit: a crash before the commit leaves
// only an orphan link (swept later) and the source intact.
type placement struct {
	s        *Server
	src, ext string
	dst      string
	linked   bool
}

func (p *placement) place(id int64) (string, error) {
	dst := p.s.data.Original(id, p.ext)
	// A file already at dst belongs to no video (the id is handed out
	// fresh): a crash between placing and committing left it.
	os.Remove(dst)
	if err := os.Link(p.src, dst); err == nil {
		p.linked = true
	} else if err := os.Rename(p.src, dst); err != nil {
		return "", fmt.Errorf("place original: %w", err)
	}
	p.dst = dst
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return "", fmt.Errorf("place original: %w", err)
	}
	return p.s.data.Rel(dst)
}

// finish settles the files after the transaction: on success the link's
// source goes; on failure the placed file goes back (or away, if linked).
func (p *placement) finish(err error) {
	switch {
	case p.dst == "":
	case err == nil && p.linked:
		os.Remove(p.src)
	case err != nil && p.linked:
		os.Remove(p.dst)
	case err != nil:
		os.Rename(p.dst, p.src)
	}
}

// originalsDir is the folder of uploaded originals.
func (s *Server) originalsDir() string { return filepath.Dir(s.data.Original(1, "")) }

// uploadVideo answers POST /api/videos/upload. The file part streams to a
// temp file (fields may come before or after it); only then are the fields
// validated, the video and its task created and the file moved into place.
func (s *Server) uploadVideo(w http.ResponseWriter, r *http.Request) error {
	limit := s.store.Settings().MaxUploadBytes
	if limit > 0 {
		if r.ContentLength > limit+formSlack {
			return overLimit(limit)
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit+formSlack)
	}
	mr, err := multipartReader(r)
	if err != nil {
		return err
	}
	var tmp *os.File
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var size int64
	var name string
	fields := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bodyError(err, limit)
		}
		switch field := part.FormName(); field {
		case "file":
			if tmp != nil {
				return errField("file", "only one file per upload")
			}
			if tmp, err = os.CreateTemp(s.data.Tmp(), uploadTmpPrefix+"*"); err != nil {
				return err
			}
			name = fileName(part.FileName())
			src := io.Reader(part)
			if limit > 0 {
				src = io.LimitReader(part, limit+1)
			}
			if size, err = copyLarge(tmp, src, nil); err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					return err // the disk's problem, not the client's
				}
				return bodyError(err, limit)
			}
			if limit > 0 && size > limit {
				return overLimit(limit)
			}
		case "title", "description", "category_id", "tags":
			if fields[field], err = readField(part, field); err != nil {
				var ae *APIError
				if errors.As(err, &ae) {
					return err
				}
				return bodyError(err, limit)
			}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return bodyError(err, limit)
			}
		}
	}

	errs := map[string]string{}
	switch {
	case tmp == nil:
		errs["file"] = "is required"
	case size == 0:
		errs["file"] = "is empty"
	}
	title, desc := fields["title"], fields["description"]
	f := videoFields{Title: &title, Description: &desc}
	if c := strings.TrimSpace(fields["category_id"]); c != "" {
		id, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			errs["category_id"] = "must be an integer"
		} else {
			f.CategoryID = &id
		}
	}
	tags, why := splitTags(commaTags(fields["tags"]))
	if why != "" {
		errs["tags"] = why
	}
	if err := s.validateFields(r.Context(), &f, errs); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	n := store.NewVideo{UserID: currentUser(r).ID, Title: *f.Title, Description: desc, Tags: tags,
		SourceName: name, FileSize: size}
	if f.CategoryID != nil {
		n.CategoryID = *f.CategoryID
	}
	p := &placement{s: s, src: tmp.Name(), ext: filepath.Ext(name)}
	v, taskID, err := s.store.CreateVideoPlaced(r.Context(), n, p.place)
	p.finish(err)
	if err != nil {
		return err
	}
	s.transcoder.Wake()
	s.log.Info("video uploaded", slog.Int64("video_id", v.ID), slog.Int64("task_id", taskID), slog.Int64("bytes", size))
	return ok(w, uploadAnswer{ID: v.ID, Title: v.Title, Status: "pending", UploadProgress: 100})
}

// initUpload answers POST /api/videos/upload/init: it checks the metadata,
// creates the target file at its full size and records the upload.
func (s *Server) initUpload(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Filename    string          `json:"filename"`
		Filesize    int64           `json:"filesize"`
		Title       string          `json:"title"`
		Description string          `json:"description"`
		CategoryID  int64           `json:"category_id"`
		RawTags     json.RawMessage `json:"tags"`
		SHA256      string          `json:"sha256"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	errs := map[string]string{}
	name := fileName(body.Filename)
	if strings.TrimSpace(body.Filename) == "" || name == "" {
		errs["filename"] = "is required"
	}
	if body.Filesize <= 0 {
		errs["filesize"] = "must be an integer > 0"
	}
	f := videoFields{Title: &body.Title, Description: &body.Description, CategoryID: &body.CategoryID}
	var tags []string
	if len(body.RawTags) > 0 && string(body.RawTags) != "null" {
		var why string
		if tags, why = parseTags(body.RawTags); why != "" {
			errs["tags"] = why
		}
	}
	sum := strings.ToLower(strings.TrimSpace(body.SHA256))
	if sum != "" && !sha256Hex.MatchString(sum) {
		errs["sha256"] = "must be 64 hexadecimal characters"
	}
	if err := s.validateFields(r.Context(), &f, errs); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	if limit := s.store.Settings().MaxUploadBytes; limit > 0 && body.Filesize > limit {
		return overLimit(limit)
	}
	id, err := randomHex(16)
	if err != nil {
		return err
	}
	path, err := s.data.Upload(id)
	if err != nil {
		return err
	}
	if err := createSized(path, body.Filesize); err != nil {
		if errors.Is(err, syscall.EFBIG) {
			return errTooLarge // beyond what this file system can hold
		}
		return err
	}
	up := &store.Upload{ID: id, UserID: currentUser(r).ID, Filename: name, FileSize: body.Filesize,
		ChunkSize: chunkSize, TotalChunks: int((body.Filesize + chunkSize - 1) / chunkSize), Title: *f.Title,
		Description: body.Description, CategoryID: body.CategoryID, Tags: tags, SHA256: sum}
	if err := s.store.CreateUpload(r.Context(), up); err != nil {
		os.Remove(path)
		return err
	}
	return ok(w, map[string]any{"upload_id": id, "chunk_size": chunkSize, "total_chunks": up.TotalChunks})
}

// createSized creates path at size bytes, durably: preallocated where the
// file system can (then a chunk's fdatasync commits its data and little
// else), sparse where it cannot or the disk lacks the room (the upload may
// still fit once other files go).
func createSized(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if preallocate(f, size) != nil {
		// A failed fallocate may leave part of the space taken.
		err = f.Truncate(0)
	}
	if err := errors.Join(err, f.Truncate(size), f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// ownUpload loads an upload for its uploader; unknown ids are a 400 on
// field (or a 404 when field is ""), another user's a 403.
func (s *Server) ownUpload(r *http.Request, id, field string) (*store.Upload, error) {
	up, err := s.store.UploadByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		if field == "" {
			return nil, errNotFound
		}
		return nil, errField(field, "unknown or already completed upload")
	}
	if err != nil {
		return nil, err
	}
	if up.UserID != currentUser(r).ID {
		return nil, &APIError{Code: http.StatusForbidden, Message: "only the uploader may use this upload"}
	}
	return up, nil
}

// copyChunk copies at most want bytes of a chunk from src to dst and
// answers how many bytes came (want+1 means too many) and, with sum, their
// MD5 (nil without).
func copyChunk(dst io.Writer, src io.Reader, want int64, sum bool) (int64, []byte, error) {
	var h hash.Hash
	if sum {
		h = md5.New()
	}
	n, err := copyLarge(dst, io.LimitReader(src, want), h)
	if err != nil {
		return n, nil, err
	}
	// One byte more than wanted is enough to know the chunk is too long;
	// it must not land in the file (it is the next chunk's place).
	extra, err := io.Copy(io.Discard, io.LimitReader(src, 1))
	if h == nil {
		return n + extra, nil, err
	}
	return n + extra, h.Sum(nil), err
}

// uploadChunk answers POST /api/videos/upload/chunk. When upload_id and
// chunk_index come before the chunk, its bytes stream straight into place;
// otherwise they are spooled (at most one chunk) and copied after. The
// chunk is recorded only after its bytes are synced. A chunk already
// recorded is never rewritten: a resend is checked and acknowledged.
func (s *Server) uploadChunk(w http.ResponseWriter, r *http.Request) (err error) {
	if r.ContentLength > chunkSize+formSlack {
		return errField("chunk", fmt.Sprintf("must be at most %d bytes", chunkSize))
	}
	r.Body = http.MaxBytesReader(w, r.Body, chunkSize+formSlack)
	defer func() {
		if err != nil {
			// Refused before the end of the body (an unknown upload, a bad
			// index): take the rest, at most one chunk, before answering.
			// A client that sends the whole request before it reads
			// (Python's http.client) otherwise meets a reset connection
			// instead of the error.
			_, _ = io.Copy(io.Discard, r.Body)
		}
	}()
	mr, err := multipartReader(r)
	if err != nil {
		return err
	}
	c := &chunkWrite{s: s, r: r, idx: -1}
	defer c.close()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bodyError(err, 0)
		}
		switch field := part.FormName(); field {
		case "upload_id", "chunk_index", "chunk_md5":
			v, err := readField(part, field)
			if err != nil {
				var ae *APIError
				if errors.As(err, &ae) {
					return err
				}
				return bodyError(err, 0)
			}
			if err := c.field(field, strings.TrimSpace(v)); err != nil {
				return err
			}
		case "chunk", "file":
			if err := c.data(part); err != nil {
				return err
			}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return bodyError(err, 0)
			}
		}
	}
	return c.finish(w)
}

// chunkWrite is the state of one chunk request.
type chunkWrite struct {
	s       *Server
	r       *http.Request
	id      string
	idx     int
	md5     string
	up      *store.Upload
	stored  bool     // already recorded before this request
	got     bool     // the chunk part was read
	n       int64    // its length
	sum     []byte   // its MD5
	file    *os.File // the upload file, when written in place
	spool   *os.File
	written bool
}

func (c *chunkWrite) close() {
	if c.file != nil {
		c.file.Close()
	}
	if c.spool != nil {
		c.spool.Close()
		os.Remove(c.spool.Name())
	}
}

func (c *chunkWrite) field(name, v string) error {
	if (name == "upload_id" && c.id != "") || (name == "chunk_index" && c.idx >= 0) {
		return errField(name, "must be given once")
	}
	switch name {
	case "upload_id":
		c.id = v
		if v == "" {
			return errField("upload_id", "is required")
		}
	case "chunk_index":
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 {
			return errField("chunk_index", "must be an integer ≥ 0")
		}
		c.idx = i
	case "chunk_md5":
		c.md5 = strings.ToLower(v)
		if c.md5 != "" && !md5Hex.MatchString(c.md5) {
			return errField("chunk_md5", "must be 32 hexadecimal characters")
		}
	}
	return c.resolve()
}

// resolve loads the upload and checks the index once both are known.
func (c *chunkWrite) resolve() error {
	if c.up != nil || c.id == "" || c.idx < 0 {
		return nil
	}
	up, err := c.s.ownUpload(c.r, c.id, "upload_id")
	if err != nil {
		return err
	}
	if c.idx >= up.TotalChunks {
		return errField("chunk_index", fmt.Sprintf("must be between 0 and %d", up.TotalChunks-1))
	}
	if c.stored, err = c.s.store.ChunkStored(c.r.Context(), up.ID, c.idx); err != nil {
		return err
	}
	c.up = up
	return nil
}

func (c *chunkWrite) data(part *multipart.Part) error {
	if c.got {
		return errField("chunk", "only one chunk per request")
	}
	c.got = true
	var err error
	switch {
	case c.up != nil && c.stored:
		c.n, c.sum, err = copyChunk(io.Discard, part, c.up.ChunkLen(c.idx), true)
	case c.up != nil:
		if c.file, err = c.openUploadFile(); err != nil {
			return err
		}
		off := int64(c.idx) * c.up.ChunkSize
		c.written = true
		// The MD5 costs as much as the copy: it is taken here only when
		// chunk_md5 came first, and otherwise read back if it comes later.
		c.n, c.sum, err = copyChunk(&writebackWriter{f: c.file, off: off}, part, c.up.ChunkLen(c.idx), c.md5 != "")
	default:
		if c.spool, err = os.CreateTemp(c.s.data.Tmp(), chunkTmpPrefix+"*"); err != nil {
			return err
		}
		c.n, c.sum, err = copyChunk(c.spool, part, chunkSize, true)
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return err // a disk problem, not the client's
		}
		return bodyError(err, 0)
	}
	return nil
}

func (c *chunkWrite) openUploadFile() (*os.File, error) {
	path, err := c.s.data.Upload(c.up.ID)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}

func (c *chunkWrite) finish(w http.ResponseWriter) error {
	errs := map[string]string{}
	if c.id == "" {
		errs["upload_id"] = "is required"
	}
	if c.idx < 0 {
		errs["chunk_index"] = "is required"
	}
	if !c.got {
		errs["chunk"] = "is required"
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	if err := c.resolve(); err != nil {
		return err
	}
	if want := c.up.ChunkLen(c.idx); c.n != want {
		return errField("chunk", fmt.Sprintf("chunk %d must be exactly %d bytes", c.idx, want))
	}
	if c.md5 != "" && c.sum == nil {
		// chunk_md5 came after a chunk written in place: read it back.
		h := md5.New()
		if _, err := io.Copy(h, io.NewSectionReader(c.file, int64(c.idx)*c.up.ChunkSize, c.n)); err != nil {
			return err
		}
		c.sum = h.Sum(nil)
	}
	if c.md5 != "" && hex.EncodeToString(c.sum) != c.md5 {
		return errField("chunk_md5", "does not match the chunk's data")
	}
	if c.spool != nil && !c.stored {
		var err error
		if c.file, err = c.openUploadFile(); err != nil {
			return err
		}
		if _, err := c.spool.Seek(0, io.SeekStart); err != nil {
			return err
		}
		off := int64(c.idx) * c.up.ChunkSize
		if _, err := io.Copy(io.NewOffsetWriter(c.file, off), io.LimitReader(c.spool, c.n)); err != nil {
			return err
		}
		c.written = true
	}
	if c.written {
		if err := syncData(c.file); err != nil {
			return err
		}
	}
	n, err := c.s.store.MarkChunk(c.r.Context(), c.up.ID, c.idx)
	if errors.Is(err, store.ErrNotFound) {
		return errField("upload_id", "unknown or already completed upload")
	}
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"upload_id": c.up.ID, "chunk_index": c.idx, "uploaded": n,
		"total_chunks": c.up.TotalChunks})
}

// uploadStatus answers GET /api/videos/upload/{upload_id}.
func (s *Server) uploadStatus(w http.ResponseWriter, r *http.Request) error {
	up, err := s.ownUpload(r, urlParam(r, "upload_id"), "")
	if err != nil {
		return err
	}
	chunks, err := s.store.UploadChunks(r.Context(), up.ID)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"upload_id": up.ID, "chunk_size": up.ChunkSize, "total_chunks": up.TotalChunks,
		"uploaded": chunks})
}

// completeUpload answers POST /api/videos/upload/complete: every chunk must
// be stored and the sha256 (when given at init) must match; then the file
// becomes the new video's original (no copy) and the upload is gone.
func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		UploadID string `json:"upload_id"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.UploadID) == "" {
		return errField("upload_id", "is required")
	}
	up, err := s.ownUpload(r, strings.TrimSpace(body.UploadID), "upload_id")
	if err != nil {
		return err
	}
	chunks, err := s.store.UploadChunks(r.Context(), up.ID)
	if err != nil {
		return err
	}
	if missing := missingChunks(chunks, up.TotalChunks); missing != "" {
		return errBadRequest("chunks are missing", map[string]string{"missing": missing})
	}
	path, err := s.data.Upload(up.ID)
	if err != nil {
		return err
	}
	if up.SHA256 != "" {
		sum, err := fileSum(sha256.New(), path)
		if err != nil {
			return err
		}
		if sum != up.SHA256 {
			// Which chunk is wrong is unknown: forget them all so the
			// client sends the file again into the same upload.
			if err := s.store.ClearChunks(r.Context(), up.ID); err != nil {
				return err
			}
			return errBadRequest("the file does not match its sha256", map[string]string{
				"sha256": "does not match the uploaded data; the chunks were discarded, send them again"})
		}
	}
	categoryID := up.CategoryID
	if categoryID != 0 {
		if _, err := s.store.CategoryByID(r.Context(), categoryID); errors.Is(err, store.ErrNotFound) {
			categoryID = 0 // deleted since init
		} else if err != nil {
			return err
		}
	}
	n := store.NewVideo{UserID: up.UserID, Title: up.Title, Description: up.Description, CategoryID: categoryID,
		Tags: up.Tags, SourceName: up.Filename, FileSize: up.FileSize}
	p := &placement{s: s, src: path, ext: filepath.Ext(up.Filename)}
	v, taskID, err := s.store.CompleteUpload(r.Context(), up.ID, n, p.place)
	p.finish(err)
	if errors.Is(err, store.ErrNotFound) {
		return errField("upload_id", "unknown or already completed upload")
	}
	if err != nil {
		return err
	}
	s.transcoder.Wake()
	s.log.Info("chunked upload completed", slog.Int64("video_id", v.ID), slog.Int64("task_id", taskID),
		slog.Int64("bytes", up.FileSize))
	return ok(w, uploadAnswer{ID: v.ID, Title: v.Title, Status: "pending", UploadProgress: 100})
}

// missingChunks lists, comma-separated, the indexes below total not in have
// (which is sorted).
func missingChunks(have []int, total int) string {
	var b strings.Builder
	j := 0
	for i := 0; i < total; i++ {
		if j < len(have) && have[j] == i {
			j++
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

func fileSum(h hash.Hash, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// expireIdleUploads deletes uploads without a chunk for uploadIdle.
func (s *Server) expireIdleUploads(ctx context.Context) error {
	return s.expireIdleUploadsBefore(ctx, time.Now().Add(-uploadIdle))
}

// expireIdleUploadsBefore deletes uploads last touched before cutoff.
func (s *Server) expireIdleUploadsBefore(ctx context.Context, cutoff time.Time) error {
	ids, err := s.store.IdleUploads(ctx, cutoff.Unix())
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.store.DeleteUpload(ctx, id); err != nil {
			return err
		}
		if path, err := s.data.Upload(id); err == nil {
			os.Remove(path)
		}
		s.log.Info("upload expired", slog.String("upload_id", id))
	}
	return nil
}

// sweepUploadFiles removes upload files without an upload row (left by a
// crash around init or complete) and this file's stale temp files.
func (s *Server) sweepUploadFiles(ctx context.Context) error {
	cutoff := time.Now().Add(-strayAge)
	probe, err := s.data.Upload("probe")
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Dir(probe))
	if err != nil {
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.ModTime().After(cutoff) {
			continue
		}
		_, err = s.store.UploadByID(ctx, e.Name())
		if errors.Is(err, store.ErrNotFound) {
			if path, err := s.data.Upload(e.Name()); err == nil {
				os.Remove(path)
			}
		} else if err != nil {
			return err
		}
	}
	entries, err = os.ReadDir(s.data.Tmp())
	if err != nil {
		return err
	}
	for _, e := range entries {
		// A single upload's temp file grows for as long as the upload runs;
		// a chunk's spool lives for one request.
		var age time.Duration
		switch {
		case strings.HasPrefix(e.Name(), uploadTmpPrefix):
			age = uploadIdle
		case strings.HasPrefix(e.Name(), chunkTmpPrefix):
			age = strayAge
		default:
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.ModTime().Before(time.Now().Add(-age)) {
			os.Remove(filepath.Join(s.data.Tmp(), e.Name()))
		}
	}
	return nil
}

// sweepOriginals removes originals that no video owns. Only a crash between
// placing a file and committing its video makes one, and its id is then
// above every id in use; the check for each runs in a write transaction so
// an upload being committed right now is never touched.
// sweepDerived removes HLS folders and covers whose video is gone: what a
// delete cut short by a crash left behind (the row goes first, then files).
func (s *Server) sweepDerived(ctx context.Context) error {
	hlsRoot := filepath.Dir(s.data.HLS(1))
	coverRoot := filepath.Dir(s.data.Cover(1))
	var errs []error
	for _, dir := range []string{hlsRoot, coverRoot} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			id, ok := parseOriginalName(e.Name())
			if !ok {
				continue
			}
			if _, err := s.store.VideoByID(ctx, id); !errors.Is(err, store.ErrNotFound) {
				if err != nil {
					errs = append(errs, err)
				}
				continue
			}
			path := filepath.Join(dir, e.Name())
			if err := os.RemoveAll(path); err != nil {
				errs = append(errs, err)
				continue
			}
			s.log.Info("removed output of a deleted video", slog.String("path", path))
		}
	}
	return errors.Join(errs...)
}

func (s *Server) sweepOriginals(ctx context.Context) error {
	maxID, err := s.store.MaxVideoID(ctx)
	if err != nil {
		return err
	}
	d, err := os.Open(s.originalsDir())
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		id, ok := parseOriginalName(name)
		if !ok {
			continue
		}
		path := filepath.Join(s.originalsDir(), name)
		rel, err := s.data.Rel(path)
		if err != nil {
			continue
		}
		if id <= maxID {
			// Ids are never reused: an original without its row is left by
			// a delete cut short by a crash. A cheap read first, since nearly
			// every original has its row.
			v, err := s.store.VideoByID(ctx, id)
			if err == nil && v.SourcePath == rel {
				continue
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		removed, err := s.store.RemoveIfNoVideo(ctx, id, rel, func() error {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		if removed {
			s.log.Info("removed orphan original", slog.String("path", path))
		}
	}
	return nil
}
