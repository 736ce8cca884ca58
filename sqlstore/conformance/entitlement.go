package conformance

import (
	"fmt"
	"slices"
	"testing"

	"github.com/kiln-dev/kiln"
)

// entitlementRead reads one owner's entitlements one way.
type entitlementRead struct {
	name string
	read func(tx kiln.Tx) ([]string, error)
}

// wantEntitlements fails unless every read returns want.
func wantEntitlements(t *testing.T, s kiln.Store, want []string, when string, reads []entitlementRead) {
	t.Helper()
	view(t, s, func(tx kiln.Tx) error {
		for _, r := range reads {
			got, err := r.read(tx)
			if err != nil {
				t.Fatalf("%s: %s: %v", when, r.name, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s: entitlements %q, want %q", when, r.name, got, want)
			}
		}
		return nil
	})
}

// inList finds the entitlements of the owner id in a list.
func inList[T any](list []T, err error, id func(T) int64, ents func(T) []string, want int64) ([]string, error) {
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(list, func(v T) bool { return id(v) == want })
	if i < 0 {
		return nil, fmt.Errorf("%d is not in the list", want)
	}
	return ents(list[i]), nil
}

// wantPrincipalEntitlements reads the principal by id, by name and in a
// list, and fails unless each carries want.
func wantPrincipalEntitlements(t *testing.T, s kiln.Store, p *kiln.Principal, want []string, when string) {
	t.Helper()
	ents := func(p *kiln.Principal, err error) ([]string, error) {
		if err != nil {
			return nil, err
		}
		return p.Entitlements, nil
	}
	wantEntitlements(t, s, want, when, []entitlementRead{
		{"Principal", func(tx kiln.Tx) ([]string, error) { return ents(tx.Principal(p.ID)) }},
		{"PrincipalByName", func(tx kiln.Tx) ([]string, error) { return ents(tx.PrincipalByName(p.UserName)) }},
		{"Principals", func(tx kiln.Tx) ([]string, error) {
			list, _, err := tx.Principals(kiln.PrincipalFilter{})
			return inList(list, err, func(q *kiln.Principal) int64 { return q.ID }, func(q *kiln.Principal) []string { return q.Entitlements }, p.ID)
		}},
	})
}

// wantGroupEntitlements reads the group three ways, as above.
func wantGroupEntitlements(t *testing.T, s kiln.Store, g *kiln.Group, want []string, when string) {
	t.Helper()
	ents := func(g *kiln.Group, err error) ([]string, error) {
		if err != nil {
			return nil, err
		}
		return g.Entitlements, nil
	}
	wantEntitlements(t, s, want, when, []entitlementRead{
		{"Group", func(tx kiln.Tx) ([]string, error) { return ents(tx.Group(g.ID)) }},
		{"GroupByName", func(tx kiln.Tx) ([]string, error) { return ents(tx.GroupByName(g.DisplayName)) }},
		{"Groups", func(tx kiln.Tx) ([]string, error) {
			list, _, err := tx.Groups(kiln.GroupFilter{})
			return inList(list, err, func(q *kiln.Group) int64 { return q.ID }, func(q *kiln.Group) []string { return q.Entitlements }, g.ID)
		}},
	})
}

var entitlementTests = []test{
	{"Entitlement/PrincipalCreateSetReadBack", func(t *testing.T, s kiln.Store) {
		other := createUsers(t, s, "other@example.com")[0]
		p := user("alice@example.com")
		p.Entitlements = []string{kiln.EntitlementWorkspaceAccess, kiln.EntitlementClusterCreate, kiln.EntitlementClusterCreate}
		update(t, s, func(tx kiln.Tx) error { return tx.CreatePrincipal(p) })
		want := []string{kiln.EntitlementClusterCreate, kiln.EntitlementWorkspaceAccess}
		if !slices.Equal(p.Entitlements, want) {
			t.Errorf("CreatePrincipal wrote back %q, want %q", p.Entitlements, want)
		}
		wantPrincipalEntitlements(t, s, p, want, "after create")
		wantPrincipalEntitlements(t, s, other, nil, "a principal created without any")

		update(t, s, func(tx kiln.Tx) error {
			return tx.SetPrincipalEntitlements(p.ID, []string{kiln.EntitlementSQLAccess, kiln.EntitlementInstancePoolCreate})
		})
		wantPrincipalEntitlements(t, s, p, []string{kiln.EntitlementInstancePoolCreate, kiln.EntitlementSQLAccess}, "after a replace")
		wantPrincipalEntitlements(t, s, other, nil, "another principal after a replace")

		update(t, s, func(tx kiln.Tx) error { return tx.SetPrincipalEntitlements(p.ID, nil) })
		wantPrincipalEntitlements(t, s, p, nil, "after clearing")
	}},
	{"Entitlement/GroupCreateSetReadBack", func(t *testing.T, s kiln.Store) {
		plain := &kiln.Group{DisplayName: "plain"}
		g := &kiln.Group{DisplayName: "team", Entitlements: []string{kiln.EntitlementWorkspaceAccess, kiln.EntitlementSQLAccess}}
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateGroup(plain); err != nil {
				return err
			}
			return tx.CreateGroup(g)
		})
		want := []string{kiln.EntitlementSQLAccess, kiln.EntitlementWorkspaceAccess}
		if !slices.Equal(g.Entitlements, want) {
			t.Errorf("CreateGroup wrote back %q, want %q", g.Entitlements, want)
		}
		wantGroupEntitlements(t, s, g, want, "after create")
		wantGroupEntitlements(t, s, plain, nil, "a group created without any")

		update(t, s, func(tx kiln.Tx) error {
			return tx.SetGroupEntitlements(g.ID, []string{kiln.EntitlementClusterCreate, kiln.EntitlementClusterCreate})
		})
		wantGroupEntitlements(t, s, g, []string{kiln.EntitlementClusterCreate}, "after a replace")
		update(t, s, func(tx kiln.Tx) error { return tx.SetGroupEntitlements(g.ID, []string{}) })
		wantGroupEntitlements(t, s, g, nil, "after clearing")
	}},
	{"Entitlement/MissingOwnerIsNotFound", func(t *testing.T, s kiln.Store) {
		const missing = 1000000000000404
		err := s.Update(ctx(t), func(tx kiln.Tx) error {
			return tx.SetPrincipalEntitlements(missing, []string{kiln.EntitlementWorkspaceAccess})
		})
		wantCode(t, "SetPrincipalEntitlements of a missing principal", err, kiln.ENotFound)
		err = s.Update(ctx(t), func(tx kiln.Tx) error {
			return tx.SetGroupEntitlements(missing, []string{kiln.EntitlementWorkspaceAccess})
		})
		wantCode(t, "SetGroupEntitlements of a missing group", err, kiln.ENotFound)
	}},
	{"Entitlement/GoWithTheirOwner", func(t *testing.T, s kiln.Store) {
		p := user("gone@example.com")
		p.Entitlements = []string{kiln.EntitlementWorkspaceAccess}
		g := &kiln.Group{DisplayName: "gone", Entitlements: []string{kiln.EntitlementSQLAccess}}
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreatePrincipal(p); err != nil {
				return err
			}
			return tx.CreateGroup(g)
		})
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.DeletePrincipal(p.ID); err != nil {
				return err
			}
			return tx.DeleteGroup(g.ID)
		})
		// A new owner with the same id starts with nothing.
		again := user("again@example.com")
		again.ID = p.ID
		regrouped := &kiln.Group{ID: g.ID, DisplayName: "gone"}
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreatePrincipal(again); err != nil {
				return err
			}
			return tx.CreateGroup(regrouped)
		})
		wantPrincipalEntitlements(t, s, again, nil, "a principal reusing a deleted one's id")
		wantGroupEntitlements(t, s, regrouped, nil, "a group reusing a deleted one's id")
	}},
	{"Entitlement/SetFailsInView", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		err := s.View(ctx(t), func(tx kiln.Tx) error {
			return tx.SetPrincipalEntitlements(p.ID, []string{kiln.EntitlementWorkspaceAccess})
		})
		if err == nil {
			t.Fatal("SetPrincipalEntitlements succeeded in a View")
		}
		wantPrincipalEntitlements(t, s, p, nil, "after the refused View")
	}},
}
