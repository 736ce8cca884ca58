package console_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// TestAppsTab: the apps signed in as a user through OAuth are listed on
// User Settings, Apps, and Revoke signs one out at once: its refresh
// token is refused and its access token stops working on the next call.
// Another user's grant cannot be revoked (nor told apart from a missing
// one).
func TestAppsTab(t *testing.T) {
	e := startEnv(t)
	ann := e.newUser(t, "ann@example.com")
	bob := e.newUser(t, "bob@example.com")
	signIn := func(p *kiln.Principal) (*service.UserTokens, string) {
		t.Helper()
		ctx := kiln.NewContextWithCaller(t.Context(), &kiln.Caller{Principal: p, Method: "session"})
		verifier := strings.Repeat("w", 50)
		sum := sha256.Sum256([]byte(verifier))
		code, err := e.Svc().Authorize(ctx, service.AuthorizeRequest{ClientID: service.CLIClientID, RedirectURI: "http://localhost:8020",
			Scope: "all-apis offline_access", CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]), CodeChallengeMethod: "S256"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.Svc().ExchangeCode(ctx, service.CLIClientID, code, verifier, "http://localhost:8020", e.URL+"/oidc")
		if err != nil {
			t.Fatal(err)
		}
		gs, err := e.Svc().OAuthGrants(ctx)
		if err != nil || len(gs) == 0 {
			t.Fatalf("grants %v %v", gs, err)
		}
		return tok, gs[len(gs)-1].ID
	}
	annTok, annGrant := signIn(ann)
	_, bobGrant := signIn(bob)
	annCk := e.sessionFor(ann)

	page := e.get(t, "/settings/apps", annCk)
	mustContain(t, page.Body, "Signed-in apps", "Databricks CLI and SDKs", "http://localhost:8020", "all-apis", "/settings/apps/"+annGrant+"/revoke")
	mustNotContain(t, page.Body, bobGrant)
	confirm := e.get(t, "/settings/apps/"+annGrant+"/revoke", annCk)
	mustContain(t, confirm.Body, "Revoke access?", "Sign Databricks CLI and SDKs out?")

	if r := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", annTok.Value, nil); r.Status != http.StatusOK {
		t.Fatalf("access token before the revoke: %d", r.Status)
	}
	for _, tc := range []struct {
		name, id string
		flash    string
	}{
		{"another user's grant", bobGrant, "does not exist or has already ended"},
		{"own grant", annGrant, "The app has been signed out."},
		{"again", annGrant, "does not exist or has already ended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, "/settings/apps/"+tc.id+"/revoke", nil, annCk)
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d", r.Status)
			}
			after := e.getWith(t, "/settings/apps", annCk, cookieNamed(r.Header, "kiln_flash"))
			mustContain(t, after.Body, tc.flash)
		})
	}
	if r := e.get(t, "/settings/apps", annCk); !strings.Contains(r.Body, "No apps are signed in as you.") {
		t.Errorf("the revoked app is still listed")
	}
	if r := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", annTok.Value, nil); r.Status != http.StatusForbidden && r.Status != http.StatusUnauthorized {
		t.Errorf("access token after the revoke: %d", r.Status)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {annTok.Refresh}, "client_id": {service.CLIClientID}}
	resp, err := e.Client.PostForm(e.URL+"/oidc/v1/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("refresh after the revoke: %d", resp.StatusCode)
	}
	// Bob's grant lives on.
	bobCtx := kiln.NewContextWithCaller(t.Context(), &kiln.Caller{Principal: bob, Method: "session"})
	if gs, err := e.Svc().OAuthGrants(bobCtx); err != nil || len(gs) != 1 {
		t.Errorf("bob's grants %v %v", gs, err)
	}
}
