package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/clientip"
	"github.com/kiln-dev/kiln/console"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/sandbox"
	"github.com/kiln-dev/kiln/service"
	"github.com/kiln-dev/kiln/sqlstore"
	"github.com/kiln-dev/kiln/sso"
	"github.com/kiln-dev/kiln/webhook"
)

// The defaults of Config, which kiln serve's flags show.
const (
	DefaultAddr               = "127.0.0.1:8080"
	DefaultDataDir            = "./kiln-data"
	DefaultPollInterval       = 200 * time.Millisecond
	DefaultShutdownTimeout    = 30 * time.Second
	DefaultAuditFlushInterval = 5 * time.Second
	// DefaultLastUseFlushInterval is how often token last use and source
	// addresses are written (and first uses from new addresses audited).
	DefaultLastUseFlushInterval = 30 * time.Second
	// DefaultTokenSweepInterval is how often the inactivity policy and
	// expiry announcements run.
	DefaultTokenSweepInterval = time.Minute
	// DefaultPruneInterval is how often finished runs past their
	// retention, their files and old change notices are pruned.
	DefaultPruneInterval    = time.Hour
	DefaultAuthFailureRate  = 10.0
	DefaultAuthFailureBurst = 50
	// DefaultMaxConcurrentRuns is how many task runs a server executes at
	// once.
	DefaultMaxConcurrentRuns = 4
	// DefaultMaxQueuedRunsPerUser is how many runs one owner may have
	// waiting to start.
	DefaultMaxQueuedRunsPerUser = service.DefaultMaxQueuedRunsPerUser
	DefaultTaskLease            = 30 * time.Second
	DefaultTaskMaxOutput        = 256 << 20
	// DefaultUnknownTokenRefresh spaces the token index refreshes that
	// lookups of unknown tokens trigger: on PostgreSQL a flood of bad
	// tokens costs each replica at most 200 small reads a second, and
	// delays each bad token by at most about 5ms; on SQLite only while
	// something is being committed. docs/benchmarks.md has the figures
	// behind the choice.
	DefaultUnknownTokenRefresh = 5 * time.Millisecond
)

