// Package cli is the kiln command line: `kiln serve` runs the server,
// `kiln admin` administers a data directory offline, and the client
// commands talk to a running kiln (or Databricks) with Databricks-style
// profiles.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kiln-dev/kiln/client"
	"github.com/kiln-dev/kiln/internal/buildinfo"
)

// Exit codes. Run is the one place that maps errors to them.
const (
	ExitOK = 0
	// ExitError: the request failed: the server refused or failed, could
	// not be reached, or is not a kiln server.
	ExitError = 1
	// ExitUsage: the command line itself is wrong.
	ExitUsage = 2
	// ExitAuth: no usable credentials: the profile file is missing,
	// unreadable or malformed, the profile, host or token is missing or
	// invalid, or the server refused the token (401, or 403 "Invalid
	// access token.": expired, revoked, unknown).
	ExitAuth = 3
	// ExitNotFound: the named object does not exist.
	ExitNotFound = 4
	// ExitPermission: the token works but may not do this (403), such as a
	// non-admin on an admin command.
	ExitPermission = 5
	// ExitRunFailed: a run the command waited for (--wait, runs logs
	// --follow) or showed (runs output) did not succeed: it ended FAILED,
	// TIMEDOUT, CANCELED, INTERNAL_ERROR or SKIPPED.
	ExitRunFailed = 6
)

// IO is where a command reads and writes; tests replace it.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// usageError marks errors in the command line.
type usageError struct{ error }

// Run executes the kiln command line with args and returns the exit code.
func Run(args []string, stdio IO) int {
	root := NewRoot(stdio)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stdio.Err, "Error:", err)
	return exitCode(err)
}

// exitCode classifies an error.
func exitCode(err error) int {
	var (
		ue  usageError
		ae  authError
		nf  notFoundError
		pe  permissionError
		rf  runFailedError
		ce  *client.ConfigError
		api *client.APIError
	)
	switch {
	case errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.HasPrefix(err.Error(), "unknown shorthand flag") ||
		strings.Contains(err.Error(), "flag needs an argument") || strings.Contains(err.Error(), "arg(s)") || strings.HasPrefix(err.Error(), "invalid argument"):
		return ExitUsage
	case errors.As(err, &ae), errors.As(err, &ce):
		return ExitAuth
	case errors.As(err, &nf):
		return ExitNotFound
	case errors.As(err, &pe):
		return ExitPermission
	case errors.As(err, &rf):
		return ExitRunFailed
	case errors.As(err, &api):
		switch {
		case api.IsInvalidToken():
			return ExitAuth
		case api.IsPermissionDenied():
			return ExitPermission
		case api.IsNotFound():
			return ExitNotFound
		}
	}
	return ExitError
}

// NewRoot returns the root command.
func NewRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "kiln",
		Short: "kiln: a self-hosted workspace server that speaks the Databricks REST API",
		Long: `kiln serves personal access tokens, workspace settings, identities, the workspace
tree, jobs and runs over the Databricks REST API.

Server and admin commands: every flag has a KILN_* environment variable (for
example --data-dir and KILN_DATA_DIR); a flag wins over its variable.

Client commands talk to a running kiln the way the Databricks CLI does: the
profiles of ~/.databrickscfg (kiln configure --token writes one), --profile or
DATABRICKS_CONFIG_PROFILE, and DATABRICKS_HOST and DATABRICKS_TOKEN, which win
over the file.

Exit codes: 0 success, 1 the request failed (server error or refusal,
unreachable host, TLS error, not a kiln server), 2 usage error, 3
authentication (no usable profile, host or token, or the token was refused), 4
not found, 5 permission denied, 6 the run did not succeed (a run followed with
--wait or runs logs --follow, or shown by runs output, ended FAILED, TIMEDOUT,
CANCELED, INTERNAL_ERROR or SKIPPED).`,
		Example: `  kiln serve --data-dir /var/lib/kiln
  kiln configure --token --host http://127.0.0.1:8080
  kiln auth describe
  kiln tokens create --comment "CI pipeline" --lifetime 90d
  kiln runs submit --notebook /Shared/etl --param day=2024-01-02 --wait`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Read().String(),
	}
	root.SetVersionTemplate("kiln {{.Version}}\n")
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(stdio), newAdminCmd(stdio))
	ce := newClientEnv(stdio)
	root.AddCommand(newConfigureCmd(stdio), ce.authCmd(), ce.currentUserCmd(), ce.tokensCmd(), ce.tokenManagementCmd(),
		ce.workspaceConfCmd(), ce.usersCmd(), ce.servicePrincipalsCmd(), ce.auditCmd(),
		ce.workspaceCmd(), ce.jobsCmd(), ce.runsCmd(), newCompletionCmd(stdio))
	root.CompletionOptions.DisableDefaultCmd = true
	fillGroupExamples(root)
	rejectUnknownSubcommands(root)
	return root
}

// rejectUnknownSubcommands makes every group command (one with
// subcommands and nothing to run itself) print its help when called alone
// and fail with a usage error on an unknown subcommand; cobra would print
// the help and exit 0 for a typo.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if cmd == cmd.Root() || !cmd.HasSubCommands() || cmd.Run != nil || cmd.RunE != nil {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %q?)", s[0])
		}
		return usageError{errors.New(msg + "; see --help")}
	}
}

// fillGroupExamples gives every command that only groups subcommands and
// has no example of its own the first example of each subcommand, so that
// --help shows an example everywhere.
func fillGroupExamples(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		fillGroupExamples(sub)
	}
	if cmd.Example != "" || !cmd.HasSubCommands() {
		return
	}
	var lines []string
	for _, sub := range cmd.Commands() {
		if first, _, _ := strings.Cut(sub.Example, "\n"); first != "" && len(lines) < 4 {
			lines = append(lines, first)
		}
	}
	cmd.Example = strings.Join(lines, "\n")
}

// bindEnv fills every flag not given on the command line from its KILN_*
// variable: flags win over the environment, which wins over defaults.
func bindEnv(flags *pflag.FlagSet) error {
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "KILN_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := f.Value.Set(v); serr != nil {
				err = usageError{fmt.Errorf("%s: %v", name, serr)}
			}
		}
	})
	return err
}

// secretFromEnv reads a secret from NAME, or from the file named by
// NAME_FILE (trailing newline removed).
func secretFromEnv(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	path := os.Getenv(name + "_FILE")
	if path == "" {
		return "", nil
	}
	return readSecretFile(name+"_FILE", path)
}

// readSecretFile reads the secret in the file at path, which the setting
// named what gave, without its trailing newline.
func readSecretFile(what, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// logFlags are the logging options shared by serve and admin.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level must be debug, info, warn or error, not %q", l.level)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageError{fmt.Errorf("--log-format must be text or json, not %q", l.format)}
	}
}
