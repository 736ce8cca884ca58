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
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/clientip"
	"github.com/kiln-dev/kiln/dbfs"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/sandbox"
	"github.com/kiln-dev/kiln/service"
	"github.com/kiln-dev/kiln/sqlstore"
)

// Config configures a server. Zero values take the documented defaults.
type Config struct {
	// Addr is the listen address; default 127.0.0.1:8080. Port 0 picks a
	// free port (tests).
	Addr string
	// DataDir holds kiln.db, token.key, secrets.key and the DBFS tree
	// dbfs/; default ./kiln-data.
	DataDir string
	// BaseURL is the public URL, used in links; empty, links name the
	// listener address each connection reached (see api.Config.BaseURL).
	BaseURL string
	// TLSCert and TLSKey, both set, serve HTTPS.
	TLSCert, TLSKey string
	// TokenKey overrides the key file in DataDir (hex, 64 characters).
	TokenKey string
	// SecretsKey overrides the secrets.key file in DataDir (hex, 64
	// characters): the key sealing Secrets API values.
	SecretsKey string
	// DatabaseURL, a postgres:// URL, puts the store in that PostgreSQL
	// database instead of DataDir/kiln.db, so that several replicas can
	// share it. It requires TokenKey and SecretsKey: every replica must
	// use the same keys, which a per-directory key file cannot promise.
	DatabaseURL string
	// UnknownTokenRefresh is how often at most a server re-reads the
	// store's changes when it meets an unknown token or principal, so that
	// one created a moment ago by another process (another replica, or
	// another server or kiln admin on the same SQLite file) works at once
	// (auth.Index.SetMissRefresh). On SQLite a miss re-reads only when
	// something was committed since the last refresh, which a file read
	// tells, so bad tokens cost no query. Default MissRefreshInterval;
	// negative turns it off.
	UnknownTokenRefresh time.Duration
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
	// TrustedProxies lists the load balancers and reverse proxies (CIDRs or
	// addresses) whose X-Forwarded-For kiln believes, so that throttling
	// and the audit log see clients rather than the proxy.
	TrustedProxies []string
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
	// MaxConcurrentRuns is how many task runs this server executes at
	// once; default 4. Other runs wait, QUEUED, in the store.
	MaxConcurrentRuns int
	// MaxQueuedRunsPerUser is how many runs one owner may have waiting to
	// start (QUEUED or PENDING); further run-now and runs/submit requests
	// get 429 RESOURCE_EXHAUSTED until some start. 0 means the default,
	// 100 (service.DefaultMaxQueuedRunsPerUser); negative, no limit.
	MaxQueuedRunsPerUser int
	// Runner, when set, adjusts the executor's configuration (tests use
	// it for short leases and grace periods).
	Runner func(*runner.Config)
	// NoAPI makes an executor-only node: it executes runs from the shared
	// store and serves nothing on Addr but /healthz and /readyz.
	NoAPI bool
	// Offline makes OpenParts administer an existing workspace and create
	// nothing: it refuses a data directory that does not exist or holds no
	// initialised kiln (with DatabaseURL, a database without kiln's schema
	// and workspace), naming what it looked at, and makes no directory, key
	// file, database, workspace or DBFS tree. kiln admin sets it, so that a
	// command run in the wrong directory cannot start a second workspace;
	// only kiln serve initialises.
	Offline bool
	// Sandbox confines job tasks (see package sandbox); the zero value is
	// the default confinement. The data directory is always private.
	Sandbox sandbox.Config
	// TaskDir holds the private working directory of each task attempt;
	// default runner.DefaultTaskDir(DataDir). It must lie outside DataDir.
	TaskDir string
	// KeepTaskDirs says which attempt directories outlive their attempt:
	// none (default), failed or all.
	KeepTaskDirs string
	// TaskMaxOutput bounds what one task may print before it is stopped;
	// default 256 MiB.
	TaskMaxOutput int64
	// TaskPython is the interpreter tasks run; default the first of
	// python3 on PATH, /usr/bin/python3 and /usr/local/bin/python3 that
	// the task user can execute.
	TaskPython string
	// TaskLease is how long a task's lease lasts without renewal (default
	// 30s): a replica that dies mid-run has its tasks retried or ended as
	// INTERNAL_ERROR by the others within about TaskLease plus a sixth of
	// it (the sweep interval).
	TaskLease time.Duration
}

// Parts are the assembled pieces, for commands and tests that need them.
type Parts struct {
	Store    kiln.Store
	Key      *auth.Key
	DBFS     kiln.DBFS // the DBFS tree in DataDir/dbfs; nil when Offline
	Index    *auth.Index
	Service  *service.Service
	Denials  *service.Denials
	Throttle *auth.Throttle
	// ClientIP finds client addresses behind the trusted proxies.
	ClientIP  *clientip.Resolver
	Workspace kiln.Workspace
	Log       *slog.Logger
	Config    Config
}

