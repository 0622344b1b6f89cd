package server

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes is the table of contents of the HTTP API.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	root := r
	// A 405 names the methods the path does answer (RFC 9110 §15.5.6).
	methodNotAllowed := s.h(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allowedMethods(root, r))
		return &APIError{Code: http.StatusMethodNotAllowed, Message: "method not allowed"}
	})
	r.Use(s.logRequests, s.recoverer) // a recovered panic is still logged and counted
	r.Use(middleware.GetHead)         // HEAD works wherever GET does (players probe segments with it)
	r.Use(cors(root))                 // other sites' pages may call the API and play streams
	r.NotFound(s.h(func(w http.ResponseWriter, r *http.Request) error { return errNotFound }))
	r.MethodNotAllowed(methodNotAllowed)

	r.Get("/healthz", s.h(s.healthz))
	r.Get("/metrics", s.metricsHandler)

	r.Route("/api", func(r chi.Router) {
		r.Use(s.rateLimit(s.limiter))
		r.NotFound(s.h(func(w http.ResponseWriter, r *http.Request) error { return errNotFound }))
		r.MethodNotAllowed(methodNotAllowed)

		// Public.
		r.Get("/openapi.json", s.openAPI)
		r.Get("/settings/public", s.h(s.publicSettings))
		r.Post("/setup", s.h(s.setup))
		r.Group(func(r chi.Router) {
			r.Use(s.rateLimit(s.authLimits))
			r.Post("/auth/login", s.h(s.login))
			r.Post("/auth/register", s.h(s.register))
		})
		r.Get("/categories", s.h(s.listCategories))

		// Anyone; what they see depends on who they are.
		r.Group(func(r chi.Router) {
			r.Use(s.optionalAuth)
			r.Get("/videos", s.h(s.listVideos))
			r.Get("/videos/{id}", s.h(s.getVideo))
		})

		// Signed-in users.
		r.Group(func(r chi.Router) {
			r.Use(s.requireAuth)
			r.Get("/user/profile", s.h(s.getProfile))
			r.Put("/user/profile", s.h(s.updateProfile))
			r.Put("/user/password", s.h(s.changePassword))
			r.Post("/user/avatar", s.h(s.uploadAvatar))
			r.Get("/user/api-keys", s.h(s.listAPIKeys))
			r.Post("/user/api-keys", s.h(s.createAPIKey))
			r.Delete("/user/api-keys/{id}", s.h(s.revokeAPIKey))

			r.Post("/videos/upload", s.h(s.uploadVideo))
			r.Post("/videos/upload/init", s.h(s.initUpload))
			r.Post("/videos/upload/chunk", s.h(s.uploadChunk))
			r.Post("/videos/upload/complete", s.h(s.completeUpload))
			r.Get("/videos/upload/{upload_id}", s.h(s.uploadStatus))
			r.Put("/videos/{id}", s.h(s.updateVideo))
			r.Delete("/videos/{id}", s.h(s.deleteVideo))
		})

		// Admins.
		r.Route("/admin", func(r chi.Router) {
			r.Use(s.requireAdmin)
			r.Post("/categories", s.h(s.createCategory))
			r.Put("/categories/{id}", s.h(s.updateCategory))
			r.Delete("/categories/{id}", s.h(s.deleteCategory))

			r.Get("/transcode/tasks", s.h(s.listTasks))
			r.Get("/transcode/tasks/{id}", s.h(s.getTask))
			r.Post("/transcode/tasks/{id}/retry", s.h(s.retryTask))
			r.Post("/transcode/tasks/{id}/cancel", s.h(s.cancelTask))

			r.Get("/statistics/overview", s.h(s.statsOverview))
			r.Get("/statistics/videos", s.h(s.statsVideos))
			r.Get("/statistics/users", s.h(s.statsUsers))

			r.Get("/settings", s.h(s.getSettings))
			r.Put("/settings", s.h(s.updateSettings))

			r.Get("/users", s.h(s.listUsers))
			r.Put("/users/{id}", s.h(s.updateUser))
			r.Get("/invites", s.h(s.listInvites))
			r.Post("/invites", s.h(s.createInvite))
			r.Get("/backup", s.h(s.backup))

			r.Get("/libraries", s.h(s.listLibraries))
			r.Post("/libraries", s.h(s.createLibrary))
			r.Put("/libraries/{id}", s.h(s.updateLibrary))
			r.Delete("/libraries/{id}", s.h(s.deleteLibrary))
			r.Post("/libraries/{id}/scan", s.h(s.scanLibrary))
		})
	})

	// Playback: HLS behind a signed token, public covers, avatars.
	r.Get("/videos/{id}/*", s.servePlayback)
	r.Get("/covers/{name}", s.serveCover)
	r.Get("/avatars/{name}", s.serveAvatar)

	// Everything else is the web app.
	r.Get("/*", s.serveUI)
	return r
}

// allowedMethods lists, for an Allow header, the methods root routes for
// r's path; HEAD goes with GET (middleware.GetHead).
func allowedMethods(root chi.Routes, r *http.Request) string {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if root.Match(chi.NewRouteContext(), m, path) {
			allowed = append(allowed, m)
			if m == http.MethodGet {
				allowed = append(allowed, http.MethodHead)
			}
		}
	}
	return strings.Join(allowed, ", ")
}
