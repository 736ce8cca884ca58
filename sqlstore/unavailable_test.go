package sqlstore_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/pgtest"
	"github.com/kiln-dev/kiln/sqlstore"
)

// TestSQLiteBusyBeyondTimeoutIsUnavailable: while another process holds
// the write lock for longer than the busy timeout, an Update fails with
// EUnavailable (the API's 503, which clients retry), not an internal
// error, and its message names no driver detail; reads go on meanwhile,
// and once the lock is released writes succeed again.
func TestSQLiteBusyBeyondTimeoutIsUnavailable(t *testing.T) {
	s, path := openTemp(t, sqlstore.WithBusyTimeout(50*time.Millisecond))
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	write := func() error {
		return s.Update(t.Context(), func(tx kiln.Tx) error {
			return tx.SetSettings(map[string]string{"maxTokenLifetimeDays": "30"})
		})
	}
	err = write()
	if !kiln.IsCode(err, kiln.EUnavailable) {
		t.Fatalf("Update while another process holds the lock: %v (code %s), want %s", err, kiln.ErrorCode(err), kiln.EUnavailable)
	}
	if msg := kiln.ErrorMessage(err); strings.Contains(strings.ToLower(msg), "sqlite") || strings.Contains(msg, "busy") {
		t.Errorf("client message %q names the driver's error", msg)
	}
	if err := s.View(t.Context(), func(tx kiln.Tx) error { _, err := tx.Settings(); return err }); err != nil {
		t.Errorf("View while the lock is held: %v", err)
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := write(); err != nil {
		t.Fatalf("Update after the lock is released: %v", err)
	}
}

// TestChangeStampMovesWithEveryCommit: on SQLite the stamp stays put while
// only reads happen and moves with every commit, this store's or another
// process's; PostgreSQL has none.
func TestChangeStampMovesWithEveryCommit(t *testing.T) {
	s, path := openTemp(t)
	other, err := sqlstore.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	stamp := func() uint64 {
		t.Helper()
		v, ok := s.ChangeStamp()
		if !ok {
			t.Fatal("no stamp on SQLite")
		}
		return v
	}
	read := func(st *sqlstore.Store) error {
		return st.View(t.Context(), func(tx kiln.Tx) error { _, err := tx.Settings(); return err })
	}
	write := func(st *sqlstore.Store) error {
		return st.Update(t.Context(), func(tx kiln.Tx) error {
			return tx.SetSettings(map[string]string{"k": time.Now().String()})
		})
	}
	steps := []struct {
		name  string
		do    func() error
		moves bool
	}{
		{"nothing", func() error { return nil }, false},
		{"a read here", func() error { return read(s) }, false},
		{"a read elsewhere", func() error { return read(other) }, false},
		{"a commit here", func() error { return write(s) }, true},
		{"a commit elsewhere", func() error { return write(other) }, true},
		{"another commit elsewhere", func() error { return write(other) }, true},
	}
	for _, st := range steps {
		before := stamp()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if moved := stamp() != before; moved != st.moves {
			t.Errorf("after %s: stamp moved %v, want %v", st.name, moved, st.moves)
		}
	}
	pg, err := sqlstore.Open(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if _, ok := pg.ChangeStamp(); ok {
		t.Error("PostgreSQL store claims a commit stamp")
	}
}
