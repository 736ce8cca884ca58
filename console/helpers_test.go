package console_test

import (
	"github.com/kiln-dev/kiln/console"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
)

// testClock is the console's clock in tests: real time plus an offset the
// test moves forward to age sessions.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// env is a running kiln with the console mounted, over loopback.
type env struct {
	*kilntest.Env
	console *console.Console
	clock   *testClock
	admin   *kiln.Principal
	// client sends requests without following redirects and without a
	// cookie jar: tests pass cookies explicitly.
	client *http.Client
}

func startEnv(t *testing.T, opts ...kilntest.Option) *env {
	t.Helper()
	e := &env{clock: &testClock{}}
	opts = append(opts, kilntest.WithConfig(func(c *server.Config) { c.SessionClock = e.clock.Now }))
	e.Env = kilntest.Start(t, opts...)
	e.console = e.Srv.Console
	e.client = e.Env.Client
	admin, err := e.Svc().PrincipalByName(kilntest.Offline(), kilntest.AdminEmail)
	if err != nil {
		t.Fatal(err)
	}
	e.admin = admin
	return e
}

// sessionFor mints a session cookie for p as if p had just signed in.
func (e *env) sessionFor(p *kiln.Principal) *http.Cookie {
	now := e.clock.Now()
	return &http.Cookie{Name: console.SessionCookie, Value: e.console.MintSession(p.ID, now)}
}

// newUser creates a user without a password (no argon2 cost); tests sign
// it in with sessionFor.
func (e *env) newUser(t *testing.T, email string) *kiln.Principal {
	t.Helper()
	p, err := e.Svc().CreatePrincipal(kilntest.Offline(), service.NewPrincipal{Kind: kiln.KindUser, UserName: email})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type response struct {
	Status int
	Header http.Header
	Body   string
}

// request sends one request to the console. form, when not nil, is
// posted as a urlencoded body.
func (e *env) request(t *testing.T, method, path string, form url.Values, ck *http.Cookie, hdr ...string) response {
	t.Helper()
	if form == nil {
		return e.send(t, method, path, nil, "", ck, hdr...)
	}
	return e.send(t, method, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", ck, hdr...)
}

// send sends one request to the console with body of contentType (none
// when empty), the session cookie ck when not nil and the header pairs
// hdr, and reads the whole answer.
func (e *env) send(t *testing.T, method, path string, body io.Reader, contentType string, ck *http.Cookie, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func (e *env) get(t *testing.T, path string, ck *http.Cookie) response {
	t.Helper()
	return e.request(t, http.MethodGet, path, nil, ck)
}

// getWith sends a GET with several cookies (a session and a flash).
func (e *env) getWith(t *testing.T, path string, cks ...*http.Cookie) response {
	t.Helper()
	var parts []string
	for _, c := range cks {
		if c != nil {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return e.request(t, http.MethodGet, path, nil, nil, "Cookie", strings.Join(parts, "; "))
}

func (e *env) post(t *testing.T, path string, form url.Values, ck *http.Cookie) response {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return e.request(t, http.MethodPost, path, form, ck)
}

// liveTokens lists every live token of the workspace.
func (e *env) liveTokens(t *testing.T) []*kiln.Token {
	t.Helper()
	toks, err := e.Svc().ListTokens(kilntest.Offline(), service.TokenListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// cookieNamed returns the Set-Cookie of the response named name.
func cookieNamed(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page does not contain %q", w)
		}
	}
}

func mustNotContain(t *testing.T, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("page contains %q, and should not", b)
		}
	}
}
