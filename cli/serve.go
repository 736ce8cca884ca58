package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/sandbox"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
)

func newServeCmd(stdio IO) *cobra.Command {
	var (
		cfg            server.Config
		logs           logFlags
		tasks          taskFlags
		oidcSecretFile string
		// No DBFS quota unless one is set.
		dbfsQuotaPerUser, dbfsQuota = sizeValue(-1), sizeValue(-1)
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the kiln server",
		Long: `Run the kiln server: the Databricks-compatible REST API, the web console
(/login) and the job executor, on one address.

The first start initialises the data directory: a workspace, the groups admins
and users, and a first admin (KILN_ADMIN_EMAIL / KILN_ADMIN_PASSWORD, or
admin@kiln.local with a generated password printed once to the log).
Personal access tokens start disabled; enable them with
"kiln admin conf set enableTokensConfig=true".

Secrets come from the environment only: KILN_ADMIN_PASSWORD (or
KILN_ADMIN_PASSWORD_FILE), KILN_TOKEN_KEY (or KILN_TOKEN_KEY_FILE; by
default the key is the file token.key in the data directory) and
KILN_SECRETS_KEY (or KILN_SECRETS_KEY_FILE; by default secrets.key), and
KILN_METRICS_TOKEN (or KILN_METRICS_TOKEN_FILE), which serves GET /metrics
on the main listener to that bearer token (--metrics-addr serves them on a
listener of their own).

Several replicas: with --database-url (or KILN_DATABASE_URL[_FILE]) the store
is a PostgreSQL database that any number of replicas share behind a load
balancer. The keys must then be the same on every replica and come from
KILN_TOKEN_KEY_FILE and KILN_SECRETS_KEY_FILE; the database records their
fingerprints and a replica with other keys refuses to start. --no-api makes
an executor-only node, which runs jobs from the shared queue.

Job tasks run confined (--task-sandbox=on, the default): as an unprivileged
user (--task-user, nobody when kiln is root) in namespaces of their own,
under a Landlock ruleset that closes the data directory, /proc and every
other task, with limits (--task-memory, --task-processes, ...). Where the
kernel cannot confine them, kiln runs no task and says why.`,
		Example: `  kiln serve
  kiln serve --addr 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --base-url https://kiln.example.com
  KILN_DATA_DIR=/var/lib/kiln KILN_LOG_FORMAT=json kiln serve
  KILN_DATABASE_URL_FILE=/etc/kiln/db-url KILN_TOKEN_KEY_FILE=/etc/kiln/token.key KILN_SECRETS_KEY_FILE=/etc/kiln/secrets.key kiln serve --addr 127.0.0.1:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			if err := tasks.apply(&cfg); err != nil {
				return err
			}
			cfg.DBFSQuotaPerUser, cfg.DBFSQuota = int64(dbfsQuotaPerUser), int64(dbfsQuota)
			log, err := logs.logger(stdio.Err)
			if err != nil {
				return err
			}
			cfg.Log = log
			if cfg.AdminPassword, err = secretFromEnv("KILN_ADMIN_PASSWORD"); err != nil {
				return err
			}
			if cfg.TokenKey, err = secretFromEnv("KILN_TOKEN_KEY"); err != nil {
				return err
			}
			if cfg.SecretsKey, err = secretFromEnv("KILN_SECRETS_KEY"); err != nil {
				return err
			}
			if cfg.MetricsToken, err = secretFromEnv("KILN_METRICS_TOKEN"); err != nil {
				return err
			}
			if cfg.DatabaseURL, err = resolveDatabaseURL(cfg.DatabaseURL); err != nil {
				return err
			}
			if cfg.SSO.ClientSecret, err = oidcClientSecret(oidcSecretFile); err != nil {
				return err
			}
			// Read: now gone from the environment, and the process closed
			// to the job tasks it starts.
			if err := sandbox.HardenServer("KILN_ADMIN_PASSWORD", "KILN_TOKEN_KEY", "KILN_SECRETS_KEY", "KILN_DATABASE_URL", "KILN_METRICS_TOKEN", "KILN_OIDC_CLIENT_SECRET"); err != nil {
				log.Warn("could not fully protect the server process", "err", err)
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			srv, err := server.New(ctx, cfg)
			if err != nil {
				return err
			}
			if err := srv.Listen(); err != nil {
				srv.Store.Close()
				return listenError(cfg.Addr, err)
			}
			if err := srv.Serve(ctx); err != nil {
				return err
			}
			// The last line, so that whoever watches the log (an operator,
			// a supervisor, a script waiting on a restart) knows the
			// shutdown finished and every buffer reached the store.
			log.Info("kiln stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", server.DefaultAddr, "address to listen on")
	f.StringVar(&cfg.DataDir, "data-dir", server.DefaultDataDir, "directory holding the SQLite database (and with it DBFS), token.key, secrets.key and the servers' refresh sockets")
	f.StringVar(&cfg.BaseURL, "base-url", "", "public URL of this server, used in links (default: the listener address each connection reached; the Host header is never trusted)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate file (PEM); serves HTTPS with --tls-key")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	registerDatabaseURL(f, &cfg.DatabaseURL)
	f.DurationVar(&cfg.UnknownTokenRefresh, "unknown-token-refresh", server.DefaultUnknownTokenRefresh, "how often at most to re-read the store on meeting an unknown token, so that one just created by another replica or process works at once; 0 turns it off")
	f.StringVar(&cfg.AdminEmail, "admin-email", "", "first admin's email, used only when initialising (default admin@kiln.local)")
	f.DurationVar(&cfg.ChangeRetention, "change-retention", service.DefaultChangeRetention, "how long change notices are kept for replicas to catch up (a replica stopped longer reloads its whole state)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "how long to wait for in-flight requests on SIGINT/SIGTERM")
	f.StringSliceVar(&cfg.TrustedProxies, "trusted-proxies", nil, "load balancers or reverse proxies (CIDRs or addresses, comma-separated) whose X-Forwarded-For names the client")
	f.Float64Var(&cfg.AuthFailureRate, "auth-failure-rate", server.DefaultAuthFailureRate, "failed authentications per second allowed per client address, after the burst")
	f.IntVar(&cfg.AuthFailureBurst, "auth-failure-burst", server.DefaultAuthFailureBurst, "failed authentications a client address may make before being slowed down with 429s; -1 turns the throttle off")
	f.IntVar(&cfg.MaxConcurrentRuns, "max-concurrent-runs", server.DefaultMaxConcurrentRuns, "how many job task runs this server executes at once; the others wait, QUEUED")
	f.IntVar(&cfg.MaxQueuedRunsPerUser, "max-queued-runs-per-user", server.DefaultMaxQueuedRunsPerUser, "how many runs one user may have waiting to start; more are refused with 429 RESOURCE_EXHAUSTED (-1: no limit)")
	f.Var(&dbfsQuotaPerUser, "dbfs-quota-per-user", "bytes of DBFS one user or service principal may take, files and open uploads (e.g. 10GiB); writes over it get 400 QUOTA_EXCEEDED (-1: no limit)")
	f.Var(&dbfsQuota, "dbfs-quota", "bytes of DBFS the whole workspace may take (e.g. 500GiB); writes over it get 400 QUOTA_EXCEEDED (-1: no limit)")
	f.BoolVar(&cfg.NoAPI, "no-api", false, "executor-only node (with --database-url): execute runs from the shared store; serve only /healthz and /readyz")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics on a listener of their own, such as 127.0.0.1:9090 (KILN_METRICS_TOKEN[_FILE] serves them on the main listener too, behind that bearer token)")
	f.DurationVar(&cfg.TaskLease, "task-lease", server.DefaultTaskLease, "how long a running task's lease lasts unless renewed: the tasks of a server that died are retried or failed by the others after about this long")
	f.StringVar(&cfg.SSO.Issuer, "oidc-issuer", "", "single sign-on: the OpenID Connect provider's issuer URL, such as https://login.example.com (needs --base-url; register <base-url>/login/sso/callback with the provider)")
	f.StringVar(&cfg.SSO.ClientID, "oidc-client-id", "", "single sign-on: kiln's client id at the provider")
	f.StringVar(&oidcSecretFile, "oidc-client-secret-file", "", "single sign-on: file holding kiln's client secret at the provider (or KILN_OIDC_CLIENT_SECRET); none makes kiln a public client")
	f.StringSliceVar(&cfg.SSO.Scopes, "oidc-scopes", nil, "single sign-on: scopes to request (default openid,email,profile; add groups where the provider needs it)")
	f.StringVar(&cfg.SSO.EmailClaim, "oidc-email-claim", "", "single sign-on: the claim holding the email, the kiln user name (default email)")
	f.StringVar(&cfg.SSO.GroupsClaim, "oidc-groups-claim", "", "single sign-on: the claim holding group names (default groups)")
	f.StringVar(&cfg.SSO.Label, "oidc-label", "", "single sign-on: the provider's name on the sign-in button, as in Sign in with Okta")
	f.BoolVar(&cfg.SSO.CreateUsers, "oidc-create-users", false, "single sign-on: create a kiln user at the first sign-in of someone kiln does not know (otherwise an admin adds them first)")
	f.BoolVar(&cfg.SSO.SyncGroups, "oidc-sync-groups", false, "single sign-on: at each sign-in make the user's kiln groups those the groups claim names (kiln groups of those names only)")
	f.StringToStringVar(&cfg.SSO.GroupMap, "oidc-group-map", nil, "single sign-on: provider group to kiln group, such as kiln-admins=admins (comma-separated)")
	f.StringVar(&cfg.PasswordLogin, "password-login", "all", "who may sign in to the console with a password: all, admins (the break-glass way in beside single sign-on) or none")
	tasks.register(f, &cfg)
	logs.register(f)
	return cmd
}

// oidcClientSecret reads the client secret from the file the flag names,
// else from KILN_OIDC_CLIENT_SECRET[_FILE].
func oidcClientSecret(file string) (string, error) {
	if file == "" {
		return secretFromEnv("KILN_OIDC_CLIENT_SECRET")
	}
	return readSecretFile("--oidc-client-secret-file", file)
}

// listenError names the flag that fixes a listen failure: the address is
// taken (another kiln, or anything else, listens there) or not ours to
// bind (a port below 1024 without privileges, an address of another host).
func listenError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: the address is already in use (is another kiln running?); stop it, or choose another address with --addr (or KILN_ADDR), such as --addr 127.0.0.1:8081", addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot listen on %s: permission denied (ports below 1024 need privileges); choose another address with --addr (or KILN_ADDR), such as --addr 127.0.0.1:8080", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: no network interface of this machine has that address; choose another with --addr (or KILN_ADDR), such as --addr 127.0.0.1:8080 or --addr 0.0.0.0:8080", addr)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("cannot listen on %s (--addr): %w", addr, err)
	}
	return err // not the address: the TLS certificate, say
}

// errString is an error that is just its message.
type errString string

// Error returns the message.
func (e errString) Error() string { return string(e) }
