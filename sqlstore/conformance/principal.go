package conformance

import (
	"cmp"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

var workspaceTests = []test{
	{"Workspace/NotFoundBeforeCreate", func(t *testing.T, s kiln.Store) {
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.Workspace()
			wantCode(t, "Workspace", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Workspace/CreatedReadsBack", func(t *testing.T, s kiln.Store) {
		want := kiln.Workspace{ID: 1234567890123456, Created: t0, KeyFingerprint: "sha256:abc"}
		update(t, s, func(tx kiln.Tx) error { return tx.CreateWorkspace(want) })
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Workspace()
			if err != nil {
				t.Fatalf("Workspace: %v", err)
			}
			if got.ID != want.ID || !got.Created.Equal(want.Created) || got.KeyFingerprint != want.KeyFingerprint {
				t.Errorf("Workspace: got %+v, want %+v", got, want)
			}
			return nil
		})
	}},
	{"Workspace/SecondCreateConflictsAndKeepsFirst", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			return tx.CreateWorkspace(kiln.Workspace{ID: 1111111111111111, Created: t0, KeyFingerprint: "first"})
		})
		err := s.Update(ctx(t), func(tx kiln.Tx) error {
			return tx.CreateWorkspace(kiln.Workspace{ID: 2222222222222222, Created: t0, KeyFingerprint: "second"})
		})
		wantCode(t, "second CreateWorkspace", err, kiln.EConflict)
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Workspace()
			if err != nil || got.KeyFingerprint != "first" {
				t.Errorf("Workspace: got %+v, %v, want the first one", got, err)
			}
			return nil
		})
	}},
}

