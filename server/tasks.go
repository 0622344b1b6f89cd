package server

import (
	"context"
	"net/http"

	"mika/store"
)

// Placeholders until this resource lands; each answers 501.
var _ = context.Background
var _ store.User

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) error  { return errPending }
func (s *Server) getTask(w http.ResponseWriter, r *http.Request) error    { return errPending }
func (s *Server) retryTask(w http.ResponseWriter, r *http.Request) error  { return errPending }
func (s *Server) cancelTask(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) servePlayback(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errPending)
}
func (s *Server) serveCover(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, errPending) }
