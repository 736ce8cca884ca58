package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/sqlstore"
)

// writeNumbered creates token n and records n as the setting "last" in the
// same Update: a database in which the two disagree is not one committed
// state.
func writeNumbered(ctx context.Context, s kiln.Store, owner int64, n int) error {
	return s.Update(ctx, func(tx kiln.Tx) error {
		id := fmt.Sprintf("%064x", n)
		if err := tx.CreateToken(&kiln.Token{ID: id, Digest: []byte(id), OwnerID: owner, CreatedByID: owner}); err != nil {
			return err
		}
		if err := tx.SetSettings(map[string]string{"last": strconv.Itoa(n)}); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeToken, id)
	})
}

func createOwner(t *testing.T, s kiln.Store) int64 {
	t.Helper()
	p := &kiln.Principal{Kind: kiln.KindUser, UserName: "alice@example.com", Active: true}
	if err := s.Update(t.Context(), func(tx kiln.Tx) error { return tx.CreatePrincipal(p) }); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// TestBackupSQLiteIsOneCommittedState backs up a database while another
// store keeps writing to it, and finds in the copy exactly the tokens of
// the last transaction it holds: no torn write.
func TestBackupSQLiteIsOneCommittedState(t *testing.T) {
	s, path := openTemp(t)
	owner := createOwner(t, s)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := writeNumbered(context.Background(), s, owner, n); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	})
	time.Sleep(100 * time.Millisecond)
	backup := filepath.Join(t.TempDir(), "backup.db")
	err := sqlstore.BackupSQLite(t.Context(), path, backup)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("BackupSQLite: %v", err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v, want mode 0600", fi, err)
	}
	if err := sqlstore.CheckSQLiteBackup(t.Context(), backup); err != nil {
		t.Fatalf("CheckSQLiteBackup: %v", err)
	}
	b, err := sqlstore.Open(t.Context(), backup)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.View(t.Context(), func(tx kiln.Tx) error {
		kv, err := tx.Settings()
		if err != nil {
			return err
		}
		last, _ := strconv.Atoi(kv["last"])
		n, err := tx.CountLiveTokens(owner, time.Now())
		if err != nil {
			return err
		}
		if last == 0 || n != last {
			t.Errorf("backup holds %d tokens and last=%d: want one committed state with some writes", n, last)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBackupSQLiteRefuses(t *testing.T) {
	_, path := openTemp(t)
	taken := filepath.Join(t.TempDir(), "taken.db")
	os.WriteFile(taken, []byte("x"), 0o600)
	for _, c := range []struct {
		name, src, dst string
	}{
		{"ExistingDestination", path, taken},
		{"MissingSource", filepath.Join(t.TempDir(), "none.db"), filepath.Join(t.TempDir(), "b.db")},
		{"PostgreSQL", "postgres://127.0.0.1:1/kiln", filepath.Join(t.TempDir(), "b.db")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := sqlstore.BackupSQLite(t.Context(), c.src, c.dst); err == nil {
				t.Error("got nil error, want a refusal")
			}
		})
	}
}

func TestRestoreSQLite(t *testing.T) {
	// A backup holding one setting, and a live database holding another.
	src, srcPath := openTemp(t)
	if err := src.Update(t.Context(), func(tx kiln.Tx) error { return tx.SetSettings(map[string]string{"from": "backup"}) }); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := sqlstore.BackupSQLite(t.Context(), srcPath, backup); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 500)), 0o600)

	setting := func(t *testing.T, path string) string {
		s, err := sqlstore.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var v string
		s.View(t.Context(), func(tx kiln.Tx) error {
			kv, err := tx.Settings()
			v = kv["from"]
			return err
		})
		return v
	}
	live := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "kiln.db")
		s, err := sqlstore.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		s.Update(t.Context(), func(tx kiln.Tx) error { return tx.SetSettings(map[string]string{"from": "live"}) })
		s.Close()
		return path
	}
	for _, c := range []struct {
		name     string
		dst      func(t *testing.T) string
		src      string
		openLive bool
		wantErr  error // nil: success
		wantKept bool
	}{
		{"IntoNewDirectory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "kiln.db") }, backup, false, nil, false},
		{"OverStoppedDatabase", live, backup, false, nil, true},
		{"OverOpenDatabase", live, backup, true, sqlstore.ErrInUse, false},
		{"GarbageBackup", live, garbage, false, errors.New("any"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := c.dst(t)
			if c.openLive {
				s, err := sqlstore.Open(t.Context(), dst)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
			}
			kept, err := sqlstore.RestoreSQLite(t.Context(), c.src, dst)
			switch {
			case c.wantErr == nil && err != nil:
				t.Fatalf("RestoreSQLite: %v", err)
			case c.wantErr != nil && err == nil:
				t.Fatalf("RestoreSQLite: got success, want %v", c.wantErr)
			case errors.Is(c.wantErr, sqlstore.ErrInUse) && !errors.Is(err, sqlstore.ErrInUse):
				t.Fatalf("RestoreSQLite: got %v, want ErrInUse", err)
			}
			if c.wantErr != nil {
				if c.openLive {
					return // the live store is still open; it was left alone
				}
				if got := setting(t, dst); got != "live" {
					t.Errorf("after a refused restore the database says %q, want it untouched (live)", got)
				}
				return
			}
			if got := setting(t, dst); got != "backup" {
				t.Errorf("restored database says %q, want backup", got)
			}
			if (kept != "") != c.wantKept {
				t.Errorf("kept %q, want kept=%v", kept, c.wantKept)
			}
			if kept != "" {
				if got := setting(t, kept); got != "live" {
					t.Errorf("the kept old database says %q, want live", got)
				}
			}
		})
	}
}