var principalTests = []test{
	{"Principal/CreateAssignsIDAndCreated", func(t *testing.T, s kiln.Store) {
		p := user("alice@example.com")
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			return tx.CreatePrincipal(p)
		})
		if p.ID < minID || p.ID >= maxID {
			t.Errorf("ID: got %d, want in [10^15, 2^53)", p.ID)
		}
		if !p.Created.Equal(now) {
			t.Errorf("Created: got %v, want the transaction time %v", p.Created, now)
		}
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Principal(p.ID)
			if err != nil {
				t.Fatalf("Principal: %v", err)
			}
			if g, w := normPrincipal(got), normPrincipal(p); !reflect.DeepEqual(g, w) {
				t.Errorf("Principal: got %+v, want %+v", g, w)
			}
			return nil
		})
	}},
	{"Principal/EveryFieldRoundTrips", func(t *testing.T, s kiln.Store) {
		want := &kiln.Principal{
			ID: 1000000000000042, Kind: kiln.KindServicePrincipal,
			UserName: "6f1c2a9e-3b7d-4c1e-9a55-0d7e8f9a1b2c", DisplayName: "CI bot",
			GivenName: "Ci", FamilyName: "Bot", ExternalID: "ext-7", Active: false,
			PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", PasswordChanged: t0.Add(-time.Hour),
			Created: t0.Add(-2 * time.Hour),
		}
		update(t, s, func(tx kiln.Tx) error { p := *want; return tx.CreatePrincipal(&p) })
		view(t, s, func(tx kiln.Tx) error {
			byID, err := tx.Principal(want.ID)
			if err != nil {
				t.Fatalf("Principal: %v", err)
			}
			byName, err := tx.PrincipalByName(want.UserName)
			if err != nil {
				t.Fatalf("PrincipalByName: %v", err)
			}
			for _, got := range []*kiln.Principal{byID, byName} {
				if g, w := normPrincipal(got), normPrincipal(want); !reflect.DeepEqual(g, w) {
					t.Errorf("got %+v, want %+v", g, w)
				}
			}
			return nil
		})
	}},
	{"Principal/TakenIDConflicts", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		err := s.Update(ctx(t), func(tx kiln.Tx) error {
			q := user("bob@example.com")
			q.ID = p.ID
			return tx.CreatePrincipal(q)
		})
		wantCode(t, "CreatePrincipal with a taken id", err, kiln.EConflict)
	}},
	{"Principal/TakenUserNameConflictsInAnyCase", func(t *testing.T, s kiln.Store) {
		createUsers(t, s, "Alice@Example.com")
		for _, name := range []string{"Alice@Example.com", "alice@example.com", "ALICE@EXAMPLE.COM"} {
			t.Run(name, func(t *testing.T) {
				err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreatePrincipal(user(name)) })
				wantCode(t, "CreatePrincipal "+name, err, kiln.EConflict)
			})
		}
		view(t, s, func(tx kiln.Tx) error {
			_, n, err := tx.Principals(kiln.PrincipalFilter{})
			if err != nil || n != 1 {
				t.Errorf("Principals: got total %d, %v, want 1", n, err)
			}
			return nil
		})
	}},
	{"Principal/ByNameIgnoresCaseAndKeepsSpelling", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "Alice@Example.com")[0]
		for _, name := range []string{"Alice@Example.com", "alice@example.com", "ALICE@EXAMPLE.COM"} {
			t.Run(name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					got, err := tx.PrincipalByName(name)
					if err != nil {
						t.Fatalf("PrincipalByName: %v", err)
					}
					if got.ID != p.ID || got.UserName != "Alice@Example.com" {
						t.Errorf("got %d %q, want %d %q", got.ID, got.UserName, p.ID, "Alice@Example.com")
					}
					return nil
				})
			})
		}
	}},
	{"Principal/MissingIsNotFound", func(t *testing.T, s kiln.Store) {
		createUsers(t, s, "alice@example.com")
		const missing = 1000000000000404
		name := "nobody"
		for _, c := range []struct {
			name string
			op   func(kiln.Tx) error
		}{
			{"Principal", func(tx kiln.Tx) error { _, err := tx.Principal(missing); return err }},
			{"PrincipalByName", func(tx kiln.Tx) error { _, err := tx.PrincipalByName("bob@example.com"); return err }},
			{"UpdatePrincipal", func(tx kiln.Tx) error {
				return tx.UpdatePrincipal(missing, kiln.PrincipalUpdate{DisplayName: &name})
			}},
			{"UpdatePrincipalNoFields", func(tx kiln.Tx) error { return tx.UpdatePrincipal(missing, kiln.PrincipalUpdate{}) }},
			{"DeletePrincipal", func(tx kiln.Tx) error { return tx.DeletePrincipal(missing) }},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, c.name, s.Update(ctx(t), c.op), kiln.ENotFound)
			})
		}
	}},
	{"Principal/ListFiltersPagesAndCounts", func(t *testing.T, s kiln.Store) {
		// Ids ascending in creation order, so that id order is known.
		specs := []struct {
			kind    kiln.PrincipalKind
			name    string
			display string
		}{
			{kiln.KindUser, "alice@example.com", "Alice"},
			{kiln.KindUser, "Bob@example.com", "Shared"},
			{kiln.KindServicePrincipal, "11111111-0000-0000-0000-000000000000", "Shared"},
			{kiln.KindUser, "carol@example.com", "Carol"},
			{kiln.KindServicePrincipal, "22222222-0000-0000-0000-000000000000", "Deployer"},
		}
		ids := make([]int64, len(specs))
		update(t, s, func(tx kiln.Tx) error {
			for i, sp := range specs {
				p := &kiln.Principal{ID: minID + int64(i), Kind: sp.kind, UserName: sp.name, DisplayName: sp.display, Active: true}
				if err := tx.CreatePrincipal(p); err != nil {
					return err
				}
				ids[i] = p.ID
			}
			return nil
		})
		for _, c := range []struct {
			name      string
			f         kiln.PrincipalFilter
			want      []int64
			wantTotal int
		}{
			{"All", kiln.PrincipalFilter{}, ids, 5},
			{"ByKind", kiln.PrincipalFilter{Kind: kiln.KindServicePrincipal}, []int64{ids[2], ids[4]}, 2},
			{"ByUserNameInAnyCase", kiln.PrincipalFilter{UserName: "BOB@EXAMPLE.COM"}, []int64{ids[1]}, 1},
			{"ByDisplayName", kiln.PrincipalFilter{DisplayName: "Shared"}, []int64{ids[1], ids[2]}, 2},
			{"ByDisplayNameIsExact", kiln.PrincipalFilter{DisplayName: "shared"}, []int64{}, 0},
			{"KindAndDisplayName", kiln.PrincipalFilter{Kind: kiln.KindUser, DisplayName: "Shared"}, []int64{ids[1]}, 1},
			{"NoMatch", kiln.PrincipalFilter{UserName: "nobody@example.com"}, []int64{}, 0},
			{"FirstPage", kiln.PrincipalFilter{Limit: 2}, ids[:2], 5},
			{"MiddlePage", kiln.PrincipalFilter{Offset: 1, Limit: 2}, ids[1:3], 5},
			{"LastPartialPage", kiln.PrincipalFilter{Offset: 4, Limit: 2}, ids[4:], 5},
			{"OffsetWithoutLimit", kiln.PrincipalFilter{Offset: 3}, ids[3:], 5},
			{"OffsetPastEnd", kiln.PrincipalFilter{Offset: 9, Limit: 2}, []int64{}, 5},
			{"FilteredPage", kiln.PrincipalFilter{Kind: kiln.KindUser, Offset: 1, Limit: 1}, []int64{ids[1]}, 3},
		} {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					ps, total, err := tx.Principals(c.f)
					if err != nil {
						t.Fatalf("Principals: %v", err)
					}
					if got := principalIDs(ps); !slices.Equal(got, c.want) || total != c.wantTotal {
						t.Errorf("got %v total %d, want %v total %d", got, total, c.want, c.wantTotal)
					}
					return nil
				})
			})
		}
	}},
	{"Principal/ReadsFillGroups", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "alice@example.com", "bob@example.com")
		var admins, users *kiln.Group
		update(t, s, func(tx kiln.Tx) error {
			users = &kiln.Group{DisplayName: kiln.GroupUsers, Builtin: true, Members: []kiln.Member{{ID: ps[0].ID}, {ID: ps[1].ID}}}
			admins = &kiln.Group{DisplayName: kiln.GroupAdmins, Builtin: true, Members: []kiln.Member{{ID: ps[0].ID}}}
			if err := tx.CreateGroup(users); err != nil {
				return err
			}
			return tx.CreateGroup(admins)
		})
		alice := []kiln.GroupRef{{ID: admins.ID, Name: "admins"}, {ID: users.ID, Name: "users"}}
		bob := []kiln.GroupRef{{ID: users.ID, Name: "users"}}
		view(t, s, func(tx kiln.Tx) error {
			list, _, err := tx.Principals(kiln.PrincipalFilter{})
			if err != nil {
				t.Fatalf("Principals: %v", err)
			}
			byID, err := tx.Principal(ps[0].ID)
			if err != nil {
				t.Fatalf("Principal: %v", err)
			}
			byName, err := tx.PrincipalByName("bob@example.com")
			if err != nil {
				t.Fatalf("PrincipalByName: %v", err)
			}
			for _, got := range append(list, byID, byName) {
				want := bob
				if got.ID == ps[0].ID {
					want = alice
				}
				if !sameGroupRefs(got.Groups, want) {
					t.Errorf("%s Groups: got %+v, want %+v (in any order)", got.UserName, got.Groups, want)
				}
			}
			if !byID.IsAdmin() {
				t.Errorf("IsAdmin of alice: got false, want true")
			}
			return nil
		})
	}},
	{"Principal/CreateJoinsGivenGroups", func(t *testing.T, s kiln.Store) {
		g := &kiln.Group{DisplayName: kiln.GroupUsers, Builtin: true}
		update(t, s, func(tx kiln.Tx) error { return tx.CreateGroup(g) })
		p := user("alice@example.com")
		p.Groups = []kiln.GroupRef{{ID: g.ID}}
		update(t, s, func(tx kiln.Tx) error { return tx.CreatePrincipal(p) })
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Principal(p.ID)
			if err != nil {
				t.Fatalf("Principal: %v", err)
			}
			if want := []kiln.GroupRef{{ID: g.ID, Name: kiln.GroupUsers}}; !sameGroupRefs(got.Groups, want) {
				t.Errorf("Groups: got %+v, want %+v", got.Groups, want)
			}
			return nil
		})
		err := s.Update(ctx(t), func(tx kiln.Tx) error {
			q := user("bob@example.com")
			q.Groups = []kiln.GroupRef{{ID: 1000000000000404}}
			return tx.CreatePrincipal(q)
		})
		wantCode(t, "CreatePrincipal into a missing group", err, kiln.ENotFound)
	}},
	{"Principal/UpdateChangesOnlyGivenFields", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		display, inactive := "Alice A.", false
		update(t, s, func(tx kiln.Tx) error {
			return tx.UpdatePrincipal(p.ID, kiln.PrincipalUpdate{DisplayName: &display, Active: &inactive})
		})
		want := normPrincipal(p)
		want.DisplayName, want.Active = display, false
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Principal(p.ID)
			if err != nil {
				t.Fatalf("Principal: %v", err)
			}
			if g := normPrincipal(got); !reflect.DeepEqual(g, want) {
				t.Errorf("got %+v, want %+v", g, want)
			}
			return nil
		})
	}},
	{"Principal/PasswordUpdateStampsPasswordChanged", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		if !p.PasswordChanged.IsZero() {
			t.Fatalf("PasswordChanged before any password: got %v, want zero", p.PasswordChanged)
		}
		hash := "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$bmV3"
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			return tx.UpdatePrincipal(p.ID, kiln.PrincipalUpdate{PasswordHash: &hash})
		})
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Principal(p.ID)
			if err != nil {
				t.Fatalf("Principal: %v", err)
			}
			if got.PasswordHash != hash || !got.PasswordChanged.Equal(now) {
				t.Errorf("got hash %q changed %v, want %q changed %v", got.PasswordHash, got.PasswordChanged, hash, now)
			}
			return nil
		})
	}},
	{"Principal/DeleteCascadesToMembershipsAndOwnedTokens", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "alice@example.com", "admin@example.com")
		alice, admin := ps[0], ps[1]
		g := &kiln.Group{DisplayName: "team", Members: []kiln.Member{{ID: alice.ID}, {ID: admin.ID}}}
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateGroup(g); err != nil {
				return err
			}
			for _, tk := range []*kiln.Token{
				newToken(1, alice.ID, alice.ID), newToken(2, alice.ID, admin.ID), // owned by alice
				newToken(3, admin.ID, admin.ID), // the admin's own
			} {
				if err := tx.CreateToken(tk); err != nil {
					return err
				}
			}
			return nil
		})
		update(t, s, func(tx kiln.Tx) error { return tx.DeletePrincipal(admin.ID) })
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.Principal(admin.ID)
			wantCode(t, "Principal after delete", err, kiln.ENotFound)
			got, err := tx.Group(g.ID)
			if err != nil {
				t.Fatalf("Group: %v", err)
			}
			if len(got.Members) != 1 || got.Members[0].ID != alice.ID {
				t.Errorf("Members after deleting admin: got %+v, want only alice", got.Members)
			}
			_, err = tx.Token(tokenID(3))
			wantCode(t, "Token owned by the deleted principal", err, kiln.ENotFound)
			tks, err := tx.Tokens(kiln.TokenFilter{})
			if err != nil {
				t.Fatalf("Tokens: %v", err)
			}
			if got, want := tokenIDs(tks), []string{tokenID(1), tokenID(2)}; !slices.Equal(got, want) {
				t.Errorf("Tokens: got %v, want %v", got, want)
			}
			// The token the admin minted for alice is alice's: it stays,
			// without a creator name.
			obo, err := tx.Token(tokenID(2))
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if obo.CreatedByID != admin.ID || obo.CreatedByName != "" {
				t.Errorf("on-behalf token: got created by %d %q, want %d %q", obo.CreatedByID, obo.CreatedByName, admin.ID, "")
			}
			return nil
		})
	}},
}

// sameGroupRefs compares group lists in any order: the contract fixes none.
func sameGroupRefs(got, want []kiln.GroupRef) bool {
	byID := func(a, b kiln.GroupRef) int { return cmp.Compare(a.ID, b.ID) }
	g, w := slices.Clone(got), slices.Clone(want)
	slices.SortFunc(g, byID)
	slices.SortFunc(w, byID)
	return slices.Equal(g, w)
}
