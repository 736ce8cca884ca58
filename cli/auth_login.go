package cli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/kiln-dev/kiln/client"
)

// loginOptions are the flags of kiln auth login.
type loginOptions struct {
	host      string
	noBrowser bool
	timeout   time.Duration
}

func (e *clientEnv) authLoginCmd() *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in through the browser with OAuth and save the sign-in in a profile",
		Long: `Sign in as yourself through the browser (OAuth authorization code with PKCE,
the flow of databricks auth login), and save the profile with
auth_type = databricks-cli in ~/.databrickscfg (or $DATABRICKS_CONFIG_FILE).

kiln listens on a free port of 127.0.0.1 for the answer, opens the sign-in page
in your browser (or only prints its address with --no-browser, to open it
yourself), and waits for you to sign in to the console and Allow. The tokens go
to the token cache the Databricks CLI keeps, ~/.databricks/token-cache.json
(mode 0600), keyed by the profile and the host: kiln and the Databricks CLI
and SDKs each use a sign-in the other made. Every later command refreshes the
one-hour access token when it is about to expire; a sign-in ends when you
revoke it (User Settings > Apps), an admin deactivates you, or it reaches its
end, and then asks you to run kiln auth login again.`,
		Example: `  kiln auth login --host https://kiln.example.com
  kiln auth login --host http://127.0.0.1:8080 --profile local --no-browser`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return e.login(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "the server's URL (default: the profile's host, else $DATABRICKS_HOST)")
	f.BoolVar(&o.noBrowser, "no-browser", false, "print the sign-in address instead of opening a browser")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the sign-in in the browser")
	return cmd
}

// login runs kiln auth login.
func (e *clientEnv) login(ctx context.Context, o loginOptions) error {
	getenv := e.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	profile := e.profile
	if profile == "" {
		profile = getenv(client.EnvProfile)
	}
	if profile == "" {
		profile = client.DefaultProfile
	}
	lo := client.LoadOptions{Profile: profile, Getenv: getenv}
	cfgPath, err := client.ConfigFilePath(lo)
	if err != nil {
		return err
	}
	existing, err := client.ProfileValues(cfgPath, profile)
	if err != nil {
		return err
	}
	host := o.host
	if host == "" {
		host = existing["host"]
	}
	if host == "" {
		host = getenv(client.EnvHost)
	}
	if host == "" {
		return usageError{errors.New("--host is required: the profile has no host and DATABRICKS_HOST is not set")}
	}
	if host, err = client.NormalizeHost(host); err != nil {
		return usageError{err}
	}
	cfg := &client.Config{Host: host, SkipVerify: existing["skip_verify"] == "true"}

	tok, err := e.browserSignIn(ctx, cfg, o)
	if err != nil {
		return err
	}
	cachePath, err := client.TokenCachePath(lo)
	if err != nil {
		return err
	}
	if err := client.StoreToken(cachePath, tok, profile, host); err != nil {
		return err
	}
	if err := client.WriteOAuthProfile(cfgPath, profile, host); err != nil {
		return err
	}
	e.profile = profile
	c, err := e.client()
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return e.explain(err)
	}
	fmt.Fprintf(e.stdio.Err, "Signed in as %s on %s; saved profile %q in %s.\n", me.Principal.Login(), host, profile, client.DisplayPath(cfgPath))
	return nil
}

// browserSignIn runs the authorization code flow with PKCE against the
// server at cfg.Host: a listener on 127.0.0.1 takes the one answer whose
// state matches, and the code is exchanged for tokens.
func (e *clientEnv) browserSignIn(ctx context.Context, cfg *client.Config, o loginOptions) (*oauth2.Token, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1 for the sign-in's answer: %w", err)
	}
	defer ln.Close()
	oc := client.OAuthConfig(cfg.Host)
	oc.RedirectURL = fmt.Sprintf("http://%s", ln.Addr())
	verifier := oauth2.GenerateVerifier()
	state := randomState()
	authURL := oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	answers := make(chan callback, 1)
	srv := &http.Server{Handler: callbackHandler(state, answers), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		// Shutdown lets the page of the answer finish; Close is the
		// backstop for a browser that keeps the connection.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()

	fmt.Fprintf(e.stdio.Err, "Sign in to %s in your browser, at:\n\n  %s\n\n", cfg.Host, authURL)
	if !o.noBrowser {
		if err := openBrowser(authURL); err != nil {
			fmt.Fprintf(e.stdio.Err, "Could not open a browser (%v): open the address above yourself.\n", err)
		}
	}
	fmt.Fprintf(e.stdio.Err, "Waiting for the sign-in (up to %s; Ctrl-C to stop)...\n", o.timeout)

	timer := time.NewTimer(o.timeout)
	defer timer.Stop()
	var cb callback
	select {
	case cb = <-answers:
	case <-timer.C:
		return nil, authError{fmt.Errorf("no sign-in within %s: run kiln auth login again (--timeout waits longer)", o.timeout)}
	case <-ctx.Done():
		return nil, errors.New("sign-in stopped")
	}
	if cb.err != "" {
		return nil, authError{fmt.Errorf("the sign-in was refused (%s)", cb.err)}
	}
	xctx := context.WithValue(ctx, oauth2.HTTPClient, cfg.HTTPClient())
	tok, err := oc.Exchange(xctx, cb.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, authError{fmt.Errorf("%s did not exchange the sign-in for tokens: %w", cfg.Host, err)}
	}
	return tok, nil
}

// callback is the browser's answer on the loopback listener: a code, or
// the error the server sent (access_denied when you chose Deny).
type callback struct{ code, err string }

// callbackHandler takes the first answer that carries state (compared in
// constant time: anyone on this computer can reach the port) and refuses
// the rest.
func callbackHandler(state string, answers chan<- callback) http.Handler {
	var taken atomic.Bool // answers has room for the one answer taken
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			w.WriteHeader(http.StatusBadRequest)
			callbackPage.Execute(w, "This answer does not belong to the sign-in kiln auth login is waiting for. Nothing was saved.")
			return
		}
		cb := callback{code: q.Get("code"), err: q.Get("error")}
		if cb.code == "" && cb.err == "" {
			cb.err = "the answer carried neither a code nor an error"
		}
		if !taken.CompareAndSwap(false, true) {
			w.WriteHeader(http.StatusConflict)
			callbackPage.Execute(w, "kiln auth login already has its answer. Nothing more was saved.")
			return
		}
		msg := "You are signed in: you can close this tab and go back to the terminal."
		if cb.err != "" {
			msg = "The sign-in was refused (" + cb.err + "). You can close this tab."
		}
		// The page is written before the answer is handed on: once it is,
		// kiln auth login stops the listener, and a browser still waiting
		// for the page would see the connection drop.
		callbackPage.Execute(w, msg)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		answers <- cb
	})
}

var callbackPage = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kiln auth login</title></head>
<body><main><h1>kiln auth login</h1><p>{{.}}</p></main></body></html>
`))

// randomState is the state parameter: 32 random bytes, URL-safe.
func randomState() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// openBrowser starts the desktop's browser on u, without waiting for it.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
