package api_test

import (
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/kilntest"
)

// TestTokensDisabledHeader checks that while tokens are disabled the
// refusal of a live token says so in a header (the body stays Databricks'
// "Invalid access token."), and that no other refusal does: the header
// must tell nothing about a token that is unknown, revoked or expired.
func TestTokensDisabledHeader(t *testing.T) {
	e := kilntest.Start(t)
	live := e.AdminToken(t)
	revoked := e.NewToken(t, kilntest.AdminEmail, 0)
	if err := e.Svc().RevokeToken(kilntest.Offline(), revoked.Info.ID); err != nil {
		t.Fatal(err)
	}
	expiring := e.Token(t, kilntest.AdminEmail, time.Second)
	time.Sleep(1100 * time.Millisecond)
	e.SetConf(t, map[string]string{kiln.ConfEnableTokens: "false"})
	for _, c := range []struct {
		name, token string
		header      string
	}{
		{"LiveToken", live, "true"},
		{"RevokedToken", revoked.Value, ""},
		{"ExpiredToken", expiring, ""},
		{"UnknownToken", "dapi00000000000000000000000000000000", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(t, "GET", "/api/2.0/token/list", c.token, nil)
			wantError(t, r, 403, "PERMISSION_DENIED", "Invalid access token.")
			if got := r.Header.Get(api.TokensDisabledHeader); got != c.header {
				t.Errorf("%s: %q, want %q", api.TokensDisabledHeader, got, c.header)
			}
		})
	}
	e.SetConf(t, map[string]string{kiln.ConfEnableTokens: "true"})
	if r := e.Do(t, "GET", "/api/2.0/token/list", live, nil); r.Status != 200 || r.Header.Get(api.TokensDisabledHeader) != "" {
		t.Errorf("re-enabled: %d %v", r.Status, r.Header)
	}
}
