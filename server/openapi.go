package server

import (
	_ "embed"
	"net/http"
)

// openAPISpec describes every endpoint of routes.go. A test walks the
// router and fails when a route is missing here or a path here has no route.
//
//go:embed openapi.json
var openAPISpec []byte

// openAPI serves the description as it is (not in the envelope), so tools
// such as Swagger UI read it directly.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openAPISpec)
}
