package console_test

// Server-side tests of the console's forms and security rules, over
// loopback against a real kiln (no browser).

import (
	"fmt"
	"github.com/kiln-dev/kiln/console"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
)

func TestEveryPageRenders(t *testing.T) {
	e := startEnv(t)
	e.EnableTokens(t)
	ck := e.sessionFor(e.admin)
	tok := e.NewToken(t, kilntest.AdminEmail, 0)
	pages := map[string]string{
		"/settings":                                   "Access Tokens · User Settings · kiln",
		"/settings/tokens/new":                        "Generate New Token · User Settings · kiln",
		"/settings/password":                          "Password · User Settings · kiln",
		"/settings/apps":                              "Apps · User Settings · kiln",
		"/admin/access-control":                       "Access Control · Admin Console · kiln",
		"/admin/users":                                "Users · Admin Console · kiln",
		"/admin/service-principals":                   "Service Principals · Admin Console · kiln",
		"/admin/tokens":                               "Tokens · Admin Console · kiln",
		"/admin/audit":                                "Audit Log · Admin Console · kiln",
		"/admin/tokens/" + tok.Info.ID + "/revoke":    "Revoke token? · Admin Console · kiln",
		"/settings/tokens/" + tok.Info.ID + "/revoke": "Revoke token? · User Settings · kiln",
		"/admin/access-control/tokens/disable":        "Disable personal access tokens? · Admin Console · kiln",
		"/admin/access-control/permissions/remove?kind=group&name=users": "Remove permission? · Admin Console · kiln",
		"/admin/users/" + e.admin.IDString() + "/password":               "Set password · Admin Console · kiln",
		"/admin/users/" + e.admin.IDString() + "/deactivate":             "Deactivate admin@example.com? · Admin Console · kiln",
		"/jobs":                           "Jobs · kiln",
		"/workspace":                      "Workspace · kiln",
		"/compute":                        "Compute · kiln",
		"/compute/" + kiln.LocalClusterID: "kiln (this server) · Compute · kiln",
		"/secrets":                        "Secrets · kiln",
		"/dbfs":                           "DBFS · kiln",
	}
	for path, title := range pages {
		r := e.get(t, path, ck)
		if r.Status != http.StatusOK {
			t.Errorf("GET %s: %d", path, r.Status)
			continue
		}
		mustContain(t, r.Body, "<title>"+title+"</title>", `aria-label="Account"`, ">User Settings<", ">Admin Console<", ">Log out<")
		if got := r.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || !strings.Contains(got, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, got)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", path, got)
		}
		// Every control is labelled.
		for _, m := range regexp.MustCompile(`<(?:input|select)[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(r.Body, -1) {
			if !strings.Contains(r.Body, `for="`+m[1]+`"`) {
				t.Errorf("GET %s: the control #%s has no label", path, m[1])
			}
		}
	}
	r := e.get(t, "/no-such-page", ck)
	if r.Status != http.StatusNotFound || !strings.Contains(r.Body, "Page not found") {
		t.Errorf("an unknown page: %d", r.Status)
	}
	// The API keeps its own JSON 404s.
	r = e.get(t, "/api/2.0/no-such-api", ck)
	if r.Status != http.StatusNotFound || !strings.Contains(r.Body, "error_code") {
		t.Errorf("an unknown API path: %d %s", r.Status, r.Body)
	}
}

func TestStaticFiles(t *testing.T) {
	e := startEnv(t)
	sf, err := console.StaticFiles()
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range sf {
		r := e.get(t, "/static/"+name+"?v="+f.Version, nil)
		if r.Status != http.StatusOK || r.Body != string(f.Body) {
			t.Errorf("%s: %d", name, r.Status)
		}
		if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("%s: Cache-Control %q", name, got)
		}
	}
	r := e.get(t, "/static/console.css?v=old", nil)
	if got := r.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("a stale version: Cache-Control %q", got)
	}
	if r := e.get(t, "/static/nope.js", nil); r.Status != http.StatusNotFound {
		t.Errorf("a missing file: %d", r.Status)
	}
	// Nothing is loaded from elsewhere.
	for name, f := range sf {
		if strings.Contains(string(f.Body), "http://") || strings.Contains(string(f.Body), "https://") {
			if name != "favicon.svg" { // the SVG namespace is a URL, not a load
				t.Errorf("%s refers to another site", name)
			}
		}
	}
}

func TestGenerateTokenValidation(t *testing.T) {
	e := startEnv(t)
	e.EnableTokens(t)
	e.SetConf(t, map[string]string{kiln.ConfMaxTokenLifetimeDays: "30", kiln.ConfDefaultTokenLifetimeDays: "7"})
	u := e.newUser(t, "val@example.com")
	ck := e.sessionFor(u)

	cases := []struct {
		name, comment, lifetime, want string
		scopes                        string
	}{
		{"UnknownScope", "ok", "7", `Unknown scope &#34;everything&#34;`, "jobs everything"},
		{"EmptyComment", "", "7", "Enter a comment that says what the token is for", ""},
		{"BlankComment", "   ", "7", "Enter a comment that says what the token is for", ""},
		{"HugeComment", strings.Repeat("x", 513), "7", "The comment is too long: keep it to 512 characters or fewer.", ""},
		{"VeryHugeComment", strings.Repeat("y", 40<<10), "7", "The comment is too long", ""},
		{"ControlCharacters", "line\nbreak", "7", "must not contain control characters", ""},
		{"LifetimeZero", "ok", "0", "Lifetime (days) must be at least 1 day.", ""},
		{"LifetimeNegative", "ok", "-5", "Lifetime (days) must be at least 1 day.", ""},
		{"LifetimeAboveCap", "ok", "31", "Lifetime (days) can be at most 30, the maximum set by your workspace admin.", ""},
		{"LifetimeHuge", "ok", "99999999999999999999", "Lifetime (days) must be a whole number of days, from 1 to 30.", ""},
		{"LifetimeNotANumber", "ok", "ninety", "Lifetime (days) must be a whole number of days, from 1 to 30.", ""},
		{"LifetimeFraction", "ok", "1.5", "Lifetime (days) must be a whole number of days", ""},
		{"LifetimeEmpty", "ok", "", "Enter the lifetime in days, from 1 to 30.", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, "/settings/tokens", url.Values{"comment": {tc.comment}, "lifetime_days": {tc.lifetime}, "scopes": {tc.scopes}}, ck)
			if r.Status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, tc.want, `aria-invalid="true"`, "<title>Generate New Token · User Settings · kiln</title>")
			mustNotContain(t, r.Body, "Your token has been created successfully.")
			if n := len(e.liveTokens(t)); n != 0 {
				t.Errorf("%d tokens exist after a refused form", n)
			}
		})
	}

	t.Run("FormTooLarge", func(t *testing.T) {
		r := e.post(t, "/settings/tokens", url.Values{"comment": {strings.Repeat("z", 100<<10)}, "lifetime_days": {"7"}}, ck)
		if r.Status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", r.Status)
		}
		mustContain(t, r.Body, "The form is too large to accept.")
		if n := len(e.liveTokens(t)); n != 0 {
			t.Errorf("%d tokens exist after a refused form", n)
		}
	})

	t.Run("KeepsWhatWasTyped", func(t *testing.T) {
		r := e.post(t, "/settings/tokens", url.Values{"comment": {"deploy <bot>"}, "lifetime_days": {"31"}, "scopes": {"jobs:read"}}, ck)
		mustContain(t, r.Body, `value="deploy &lt;bot&gt;"`, `value="31"`, `max="30"`, `value="jobs:read"`)
	})

	t.Run("ScopedToken", func(t *testing.T) {
		r := e.post(t, "/settings/tokens", url.Values{"comment": {"reader"}, "lifetime_days": {"7"}, "scopes": {"jobs:read, workspace"}}, ck)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		toks := e.liveTokens(t)
		if len(toks) != 1 || kiln.ScopeString(toks[0].Scopes) != "jobs:read workspace" {
			t.Fatalf("tokens %+v", toks)
		}
		mustContain(t, e.get(t, "/settings", ck).Body, `<span class="badge" title="API scope">jobs:read</span>`)
	})
}

