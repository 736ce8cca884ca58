package compat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
)

// Fixed identities of every test workspace.
const (
	adminEmail    = "admin@example.com"
	adminPassword = "compat-suite-password-1"
)

// Client limits: short enough that a server answering with a retriable
// status (429, 503) fails a test in seconds instead of the SDK's default
// five minutes, and a rate limit high enough never to slow the suite.
const (
	retryTimeoutSeconds = 5
	httpTimeoutSeconds  = 15
	rateLimitPerSecond  = 10000
)

// kilnEnv is one running kiln server and what a test needs to drive it.
type kilnEnv struct {
	srv *server.Server
	// URL is the server's base URL on loopback.
	URL string
	// WorkspaceID is the numeric workspace id kiln was initialised with.
	WorkspaceID int64
	// Admin is the first admin, and AdminToken a PAT of theirs.
	Admin      *kiln.Principal
	AdminToken string
	// ConfigFile is the (empty) file DATABRICKS_CONFIG_FILE names.
	ConfigFile string
	rec        *recorder
}

// startKiln seals the environment, starts a kiln server on a free loopback
// port with a fresh data directory, enables tokens, mints the admin's
// first token, and stops the server when the test ends. At the end it
// also fails the test for every response outside 2xx that the test did
// not announce with expectAPIError.
func startKiln(t *testing.T) *kilnEnv {
	t.Helper()
	cfgFile := isolateEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(),
		AdminEmail: adminEmail, AdminPassword: adminPassword,
		ShutdownTimeout: 5 * time.Second,
	})
	if err != nil {
		cancel()
		t.Fatalf("starting kiln: %v", err)
	}
	if err := srv.Listen(); err != nil {
		cancel()
		t.Fatalf("listening: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	env := &kilnEnv{srv: srv, URL: srv.URL(), WorkspaceID: srv.Workspace.ID, ConfigFile: cfgFile, rec: newRecorder()}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("kiln Serve returned: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("kiln did not shut down within 15s")
		}
		env.rec.base.CloseIdleConnections()
		env.rec.check(t)
	})

	if err := srv.Parts.Service.SetConf(env.offline(), map[string]string{kiln.ConfEnableTokens: "true"}); err != nil {
		t.Fatalf("enabling tokens: %v", err)
	}
	env.Admin = env.principal(t, adminEmail)
	env.AdminToken = env.mintToken(t, adminEmail)
	return env
}

// offline is a context carrying kiln's offline-administration caller, for
// setting up fixtures behind the SDK's back.
func (e *kilnEnv) offline() context.Context {
	return kiln.NewContextWithCaller(context.Background(), service.OfflineCaller())
}

// principal looks a principal up by user name (or application id).
func (e *kilnEnv) principal(t *testing.T, userName string) *kiln.Principal {
	t.Helper()
	p, err := e.srv.Parts.Service.PrincipalByName(e.offline(), userName)
	if err != nil {
		t.Fatalf("looking up %s: %v", userName, err)
	}
	return p
}

// mintToken creates a token for userName with the workspace defaults,
// the way `kiln admin tokens create` does, and returns its value.
func (e *kilnEnv) mintToken(t *testing.T, userName string) string {
	t.Helper()
	nt, err := e.srv.Parts.Service.CreateTokenFor(e.offline(), userName, service.CreateTokenParams{})
	if err != nil {
		t.Fatalf("minting a token for %s: %v", userName, err)
	}
	return nt.Value
}

// createUser creates a non-admin user (in the users group only) through
// the service and returns it with a fresh token of theirs.
func (e *kilnEnv) createUser(t *testing.T, email string) (*kiln.Principal, string) {
	t.Helper()
	p, err := e.srv.Parts.Service.CreatePrincipal(e.offline(), service.NewPrincipal{
		Kind: kiln.KindUser, UserName: email, DisplayName: strings.Split(email, "@")[0],
	})
	if err != nil {
		t.Fatalf("creating user %s: %v", email, err)
	}
	return p, e.mintToken(t, email)
}

// setConf changes workspace settings offline (used where the SDK cannot,
// e.g. to switch tokens back on once they are off).
func (e *kilnEnv) setConf(t *testing.T, kv map[string]string) {
	t.Helper()
	if err := e.srv.Parts.Service.SetConf(e.offline(), kv); err != nil {
		t.Fatalf("setting %v: %v", kv, err)
	}
}

// client returns an SDK workspace client that authenticates with token.
// Only the explicit fields below configure it: the environment was sealed
// by isolateEnv.
func (e *kilnEnv) client(t *testing.T, token string) *databricks.WorkspaceClient {
	t.Helper()
	return e.clientFrom(t, &databricks.Config{Host: e.URL, Token: token, Credentials: config.PatCredentials{}})
}

// clientFrom builds a workspace client from cfg after adding the suite's
// transport (the recorder) and its short timeouts and retry budget.
func (e *kilnEnv) clientFrom(t *testing.T, cfg *databricks.Config) *databricks.WorkspaceClient {
	t.Helper()
	cfg.HTTPTransport = e.rec
	cfg.RetryTimeoutSeconds = retryTimeoutSeconds
	cfg.HTTPTimeoutSeconds = httpTimeoutSeconds
	cfg.RateLimitPerSecond = rateLimitPerSecond
	w, err := databricks.NewWorkspaceClient(cfg)
	if err != nil {
		t.Fatalf("building a workspace client: %v", err)
	}
	return w
}

