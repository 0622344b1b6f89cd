package server

import (
	"context"
	"net/http"

	"mika/store"
)

// Placeholders until this resource lands; each answers 501.
var _ = context.Background
var _ store.User

func (s *Server) listLibraries(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) createLibrary(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) updateLibrary(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) deleteLibrary(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) scanLibrary(w http.ResponseWriter, r *http.Request) error   { return errPending }