func TestGenerateTokenShowsValueOnce(t *testing.T) {
	e := startEnv(t)
	e.EnableTokens(t)
	u := e.newUser(t, "once@example.com")
	ck := e.sessionFor(u)

	form := e.get(t, "/settings", ck)
	mustContain(t, form.Body, "Generate New Token", `name="lifetime_days"`, `value="90"`)

	r := e.post(t, "/settings/tokens", url.Values{"comment": {"ci"}, "lifetime_days": {"10"}}, ck)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	mustContain(t, r.Body, "Your token has been created successfully.", ">Copy<", ">Done<")
	value := regexp.MustCompile(`dapi[0-9a-f]{32}`).FindString(r.Body)
	if value == "" {
		t.Fatal("the response shows no token")
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Location") != "" {
		t.Errorf("Cache-Control %q, Location %q", r.Header.Get("Cache-Control"), r.Header.Get("Location"))
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, value) {
				t.Errorf("the token is in the header %s", k)
			}
		}
	}
	toks := e.liveTokens(t)
	if len(toks) != 1 || toks[0].Comment != "ci" || toks[0].Expires.Sub(toks[0].Created) != 10*24*time.Hour {
		t.Fatalf("tokens after Generate: %+v", toks)
	}
	// It works against the API.
	if resp := e.Do(t, http.MethodGet, "/api/2.0/token/list", value, nil); resp.Status != http.StatusOK {
		t.Errorf("the token gets %d from the API", resp.Status)
	}
	// No later page shows it.
	for _, path := range []string{"/settings", "/admin/tokens", "/admin/audit"} {
		if p := e.get(t, path, e.sessionFor(e.admin)); strings.Contains(p.Body, value) {
			t.Errorf("%s shows the token value", path)
		}
	}
	if p := e.get(t, "/settings", ck); strings.Contains(p.Body, value) || !strings.Contains(p.Body, ">ci<") {
		t.Error("User Settings shows the value, or not the token")
	}
}

