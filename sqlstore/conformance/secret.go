package conformance

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// scope returns an unsaved scope with the given ACL entries
// (principal, permission pairs).
func scope(name string, creator int64, acl ...string) *kiln.SecretScope {
	sc := &kiln.SecretScope{Name: name, CreatorID: creator}
	for i := 0; i+1 < len(acl); i += 2 {
		sc.ACL = append(sc.ACL, kiln.SecretACL{Principal: acl[i], Permission: acl[i+1]})
	}
	return sc
}

func createScopes(t *testing.T, s kiln.Store, scs ...*kiln.SecretScope) {
	t.Helper()
	update(t, s, func(tx kiln.Tx) error {
		for _, sc := range scs {
			if err := tx.CreateSecretScope(sc); err != nil {
				return err
			}
		}
		return nil
	})
}

func secretKeys(ss []*kiln.Secret) []string {
	ks := []string{}
	for _, s := range ss {
		ks = append(ks, s.Key)
	}
	return ks
}

var secretTests = []test{
	{"Secret/ScopeCreateReadsBackWithACL", func(t *testing.T, s kiln.Store) {
		sc := scope("etl", 42, "users", kiln.SecretManage, "alice@example.com", kiln.SecretRead)
		var now time.Time
		update(t, s, func(tx kiln.Tx) error { now = tx.Now(); return tx.CreateSecretScope(sc) })
		if sc.ID < minID || sc.ID >= maxID || !sc.Created.Equal(now) || sc.BackendType != "DATABRICKS" {
			t.Errorf("written back: %+v", sc)
		}
		// The ACL comes back ordered by principal.
		want := kiln.SecretScope{ID: sc.ID, Name: "etl", BackendType: "DATABRICKS", CreatorID: 42, Created: now,
			ACL: []kiln.SecretACL{{Principal: "alice@example.com", Permission: kiln.SecretRead}, {Principal: "users", Permission: kiln.SecretManage}}}
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.SecretScope("etl")
			if err != nil {
				t.Fatalf("SecretScope: %v", err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("SecretScope: got %+v, want %+v", *got, want)
			}
			all, err := tx.SecretScopes()
			if err != nil || len(all) != 1 || !reflect.DeepEqual(*all[0], want) {
				t.Errorf("SecretScopes: got %v, %v, want [%+v]", all, err, want)
			}
			return nil
		})
	}},
	{"Secret/ScopesListedByNameWithOwnACLs", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("b", 1, "bob@example.com", kiln.SecretManage), scope("a", 2),
			scope("c", 3, "users", kiln.SecretManage, "carol@example.com", kiln.SecretWrite))
		view(t, s, func(tx kiln.Tx) error {
			all, err := tx.SecretScopes()
			if err != nil {
				t.Fatalf("SecretScopes: %v", err)
			}
			var names []string
			acls := map[string][]kiln.SecretACL{}
			for _, sc := range all {
				names = append(names, sc.Name)
				acls[sc.Name] = sc.ACL
			}
			if !slices.Equal(names, []string{"a", "b", "c"}) {
				t.Errorf("names: got %v, want [a b c]", names)
			}
			if len(acls["a"]) != 0 || len(acls["b"]) != 1 || len(acls["c"]) != 2 || acls["c"][0].Principal != "carol@example.com" {
				t.Errorf("ACLs mixed up: %+v", acls)
			}
			return nil
		})
	}},
	{"Secret/TakenScopeNameConflicts", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("etl", 1))
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateSecretScope(scope("etl", 2)) })
		wantCode(t, "CreateSecretScope(taken)", err, kiln.EConflict)
		// Names are compared exactly.
		createScopes(t, s, scope("ETL", 1))
	}},
	{"Secret/PutReplacesAndLists", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("etl", 1), scope("other", 1))
		update(t, s, func(tx kiln.Tx) error {
			for _, kv := range [][2]string{{"b", "1"}, {"a", "2"}, {"b", "3"}} {
				if err := tx.PutSecret("etl", kv[0], []byte(kv[1])); err != nil {
					return err
				}
			}
			return tx.PutSecret("other", "a", []byte("other"))
		})
		view(t, s, func(tx kiln.Tx) error {
			list, err := tx.Secrets("etl")
			if err != nil || !slices.Equal(secretKeys(list), []string{"a", "b"}) {
				t.Fatalf("Secrets: got %v, %v, want [a b]", secretKeys(list), err)
			}
			for _, sec := range list {
				if sec.Value != nil || sec.Scope != "etl" || sec.Updated.IsZero() {
					t.Errorf("listed secret %+v: want scope etl, a time and no value", sec)
				}
			}
			for key, want := range map[string]string{"a": "2", "b": "3"} {
				sec, err := tx.Secret("etl", key)
				if err != nil || !bytes.Equal(sec.Value, []byte(want)) || sec.Key != key {
					t.Errorf("Secret(etl, %s): got %+v, %v, want value %q", key, sec, err, want)
				}
			}
			return nil
		})
	}},
	{"Secret/PutMovesUpdatedTime", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("etl", 1))
		var first, second time.Time
		update(t, s, func(tx kiln.Tx) error { first = tx.Now(); return tx.PutSecret("etl", "k", []byte("1")) })
		time.Sleep(5 * time.Millisecond)
		update(t, s, func(tx kiln.Tx) error { second = tx.Now(); return tx.PutSecret("etl", "k", []byte("2")) })
		view(t, s, func(tx kiln.Tx) error {
			sec, err := tx.Secret("etl", "k")
			if err != nil || !sec.Updated.Equal(second) || !second.After(first) {
				t.Errorf("Updated: got %+v, %v, want %v", sec, err, second)
			}
			return nil
		})
	}},
	{"Secret/MissingIsNotFound", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("etl", 1))
		for _, c := range []struct {
			name string
			op   func(kiln.Tx) error
		}{
			{"SecretScope", func(tx kiln.Tx) error { _, err := tx.SecretScope("nope"); return err }},
			{"DeleteSecretScope", func(tx kiln.Tx) error { return tx.DeleteSecretScope("nope") }},
			{"PutSecret/MissingScope", func(tx kiln.Tx) error { return tx.PutSecret("nope", "k", []byte("v")) }},
			{"Secret/MissingScope", func(tx kiln.Tx) error { _, err := tx.Secret("nope", "k"); return err }},
			{"Secret/MissingKey", func(tx kiln.Tx) error { _, err := tx.Secret("etl", "k"); return err }},
			{"Secrets/MissingScope", func(tx kiln.Tx) error { _, err := tx.Secrets("nope"); return err }},
			{"DeleteSecret/MissingScope", func(tx kiln.Tx) error { return tx.DeleteSecret("nope", "k") }},
			{"DeleteSecret/MissingKey", func(tx kiln.Tx) error { return tx.DeleteSecret("etl", "k") }},
			{"SecretsKeyFingerprint", func(tx kiln.Tx) error { _, err := tx.SecretsKeyFingerprint(); return err }},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, c.name, s.Update(ctx(t), c.op), kiln.ENotFound)
			})
		}
	}},
	{"Secret/DeleteSecretRemovesOnlyIt", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("etl", 1))
		update(t, s, func(tx kiln.Tx) error {
			for _, k := range []string{"a", "b"} {
				if err := tx.PutSecret("etl", k, []byte(k)); err != nil {
					return err
				}
			}
			return nil
		})
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteSecret("etl", "a") })
		view(t, s, func(tx kiln.Tx) error {
			list, err := tx.Secrets("etl")
			if err != nil || !slices.Equal(secretKeys(list), []string{"b"}) {
				t.Errorf("Secrets: got %v, %v, want [b]", secretKeys(list), err)
			}
			return nil
		})
	}},
	{"Secret/DeleteScopeTakesSecretsAndACL", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("etl", 1, "users", kiln.SecretManage), scope("keep", 1))
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.PutSecret("etl", "k", []byte("v")); err != nil {
				return err
			}
			return tx.PutSecret("keep", "k", []byte("kept"))
		})
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteSecretScope("etl") })
		// A new scope with the old name starts empty, with its own ACL.
		createScopes(t, s, scope("etl", 2))
		view(t, s, func(tx kiln.Tx) error {
			sc, err := tx.SecretScope("etl")
			if err != nil || len(sc.ACL) != 0 || sc.CreatorID != 2 {
				t.Errorf("recreated scope: got %+v, %v, want creator 2 and no ACL", sc, err)
			}
			list, err := tx.Secrets("etl")
			if err != nil || len(list) != 0 {
				t.Errorf("recreated scope's secrets: got %v, %v, want none", secretKeys(list), err)
			}
			kept, err := tx.Secret("keep", "k")
			if err != nil || string(kept.Value) != "kept" {
				t.Errorf("other scope's secret: got %+v, %v", kept, err)
			}
			return nil
		})
	}},
	{"Secret/DuplicateACLPrincipalConflicts", func(t *testing.T, s kiln.Store) {
		err := s.Update(ctx(t), func(tx kiln.Tx) error {
			return tx.CreateSecretScope(scope("etl", 1, "users", kiln.SecretRead, "users", kiln.SecretManage))
		})
		wantCode(t, "CreateSecretScope(duplicate ACL)", err, kiln.EConflict)
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.SecretScope("etl")
			wantCode(t, "scope of the failed Update", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Secret/PutACLGrantsAndReplaces", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("etl", 1, "alice@example.com", kiln.SecretManage), scope("other", 1))
		update(t, s, func(tx kiln.Tx) error {
			for _, e := range []kiln.SecretACL{
				{Principal: "bob@example.com", Permission: kiln.SecretRead},
				{Principal: "data-team", Permission: kiln.SecretWrite},
				{Principal: "bob@example.com", Permission: kiln.SecretWrite}, // replaces READ
			} {
				if err := tx.PutSecretACL("etl", e); err != nil {
					return err
				}
			}
			return nil
		})
		want := []kiln.SecretACL{{Principal: "alice@example.com", Permission: kiln.SecretManage},
			{Principal: "bob@example.com", Permission: kiln.SecretWrite}, {Principal: "data-team", Permission: kiln.SecretWrite}}
		view(t, s, func(tx kiln.Tx) error {
			sc, err := tx.SecretScope("etl")
			if err != nil || !reflect.DeepEqual(sc.ACL, want) {
				t.Errorf("ACL of etl: got %+v, %v, want %+v", sc, err, want)
			}
			other, err := tx.SecretScope("other")
			if err != nil || len(other.ACL) != 0 {
				t.Errorf("ACL of other: got %+v, %v, want none", other, err)
			}
			return nil
		})
	}},
	{"Secret/DeleteACLRemovesOneGrant", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("etl", 1, "alice@example.com", kiln.SecretManage, "bob@example.com", kiln.SecretRead),
			scope("other", 1, "bob@example.com", kiln.SecretRead))
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteSecretACL("etl", "bob@example.com") })
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.DeleteSecretACL("etl", "bob@example.com") })
		wantCode(t, "DeleteSecretACL again", err, kiln.ENotFound)
		// Principals are matched exactly: the service stores them as their
		// records spell them.
		err = s.Update(ctx(t), func(tx kiln.Tx) error { return tx.DeleteSecretACL("etl", "ALICE@example.com") })
		wantCode(t, "DeleteSecretACL(other case)", err, kiln.ENotFound)
		view(t, s, func(tx kiln.Tx) error {
			sc, err := tx.SecretScope("etl")
			if want := []kiln.SecretACL{{Principal: "alice@example.com", Permission: kiln.SecretManage}}; err != nil || !reflect.DeepEqual(sc.ACL, want) {
				t.Errorf("ACL of etl: got %+v, %v, want %+v", sc, err, want)
			}
			other, err := tx.SecretScope("other")
			if err != nil || len(other.ACL) != 1 {
				t.Errorf("ACL of other: got %+v, %v, want bob's grant kept", other, err)
			}
			return nil
		})
	}},
	{"Secret/ACLOnMissingScopeIsNotFound", func(t *testing.T, s kiln.Store) {
		for name, op := range map[string]func(kiln.Tx) error{
			"PutSecretACL": func(tx kiln.Tx) error {
				return tx.PutSecretACL("nope", kiln.SecretACL{Principal: "users", Permission: kiln.SecretRead})
			},
			"DeleteSecretACL": func(tx kiln.Tx) error { return tx.DeleteSecretACL("nope", "users") },
		} {
			wantCode(t, name, s.Update(ctx(t), op), kiln.ENotFound)
		}
	}},
	{"Secret/RenameGranteeRewritesOrDrops", func(t *testing.T, s kiln.Store) {
		createScopes(t, s,
			scope("a", 1, "data-team", kiln.SecretRead, "alice@example.com", kiln.SecretManage),
			scope("b", 1, "data-team", kiln.SecretWrite, "analysts", kiln.SecretManage),
			scope("c", 1, "bob@example.com", kiln.SecretRead))
		update(t, s, func(tx kiln.Tx) error {
			// In b the new name already holds a grant: that one stays.
			if err := tx.RenameSecretGrantee("data-team", "analysts"); err != nil {
				return err
			}
			if err := tx.RenameSecretGrantee("bob@example.com", ""); err != nil {
				return err
			}
			return tx.RenameSecretGrantee("nobody", "") // no grants: nothing to do
		})
		want := map[string][]kiln.SecretACL{
			"a": {{Principal: "alice@example.com", Permission: kiln.SecretManage}, {Principal: "analysts", Permission: kiln.SecretRead}},
			"b": {{Principal: "analysts", Permission: kiln.SecretManage}},
			"c": nil,
		}
		view(t, s, func(tx kiln.Tx) error {
			for name, acl := range want {
				sc, err := tx.SecretScope(name)
				if err != nil || !reflect.DeepEqual(sc.ACL, acl) {
					t.Errorf("ACL of %s: got %+v, %v, want %+v", name, sc, err, acl)
				}
			}
			return nil
		})
	}},
	{"Secret/KeyFingerprintIsRecordedOnce", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error { return tx.SetSecretsKeyFingerprint("abc123") })
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.SetSecretsKeyFingerprint("def456") })
		wantCode(t, "SetSecretsKeyFingerprint again", err, kiln.EConflict)
		view(t, s, func(tx kiln.Tx) error {
			fp, err := tx.SecretsKeyFingerprint()
			if err != nil || fp != "abc123" {
				t.Errorf("SecretsKeyFingerprint: got %q, %v, want abc123", fp, err)
			}
			return nil
		})
	}},
	{"Secret/WritesFailInView", func(t *testing.T, s kiln.Store) {
		createScopes(t, s, scope("etl", 1))
		for name, op := range map[string]func(kiln.Tx) error{
			"CreateSecretScope":        func(tx kiln.Tx) error { return tx.CreateSecretScope(scope("x", 1)) },
			"DeleteSecretScope":        func(tx kiln.Tx) error { return tx.DeleteSecretScope("etl") },
			"PutSecret":                func(tx kiln.Tx) error { return tx.PutSecret("etl", "k", []byte("v")) },
			"DeleteSecret":             func(tx kiln.Tx) error { return tx.DeleteSecret("etl", "k") },
			"SetSecretsKeyFingerprint": func(tx kiln.Tx) error { return tx.SetSecretsKeyFingerprint("x") },
			"PutSecretACL": func(tx kiln.Tx) error {
				return tx.PutSecretACL("etl", kiln.SecretACL{Principal: "users", Permission: kiln.SecretRead})
			},
			"DeleteSecretACL":     func(tx kiln.Tx) error { return tx.DeleteSecretACL("etl", "users") },
			"RenameSecretGrantee": func(tx kiln.Tx) error { return tx.RenameSecretGrantee("users", "") },
		} {
			if err := s.View(ctx(t), op); err == nil {
				t.Errorf("%s in a View: got nil error", name)
			}
		}
	}},
}
