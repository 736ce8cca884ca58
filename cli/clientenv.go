package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/client"
	"github.com/kiln-dev/kiln/internal/buildinfo"
)

// The error classes of the client commands; Run maps each to an exit code.
type (
	// authError: no usable credentials (the token was refused, or none is
	// configured).
	authError struct{ error }
	// notFoundError: the named object does not exist.
	notFoundError struct{ error }
	// permissionError: the caller is known but not allowed.
	permissionError struct{ error }
)

// clientEnv is the state the client commands share: the global flags, the
// resolved configuration and the token memo.
type clientEnv struct {
	stdio   IO
	profile string
	output  string
	cfg     *client.Config
	memo    *tokenMemo
	now     func() time.Time
	// getenv reads the environment; nil means os.Getenv.
	getenv func(string) string
}

func newClientEnv(stdio IO) *clientEnv {
	return &clientEnv{stdio: stdio, memo: newTokenMemo(), now: time.Now}
}

// addFlags registers --profile and --output on a top-level client command,
// for it and every subcommand.
func (e *clientEnv) addFlags(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVarP(&e.profile, "profile", "p", "", "profile of ~/.databrickscfg to use (default: $DATABRICKS_CONFIG_PROFILE, else DEFAULT)")
	pf.StringVarP(&e.output, "output", "o", outputTable, "output format: table or json")
	cmd.RegisterFlagCompletionFunc("profile", completeProfiles)
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{outputTable, outputJSON}, cobra.ShellCompDirectiveNoFileComp))
}