func TestGenerateTokenRefusedByPolicy(t *testing.T) {
	e := startEnv(t)
	u := e.newUser(t, "nope@example.com")
	ck := e.sessionFor(u)

	// Tokens are disabled: no Generate button, and a post is refused.
	p := e.get(t, "/settings", ck)
	mustContain(t, p.Body, "Personal access tokens are disabled for this workspace.", "Ask a workspace admin to enable them.")
	mustNotContain(t, p.Body, "Generate New Token", `href="/admin/access-control"`)
	if r := e.get(t, "/settings/tokens/new", ck); r.Status != http.StatusSeeOther {
		t.Errorf("the Generate page while tokens are disabled: %d", r.Status)
	}
	r := e.post(t, "/settings/tokens", url.Values{"comment": {"x"}, "lifetime_days": {"5"}}, ck)
	if r.Status != http.StatusNotFound {
		t.Errorf("status %d, want 404", r.Status)
	}
	mustContain(t, r.Body, "Tokens are disabled.")

	// An admin is pointed to Access Control.
	mustContain(t, e.get(t, "/settings", e.sessionFor(e.admin)).Body, `<a href="/admin/access-control">Access Control</a>`)

	// Without CAN_USE.
	e.EnableTokens(t)
	if _, err := e.Svc().SetTokenPermissions(kilntest.Offline(), nil, true); err != nil {
		t.Fatal(err)
	}
	p = e.get(t, "/settings", ck)
	mustContain(t, p.Body, "You do not have permission to use personal access tokens.")
	mustNotContain(t, p.Body, "Generate New Token")
	r = e.post(t, "/settings/tokens", url.Values{"comment": {"x"}, "lifetime_days": {"5"}}, ck)
	if r.Status != http.StatusForbidden {
		t.Errorf("status %d, want 403", r.Status)
	}
	if n := len(e.liveTokens(t)); n != 0 {
		t.Errorf("%d tokens exist", n)
	}
}

func TestRevokeOwnToken(t *testing.T) {
	e := startEnv(t)
	e.EnableTokens(t)
	u := e.newUser(t, "rev@example.com")
	other := e.newUser(t, "other@example.com")
	mine := e.NewToken(t, u.UserName, 0)
	theirs := e.NewToken(t, other.UserName, 0)
	ck := e.sessionFor(u)

	// Someone else's token is not found, and stays.
	if r := e.get(t, "/settings/tokens/"+theirs.Info.ID+"/revoke", ck); r.Status != http.StatusNotFound {
		t.Errorf("confirming someone else's token: %d", r.Status)
	}
	e.post(t, "/settings/tokens/"+theirs.Info.ID+"/revoke", nil, ck)
	if resp := e.Do(t, http.MethodGet, "/api/2.0/token/list", theirs.Value, nil); resp.Status != http.StatusOK {
		t.Errorf("someone else's token was revoked: %d", resp.Status)
	}

	r := e.post(t, "/settings/tokens/"+mine.Info.ID+"/revoke", nil, ck)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/settings" {
		t.Fatalf("revoking: %d %s", r.Status, r.Header.Get("Location"))
	}
	p := e.getWith(t, "/settings", ck, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, p.Body, "The token has been revoked.", "You have no access tokens.")
	if resp := e.Do(t, http.MethodGet, "/api/2.0/token/list", mine.Value, nil); resp.Status != http.StatusForbidden {
		t.Errorf("a revoked token gets %d", resp.Status)
	}
}

func TestLogin(t *testing.T) {
	e := startEnv(t)

	t.Run("WrongPassword", func(t *testing.T) {
		r := e.post(t, "/login", url.Values{"email": {kilntest.AdminEmail}, "password": {"wrong-password-1"}}, nil)
		if r.Status != http.StatusUnauthorized || cookieNamed(r.Header, console.SessionCookie) != nil {
			t.Errorf("status %d", r.Status)
		}
		mustContain(t, r.Body, "Incorrect email or password.", `value="admin@example.com"`)
	})
	t.Run("UnknownEmail", func(t *testing.T) {
		r := e.post(t, "/login", url.Values{"email": {"who@example.com"}, "password": {"wrong-password-1"}}, nil)
		mustContain(t, r.Body, "Incorrect email or password.")
	})
	t.Run("Empty", func(t *testing.T) {
		r := e.post(t, "/login", url.Values{"email": {""}, "password": {""}}, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("status %d", r.Status)
		}
		mustContain(t, r.Body, "Enter your email and password.")
	})
	t.Run("OK", func(t *testing.T) {
		r := e.post(t, "/login", url.Values{"email": {kilntest.AdminEmail}, "password": {kilntest.AdminPassword}}, nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/settings" {
			t.Fatalf("status %d, Location %q", r.Status, r.Header.Get("Location"))
		}
		ck := cookieNamed(r.Header, console.SessionCookie)
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
			t.Fatalf("session cookie %+v", ck)
		}
		if p := e.get(t, "/settings", ck); p.Status != http.StatusOK {
			t.Errorf("with the new session: %d", p.Status)
		}
		// A signed-in visitor skips the form.
		if p := e.get(t, "/login", ck); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/settings" {
			t.Errorf("GET /login when signed in: %d %s", p.Status, p.Header.Get("Location"))
		}
		if p := e.get(t, "/", ck); p.Header.Get("Location") != "/settings" {
			t.Errorf("GET / when signed in: %s", p.Header.Get("Location"))
		}
		if p := e.get(t, "/", nil); p.Header.Get("Location") != "/login" {
			t.Errorf("GET / when signed out: %s", p.Header.Get("Location"))
		}
		// Log out clears the cookie.
		out := e.post(t, "/logout", nil, ck)
		cleared := cookieNamed(out.Header, console.SessionCookie)
		if out.Status != http.StatusSeeOther || cleared == nil || cleared.MaxAge >= 0 {
			t.Errorf("log out: %d %+v", out.Status, cleared)
		}
	})
}