// dump renders what a store holds through the contract, for comparing two
// stores (ids included: a copy keeps them).
func dump(t *testing.T, s kiln.Store) string {
	t.Helper()
	var b strings.Builder
	err := s.View(t.Context(), func(tx kiln.Tx) error {
		w, err := tx.Workspace()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "workspace %+v\n", w)
		ps, _, err := tx.Principals(kiln.PrincipalFilter{})
		if err != nil {
			return err
		}
		for _, p := range ps {
			fmt.Fprintf(&b, "principal %+v\n", *p)
		}
		gs, _, err := tx.Groups(kiln.GroupFilter{})
		if err != nil {
			return err
		}
		for _, g := range gs {
			fmt.Fprintf(&b, "group %+v\n", *g)
		}
		tks, err := tx.Tokens(kiln.TokenFilter{})
		if err != nil {
			return err
		}
		for _, tk := range tks {
			fmt.Fprintf(&b, "token %+v\n", *tk)
		}
		kv, err := tx.Settings()
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(kv))
		for k := range kv {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "setting %s=%s\n", k, kv[k])
		}
		acl, err := tx.TokenACL()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "acl %+v\n", acl)
		evs, err := tx.AuditEvents(kiln.AuditFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for _, ev := range evs {
			fmt.Fprintf(&b, "audit %+v\n", ev)
		}
		objs, err := tx.ListObjects("/")
		if err != nil {
			return err
		}
		for _, o := range objs {
			full, err := tx.ObjectByPath(o.Path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "object %+v\n", *full)
		}
		scopes, err := tx.SecretScopes()
		if err != nil {
			return err
		}
		for _, sc := range scopes {
			fmt.Fprintf(&b, "scope %+v\n", *sc)
			secs, err := tx.Secrets(sc.Name)
			if err != nil {
				return err
			}
			for _, sec := range secs {
				full, err := tx.Secret(sc.Name, sec.Key)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "secret %+v\n", *full)
			}
		}
		fp, err := tx.SecretsKeyFingerprint()
		fmt.Fprintf(&b, "secrets key %q %v\n", fp, kiln.ErrorCode(err))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.Changes(t.Context(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		fmt.Fprintf(&b, "change %+v\n", c)
	}
	return b.String()
}

