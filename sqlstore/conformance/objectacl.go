package conformance

import (
	"slices"
	"strconv"
	"testing"

	"github.com/kiln-dev/kiln"
)

var objectACLTests = []test{
	{"ObjectACL/EmptyBeforeAnySet", func(t *testing.T, s kiln.Store) {
		view(t, s, func(tx kiln.Tx) error {
			acl, err := tx.ObjectACL(kiln.ObjectTypeJobs, "1")
			if err != nil || acl == nil || len(acl) != 0 {
				t.Errorf("ObjectACL: got %#v, %v, want an empty list", acl, err)
			}
			return nil
		})
	}},
	{"ObjectACL/SetReplacesPerObject", func(t *testing.T, s kiln.Store) {
		first := []kiln.ACLEntry{
			{UserName: "alice@example.com", Level: kiln.LevelCanView},
			{GroupName: "data", Level: kiln.LevelCanManageRun},
			{ServicePrincipalName: "9f0c7a10-5ad1-4f3e-8b8e-4a6f0e1d2c3b", Level: kiln.LevelCanManage},
		}
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.SetObjectACL(kiln.ObjectTypeJobs, "1", first); err != nil {
				return err
			}
			return tx.SetObjectACL(kiln.ObjectTypeJobs, "2", []kiln.ACLEntry{{UserName: "bob@example.com", Level: kiln.LevelCanView}})
		})
		wantACL(t, s, "1", first...)
		// Replacing one object's list leaves the others; a grantee named
		// twice keeps the last level.
		update(t, s, func(tx kiln.Tx) error {
			return tx.SetObjectACL(kiln.ObjectTypeJobs, "1", []kiln.ACLEntry{
				{UserName: "alice@example.com", Level: kiln.LevelCanView},
				{UserName: "alice@example.com", Level: kiln.LevelCanManage},
			})
		})
		wantACL(t, s, "1", kiln.ACLEntry{UserName: "alice@example.com", Level: kiln.LevelCanManage})
		wantACL(t, s, "2", kiln.ACLEntry{UserName: "bob@example.com", Level: kiln.LevelCanView})
		update(t, s, func(tx kiln.Tx) error { return tx.SetObjectACL(kiln.ObjectTypeJobs, "1", nil) })
		wantACL(t, s, "1")
	}},
	{"ObjectACL/RenameAndDropGrantee", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.SetObjectACL(kiln.ObjectTypeJobs, "1", []kiln.ACLEntry{
				{GroupName: "old", Level: kiln.LevelCanView}, {GroupName: "new", Level: kiln.LevelCanManage},
				{UserName: "old", Level: kiln.LevelCanManageRun},
			}); err != nil {
				return err
			}
			return tx.SetObjectACL(kiln.ObjectTypeJobs, "2", []kiln.ACLEntry{{GroupName: "old", Level: kiln.LevelCanView}})
		})
		// A rename onto a name that already holds a grant keeps that one;
		// a user of the same name is another grantee.
		update(t, s, func(tx kiln.Tx) error { return tx.RenameObjectGrantee("group", "old", "new") })
		wantACL(t, s, "1", kiln.ACLEntry{GroupName: "new", Level: kiln.LevelCanManage}, kiln.ACLEntry{UserName: "old", Level: kiln.LevelCanManageRun})
		wantACL(t, s, "2", kiln.ACLEntry{GroupName: "new", Level: kiln.LevelCanView})
		update(t, s, func(tx kiln.Tx) error { return tx.RenameObjectGrantee("group", "new", "") })
		wantACL(t, s, "1", kiln.ACLEntry{UserName: "old", Level: kiln.LevelCanManageRun})
		wantACL(t, s, "2")
	}},
	{"Jobs/ListGrantedTo", func(t *testing.T, s kiln.Store) {
		us := createUsers(t, s, "alice@example.com", "bob@example.com")
		a, b1, b2, b3 := newJob("a", us[0].ID), newJob("b1", us[1].ID), newJob("b2", us[1].ID), newJob("b3", us[1].ID)
		createJobs(t, s, a, b1, b2, b3)
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.SetObjectACL(kiln.ObjectTypeJobs, strconv.FormatInt(b1.ID, 10), []kiln.ACLEntry{{UserName: "alice@example.com", Level: kiln.LevelCanView}}); err != nil {
				return err
			}
			if err := tx.SetObjectACL(kiln.ObjectTypeJobs, strconv.FormatInt(b3.ID, 10), []kiln.ACLEntry{{GroupName: "data", Level: kiln.LevelCanView}}); err != nil {
				return err
			}
			// A grant on another type of object with the same id is not one.
			return tx.SetObjectACL("clusters", strconv.FormatInt(b2.ID, 10), []kiln.ACLEntry{{UserName: "alice@example.com", Level: kiln.LevelCanManage}})
		})
		for _, c := range []struct {
			name string
			to   []kiln.Grantee
			want []int64
		}{
			{"User", []kiln.Grantee{{Kind: "user", Name: "alice@example.com"}}, []int64{a.ID, b1.ID}},
			{"UserAndGroup", []kiln.Grantee{{Kind: "user", Name: "alice@example.com"}, {Kind: "group", Name: "data"}}, []int64{a.ID, b1.ID, b3.ID}},
			{"KindMatters", []kiln.Grantee{{Kind: "group", Name: "alice@example.com"}}, []int64{a.ID}},
		} {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					js, err := tx.Jobs(kiln.JobFilter{CreatorID: us[0].ID, GrantedTo: c.to})
					if err != nil {
						return err
					}
					if got := jobIDs(js); !slices.Equal(got, c.want) {
						t.Errorf("got %v, want %v", got, c.want)
					}
					return nil
				})
			})
		}
	}},
}

// wantACL fails unless the job's ACL holds exactly want, in any order.
func wantACL(t *testing.T, s kiln.Store, id string, want ...kiln.ACLEntry) {
	t.Helper()
	view(t, s, func(tx kiln.Tx) error {
		got, err := tx.ObjectACL(kiln.ObjectTypeJobs, id)
		if err != nil {
			return err
		}
		key := func(e kiln.ACLEntry) string { k, n := e.Subject(); return k + "/" + n + "/" + e.Level }
		g, w := make([]string, len(got)), make([]string, len(want))
		for i, e := range got {
			g[i] = key(e)
		}
		for i, e := range want {
			w[i] = key(e)
		}
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("ObjectACL(jobs, %s) = %v, want %v", id, g, w)
		}
		return nil
	})
}
