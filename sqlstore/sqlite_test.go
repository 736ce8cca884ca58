package sqlstore_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/sqlstore"
	"github.com/kiln-dev/kiln/sqlstore/conformance"
)

// openTemp opens a store on a new file in t.TempDir() through the real
// Open, so every test also runs the migrations from scratch.
func openTemp(t testing.TB, opts ...sqlstore.Option) (*sqlstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kiln.db")
	s, err := sqlstore.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

func TestConformance(t *testing.T) {
	conformance.RunTests(t, func(t *testing.T) kiln.Store {
		s, _ := openTemp(t)
		return s
	})
}

func TestOpenTwiceIsNoOp(t *testing.T) {
	s, path := openTemp(t)
	err := s.Update(t.Context(), func(tx kiln.Tx) error {
		return tx.CreatePrincipal(&kiln.Principal{Kind: kiln.KindUser, UserName: "alice@example.com", Active: true})
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	before := schemaOf(t, path)
	// A second store on the same file while the first is open (another
	// process would do the same), then a third after both are closed.
	for i := range 2 {
		s2, err := sqlstore.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+2, err)
		}
		if err := s2.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+2, err)
		}
		if i == 0 {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
	}
	if after := schemaOf(t, path); after != before {
		t.Errorf("schema after reopening:\ngot  %s\nwant %s", after, before)
	}
}

// rawDB opens the file directly, bypassing the store, to inspect what the
// store does not expose.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// schemaOf describes the schema (sqlite_schema) and the migration record
// of the database at path.
func schemaOf(t *testing.T, path string) string {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		`SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_schema ORDER BY name`,
		`SELECT version || ' ' || name || ' ' || checksum || ' ' || applied_at FROM schema_migrations ORDER BY version`,
	} {
		rows, err := db.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line + "\n")
		}
		rows.Close()
	}
	return b.String()
}

func TestDataSurvivesCloseAndReopen(t *testing.T) {
	s, path := openTemp(t)
	tk := &kiln.Token{ID: strings.Repeat("ab", 32), Digest: []byte("digest"), CreatedByID: 0,
		Expires: time.UnixMilli(1_800_000_000_000).UTC()}
	err := s.Update(t.Context(), func(tx kiln.Tx) error {
		p := &kiln.Principal{Kind: kiln.KindUser, UserName: "alice@example.com", Active: true}
		if err := tx.CreatePrincipal(p); err != nil {
			return err
		}
		tk.OwnerID = p.ID
		if err := tx.CreateToken(tk); err != nil {
			return err
		}
		return tx.SetSettings(map[string]string{kiln.ConfEnableTokens: "TRue"})
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2, err := sqlstore.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	err = s2.View(t.Context(), func(tx kiln.Tx) error {
		got, err := tx.TokenByDigest([]byte("digest"))
		if err != nil {
			return err
		}
		if got.ID != tk.ID || got.OwnerName != "alice@example.com" || !got.Expires.Equal(tk.Expires) {
			t.Errorf("token after reopen: got %+v, want %+v owned by alice", got, tk)
		}
		kv, err := tx.Settings()
		if err != nil {
			return err
		}
		if kv[kiln.ConfEnableTokens] != "TRue" {
			t.Errorf("setting after reopen: got %q, want %q", kv[kiln.ConfEnableTokens], "TRue")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// killChildEnv, when set, makes TestAcknowledgedWritesSurviveKill the
// child process: it writes to the store at that path and acknowledges each
// committed Update on stdout until it is killed.
const killChildEnv = "SQLSTORE_KILL_CHILD_DB"

// TestAcknowledgedWritesSurviveKill checks durability the way it matters:
// a child process creates tokens one Update at a time and prints the id of
// each once Update has returned; the parent kills it with SIGKILL mid-run,
// reopens the file and finds every acknowledged token.
//
// kill -9 does not take the OS page cache with it, so this proves that the
// WAL and its recovery work, not the fsync that synchronous=FULL adds for
// power loss; that part rests on SQLite's documented behaviour (see the
// comment on sqliteDialect.open).
func TestAcknowledgedWritesSurviveKill(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "kiln.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestAcknowledgedWritesSurviveKill$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 40 {
		if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked = append(acked, id)
		}
	}
	cmd.Process.Kill() // SIGKILL: no deferred Close, no checkpoint
	cmd.Wait()
	if len(acked) < 40 {
		t.Fatalf("child acknowledged %d writes before it stopped, want 40", len(acked))
	}

	s, err := sqlstore.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	err = s.View(t.Context(), func(tx kiln.Tx) error {
		for _, id := range acked {
			if _, err := tx.Token(id); err != nil {
				t.Errorf("acknowledged token %s after kill -9: %v", id, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// killChild is the child of TestAcknowledgedWritesSurviveKill. It stops by
// itself after a bounded number of writes in case the parent is gone.
func killChild(path string) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	owner := &kiln.Principal{Kind: kiln.KindUser, UserName: "alice@example.com", Active: true}
	if err := s.Update(ctx, func(tx kiln.Tx) error { return tx.CreatePrincipal(owner) }); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	for i := range 10_000 {
		id := fmt.Sprintf("%064x", i+1)
		err := s.Update(ctx, func(tx kiln.Tx) error {
			return tx.CreateToken(&kiln.Token{ID: id, Digest: []byte(id), OwnerID: owner.ID, CreatedByID: owner.ID})
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		fmt.Println("ack " + id) // only after Update returned
	}
	os.Exit(0)
}

// BenchmarkTokenByDigest measures the authentication lookup without any
// cache in front: one View and one TokenByDigest in a store of 10,000
// tokens.
func BenchmarkTokenByDigest(b *testing.B) {
	const n = 10_000
	s, _ := openTemp(b)
	ctx := context.Background()
	digests := make([][]byte, n)
	for i := range digests {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		digests[i] = sum[:]
	}
	err := s.Update(ctx, func(tx kiln.Tx) error {
		p := &kiln.Principal{Kind: kiln.KindUser, UserName: "alice@example.com", Active: true}
		if err := tx.CreatePrincipal(p); err != nil {
			return err
		}
		for i := range n {
			tk := &kiln.Token{ID: fmt.Sprintf("%064x", i), Digest: digests[i], OwnerID: p.ID, CreatedByID: p.ID}
			if err := tx.CreateToken(tk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		d := digests[i%n]
		i += 7919 // stride through the table rather than hit one page
		err := s.View(ctx, func(tx kiln.Tx) error {
			_, err := tx.TokenByDigest(d)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
