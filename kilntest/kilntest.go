// Package kilntest starts real kiln servers for tests: a real SQLite store
// in a temporary directory, the real API on a loopback port, and helpers to
// make users and tokens through the service as offline administration
// does.
package kilntest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
)

// AdminEmail and AdminPassword are the first admin of every test server.
const (
	AdminEmail    = "admin@example.com"
	AdminPassword = "admin-password-123"
)

// Env is a running test server.
type Env struct {
	Srv *server.Server
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// DataDir is the server's data directory.
	DataDir string
	// Client is an HTTP client without retries or redirects.
	Client *http.Client
	cancel context.CancelFunc
	done   chan error
}

// Option adjusts the server configuration.
type Option func(*server.Config)

// WithConfig applies fn to the configuration before the server starts.
func WithConfig(fn func(*server.Config)) Option { return Option(fn) }

// Start runs a kiln server on 127.0.0.1 with a fresh data directory and
// stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	dir := t.TempDir()
	cfg := server.Config{Addr: "127.0.0.1:0", DataDir: dir, AdminEmail: AdminEmail, AdminPassword: AdminPassword, PollInterval: 50 * time.Millisecond, UnknownTokenRefresh: server.DefaultUnknownTokenRefresh}
	for _, o := range opts {
		o(&cfg)
	}
	return StartConfig(t, cfg)
}

// StartConfig runs a kiln server with exactly cfg.
func StartConfig(t testing.TB, cfg server.Config) *Env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("starting kiln: %v", err)
	}
	if err := srv.Listen(); err != nil {
		cancel()
		srv.Store.Close()
		t.Fatalf("listening: %v", err)
	}
	e := &Env{Srv: srv, URL: srv.URL(), DataDir: cfg.DataDir, cancel: cancel, done: make(chan error, 1),
		Client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	go func() { e.done <- srv.Serve(ctx) }()
	t.Cleanup(e.Stop)
	return e
}

// Stop shuts the server down and waits for it; safe to call twice.
func (e *Env) Stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	<-e.done
	e.cancel = nil
}

// Offline returns a context acting as offline administration.
func Offline() context.Context {
	return kiln.NewContextWithCaller(context.Background(), service.OfflineCaller())
}

// Svc returns the server's service.
func (e *Env) Svc() *service.Service { return e.Srv.Service }

// SetConf changes settings as an admin would, failing the test on error.
func (e *Env) SetConf(t testing.TB, kv map[string]string) {
	t.Helper()
	if err := e.Svc().SetConf(Offline(), kv); err != nil {
		t.Fatalf("SetConf(%v): %v", kv, err)
	}
}

// EnableTokens switches personal access tokens on.
func (e *Env) EnableTokens(t testing.TB) {
	e.SetConf(t, map[string]string{kiln.ConfEnableTokens: "true"})
}

// NewUser creates a user with a password.
func (e *Env) NewUser(t testing.TB, email string, admin bool) *kiln.Principal {
	t.Helper()
	p, err := e.Svc().CreatePrincipal(Offline(), service.NewPrincipal{Kind: kiln.KindUser, UserName: email, Password: "user-password-123", Admin: admin})
	if err != nil {
		t.Fatalf("creating user %s: %v", email, err)
	}
	return p
}

// Token mints a token for userName with the given lifetime (0: default).
func (e *Env) Token(t testing.TB, userName string, lifetime time.Duration) string {
	t.Helper()
	return e.NewToken(t, userName, lifetime).Value
}

// NewToken mints a token and returns its value and stored info.
func (e *Env) NewToken(t testing.TB, userName string, lifetime time.Duration) *service.NewToken {
	t.Helper()
	p := service.CreateTokenParams{Comment: "test"}
	if lifetime > 0 {
		p.Lifetime = &lifetime
	}
	nt, err := e.Svc().CreateTokenFor(Offline(), userName, p)
	if err != nil {
		t.Fatalf("creating a token for %s: %v", userName, err)
	}
	return nt
}

// AdminToken enables tokens and returns a token of the first admin.
func (e *Env) AdminToken(t testing.TB) string {
	t.Helper()
	e.EnableTokens(t)
	return e.Token(t, AdminEmail, 0)
}

// Response is a decoded API response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map, failing the test if it is not JSON.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Do sends a request with an optional bearer token and body (a string is
// sent as is, anything else as JSON).
func (e *Env) Do(t testing.TB, method, path, token string, body any) Response {
	t.Helper()
	return e.DoHeaders(t, method, path, body, authHeader(token))
}

func authHeader(token string) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// DoHeaders sends a request with the given headers.
func (e *Env) DoHeaders(t testing.TB, method, path string, body any, h http.Header) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Eventually retries cond every 20ms until it holds or d passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
