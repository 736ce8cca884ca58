package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
)

// adminEnv opens the data directory for one offline command.
type adminEnv struct {
	dataDir string
	// databaseURL is --database-url: the PostgreSQL store, if any.
	databaseURL string
	logs        logFlags
	stdio       IO
}

func (a *adminEnv) open(cmd *cobra.Command) (*server.Parts, context.Context, error) {
	if err := bindEnv(cmd.Flags()); err != nil {
		return nil, nil, err
	}
	log, err := a.logs.logger(a.stdio.Err)
	if err != nil {
		return nil, nil, err
	}
	key, err := secretFromEnv("KILN_TOKEN_KEY")
	if err != nil {
		return nil, nil, err
	}
	pw, err := secretFromEnv("KILN_ADMIN_PASSWORD")
	if err != nil {
		return nil, nil, err
	}
	secretsKey, err := secretFromEnv("KILN_SECRETS_KEY")
	if err != nil {
		return nil, nil, err
	}
	dbURL, err := resolveDatabaseURL(a.databaseURL)
	if err != nil {
		return nil, nil, err
	}
	ctx := kiln.NewContextWithCaller(context.Background(), service.OfflineCaller())
	p, err := server.OpenParts(ctx, server.Config{DataDir: a.dataDir, DatabaseURL: dbURL, TokenKey: key, SecretsKey: secretsKey, AdminPassword: pw, AdminEmail: os.Getenv("KILN_ADMIN_EMAIL"), Log: log, Offline: true})
	if err != nil {
		return nil, nil, err
	}
	return p, ctx, nil
}

// withStore opens the workspace, runs fn on it and closes it. When fn
// changed the store (a change notice was committed), every server running
// on the data directory is asked to apply the change before the command
// returns, so that the very next request to any of them honours it; on
// PostgreSQL the replicas also learn of it through LISTEN/NOTIFY.
func (a *adminEnv) withStore(cmd *cobra.Command, fn func(ctx context.Context, p *server.Parts) error) error {
	p, ctx, err := a.open(cmd)
	if err != nil {
		return err
	}
	before, err := p.Store.LastChange(ctx)
	if err != nil {
		before = -1 // unknown: ask the servers anyway
	}
	fnErr := fn(ctx, p)
	after, err := p.Store.LastChange(ctx)
	p.Store.Close()
	if err != nil || after != before {
		a.refreshServers(ctx)
	}
	return fnErr
}

// refreshServers asks the servers on the data directory to apply what
// this command committed, and says which did not confirm it.
func (a *adminEnv) refreshServers(ctx context.Context) {
	rep := server.RefreshServers(ctx, a.dataDir, server.DefaultRefreshTimeout)
	for _, f := range rep.Failed {
		fmt.Fprintf(a.stdio.Err, "Warning: %s did not confirm the change; it applies it within a second by itself.\n", f)
	}
}

func newAdminCmd(stdio IO) *cobra.Command {
	a := &adminEnv{stdio: stdio}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer a kiln data directory offline",
		Long: `Administer a kiln data directory directly, without a token.

These commands work on the data directory, or with --database-url (or
KILN_DATABASE_URL[_FILE], and the shared KILN_TOKEN_KEY_FILE and
KILN_SECRETS_KEY_FILE) on the PostgreSQL database of several replicas, while
servers run: when a command returns, every server on the data directory
already applies its change (PostgreSQL replicas within milliseconds). Run
them as the user that owns the data directory.

They never initialise anything: a data directory (or database) that kiln
serve has not initialised is refused, and nothing is created in it.`,
	}
	cmd.PersistentFlags().StringVar(&a.dataDir, "data-dir", "./kiln-data", "the server's data directory")
	a.logs.register(cmd.PersistentFlags())
	cmd.PersistentFlags().Lookup("log-level").DefValue = "warn"
	cmd.PersistentFlags().Set("log-level", "warn")
	registerDatabaseURL(cmd.PersistentFlags(), &a.databaseURL)
	cmd.AddCommand(a.usersCmd(), a.confCmd(), a.tokensCmd())
	cmd.AddCommand(a.migrateCmd(), a.backupCmd(), a.restoreCmd(), a.migrateStoreCmd(), a.vacuumCmd())
	return cmd
}

