package console_test

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/console"
	"github.com/kiln-dev/kiln/internal/oidctest"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
)

// The people the test identity provider knows. Alice and Carol have kiln
// accounts; Bob does not; Eve's address is unverified at the provider.
var ssoUsers = []oidctest.User{
	{Email: "alice@example.com", Password: "alice-at-the-idp", GivenName: "Alice", FamilyName: "Liddell",
		Groups: []string{"data-eng", "kiln-admins", "no-such-kiln-group"}},
	{Email: "bob@example.com", Password: "bob-at-the-idp", GivenName: "Bob", FamilyName: "Builder", Groups: []string{"data-eng"}},
	{Email: "carol@example.com", Password: "carol-at-the-idp", Groups: []string{}},
	{Email: "eve@example.com", Password: "eve-at-the-idp", Unverified: true},
}

// ssoEnv is a kiln whose console signs in through a real OpenID Connect
// provider started for the test.
type ssoEnv struct {
	*env
	idp *oidctest.Provider
}

// startSSO starts the provider and a kiln registered with it under policy
// and the password sign-in rule who; alice, carol (deactivated) and the
// groups data-eng and ops (alice a member) exist.
func startSSO(t *testing.T, policy service.SSOPolicy, who service.PasswordLogin) *ssoEnv {
	t.Helper()
	addr := kilntest.FreeAddr(t)
	base := "http://" + addr
	idp := oidctest.Start(t, base+console.SSOCallbackPath, ssoUsers...)
	e := startEnv(t, kilntest.WithConfig(func(c *server.Config) {
		c.Addr, c.BaseURL = addr, base
		c.PasswordLogin = string(who)
		c.SSO = server.SSOConfig{Issuer: idp.Issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret,
			Label: "Test IdP", CreateUsers: policy.CreateUsers, SyncGroups: policy.SyncGroups, GroupMap: policy.GroupMap}
	}))
	ctx := kilntest.Offline()
	alice := e.newUser(t, "alice@example.com")
	carol := e.newUser(t, "carol@example.com")
	off := false
	if _, err := e.Svc().UpdatePrincipal(ctx, kiln.KindUser, carol.ID, service.PrincipalChange{Update: kiln.PrincipalUpdate{Active: &off}}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"data-eng", "ops"} {
		var members []int64
		if g == "ops" {
			members = []int64{alice.ID}
		}
		if _, err := e.Svc().CreateGroup(ctx, g, members); err != nil {
			t.Fatal(err)
		}
	}
	return &ssoEnv{env: e, idp: idp}
}

// groupsOf lists the user's groups besides users, sorted.
func (e *ssoEnv) groupsOf(t *testing.T, email string) []string {
	t.Helper()
	p, err := e.Svc().PrincipalByName(kilntest.Offline(), email)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range p.Groups {
		if g.Name != kiln.GroupUsers {
			names = append(names, g.Name)
		}
	}
	slices.Sort(names)
	return names
}

// signIn goes through the provider as one of ssoUsers and returns where
// the browser ended and what it showed.
func (e *ssoEnv) signIn(t *testing.T, email, next string) (*http.Response, string) {
	t.Helper()
	password := ""
	for _, u := range ssoUsers {
		if u.Email == email {
			password = u.Password
		}
	}
	start := e.URL + "/login/sso"
	if next != "" {
		start += "?" + url.Values{"next": {next}}.Encode()
	}
	return e.idp.SignIn(t, oidctest.Browser(t), start, email, password)
}