// TestLoginFloodIsBounded signs in wrongly many times at once, half as the
// admin and half as unknown users: every attempt gets the same refusal,
// while no more than auth.MaxConcurrentHashes argon2id computations ever
// run together in the server, the rest waiting their turn.
func TestLoginFloodIsBounded(t *testing.T) {
	e := startEnv(t)
	const attempts = 10 // within the per-address failure budget
	var wg sync.WaitGroup
	statuses := make(chan response, attempts)
	for i := range attempts {
		email := kilntest.AdminEmail
		if i%2 == 1 {
			email = fmt.Sprintf("nobody-%d@example.com", i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- e.post(t, "/login", url.Values{"email": {email}, "password": {"wrong-password-1"}}, nil)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waited := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(time.Millisecond):
		}
		st := auth.PasswordHashStats()
		if st.Running > auth.MaxConcurrentHashes {
			t.Fatalf("%d argon2id computations at once, the limit is %d", st.Running, auth.MaxConcurrentHashes)
		}
		waited = max(waited, st.Waiting)
	}
	close(statuses)
	for r := range statuses {
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "Incorrect email or password.") {
			t.Errorf("status %d, body %.200s", r.Status, r.Body)
		}
	}
	if st := auth.PasswordHashStats(); st.PeakRunning > auth.MaxConcurrentHashes || waited == 0 {
		t.Errorf("peak %d at once (limit %d), at most %d seen waiting; want the limit held and sign-ins queued", st.PeakRunning, auth.MaxConcurrentHashes, waited)
	}
}

func TestLoginNextIsLocal(t *testing.T) {
	e := startEnv(t)
	// One sign-in per case would cost argon2 each time: check the rule
	// directly, then the whole path once.
	cases := map[string]string{
		"/admin/users":             "/admin/users",
		"/admin/audit?event=login": "/admin/audit?event=login",
		"":                         "",
		"//evil.example":           "",
		"/\\evil.example":          "",
		"/\t/evil.example":         "",
		"https://evil.example/":    "",
		"javascript:alert(1)":      "",
		"evil.example":             "",
		"/%0a/evil.example":        "/%0a/evil.example", // stays a path on this server
		"/login":                   "",
		"/logout":                  "",
	}
	for next, want := range cases {
		if got := console.LocalPath(next); got != want {
			t.Errorf("console.LocalPath(%q) = %q, want %q", next, got, want)
		}
	}
	r := e.post(t, "/login", url.Values{"email": {kilntest.AdminEmail}, "password": {kilntest.AdminPassword}, "next": {"//evil.example/x"}}, nil)
	if loc := r.Header.Get("Location"); loc != "/settings" {
		t.Errorf("after sign-in with next=//evil.example/x: Location %q", loc)
	}
	r = e.post(t, "/login", url.Values{"email": {kilntest.AdminEmail}, "password": {kilntest.AdminPassword}, "next": {"/admin/users"}}, nil)
	if loc := r.Header.Get("Location"); loc != "/admin/users" {
		t.Errorf("after sign-in with next=/admin/users: Location %q", loc)
	}
	// The form carries a local next only.
	p := e.get(t, "/login?next=https://evil.example", nil)
	mustNotContain(t, p.Body, "evil.example")
}

func TestLoginThrottle(t *testing.T) {
	e := startEnv(t)
	// Exhaust the per-address budget directly (each real attempt costs
	// an argon2 hash), then a correct password is refused unchecked.
	for i := 0; i < 11; i++ {
		e.console.FailSignIn("127.0.0.1", "someone-else@example.com")
	}
	r := e.post(t, "/login", url.Values{"email": {kilntest.AdminEmail}, "password": {kilntest.AdminPassword}}, nil)
	if r.Status != http.StatusTooManyRequests || cookieNamed(r.Header, console.SessionCookie) != nil {
		t.Fatalf("status %d", r.Status)
	}
	mustContain(t, r.Body, "Too many failed sign-in attempts.")
}