func (a *adminEnv) usersCmd() *cobra.Command {
	users := &cobra.Command{Use: "users", Short: "Manage users"}
	var (
		email, displayName string
		admin, pwStdin     bool
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user who can sign in to the console",
		Long: `Create a user. With --password-stdin the password is read from standard input;
otherwise a strong password is generated and printed once on standard output.`,
		Example: `  kiln admin users create --email jane@example.com --admin
  printf '%s' "$PASSWORD" | kiln admin users create --email ci@example.com --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if email == "" {
				return usageError{errString("--email is required")}
			}
			password := ""
			if pwStdin {
				line, err := bufio.NewReader(a.stdio.In).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("reading the password: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
				if password == "" {
					return usageError{errString("--password-stdin: standard input was empty")}
				}
			}
			generated := password == ""
			if generated {
				password = newPassword()
			}
			return a.withStore(cmd, func(ctx context.Context, p *server.Parts) error {
				u, err := p.Service.CreatePrincipal(ctx, service.NewPrincipal{Kind: kiln.KindUser, UserName: email, DisplayName: displayName, Password: password, Admin: admin})
				if err != nil {
					return errorOf(err)
				}
				role := "user"
				if admin {
					role = "admin"
				}
				fmt.Fprintf(a.stdio.Err, "Created %s %s (id %d).\n", role, u.UserName, u.ID)
				if generated {
					fmt.Fprintln(a.stdio.Err, "Initial password (shown once):")
					fmt.Fprintln(a.stdio.Out, password)
				}
				return nil
			})
		},
	}
	create.Flags().StringVar(&email, "email", "", "the user's email address (required)")
	create.Flags().StringVar(&displayName, "display-name", "", "the user's display name")
	create.Flags().BoolVar(&admin, "admin", false, "make the user a workspace admin")
	create.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
	users.AddCommand(create)
	return users
}

func (a *adminEnv) confCmd() *cobra.Command {
	conf := &cobra.Command{Use: "conf", Short: "Read and change workspace settings"}
	set := &cobra.Command{
		Use:     "set KEY=VALUE...",
		Short:   "Change workspace settings (the same validation as the API)",
		Example: "  kiln admin conf set enableTokensConfig=true maxTokenLifetimeDays=90",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kv := map[string]string{}
			for _, arg := range args {
				k, v, ok := strings.Cut(arg, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("%q is not KEY=VALUE", arg)}
				}
				kv[k] = v
			}
			return a.withStore(cmd, func(ctx context.Context, p *server.Parts) error {
				if err := p.Service.SetConf(ctx, kv); err != nil {
					return errorOf(err)
				}
				fmt.Fprintf(a.stdio.Err, "Updated %s.\n", strings.Join(sortedKeys(kv), ", "))
				return nil
			})
		},
	}
	get := &cobra.Command{
		Use:     "get [KEY...]",
		Short:   "Show workspace settings (all known keys by default)",
		Example: "  kiln admin conf get enableTokensConfig",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, p *server.Parts) error {
				if len(args) == 0 {
					args = service.ConfKeys()
				}
				kv, err := p.Service.GetConf(ctx, args)
				if err != nil {
					return errorOf(err)
				}
				for _, k := range sortedKeys(kv) {
					fmt.Fprintf(a.stdio.Out, "%s=%s\n", k, kv[k])
				}
				return nil
			})
		},
	}
	conf.AddCommand(set, get)
	return conf
}

func (a *adminEnv) tokensCmd() *cobra.Command {
	tokens := &cobra.Command{Use: "tokens", Short: "Create and revoke personal access tokens"}
	var user, comment, lifetime string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token for a user; prints only the token on standard output",
		Long: `Create a personal access token for a user or service principal, under the same
policy as the API (tokens enabled, CAN_USE, lifetime cap, quota). Only the token
is printed on standard output, so it can be captured: TOKEN=$(kiln admin tokens create ...).`,
		Example: `  kiln admin tokens create --user admin@kiln.local --comment "REST API" --lifetime 90d`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if user == "" {
				return usageError{errString("--user is required")}
			}
			params := service.CreateTokenParams{Comment: comment}
			if lifetime != "" {
				d, err := service.ParseLifetime(lifetime)
				if err != nil {
					return usageError{fmt.Errorf("--lifetime: %v", err)}
				}
				params.Lifetime = &d
			}
			return a.withStore(cmd, func(ctx context.Context, p *server.Parts) error {
				nt, err := p.Service.CreateTokenFor(ctx, user, params)
				if err != nil {
					return errorOf(err)
				}
				fmt.Fprintf(a.stdio.Err, "Created token %s for %s, expires %s.\n", nt.Info.ID, nt.Info.OwnerName, nt.Info.Expires.Format(time.RFC3339))
				fmt.Fprintln(a.stdio.Out, nt.Value)
				return nil
			})
		},
	}
	create.Flags().StringVar(&user, "user", "", "user name (email) or service principal application id that will own the token (required)")
	create.Flags().StringVar(&comment, "comment", "", "what the token is for")
	create.Flags().StringVar(&lifetime, "lifetime", "", "lifetime such as 90d, 12h or 3600s (default: the workspace default)")
	revoke := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke a token by id, or by any unique prefix of it",
		Long: `Revoke a token of any user. TOKEN_ID may be any unique prefix of the id, as
"kiln admin tokens list" shows it; a prefix that several live tokens share is
refused, naming how many.`,
		Example: `  kiln admin tokens revoke 5f2c0e3b9d8a
  kiln admin tokens revoke 5f2c0e3b9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, p *server.Parts) error {
				id, err := resolveTokenIDIn(args[0], func() ([]string, error) {
					toks, err := p.Service.ListTokens(ctx, service.TokenListFilter{})
					if err != nil {
						return nil, errorOf(err)
					}
					ids := make([]string, len(toks))
					for i, t := range toks {
						ids[i] = t.ID
					}
					return ids, nil
				})
				if err != nil {
					return err
				}
				if err := p.Service.RevokeToken(ctx, id); err != nil {
					return errorOf(err)
				}
				fmt.Fprintf(a.stdio.Err, "Revoked token %s.\n", id)
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List live tokens",
		Example: "  kiln admin tokens list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, p *server.Parts) error {
				toks, err := p.Service.ListTokens(ctx, service.TokenListFilter{})
				if err != nil {
					return errorOf(err)
				}
				fmt.Fprintf(a.stdio.Out, "%-64s  %-30s  %-20s  %s\n", "ID", "OWNER", "EXPIRES", "COMMENT")
				for _, t := range toks {
					exp := "never"
					if !t.Expires.IsZero() {
						exp = t.Expires.Format("2006-01-02 15:04")
					}
					fmt.Fprintf(a.stdio.Out, "%-64s  %-30s  %-20s  %s\n", t.ID, t.OwnerName, exp, t.Comment)
				}
				return nil
			})
		},
	}
	var revokeFound bool
	lookup := &cobra.Command{
		Use:   "lookup",
		Short: "Find the token a leaked value belongs to (reads the value from stdin)",
		Long: `Find the token a value belongs to, on the data directory: for leak response
while the API cannot be reached. The value is read from standard input and
never stored; --revoke revokes a live token in the same transaction.`,
		Example: `  kiln admin tokens lookup < leaked.txt
  kiln admin tokens lookup --revoke < leaked.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := readSecretLine(a.stdio.In, a.stdio.Err, "Token value to look up")
			if err != nil {
				return usageError{err}
			}
			return a.withStore(cmd, func(ctx context.Context, p *server.Parts) error {
				l, err := p.Service.LookupToken(ctx, value, revokeFound)
				if err != nil {
					return errorOf(err)
				}
				var addrs []string
				for _, ad := range l.Addresses {
					addrs = append(addrs, ad.Addr)
				}
				state := l.State
				if l.RevokedNow {
					state = "revoked now"
				}
				for _, row := range [][2]string{
					{"Token", l.Token.ID}, {"Owner", l.Token.OwnerName}, {"State", state}, {"Comment", l.Token.Comment},
					{"Created", l.Token.Created.Format(time.RFC3339)}, {"Used from", strings.Join(addrs, ", ")},
				} {
					fmt.Fprintf(a.stdio.Out, "%-10s %s\n", row[0]+":", row[1])
				}
				return nil
			})
		},
	}
	lookup.Flags().BoolVar(&revokeFound, "revoke", false, "revoke the token if it is live")
	tokens.AddCommand(create, revoke, list, lookup)
	return tokens
}

// errorOf returns the client-safe message of a service error.
func errorOf(err error) error { return errString(kiln.ErrorMessage(err)) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
