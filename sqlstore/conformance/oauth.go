package conformance

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func newSecret(id string, owner int64, expires time.Time) *kiln.OAuthSecret {
	return &kiln.OAuthSecret{ID: id, PrincipalID: owner, Digest: digest("secret " + id), SecretHash: "hash-" + id, Expires: expires}
}

func newGrant(id string, owner int64, now time.Time) *kiln.OAuthGrant {
	return &kiln.OAuthGrant{ID: id, PrincipalID: owner, ClientID: "databricks-cli", Scopes: []string{"jobs", "scim:read"},
		RedirectURI: "http://localhost:8020", CodeDigest: digest("code " + id), CodeChallenge: "challenge-" + id,
		CodeExpires: now.Add(time.Minute), Expires: now.Add(24 * time.Hour)}
}

var oauthTests = []test{
	{"OAuth/SecretsRoundTripListAndDelete", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "a@example.com", "b@example.com")
		exp := t0.Add(48 * time.Hour)
		update(t, s, func(tx kiln.Tx) error {
			for _, sec := range []*kiln.OAuthSecret{newSecret("s1", ps[0].ID, exp), newSecret("s2", ps[0].ID, time.Time{}), newSecret("s3", ps[1].ID, exp)} {
				if err := tx.CreateOAuthSecret(sec); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.OAuthSecrets(ps[0].ID)
			if err != nil {
				return err
			}
			if len(got) != 2 || got[0].ID != "s1" || got[1].ID != "s2" {
				t.Fatalf("secrets of a: %+v", got)
			}
			if !got[0].Expires.Equal(ms(exp)) || !got[1].Expires.IsZero() || got[0].SecretHash != "hash-s1" || got[0].Created.IsZero() {
				t.Errorf("round trip: %+v %+v", got[0], got[1])
			}
			all, err := tx.OAuthSecrets(0)
			if err != nil || len(all) != 3 {
				t.Errorf("all secrets: %d, %v", len(all), err)
			}
			byDigest, err := tx.OAuthSecretByDigest(digest("secret s3"))
			if err != nil || byDigest.ID != "s3" || byDigest.PrincipalID != ps[1].ID {
				t.Errorf("by digest: %+v, %v", byDigest, err)
			}
			_, err = tx.OAuthSecretByDigest(digest("nope"))
			wantCode(t, "unknown digest", err, kiln.ENotFound)
			return nil
		})
		err := s.Update(t.Context(), func(tx kiln.Tx) error { return tx.DeleteOAuthSecret(ps[1].ID, "s1") })
		wantCode(t, "delete another principal's secret", err, kiln.ENotFound)
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteOAuthSecret(ps[0].ID, "s1") })
		err = s.Update(t.Context(), func(tx kiln.Tx) error { return tx.DeleteOAuthSecret(ps[0].ID, "s1") })
		wantCode(t, "delete twice", err, kiln.ENotFound)
		err = s.Update(t.Context(), func(tx kiln.Tx) error {
			return tx.CreateOAuthSecret(newSecret("s4", 4242, time.Time{}))
		})
		wantCode(t, "secret of a missing principal", err, kiln.ENotFound)
		err = s.Update(t.Context(), func(tx kiln.Tx) error {
			dup := newSecret("s5", ps[0].ID, time.Time{})
			dup.Digest = digest("secret s2")
			return tx.CreateOAuthSecret(dup)
		})
		wantCode(t, "duplicate digest", err, kiln.EConflict)
	}},
	{"OAuth/GrantCodeIsRedeemedExactlyOnce", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "a@example.com")
		now := t0
		update(t, s, func(tx kiln.Tx) error { return tx.CreateOAuthGrant(newGrant("g1", ps[0].ID, now)) })
		var g *kiln.OAuthGrant
		view(t, s, func(tx kiln.Tx) error {
			var err error
			g, err = tx.OAuthGrantByCode(digest("code g1"))
			return err
		})
		if g.ID != "g1" || !slices.Equal(g.Scopes, []string{"jobs", "scim:read"}) || g.CodeChallenge != "challenge-g1" ||
			g.RedirectURI != "http://localhost:8020" || !g.CodeExpires.Equal(ms(now.Add(time.Minute))) || g.RefreshDigest != nil {
			t.Errorf("grant round trip: %+v", g)
		}
		view(t, s, func(tx kiln.Tx) error {
			live, err := tx.OAuthGrants(ps[0].ID, now)
			if err != nil || len(live) != 0 {
				t.Errorf("an unredeemed grant is listed: %d, %v", len(live), err)
			}
			return nil
		})
		update(t, s, func(tx kiln.Tx) error { return tx.RedeemOAuthCode("g1", digest("code g1"), digest("refresh 1")) })
		err := s.Update(t.Context(), func(tx kiln.Tx) error { return tx.RedeemOAuthCode("g1", digest("code g1"), digest("refresh 2")) })
		wantCode(t, "second redemption", err, kiln.EConflict)
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.OAuthGrantByCode(digest("code g1"))
			wantCode(t, "redeemed code", err, kiln.ENotFound)
			g, err := tx.OAuthGrantByRefresh(digest("refresh 1"))
			if err != nil || g.ID != "g1" || g.CodeDigest != nil {
				t.Errorf("by refresh: %+v, %v", g, err)
			}
			live, err := tx.OAuthGrants(0, now)
			if err != nil || len(live) != 1 {
				t.Errorf("live grants: %d, %v", len(live), err)
			}
			return nil
		})
	}},
	{"OAuth/RefreshRotatesExclusivelyAndRevocationEndsIt", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "a@example.com")
		g := newGrant("g1", ps[0].ID, t0)
		g.CodeDigest, g.RefreshDigest = nil, digest("refresh 1")
		update(t, s, func(tx kiln.Tx) error { return tx.CreateOAuthGrant(g) })
		update(t, s, func(tx kiln.Tx) error { return tx.RotateOAuthRefresh("g1", digest("refresh 1"), digest("refresh 2")) })
		err := s.Update(t.Context(), func(tx kiln.Tx) error { return tx.RotateOAuthRefresh("g1", digest("refresh 1"), digest("refresh 3")) })
		wantCode(t, "rotate from a replaced token", err, kiln.EConflict)
		view(t, s, func(tx kiln.Tx) error {
			if got, at, err := tx.OAuthGrantBySpentRefresh(digest("refresh 1")); err != nil || got.ID != "g1" || at.IsZero() {
				t.Errorf("by spent refresh: %+v at %v, %v", got, at, err)
			}
			_, _, err := tx.OAuthGrantBySpentRefresh(digest("refresh 2"))
			wantCode(t, "the current refresh token is not spent", err, kiln.ENotFound)
			return nil
		})
		update(t, s, func(tx kiln.Tx) error { return tx.RevokeOAuthGrant("g1") })
		err = s.Update(t.Context(), func(tx kiln.Tx) error { return tx.RevokeOAuthGrant("g1") })
		wantCode(t, "revoke twice", err, kiln.EConflict)
		err = s.Update(t.Context(), func(tx kiln.Tx) error { return tx.RevokeOAuthGrant("nope") })
		wantCode(t, "revoke unknown", err, kiln.ENotFound)
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.OAuthGrantByRefresh(digest("refresh 2"))
			wantCode(t, "refresh of a revoked grant", err, kiln.ENotFound)
			got, err := tx.OAuthGrant("g1")
			if err != nil || got.Revoked.IsZero() || got.LiveAt(t0) {
				t.Errorf("revoked grant: %+v, %v", got, err)
			}
			return nil
		})
		err = s.Update(t.Context(), func(tx kiln.Tx) error { return tx.RotateOAuthRefresh("g1", digest("refresh 2"), digest("refresh 4")) })
		wantCode(t, "rotate a revoked grant", err, kiln.EConflict)
	}},
	{"OAuth/PruneDropsEndedGrantsAndStaleCodesOnly", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "a@example.com")
		now := t0
		stale := newGrant("stale-code", ps[0].ID, now) // code expires now+1m
		live := newGrant("live", ps[0].ID, now)
		live.CodeDigest, live.RefreshDigest = nil, digest("refresh live")
		ended := newGrant("ended", ps[0].ID, now)
		ended.CodeDigest, ended.RefreshDigest, ended.Expires = nil, digest("refresh ended"), now.Add(time.Hour)
		update(t, s, func(tx kiln.Tx) error {
			for _, g := range []*kiln.OAuthGrant{stale, live, ended} {
				if err := tx.CreateOAuthGrant(g); err != nil {
					return err
				}
			}
			return nil
		})
		var n int
		update(t, s, func(tx kiln.Tx) error {
			var err error
			n, err = tx.PruneOAuthGrants(now.Add(2 * time.Hour))
			return err
		})
		if n != 2 {
			t.Errorf("pruned %d grants, want 2 (the stale code and the ended grant)", n)
		}
		view(t, s, func(tx kiln.Tx) error {
			g, err := tx.OAuthGrant("live")
			if err != nil || !bytes.Equal(g.RefreshDigest, digest("refresh live")) {
				t.Errorf("the live grant went: %+v, %v", g, err)
			}
			_, err = tx.OAuthGrant("stale-code")
			wantCode(t, "stale code", err, kiln.ENotFound)
			return nil
		})
	}},
	{"OAuth/TokenScopesRoundTrip", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "a@example.com")
		scoped := newToken(1, ps[0].ID, ps[0].ID)
		scoped.Scopes = []string{"jobs", "sql"}
		plain := newToken(2, ps[0].ID, ps[0].ID)
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateToken(scoped); err != nil {
				return err
			}
			return tx.CreateToken(plain)
		})
		view(t, s, func(tx kiln.Tx) error {
			a, err := tx.Token(scoped.ID)
			if err != nil || !slices.Equal(a.Scopes, []string{"jobs", "sql"}) {
				t.Errorf("scoped token: %v, %v", a.Scopes, err)
			}
			b, err := tx.Token(plain.ID)
			if err != nil || b.Scopes != nil {
				t.Errorf("unscoped token: %#v, %v", b.Scopes, err)
			}
			return nil
		})
	}},
}