func TestSessions(t *testing.T) {
	e := startEnv(t)
	u := e.newUser(t, "sess@example.com")

	t.Run("Tampered", func(t *testing.T) {
		ck := e.sessionFor(u)
		ck.Value = strings.Replace(ck.Value, "v1.", "v1.1", 1)
		r := e.get(t, "/settings", ck)
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=%2Fsettings") {
			t.Errorf("a tampered cookie: %d %s", r.Status, r.Header.Get("Location"))
		}
	})
	t.Run("Refreshed", func(t *testing.T) {
		ck := e.sessionFor(u)
		if r := e.get(t, "/settings", ck); cookieNamed(r.Header, console.SessionCookie) != nil {
			t.Error("a fresh session was re-issued at once")
		}
		e.clock.Advance(2 * time.Minute)
		r := e.get(t, "/settings", ck)
		next := cookieNamed(r.Header, console.SessionCookie)
		if r.Status != http.StatusOK || next == nil {
			t.Fatalf("after two minutes: %d, cookie %v", r.Status, next)
		}
		active, ok := e.console.SessionActive(next.Value)
		if !ok || e.clock.Now().Sub(active) > time.Second {
			t.Errorf("the re-issued session is not stamped now: %v", active)
		}
	})
	t.Run("IdleTimeout", func(t *testing.T) {
		ck := e.sessionFor(u)
		e.clock.Advance(console.IdleTimeout + time.Second)
		r := e.get(t, "/admin/users", ck)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?ended=1&next=%2Fadmin%2Fusers" {
			t.Errorf("an idle session: %d %s", r.Status, r.Header.Get("Location"))
		}
		if c := cookieNamed(r.Header, console.SessionCookie); c == nil || c.MaxAge >= 0 {
			t.Error("the idle session's cookie is not cleared")
		}
		mustContain(t, e.get(t, r.Header.Get("Location"), nil).Body, "Your session has expired.")
	})
	t.Run("AbsoluteTimeout", func(t *testing.T) {
		ck := e.sessionFor(u)
		// Active every 20 minutes: fine for 11h40m, over at 12h10m.
		for i := 1; i <= 35; i++ {
			e.clock.Advance(20 * time.Minute)
			r := e.get(t, "/settings", ck)
			if r.Status != http.StatusOK {
				t.Fatalf("an active session ended after %v", time.Duration(i)*20*time.Minute)
			}
			if next := cookieNamed(r.Header, console.SessionCookie); next != nil {
				ck = next
			}
		}
		e.clock.Advance(30 * time.Minute)
		if r := e.get(t, "/settings", ck); r.Status != http.StatusSeeOther {
			t.Errorf("a session older than %v still works", console.AbsoluteTimeout)
		}
	})
	t.Run("PasswordChange", func(t *testing.T) {
		ck := e.sessionFor(u)
		e.clock.Advance(time.Second)
		if r := e.get(t, "/settings", ck); r.Status != http.StatusOK {
			t.Fatalf("before: %d", r.Status)
		}
		// The clock of the store is real time: put the console's back.
		e.clock.mu.Lock()
		e.clock.offset = 0
		e.clock.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		if err := e.Svc().SetPassword(kilntest.Offline(), u.ID, "a-new-password-1"); err != nil {
			t.Fatal(err)
		}
		if r := e.get(t, "/settings", ck); r.Status != http.StatusSeeOther {
			t.Errorf("a session older than the password: %d", r.Status)
		}
		// Signing in after the change works.
		if r := e.get(t, "/settings", e.sessionFor(u)); r.Status != http.StatusOK {
			t.Errorf("a session newer than the password: %d", r.Status)
		}
	})
	t.Run("Deactivated", func(t *testing.T) {
		ck := e.sessionFor(u)
		off := false
		if _, err := e.Svc().UpdatePrincipal(kilntest.Offline(), kiln.KindUser, u.ID, service.PrincipalChange{Update: kiln.PrincipalUpdate{Active: &off}}); err != nil {
			t.Fatal(err)
		}
		if r := e.get(t, "/settings", ck); r.Status != http.StatusSeeOther {
			t.Errorf("a deactivated user's session: %d", r.Status)
		}
	})
	t.Run("SecureUnderTLSBaseURL", func(t *testing.T) {
		e2 := startEnv(t, kilntest.WithConfig(func(c *server.Config) { c.BaseURL = "https://kiln.example.com" }))
		r := e2.post(t, "/login", url.Values{"email": {kilntest.AdminEmail}, "password": {kilntest.AdminPassword}}, nil)
		ck := cookieNamed(r.Header, console.SecureSessionCookie)
		if ck == nil || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" {
			t.Fatalf("session cookie under an https base URL: %+v", ck)
		}
	})
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := startEnv(t)
	e.EnableTokens(t)
	u := e.newUser(t, "csrf@example.com")
	ck := e.sessionFor(u)
	form := url.Values{"comment": {"forged"}, "lifetime_days": {"5"}}
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "http://evil.example"},
	} {
		r := e.request(t, http.MethodPost, "/settings/tokens", form, ck, hdr...)
		if r.Status != http.StatusForbidden {
			t.Errorf("%v: status %d", hdr, r.Status)
		}
		mustContain(t, r.Body, "This form was sent from another site")
	}
	if r := e.request(t, http.MethodPost, "/login", url.Values{"email": {"a@b.c"}, "password": {"x"}}, nil, "Sec-Fetch-Site", "cross-site"); r.Status != http.StatusForbidden {
		t.Errorf("a cross-site sign-in: %d", r.Status)
	}
	if r := e.request(t, http.MethodPost, "/logout", url.Values{}, ck, "Sec-Fetch-Site", "cross-site"); r.Status != http.StatusForbidden {
		t.Errorf("a cross-site log out: %d", r.Status)
	}
	if n := len(e.liveTokens(t)); n != 0 {
		t.Errorf("cross-origin posts created %d tokens", n)
	}
	// The same form from the console itself works.
	if r := e.request(t, http.MethodPost, "/settings/tokens", form, ck, "Sec-Fetch-Site", "same-origin"); r.Status != http.StatusOK {
		t.Errorf("a same-origin post: %d", r.Status)
	}
}

