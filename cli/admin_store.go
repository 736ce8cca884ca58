package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
	"github.com/kiln-dev/kiln/sqlstore"
)

// registerDatabaseURL adds --database-url, which KILN_DATABASE_URL fills
// through bindEnv; resolveDatabaseURL adds the _FILE variant.
func registerDatabaseURL(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "database-url", "", "PostgreSQL URL (postgres://user@host/db) of a store shared by several replicas; default: SQLite in the data directory. Prefer KILN_DATABASE_URL_FILE for a URL holding a password")
}

// resolveDatabaseURL returns the database URL from the flag (or
// KILN_DATABASE_URL, which bindEnv has put there), else from the file
// KILN_DATABASE_URL_FILE names. A URL may hold a password, so the file
// variant keeps it out of the process list and the environment.
func resolveDatabaseURL(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	return secretFromEnv("KILN_DATABASE_URL")
}

// storeDSN is the store an admin command works on: the database URL, or
// the SQLite file in the data directory.
func (a *adminEnv) storeDSN() (string, error) {
	u, err := resolveDatabaseURL(a.databaseURL)
	if err != nil {
		return "", err
	}
	if u != "" {
		if !sqlstore.IsPostgresURL(u) {
			return "", usageError{errString("--database-url must be a postgres:// or postgresql:// URL")}
		}
		return u, nil
	}
	return server.DatabasePath(a.dataDir), nil
}

// signalContext ends on SIGINT or SIGTERM, so a long copy stops cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

// describeDSN names a store for messages without its password.
func describeDSN(dsn string) string {
	if sqlstore.IsPostgresURL(dsn) {
		return "PostgreSQL " + redactURL(dsn)
	}
	return "SQLite " + dsn
}

