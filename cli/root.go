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
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	// ExitUsage: the command line itself is wrong.
	ExitUsage = 2
)

// Version is set at build time with -ldflags "-X github.com/kiln-dev/kiln/cli.Version=…".
var Version = "dev"

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
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.Contains(err.Error(), "flag needs an argument") || strings.Contains(err.Error(), "arg(s)") || strings.HasPrefix(err.Error(), "invalid argument") {
		return ExitUsage
	}
	return ExitError
}

// NewRoot returns the root command.
func NewRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "kiln",
		Short:         "kiln: a self-hosted workspace server that speaks the Databricks REST API",
		Long:          "kiln serves personal access tokens, workspace settings and identities over the Databricks REST API.\nEvery flag has a KILN_* environment variable (for example --data-dir and KILN_DATA_DIR); a flag wins over its variable.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(stdio), newAdminCmd(stdio))
	return root
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
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
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
