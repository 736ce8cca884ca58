package conformance

import (
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

func ipList(id, label, typ string, addrs ...string) *kiln.IPAccessList {
	return &kiln.IPAccessList{ID: id, Label: label, ListType: typ, Addresses: addrs, Enabled: true, CreatedBy: 7, UpdatedBy: 7}
}

func ipListIDs(ls []*kiln.IPAccessList) []string {
	ids := []string{}
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	return ids
}

func sameIPList(a, b *kiln.IPAccessList) bool {
	return a.ID == b.ID && a.Label == b.Label && a.ListType == b.ListType && slices.Equal(a.Addresses, b.Addresses) &&
		a.Enabled == b.Enabled && a.Created.Equal(b.Created) && a.CreatedBy == b.CreatedBy &&
		a.Updated.Equal(b.Updated) && a.UpdatedBy == b.UpdatedBy
}

var ipAccessListTests = []test{
	{"IPAccessLists/EmptyBeforeAnyCreate", func(t *testing.T, s kiln.Store) {
		view(t, s, func(tx kiln.Tx) error {
			ls, err := tx.IPAccessLists()
			if err != nil || ls == nil || len(ls) != 0 {
				t.Errorf("IPAccessLists: got %v, %v, want an empty list", ls, err)
			}
			_, err = tx.IPAccessList("nope")
			wantCode(t, "IPAccessList of a missing id", err, kiln.ENotFound)
			return nil
		})
	}},
	{"IPAccessLists/CreateRoundTripsAndStampsTimes", func(t *testing.T, s kiln.Store) {
		l := ipList("a", "office", kiln.IPAllow, "192.0.2.1", "198.51.100.0/24", "2001:db8::/32")
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			return tx.CreateIPAccessList(l)
		})
		if !l.Created.Equal(now) || !l.Updated.Equal(now) {
			t.Errorf("times written back: created %v updated %v, want %v", l.Created, l.Updated, now)
		}
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.IPAccessList("a")
			if err != nil || !sameIPList(got, l) {
				t.Errorf("IPAccessList: got %+v, %v, want %+v", got, err, l)
			}
			return nil
		})
	}},
	{"IPAccessLists/DuplicateIDConflicts", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error { return tx.CreateIPAccessList(ipList("a", "x", kiln.IPAllow, "192.0.2.1")) })
		update(t, s, func(tx kiln.Tx) error {
			wantCode(t, "second CreateIPAccessList", tx.CreateIPAccessList(ipList("a", "y", kiln.IPBlock, "192.0.2.2")), kiln.EConflict)
			return nil
		})
	}},
	{"IPAccessLists/ListIsOldestFirst", func(t *testing.T, s kiln.Store) {
		for i, id := range []string{"c", "a", "b"} {
			l := ipList(id, id, kiln.IPBlock, "192.0.2.1")
			l.Created = t0.Add(time.Duration(i) * time.Second)
			update(t, s, func(tx kiln.Tx) error { return tx.CreateIPAccessList(l) })
		}
		view(t, s, func(tx kiln.Tx) error {
			ls, err := tx.IPAccessLists()
			if got := ipListIDs(ls); err != nil || !slices.Equal(got, []string{"c", "a", "b"}) {
				t.Errorf("IPAccessLists: got %v, %v, want [c a b]", got, err)
			}
			return nil
		})
	}},
	{"IPAccessLists/UpdateReplacesMutableFields", func(t *testing.T, s kiln.Store) {
		orig := ipList("a", "office", kiln.IPAllow, "192.0.2.1")
		orig.Created = t0
		update(t, s, func(tx kiln.Tx) error { return tx.CreateIPAccessList(orig) })
		changed := &kiln.IPAccessList{ID: "a", Label: "vpn", ListType: kiln.IPBlock, Addresses: []string{"203.0.113.0/24"}, UpdatedBy: 9}
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			return tx.UpdateIPAccessList(changed)
		})
		want := &kiln.IPAccessList{ID: "a", Label: "vpn", ListType: kiln.IPBlock, Addresses: []string{"203.0.113.0/24"},
			Created: t0, CreatedBy: 7, Updated: now, UpdatedBy: 9}
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.IPAccessList("a")
			if err != nil || !sameIPList(got, want) {
				t.Errorf("after update: got %+v, %v, want %+v", got, err, want)
			}
			return nil
		})
		update(t, s, func(tx kiln.Tx) error {
			wantCode(t, "UpdateIPAccessList of a missing id", tx.UpdateIPAccessList(&kiln.IPAccessList{ID: "nope", ListType: kiln.IPAllow}), kiln.ENotFound)
			return nil
		})
	}},
	{"IPAccessLists/DeleteRemovesOnlyThatList", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateIPAccessList(ipList("a", "a", kiln.IPAllow, "192.0.2.1")); err != nil {
				return err
			}
			return tx.CreateIPAccessList(ipList("b", "b", kiln.IPBlock, "192.0.2.2"))
		})
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteIPAccessList("a") })
		update(t, s, func(tx kiln.Tx) error {
			wantCode(t, "second DeleteIPAccessList", tx.DeleteIPAccessList("a"), kiln.ENotFound)
			return nil
		})
		view(t, s, func(tx kiln.Tx) error {
			ls, err := tx.IPAccessLists()
			if got := ipListIDs(ls); err != nil || !slices.Equal(got, []string{"b"}) {
				t.Errorf("IPAccessLists: got %v, %v, want [b]", got, err)
			}
			return nil
		})
	}},
	{"IPAccessLists/WritesFailInAView", func(t *testing.T, s kiln.Store) {
		view(t, s, func(tx kiln.Tx) error {
			wantCode(t, "CreateIPAccessList in a View", tx.CreateIPAccessList(ipList("a", "a", kiln.IPAllow, "192.0.2.1")), kiln.EInternal)
			wantCode(t, "UpdateIPAccessList in a View", tx.UpdateIPAccessList(ipList("a", "a", kiln.IPAllow)), kiln.EInternal)
			wantCode(t, "DeleteIPAccessList in a View", tx.DeleteIPAccessList("a"), kiln.EInternal)
			return nil
		})
	}},
}
