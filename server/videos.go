package server

import (
	"context"
	"net/http"

	"mika/store"
)

// Placeholders until this resource lands; each answers 501.
var _ = context.Background
var _ store.User

func (s *Server) listCategories(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) listVideos(w http.ResponseWriter, r *http.Request) error     { return errPending }
func (s *Server) getVideo(w http.ResponseWriter, r *http.Request) error       { return errPending }
func (s *Server) uploadVideo(w http.ResponseWriter, r *http.Request) error    { return errPending }
func (s *Server) initUpload(w http.ResponseWriter, r *http.Request) error     { return errPending }
func (s *Server) uploadChunk(w http.ResponseWriter, r *http.Request) error    { return errPending }
func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) uploadStatus(w http.ResponseWriter, r *http.Request) error   { return errPending }
func (s *Server) updateVideo(w http.ResponseWriter, r *http.Request) error    { return errPending }
func (s *Server) deleteVideo(w http.ResponseWriter, r *http.Request) error    { return errPending }
func (s *Server) createCategory(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) updateCategory(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) deleteCategory(w http.ResponseWriter, r *http.Request) error { return errPending }
func (s *Server) expireUploads(ctx context.Context) error                     { return nil }