// adminClient returns a client authenticated as the first admin.
func (e *kilnEnv) adminClient(t *testing.T) *databricks.WorkspaceClient {
	return e.client(t, e.AdminToken)
}

// expectAPIError runs call, during which the server may answer with a 4xx
// status (other than the retriable 429); it fails the test if call
// succeeds or fails in any other way, and returns the SDK's *APIError for
// the caller's own assertions.
func (e *kilnEnv) expectAPIError(t *testing.T, call func() error) *apierr.APIError {
	t.Helper()
	mark := e.rec.beginExpected()
	err := call()
	e.rec.endExpected()
	if err == nil {
		t.Fatalf("expected an API error, the call succeeded")
	}
	for _, x := range e.rec.since(mark) {
		if x.Err != nil || x.Status >= 500 || x.Status == http.StatusTooManyRequests || (x.Status >= 300 && x.Status < 400) {
			t.Errorf("while expecting a client error: %s", x)
		}
	}
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("expected an *apierr.APIError, got %T: %v", err, err)
	}
	return apiErr
}

// expectIs asserts that err matches every target with errors.Is.
func expectIs(t *testing.T, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
}

// must fails the test on err.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// idString renders a principal id as SCIM does.
func idString(id int64) string { return strconv.FormatInt(id, 10) }

// isolateEnv clears every environment variable the SDK reads (all
// DATABRICKS_* variables and every variable a config attribute names, such
// as ARM_CLIENT_ID or GOOGLE_CREDENTIALS), and points HOME and
// DATABRICKS_CONFIG_FILE at an empty temporary directory and file, so no
// setting of the machine running the tests reaches a client. t.Setenv
// restores everything when the test ends.
func isolateEnv(t *testing.T) (configFile string) {
	t.Helper()
	names := map[string]bool{}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "DATABRICKS_") {
			names[name] = true
		}
	}
	for _, attr := range config.ConfigAttributes {
		for _, name := range attr.EnvVars {
			names[name] = true
		}
	}
	for name := range names {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	home := t.TempDir()
	cfgFile := filepath.Join(home, ".databrickscfg")
	if err := os.WriteFile(cfgFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("DATABRICKS_CONFIG_FILE", cfgFile)
	return cfgFile
}

// exchange is one HTTP request the SDK sent and what came back.
type exchange struct {
	Method, Path, Query string
	Status              int
	Err                 error
	// Authorized says whether the request carried an Authorization header.
	Authorized bool
	// WorkspaceHeader is the X-Databricks-Workspace-Id the SDK sent.
	WorkspaceHeader string
	// Expected marks requests made inside expectAPIError.
	Expected bool
}

func (x exchange) String() string {
	if x.Err != nil {
		return fmt.Sprintf("%s %s: transport error: %v", x.Method, x.Path, x.Err)
	}
	return fmt.Sprintf("%s %s?%s -> %d", x.Method, x.Path, x.Query, x.Status)
}

// recorder is the HTTP transport of every client of one server: it passes
// requests to a private copy of the default transport and records them.
type recorder struct {
	base *http.Transport

	mu       sync.Mutex
	log      []exchange
	expected int
}

func newRecorder() *recorder {
	return &recorder{base: http.DefaultTransport.(*http.Transport).Clone()}
}

// RoundTrip implements http.RoundTripper.
func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	x := exchange{
		Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Err: err,
		Authorized:      req.Header.Get("Authorization") != "",
		WorkspaceHeader: req.Header.Get("X-Databricks-Workspace-Id"),
	}
	if resp != nil {
		x.Status = resp.StatusCode
	}
	r.mu.Lock()
	x.Expected = r.expected > 0
	r.log = append(r.log, x)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) beginExpected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expected++
	return len(r.log)
}

func (r *recorder) endExpected() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expected--
}

// since returns the exchanges recorded after mark.
func (r *recorder) since(mark int) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.log[mark:]...)
}

// all returns every exchange recorded so far.
func (r *recorder) all() []exchange { return r.since(0) }

// find returns the exchanges with the given method and path.
func (r *recorder) find(method, path string) []exchange {
	var out []exchange
	for _, x := range r.all() {
		if x.Method == method && x.Path == path {
			out = append(out, x)
		}
	}
	return out
}

// check fails t for every unannounced response outside 2xx and every
// transport error, and logs a summary of the endpoints used.
func (r *recorder) check(t *testing.T) {
	t.Helper()
	seen := map[string]int{}
	for _, x := range r.all() {
		seen[x.Method+" "+x.Path]++
		if x.Expected {
			continue
		}
		if x.Err != nil || x.Status < 200 || x.Status >= 300 {
			t.Errorf("unexpected response: %s", x)
		}
	}
	t.Logf("%d requests to %d distinct method+path pairs", len(r.all()), len(seen))
}
