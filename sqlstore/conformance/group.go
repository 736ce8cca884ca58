package conformance

import (
	"cmp"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

var groupTests = []test{
	{"Group/CreateWithMembersReadsBack", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "bob@example.com", "alice@example.com")
		var sp *kiln.Principal
		update(t, s, func(tx kiln.Tx) error {
			sp = &kiln.Principal{Kind: kiln.KindServicePrincipal, UserName: "9d3b0c4e-0000-4000-8000-000000000001", DisplayName: "deployer", Active: true}
			return tx.CreatePrincipal(sp)
		})
		g := &kiln.Group{DisplayName: "team", Members: []kiln.Member{{ID: ps[0].ID}, {ID: ps[1].ID}, {ID: sp.ID}}}
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			return tx.CreateGroup(g)
		})
		if g.ID < minID || g.ID >= maxID {
			t.Errorf("ID: got %d, want in [10^15, 2^53)", g.ID)
		}
		if !g.Created.Equal(now) {
			t.Errorf("Created: got %v, want the transaction time %v", g.Created, now)
		}
		want := kiln.Group{ID: g.ID, DisplayName: "team", Created: now, Members: []kiln.Member{
			{ID: ps[0].ID, Kind: kiln.KindUser, UserName: "bob@example.com", Display: "bob@example.com"},
			{ID: ps[1].ID, Kind: kiln.KindUser, UserName: "alice@example.com", Display: "alice@example.com"},
			{ID: sp.ID, Kind: kiln.KindServicePrincipal, UserName: sp.UserName, Display: "deployer"},
		}}
		view(t, s, func(tx kiln.Tx) error {
			byID, err := tx.Group(g.ID)
			if err != nil {
				t.Fatalf("Group: %v", err)
			}
			byName, err := tx.GroupByName("team")
			if err != nil {
				t.Fatalf("GroupByName: %v", err)
			}
			list, _, err := tx.Groups(kiln.GroupFilter{})
			if err != nil || len(list) != 1 {
				t.Fatalf("Groups: got %d groups, %v, want 1", len(list), err)
			}
			for _, got := range []*kiln.Group{byID, byName, list[0]} {
				if g, w := sortedMembers(normGroup(got)), sortedMembers(want); !reflect.DeepEqual(g, w) {
					t.Errorf("got %+v, want %+v", g, w)
				}
			}
			return nil
		})
	}},
	{"Group/TakenNameConflicts", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error { return tx.CreateGroup(&kiln.Group{DisplayName: "team"}) })
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateGroup(&kiln.Group{DisplayName: "team"}) })
		wantCode(t, "CreateGroup with a taken name", err, kiln.EConflict)
	}},
	{"Group/CreateWithMissingMemberIsNotFoundAndWritesNothing", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		err := s.Update(ctx(t), func(tx kiln.Tx) error {
			return tx.CreateGroup(&kiln.Group{DisplayName: "team", Members: []kiln.Member{{ID: p.ID}, {ID: 1000000000000404}}})
		})
		wantCode(t, "CreateGroup with a missing member", err, kiln.ENotFound)
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.GroupByName("team")
			wantCode(t, "GroupByName after the failed Update", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Group/MissingIsNotFound", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		const missing = 1000000000000404
		for _, c := range []struct {
			name string
			op   func(kiln.Tx) error
		}{
			{"Group", func(tx kiln.Tx) error { _, err := tx.Group(missing); return err }},
			{"GroupByName", func(tx kiln.Tx) error { _, err := tx.GroupByName("nobody"); return err }},
			{"RenameGroup", func(tx kiln.Tx) error { return tx.RenameGroup(missing, "x") }},
			{"DeleteGroup", func(tx kiln.Tx) error { return tx.DeleteGroup(missing) }},
			{"AddMemberToMissingGroup", func(tx kiln.Tx) error { return tx.AddMember(missing, p.ID) }},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, c.name, s.Update(ctx(t), c.op), kiln.ENotFound)
			})
		}
	}},
	{"Group/AddMissingMemberIsNotFound", func(t *testing.T, s kiln.Store) {
		g := &kiln.Group{DisplayName: "team"}
		update(t, s, func(tx kiln.Tx) error { return tx.CreateGroup(g) })
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.AddMember(g.ID, 1000000000000404) })
		wantCode(t, "AddMember of a missing principal", err, kiln.ENotFound)
	}},
	{"Group/AddMemberTwiceIsNoOp", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		g := &kiln.Group{DisplayName: "team"}
		update(t, s, func(tx kiln.Tx) error { return tx.CreateGroup(g) })
		for i := range 2 {
			update(t, s, func(tx kiln.Tx) error { return tx.AddMember(g.ID, p.ID) })
			wantMembers(t, s, g.ID, []int64{p.ID}, "after AddMember #%d", i+1)
		}
	}},
	{"Group/RemoveMemberWhenNotMemberIsNoOp", func(t *testing.T, s kiln.Store) {
		ps := createUsers(t, s, "alice@example.com", "bob@example.com")
		g := &kiln.Group{DisplayName: "team", Members: []kiln.Member{{ID: ps[0].ID}}}
		update(t, s, func(tx kiln.Tx) error { return tx.CreateGroup(g) })
		update(t, s, func(tx kiln.Tx) error { return tx.RemoveMember(g.ID, ps[1].ID) })
		wantMembers(t, s, g.ID, []int64{ps[0].ID}, "after removing a non-member")
		update(t, s, func(tx kiln.Tx) error { return tx.RemoveMember(g.ID, ps[0].ID) })
		wantMembers(t, s, g.ID, []int64{}, "after removing the member")
		update(t, s, func(tx kiln.Tx) error { return tx.RemoveMember(g.ID, ps[0].ID) })
	}},
	{"Group/RenameShowsInMembersGroupsAndTakenNameConflicts", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		g := &kiln.Group{DisplayName: "team", Members: []kiln.Member{{ID: p.ID}}}
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateGroup(&kiln.Group{DisplayName: "other"}); err != nil {
				return err
			}
			return tx.CreateGroup(g)
		})
		update(t, s, func(tx kiln.Tx) error { return tx.RenameGroup(g.ID, "crew") })
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Principal(p.ID)
			if err != nil {
				t.Fatalf("Principal: %v", err)
			}
			if want := []kiln.GroupRef{{ID: g.ID, Name: "crew"}}; !sameGroupRefs(got.Groups, want) {
				t.Errorf("Groups after rename: got %+v, want %+v", got.Groups, want)
			}
			_, err = tx.GroupByName("team")
			wantCode(t, "GroupByName of the old name", err, kiln.ENotFound)
			return nil
		})
		wantMembers(t, s, g.ID, []int64{p.ID}, "after rename")
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.RenameGroup(g.ID, "other") })
		wantCode(t, "RenameGroup to a taken name", err, kiln.EConflict)
	}},
	{"Group/DeleteRemovesMembershipsNotPrincipals", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		g := &kiln.Group{DisplayName: "team", Members: []kiln.Member{{ID: p.ID}}}
		update(t, s, func(tx kiln.Tx) error { return tx.CreateGroup(g) })
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteGroup(g.ID) })
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.Group(g.ID)
			wantCode(t, "Group after delete", err, kiln.ENotFound)
			got, err := tx.Principal(p.ID)
			if err != nil {
				t.Fatalf("Principal after deleting its group: %v", err)
			}
			if len(got.Groups) != 0 {
				t.Errorf("Groups: got %+v, want none", got.Groups)
			}
			return nil
		})
	}},
	{"Group/ListFiltersPagesAndCounts", func(t *testing.T, s kiln.Store) {
		names := []string{"admins", "users", "team-a", "team-b"}
		ids := make([]int64, len(names))
		update(t, s, func(tx kiln.Tx) error {
			for i, n := range names {
				g := &kiln.Group{ID: minID + int64(i), DisplayName: n}
				if err := tx.CreateGroup(g); err != nil {
					return err
				}
				ids[i] = g.ID
			}
			return nil
		})
		for _, c := range []struct {
			name      string
			f         kiln.GroupFilter
			want      []int64
			wantTotal int
		}{
			{"All", kiln.GroupFilter{}, ids, 4},
			{"ByName", kiln.GroupFilter{DisplayName: "team-b"}, ids[3:], 1},
			{"NoMatch", kiln.GroupFilter{DisplayName: "nobody"}, []int64{}, 0},
			{"Page", kiln.GroupFilter{Offset: 1, Limit: 2}, ids[1:3], 4},
			{"OffsetPastEnd", kiln.GroupFilter{Offset: 4, Limit: 2}, []int64{}, 4},
		} {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					gs, total, err := tx.Groups(c.f)
					if err != nil {
						t.Fatalf("Groups: %v", err)
					}
					if got := groupIDs(gs); !slices.Equal(got, c.want) || total != c.wantTotal {
						t.Errorf("got %v total %d, want %v total %d", got, total, c.want, c.wantTotal)
					}
					return nil
				})
			})
		}
	}},
}

// wantMembers fails unless the group's member ids are want, in any order.
func wantMembers(t *testing.T, s kiln.Store, groupID int64, want []int64, when string, args ...any) {
	t.Helper()
	view(t, s, func(tx kiln.Tx) error {
		g, err := tx.Group(groupID)
		if err != nil {
			t.Fatalf("Group: %v", err)
		}
		got := []int64{}
		for _, m := range g.Members {
			got = append(got, m.ID)
		}
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Errorf("members "+when+": got %v, want %v", append(args, got, want)...)
		}
		return nil
	})
}

// sortedMembers orders members by id: the contract fixes no order.
func sortedMembers(g kiln.Group) kiln.Group {
	g.Members = slices.Clone(g.Members)
	slices.SortFunc(g.Members, func(a, b kiln.Member) int { return cmp.Compare(a.ID, b.ID) })
	return g
}