func TestNonAdminRefused(t *testing.T) {
	e := startEnv(t)
	u := e.newUser(t, "plain@example.com")
	ck := e.sessionFor(u)
	p := e.get(t, "/settings", ck)
	mustNotContain(t, p.Body, "Admin Console")
	for _, path := range []string{"/admin", "/admin/access-control", "/admin/users", "/admin/service-principals", "/admin/tokens", "/admin/audit", "/admin/access-control/tokens/enable"} {
		r := e.get(t, path, ck)
		if r.Status != http.StatusForbidden {
			t.Errorf("GET %s: %d", path, r.Status)
		}
		mustContain(t, r.Body, "Only workspace admins can open this page.")
		mustNotContain(t, r.Body, "Admin Console")
	}
	for _, path := range []string{"/admin/access-control/tokens/enable", "/admin/users", "/admin/access-control/lifetime"} {
		if r := e.post(t, path, url.Values{"email": {"x@example.com"}}, ck); r.Status != http.StatusForbidden {
			t.Errorf("POST %s: %d", path, r.Status)
		}
	}
	if on, _ := e.Svc().TokenPolicy(kilntest.Offline()); on.Enabled {
		t.Error("a user who is not an admin enabled tokens")
	}
}

func TestAccessControlForms(t *testing.T) {
	e := startEnv(t)
	ck := e.sessionFor(e.admin)

	// Enable and Disable, with a confirmation page for browsers without
	// scripts.
	p := e.get(t, "/admin/access-control", ck)
	mustContain(t, p.Body, ">Personal Access Tokens<", ">Enable<", `data-confirm-title="Enable personal access tokens?"`)
	conf := e.get(t, "/admin/access-control/tokens/enable", ck)
	mustContain(t, conf.Body, `action="/admin/access-control/tokens/enable"`, ">Confirm<", ">Cancel<")
	r := e.post(t, "/admin/access-control/tokens/enable", nil, ck)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("enable: %d", r.Status)
	}
	if pol, _ := e.Svc().TokenPolicy(kilntest.Offline()); !pol.Enabled {
		t.Fatal("tokens are not enabled")
	}
	mustContain(t, e.getWith(t, "/admin/access-control", ck, cookieNamed(r.Header, console.FlashCookie)).Body, "Personal access tokens are enabled.", ">Disable<")
	if r := e.post(t, "/admin/access-control/tokens/sideways", nil, ck); r.Status != http.StatusNotFound {
		t.Errorf("an unknown switch: %d", r.Status)
	}

	lifetimes := []struct{ max, def, want string }{
		{"abc", "90", "Maximum lifetime (days) must be a whole number from 1 to 730, or 0 for no maximum."},
		{"-1", "90", "Maximum lifetime (days) must be a whole number"},
		{"731", "90", "Maximum lifetime (days) must be a whole number"},
		{"", "90", "Maximum lifetime (days) must be a whole number"},
		{"365", "0", "Default lifetime (days) must be a whole number from 1 to 730."},
		{"365", "x", "Default lifetime (days) must be a whole number"},
		{"30", "90", "Default lifetime (days) cannot be longer than the maximum lifetime."},
	}
	for _, lt := range lifetimes {
		r := e.post(t, "/admin/access-control/lifetime", url.Values{"max_days": {lt.max}, "default_days": {lt.def}}, ck)
		if r.Status != http.StatusBadRequest {
			t.Errorf("max %q default %q: %d", lt.max, lt.def, r.Status)
		}
		mustContain(t, r.Body, lt.want)
	}
	conf2, _ := e.Svc().GetConf(kilntest.Offline(), []string{kiln.ConfMaxTokenLifetimeDays})
	if conf2[kiln.ConfMaxTokenLifetimeDays] != "730" {
		t.Errorf("a refused form changed the maximum to %q", conf2[kiln.ConfMaxTokenLifetimeDays])
	}
	if r := e.post(t, "/admin/access-control/lifetime", url.Values{"max_days": {"365"}, "default_days": {"30"}}, ck); r.Status != http.StatusSeeOther {
		t.Errorf("valid lifetimes: %d %s", r.Status, r.Body)
	}
	if pol, _ := e.Svc().TokenPolicy(kilntest.Offline()); pol.MaxLifetimeDays != 365 || pol.DefaultLifetimeDays != 30 {
		t.Errorf("policy after saving: %+v", pol)
	}

	// Who may use tokens.
	u := e.newUser(t, "grantee@example.com")
	sp, err := e.Svc().CreatePrincipal(kilntest.Offline(), service.NewPrincipal{Kind: kiln.KindServicePrincipal, DisplayName: "etl"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []url.Values{
		{"kind": {"user"}, "name": {u.UserName}},
		{"kind": {"service_principal"}, "name": {sp.UserName}},
		{"kind": {"group"}, "name": {"admins"}},
	} {
		r := e.post(t, "/admin/access-control/permissions", g, ck)
		if g.Get("name") == "admins" {
			// The admins group keeps CAN_MANAGE; granting it CAN_USE is refused.
			if r.Status != http.StatusBadRequest {
				t.Errorf("CAN_USE for admins: %d", r.Status)
			}
			continue
		}
		if r.Status != http.StatusSeeOther {
			t.Errorf("granting %v: %d %s", g, r.Status, r.Body)
		}
	}
	for _, bad := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"kind": {"user"}, "name": {"ghost@example.com"}}, "user ghost@example.com does not exist."},
		{url.Values{"kind": {"group"}, "name": {""}}, "Enter the name of the group to give CAN_USE."},
		{url.Values{"kind": {"robot"}, "name": {"x"}}, "Choose whether the permission is for a user, a group or a service principal."},
	} {
		r := e.post(t, "/admin/access-control/permissions", bad.form, ck)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%v: %d", bad.form, r.Status)
		}
		mustContain(t, r.Body, bad.want)
	}
	p = e.get(t, "/admin/access-control", ck)
	mustContain(t, p.Body, u.UserName, "etl <code class=\"muted\">"+sp.UserName+"</code>")

	// Removing asks first, then takes only that grant away.
	q := "?kind=user&name=" + url.QueryEscape(u.UserName)
	mustContain(t, e.get(t, "/admin/access-control/permissions/remove"+q, ck).Body, "Remove permission?", ">Confirm<")
	if r := e.post(t, "/admin/access-control/permissions/remove"+q, nil, ck); r.Status != http.StatusSeeOther {
		t.Errorf("removing: %d", r.Status)
	}
	acl, _ := e.Svc().TokenPermissions(kilntest.Offline())
	if hasGrant(acl, kiln.ACLEntry{UserName: u.UserName, Level: kiln.LevelCanUse}) ||
		!hasGrant(acl, kiln.ACLEntry{ServicePrincipalName: sp.UserName, Level: kiln.LevelCanUse}) ||
		!hasGrant(acl, kiln.ACLEntry{GroupName: kiln.GroupUsers, Level: kiln.LevelCanUse}) {
		t.Errorf("permissions after removing one: %+v", acl)
	}
	if r := e.get(t, "/admin/access-control/permissions/remove?kind=group&name=admins", ck); r.Status != http.StatusNotFound {
		t.Errorf("removing admins: %d", r.Status)
	}
}

