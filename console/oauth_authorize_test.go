package console_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAuthorizeConsent covers the consent step of databricks auth login
// below the browser: sign-in first, refusals rendered as pages (never a
// redirect to an unchecked address), Deny, and Allow with a code that the
// token endpoint redeems once, with the right PKCE verifier only.
func TestAuthorizeConsent(t *testing.T) {
	e := startEnv(t)
	ck := e.sessionFor(e.admin)
	verifier := strings.Repeat("v", 64)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	params := func(redirect string) url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {"databricks-cli"}, "redirect_uri": {redirect},
			"scope": {"offline_access all-apis"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"st4te"}}
	}
	good := params("http://localhost:8020")

	signedOut := e.get(t, "/oidc/v1/authorize?"+good.Encode(), nil)
	if signedOut.Status != http.StatusSeeOther || !strings.HasPrefix(signedOut.Header.Get("Location"), "/login?next=%2Foidc%2Fv1%2Fauthorize") {
		t.Fatalf("signed out: %d %q", signedOut.Status, signedOut.Header.Get("Location"))
	}
	page := e.get(t, "/oidc/v1/authorize?"+good.Encode(), ck)
	mustContain(t, page.Body, "Authorize databricks-cli", "localhost:8020", "all-apis", `id="authorize-allow"`)
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://localhost:*") {
		t.Errorf("consent page CSP %q", csp)
	}

	for _, c := range []struct {
		name string
		edit func(url.Values)
	}{
		{"a remote redirect", func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }},
		{"a redirect without a port", func(v url.Values) { v.Set("redirect_uri", "http://localhost/cb") }},
		{"a lookalike host", func(v url.Values) { v.Set("redirect_uri", "http://localhost.evil.example:8020") }},
		{"an unknown client", func(v url.Values) { v.Set("client_id", "other") }},
		{"no PKCE", func(v url.Values) { v.Del("code_challenge") }},
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }},
		{"an unknown scope", func(v url.Values) { v.Set("scope", "everything") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := params("http://localhost:8020")
			c.edit(v)
			for _, r := range []response{e.get(t, "/oidc/v1/authorize?"+v.Encode(), ck), e.post(t, "/oidc/v1/authorize", v, ck)} {
				if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
					t.Errorf("status %d, Location %q; want a 400 page", r.Status, r.Header.Get("Location"))
				}
			}
		})
	}

	deny := url.Values{}
	for k, v := range good {
		deny[k] = v
	}
	deny.Set("decision", "deny")
	if r := e.post(t, "/oidc/v1/authorize", deny, ck); r.Status != http.StatusFound || r.Header.Get("Location") != "http://localhost:8020?error=access_denied&state=st4te" {
		t.Errorf("deny: %d %q", r.Status, r.Header.Get("Location"))
	}
	allow := url.Values{}
	for k, v := range good {
		allow[k] = v
	}
	allow.Set("decision", "allow")
	r := e.post(t, "/oidc/v1/authorize", allow, ck)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.Status != http.StatusFound || loc == nil || loc.Host != "localhost:8020" || loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
		t.Fatalf("allow: %d %q", r.Status, r.Header.Get("Location"))
	}
	code := loc.Query().Get("code")

	exchange := func(verifier string) (int, map[string]any) {
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {"databricks-cli"}, "code": {code},
			"code_verifier": {verifier}, "redirect_uri": {"http://localhost:8020"}}
		resp, err := e.client.Post(e.URL+"/oidc/v1/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	// (A wrong verifier would burn the code: api's TestCodeMisuseBurnsTheCode.)
	status, m := exchange(verifier)
	if status != 200 || m["refresh_token"] == "" || m["access_token"] == "" {
		t.Fatalf("exchange: %d %v", status, m)
	}
	if status, m := exchange(verifier); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("a code redeemed twice: %d %v", status, m)
	}
	if r := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", m["access_token"].(string), nil); r.Status != 200 || !strings.Contains(string(r.Body), e.admin.UserName) {
		t.Errorf("Me with the user's access token: %d %s", r.Status, r.Body)
	}
}
