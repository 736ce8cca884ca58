package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
)

// newServicePrincipal creates a service principal through SCIM and returns
// its numeric id and application id.
func newServicePrincipal(t *testing.T, e *kilntest.Env, admin, name string) (id, appID string) {
	t.Helper()
	r := e.Do(t, "POST", scim+"ServicePrincipals", admin, map[string]any{"displayName": name})
	if r.Status != 201 {
		t.Fatalf("create service principal: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	return m["id"].(string), m["applicationId"].(string)
}

// tokenRequest posts form to the token endpoint, with Basic credentials
// when user is not empty.
func tokenRequest(t *testing.T, e *kilntest.Env, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", e.URL+"/oidc/v1/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token endpoint answered %d, not JSON: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func TestOAuthClientCredentials(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	spID, appID := newServicePrincipal(t, e, admin, "etl")
	secrets := "/api/2.0/accounts/servicePrincipals/" + spID + "/credentials/secrets"

	r := e.Do(t, "POST", secrets, admin, map[string]any{"lifetime": "3600s"})
	if r.Status != 200 {
		t.Fatalf("create secret: %d %s", r.Status, r.Body)
	}
	created := r.JSON(t)
	secret, _ := created["secret"].(string)
	if !strings.HasPrefix(secret, "dose") || created["status"] != "ACTIVE" || created["expire_time"] == "" || len(created["secret_hash"].(string)) != 64 {
		t.Fatalf("created secret: %v", created)
	}
	// Listing never shows the value.
	r = e.Do(t, "GET", secrets, admin, nil)
	if r.Status != 200 || strings.Contains(string(r.Body), secret) || !strings.Contains(string(r.Body), created["id"].(string)) {
		t.Fatalf("list secrets: %d %s", r.Status, r.Body)
	}

	// Discovery points at the token endpoint.
	r = e.Do(t, "GET", "/oidc/.well-known/oauth-authorization-server", "", nil)
	if meta := r.JSON(t); r.Status != 200 || meta["token_endpoint"] != e.URL+"/oidc/v1/token" {
		t.Fatalf("discovery: %d %s", r.Status, r.Body)
	}

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"all-apis"}}
	status, tok := tokenRequest(t, e, appID, secret, form)
	if status != 200 || tok["token_type"] != "Bearer" || tok["scope"] != "all-apis" || tok["expires_in"].(float64) != 3600 {
		t.Fatalf("token: %d %v", status, tok)
	}
	access := tok["access_token"].(string)

	// The secret in the body works as well as in Basic.
	bodyForm := url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret}, "scope": {"jobs"}}
	if status, m := tokenRequest(t, e, "", "", bodyForm); status != 200 || m["scope"] != "jobs" {
		t.Fatalf("token with the secret in the body: %d %v", status, m)
	}

	me := e.Do(t, "GET", scim+"Me", access, nil)
	if me.Status != 200 || me.JSON(t)["userName"] != appID {
		t.Fatalf("Me with an access token: %d %s", me.Status, me.Body)
	}

	// Tokens disabled governs PATs only.
	e.SetConf(t, map[string]string{"enableTokensConfig": "false"})
	if r := e.Do(t, "GET", "/api/2.1/jobs/list", access, nil); r.Status != 200 {
		t.Fatalf("jobs with an access token while PATs are off: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/api/2.1/jobs/list", admin, nil); r.Status != 403 {
		t.Fatalf("a PAT while PATs are off: %d %s", r.Status, r.Body)
	}
	e.SetConf(t, map[string]string{"enableTokensConfig": "true"})

	refusals := []struct {
		name, user, pass string
		form             url.Values
		status           int
		code             string
	}{
		{"wrong secret", appID, "dose" + strings.Repeat("0", 64), form, 401, "invalid_client"},
		{"another client's id", "00000000-0000-0000-0000-000000000000", secret, form, 401, "invalid_client"},
		{"no credentials", "", "", form, 401, "invalid_client"},
		{"unknown scope", appID, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"everything"}}, 400, "invalid_scope"},
		{"unsupported grant", appID, secret, url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"no grant", appID, secret, url.Values{}, 400, "invalid_request"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			status, m := tokenRequest(t, e, c.user, c.pass, c.form)
			if status != c.status || m["error"] != c.code {
				t.Fatalf("got %d %v, want %d %s", status, m, c.status, c.code)
			}
		})
	}

	// Deleting the secret ends its access tokens on the next request.
	del := e.Do(t, "DELETE", secrets+"/"+created["id"].(string), admin, nil)
	if del.Status != 200 {
		t.Fatalf("delete secret: %d %s", del.Status, del.Body)
	}
	if r := e.Do(t, "GET", scim+"Me", access, nil); r.Status != 403 {
		t.Fatalf("access token after its secret was deleted: %d %s", r.Status, r.Body)
	}
	if status, m := tokenRequest(t, e, appID, secret, form); status != 401 {
		t.Fatalf("deleted secret at the token endpoint: %d %v", status, m)
	}

	// Deactivating the principal ends them too.
	r = e.Do(t, "POST", secrets, admin, nil)
	secret2 := r.JSON(t)["secret"].(string)
	_, tok = tokenRequest(t, e, appID, secret2, form)
	access2 := tok["access_token"].(string)
	if r := e.Do(t, "GET", scim+"Me", access2, nil); r.Status != 200 {
		t.Fatalf("new access token: %d %s", r.Status, r.Body)
	}
	patch := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}
	if r := e.Do(t, "PATCH", scim+"ServicePrincipals/"+spID, admin, patch); r.Status != 200 {
		t.Fatalf("deactivate: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", scim+"Me", access2, nil); r.Status != 403 {
		t.Fatalf("access token of a deactivated principal: %d %s", r.Status, r.Body)
	}

	// A forged token (signed with another key) is refused.
	parts := strings.Split(access2, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	if r := e.Do(t, "GET", scim+"Me", forged, nil); r.Status != 403 {
		t.Fatalf("forged access token: %d %s", r.Status, r.Body)
	}

	// Secrets are for admins only, and for service principals only.
	user := e.NewUser(t, "someone@example.com", false)
	userTok := e.Token(t, user.UserName, 0)
	checkStatuses(t, e, []statusCase{
		{name: "non-admin creates", token: userTok, method: "POST", path: secrets, want: 403},
		{name: "non-admin lists", token: userTok, method: "GET", path: secrets, want: 403},
		{name: "a user is no service principal", token: admin, method: "POST", path: "/api/2.0/accounts/servicePrincipals/" + user.IDString() + "/credentials/secrets", want: 404},
		{name: "unknown principal", token: admin, method: "GET", path: "/api/2.0/accounts/servicePrincipals/123/credentials/secrets", want: 404},
		{name: "lifetime too long", token: admin, method: "POST", path: secrets, body: `{"lifetime":"99999999999s"}`, want: 400},
		{name: "lifetime not seconds", token: admin, method: "POST", path: secrets, body: `{"lifetime":"forever"}`, want: 400},
		{name: "unknown secret", token: admin, method: "DELETE", path: secrets + "/nope", want: 404},
	})
}

func TestScopedTokens(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	create := func(token string, scopes ...string) (int, string) {
		r := e.Do(t, "POST", "/api/2.0/token/create", token, map[string]any{"comment": "scoped", "scopes": scopes})
		if r.Status != 200 {
			return r.Status, string(r.Body)
		}
		return r.Status, r.JSON(t)["token_value"].(string)
	}
	_, sqlTok := create(admin, "sql")
	_, jobsRead := create(admin, "jobs:read")
	_, auth := create(admin, "authentication", "jobs")

	checkStatuses(t, e, []statusCase{
		{name: "sql token on jobs", token: sqlTok, method: "GET", path: "/api/2.1/jobs/list", want: 403},
		{name: "sql token on Me", token: sqlTok, method: "GET", path: scim + "Me", want: 200},
		{name: "sql token on SCIM users", token: sqlTok, method: "GET", path: scim + "Users", want: 403},
		{name: "jobs:read lists jobs", token: jobsRead, method: "GET", path: "/api/2.1/jobs/list", want: 200},
		{name: "jobs:read cannot create", token: jobsRead, method: "POST", path: "/api/2.1/jobs/create", body: `{"name":"x"}`, want: 403},
		{name: "jobs:read cannot read secrets", token: jobsRead, method: "GET", path: "/api/2.0/secrets/scopes/list", want: 403},
		{name: "jobs:read cannot list tokens", token: jobsRead, method: "GET", path: "/api/2.0/token/list", want: 403},
		{name: "authentication lists tokens", token: auth, method: "GET", path: "/api/2.0/token/list", want: 200},
	})
	r := e.Do(t, "GET", "/api/2.1/jobs/list", sqlTok, nil)
	if m := r.JSON(t); m["error_code"] != "PERMISSION_DENIED" || !strings.Contains(m["message"].(string), "jobs") {
		t.Errorf("out-of-scope answer: %s", r.Body)
	}

	// A scoped token mints only tokens within its scopes.
	if status, _ := create(auth, "jobs:read"); status != 200 {
		t.Errorf("narrower token from a scoped one: %d", status)
	}
	if status, _ := create(auth, "secrets"); status != 403 {
		t.Errorf("wider token from a scoped one: %d", status)
	}
	if status, _ := create(auth); status != 403 {
		t.Errorf("unscoped token from a scoped one: %d", status)
	}
	if status, body := create(admin, "nonsense"); status != 400 || !strings.Contains(body, "nonsense") {
		t.Errorf("unknown scope: %d %s", status, body)
	}

	// Lists show the scopes.
	r = e.Do(t, "GET", "/api/2.0/token/list", admin, nil)
	if !strings.Contains(string(r.Body), `"scopes":["jobs:read"]`) {
		t.Errorf("token list lacks scopes: %s", r.Body)
	}
	r = e.Do(t, "GET", "/api/2.0/token-management/tokens", admin, nil)
	if !strings.Contains(string(r.Body), `"scopes":["sql"]`) {
		t.Errorf("token management list lacks scopes: %s", r.Body)
	}
}
