// Package server assembles a kiln server from its parts: the data
// directory (SQLite store and token key), the first-start bootstrap, the
// token index and its change poller, the service, the REST API, and the
// HTTP listener with graceful shutdown. The CLI's serve and admin commands
// and the end-to-end tests all start kiln through it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/service"
	"github.com/kiln-dev/kiln/sqlstore"
)

// Config configures a server. Zero values take the documented defaults.
type Config struct {
	// Addr is the listen address; default 127.0.0.1:8080. Port 0 picks a
	// free port (tests).
	Addr string
	// DataDir holds kiln.db and token.key; default ./kiln-data.
	DataDir string
	// BaseURL is the public URL, used in links.
	BaseURL string
	// TLSCert and TLSKey, both set, serve HTTPS.
	TLSCert, TLSKey string
	// TokenKey overrides the key file in DataDir (hex, 64 characters).
	TokenKey string
	// AdminEmail and AdminPassword name the first admin at first start.
	AdminEmail, AdminPassword string
	// PollInterval is how often the server looks for changes made by other
	// processes; default 200ms, so they apply within a second.
	PollInterval time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests; default 30s.
	ShutdownTimeout time.Duration
	// AuditFlushInterval is how often coalesced denied-token events are
	// written; default 5s.
	AuditFlushInterval time.Duration
	// AuthFailureRate and AuthFailureBurst throttle clients that keep
	// presenting bad credentials: each address may fail AuthFailureBurst
	// times, refilled at AuthFailureRate per second, before getting 429s.
	// Defaults 10 and 50; a negative burst turns the throttle off.
	AuthFailureRate  float64
	AuthFailureBurst int
	// WrapStore, when set, decorates the opened store (tests count writes
	// through it).
	WrapStore func(kiln.Store) kiln.Store
	// Log receives structured logs; default discards.
	Log *slog.Logger
	// Console, when set, builds the web console handler.
	Console func(*Parts) http.Handler
}

// Parts are the assembled pieces, for commands and tests that need them.
type Parts struct {
	Store     kiln.Store
	Key       *auth.Key
	Index     *auth.Index
	Service   *service.Service
	Denials   *service.Denials
	Throttle  *auth.Throttle
	Workspace kiln.Workspace
	Log       *slog.Logger
	Config    Config
}

// Server is a running (or ready to run) kiln server.
type Server struct {
	*Parts
	http     *http.Server
	listener net.Listener
	wg       sync.WaitGroup
}

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "kiln-data"
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.AuthFailureRate <= 0 {
		c.AuthFailureRate = 10
	}
	if c.AuthFailureBurst == 0 {
		c.AuthFailureBurst = 50
	}
	if c.AuditFlushInterval <= 0 {
		c.AuditFlushInterval = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// DatabasePath is the SQLite file inside a data directory.
func DatabasePath(dataDir string) string { return filepath.Join(dataDir, "kiln.db") }

// KeyPath is the token key file inside a data directory.
func KeyPath(dataDir string) string { return filepath.Join(dataDir, "token.key") }

// OpenParts opens the data directory, initialises it on first use
// (printing a generated admin password once, to the log), and loads the
// token index. Close the store when done.
func OpenParts(ctx context.Context, c Config) (*Parts, error) {
	c.defaults()
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	var (
		key *auth.Key
		err error
	)
	if c.TokenKey != "" {
		if key, err = auth.ParseKey(c.TokenKey); err != nil {
			return nil, fmt.Errorf("KILN_TOKEN_KEY: %w", err)
		}
	} else if key, _, err = auth.LoadOrCreateKeyFile(KeyPath(c.DataDir)); err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	var store kiln.Store
	store, err = sqlstore.Open(ctx, DatabasePath(c.DataDir))
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	if c.WrapStore != nil {
		store = c.WrapStore(store)
	}
	res, err := service.Bootstrap(ctx, store, service.BootstrapParams{
		AdminEmail: c.AdminEmail, AdminPassword: c.AdminPassword, KeyFingerprint: key.Fingerprint(),
	})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("initialising the store: %s", kiln.ErrorMessage(err))
	}
	if res.Created {
		c.Log.Info("initialised a new workspace", "workspace_id", res.Workspace.ID, "admin", res.AdminEmail)
		if res.GeneratedPassword != "" {
			// Shown once: later starts never print it again.
			c.Log.Warn("first admin created with a generated password; sign in and change it",
				"admin", res.AdminEmail, "password", res.GeneratedPassword)
		}
	}
	index := auth.NewIndex(store, key, c.Log)
	if err := index.Load(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("loading tokens: %w", err)
	}
	p := &Parts{
		Store: store, Key: key, Index: index, Service: service.New(store, index, c.Log),
		Denials: service.NewDenials(store, c.Log), Throttle: auth.NewThrottle(c.AuthFailureRate, float64(max(c.AuthFailureBurst, 0))),
		Workspace: res.Workspace, Log: c.Log, Config: c,
	}
	return p, nil
}

// New opens the data directory and builds the HTTP server; call Listen and
// Serve to run it.
func New(ctx context.Context, c Config) (*Server, error) {
	p, err := OpenParts(ctx, c)
	if err != nil {
		return nil, err
	}
	var console http.Handler
	if p.Config.Console != nil {
		console = p.Config.Console(p)
	}
	handler := api.New(api.Config{
		Service: p.Service, Index: p.Index, Denials: p.Denials, Throttle: p.Throttle, Store: p.Store,
		Log: p.Log, WorkspaceID: p.Workspace.ID, BaseURL: p.Config.BaseURL, Console: console,
	})
	s := &Server{Parts: p}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(p.Log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Listen binds the listen address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.Config.Addr)
	if err != nil {
		return err
	}
	if s.Config.TLSCert != "" || s.Config.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(s.Config.TLSCert, s.Config.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("loading TLS certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	}
	s.listener = ln
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// URL is the base URL clients reach the server at (after Listen).
func (s *Server) URL() string {
	scheme := "http"
	if s.Config.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + s.Addr()
}

// Serve serves until ctx ends, then shuts down gracefully: it stops
// accepting connections, lets in-flight requests finish (up to
// ShutdownTimeout), flushes last-use and audit buffers, and closes the
// store. Every acknowledged write was committed before its response, so
// nothing is half-written.
func (s *Server) Serve(ctx context.Context) error {
	bg, stopBG := context.WithCancel(context.Background())
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.Index.Run(bg, s.Config.PollInterval, time.Minute) }()
	go func() { defer s.wg.Done(); s.Denials.Run(bg, s.Config.AuditFlushInterval) }()

	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()
	s.Log.Info("kiln is serving", "url", s.URL(), "workspace_id", s.Workspace.ID, "data_dir", s.Config.DataDir)

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		s.Log.Info("shutting down: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
		if err := s.http.Shutdown(sctx); err != nil {
			s.Log.Warn("graceful shutdown timed out", "err", err)
		}
		cancel()
		<-errc
	}
	stopBG()
	s.wg.Wait()
	if err := s.Store.Close(); err != nil {
		s.Log.Warn("closing the store", "err", err)
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}