// populate writes a little of everything, including what SQLite and
// PostgreSQL store differently (booleans, bytes, NULL times, identities).
func populate(t *testing.T, s kiln.Store) {
	t.Helper()
	err := s.Update(t.Context(), func(tx kiln.Tx) error {
		if err := tx.CreateWorkspace(kiln.Workspace{ID: 1234567890123456, KeyFingerprint: "fp"}); err != nil {
			return err
		}
		alice := &kiln.Principal{Kind: kiln.KindUser, UserName: "Alice@Example.com", DisplayName: "Alice", Active: true, PasswordHash: "h"}
		bob := &kiln.Principal{Kind: kiln.KindServicePrincipal, UserName: "7e0c8e6a-1f3b-4c2a-9f5e-0a1b2c3d4e5f", Active: false}
		for _, p := range []*kiln.Principal{alice, bob} {
			if err := tx.CreatePrincipal(p); err != nil {
				return err
			}
		}
		if err := tx.CreateGroup(&kiln.Group{DisplayName: "admins", Builtin: true, Members: []kiln.Member{{ID: alice.ID}, {ID: bob.ID}}}); err != nil {
			return err
		}
		for i := range 5 {
			id := fmt.Sprintf("%064x", i+1)
			tk := &kiln.Token{ID: id, Digest: []byte{0, byte(i), 0xff, 0x80}, OwnerID: alice.ID, CreatedByID: bob.ID,
				Comment: "t" + strconv.Itoa(i), Expires: time.UnixMilli(1_900_000_000_000 + int64(i)).UTC()}
			if err := tx.CreateToken(tk); err != nil {
				return err
			}
		}
		if err := tx.RevokeToken(fmt.Sprintf("%064x", 2), alice.ID); err != nil {
			return err
		}
		if err := tx.TouchTokens(map[string]time.Time{fmt.Sprintf("%064x", 3): time.Now()}); err != nil {
			return err
		}
		if err := tx.SetSettings(map[string]string{kiln.ConfEnableTokens: "TRue", "other": "ünïcode ✓"}); err != nil {
			return err
		}
		if err := tx.SetTokenACL([]kiln.ACLEntry{{GroupName: "users", Level: kiln.LevelCanUse}, {UserName: alice.UserName, Level: kiln.LevelCanUse}}); err != nil {
			return err
		}
		for i := range 3 {
			if err := tx.Audit(kiln.AuditEvent{Action: "token.create", ActorName: "alice", Detail: map[string]string{"i": strconv.Itoa(i)}, Count: i + 1}); err != nil {
				return err
			}
		}
		if err := tx.CreateObject(&kiln.WorkspaceObject{Path: "/Users", Type: kiln.ObjectDirectory}); err != nil {
			return err
		}
		if err := tx.CreateObject(&kiln.WorkspaceObject{Path: "/bin", Type: kiln.ObjectFile, Content: []byte{0, 1, 2, 0xfe}}); err != nil {
			return err
		}
		if err := tx.CreateSecretScope(&kiln.SecretScope{Name: "s", ACL: []kiln.SecretACL{{Principal: "users", Permission: kiln.SecretRead}}}); err != nil {
			return err
		}
		if err := tx.PutSecret("s", "k", []byte{9, 8, 7}); err != nil {
			return err
		}
		if err := tx.SetSecretsKeyFingerprint("sfp"); err != nil {
			return err
		}
		for _, k := range []kiln.ChangeKind{kiln.ChangeToken, kiln.ChangeSettings, kiln.ChangePrincipal} {
			if err := tx.Notify(k, "x"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("populate: %v", err)
	}
}

func TestCopyToPostgres(t *testing.T) {
	src, _ := openTemp(t)
	populate(t, src)
	want := dump(t, src)

	dst, _ := openPostgres(t)
	report, err := sqlstore.CopyToPostgres(t.Context(), src, dst)
	if err != nil {
		t.Fatalf("CopyToPostgres: %v", err)
	}
	if got := dump(t, dst); got != want {
		t.Errorf("PostgreSQL after the copy:\n%s\nwant (SQLite):\n%s", got, want)
	}
	rows := map[string]int64{}
	for _, tc := range report {
		rows[tc.Table] = tc.Rows
	}
	for table, n := range map[string]int64{"principals": 2, "tokens": 5, "audit": 3, "changes": 3, "group_members": 2} {
		if rows[table] != n {
			t.Errorf("report: %s copied %d rows, want %d (report %+v)", table, rows[table], n, report)
		}
	}

	// Identities continue after the copied ids.
	lastSeq, err := dst.LastChange(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	err = dst.Update(t.Context(), func(tx kiln.Tx) error {
		if err := tx.Audit(kiln.AuditEvent{Action: "after.copy"}); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeSettings, "")
	})
	if err != nil {
		t.Fatalf("writing after the copy: %v", err)
	}
	if seq, _ := dst.LastChange(t.Context()); seq <= lastSeq {
		t.Errorf("new change seq %d, want above the copied %d", seq, lastSeq)
	}

	t.Run("RefusesAnInitialisedDestination", func(t *testing.T) {
		before := dump(t, dst)
		if _, err := sqlstore.CopyToPostgres(t.Context(), src, dst); err == nil {
			t.Fatal("second copy: got nil error, want a refusal")
		}
		if after := dump(t, dst); after != before {
			t.Error("a refused copy changed the destination")
		}
	})
	t.Run("RefusesOtherDirections", func(t *testing.T) {
		if _, err := sqlstore.CopyToPostgres(t.Context(), dst, src); err == nil {
			t.Fatal("PostgreSQL to SQLite: got nil error, want a refusal")
		}
	})
}