// Config configures a server. Zero values take the documented defaults
// (the Default… constants, which kiln serve's flags show too); Validate
// says everything wrong with a configuration at once.
type Config struct {
	// Addr is the listen address; default DefaultAddr. Port 0 picks a
	// free port (tests).
	Addr string
	// DataDir holds kiln.db (and in it DBFS), token.key and secrets.key;
	// default DefaultDataDir.
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
	// tells, so bad tokens cost no query. Zero turns it off, as the flag's
	// 0 does; kiln serve's default is DefaultUnknownTokenRefresh.
	UnknownTokenRefresh time.Duration
	// AdminEmail and AdminPassword name the first admin at first start.
	AdminEmail, AdminPassword string
	// PollInterval is how often the server looks for changes made by other
	// processes; default DefaultPollInterval, so they apply within a
	// second.
	PollInterval time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests (and for
	// running tasks); default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// AuditFlushInterval is how often coalesced denied-token events are
	// written; default DefaultAuditFlushInterval.
	AuditFlushInterval time.Duration
	// LastUseFlushInterval is how often token last use and source
	// addresses are written; default DefaultLastUseFlushInterval.
	LastUseFlushInterval time.Duration
	// TokenSweepInterval is how often unused tokens are revoked under
	// kilnTokenInactivityDays and ending tokens announced to webhooks;
	// default DefaultTokenSweepInterval.
	TokenSweepInterval time.Duration
	// PruneInterval is how often finished runs past kilnRunRetentionDays
	// (with their log files and attempt directories) and change notices
	// older than ChangeRetention are pruned; default DefaultPruneInterval.
	PruneInterval time.Duration
	// ChangeRetention is how long change notices are kept; default
	// service.DefaultChangeRetention. A replica stopped for longer
	// reloads its whole state when it comes back.
	ChangeRetention time.Duration
	// Clock replaces the clock of the store, the token index and the
	// service, all three (tests move it to age tokens and runs); nil is
	// time.Now.
	Clock func() time.Time
	// TrustedProxies lists the load balancers and reverse proxies (CIDRs or
	// addresses) whose X-Forwarded-For kiln believes, so that throttling
	// and the audit log see clients rather than the proxy.
	TrustedProxies []string
	// AuthFailureRate and AuthFailureBurst throttle clients that keep
	// presenting bad credentials: each address may fail AuthFailureBurst
	// times, refilled at AuthFailureRate per second, before getting 429s.
	// Defaults DefaultAuthFailureRate and DefaultAuthFailureBurst; a
	// negative burst turns the throttle off.
	AuthFailureRate  float64
	AuthFailureBurst int
	// WrapStore, when set, decorates the opened store (tests count writes
	// through it).
	WrapStore func(kiln.Store) kiln.Store
	// Log receives structured logs; default discards.
	Log *slog.Logger
	// SessionClock replaces the clock of console sessions (tests move it
	// to expire them); nil is time.Now.
	SessionClock func() time.Time
	// MaxConcurrentRuns is how many task runs this server executes at
	// once; default DefaultMaxConcurrentRuns. Other runs wait, QUEUED, in
	// the store.
	MaxConcurrentRuns int
	// MaxQueuedRunsPerUser is how many runs one owner may have waiting to
	// start (QUEUED or PENDING); further run-now and runs/submit requests
	// get 429 RESOURCE_EXHAUSTED until some start. 0 means the default,
	// DefaultMaxQueuedRunsPerUser; negative, no limit.
	MaxQueuedRunsPerUser int
	// DBFSQuotaPerUser bounds the bytes of the DBFS files and open
	// uploads of one principal, DBFSQuota those of the whole workspace;
	// a write that would go over is refused with 400 QUOTA_EXCEEDED. 0 or
	// negative: no bound.
	DBFSQuotaPerUser, DBFSQuota int64
	// Runner, when set, adjusts the executor's configuration (tests use
	// it for short leases and grace periods).
	Runner func(*runner.Config)
	// MetricsAddr, host:port, serves GET /metrics (Prometheus) on a
	// listener of its own, without authentication: bind it where only the
	// monitoring system reaches.
	MetricsAddr string
	// MetricsToken, at least 16 bytes, serves GET /metrics on the public
	// listener too, to requests with "Authorization: Bearer <token>".
	// Without either, there are no metrics (and /metrics is a 404).
	MetricsToken string
	// Webhook, when set, adjusts the webhook deliverer's configuration
	// (tests use it for short timeouts and backoff).
	Webhook func(*webhook.Config)
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
	// default DefaultTaskMaxOutput.
	TaskMaxOutput int64
	// TaskPython is the interpreter tasks run; default the first of
	// python3 on PATH, /usr/bin/python3 and /usr/local/bin/python3 that
	// the task user can execute.
	TaskPython string
	// SSO signs people in to the console through the company's OpenID
	// Connect provider; an empty Issuer offers no single sign-on.
	SSO SSOConfig
	// PasswordLogin says who may sign in to the console with a password:
	// all (the default), admins (the break-glass way in beside single
	// sign-on) or none. Anything but all needs SSO.
	PasswordLogin string
	// TaskLease is how long a task's lease lasts without renewal (default
	// DefaultTaskLease): a replica that dies mid-run has its tasks retried or ended as
	// INTERNAL_ERROR by the others within about TaskLease plus a sixth of
	// it (the sweep interval).
	TaskLease time.Duration
}

// SSOConfig configures console sign-in through an OpenID Connect
// provider (package sso). The provider must know kiln as a client whose
// redirect URI is BaseURL + console.SSOCallbackPath.
type SSOConfig struct {
	// Issuer is the provider's issuer URL (https; http only on loopback).
	Issuer string
	// ClientID and ClientSecret are kiln's registration at the provider;
	// an empty secret makes kiln a public client (PKCE only).
	ClientID, ClientSecret string
	// Scopes to request; empty means openid, email and profile.
	Scopes []string
	// EmailClaim and GroupsClaim name the claims holding the email (the
	// kiln userName) and the group names; defaults "email" and "groups".
	EmailClaim, GroupsClaim string
	// Label names the provider on the sign-in button ("Okta").
	Label string
	// CreateUsers makes kiln users for people it does not know; SyncGroups
	// makes a person's groups those the groups claim names, through
	// GroupMap (provider group name to kiln group name).
	CreateUsers, SyncGroups bool
	GroupMap                map[string]string
}

// defaults fills each zero field with its Default constant.
func (c *Config) defaults() {
	orDefault(&c.Addr, DefaultAddr)
	orDefault(&c.DataDir, DefaultDataDir)
	orDefault(&c.PollInterval, DefaultPollInterval)
	orDefault(&c.ShutdownTimeout, DefaultShutdownTimeout)
	orDefault(&c.AuthFailureRate, DefaultAuthFailureRate)
	orDefault(&c.AuthFailureBurst, DefaultAuthFailureBurst)
	orDefault(&c.AuditFlushInterval, DefaultAuditFlushInterval)
	orDefault(&c.LastUseFlushInterval, DefaultLastUseFlushInterval)
	orDefault(&c.TokenSweepInterval, DefaultTokenSweepInterval)
	orDefault(&c.PruneInterval, DefaultPruneInterval)
	orDefault(&c.ChangeRetention, service.DefaultChangeRetention)
	orDefault(&c.MaxConcurrentRuns, DefaultMaxConcurrentRuns)
	orDefault(&c.MaxQueuedRunsPerUser, DefaultMaxQueuedRunsPerUser)
	orDefault(&c.TaskLease, DefaultTaskLease)
	orDefault(&c.TaskMaxOutput, DefaultTaskMaxOutput)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// orDefault sets *v to d when *v is its type's zero value.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate reports everything wrong with the configuration at once, as a
// *ConfigError naming each problem and the flag or variable that fixes
// it; nil when the configuration can start a server. It checks what can
// be checked without touching the disk or the network: New and OpenParts
// call it first, so that nothing is created for a configuration that
// cannot work.
func (c *Config) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if (c.TLSCert == "") != (c.TLSKey == "") {
		add("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither")
	}
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			add("--addr %q is not host:port (such as 127.0.0.1:8080)", c.Addr)
		}
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			add("--base-url %q must be an http:// or https:// URL of this server, such as https://kiln.example.com, without credentials, query or fragment", c.BaseURL)
		}
	}
	if _, err := clientip.New(c.TrustedProxies); err != nil {
		add("--trusted-proxies: %v", err)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			add("--metrics-addr %q is not host:port (such as 127.0.0.1:9090)", c.MetricsAddr)
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		add("the metrics token (--metrics-token-file, KILN_METRICS_TOKEN) must be at least 16 characters; it is %d", len(c.MetricsToken))
	}
	p = append(p, c.sharedStoreProblems()...)
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"--unknown-token-refresh", c.UnknownTokenRefresh}, {"the poll interval", c.PollInterval},
		{"--shutdown-timeout", c.ShutdownTimeout}, {"the audit flush interval", c.AuditFlushInterval},
		{"the last-use flush interval", c.LastUseFlushInterval}, {"the token sweep interval", c.TokenSweepInterval},
		{"--task-lease", c.TaskLease}, {"the prune interval", c.PruneInterval}, {"--change-retention", c.ChangeRetention},
	} {
		if d.v < 0 {
			add("%s is %v; it must not be negative", d.flag, d.v)
		}
	}
	if c.TaskLease > 0 && c.TaskLease < time.Second {
		add("--task-lease is %v; it must be at least 1s, so that a lease is renewed before it lapses", c.TaskLease)
	}
	if c.AuthFailureRate < 0 {
		add("--auth-failure-rate is %v; it must not be negative", c.AuthFailureRate)
	}
	if c.MaxConcurrentRuns < 0 {
		add("--max-concurrent-runs is %d; it must be at least 1", c.MaxConcurrentRuns)
	}
	if c.TaskMaxOutput < 0 {
		add("--task-max-output must be positive")
	}
	p = append(p, c.ssoProblems()...)
	switch c.KeepTaskDirs {
	case "", runner.KeepNone, runner.KeepFailed, runner.KeepAll:
	default:
		add(`--keep-task-dirs is %q; use "none", "failed" or "all"`, c.KeepTaskDirs)
	}
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Problems: p}
}

