package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// TestServicePrincipalSecrets generates an OAuth secret on a service
// principal's page, shows it once, uses it at the token endpoint, and
// deletes it.
func TestServicePrincipalSecrets(t *testing.T) {
	e := startEnv(t)
	ck := e.sessionFor(e.admin)
	sp, err := e.Svc().CreatePrincipal(kilntest.Offline(), service.NewPrincipal{Kind: kiln.KindServicePrincipal, DisplayName: "nightly"})
	if err != nil {
		t.Fatal(err)
	}
	page := "/admin/service-principals/" + sp.IDString() + "/secrets"
	mustContain(t, e.get(t, "/admin/service-principals", ck).Body, `href="`+page+`"`, "OAuth secrets")
	mustContain(t, e.get(t, page, ck).Body, "has no OAuth secrets", sp.UserName)

	r := e.post(t, page, url.Values{"lifetime": {"30d"}}, ck)
	if r.Status != http.StatusOK {
		t.Fatalf("generate: %d %s", r.Status, r.Body)
	}
	secret := regexp.MustCompile(`dose[0-9a-f]{64}`).FindString(r.Body)
	if secret == "" {
		t.Fatal("the answer shows no secret")
	}
	mustContain(t, r.Body, "New OAuth secret", "only this once", ">Done<")
	later := e.get(t, page, ck)
	mustNotContain(t, later.Body, secret)
	id := regexp.MustCompile(`<code>([0-9a-f]{32})</code>`).FindStringSubmatch(later.Body)
	if id == nil {
		t.Fatalf("the list shows no secret id: %s", later.Body)
	}

	req, _ := http.NewRequest("POST", e.URL+"/oidc/v1/token", strings.NewReader("grant_type=client_credentials&scope=all-apis"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sp.UserName, secret)
	resp, err := e.client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the console's secret at the token endpoint: %v %v", resp, err)
	}
	resp.Body.Close()

	for _, c := range []struct {
		name, path string
		form       url.Values
		status     int
	}{
		{"lifetime unreadable", page, url.Values{"lifetime": {"soon"}}, 400},
		{"lifetime too long", page, url.Values{"lifetime": {"800d"}}, 400},
		{"not a service principal", "/admin/service-principals/" + e.admin.IDString() + "/secrets", nil, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := e.post(t, c.path, c.form, ck); r.Status != c.status {
				t.Errorf("status %d, want %d", r.Status, c.status)
			}
		})
	}
	if r := e.post(t, page+"/"+id[1]+"/delete", nil, ck); r.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	mustContain(t, e.get(t, page, ck).Body, "has no OAuth secrets")
	// Not for non-admins.
	u := e.newUser(t, "plain@example.com")
	if r := e.get(t, page, e.sessionFor(u)); r.Status != http.StatusForbidden {
		t.Errorf("a non-admin sees the page: %d", r.Status)
	}
}

// TestTokenListsShowScopes: a scoped token's scopes appear in User
// Settings and on the admin Tokens tab.
func TestTokenListsShowScopes(t *testing.T) {
	e := startEnv(t)
	e.EnableTokens(t)
	if _, err := e.Svc().CreateTokenFor(kilntest.Offline(), kilntest.AdminEmail, service.CreateTokenParams{Comment: "reader", Scopes: []string{"jobs:read"}}); err != nil {
		t.Fatal(err)
	}
	ck := e.sessionFor(e.admin)
	for _, path := range []string{"/settings", "/admin/tokens"} {
		mustContain(t, e.get(t, path, ck).Body, "reader", `title="API scope">jobs:read<`)
	}
}
