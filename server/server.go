// Package server owns Mika's HTTP side: the router, middlewares, the API
// handlers (one file per resource) and the embedded web app.
package server

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"mika/store"
	"mika/store/media"
)

// Transcoder is what the HTTP layer needs from the worker pool.
type Transcoder interface {
	// Wake tells the pool a task was queued or changed.
	Wake()
	// CancelTask stops task id's ffmpeg if it runs here, removing partial output.
	CancelTask(id int64)
	// FFmpegVersion is the ffmpeg version line, or "" when ffmpeg is missing.
	FFmpegVersion() string
	// HWAccels lists the hardware encoders that really work here, "none" first.
	HWAccels() []string
}

// Config is everything the server is built from.
type Config struct {
	Store          *store.Store
	Data           media.Dir
	Transcoder     Transcoder
	UI             fs.FS // the built SPA; may lack index.html
	Log            *slog.Logger
	TrustedProxies []netip.Prefix
	Version        string
}

// Server is the HTTP application.
type Server struct {
	store      *store.Store
	data       media.Dir
	transcoder Transcoder
	ui         fs.FS
	log        *slog.Logger
	proxies    []netip.Prefix
	version    string

	jwtSecret  []byte
	limiter    *rateLimiter
	authLimits *rateLimiter
	handler    http.Handler

	stopJobs context.CancelFunc
	jobs     sync.WaitGroup

	// Administration (admin.go).
	metrics    *metrics
	activity   *activity
	storage    *storageMeter
	webhook    *webhookSender
	settingsMu sync.Mutex // serialises settings read-modify-write

	lists    *listCache    // public list pages by content generation (listcache.go)
	listGate chan struct{} // list queries in arrival order (listcache.go)
}

// New builds the server. It loads (or creates) the signing secret.
func New(ctx context.Context, cfg Config) (*Server, error) {
	s := &Server{
		store:      cfg.Store,
		data:       cfg.Data,
		transcoder: cfg.Transcoder,
		ui:         cfg.UI,
		log:        cfg.Log,
		proxies:    cfg.TrustedProxies,
		version:    cfg.Version,
		lists:      newListCache(),
		listGate:   make(chan struct{}, cfg.Store.ReadConns()),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	secret, err := s.store.MetaOrInit(ctx, "jwt_secret", func() (string, error) { return randomHex(32) })
	if err != nil {
		return nil, err
	}
	s.jwtSecret = []byte(secret)
	s.limiter = newRateLimiter(func() (float64, int) {
		st := s.store.Settings()
		return float64(st.RateLimitRPS), st.RateLimitBurst
	})
	s.authLimits = newRateLimiter(func() (float64, int) { return 10.0 / 60, 10 })
	s.initAdmin(ctx)
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// HTTPServer wraps the handler with sane timeouts. Write timeouts are left
// off: uploads and segment downloads may take long on slow links.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext:       withConn, // requests carry their connection: media responses are corked (middleware.go)
	}
}

// Start runs the server's periodic housekeeping and the webhook sender
// (which first resumes the deliveries a previous run left) until ctx ends
// or Shutdown.
func (s *Server) Start(ctx context.Context) {
	ctx, s.stopJobs = context.WithCancel(ctx)
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.runWebhooks(ctx)
	}()
	jobs := []struct {
		name  string
		every time.Duration
		run   func(context.Context) error
	}{
		{"expire uploads", 10 * time.Minute, s.expireUploads},
		{"prune nonces", time.Minute, s.pruneNonces},
	}
	for _, j := range jobs {
		s.jobs.Add(1)
		go func() {
			defer s.jobs.Done()
			t := time.NewTicker(j.every)
			defer t.Stop()
			for {
				if err := j.run(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("housekeeping failed", slog.String("job", j.name), slog.Any("err", err))
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
}

// Shutdown stops the housekeeping jobs and the webhook sender and waits
// for them; a webhook try in flight is cut off, and deliveries waiting for
// a retry stay in the outbox for the next start.
func (s *Server) Shutdown() {
	if s.stopJobs != nil {
		s.stopJobs()
	}
	s.jobs.Wait()
}
