package server

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

const uiNotBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mika</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>Mika is running</h1>
<p>The web app was not built into this binary. Run <code>make build</code> (or <code>make run</code>)
with Node.js and npm installed to include it. The API is available under <code>/api</code>.</p>
</body></html>
`

// serveUI serves the embedded SPA: real files as they are (hashed assets
// cached for a year), anything else index.html so client routes work.
func (s *Server) serveUI(w http.ResponseWriter, r *http.Request) {
	if s.ui == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(uiNotBuilt))
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name != "" && name != "index.html" {
		if b, err := fs.ReadFile(s.ui, name); err == nil {
			if strings.HasPrefix(name, "assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
			return
		}
		// A missing asset is a real 404, not the app.
		if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" && !strings.HasSuffix(name, ".html") {
			http.NotFound(w, r)
			return
		}
	}
	index, err := fs.ReadFile(s.ui, "index.html")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if errors.Is(err, fs.ErrNotExist) {
		w.Write([]byte(uiNotBuilt))
		return
	}
	w.Write(index)
}
