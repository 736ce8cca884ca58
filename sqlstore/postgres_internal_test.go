package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/pgtest"
)

// openPG opens a store on a fresh PostgreSQL database and returns it with
// the database's URL, for a second store on the same database (another
// replica).
func openPG(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	s, err := Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

// reopenPG opens another store on dsn, closed when the test ends.
func reopenPG(t *testing.T, dsn string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresClassifyUsesSQLSTATE(t *testing.T) {
	s, _ := openPG(t)
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
	if got := s.d.classify(errors.New(`duplicate key value violates unique constraint "principals_pkey" (SQLSTATE 23505)`)); got != errOther {
		t.Errorf("classify of a look-alike message: got %d, want errOther", got)
	}
}

// TestPostgresSessionSettings checks the settings the store's semantics
// rest on, as the server reports them on each pool.
func TestPostgresSessionSettings(t *testing.T) {
	s, _ := openPG(t, WithBusyTimeout(3*time.Second))
	for _, c := range []struct {
		pool, setting, want string
	}{
		{"write", "default_transaction_isolation", "read committed"},
		{"write", "lock_timeout", "3s"},
		{"write", "idle_in_transaction_session_timeout", "1min"},
		{"write", "application_name", "kiln"},
		{"read", "default_transaction_isolation", "repeatable read"},
		{"read", "default_transaction_read_only", "on"},
	} {
		t.Run(c.pool+"/"+c.setting, func(t *testing.T) {
			db := s.write
			if c.pool == "read" {
				db = s.read
			}
			var got string
			if err := db.QueryRowContext(t.Context(), "SHOW "+c.setting).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	if _, err := s.read.ExecContext(t.Context(), `INSERT INTO settings (key, value) VALUES ('k', 'v')`); err == nil {
		t.Error("INSERT on the read pool: got nil error, want a refusal")
	}
}

// countingMigrations is the real PostgreSQL migrations plus one that
// records each time it runs, outside any transaction's reach: a sequence
// advanced by nextval is never rolled back.
func countingMigrations(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	real := (&postgresDialect{}).migrations()
	err := fs.WalkDir(real, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(real, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	m["9000_count.sql"] = &fstest.MapFile{Data: []byte(`
		CREATE TABLE migration_runs (n BIGINT);
		INSERT INTO migration_runs VALUES (1);`)}
	return m
}

// pgFSDialect is the PostgreSQL dialect with other migration files.
type pgFSDialect struct {
	*postgresDialect
	fsys fs.FS
}

func (d pgFSDialect) migrations() fs.FS { return d.fsys }

// TestPostgresConcurrentOpensMigrateOnce: ten stores (ten replicas
// starting at once) open a new database together; every one succeeds and
// each migration ran exactly once.
func TestPostgresConcurrentOpensMigrateOnce(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	fsys := countingMigrations(t)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 10 {
		wg.Go(func() {
			<-start
			s, err := openDialect(t.Context(), pgFSDialect{&postgresDialect{}, fsys}, dsn)
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
				return
			}
			s.Close()
		})
	}
	close(start)
	wg.Wait()
	raw, err := openDialect(t.Context(), pgFSDialect{&postgresDialect{}, fsys}, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var runs, recorded int
	if err := raw.write.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM migration_runs`).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if err := raw.write.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations WHERE version = 9000`).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if runs != 1 || recorded != 1 {
		t.Errorf("migration 9000 ran %d times and is recorded %d times, want once each", runs, recorded)
	}
}

// TestPostgresWriterWaitsForAnotherReplica is the PostgreSQL counterpart of
// TestWriterWaitsForAnotherProcess: a second store on the same database
// waits for the first one's write transaction, then reads after it.
func TestPostgresWriterWaitsForAnotherReplica(t *testing.T) {
	s1, dsn := openPG(t)
	s2 := reopenPG(t, dsn)
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
	start := time.Now()
	err := s2.Update(t.Context(), func(tx kiln.Tx) error {
		kv, err := tx.Settings()
		if err != nil {
			return err
		}
		if kv["a"] != "1" {
			t.Errorf("setting a: got %q, want %q (the write lock must make the second writer read after the first)", kv["a"], "1")
		}
		return tx.SetSettings(map[string]string{"b": "2"})
	})
	if err != nil {
		t.Fatalf("second writer: %v", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("second writer ran after %v, want it to wait for the first (~200ms)", waited)
	}
	if err := <-errs; err != nil {
		t.Fatalf("first writer: %v", err)
	}
}

// TestPostgresWriteLockWaitIsBounded: a writer that cannot get the write
// lock within the busy timeout fails instead of hanging, as unavailable
// (a 503 clients retry), like SQLite's busy timeout.
func TestPostgresWriteLockWaitIsBounded(t *testing.T) {
	s1, dsn := openPG(t)
	s2 := reopenPG(t, dsn, WithBusyTimeout(200*time.Millisecond))
	inTx, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s1.Update(context.Background(), func(tx kiln.Tx) error {
			close(inTx)
			<-release
			return nil
		})
	}()
	<-inTx
	defer func() { close(release); <-done }()
	start := time.Now()
	err := s2.Update(t.Context(), func(tx kiln.Tx) error { return tx.SetSettings(map[string]string{"b": "2"}) })
	if kiln.ErrorCode(err) != kiln.EUnavailable {
		t.Errorf("Update while another replica holds the lock: got %v, want %s", err, kiln.EUnavailable)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("gave up after %v, want about the 200ms busy timeout", took)
	}
}

// TestPostgresChangesNeverSkippedAcrossReplicas: three stores write
// change notices concurrently while a poller follows Changes the way the
// token index does (after the last seq seen). Because writers take turns,
// sequence numbers become visible in order and the poller sees every one.
func TestPostgresChangesNeverSkippedAcrossReplicas(t *testing.T) {
	s, dsn := openPG(t)
	stores := []*Store{s, reopenPG(t, dsn), reopenPG(t, dsn)}
	const each = 40
	var wg sync.WaitGroup
	for i, st := range stores {
		wg.Go(func() {
			for n := range each {
				err := st.Update(t.Context(), func(tx kiln.Tx) error {
					return tx.Notify(kiln.ChangeToken, fmt.Sprintf("%d-%d", i, n))
				})
				if err != nil {
					t.Errorf("store %d: %v", i, err)
					return
				}
			}
		})
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	seen := map[string]bool{}
	var last int64
	for done := false; !done; {
		select {
		case <-writersDone:
			done = true // one more pass after the last commit
		default:
		}
		cs, err := stores[1].Changes(t.Context(), last, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Seq <= last {
				t.Fatalf("seq %d after %d", c.Seq, last)
			}
			last = c.Seq
			seen[c.Ref] = true
		}
		if done {
			for { // drain what the final pass's limit left
				cs, err := stores[1].Changes(t.Context(), last, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(cs) == 0 {
					break
				}
				for _, c := range cs {
					last = c.Seq
					seen[c.Ref] = true
				}
			}
		}
	}
	if len(seen) != len(stores)*each {
		t.Errorf("the poller saw %d distinct notices, want %d: some were skipped", len(seen), len(stores)*each)
	}
}

// TestPostgresWatchChanges: a commit with change notices on one store
// signals the watchers of another; a rolled-back one does not.
func TestPostgresWatchChanges(t *testing.T) {
	s1, dsn := openPG(t)
	s2 := reopenPG(t, dsn)
	ch := s2.WatchChanges(t.Context())
	if ch == nil {
		t.Fatal("WatchChanges: got nil, want a channel on PostgreSQL")
	}
	// The listener signals once when it connects: take that one.
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no signal after the listener connected")
	}
	errBoom := errors.New("boom")
	for _, c := range []struct {
		name   string
		err    error
		signal bool
	}{
		{"RolledBack", errBoom, false},
		{"Committed", nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := s1.Update(t.Context(), func(tx kiln.Tx) error {
				if err := tx.Notify(kiln.ChangeSettings, ""); err != nil {
					return err
				}
				return c.err
			})
			if !errors.Is(err, c.err) {
				t.Fatalf("Update: %v", err)
			}
			select {
			case <-ch:
				if !c.signal {
					t.Error("got a signal, want none")
				}
			case <-time.After(500 * time.Millisecond):
				if c.signal {
					t.Error("no signal within 500ms")
				}
			}
		})
	}
	// Closing the store ends the subscription without blocking.
	s2.Close()
}

func TestPendingAndMigrations(t *testing.T) {
	for _, c := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return t.TempDir() + "/kiln.db" }},
		{"PostgreSQL", func(t *testing.T) string { return pgtest.NewDatabase(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dsn := c.dsn(t)
			pending, err := Pending(t.Context(), dsn)
			if err != nil {
				t.Fatalf("Pending on a new database: %v", err)
			}
			d, _ := dialectFor(dsn)
			all, err := loadMigrations(d.migrations())
			if err != nil {
				t.Fatal(err)
			}
			if len(pending) != len(all) {
				t.Errorf("Pending on a new database: got %d, want all %d", len(pending), len(all))
			}
			// Pending changed nothing: asking again gives the same.
			if again, err := Pending(t.Context(), dsn); err != nil || len(again) != len(all) {
				t.Errorf("Pending again: got %d, %v, want %d", len(again), err, len(all))
			}
			s, err := Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if pending, err := Pending(t.Context(), dsn); err != nil || len(pending) != 0 {
				t.Errorf("Pending after Open: got %v, %v, want none", pending, err)
			}
			states, err := s.Migrations(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range states {
				if st.Version != all[i].version || st.Name != all[i].name || st.Applied.IsZero() {
					t.Errorf("migration %d: got %+v, want %s applied", i, st, all[i].name)
				}
			}
		})
	}
}

// TestPostgresMigrationsMirrorSQLite: every SQLite migration has its
// PostgreSQL counterpart of the same name, so neither dialect falls
// behind.
func TestPostgresMigrationsMirrorSQLite(t *testing.T) {
	lite, err := loadMigrations(sqliteDialect{}.migrations())
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations((&postgresDialect{}).migrations())
	if err != nil {
		t.Fatal(err)
	}
	names := func(ms []migration) string {
		var b strings.Builder
		for _, m := range ms {
			b.WriteString(m.name + " ")
		}
		return b.String()
	}
	if names(lite) != names(pg) {
		t.Errorf("migrations differ:\nsqlite   %s\npostgres %s", names(lite), names(pg))
	}
}

// TestPostgresSurvivesDroppedConnections: every connection of a store is
// killed on the server's side (a PostgreSQL restart or failover looks the
// same to it); the next Update and View work on new connections, and the
// change listener reconnects and signals again.
func TestPostgresSurvivesDroppedConnections(t *testing.T) {
	s1, dsn := openPG(t)
	s2 := reopenPG(t, dsn)
	ch := s2.WatchChanges(t.Context())
	wait := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no change signal %s", what)
		}
	}
	wait("after the listener connected")
	if err := s1.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	killer, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close()
	var killed int
	err = killer.write.QueryRowContext(t.Context(), `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed)
	if err != nil || killed == 0 {
		t.Fatalf("terminating the other connections: %d, %v", killed, err)
	}
	// The listener signals when it is back (notices may have been missed).
	wait("after the listener reconnected")
	// The pooled connections are dead; the first Update and View find out
	// at BEGIN and go on with new ones.
	if err := s1.Update(t.Context(), func(tx kiln.Tx) error { return tx.Notify(kiln.ChangeSettings, "") }); err != nil {
		t.Fatalf("Update after the connections were dropped: %v", err)
	}
	wait("for a commit after reconnecting")
	if err := s1.View(t.Context(), func(tx kiln.Tx) error { _, err := tx.Settings(); return err }); err != nil {
		t.Fatalf("View after the connections were dropped: %v", err)
	}
}
