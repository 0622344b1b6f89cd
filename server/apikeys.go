package server

import (
	"context"
	"net/http"

	"mika/store"
)

// Placeholders until this resource lands; each answers 501.
var _ = context.Background
var _ store.User

func (s *Server) register(w http.ResponseWriter, r *http.Request) error       { return errPending }
func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request) error  { return errPending }
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) uploadAvatar(w http.ResponseWriter, r *http.Request) error   { return errPending }
func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) error    { return errPending }
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error   { return errPending }
func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) error   { return errPending }
func (s *Server) serveAvatar(w http.ResponseWriter, r *http.Request)          { s.writeError(w, r, errPending) }
func (s *Server) userFromAPIKey(r *http.Request) (*store.User, error)         { return nil, errUnauthorized }
func (s *Server) pruneNonces(ctx context.Context) error                       { return nil }
