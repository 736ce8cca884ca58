package sqlstore

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-dev/kiln"
)

// TestEntitlementsMigrationGivesBuiltinGroups: a workspace made before
// migration 0008 gets, from it, workspace and SQL access on its built-in
// groups, as a new workspace does at bootstrap; other groups get none.
func TestEntitlementsMigrationGivesBuiltinGroups(t *testing.T) {
	before := realMigrations(t)
	delete(before, "0008_entitlements.sql")
	path := filepath.Join(t.TempDir(), "kiln.db")
	old, err := openDialect(t.Context(), fsDialect{fsys: before}, path)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range []struct {
		name    string
		builtin bool
	}{{kiln.GroupAdmins, true}, {kiln.GroupUsers, true}, {"team", false}} {
		if _, err := old.write.ExecContext(t.Context(), `INSERT INTO groups (id, display_name, builtin, created_at) VALUES (?, ?, ?, 0)`,
			1000000000000001+i, g.name, g.builtin); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(t.Context(), func(tx kiln.Tx) error {
		for name, want := range map[string][]string{
			kiln.GroupAdmins: {kiln.EntitlementSQLAccess, kiln.EntitlementWorkspaceAccess},
			kiln.GroupUsers:  {kiln.EntitlementSQLAccess, kiln.EntitlementWorkspaceAccess},
			"team":           nil,
		} {
			g, err := tx.GroupByName(name)
			if err != nil {
				return err
			}
			if !slices.Equal(g.Entitlements, want) {
				t.Errorf("group %s: entitlements %q, want %q", name, g.Entitlements, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
