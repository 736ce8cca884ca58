package conformance

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

var tokenTests = []test{
	{"Token/CreateReadsBackWithNames", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "Alice@example.com", "admin@example.com")
		alice, admin := ps[0], ps[1]
		tk := newToken(1, alice.ID, admin.ID)
		tk.Created = time.Time{} // the store fills it
		tk.Expires = t0.Add(90 * 24 * time.Hour)
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			return tx.CreateToken(tk)
		})
		if !tk.Created.Equal(now) {
			t.Errorf("Created: got %v, want the transaction time %v", tk.Created, now)
		}
		want := normToken(tk)
		want.OwnerName, want.CreatedByName = "Alice@example.com", "admin@example.com"
		view(t, s, func(tx kiln.Tx) error {
			byID, err := tx.Token(tk.ID)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			byDigest, err := tx.TokenByDigest(digestOf(tk.ID))
			if err != nil {
				t.Fatalf("TokenByDigest: %v", err)
			}
			list, err := tx.Tokens(kiln.TokenFilter{})
			if err != nil || len(list) != 1 {
				t.Fatalf("Tokens: got %d, %v, want 1 token", len(list), err)
			}
			for _, got := range []*kiln.Token{byID, byDigest, list[0]} {
				if g := normToken(got); !reflect.DeepEqual(g, want) {
					t.Errorf("got %+v, want %+v", g, want)
				}
			}
			return nil
		})
	}},
	{"Token/TakenIDOrDigestConflicts", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		update(t, s, func(tx kiln.Tx) error { return tx.CreateToken(newToken(1, p.ID, p.ID)) })
		for _, c := range []struct {
			name string
			tk   *kiln.Token
		}{
			{"SameID", &kiln.Token{ID: tokenID(1), Digest: digestOf(tokenID(2)), OwnerID: p.ID, CreatedByID: p.ID, Created: t0}},
			{"SameDigest", &kiln.Token{ID: tokenID(2), Digest: digestOf(tokenID(1)), OwnerID: p.ID, CreatedByID: p.ID, Created: t0}},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateToken(c.tk) })
				wantCode(t, "CreateToken", err, kiln.EConflict)
			})
		}
	}},
	{"Token/MissingOwnerIsNotFound", func(t *testing.T, s kiln.Store) {
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateToken(newToken(1, 1000000000000404, 0)) })
		wantCode(t, "CreateToken for a missing owner", err, kiln.ENotFound)
	}},
	{"Token/MissingIsNotFound", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		update(t, s, func(tx kiln.Tx) error { return tx.CreateToken(newToken(1, p.ID, p.ID)) })
		missing := tokenID(404)
		for _, c := range []struct {
			name string
			op   func(kiln.Tx) error
		}{
			{"Token", func(tx kiln.Tx) error { _, err := tx.Token(missing); return err }},
			{"TokenByDigest", func(tx kiln.Tx) error { _, err := tx.TokenByDigest(digestOf(missing)); return err }},
			{"UpdateTokenComment", func(tx kiln.Tx) error { return tx.UpdateTokenComment(missing, "x") }},
			{"RevokeToken", func(tx kiln.Tx) error { return tx.RevokeToken(missing, p.ID) }},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, c.name, s.Update(ctx(t), c.op), kiln.ENotFound)
			})
		}
	}},
	{"Token/FiltersSelect", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "alice@example.com", "bob@example.com", "Admin@example.com")
		alice, bob, admin := ps[0].ID, ps[1].ID, ps[2].ID
		tokens := []*kiln.Token{
			newToken(1, alice, alice), // live, never expires
			newToken(2, alice, alice), // expires at t0+1h
			newToken(3, alice, alice), // revoked
			newToken(4, bob, admin),   // on behalf of bob, live
			newToken(5, bob, bob),     // expired at t0-1h
		}
		tokens[1].Expires = t0.Add(time.Hour)
		tokens[4].Expires = t0.Add(-time.Hour)
		update(t, s, func(tx kiln.Tx) error {
			for _, tk := range tokens {
				if err := tx.CreateToken(tk); err != nil {
					return err
				}
			}
			return tx.RevokeToken(tokenID(3), alice)
		})
		ids := func(ns ...int) []string {
			out := []string{}
			for _, n := range ns {
				out = append(out, tokenID(n))
			}
			return out
		}
		for _, c := range []struct {
			name string
			f    kiln.TokenFilter
			want []string
		}{
			{"All", kiln.TokenFilter{}, ids(1, 2, 3, 4, 5)},
			{"ByOwner", kiln.TokenFilter{OwnerID: alice}, ids(1, 2, 3)},
			{"ByCreatorID", kiln.TokenFilter{CreatedByID: admin}, ids(4)},
			{"ByCreatorNameInAnyCase", kiln.TokenFilter{CreatedByName: "admin@EXAMPLE.com"}, ids(4)},
			{"ByOwnerAndCreator", kiln.TokenFilter{OwnerID: bob, CreatedByID: bob}, ids(5)},
			{"LiveAtT0", kiln.TokenFilter{Live: true, LiveAt: t0}, ids(1, 2, 4)},
			{"LiveAtExpiryInstantExcludesIt", kiln.TokenFilter{Live: true, LiveAt: t0.Add(time.Hour)}, ids(1, 4)},
			{"LiveJustBeforeExpiry", kiln.TokenFilter{Live: true, LiveAt: t0.Add(time.Hour - time.Millisecond)}, ids(1, 2, 4)},
			{"LiveInThePastIncludesLaterExpired", kiln.TokenFilter{Live: true, LiveAt: t0.Add(-2 * time.Hour)}, ids(1, 2, 4, 5)},
			{"LiveByOwner", kiln.TokenFilter{OwnerID: bob, Live: true, LiveAt: t0}, ids(4)},
			{"UnknownOwner", kiln.TokenFilter{OwnerID: 1000000000000404}, ids()},
		} {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					tks, err := tx.Tokens(c.f)
					if err != nil {
						t.Fatalf("Tokens: %v", err)
					}
					if got := tokenIDs(tks); !slices.Equal(got, c.want) {
						t.Errorf("got %v, want %v", got, c.want)
					}
					return nil
				})
			})
		}
	}},
	{"Token/CountLiveTokensCountsTheQuota", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "alice@example.com", "bob@example.com")
		alice, bob := ps[0].ID, ps[1].ID
		update(t, s, func(tx kiln.Tx) error {
			for n := 1; n <= 6; n++ {
				tk := newToken(n, alice, alice)
				if n%2 == 0 {
					tk.Expires = t0.Add(time.Duration(n) * time.Hour) // 2h, 4h, 6h
				}
				if err := tx.CreateToken(tk); err != nil {
					return err
				}
			}
			if err := tx.CreateToken(newToken(7, bob, bob)); err != nil {
				return err
			}
			return tx.RevokeToken(tokenID(5), alice)
		})
		for _, c := range []struct {
			name  string
			owner int64
			now   time.Time
			want  int
		}{
			{"AllUnexpired", alice, t0, 5},
			{"SomeExpired", alice, t0.Add(4 * time.Hour), 3},
			{"AllExpiringGone", alice, t0.Add(7 * time.Hour), 2},
			{"OtherOwner", bob, t0, 1},
			{"NoTokens", 1000000000000404, t0, 0},
		} {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					got, err := tx.CountLiveTokens(c.owner, c.now)
					if err != nil {
						t.Fatalf("CountLiveTokens: %v", err)
					}
					if got != c.want {
						t.Errorf("got %d, want %d", got, c.want)
					}
					return nil
				})
			})
		}
	}},
	{"Token/RevokeStampsTimeAndSecondRevokeIsNotFound", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "alice@example.com", "admin@example.com")
		update(t, s, func(tx kiln.Tx) error { return tx.CreateToken(newToken(1, ps[0].ID, ps[0].ID)) })
		var revokedAt time.Time
		update(t, s, func(tx kiln.Tx) error {
			revokedAt = tx.Now()
			return tx.RevokeToken(tokenID(1), ps[1].ID)
		})
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.RevokeToken(tokenID(1), ps[0].ID) })
		wantCode(t, "second RevokeToken", err, kiln.ENotFound)
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Token(tokenID(1))
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if !got.Revoked.Equal(revokedAt) || got.RevokedBy != ps[1].ID {
				t.Errorf("got revoked %v by %d, want %v by %d (the first revocation)", got.Revoked, got.RevokedBy, revokedAt, ps[1].ID)
			}
			return nil
		})
	}},
	{"Token/TouchOnlyMovesLastUsedDayForward", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		update(t, s, func(tx kiln.Tx) error { return tx.CreateToken(newToken(1, p.ID, p.ID)) })
		day := func(n int) time.Time { return day0.AddDate(0, 0, n) }
		for _, c := range []struct {
			name  string
			touch time.Time
			want  time.Time
		}{
			{"FirstUseSets", day(2), day(2)},
			{"EarlierDayIgnored", day(1), day(2)},
			{"SameDayKeeps", day(2), day(2)},
			{"LaterDayMoves", day(5), day(5)},
		} {
			t.Run(c.name, func(t *testing.T) {
				update(t, s, func(tx kiln.Tx) error {
					return tx.TouchTokens(map[string]time.Time{tokenID(1): c.touch, tokenID(404): c.touch})
				})
				view(t, s, func(tx kiln.Tx) error {
					got, err := tx.Token(tokenID(1))
					if err != nil {
						t.Fatalf("Token: %v", err)
					}
					if !got.LastUsedDay.Equal(c.want) {
						t.Errorf("LastUsedDay: got %v, want %v", got.LastUsedDay, c.want)
					}
					return nil
				})
			})
		}
	}},
	{"Token/UpdateCommentChangesOnlyComment", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		tk := newToken(1, p.ID, p.ID)
		update(t, s, func(tx kiln.Tx) error { return tx.CreateToken(tk) })
		update(t, s, func(tx kiln.Tx) error { return tx.UpdateTokenComment(tk.ID, "renamed ✓") })
		want := normToken(tk)
		want.Comment, want.OwnerName, want.CreatedByName = "renamed ✓", p.UserName, p.UserName
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Token(tk.ID)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if g := normToken(got); !reflect.DeepEqual(g, want) {
				t.Errorf("got %+v, want %+v", g, want)
			}
			return nil
		})
	}},
}
