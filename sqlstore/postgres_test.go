package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/pgtest"
	"github.com/kiln-dev/kiln/sqlstore"
	"github.com/kiln-dev/kiln/sqlstore/conformance"
)

// openPostgres opens a store on a new, empty PostgreSQL database (see
// internal/pgtest: $KILN_TEST_POSTGRES_URL or a throwaway server; the test
// fails, never skips, without one).
func openPostgres(t testing.TB, opts ...sqlstore.Option) (*sqlstore.Store, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	s, err := sqlstore.Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, dsn
}

// TestConformancePostgres runs the storage contract against PostgreSQL:
// the same suite, unchanged, that SQLite passes.
func TestConformancePostgres(t *testing.T) {
	t.Logf("PostgreSQL: %s", pgtest.Describe())
	conformance.RunTests(t, func(t *testing.T) kiln.Store {
		s, _ := openPostgres(t)
		return s
	})
}

// durablePG is a PostgreSQL server with fsync on, started once for the
// write benchmarks, so that they compare with SQLite's synchronous=FULL.
var durablePG = sync.OnceValues(func() (*pgtest.Server, error) {
	return pgtest.Start(context.Background(), pgtest.Options{Durable: true})
})

// BenchmarkTokenWrite measures the write path of a token creation (the
// token, its audit event and its change notice in one Update) on SQLite
// and on PostgreSQL, where every Update takes the store-wide write lock:
// with one writing store, and with three stores (three replicas) writing
// at once, which shows what serialising writers costs.
//
//	go test -run '^$' -bench BenchmarkTokenWrite -benchtime 2000x ./sqlstore/
func BenchmarkTokenWrite(b *testing.B) {
	write := func(s kiln.Store, owner int64, n int64) error {
		return s.Update(context.Background(), func(tx kiln.Tx) error {
			id := fmt.Sprintf("%064x", n)
			if err := tx.CreateToken(&kiln.Token{ID: id, Digest: []byte(id), OwnerID: owner, CreatedByID: owner}); err != nil {
				return err
			}
			if err := tx.Audit(kiln.AuditEvent{Action: "token.create", Target: id}); err != nil {
				return err
			}
			return tx.Notify(kiln.ChangeToken, id)
		})
	}
	setup := func(b *testing.B, s kiln.Store) int64 {
		p := &kiln.Principal{Kind: kiln.KindUser, UserName: "alice@example.com", Active: true}
		if err := s.Update(context.Background(), func(tx kiln.Tx) error { return tx.CreatePrincipal(p) }); err != nil {
			b.Fatal(err)
		}
		return p.ID
	}
	pgStores := func(b *testing.B, n int) []kiln.Store {
		srv, err := durablePG()
		if err != nil {
			b.Fatalf("PostgreSQL: %v", err)
		}
		dsn, err := srv.CreateDatabase(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { srv.DropDatabase(context.Background(), dsn) })
		var ss []kiln.Store
		for range n {
			s, err := sqlstore.Open(context.Background(), dsn)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			ss = append(ss, s)
		}
		return ss
	}
	for _, c := range []struct {
		name   string
		stores func(b *testing.B) []kiln.Store
	}{
		{"sqlite", func(b *testing.B) []kiln.Store { s, _ := openTemp(b); return []kiln.Store{s} }},
		{"postgres/1store", func(b *testing.B) []kiln.Store { return pgStores(b, 1) }},
		{"postgres/3stores", func(b *testing.B) []kiln.Store { return pgStores(b, 3) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			ss := c.stores(b)
			owner := setup(b, ss[0])
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			per := b.N / len(ss)
			for _, s := range ss {
				wg.Go(func() {
					for range per {
						if err := write(s, owner, next.Add(1)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(per*len(ss))/b.Elapsed().Seconds(), "writes/s")
		})
	}
}
