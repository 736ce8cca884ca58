package conformance

import (
	"maps"
	"slices"
	"testing"

	"github.com/kiln-dev/kiln"
)

var settingsTests = []test{
	{"Text/UnstorableBytesAreReplacedAlike", func(t *testing.T, s kiln.Store) {
		// NUL and invalid UTF-8 read back as U+FFFD on every backend, and a
		// lookup by such a name finds nothing instead of failing.
		update(t, s, func(tx kiln.Tx) error {
			return tx.SetSettings(map[string]string{"k": "a\x00b\xffc"})
		})
		view(t, s, func(tx kiln.Tx) error {
			kv, err := tx.Settings()
			if err != nil || kv["k"] != "a\uFFFDb\uFFFDc" {
				t.Errorf("Settings: got %q, %v, want %q", kv["k"], err, "a\uFFFDb\uFFFDc")
			}
			if _, err := tx.PrincipalByName("nobody\x00@example.com"); kiln.ErrorCode(err) != kiln.ENotFound {
				t.Errorf("PrincipalByName with NUL: got %v, want ENotFound", err)
			}
			ps, _, err := tx.Principals(kiln.PrincipalFilter{DisplayName: "\xff\xfe"})
			if err != nil || len(ps) != 0 {
				t.Errorf("Principals filtered by invalid UTF-8: got %v, %v, want none", ps, err)
			}
			return nil
		})
	}},
	{"Settings/EmptyBeforeAnySet", func(t *testing.T, s kiln.Store) {
		view(t, s, func(tx kiln.Tx) error {
			kv, err := tx.Settings()
			if err != nil || len(kv) != 0 {
				t.Errorf("Settings: got %v, %v, want none", kv, err)
			}
			return nil
		})
	}},
	{"Settings/ValuesRoundTripVerbatim", func(t *testing.T, s kiln.Store) {
		for _, v := range []string{"TRue", "false", " 730 ", "", "0", "ünïcödé", `{"json": true}`} {
			t.Run(v, func(t *testing.T) {
				update(t, s, func(tx kiln.Tx) error {
					return tx.SetSettings(map[string]string{kiln.ConfEnableTokens: v})
				})
				view(t, s, func(tx kiln.Tx) error {
					kv, err := tx.Settings()
					if err != nil {
						t.Fatalf("Settings: %v", err)
					}
					if got, ok := kv[kiln.ConfEnableTokens]; !ok || got != v {
						t.Errorf("got %q (present %v), want %q", got, ok, v)
					}
					return nil
				})
			})
		}
	}},
	{"Settings/SetKeepsOtherKeys", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			return tx.SetSettings(map[string]string{kiln.ConfEnableTokens: "true", kiln.ConfMaxTokenLifetimeDays: "30"})
		})
		update(t, s, func(tx kiln.Tx) error {
			return tx.SetSettings(map[string]string{kiln.ConfMaxTokenLifetimeDays: "60", "customKey": "x"})
		})
		want := map[string]string{kiln.ConfEnableTokens: "true", kiln.ConfMaxTokenLifetimeDays: "60", "customKey": "x"}
		view(t, s, func(tx kiln.Tx) error {
			kv, err := tx.Settings()
			if err != nil || !maps.Equal(kv, want) {
				t.Errorf("Settings: got %v, %v, want %v", kv, err, want)
			}
			return nil
		})
	}},
	{"ACL/EmptyBeforeAnySet", func(t *testing.T, s kiln.Store) {
		view(t, s, func(tx kiln.Tx) error {
			acl, err := tx.TokenACL()
			if err != nil || len(acl) != 0 {
				t.Errorf("TokenACL: got %v, %v, want none", acl, err)
			}
			return nil
		})
	}},
	{"ACL/SetReplacesWholeListInOrder", func(t *testing.T, s kiln.Store) {
		for _, c := range []struct {
			name string
			set  []kiln.ACLEntry
		}{
			{"First", []kiln.ACLEntry{
				{GroupName: "admins", Level: kiln.LevelCanManage},
				{UserName: "alice@example.com", Level: kiln.LevelCanUse},
				{GroupName: "users", Level: kiln.LevelCanUse},
			}},
			{"Replaced", []kiln.ACLEntry{
				{ServicePrincipalName: "6f1c2a9e-3b7d-4c1e-9a55-0d7e8f9a1b2c", Level: kiln.LevelCanUse},
				{GroupName: "admins", Level: kiln.LevelCanManage},
			}},
			{"Emptied", nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				update(t, s, func(tx kiln.Tx) error { return tx.SetTokenACL(c.set) })
				view(t, s, func(tx kiln.Tx) error {
					got, err := tx.TokenACL()
					if err != nil {
						t.Fatalf("TokenACL: %v", err)
					}
					if !slices.Equal(got, c.set) {
						t.Errorf("got %+v, want %+v", got, c.set)
					}
					return nil
				})
			})
		}
	}},
}
