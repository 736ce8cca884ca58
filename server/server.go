// Package server is kiln's one composition root. It opens the store
// (SQLite in the data directory, or PostgreSQL shared by replicas) and the
// keys, runs the first-start bootstrap, loads the token index and polls
// for changes other processes make, opens DBFS, and builds the service,
// the job runner, the REST API (package api) and the web console (package
// console) from one Config (config.go, with Validate and the defaults).
// It serves them behind one root handler (handler.go: the shared
// middleware, health probes, /api/ and /.well-known/ to the API, / to the
// console) with graceful shutdown. kiln serve, kiln admin (OpenParts,
// offline) and the end-to-end tests all start kiln through it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/clientip"
	"github.com/kiln-dev/kiln/console"
	"github.com/kiln-dev/kiln/metrics"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/service"
	"github.com/kiln-dev/kiln/sqlstore"
	"github.com/kiln-dev/kiln/sso"
	"github.com/kiln-dev/kiln/webhook"
)

// Parts are the assembled pieces, for commands and tests that need them.
type Parts struct {
	Store    kiln.Store
	Key      *auth.Key
	DBFS     kiln.DBFS // the DBFS tree, in the store; nil when Offline
	Index    *auth.Index
	Service  *service.Service
	Denials  *service.Denials
	Throttle *auth.Throttle
	// ClientIP finds client addresses behind the trusted proxies.
	ClientIP  *clientip.Resolver
	Workspace kiln.Workspace
	Log       *slog.Logger
	Config    Config

	runnerLink *runnerLink // the service's executor, pointed at the runner by newRunner

	// Metrics is the Prometheus instrumentation; nil unless
	// Config.MetricsAddr or Config.MetricsToken asks for it.
	Metrics *metrics.Metrics
}

// Server is a running (or ready to run) kiln server.
type Server struct {
	*Parts
	// Runner executes job runs; it starts and stops with Serve.
	Runner *runner.Runner
	// Webhooks delivers webhook events; it runs with Serve.
	Webhooks *webhook.Deliverer
	// API and Console are the REST API and the web console as the root
	// handler mounts them (see newRoot); nil on an executor-only node.
	API      *api.Server
	Console  *console.Console
	http     *http.Server
	listener net.Listener
	wg       sync.WaitGroup

	// The metrics listener of Config.MetricsAddr, if any.
	metricsHTTP     *http.Server
	metricsListener net.Listener
}

// dsn is the store the configuration names.
func (c *Config) dsn() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return DatabasePath(c.DataDir)
}

// loadKey parses the key given in configuration (from the variable
// named env), else reads the key file, which is created unless Offline.
func (c *Config) loadKey(given, env, file string) (*auth.Key, error) {
	if given != "" {
		k, err := auth.ParseKey(given)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env, err)
		}
		return k, nil
	}
	if !c.Offline {
		k, _, err := auth.LoadOrCreateKeyFile(file)
		return k, err
	}
	k, err := auth.LoadKeyFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist: give the server's key with %s_FILE, or point --data-dir (KILN_DATA_DIR) at the server's data directory", file, env)
	}
	return k, err
}

// notInitialised is the refusal of an offline command on a store that
// kiln serve has not initialised: what was looked at, why it does not do,
// and how to name the right one.
func (c *Config) notInitialised(what string) error {
	if c.DatabaseURL != "" {
		return fmt.Errorf("%s: this is not a kiln workspace's database. Point --database-url (or KILN_DATABASE_URL, KILN_DATABASE_URL_FILE) at the database the servers use; kiln serve initialises a new one, kiln admin never does", what)
	}
	return notADataDir(what)
}

func notADataDir(what string) error {
	return fmt.Errorf("%s: this is not a kiln data directory. Point kiln admin at the server's with --data-dir DIR or KILN_DATA_DIR=DIR; kiln serve initialises a new one, kiln admin never does", what)
}

// CheckDataDir refuses, for an offline command, a data directory that does
// not exist or, when needDB, holds no kiln.db, in words that name the
// absolute path looked at and how to point the command at the right one.
func CheckDataDir(dataDir string, needDB bool) error {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return notADataDir(dir + " does not exist")
	}
	if _, err := os.Stat(DatabasePath(dir)); needDB && err != nil {
		return notADataDir(dir + " holds no kiln.db")
	}
	return nil
}

// checkInitialised refuses, before anything is opened or created, a store
// that kiln serve never initialised: a missing data directory or kiln.db,
// or a database without kiln's schema.
func (c *Config) checkInitialised(ctx context.Context) error {
	if c.DatabaseURL == "" {
		if err := CheckDataDir(c.DataDir, true); err != nil {
			return err
		}
	}
	states, err := sqlstore.Status(ctx, c.dsn())
	if err != nil {
		return fmt.Errorf("reading %s: %w", c.describeStore(), err)
	}
	for _, m := range states {
		if !m.Applied.IsZero() {
			return nil
		}
	}
	return c.notInitialised(c.describeStore() + " has no kiln schema")
}