// Server is a running (or ready to run) kiln server.
type Server struct {
	*Parts
	// Runner executes job runs; it starts and stops with Serve.
	Runner   *runner.Runner
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

// SecretsKeyPath is the secrets key file inside a data directory.
func SecretsKeyPath(dataDir string) string { return filepath.Join(dataDir, "secrets.key") }

// DBFSPath is the DBFS tree inside a data directory.
func DBFSPath(dataDir string) string { return filepath.Join(dataDir, "dbfs") }

// MissRefreshInterval spaces the token index refreshes that lookups of
// unknown tokens trigger: on PostgreSQL a flood of bad tokens costs each
// replica at most 200 small reads a second, and delays each bad token by
// at most about 5ms; on SQLite only while something is being committed. docs/benchmarks.md has the figures
// behind the choice.
const MissRefreshInterval = 5 * time.Millisecond

// healthOnly is the handler of an executor-only node: liveness and
// readiness (the store answers) for whatever supervises it, nothing else.
func healthOnly(store kiln.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := store.Ping(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"unavailable"}`))
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"This kiln node executes runs only (--no-api)."}`))
	})
	return mux
}

// dsn is the store the configuration names.
func (c *Config) dsn() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return DatabasePath(c.DataDir)
}

// checkShared refuses a PostgreSQL configuration without shared keys:
// each replica would otherwise make its own key files and refuse (or, on a
// first start, split) the workspace. The fingerprints recorded in the
// database then catch keys that are given but differ.
func (c *Config) checkShared() error {
	if c.DatabaseURL == "" {
		if c.NoAPI {
			// On SQLite the node would share the serving process's data
			// directory, and so its executor identity.
			return fmt.Errorf("--no-api needs --database-url: executor-only nodes share a PostgreSQL store with the replicas that serve the API")
		}
		return nil
	}
	if !sqlstore.IsPostgresURL(c.DatabaseURL) {
		return fmt.Errorf("--database-url must be a postgres:// or postgresql:// URL")
	}
	var missing []string
	if c.TokenKey == "" {
		missing = append(missing, "KILN_TOKEN_KEY_FILE (or KILN_TOKEN_KEY)")
	}
	if c.SecretsKey == "" {
		missing = append(missing, "KILN_SECRETS_KEY_FILE (or KILN_SECRETS_KEY)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("with --database-url every replica must use the same keys, so kiln will not make its own per data directory: set %s to a file holding the shared key (64 hex characters, such as the output of: od -An -tx1 -N32 /dev/urandom | tr -d ' \\n')",
			strings.Join(missing, " and "))
	}
	return nil
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
	c.defaults()
	clientIP, ipErr := clientip.New(c.TrustedProxies)
	if ipErr != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", ipErr)
	}
	if err := c.checkShared(); err != nil {
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
	store, err = sqlstore.Open(ctx, c.dsn())
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
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
	// Offline commands never touch DBFS, nor create it: their service has
	// none (a nil kiln.DBFS, not a nil *dbfs.Disk).
	var tree kiln.DBFS
	if !c.Offline {
		disk, err := dbfs.Open(DBFSPath(c.DataDir), dbfs.Options{})
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("opening DBFS: %w", err)
		}
		tree = disk
	}
	index := auth.NewIndex(store, key, c.Log)
	if c.UnknownTokenRefresh >= 0 {
		// A token or user created a moment ago through another replica,
		// or another server on the same SQLite file, must work here at
		// once (see SetMissRefresh).
		every := c.UnknownTokenRefresh
		if every == 0 {
			every = MissRefreshInterval
		}
		index.SetMissRefresh(every)
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
		Jobs: jobs, Compute: jobs.compute, MaxQueuedRunsPerUser: c.MaxQueuedRunsPerUser,
	})
	p := &Parts{
		Store: store, Key: key, DBFS: tree, Index: index, Service: svc,
		Denials: service.NewDenials(store, c.Log), Throttle: auth.NewThrottle(c.AuthFailureRate, float64(max(c.AuthFailureBurst, 0))),
		ClientIP: clientIP, Workspace: res.Workspace, Log: c.Log, Config: c,
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
	var handler http.Handler = api.New(api.Config{
		Service: p.Service, Index: p.Index, Denials: p.Denials, Throttle: p.Throttle, Store: p.Store,
		Log: p.Log, WorkspaceID: p.Workspace.ID, BaseURL: p.Config.BaseURL, Console: console, ClientIP: p.ClientIP,
	})
	if p.Config.NoAPI {
		handler = healthOnly(p.Store)
	}
	s := &Server{Parts: p}
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
	return s, nil
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
