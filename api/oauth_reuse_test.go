package api_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// TestRefreshTokenReuse: a spent refresh token that comes back later
// than the grace period ends its grant (the thief's tokens and the
// rightful client's alike); within the grace period, as two parallel CLI
// calls refreshing at once would, it is refused without ending anything.
func TestRefreshTokenReuse(t *testing.T) {
	clock := kilntest.NewClock()
	e := kilntest.Start(t, kilntest.WithClock(clock))
	user := e.NewUser(t, "ann@example.com", false)
	ctx := kiln.NewContextWithCaller(t.Context(), &kiln.Caller{Principal: user, Method: "session"})
	login := func(t *testing.T) (access, refresh string) {
		t.Helper()
		verifier := strings.Repeat("v", 50)
		sum := sha256.Sum256([]byte(verifier))
		code, err := e.Svc().Authorize(ctx, service.AuthorizeRequest{ClientID: service.CLIClientID, RedirectURI: "http://localhost:8020",
			Scope: "all-apis offline_access", CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]), CodeChallengeMethod: "S256"})
		if err != nil {
			t.Fatal(err)
		}
		status, m := tokenRequest(t, e, "", "", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
			"redirect_uri": {"http://localhost:8020"}, "client_id": {service.CLIClientID}})
		if status != 200 {
			t.Fatalf("code exchange: %d %v", status, m)
		}
		return m["access_token"].(string), m["refresh_token"].(string)
	}
	refresh := func(token string) (int, map[string]any) {
		return tokenRequest(t, e, "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {service.CLIClientID}})
	}
	me := func(access string) int { return e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", access, nil).Status }

	for _, tc := range []struct {
		name string
		// after is how long after the rotation the spent token returns.
		after     time.Duration
		grantEnds bool
	}{
		{"WithinTheGrace", time.Second, false},
		// The store and the service read the same test clock.
		{"AfterTheGrace", service.RefreshReuseGrace + time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r1 := login(t)
			status, m := refresh(r1)
			if status != 200 {
				t.Fatalf("first refresh: %d %v", status, m)
			}
			a2, r2 := m["access_token"].(string), m["refresh_token"].(string)
			clock.Advance(tc.after)
			if status, m := refresh(r1); status != 400 || m["error"] != "invalid_grant" {
				t.Fatalf("spent token: %d %v", status, m)
			}
			wantMe, wantRefresh := 200, 200
			if tc.grantEnds {
				wantMe, wantRefresh = 403, 400
			}
			// The index applies the revocation from the change notice.
			kilntest.Eventually(t, 5*time.Second, "the access token's fate", func() bool { return me(a2) == wantMe || (wantMe == 403 && me(a2) == 401) })
			if status, m := refresh(r2); status != wantRefresh {
				t.Fatalf("the rightful client's refresh: %d %v; want %d", status, m, wantRefresh)
			}
			evs, err := e.Svc().ListAudit(kilntest.Offline(), kiln.AuditFilter{Action: service.AuditOAuthRefreshReuse})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(evs) > 0; got != tc.grantEnds {
				t.Errorf("reuse audited: %v; want %v", got, tc.grantEnds)
			}
		})
	}
}

// TestCodeMisuseBurnsTheCode: an authorization code presented with the
// wrong verifier, client or redirect URI is refused and burned, so even
// the right exchange that follows fails, and the misuse is audited; a
// garbled code burns nothing.
func TestCodeMisuseBurnsTheCode(t *testing.T) {
	e := kilntest.Start(t)
	user := e.NewUser(t, "ann@example.com", false)
	ctx := kiln.NewContextWithCaller(t.Context(), &kiln.Caller{Principal: user, Method: "session"})
	const verifier, redirect = "a-verifier-that-is-long-enough-for-pkce-rules-0123456789", "http://localhost:8020"
	sum := sha256.Sum256([]byte(verifier))
	exchange := func(code, verifier, redirect, client string) (int, map[string]any) {
		return tokenRequest(t, e, "", "", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
			"redirect_uri": {redirect}, "client_id": {client}})
	}
	misuses := 0 // the audit events the subtests so far should have left
	for _, tc := range []struct {
		name                       string
		garble                     bool
		verifier, redirect, client string
		burned                     bool
	}{
		{"WrongVerifier", false, strings.Repeat("x", 50), redirect, service.CLIClientID, true},
		{"WrongRedirect", false, verifier, "http://localhost:9999", service.CLIClientID, true},
		{"WrongClient", false, verifier, redirect, "someone-else", true},
		{"GarbledCode", true, verifier, redirect, service.CLIClientID, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := e.Svc().Authorize(ctx, service.AuthorizeRequest{ClientID: service.CLIClientID, RedirectURI: redirect,
				Scope: "all-apis offline_access", CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]), CodeChallengeMethod: "S256"})
			if err != nil {
				t.Fatal(err)
			}
			presented := code
			if tc.garble {
				presented = code + "x"
			}
			if status, m := exchange(presented, tc.verifier, tc.redirect, tc.client); status != 400 || m["error"] != "invalid_grant" {
				t.Fatalf("misused exchange: %d %v; want 400 invalid_grant", status, m)
			}
			wantStatus := 200
			if tc.burned {
				wantStatus = 400
			}
			if status, m := exchange(code, verifier, redirect, service.CLIClientID); status != wantStatus {
				t.Fatalf("the right exchange afterwards: %d %v; want %d", status, m, wantStatus)
			}
			evs, err := e.Svc().ListAudit(kilntest.Offline(), kiln.AuditFilter{Action: service.AuditOAuthCodeMisuse})
			if err != nil {
				t.Fatal(err)
			}
			if tc.burned {
				misuses++
			}
			if len(evs) != misuses {
				t.Errorf("misuse audit events: %d; want %d", len(evs), misuses)
			}
		})
	}
}
