package server

import (
	"context"
	"net/http"

	"mika/store"
)

// Placeholders until this resource lands; each answers 501.
var _ = context.Background
var _ store.User

func (s *Server) publicSettings(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) statsOverview(w http.ResponseWriter, r *http.Request) error  { return errPending }
func (s *Server) statsVideos(w http.ResponseWriter, r *http.Request) error    { return errPending }
func (s *Server) statsUsers(w http.ResponseWriter, r *http.Request) error     { return errPending }
func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error    { return errPending }
func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error      { return errPending }
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error     { return errPending }
func (s *Server) listInvites(w http.ResponseWriter, r *http.Request) error    { return errPending }
func (s *Server) createInvite(w http.ResponseWriter, r *http.Request) error   { return errPending }
func (s *Server) backup(w http.ResponseWriter, r *http.Request) error         { return errPending }
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errPending)
}
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, errPending) }
func (s *Server) noteActive(ctx context.Context, u *store.User)  {}
