// Command mika is a self-hosted video library and transcoding appliance:
// one binary, one SQLite file, one data folder.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"mika/server"
	"mika/store"
	"mika/store/media"
	"mika/transcoder"
	"mika/transcoder/library"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Mika (米卡) — self-hosted video library and transcoding appliance.

Usage:
  mika serve   [--addr :8080] [--data ./data] [--ffmpeg PATH] [--ffprobe PATH] [--trusted-proxies CIDRS]
  mika user create --username U --password P [--admin] [--data ./data]
  mika user passwd --username U --password P [--data ./data]
  mika backup  --out FILE [--data ./data]
  mika version

Every flag also reads an environment variable: MIKA_ADDR, MIKA_DATA, MIKA_FFMPEG,
MIKA_FFPROBE, MIKA_TRUSTED_PROXIES.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mika:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("see 'mika help'")

// parseFlags parses a command's flags; a word left over (a mistyped flag
// without its dashes, a value without its flag) is an error, not ignored.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "user":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return errUsage
		}
		return userCmd(ctx, args[1], args[2:], stdout, stderr)
	case "backup":
		return backupCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "mika", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
	}
}

// env returns the environment variable's value, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// openData creates the data folder and opens its database.
func openData(ctx context.Context, dir string) (media.Dir, *store.Store, error) {
	d, err := media.New(dir)
	if err != nil {
		return d, nil, err
	}
	if err := d.Init(); err != nil {
		return d, nil, err
	}
	st, err := store.Open(ctx, d.DB(), migrationsFS())
	return d, st, err
}

func parseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is not an address or CIDR", part)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is not a CIDR", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	began := time.Now()
	fs := newFlags("serve", stderr)
	addr := fs.String("addr", env("MIKA_ADDR", ":8080"), "listen address (MIKA_ADDR)")
	data := fs.String("data", env("MIKA_DATA", "./data"), "data folder (MIKA_DATA)")
	ffmpeg := fs.String("ffmpeg", env("MIKA_FFMPEG", "ffmpeg"), "ffmpeg binary (MIKA_FFMPEG)")
	ffprobe := fs.String("ffprobe", env("MIKA_FFPROBE", "ffprobe"), "ffprobe binary (MIKA_FFPROBE)")
	proxies := fs.String("trusted-proxies", env("MIKA_TRUSTED_PROXIES", ""), "CIDRs whose X-Forwarded-For is believed (MIKA_TRUSTED_PROXIES)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	trusted, err := parseCIDRs(*proxies)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// `ffmpeg -version` (0.1–0.4 s) runs beside opening the database: on a
	// new data folder /healthz waits for it.
	detection := transcoder.DetectFFmpeg(ctx, *ffmpeg, *ffprobe)
	d, st, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	// Scratch files of a process that died (a half-written cover, an upload
	// cut off mid-body) go before anything starts writing there again.
	if err := d.ResetTmp(); err != nil {
		log.Warn("emptying the scratch folder", slog.Any("err", err))
	}

	// The pool reports each task's end to the server (the webhook); the
	// server is built after the pool, and the pool starts after both exist.
	var srv *server.Server
	pool := transcoder.New(transcoder.Config{Store: st, Data: d, FFmpeg: *ffmpeg, FFprobe: *ffprobe, Log: log,
		OnTaskEnd: func(ctx context.Context, taskID int64) { srv.TaskEnded(ctx, taskID) }, Detection: detection})
	srv, err = server.New(ctx, server.Config{Store: st, Data: d, Transcoder: pool, UI: uiFS(), Log: log,
		TrustedProxies: trusted, Version: version})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	httpSrv := srv.HTTPServer(*addr)
	// The library service scans library folders and queues their videos.
	libs := library.New(library.Config{Store: st, FFprobe: *ffprobe, Wake: pool.Wake, Log: log})
	// The pool reads ffmpeg's version in the background and claims no task
	// before. /healthz answers at once with the version remembered from an
	// earlier start when ffmpeg and ffprobe are the same files; otherwise
	// it waits for `ffmpeg -version` (3 s at most).
	pool.Start(ctx)
	libs.Start(ctx)
	srv.Start(ctx)
	log.Info("mika listening", slog.String("addr", ln.Addr().String()), slog.String("data", d.Root()),
		slog.String("version", version), slog.Duration("startup", time.Since(began)))

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", slog.Any("err", err))
	}
	srv.Shutdown()
	libs.Shutdown()
	if err := pool.Shutdown(shutCtx); err != nil {
		log.Warn("transcoder shutdown", slog.Any("err", err))
	}
	log.Info("stopped")
	return nil
}

func userCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	if sub != "create" && sub != "passwd" {
		return fmt.Errorf("unknown user command %q: %w", sub, errUsage)
	}
	fs := newFlags("user "+sub, stderr)
	username := fs.String("username", "", "user name")
	password := fs.String("password", "", "password (at least 8 characters)")
	admin := fs.Bool("admin", false, "make the user an admin (create only)")
	data := fs.String("data", env("MIKA_DATA", "./data"), "data folder (MIKA_DATA)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" || *password == "" {
		return errors.New("--username and --password are required")
	}
	if len(*password) < 8 || len(*password) > 72 {
		return errors.New("--password must be 8 to 72 characters")
	}
	_, st, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	hash, err := server.HashPassword(*password)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		role := "user"
		if *admin {
			role = "admin"
		}
		if err := server.ValidateUsername(*username); err != nil {
			return err
		}
		u, err := st.CreateUser(ctx, store.NewUser{Username: *username, PasswordHash: hash, Role: role})
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user %q already exists", *username)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s %q (id %d)\n", role, u.Username, u.ID)
	case "passwd":
		u, err := st.UserByUsername(ctx, *username)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %q", *username)
		}
		if err != nil {
			return err
		}
		if err := st.SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %q changed; earlier sessions are signed out\n", u.Username)
	}
	return nil
}

func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backup", stderr)
	out := fs.String("out", "", "file to write the copy to (must not exist)")
	data := fs.String("data", env("MIKA_DATA", "./data"), "data folder (MIKA_DATA)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s already exists", *out)
	}
	_, st, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database copied to %s\n", *out)
	return nil
}
