package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"mika/store"
)

// APIError is an error a client may see: its Code is both the HTTP status
// and the envelope's code, Message is safe to show, Errors names bad fields.
type APIError struct {
	Code    int
	Message string
	Errors  map[string]string
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

func errBadRequest(msg string, fields map[string]string) *APIError {
	return &APIError{Code: http.StatusBadRequest, Message: msg, Errors: fields}
}

// errInvalid is a 400 for validation failures with at least one field.
func errInvalid(fields map[string]string) *APIError {
	return errBadRequest("invalid parameters", fields)
}

func errField(field, why string) *APIError {
	return errInvalid(map[string]string{field: why})
}

var (
	errUnauthorized = &APIError{Code: http.StatusUnauthorized, Message: "unauthorized"}
	errForbidden    = &APIError{Code: http.StatusForbidden, Message: "forbidden"}
	errNotFound     = &APIError{Code: http.StatusNotFound, Message: "not found"}
)

func errConflict(msg string, fields map[string]string) *APIError {
	return &APIError{Code: http.StatusConflict, Message: msg, Errors: fields}
}

// envelope is every API response.
type envelope struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Data    any               `json:"data"`
	Errors  map[string]string `json:"errors,omitempty"`
}

// handlerFunc is an HTTP handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// h adapts a handlerFunc, turning any error into the envelope.
func (s *Server) h(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// ok writes a success envelope.
func ok(w http.ResponseWriter, data any) error {
	writeJSON(w, http.StatusOK, envelope{Code: 0, Message: "success", Data: data})
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := encodeJSON(v)
	writeJSONBytes(w, status, body)
}

// encodeJSON is v as the API writes it: no HTML escaping, one line.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return b.Bytes(), err
}

// writeJSONBytes writes a JSON answer encoded by encodeJSON.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// statusClientClosed is nginx's 499: the client closed the connection
// before the answer.
const statusClientClosed = 499

// writeError is the one place an error becomes a response. Typed API errors
// keep their code and message; store sentinels map to 404/409; anything else
// is logged and answered as a generic 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *APIError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, store.ErrNotFound):
		ae = errNotFound
	case errors.Is(err, store.ErrConflict):
		ae = errConflict("conflict", nil)
	case errors.As(err, &mbe):
		ae = &APIError{Code: http.StatusRequestEntityTooLarge, Message: "request body too large"}
	case r.Context().Err() != nil:
		// The client went away while the request waited or ran: nothing
		// failed, and nobody reads this. 499 is nginx's code for it, so
		// logs and metrics do not count it as a server error.
		ae = &APIError{Code: statusClientClosed, Message: "client closed request"}
	default:
		s.log.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Any("err", err))
		ae = &APIError{Code: http.StatusInternalServerError, Message: "internal server error"}
	}
	if ae.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	if ae.Code == http.StatusUnauthorized {
		// RFC 9110 §15.5.2: a 401 names the scheme it wants. (Bearer, not
		// Basic: a browser shows no password dialog for it.)
		w.Header().Set("WWW-Authenticate", `Bearer realm="mika"`)
	}
	writeJSON(w, ae.Code, envelope{Code: ae.Code, Message: ae.Message, Errors: ae.Errors})
}

// maxJSONBody caps JSON request bodies.
const maxJSONBody = 1 << 20

// decodeJSON reads a JSON object body into dst (a pointer to a struct).
// Unknown fields are ignored; malformed JSON, wrong types and oversized
// bodies are 400/413 API errors that name the field where possible.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	err := dec.Decode(dst)
	if err == nil {
		// Anything but whitespace after the object is malformed.
		if _, err2 := dec.Token(); err2 != io.EOF {
			return errBadRequest("malformed JSON body", map[string]string{"body": "must be a single JSON object"})
		}
		return nil
	}
	return jsonError(err)
}

// jsonError turns a json decoding error into an API error.
func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return &APIError{Code: http.StatusRequestEntityTooLarge, Message: "request body too large"}
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			field = "body"
		}
		return errInvalid(map[string]string{field: "must be " + jsonTypeName(ute.Type)})
	case errors.Is(err, io.EOF):
		return errBadRequest("request body is empty", map[string]string{"body": "a JSON object is required"})
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return errBadRequest("malformed JSON body", map[string]string{"body": "not valid JSON"})
	default:
		return errBadRequest("malformed JSON body", map[string]string{"body": "not valid JSON"})
	}
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	default:
		return "an object"
	}
}

// Page is the paging of a list request.
type Page struct {
	Page, Size int
}

// Offset is the SQL offset of the page.
// It saturates instead of overflowing: a page far past the end is empty.
func (p Page) Offset() int {
	if p.Page-1 > math.MaxInt/p.Size {
		return math.MaxInt
	}
	return (p.Page - 1) * p.Size
}

// Bounds are the page's first and end index in a list of n items.
func (p Page) Bounds(n int) (lo, hi int) {
	lo = min(p.Offset(), n)
	return lo, lo + min(p.Size, n-lo)
}

// listData is the API's list shape.
type listData struct {
	List  any   `json:"list"`
	Total int64 `json:"total"`
	Page  int   `json:"page"`
	Size  int   `json:"size"`
}

func pageOf(p Page, list any, total int64) listData {
	return listData{List: list, Total: total, Page: p.Page, Size: p.Size}
}

// parsePage reads page and size from the query: page ≥ 1 (default 1), size
// 1–100 (default 20, larger clamped to 100). Bad values go into errs.
func parsePage(r *http.Request, errs map[string]string) Page {
	p := Page{Page: 1, Size: 20}
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs["page"] = "must be an integer ≥ 1"
		} else {
			p.Page = n
		}
	}
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs["size"] = "must be an integer between 1 and 100"
		} else {
			p.Size = min(n, 100)
		}
	}
	return p
}

// queryInt64 parses an optional integer query parameter; ok is false when
// absent. A bad value goes into errs.
func queryInt64(r *http.Request, name string, errs map[string]string) (v int64, ok bool) {
	s := strings.TrimSpace(r.URL.Query().Get(name))
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		errs[name] = "must be an integer"
		return 0, false
	}
	return n, true
}

// pathID parses the {name} URL parameter as a positive id; anything else is
// a 404, since no such resource can exist.
func pathID(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(urlParam(r, name), 10, 64)
	if err != nil || n < 1 {
		return 0, errNotFound
	}
	return n, nil
}