func (a *adminEnv) migrateCmd() *cobra.Command {
	var status bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the store's schema up to date, or show its migrations",
		Long: `Apply the schema migrations this kiln embeds that the store lacks, and exit.

kiln serve applies them itself at start (on PostgreSQL under a lock, so that
replicas starting together migrate once); run this ahead of a rollout to
migrate while the old version still serves, then roll the replicas. With
--status nothing changes: each migration is listed as applied (with when)
or pending.`,
		Example: `  kiln admin migrate --status
  KILN_DATABASE_URL_FILE=/etc/kiln/db-url kiln admin migrate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			dsn, err := a.storeDSN()
			if err != nil {
				return err
			}
			if !sqlstore.IsPostgresURL(dsn) {
				// On PostgreSQL, migrating a new, empty database ahead of
				// the first start is what this command is for.
				if err := server.CheckDataDir(a.dataDir, true); err != nil {
					return err
				}
			}
			ctx, stop := signalContext()
			defer stop()
			states, err := sqlstore.Status(ctx, dsn)
			if err != nil {
				return err
			}
			var pending []sqlstore.MigrationState
			for _, m := range states {
				if m.Applied.IsZero() {
					pending = append(pending, m)
				}
			}
			if status {
				for _, m := range states {
					when := "pending"
					if !m.Applied.IsZero() {
						when = "applied " + m.Applied.Format(time.RFC3339)
					}
					fmt.Fprintf(a.stdio.Out, "%04d  %-32s  %s\n", m.Version, m.Name, when)
				}
				fmt.Fprintf(a.stdio.Err, "%s: %d of %d pending.\n", describeDSN(dsn), len(pending), len(states))
				return nil
			}
			s, err := sqlstore.Open(ctx, dsn)
			if err != nil {
				return err
			}
			defer s.Close()
			for _, m := range pending {
				fmt.Fprintf(a.stdio.Out, "applied %s\n", m.Name)
			}
			if len(pending) == 0 {
				fmt.Fprintf(a.stdio.Err, "%s is up to date.\n", describeDSN(dsn))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&status, "status", false, "list the migrations and whether each is applied; change nothing")
	return cmd
}

func (a *adminEnv) backupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the SQLite database, while kiln runs",
		Long: `Write a consistent online copy of the data directory's SQLite database to FILE
(which must not exist), while kiln serves: the copy is one committed state of
the database (SQLite's VACUUM INTO), compact, mode 0600.

A backup is useless without the keys: keep token.key and secrets.key (or the
files KILN_TOKEN_KEY_FILE and KILN_SECRETS_KEY_FILE name) with it, stored
apart from it. For PostgreSQL use pg_dump (see the README).`,
		Example: `  kiln admin backup /backups/kiln-$(date +%F).db`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			dsn, err := a.storeDSN()
			if err != nil {
				return err
			}
			if sqlstore.IsPostgresURL(dsn) {
				return errString("the store is PostgreSQL: back it up with pg_dump (see the README)")
			}
			if err := server.CheckDataDir(a.dataDir, true); err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			if err := sqlstore.BackupSQLite(ctx, dsn, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdio.Err, "Backed up %s to %s. Keep the data directory's token.key and secrets.key with it.\n", dsn, args[0])
			return nil
		},
	}
}

func (a *adminEnv) restoreCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the SQLite database with a backup (kiln must be stopped)",
		Long: `Replace the data directory's SQLite database with the backup FILE, after
checking it (SQLite's integrity check, and migrations this kiln knows).

Stop kiln first: restore refuses while any process has the database open. The
database it replaces is kept beside it as kiln.db.before-restore-<time>. The
backup's keys must be the data directory's (or those KILN_TOKEN_KEY_FILE and
KILN_SECRETS_KEY_FILE name): kiln refuses to start with other keys.`,
		Example: `  kiln admin restore /backups/kiln-2025-06-01.db`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			dsn, err := a.storeDSN()
			if err != nil {
				return err
			}
			if sqlstore.IsPostgresURL(dsn) {
				return errString("the store is PostgreSQL: restore it with pg_restore (see the README)")
			}
			// The directory must exist, with the backup's keys in it (or
			// given by KILN_*_KEY_FILE); kiln.db need not.
			if err := server.CheckDataDir(a.dataDir, false); err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			kept, err := sqlstore.RestoreSQLite(ctx, args[0], dsn)
			if err != nil {
				return err
			}
			if kept != "" {
				fmt.Fprintf(a.stdio.Err, "The previous database is kept as %s.\n", kept)
			}
			fmt.Fprintf(a.stdio.Err, "Restored %s from %s.\n", dsn, args[0])
			return nil
		},
	}
}

func (a *adminEnv) migrateStoreCmd() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate-store --from sqlite:PATH --to postgres://…",
		Short: "Copy a SQLite store into a new PostgreSQL database",
		Long: `Copy everything in a SQLite store (a data directory or its kiln.db) into an
empty PostgreSQL database, to move a single-node install to PostgreSQL and
several replicas.

Stop kiln first. The copy holds SQLite's write lock while it reads, so a
forgotten running kiln cannot commit anything the copy would miss, and writes
PostgreSQL in one transaction, which it commits only after every table's row
count and content digest read back from PostgreSQL match SQLite's: a failure
leaves the PostgreSQL database as it was. Afterwards start the replicas with
--database-url and the data directory's keys (KILN_TOKEN_KEY_FILE and
KILN_SECRETS_KEY_FILE pointing at its token.key and secrets.key).`,
		Example: `  kiln admin migrate-store --from sqlite:/var/lib/kiln --to postgres://kiln@db.internal/kiln
  KILN_DATABASE_URL_FILE=/etc/kiln/db-url kiln admin migrate-store --from sqlite:./kiln-data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			src := strings.TrimPrefix(from, "sqlite:")
			if src == "" {
				return usageError{errString("--from sqlite:PATH is required (a data directory or a kiln.db file)")}
			}
			if fi, err := os.Stat(src); err != nil {
				return fmt.Errorf("--from: %w", err)
			} else if fi.IsDir() {
				src = server.DatabasePath(src)
				if _, err := os.Stat(src); err != nil {
					return fmt.Errorf("--from: %w", err)
				}
			}
			dst := to
			if dst == "" {
				var err error
				if dst, err = resolveDatabaseURL(a.databaseURL); err != nil {
					return err
				}
			}
			if !sqlstore.IsPostgresURL(dst) {
				return usageError{errString("--to must be a postgres:// or postgresql:// URL (or set KILN_DATABASE_URL[_FILE])")}
			}
			ctx, stop := signalContext()
			defer stop()
			s, err := sqlstore.Open(ctx, src)
			if err != nil {
				return fmt.Errorf("opening %s: %w", src, err)
			}
			defer s.Close()
			d, err := sqlstore.Open(ctx, dst)
			if err != nil {
				return fmt.Errorf("opening %s: %w", redactURL(dst), err)
			}
			defer d.Close()
			report, err := sqlstore.CopyToPostgres(ctx, s, d)
			if err != nil {
				return err
			}
			var total int64
			for _, tc := range report {
				fmt.Fprintf(a.stdio.Out, "%-20s %8d rows  sha256 %s\n", tc.Table, tc.Rows, tc.Digest[:16])
				total += tc.Rows
			}
			dir := filepath.Dir(src)
			fmt.Fprintf(a.stdio.Err, "Copied %d rows in %d tables to %s; every count and digest verified.\n", total, len(report), redactURL(dst))
			fmt.Fprintf(a.stdio.Err, "Start every replica with --database-url and KILN_TOKEN_KEY_FILE=%s, KILN_SECRETS_KEY_FILE=%s (or copies of those files).\n",
				server.KeyPath(dir), server.SecretsKeyPath(dir))
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the SQLite store: sqlite:DATA_DIR or sqlite:PATH/kiln.db (required)")
	cmd.Flags().StringVar(&to, "to", "", "the PostgreSQL database, new and empty: postgres://… (default: --database-url / KILN_DATABASE_URL[_FILE])")
	return cmd
}

// redactURL hides a URL's password.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return s[:i+3] + rest[:colon] + ":xxxxx" + rest[at:]
			}
		}
	}
	return s
}