// completeProfiles offers the profiles of the profile file.
func completeProfiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	path, err := client.ConfigFilePath(client.LoadOptions{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names, _ := client.Profiles(path)
	return names, cobra.ShellCompDirectiveNoFileComp
}

// printer returns the printer for the command's output.
func (e *clientEnv) printer() *printer { return newPrinter(e.stdio.Out, e.output, e.now()) }

// run wraps a client command: it checks the flags, resolves the
// configuration, builds the client, runs fn with a context that ends on
// Ctrl-C, and explains fn's error.
func (e *clientEnv) run(fn func(ctx context.Context, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := e.client()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return e.explain(fn(ctx, c, args))
	}
}

// client resolves the configuration and returns a client for it.
func (e *clientEnv) client() (*client.Client, error) {
	if e.output != outputTable && e.output != outputJSON {
		return nil, usageError{fmt.Errorf("--output must be table or json, not %q", e.output)}
	}
	cfg, err := client.LoadConfig(client.LoadOptions{Profile: e.profile, Getenv: e.getenv})
	if err != nil {
		return nil, err
	}
	e.cfg = cfg
	return client.New(cfg, client.WithUserAgent("kiln-cli/"+buildinfo.Read().Token()), client.WithExpiryWarning(e.warnExpiry))
}

// warnExpiry tells, on standard error, that the configured token ends
// soon, and how to replace it without downtime.
func (e *clientEnv) warnExpiry(at time.Time) {
	fmt.Fprintf(e.stdio.Err, "Warning: %s expires %s (%s). Rotate it with `kiln tokens rotate current` and save the new value with `kiln configure --token`.\n",
		e.tokenName(), relative(at, e.now()), at.Local().Format(time.RFC1123))
}

// tokenName names the configured token in messages.
func (e *clientEnv) tokenName() string {
	if e.cfg == nil {
		return "the token"
	}
	return "the token of " + e.cfg.TokenOrigin()
}

// remedy is what to do about a token that no longer works.
const remedy = "create a new one with `kiln tokens create` (or in the console) and save it with `kiln configure --token`"

// explain turns a client error into one line that says what went wrong
// and what to do, in the error class that decides the exit code.
func (e *clientEnv) explain(err error) error {
	var api *client.APIError
	if err == nil || !errors.As(err, &api) {
		return err
	}
	switch {
	case api.StatusCode == http.StatusUnauthorized && e.cfg != nil && e.cfg.AuthType == client.AuthTypeU2M,
		api.IsInvalidToken() && e.cfg != nil && e.cfg.AuthType == client.AuthTypeU2M:
		// An OAuth sign-in that no longer works is mended by signing in
		// again, not by a personal access token.
		return authError{fmt.Errorf("%s did not accept %s (%s): run `kiln auth login --profile %s`", e.hostName(), e.tokenName(), strings.TrimSpace(api.Message), e.cfg.Profile)}
	case api.StatusCode == http.StatusUnauthorized:
		return authError{fmt.Errorf("%s did not accept the credential (%s): run `kiln configure --token`", e.hostName(), strings.TrimSpace(api.Message))}
	case api.IsInvalidToken() && api.TokensDisabled:
		// A new token would be refused too: only an admin can help, and
		// not with a token (theirs is refused as well).
		return authError{fmt.Errorf("%s was refused because personal access tokens are disabled workspace-wide on %s: no token works until a workspace admin enables them, "+
			"in the web console (Admin Console > Access Control > Personal Access Tokens > Enable) or on the server with `kiln admin conf set enableTokensConfig=true`; the token works again then", e.tokenName(), e.hostName())}
	case api.IsInvalidToken():
		return authError{e.explainRejectedToken()}
	case api.IsPermissionDenied():
		msg := strings.TrimSpace(api.Message)
		if strings.Contains(msg, "permission to use tokens") {
			msg += " Ask a workspace admin to grant you CAN_USE on tokens (kiln token-management permissions set)."
		}
		return permissionError{fmt.Errorf("permission denied: %s", msg)}
	case api.IsUnknownEndpoint():
		return fmt.Errorf("%s does not serve %s %s: is it a kiln server, of this version or later?", e.hostName(), api.Method, api.Path)
	case api.IsNotFound():
		return notFoundError{errors.New(strings.TrimSpace(api.Message))}
	case api.StatusCode == http.StatusTooManyRequests:
		wait := "later"
		if api.RetryAfter > 0 {
			wait = "in " + plural(int(api.RetryAfter/time.Second), "second")
		}
		return fmt.Errorf("%s is refusing requests for now (%s): retry %s", e.hostName(), strings.TrimSpace(api.Message), wait)
	case api.StatusCode >= 500:
		id := ""
		if api.RequestID != "" {
			id = ", request id " + api.RequestID
		}
		return fmt.Errorf("the server failed: %s (HTTP %d%s); check the server's log", strings.TrimSpace(api.Message), api.StatusCode, id)
	default:
		return errors.New(strings.TrimSpace(api.Message))
	}
}

// explainRejectedToken says why the token was probably refused: the
// memo knows when tokens the CLI has seen expire.
func (e *clientEnv) explainRejectedToken() error {
	now := e.now()
	if e.cfg != nil {
		if m, ok := e.memo.lookup(e.cfg.Token); ok {
			info := client.TokenInfo{TokenID: m.TokenID, ExpiryTime: m.ExpiryTime}
			if exp, ok := info.Expires(); ok && !exp.After(now) {
				return fmt.Errorf("%s expired %s: %s", e.tokenName(), relative(exp, now), remedy)
			}
			return fmt.Errorf("%s was refused (Invalid access token.): it was revoked, its owner deactivated, or tokens disabled; %s", e.tokenName(), remedy)
		}
	}
	return fmt.Errorf("%s was refused (Invalid access token.): it is expired, revoked or mistyped, or tokens are disabled; %s", e.tokenName(), remedy)
}

func (e *clientEnv) hostName() string {
	if e.cfg == nil {
		return "the server"
	}
	return e.cfg.Host
}

// learnCurrentToken asks the server which token the client uses and
// remembers its expiry. It returns nil when the server cannot say (not
// kiln, or an older kiln).
func (e *clientEnv) learnCurrentToken(ctx context.Context, c *client.Client) (*client.TokenInfo, error) {
	info, err := c.CurrentToken(ctx)
	var api *client.APIError
	if errors.As(err, &api) && api.IsUnknownEndpoint() {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e.memo.remember(e.cfg.Token, e.cfg.Host, info, e.now())
	return info, nil
}
