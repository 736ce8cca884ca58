package sqlstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kiln-dev/kiln"
)

func open(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kiln.db")
	s, err := Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestRebindNumbered(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{`"odd?col" = ? AND z = 'it''s ?'`, `"odd?col" = $1 AND z = 'it''s ?'`},
		{"LIMIT ? OFFSET ?", "LIMIT $1 OFFSET $2"},
	} {
		if got := rebindNumbered(c.in); got != c.want {
			t.Errorf("rebindNumbered(%q): got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRandomIDInRange(t *testing.T) {
	for range 10_000 {
		if id := randomID(); id < minID || id >= maxID {
			t.Fatalf("randomID: got %d, want in [%d, %d)", id, minID, maxID)
		}
	}
}

func TestCreateRetriesOnIDCollision(t *testing.T) {
	const first, second = 1_000_000_000_000_001, 1_000_000_000_000_002
	ids := []int64{first, first, first, second, first, second}
	var mu sync.Mutex
	s, _ := open(t, withIDs(func() int64 {
		mu.Lock()
		defer mu.Unlock()
		id := ids[0]
		ids = ids[1:]
		return id
	}))
	var a, b *kiln.Principal
	var g1, g2 *kiln.Group
	err := s.Update(t.Context(), func(tx kiln.Tx) error {
		a = &kiln.Principal{Kind: kiln.KindUser, UserName: "a@example.com"}
		b = &kiln.Principal{Kind: kiln.KindUser, UserName: "b@example.com"}
		g1, g2 = &kiln.Group{DisplayName: "g1"}, &kiln.Group{DisplayName: "g2"}
		for _, err := range []error{tx.CreatePrincipal(a), tx.CreatePrincipal(b), tx.CreateGroup(g1), tx.CreateGroup(g2)} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if a.ID != first || b.ID != second || g1.ID != first || g2.ID != second {
		t.Errorf("ids: got principals %d %d groups %d %d, want %d %d twice", a.ID, b.ID, g1.ID, g2.ID, first, second)
	}
}

func TestWithClockPinsNowToMillisecondsUTC(t *testing.T) {
	pinned := time.Date(2025, 6, 1, 12, 0, 0, 123_456_789, time.FixedZone("X", 3600))
	s, _ := open(t, WithClock(func() time.Time { return pinned }))
	want := time.Date(2025, 6, 1, 11, 0, 0, 123_000_000, time.UTC)
	err := s.View(t.Context(), func(tx kiln.Tx) error {
		if got := tx.Now(); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Now: got %v, want %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPragmas checks the connection settings that durability and
// correctness depend on, as SQLite reports them.
func TestPragmas(t *testing.T) {
	s, _ := open(t)
	for _, c := range []struct {
		pool   string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "2"}, // FULL
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "10000"},
		{"read", "journal_mode", "wal"},
		{"read", "query_only", "1"},
		{"read", "foreign_keys", "1"},
	} {
		db := s.write
		if c.pool == "read" {
			db = s.read
		}
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("%s PRAGMA %s: %v", c.pool, c.pragma, err)
		}
		if got != c.want {
			t.Errorf("%s PRAGMA %s: got %q, want %q", c.pool, c.pragma, got, c.want)
		}
	}
}

func TestReadPoolRefusesWritesInSQLite(t *testing.T) {
	s, _ := open(t)
	_, err := s.read.ExecContext(t.Context(), `INSERT INTO settings (key, value) VALUES ('k', 'v')`)
	if err == nil {
		t.Fatal("INSERT on the read pool: got nil error, want a refusal")
	}
}

func TestClassifyUsesErrorCodes(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	mustExec := func(q string) {
		if _, err := s.write.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`INSERT INTO principals (id, kind, user_name, user_name_key, created_at) VALUES (1, 'user', 'a', 'a', 0)`)
	mustExec(`INSERT INTO groups (id, display_name, created_at) VALUES (1, 'g', 0)`)
	for _, c := range []struct {
		name string
		q    string
		want errClass
	}{
		{"Unique", `INSERT INTO principals (id, kind, user_name, user_name_key, created_at) VALUES (2, 'user', 'A', 'a', 0)`, errUnique},
		{"PrimaryKey", `INSERT INTO principals (id, kind, user_name, user_name_key, created_at) VALUES (1, 'user', 'b', 'b', 0)`, errUnique},
		{"TextPrimaryKey", `INSERT INTO settings (key, value) VALUES ('k', 'v'), ('k', 'w')`, errUnique},
		{"ForeignKey", `INSERT INTO group_members (group_id, principal_id) VALUES (1, 404)`, errForeignKey},
		{"Check", `INSERT INTO principals (id, kind, user_name, user_name_key, created_at) VALUES (3, 'robot', 'c', 'c', 0)`, errOther},
		{"Syntax", `INSERT INTO nowhere VALUES (1)`, errOther},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.write.ExecContext(ctx, c.q)
			if err == nil {
				t.Fatal("got nil error, want a failure")
			}
			if got := s.d.classify(err); got != c.want {
				t.Errorf("classify(%v): got %d, want %d", err, got, c.want)
			}
		})
	}
	// A message that merely reads like a constraint failure is not one.
	if got := s.d.classify(errors.New("UNIQUE constraint failed: principals.user_name_key")); got != errOther {
		t.Errorf("classify of a look-alike message: got %d, want errOther", got)
	}
}

// fsDialect is the SQLite dialect with other migration files.
type fsDialect struct {
	sqliteDialect
	fsys fs.FS
}

func (d fsDialect) migrations() fs.FS { return d.fsys }

// realMigrations returns the embedded SQLite migrations, to which a test
// adds or in which it edits one. Copying all of them (rather than naming
// 0001 alone) keeps the test true as migrations are appended.
func realMigrations(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(sqliteDialect{}.migrations(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sqliteDialect{}.migrations(), p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMigrationsAreAppendOnly(t *testing.T) {
	added := realMigrations(t)
	added["9000_extra.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE extra (x INTEGER) STRICT;`)}
	edited := realMigrations(t)
	edited["0001_init.sql"] = &fstest.MapFile{Data: append([]byte("-- edited\n"), edited["0001_init.sql"].Data...)}
	for _, c := range []struct {
		name    string
		fsys    fstest.MapFS
		wantErr string // "" for success
	}{
		{"AddedMigrationApplies", added, ""},
		{"EditedMigrationRefused", edited, "was changed after it was applied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, path := open(t) // applies the real migrations
			s, err := openDialect(t.Context(), fsDialect{fsys: c.fsys}, path)
			if err == nil {
				s.Close()
			}
			if c.wantErr == "" && err != nil {
				t.Errorf("Open: got %v, want success", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("Open: got %v, want an error containing %q", err, c.wantErr)
			}
		})
	}
	t.Run("UnknownAppliedMigrationRefused", func(t *testing.T) {
		s, path := open(t)
		if _, err := s.write.ExecContext(t.Context(),
			`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, '9999_future.sql', 'x', 0)`); err != nil {
			t.Fatal(err)
		}
		if s2, err := Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), "newer version") {
			if err == nil {
				s2.Close()
			}
			t.Errorf("Open: got %v, want the newer-version refusal", err)
		}
	})
}

func TestLoadMigrationsValidatesNames(t *testing.T) {
	ok := []byte("SELECT 1;")
	for _, c := range []struct {
		name string
		fsys fstest.MapFS
	}{
		{"NoNumber", fstest.MapFS{"init.sql": {Data: ok}}},
		{"ZeroVersion", fstest.MapFS{"0000_init.sql": {Data: ok}}},
		{"DuplicateVersion", fstest.MapFS{"0001_a.sql": {Data: ok}, "001_b.sql": {Data: ok}}},
		{"Empty", fstest.MapFS{"README": {Data: ok}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := loadMigrations(c.fsys); err == nil {
				t.Error("got nil error, want a refusal")
			}
		})
	}
	ms, err := loadMigrations(fstest.MapFS{"0010_b.sql": {Data: ok}, "0002_a.sql": {Data: ok}, "notes.txt": {Data: ok}})
	if err != nil || len(ms) != 2 || ms[0].version != 2 || ms[1].version != 10 {
		t.Errorf("got %+v, %v, want versions 2 then 10", ms, err)
	}
}

func TestConcurrentOpensOfANewFileBothSucceed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kiln.db")
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
}

func TestOpenRejectsNonPaths(t *testing.T) {
	for _, dsn := range []string{"", ":memory:", "file:kiln.db?mode=memory", "postgres://127.0.0.1:1/kiln"} {
		if s, err := Open(t.Context(), dsn); err == nil {
			s.Close()
			t.Errorf("Open(%q): got a store, want an error", dsn)
		} else if kiln.ErrorCode(err) != kiln.EInternal {
			t.Errorf("Open(%q): got %v, want an EInternal error", dsn, err)
		}
	}
}

func TestOpenPathWithURISpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd dir?#%", "kiln?.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created at %q: %v", path, err)
	}
}

// TestWriterWaitsForAnotherProcess: a second store on the same file (as
// kiln admin would be) waits under busy_timeout for the first one's write
// transaction instead of failing with SQLITE_BUSY.
func TestWriterWaitsForAnotherProcess(t *testing.T) {
	s1, path := open(t)
	s2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	inTx, release := make(chan struct{}), make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		errs <- s1.Update(context.Background(), func(tx kiln.Tx) error {
			if err := tx.SetSettings(map[string]string{"a": "1"}); err != nil {
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	}()
	<-inTx
	time.AfterFunc(200*time.Millisecond, func() { close(release) })
	err = s2.Update(t.Context(), func(tx kiln.Tx) error {
		kv, err := tx.Settings()
		if err != nil {
			return err
		}
		// BEGIN IMMEDIATE waited for s1's commit, so s2 reads after it.
		if kv["a"] != "1" {
			t.Errorf("setting a: got %q, want %q", kv["a"], "1")
		}
		return tx.SetSettings(map[string]string{"b": "2"})
	})
	if err != nil {
		t.Fatalf("second writer: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("first writer: %v", err)
	}
}

func TestTouchTokensTruncatesToUTCDay(t *testing.T) {
	s, _ := open(t)
	id := strings.Repeat("0", 63) + "1"
	used := time.Date(2025, 6, 1, 23, 30, 0, 0, time.FixedZone("X", -3*3600)) // 2025-06-02 02:30 UTC
	err := s.Update(t.Context(), func(tx kiln.Tx) error {
		p := &kiln.Principal{Kind: kiln.KindUser, UserName: "a@example.com"}
		if err := tx.CreatePrincipal(p); err != nil {
			return err
		}
		if err := tx.CreateToken(&kiln.Token{ID: id, Digest: []byte("d"), OwnerID: p.ID}); err != nil {
			return err
		}
		return tx.TouchTokens(map[string]time.Time{id: used})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(t.Context(), func(tx kiln.Tx) error {
		tk, err := tx.Token(id)
		if err != nil {
			return err
		}
		if want := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC); !tk.LastUsedDay.Equal(want) {
			t.Errorf("LastUsedDay: got %v, want %v", tk.LastUsedDay, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