// compactor is what kiln admin vacuum needs of the store beyond
// kiln.Store; both sqlstore dialects have it.
type compactor interface {
	Vacuum(ctx context.Context) error
	Size(ctx context.Context) (int64, error)
}

func (a *adminEnv) vacuumCmd() *cobra.Command {
	var (
		taskDir         string
		changeRetention time.Duration
	)
	cmd := &cobra.Command{
		Use:   "vacuum",
		Short: "Prune what is past its retention now, and give the space back",
		Long: `Do at once what every kiln server does each hour, then compact the database:

  - delete the finished runs that ended more than kilnRunRetentionDays ago
    (default 60; 0 keeps them forever), with their task runs, outputs,
    repairs and task values; active runs are never touched;
  - delete change notices older than --change-retention (a replica stopped
    for longer reloads its whole state when it comes back);
  - remove the log files (DATA_DIR/runs) and kept attempt directories
    (--task-dir) of runs that no longer exist;
  - VACUUM the database: on SQLite the file is rewritten compactly (it needs
    as much free disk as the file and holds the write lock meanwhile); on
    PostgreSQL VACUUM (ANALYZE) makes the space reusable.

It may run while kiln serves. It prints what it removed and the database
size before and after.`,
		Example: `  kiln admin vacuum
  kiln admin conf set kilnRunRetentionDays=14 && kiln admin vacuum`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, p *server.Parts) error {
				c, ok := p.Store.(compactor)
				if !ok {
					return errString("this store cannot be vacuumed")
				}
				before, err := c.Size(ctx)
				if err != nil {
					return err
				}
				pruned, err := p.Service.Prune(ctx, changeRetention)
				if err != nil {
					return err
				}
				dir := taskDir
				if dir == "" {
					dir = runner.DefaultTaskDir(a.dataDir)
				}
				files, err := runner.RemoveOrphanFiles(ctx, p.Store, a.dataDir, dir)
				if err != nil {
					return err
				}
				if err := c.Vacuum(ctx); err != nil {
					return err
				}
				after, err := c.Size(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdio.Out, "Removed %d finished runs, %d change notices and the files of %d runs.\nDatabase size: %s before, %s after.\n",
					pruned.Runs, pruned.Changes, files, humanBytes(before), humanBytes(after))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&taskDir, "task-dir", "", "the attempt directories' parent, as kiln serve --task-dir (default: beside the data directory)")
	cmd.Flags().DurationVar(&changeRetention, "change-retention", service.DefaultChangeRetention, "delete change notices older than this")
	return cmd
}

// humanBytes renders n bytes in binary units, one decimal.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
