package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// login is a kiln auth login in progress: the process, and the sign-in
// address it printed.
type login struct {
	cmd     *exec.Cmd
	authURL *url.URL
	stderr  *bytes.Buffer
	done    chan error
}

// startLogin runs kiln auth login --no-browser for profile and waits for
// the sign-in address on its standard error.
func (f *fixture) startLogin(t *testing.T, profile string) *login {
	t.Helper()
	cmd := exec.Command(kilnBin, "auth", "login", "--host", f.url, "--profile", profile, "--no-browser", "--timeout", "1m")
	cmd.Env = []string{"HOME=" + f.home, "PATH=" + os.Getenv("PATH"), "TZ=UTC"}
	pr, pw := io.Pipe()
	l := &login{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = io.MultiWriter(pw, l.stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { l.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); strings.Contains(line, "/oidc/v1/authorize?") {
				found <- line
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case line := <-found:
		u, err := url.Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		l.authURL = u
	case <-time.After(30 * time.Second):
		t.Fatalf("kiln auth login printed no sign-in address:\n%s", l.stderr)
	}
	return l
}

// wait returns the exit code of kiln auth login.
func (l *login) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-l.done:
		return l.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("kiln auth login did not end:\n%s", l.stderr)
		return -1
	}
}

// browser is the browser step of the sign-in, done over HTTP as a
// browser would: sign in to the console, open the address, answer the
// consent page, and follow the redirect to the CLI's listener.
func (f *fixture) browser(t *testing.T, authURL *url.URL, decision string) *http.Response {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(f.url+"/login", url.Values{"email": {adminEmail}, "password": {"correct horse battery staple"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console sign-in: %d", resp.StatusCode)
	}
	page, err := c.Get(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(body), "Authorize databricks-cli") {
		t.Fatalf("consent page: %d\n%s", page.StatusCode, body)
	}
	form := authURL.Query()
	form.Set("decision", decision)
	resp, err = c.PostForm(f.url+"/oidc/v1/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, form.Get("redirect_uri")) {
		t.Fatalf("consent answer: %d %q", resp.StatusCode, loc)
	}
	back, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	back.Body.Close()
	return back
}

// TestAuthLogin covers kiln auth login end to end against a live kiln:
// the loopback listener, the consent step (done as a browser would), the
// profile and token cache it writes in the Databricks CLI's format, the
// refresh of an expired access token, an ended sign-in, Deny, and an
// answer that does not carry the sign-in's state.
func TestAuthLogin(t *testing.T) {
	f := newFixture(t)
	cache := filepath.Join(f.home, ".databricks", "token-cache.json")
	readCache := func(t *testing.T) map[string]map[string]any {
		t.Helper()
		b, err := os.ReadFile(cache)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Version int                       `json:"version"`
			Tokens  map[string]map[string]any `json:"tokens"`
		}
		if err := json.Unmarshal(b, &c); err != nil || c.Version != 1 {
			t.Fatalf("token cache: %v version %d\n%s", err, c.Version, b)
		}
		return c.Tokens
	}

	t.Run("Allow", func(t *testing.T) {
		l := f.startLogin(t, "oauth")
		q := l.authURL.Query()
		for k, want := range map[string]string{"client_id": "databricks-cli", "code_challenge_method": "S256", "response_type": "code"} {
			if q.Get(k) != want {
				t.Errorf("%s = %q; want %q", k, q.Get(k), want)
			}
		}
		if !strings.HasPrefix(q.Get("redirect_uri"), "http://127.0.0.1:") || len(q.Get("state")) < 32 || q.Get("code_challenge") == "" {
			t.Errorf("sign-in address %s", l.authURL)
		}
		if back := f.browser(t, l.authURL, "allow"); back.StatusCode != 200 {
			t.Errorf("listener answer: %d", back.StatusCode)
		}
		if code := l.wait(t); code != 0 {
			t.Fatalf("exit %d\n%s", code, l.stderr)
		}
		if !strings.Contains(l.stderr.String(), `Signed in as `+adminEmail+` on `+f.url+`; saved profile "oauth"`) {
			t.Errorf("stderr:\n%s", l.stderr)
		}
		cfg, err := os.ReadFile(filepath.Join(f.home, ".databrickscfg"))
		if err != nil {
			t.Fatal(err)
		}
		if s := string(cfg); !strings.Contains(s, "[oauth]") || !strings.Contains(s, "auth_type = databricks-cli") || strings.Contains(s, "token =") {
			t.Errorf(".databrickscfg:\n%s", s)
		}
		if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("token cache mode: %v %v", fi.Mode(), err)
		}
		tokens := readCache(t)
		for _, k := range []string{"oauth", f.url} {
			if tokens[k]["access_token"] == "" || tokens[k]["refresh_token"] == nil {
				t.Errorf("cache entry %q: %v", k, tokens[k])
			}
		}
		check{args: []string{"current-user", "me", "-p", "oauth"}, stdout: []string{adminEmail}}.run(t, f.home)
		check{args: []string{"auth", "describe", "-p", "oauth", "-o", "json"}, json: true,
			stdout: []string{`"auth_type": "databricks-cli"`, `"valid": true`}}.run(t, f.home)
	})

	t.Run("RefreshWhenExpired", func(t *testing.T) {
		tokens := readCache(t)
		old := tokens["oauth"]["access_token"]
		// Age the cached access token: the next command must refresh it.
		tokens["oauth"]["expiry"] = time.Now().Add(-time.Hour).Format(time.RFC3339)
		b, _ := json.Marshal(map[string]any{"version": 1, "tokens": tokens})
		if err := os.WriteFile(cache, b, 0o600); err != nil {
			t.Fatal(err)
		}
		check{args: []string{"current-user", "me", "-p", "oauth"}, stdout: []string{adminEmail}}.run(t, f.home)
		if now := readCache(t)["oauth"]["access_token"]; now == old || now == "" {
			t.Errorf("the access token was not refreshed")
		}
	})

	t.Run("EndedSignIn", func(t *testing.T) {
		admin, err := f.srv.Service.PrincipalByName(f.offline, adminEmail)
		if err != nil {
			t.Fatal(err)
		}
		ctx := kiln.NewContextWithCaller(f.offline, &kiln.Caller{Principal: admin, Method: "session"})
		grants, err := f.srv.Service.OAuthGrants(ctx)
		if err != nil || len(grants) == 0 {
			t.Fatalf("grants: %v %v", grants, err)
		}
		for _, g := range grants {
			if err := f.srv.Service.RevokeOAuthGrant(ctx, g.ID); err != nil {
				t.Fatal(err)
			}
		}
		// Force a refresh, which the ended grant refuses.
		tokens := readCache(t)
		tokens["oauth"]["expiry"] = time.Now().Add(-time.Hour).Format(time.RFC3339)
		b, _ := json.Marshal(map[string]any{"version": 1, "tokens": tokens})
		if err := os.WriteFile(cache, b, 0o600); err != nil {
			t.Fatal(err)
		}
		check{args: []string{"current-user", "me", "-p", "oauth"}, code: 3,
			stderr: []string{"has ended", "kiln auth login --host " + f.url + " --profile oauth"}}.run(t, f.home)
	})

	t.Run("Deny", func(t *testing.T) {
		l := f.startLogin(t, "denied")
		f.browser(t, l.authURL, "deny")
		if code := l.wait(t); code != 3 || !strings.Contains(l.stderr.String(), "access_denied") {
			t.Errorf("exit %d\n%s", code, l.stderr)
		}
		if vals, _ := os.ReadFile(filepath.Join(f.home, ".databrickscfg")); strings.Contains(string(vals), "[denied]") {
			t.Errorf("a denied sign-in saved its profile")
		}
	})

	t.Run("ForeignState", func(t *testing.T) {
		l := f.startLogin(t, "forged")
		forged := l.authURL.Query().Get("redirect_uri") + "?code=stolen&state=not-the-state"
		resp, err := http.Get(forged)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a foreign answer: %d; want 400", resp.StatusCode)
		}
		// The real answer still completes the sign-in.
		f.browser(t, l.authURL, "allow")
		if code := l.wait(t); code != 0 {
			t.Errorf("exit %d\n%s", code, l.stderr)
		}
	})
}
