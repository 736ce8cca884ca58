package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kiln-dev/kiln/client"
)

func newConfigureCmd(stdio IO) *cobra.Command {
	var (
		host, profile string
		tokenAuth     bool
	)
	cmd := &cobra.Command{
		Use:   "configure",
		Short: "Save a host and personal access token in a profile of ~/.databrickscfg",
		Long: `Save a host and a personal access token in a profile of ~/.databrickscfg (or
$DATABRICKS_CONFIG_FILE), the file the Databricks CLI and SDKs read, so one
profile serves kiln and the official clients.

On a terminal it asks for the host (default: the profile's current host) and
the token, which is not echoed. Otherwise it reads the token from the first
line of standard input, and the host comes from --host, the profile's current
host, or $DATABRICKS_HOST. The token is never taken from the command line,
where other users of the machine could see it.

The host is an https:// URL, or http:// for a server on this machine or a
trusted network; it has no path. Other profiles and comments in the file are
kept as they are; the file is replaced atomically and has mode 0600. The token
is then checked against the server; a failed check is reported but the
profile stays saved.`,
		Example: `  kiln configure --token
  kiln configure --token --host http://127.0.0.1:8080 --profile local
  echo "$KILN_TOKEN" | kiln configure --token --host https://kiln.example.com --profile ci`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{errors.New("configure takes no arguments: the token is read from the terminal or standard input, never from the command line")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c := configurer{stdio: stdio, now: time.Now}
			return c.run(host, profile)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&tokenAuth, "token", true, "configure personal access token authentication (the only kind kiln has; accepted for compatibility with \"databricks configure --token\")")
	f.StringVar(&host, "host", "", "the server's URL, such as https://kiln.example.com or http://127.0.0.1:8080")
	f.StringVarP(&profile, "profile", "p", "", "profile to write (default: $DATABRICKS_CONFIG_PROFILE, else DEFAULT)")
	cmd.RegisterFlagCompletionFunc("profile", completeProfiles)
	return cmd
}

// configurer runs kiln configure.
type configurer struct {
	stdio IO
	now   func() time.Time
	in    *bufio.Reader
}

func (c *configurer) run(host, profile string) error {
	if profile == "" {
		profile = os.Getenv(client.EnvProfile)
	}
	if profile == "" {
		profile = client.DefaultProfile
	}
	path, err := client.ConfigFilePath(client.LoadOptions{})
	if err != nil {
		return err
	}
	existing, err := client.ProfileValues(path, profile)
	if err != nil {
		var ce *client.ConfigError
		if errors.As(err, &ce) {
			return &client.ConfigError{Msg: ce.Msg + "; nothing was written", Err: err}
		}
		return err
	}
	interactive := isTerminal(c.stdio.In)
	c.in = bufio.NewReader(c.stdio.In)

	defHost := existing["host"]
	if defHost == "" {
		defHost = os.Getenv(client.EnvHost)
	}
	if host == "" {
		switch {
		case interactive:
			if host, err = c.prompt("Host", defHost, "https://kiln.example.com, or http://127.0.0.1:8080 for a local server"); err != nil {
				return err
			}
		case defHost != "":
			host = defHost
		default:
			return usageError{errors.New("--host is required when standard input is not a terminal (standard input holds the token)")}
		}
	}
	normalized, err := client.NormalizeHost(host)
	if err != nil {
		return usageError{err}
	}

	token, err := c.readToken(interactive)
	if err != nil {
		return err
	}
	if err := client.CheckToken(token); err != nil {
		return usageError{fmt.Errorf("the token %s", err.Error())}
	}

	if err := client.WriteProfile(path, profile, normalized, token); err != nil {
		return err
	}
	fmt.Fprintf(c.stdio.Err, "Saved profile %q in %s.\n", profile, client.DisplayPath(path))
	if plainHTTPRemote(normalized) {
		fmt.Fprintf(c.stdio.Err, "Warning: %s is not encrypted, so the token crosses the network in clear text; use https:// unless the network is trusted.\n", normalized)
	}
	c.verify(profile)
	return nil
}

// prompt asks for one line on the terminal, offering a default.
func (c *configurer) prompt(label, def, hint string) (string, error) {
	if def != "" {
		fmt.Fprintf(c.stdio.Err, "%s [%s]: ", label, def)
	} else {
		fmt.Fprintf(c.stdio.Err, "%s (%s): ", label, hint)
	}
	line, err := c.in.ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		return "", usageError{fmt.Errorf("no %s given", strings.ToLower(label))}
	}
	if line = strings.TrimSpace(line); line == "" {
		line = def
	}
	if line == "" {
		return "", usageError{fmt.Errorf("no %s given", strings.ToLower(label))}
	}
	return line, nil
}

// readToken reads the token without echo from a terminal, else one line
// of standard input.
func (c *configurer) readToken(interactive bool) (string, error) {
	if interactive {
		f := c.stdio.In.(*os.File)
		fmt.Fprint(c.stdio.Err, "Personal access token (not shown): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stdio.Err)
		if err != nil {
			return "", fmt.Errorf("reading the token: %w", err)
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
		return "", usageError{errors.New("no token given")}
	}
	line, err := c.in.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the token from standard input: %w", err)
	}
	if t := strings.TrimSpace(line); t != "" {
		return t, nil
	}
	return "", usageError{errors.New("standard input was empty: pipe the token in, as in: echo \"$TOKEN\" | kiln configure --token --host https://kiln.example.com")}
}

// verify checks the saved profile against the server and remembers the
// token's expiry. It only reports: the profile is saved either way.
func (c *configurer) verify(profile string) {
	e := newClientEnv(c.stdio)
	e.profile, e.output, e.now = profile, outputTable, c.now
	// Check what was saved, even where DATABRICKS_HOST or _TOKEN would
	// override it for other commands.
	e.getenv = func(k string) string {
		if k == client.EnvHost || k == client.EnvToken {
			return ""
		}
		return os.Getenv(k)
	}
	cl, err := e.client()
	if err != nil {
		fmt.Fprintf(c.stdio.Err, "Warning: the profile cannot be used yet: %v\n", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	me, err := cl.Me(ctx)
	var info *client.TokenInfo
	if err == nil {
		info, err = e.learnCurrentToken(ctx, cl)
	}
	if err != nil {
		fmt.Fprintf(c.stdio.Err, "Warning: could not check the token: %v\n", e.explain(err))
		return
	}
	msg := "Signed in as " + me.Login()
	if info != nil {
		msg += "; the token " + expirySentence(info, c.now())
	}
	fmt.Fprintln(c.stdio.Err, msg+".")
}

// plainHTTPRemote reports an http:// host that is not on this machine.
func plainHTTPRemote(host string) bool {
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return false
	}
	ip := net.ParseIP(h)
	return ip == nil || !ip.IsLoopback()
}