func TestUsersForms(t *testing.T) {
	e := startEnv(t)
	ck := e.sessionFor(e.admin)

	for _, bad := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"email": {""}}, "Enter the new user&#39;s email address."},
		{url.Values{"email": {"not-an-email"}}, "userName must be an email address"},
		{url.Values{"email": {"short@example.com"}, "password": {"short"}}, "Password: password must be at least 12 characters"},
		{url.Values{"email": {kilntest.AdminEmail}, "password": {"long-enough-password"}}, "already exists"},
	} {
		r := e.post(t, "/admin/users", bad.form, ck)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%v: %d", bad.form, r.Status)
		}
		mustContain(t, r.Body, bad.want)
	}

	// A generated password is shown once, in the response.
	r := e.post(t, "/admin/users", url.Values{"email": {"gen@example.com"}, "display_name": {"Gen"}}, ck)
	if r.Status != http.StatusOK {
		t.Fatalf("adding a user: %d", r.Status)
	}
	mustContain(t, r.Body, "gen@example.com has been added.", ">Copy<", ">Done<")
	pw := regexp.MustCompile(`id="initial-password"[^>]*value="([^"]+)"`).FindStringSubmatch(r.Body)
	if pw == nil || len(pw[1]) < 12 {
		t.Fatalf("no generated password in the page")
	}
	if strings.Contains(e.get(t, "/admin/users", ck).Body, pw[1]) {
		t.Error("the users list shows the generated password")
	}
	gen, err := e.Svc().Login(t.Context(), "gen@example.com", pw[1], "127.0.0.1", service.PasswordLoginAll)
	if err != nil {
		t.Fatalf("signing in with the generated password: %v", err)
	}

	// Make admin, remove admin, deactivate, activate.
	base := "/admin/users/" + gen.IDString()
	for _, step := range []struct {
		change string
		check  func(p *kiln.Principal) bool
	}{
		{"make-admin", func(p *kiln.Principal) bool { return p.IsAdmin() }},
		{"remove-admin", func(p *kiln.Principal) bool { return !p.InGroup(kiln.GroupAdmins) }},
		{"deactivate", func(p *kiln.Principal) bool { return !p.Active }},
		{"activate", func(p *kiln.Principal) bool { return p.Active }},
	} {
		if r := e.post(t, base+"/"+step.change, nil, ck); r.Status != http.StatusSeeOther {
			t.Errorf("%s: %d", step.change, r.Status)
		}
		p, err := e.Svc().GetPrincipal(kilntest.Offline(), kiln.KindUser, gen.ID)
		if err != nil || !step.check(p) {
			t.Errorf("after %s: %+v %v", step.change, p, err)
		}
	}
	// The last admin cannot be deactivated.
	r = e.post(t, "/admin/users/"+e.admin.IDString()+"/deactivate", nil, ck)
	mustContain(t, e.getWith(t, "/admin/users", ck, cookieNamed(r.Header, console.FlashCookie)).Body, "The workspace must keep at least one active admin user.")

	// The admin sets a password.
	if r := e.post(t, base+"/password", url.Values{"password": {"short"}}, ck); r.Status != http.StatusBadRequest {
		t.Errorf("a short password: %d", r.Status)
	}
	if r := e.post(t, base+"/password", url.Values{"password": {"set-by-the-admin-1"}}, ck); r.Status != http.StatusSeeOther {
		t.Errorf("setting a password: %d", r.Status)
	}
	if _, err := e.Svc().Login(t.Context(), "gen@example.com", "set-by-the-admin-1", "127.0.0.1", service.PasswordLoginAll); err != nil {
		t.Errorf("signing in with the password the admin set: %v", err)
	}

	// Service principals.
	if r := e.post(t, "/admin/service-principals", url.Values{"display_name": {""}}, ck); r.Status != http.StatusBadRequest {
		t.Errorf("a service principal without a name: %d", r.Status)
	}
	if r := e.post(t, "/admin/service-principals", url.Values{"display_name": {"nightly"}}, ck); r.Status != http.StatusSeeOther {
		t.Errorf("adding a service principal: %d", r.Status)
	}
	mustContain(t, e.get(t, "/admin/service-principals", ck).Body, "nightly", ">Deactivate<")
}