// checkWorkspace refuses a store with kiln's schema but no workspace (a
// first start that never finished).
func (c *Config) checkWorkspace(ctx context.Context, store kiln.Store) error {
	err := store.View(ctx, func(tx kiln.Tx) error { _, err := tx.Workspace(); return err })
	if kiln.IsCode(err, kiln.ENotFound) {
		return c.notInitialised(c.describeStore() + " holds no workspace")
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", c.describeStore(), err)
	}
	return nil
}

// describeStore names the store for messages, without a password.
func (c *Config) describeStore() string {
	if c.DatabaseURL == "" {
		p, _ := filepath.Abs(DatabasePath(c.DataDir))
		return p
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil {
		return "the PostgreSQL database " + u.Redacted()
	}
	return "the PostgreSQL database of --database-url"
}

// OpenParts opens the data directory, initialises it on first use
// (printing a generated admin password once, to the log), and loads the
// token index. Close the store when done.
func OpenParts(ctx context.Context, c Config) (*Parts, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.defaults()
	clientIP, err := clientip.New(c.TrustedProxies) // valid: Validate parsed it
	if err != nil {
		return nil, err
	}
	if c.Offline {
		if err := c.checkInitialised(ctx); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	key, err := c.loadKey(c.TokenKey, "KILN_TOKEN_KEY", KeyPath(c.DataDir))
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	// The secrets key has the token key's format, in its own file.
	secretsKey, err := c.loadKey(c.SecretsKey, "KILN_SECRETS_KEY", SecretsKeyPath(c.DataDir))
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	box, err := auth.NewSecretBox(secretsKey)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	var store kiln.Store
	// One clock: what the store stamps (a run's end, a rotation) and what
	// the service compares it with (a retention cutoff, a grace period)
	// must be read from the same one.
	var storeOpts []sqlstore.Option
	if c.Clock != nil {
		storeOpts = append(storeOpts, sqlstore.WithClock(c.Clock))
	}
	sqlStore, err := sqlstore.Open(ctx, c.dsn(), storeOpts...)
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	store = sqlStore
	if c.WrapStore != nil {
		store = c.WrapStore(store)
	}
	if c.Offline {
		if err := c.checkWorkspace(ctx, store); err != nil {
			store.Close()
			return nil, err
		}
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
	if err := service.InitSecrets(ctx, store, box); err != nil {
		store.Close()
		return nil, fmt.Errorf("initialising secrets: %s", kiln.ErrorMessage(err))
	}
	// Offline commands never touch DBFS: their service has none (a nil
	// kiln.DBFS, not a nil *sqlstore.DBFS). A server keeps DBFS in the
	// store, so that replicas share it, after moving in the local tree
	// of an older kiln once.
	var tree kiln.DBFS
	if !c.Offline {
		d := sqlStore.DBFS(sqlstore.DBFSOptions{QuotaPerOwner: c.DBFSQuotaPerUser, Quota: c.DBFSQuota, Now: c.Clock})
		if err := migrateLocalDBFS(ctx, DBFSPath(c.DataDir), d, c.Log); err != nil {
			store.Close()
			return nil, fmt.Errorf("moving the local DBFS directory %s into the store: %w", DBFSPath(c.DataDir), err)
		}
		tree = d
	}
	index := auth.NewIndex(store, key, c.Log)
	if c.Clock != nil {
		index.SetClock(c.Clock)
	}
	if c.UnknownTokenRefresh > 0 {
		// A token or user created a moment ago through another replica,
		// or another server on the same SQLite file, must work here at
		// once (see SetMissRefresh).
		index.SetMissRefresh(c.UnknownTokenRefresh)
	}
	if err := index.Load(ctx); err != nil {
		if tree != nil {
			tree.Close()
		}
		store.Close()
		return nil, fmt.Errorf("loading tokens: %w", err)
	}
	jobs := &runnerLink{} // pointed at the runner by newRunner
	svc := service.New(service.Deps{
		Store: store, Index: index, Log: c.Log, Secrets: box, DBFS: tree,
		Jobs: jobs, Compute: jobs.compute, MaxQueuedRunsPerUser: c.MaxQueuedRunsPerUser, Now: c.Clock,
	})
	// First uses of tokens from new addresses are audited (and announced)
	// when the index flushes them.
	index.SetNewAddressHook(svc.NoteNewAddress)
	p := &Parts{
		Store: store, Key: key, DBFS: tree, Index: index, Service: svc,
		Denials: service.NewDenials(store, c.Log), Throttle: auth.NewThrottle(c.AuthFailureRate, float64(max(c.AuthFailureBurst, 0))),
		ClientIP: clientIP, Workspace: res.Workspace, Log: c.Log, Config: c, runnerLink: jobs,
	}
	if !c.Offline && (c.MetricsAddr != "" || c.MetricsToken != "") {
		p.Metrics = metrics.New(metrics.Sources{Index: index, Store: store})
		p.Denials.SetObserver(p.Metrics.AuthFailure)
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
	s := &Server{Parts: p}
	var handler http.Handler
	if p.Config.NoAPI {
		handler = newRoot(p, nil, nil)
	} else {
		// The session key is derived from the token key, so it needs no
		// configuration of its own, survives restarts, is shared by
		// replicas that share the token key, and changes (signing everyone
		// out) when the token key is rotated. The label separates it from
		// token digests.
		sessionKey := p.Key.Digest("kiln console session key v1")
		ccfg := console.Config{
			Service: p.Service, Index: p.Index, SessionKey: sessionKey[:], ClientIP: p.ClientIP,
			BaseURL: p.Config.BaseURL, Log: p.Log, Now: p.Config.SessionClock,
			PasswordLogin: service.PasswordLogin(p.Config.PasswordLogin),
		}
		if sc := p.Config.SSO; sc.Issuer != "" {
			if ccfg.SSO, err = sso.New(sso.Config{
				Issuer: sc.Issuer, ClientID: sc.ClientID, ClientSecret: sc.ClientSecret, Scopes: sc.Scopes,
				EmailClaim: sc.EmailClaim, GroupsClaim: sc.GroupsClaim,
			}); err != nil {
				p.Store.Close()
				return nil, err
			}
			ccfg.SSOLabel = sc.Label
			ccfg.SSOPolicy = service.SSOPolicy{CreateUsers: sc.CreateUsers, SyncGroups: sc.SyncGroups, GroupMap: sc.GroupMap}
		}
		s.Console = console.New(ccfg)
		s.API = api.New(api.Config{
			Service: p.Service, Index: p.Index, Denials: p.Denials, Throttle: p.Throttle,
			Log: p.Log, WorkspaceID: p.Workspace.ID, AccountID: p.Workspace.AccountID(), BaseURL: p.Config.BaseURL, ClientIP: p.ClientIP,
		})
		handler = newRoot(p, s.API, s.Console)
	}
	s.Webhooks = newDeliverer(p)
	if s.Runner, err = newRunner(p); err != nil {
		p.Store.Close()
		return nil, err
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(p.Log.Handler(), slog.LevelWarn),
	}
	if p.Metrics != nil && p.Config.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", p.Metrics.Handler())
		s.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(p.Log.Handler(), slog.LevelWarn)}
	}
	return s, nil
}

// MetricsURL is the /metrics URL of the metrics listener (after Listen);
// "" without Config.MetricsAddr.
func (s *Server) MetricsURL() string {
	if s.metricsListener == nil {
		return ""
	}
	return "http://" + s.metricsListener.Addr().String() + "/metrics"
}

// Handler is the server's HTTP handler (API and console), for benchmarks
// and tests that drive it without a listener.
func (s *Server) Handler() http.Handler { return s.http.Handler }

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
	if s.metricsHTTP != nil {
		if s.metricsListener, err = net.Listen("tcp", s.Config.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listening for metrics: %w", err)
		}
	}
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
	s.wg.Add(7)
	go func() { defer s.wg.Done(); s.Index.Run(bg, s.Config.PollInterval, s.Config.LastUseFlushInterval) }()
	go func() { defer s.wg.Done(); s.Denials.Run(bg, s.Config.AuditFlushInterval) }()
	go func() { defer s.wg.Done(); s.sweepClusters(bg) }()
	go func() { defer s.wg.Done(); s.sweepTokens(bg) }()
	go func() { defer s.wg.Done(); s.Webhooks.Run(bg) }()
	go func() { defer s.wg.Done(); s.prune(bg) }()
	// Schedules stop first on shutdown, so no run is queued while the
	// runner drains.
	sched, stopSched := context.WithCancel(bg)
	defer stopSched()
	go func() { defer s.wg.Done(); s.fireSchedules(sched) }()

	if err := s.Runner.Start(ctx); err != nil {
		stopBG()
		s.wg.Wait()
		s.Store.Close()
		s.DBFS.Close()
		return err
	}
	// Offline commands ask this server to refresh through the socket; the
	// refresh after listening catches what they committed since the load.
	refresher, err := listenRefresh(s.Config.DataDir, s.Index.Refresh, s.Log)
	if err != nil {
		s.Log.Warn("no refresh socket: changes made by kiln admin apply within a second instead of at once", "err", err)
	}
	if err := s.Index.Refresh(ctx); err != nil {
		s.Log.Warn("refreshing token index", "err", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()
	if s.metricsListener != nil {
		go s.metricsHTTP.Serve(s.metricsListener)
		defer s.metricsHTTP.Close()
		s.Log.Info("serving metrics", "url", s.MetricsURL())
	}
	if s.Config.NoAPI {
		s.Log.Info("kiln is executing runs (no API: --no-api)", "health", s.URL()+"/readyz", "workspace_id", s.Workspace.ID, "data_dir", s.Config.DataDir)
	} else {
		s.Log.Info("kiln is serving", "url", s.URL(), "workspace_id", s.Workspace.ID, "data_dir", s.Config.DataDir)
	}

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
	if refresher != nil {
		refresher.Close() // before the store closes under it
	}
	stopSched()
	s.stopRunner()
	stopBG()
	s.wg.Wait()
	if err := s.Store.Close(); err != nil {
		s.Log.Warn("closing the store", "err", err)
	}
	s.DBFS.Close()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}
