package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/service"
)

// accessFixture is a fixture with a service principal, a secret of it
// and an access token bought with the secret.
func accessFixture(tb testing.TB) (f *fixture, sp *kiln.Principal, secret *service.NewOAuthSecret, access string) {
	tb.Helper()
	f = newFixture(tb)
	sp, err := f.svc.CreatePrincipal(f.ctx, service.NewPrincipal{Kind: kiln.KindServicePrincipal, DisplayName: "etl"})
	if err != nil {
		tb.Fatal(err)
	}
	secret, err = f.svc.CreateOAuthSecret(f.ctx, sp.UserName, 2*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := f.svc.ClientCredentials(f.ctx, sp.UserName, secret.Value, "jobs scim:read", "http://kiln.test/oidc", "")
	if err != nil {
		tb.Fatal(err)
	}
	return f, sp, secret, tok.Value
}

func TestCheckAccessToken(t *testing.T) {
	f, sp, secret, access := accessFixture(t)
	c, d := f.index.CheckAccessToken(access)
	if c == nil {
		t.Fatalf("refused: %+v", d)
	}
	if c.Principal.ID != sp.ID || c.Method != "oauth" || c.OAuthClient != sp.UserName ||
		strings.Join(c.Scopes, " ") != "jobs scim:read" || c.TokenExpires.Sub(f.now) > time.Hour {
		t.Errorf("caller %+v", c)
	}
	// A second check is answered from the cache, with the same result.
	if c2, _ := f.index.CheckAccessToken(access); c2 == nil || c2.Principal.ID != sp.ID {
		t.Errorf("cached check: %+v", c2)
	}

	parts := strings.Split(access, ".")
	other, _ := auth.ParseKey("0000000000000000000000000000000000000000000000000000000000000002")
	foreign, err := other.MintAccessToken("http://kiln.test/oidc", auth.AccessClaims{Subject: sp.UserName, PrincipalID: sp.ID,
		Credential: "secret:" + secret.Info.ID, Scope: "all-apis", Issued: f.now, Expires: f.now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, value, reason string }{
		{"signature cut", parts[0] + "." + parts[1] + ".", auth.ReasonMalformed},
		{"payload swapped", parts[0] + "." + strings.Split(foreign, ".")[1] + "." + parts[2], auth.ReasonMalformed},
		{"signed with another key", foreign, auth.ReasonMalformed},
		{"not a JWT", "eyJ.x.y", auth.ReasonMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, d := f.index.CheckAccessToken(c.value); got != nil || d.Reason != c.reason {
				t.Errorf("got %+v, %+v; want refused for %q", got, d, c.reason)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		f.now = f.now.Add(time.Hour + time.Second)
		defer func() { f.now = f.now.Add(-time.Hour - time.Second) }()
		if got, d := f.index.CheckAccessToken(access); got != nil || d.Reason != auth.ReasonExpired {
			t.Errorf("got %+v, %+v", got, d)
		}
	})
	t.Run("secret deleted", func(t *testing.T) {
		if err := f.svc.DeleteOAuthSecret(f.ctx, sp.IDString(), secret.Info.ID); err != nil {
			t.Fatal(err)
		}
		if got, d := f.index.CheckAccessToken(access); got != nil || d.Reason != auth.ReasonCredentialGone {
			t.Errorf("got %+v, %+v", got, d)
		}
	})
}

// BenchmarkCheckAccessToken compares, in one run, a PAT check with an
// OAuth access token check: cached (every request after a token's
// first) and verified from scratch (its first request).
func BenchmarkCheckAccessToken(b *testing.B) {
	f, _, _, access := accessFixture(b)
	pat := f.token(b, "admin@example.com", 0)
	b.Run("pat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if c, _ := f.index.CheckFrom(pat.Value, "192.0.2.1"); c == nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("oauth/cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if c, _ := f.index.CheckAccessToken(access); c == nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("oauth/verify", func(b *testing.B) {
		b.ReportAllocs()
		key := f.index.Key()
		for b.Loop() {
			if _, err := key.ParseAccessToken(access); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzParseAccessToken feeds arbitrary bearer values to the access token
// parser: it must never panic, and anything it accepts must carry the
// claims this key signed (only the seed's), never a mutation of them.
// (Fuzz workers re-run this function and mint their own seed, with
// another random jti, so the value itself is not compared.)
func FuzzParseAccessToken(f *testing.F) {
	key, _ := auth.ParseKey("0000000000000000000000000000000000000000000000000000000000000001")
	now := time.Unix(1_800_000_000, 0)
	valid, err := key.MintAccessToken("http://kiln.test/oidc", auth.AccessClaims{Subject: "sp", PrincipalID: 7,
		Credential: "secret:x", Scope: "all-apis", Issued: now, Expires: now.Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("eyJ..")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := key.ParseAccessToken(v)
		if err == nil && (c.PrincipalID != 7 || c.Credential != "secret:x" || c.Subject != "sp") {
			t.Fatalf("accepted %q as %+v", v, c)
		}
	})
}