func TestSSOSignIn(t *testing.T) {
	// Without provisioning or group sync; passwords for admins only.
	plain := startSSO(t, service.SSOPolicy{}, service.PasswordLoginAdmins)
	// Provisioning and group sync, kiln-admins mapped to admins; no
	// passwords at all.
	synced := startSSO(t, service.SSOPolicy{CreateUsers: true, SyncGroups: true, GroupMap: map[string]string{"kiln-admins": "admins"}},
		service.PasswordLoginNone)

	tests := []struct {
		name   string
		env    *ssoEnv
		email  string
		next   string
		status int
		// path is where the browser ends; body must show want.
		path   string
		want   string
		groups []string // the user's groups afterwards, when checked
	}{
		{name: "KnownUser", env: plain, email: "alice@example.com", next: "/jobs", status: 200, path: "/jobs", want: "Jobs",
			groups: []string{"ops"}},
		{name: "UnknownUserRefused", env: plain, email: "bob@example.com", status: 403, path: console.SSOCallbackPath,
			want: "bob@example.com has no kiln account. Ask a workspace admin to add you."},
		{name: "DeactivatedRefused", env: plain, email: "carol@example.com", status: 403, path: console.SSOCallbackPath,
			want: "The kiln account carol@example.com is deactivated."},
		{name: "UnverifiedEmailRefused", env: plain, email: "eve@example.com", status: 403, path: console.SSOCallbackPath,
			want: "has not verified the email address eve@example.com"},
		{name: "JustInTimeUser", env: synced, email: "bob@example.com", status: 200, path: "/settings", want: "Access Tokens",
			groups: []string{"data-eng"}},
		{name: "GroupsSynced", env: synced, email: "alice@example.com", status: 200, path: "/settings", want: "Access Tokens",
			groups: []string{"admins", "data-eng"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.env.signIn(t, tc.email, tc.next)
			if resp.StatusCode != tc.status || resp.Request.URL.Path != tc.path {
				t.Fatalf("ended with %d at %s; want %d at %s\n%s", resp.StatusCode, resp.Request.URL, tc.status, tc.path, body)
			}
			mustContain(t, body, tc.want)
			if tc.groups != nil {
				if got := tc.env.groupsOf(t, tc.email); !slices.Equal(got, tc.groups) {
					t.Errorf("groups %v; want %v", got, tc.groups)
				}
			}
		})
	}

	t.Run("AuditedWithTheProvider", func(t *testing.T) {
		evs, err := synced.Svc().ListAudit(kilntest.Offline(), kiln.AuditFilter{Action: kiln.AuditLogin, ActorName: "alice@example.com"})
		if err != nil || len(evs) != 1 {
			t.Fatalf("login events %v %v", evs, err)
		}
		d := evs[0].Detail
		if d["method"] != "sso" || d["issuer"] != synced.idp.Issuer || d["groups_added"] != "admins,data-eng" || d["groups_removed"] != "ops" {
			t.Errorf("detail %v", d)
		}
		evs, err = plain.Svc().ListAudit(kilntest.Offline(), kiln.AuditFilter{Action: kiln.AuditLoginFailed, ActorName: "bob@example.com"})
		if err != nil || len(evs) != 1 || evs[0].Detail["method"] != "sso" {
			t.Fatalf("failed login events %v %v", evs, err)
		}
	})

	t.Run("PasswordSignIn", func(t *testing.T) {
		user := plain.NewUser(t, "dave@example.com", false)
		if err := plain.Svc().SetPassword(kilntest.Offline(), user.ID, "dave-password-123"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name          string
			env           *ssoEnv
			email, pass   string
			status        int
			want          string
			passwordField bool
		}{
			{"BreakGlassAdmin", plain, kilntest.AdminEmail, kilntest.AdminPassword, http.StatusSeeOther, "", true},
			{"NonAdminRefused", plain, "dave@example.com", "dave-password-123", http.StatusForbidden,
				"Password sign-in is for workspace admins only here. Sign in with Test IdP.", true},
			{"WrongPasswordStillGeneric", plain, "dave@example.com", "wrong-password-1", http.StatusUnauthorized, "Incorrect email or password.", true},
			{"TurnedOff", synced, kilntest.AdminEmail, kilntest.AdminPassword, http.StatusForbidden,
				"Password sign-in is turned off in this workspace. Sign in with Test IdP.", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				page := tc.env.get(t, "/login", nil)
				mustContain(t, page.Body, `href="/login/sso"`, "Sign in with Test IdP")
				if got := strings.Contains(page.Body, `name="password"`); got != tc.passwordField {
					t.Errorf("password field shown: %v; want %v", got, tc.passwordField)
				}
				r := tc.env.post(t, "/login", url.Values{"email": {tc.email}, "password": {tc.pass}}, nil)
				if r.Status != tc.status {
					t.Fatalf("status %d; want %d\n%s", r.Status, tc.status, r.Body)
				}
				if tc.want != "" {
					mustContain(t, r.Body, tc.want)
				}
			})
		}
	})

	t.Run("Callback", func(t *testing.T) {
		// A browser that started a sign-in: it holds the attempt cookie.
		started := func(t *testing.T) *http.Client {
			c := oidctest.Browser(t)
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			r, err := c.Get(plain.URL + "/login/sso?next=/jobs")
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			to, _ := url.Parse(r.Header.Get("Location"))
			if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(to.String(), plain.idp.Issuer+"/") ||
				to.Query().Get("code_challenge_method") != "S256" || to.Query().Get("nonce") == "" ||
				to.Query().Get("redirect_uri") != plain.URL+console.SSOCallbackPath {
				t.Fatalf("start: %d to %s", r.StatusCode, to)
			}
			return c
		}
		get := func(t *testing.T, c *http.Client, query string) (int, string) {
			r, err := c.Get(plain.URL + console.SSOCallbackPath + "?" + query)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Body.Close()
			b, err := io.ReadAll(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			return r.StatusCode, string(b)
		}
		for _, tc := range []struct {
			name    string
			browser func(t *testing.T) *http.Client
			advance time.Duration
			query   string
			status  int
			want    string
		}{
			{"WrongState", started, 0, "state=forged&code=abc", 403, "Single sign-on failed: the sign-in did not start in this browser"},
			{"NoAttemptCookie", func(t *testing.T) *http.Client { return oidctest.Browser(t) }, 0, "state=x&code=abc", 400,
				"That sign-in took too long, or did not start in this browser. Try again."},
			{"AttemptLapsed", started, 11 * time.Minute, "state=x&code=abc", 400, "That sign-in took too long"},
			{"ProviderSaysNo", started, 0, "error=access_denied&error_description=The+user+cancelled", 403,
				"The identity provider did not sign you in (access_denied): The user cancelled."},
			{"ProviderErrorEscaped", started, 0, "error=%3Cscript%3E", 403, "(&lt;script&gt;)"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := tc.browser(t)
				plain.clock.Advance(tc.advance)
				status, body := get(t, c, tc.query)
				if status != tc.status {
					t.Fatalf("status %d; want %d\n%s", status, tc.status, body)
				}
				mustContain(t, body, tc.want)
				mustNotContain(t, body, "<script>")
			})
		}
	})

	t.Run("ReplayedCallbackRefused", func(t *testing.T) {
		c := oidctest.Browser(t)
		var callback string
		c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == console.SSOCallbackPath {
				callback = req.URL.String()
			}
			return nil
		}
		resp, _ := plain.idp.SignIn(t, c, plain.URL+"/login/sso", "alice@example.com", "alice-at-the-idp")
		if resp.Request.URL.Path != "/settings" || callback == "" {
			t.Fatalf("sign-in ended at %s", resp.Request.URL)
		}
		r, err := oidctest.Browser(t).Get(callback)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusBadRequest {
			t.Fatalf("replayed callback: %d", r.StatusCode)
		}
	})

	t.Run("OtherHostNameSentToTheBaseURL", func(t *testing.T) {
		u, _ := url.Parse(plain.URL)
		for _, tc := range []struct {
			path, to string
		}{
			{"/login/sso?next=/jobs", plain.URL + "/login/sso?moved=1&next=%2Fjobs"},
			// Behind a proxy that rewrites Host the names never match:
			// one hop, then on to the provider rather than a loop.
			{"/login/sso?moved=1&next=/jobs", plain.idp.Issuer + "/"},
		} {
			req, _ := http.NewRequest(http.MethodGet, plain.URL+tc.path, nil)
			req.Host = "localhost:" + u.Port()
			r, err := plain.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), tc.to) {
				t.Errorf("%s: %d to %q; want %s", tc.path, r.StatusCode, r.Header.Get("Location"), tc.to)
			}
		}
	})

	t.Run("ProviderDown", func(t *testing.T) {
		addr := kilntest.FreeAddr(t)
		down := startEnv(t, kilntest.WithConfig(func(c *server.Config) {
			c.Addr, c.BaseURL = addr, "http://"+addr
			c.SSO = server.SSOConfig{Issuer: "http://" + kilntest.FreeAddr(t), ClientID: "kiln"}
		}))
		r := down.get(t, "/login/sso", nil)
		if r.Status != http.StatusBadGateway {
			t.Fatalf("status %d", r.Status)
		}
		mustContain(t, r.Body, "The identity provider could not be reached. Try again in a moment.", `name="password"`)
	})
}

// TestSSOKeepsTheLastAdmin: a provider that leaves the only admin out of
// every group does not lock the workspace: they stay an admin.
func TestSSOKeepsTheLastAdmin(t *testing.T) {
	e := startEnv(t)
	p, err := e.Svc().LoginExternal(kilntest.Offline(), kiln.ExternalIdentity{
		Issuer: "https://idp.example.com", Subject: "1", Email: kilntest.AdminEmail, HasGroups: true,
	}, service.SSOPolicy{SyncGroups: true}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if !p.IsAdmin() {
		t.Fatalf("the last admin lost admins: %v", p.Groups)
	}
}