// ssoProblems checks the single sign-on settings.
func (c *Config) ssoProblems() []string {
	var p []string
	switch service.PasswordLogin(c.PasswordLogin) {
	case "", service.PasswordLoginAll:
	case service.PasswordLoginAdmins, service.PasswordLoginNone:
		if c.SSO.Issuer == "" {
			p = append(p, fmt.Sprintf("--password-login %s needs single sign-on (--oidc-issuer): otherwise nobody could sign in to the console", c.PasswordLogin))
		}
	default:
		p = append(p, fmt.Sprintf(`--password-login is %q; use "all", "admins" or "none"`, c.PasswordLogin))
	}
	if c.SSO.Issuer == "" {
		if c.SSO.ClientID != "" || c.SSO.ClientSecret != "" || c.SSO.CreateUsers || c.SSO.SyncGroups {
			p = append(p, "the --oidc-… settings need --oidc-issuer, the identity provider's issuer URL")
		}
		return p
	}
	if err := (sso.Config{Issuer: c.SSO.Issuer, ClientID: c.SSO.ClientID}).Validate(); err != nil {
		flags := strings.NewReplacer("the issuer", "--oidc-issuer", "the client id", "--oidc-client-id")
		for _, line := range strings.Split(err.Error(), "\n") {
			p = append(p, "single sign-on: "+flags.Replace(line))
		}
	}
	if c.BaseURL == "" {
		p = append(p, "single sign-on needs --base-url: the identity provider sends people back to <base-url>"+console.SSOCallbackPath+", which is registered with it")
	}
	return p
}