func TestOwnPassword(t *testing.T) {
	e := startEnv(t)
	ck := e.sessionFor(e.admin)
	for _, bad := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"current": {""}, "new": {"x"}, "confirm": {"x"}}, "Enter your current password and a new one."},
		{url.Values{"current": {"wrong-password-9"}, "new": {"a-new-password-1"}, "confirm": {"a-new-password-1"}}, "Your current password is not correct."},
		{url.Values{"current": {kilntest.AdminPassword}, "new": {"a-new-password-1"}, "confirm": {"a-new-password-2"}}, "The new passwords do not match."},
		{url.Values{"current": {kilntest.AdminPassword}, "new": {"short"}, "confirm": {"short"}}, "New password: password must be at least 12 characters."},
	} {
		r := e.post(t, "/settings/password", bad.form, ck)
		if r.Status < 400 {
			t.Errorf("%v: %d", bad.form, r.Status)
		}
		mustContain(t, r.Body, bad.want)
	}
	r := e.post(t, "/settings/password", url.Values{"current": {kilntest.AdminPassword}, "new": {"a-new-password-1"}, "confirm": {"a-new-password-1"}}, ck)
	fresh := cookieNamed(r.Header, console.SessionCookie)
	if r.Status != http.StatusSeeOther || fresh == nil {
		t.Fatalf("changing the password: %d", r.Status)
	}
	// This browser stays signed in; the old session is void.
	if p := e.get(t, "/settings", fresh); p.Status != http.StatusOK {
		t.Errorf("the fresh session: %d", p.Status)
	}
	if p := e.get(t, "/settings", ck); p.Status != http.StatusSeeOther {
		t.Errorf("the session from before the change: %d", p.Status)
	}
}

func TestTokensAndAuditTabs(t *testing.T) {
	e := startEnv(t)
	e.EnableTokens(t)
	ck := e.sessionFor(e.admin)
	u := e.newUser(t, "owner@example.com")
	tok := e.NewToken(t, u.UserName, 3*24*time.Hour)
	e.NewToken(t, kilntest.AdminEmail, 0)

	p := e.get(t, "/admin/tokens", ck)
	mustContain(t, p.Body, "owner@example.com", kilntest.AdminEmail, "Expires soon")
	p = e.get(t, "/admin/tokens?owner=owner%40example.com", ck)
	mustContain(t, p.Body, "owner@example.com")
	if strings.Count(p.Body, `data-confirm-title="Revoke token?"`) != 1 {
		t.Error("the owner filter does not filter")
	}
	if p := e.get(t, "/admin/tokens?owner=ghost%40example.com", ck); p.Status != http.StatusNotFound {
		t.Errorf("an unknown owner: %d", p.Status)
	}
	if r := e.post(t, "/admin/tokens/"+tok.Info.ID+"/revoke", nil, ck); r.Status != http.StatusSeeOther {
		t.Errorf("revoking: %d", r.Status)
	}
	if resp := e.Do(t, http.MethodGet, "/api/2.0/token/list", tok.Value, nil); resp.Status != http.StatusForbidden {
		t.Errorf("a token revoked by an admin gets %d", resp.Status)
	}

	p = e.get(t, "/admin/audit?event=token.revoke", ck)
	mustContain(t, p.Body, "token:"+tok.Info.ID)
	mustNotContain(t, p.Body, "token.create</code>")
	p = e.get(t, "/admin/audit?actor="+url.QueryEscape(kilntest.AdminEmail), ck)
	mustContain(t, p.Body, "token.revoke")
	future := time.Now().Add(48 * time.Hour).UTC().Format(console.DatetimeLocal)
	p = e.get(t, "/admin/audit?from="+future, ck)
	mustContain(t, p.Body, "No events match.")
	for _, bad := range []string{"?from=yesterday", "?to=2026-13-45T99:99", "?event=nope", "?before=x"} {
		if p := e.get(t, "/admin/audit"+bad, ck); p.Status != http.StatusBadRequest {
			t.Errorf("audit %s: %d", bad, p.Status)
		}
	}
}