// ConfigError is a configuration that cannot start a server: each of
// Problems names one thing to change.
type ConfigError struct {
	Problems []string
}

// Error lists the problems, one per line after the first.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return "the configuration has " + strconv.Itoa(len(e.Problems)) + " problems:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// DatabasePath is the SQLite file inside a data directory.
func DatabasePath(dataDir string) string { return filepath.Join(dataDir, "kiln.db") }

// KeyPath is the token key file inside a data directory.
func KeyPath(dataDir string) string { return filepath.Join(dataDir, "token.key") }

// SecretsKeyPath is the secrets key file inside a data directory.
func SecretsKeyPath(dataDir string) string { return filepath.Join(dataDir, "secrets.key") }

// DBFSPath is where kiln before DBFS moved into the store kept the DBFS
// tree inside a data directory; a server moves what it finds there into
// the store at start and renames it dbfs.migrated.
func DBFSPath(dataDir string) string { return filepath.Join(dataDir, "dbfs") }

// sharedStoreProblems refuses a PostgreSQL configuration without shared
// keys: each replica would otherwise make its own key files and refuse
// (or, on a first start, split) the workspace. The fingerprints recorded
// in the database then catch keys that are given but differ.
func (c *Config) sharedStoreProblems() []string {
	if c.DatabaseURL == "" {
		if c.NoAPI {
			// On SQLite the node would share the serving process's data
			// directory, and so its executor identity.
			return []string{"--no-api needs --database-url: executor-only nodes share a PostgreSQL store with the replicas that serve the API"}
		}
		return nil
	}
	if !sqlstore.IsPostgresURL(c.DatabaseURL) {
		return []string{"--database-url must be a postgres:// or postgresql:// URL"}
	}
	var missing []string
	if c.TokenKey == "" {
		missing = append(missing, "KILN_TOKEN_KEY_FILE (or KILN_TOKEN_KEY)")
	}
	if c.SecretsKey == "" {
		missing = append(missing, "KILN_SECRETS_KEY_FILE (or KILN_SECRETS_KEY)")
	}
	if len(missing) > 0 {
		return []string{fmt.Sprintf("with --database-url every replica must use the same keys, so kiln will not make its own per data directory: set %s to a file holding the shared key (64 hex characters, such as the output of: od -An -tx1 -N32 /dev/urandom | tr -d ' \\n')",
			strings.Join(missing, " and "))}
	}
	return nil
}
