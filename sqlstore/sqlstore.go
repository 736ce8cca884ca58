// Package sqlstore implements [kiln.Store] on a SQL database: a single
// SQLite file (pure Go, modernc.org/sqlite), the default, or a PostgreSQL
// database (github.com/jackc/pgx/v5) shared by several kiln replicas. The
// two are dialects behind one implementation; callers do not see which.
//
// Open a store with [Open], which also brings the schema up to date with the
// embedded migrations:
//
//	st, err := sqlstore.Open(ctx, filepath.Join(dataDir, "kiln.db"))
//	if err != nil { ... }
//	defer st.Close()
//
// Everything else goes through the [kiln.Store] interface. Every error the
// store returns is a *[kiln.Error]: ENotFound and EConflict carry a message
// safe to show to API clients; anything else is EInternal, whose cause is for
// logs only.
//
// The package passes the backend-independent suite in
// sqlstore/conformance, which any future backend must pass too.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/kiln-dev/kiln"
)

// Store is a [kiln.Store] backed by a SQL database. It is safe for
// concurrent use. Updates are serialised (one writer at a time, across
// every process using the database); Views run concurrently with each
// other and with an Update, each on a consistent snapshot.
type Store struct {
	d     dialect
	read  *sql.DB
	write *sql.DB
	now   func() time.Time
	newID func() int64
	// Prepared hot statements of each pool.
	readStmts, writeStmts stmtCache
	// stamps reads the commit stamp of ChangeStamp; nil without one.
	stamps *stamper

	closeOnce sync.Once
	closeErr  error
}

var _ kiln.Store = (*Store)(nil)

// Option configures [Open].
type Option func(*options)

type options struct {
	clock       func() time.Time
	busyTimeout time.Duration
	readConns   int
	newID       func() int64
}

// WithClock replaces the wall clock that [kiln.Tx.Now] reads at the start of
// each transaction. Tests use it to pin time; it must be safe for concurrent
// use.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.clock = now }
}

// WithBusyTimeout sets how long a transaction waits for a lock held by
// another process on the same database (kiln admin while the server runs)
// before failing. Default 10s.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// withIDs replaces the random id source; tests use it to force collisions.
func withIDs(next func() int64) Option {
	return func(o *options) { o.newID = next }
}

// Open opens the store at dsn, creating it if needed, and applies any
// pending migrations before returning. dsn is a postgres:// or
// postgresql:// URL (the database must exist), or else the path of a SQLite
// database file (the directory must exist). Opening an up-to-date store again, even
// from another process, changes nothing.
//
// Open fails if the database was migrated by a newer kiln (it holds a
// migration this binary does not know) or if an applied migration's text
// has changed since.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	d, err := dialectFor(dsn)
	if err != nil {
		return nil, kiln.Internal(err)
	}
	return openDialect(ctx, d, dsn, opts...)
}

// openDialect is Open with the dialect chosen; tests substitute their own.
func openDialect(ctx context.Context, d dialect, dsn string, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	read, write, err := d.open(ctx, dsn, &o)
	if err != nil {
		return nil, kiln.Internal(err)
	}
	s := &Store{d: d, read: read, write: write, now: o.clock, newID: o.newID}
	if f := d.stampFile(dsn); f != "" {
		s.stamps = &stamper{path: f}
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, kiln.Internal(err)
	}
	// After migrating: the statements need the tables.
	if s.readStmts, err = prepareHot(ctx, read, d); err == nil {
		s.writeStmts, err = prepareHot(ctx, write, d)
	}
	if err != nil {
		s.Close()
		return nil, kiln.Internal(err)
	}
	return s, nil
}

func defaultOptions() options {
	return options{
		clock:       time.Now,
		busyTimeout: 10 * time.Second,
		readConns:   max(4, runtime.GOMAXPROCS(0)),
		newID:       randomID,
	}
}

// Minimum and bound of generated ids: 16 digits like Databricks ids, and
// below 2^53 so that JavaScript reads them exactly.
const (
	minID = 1_000_000_000_000_000
	maxID = 1 << 53
)

// randomID returns an id in [minID, maxID). Ids are not secrets, so the
// (OS-seeded) math/rand/v2 generator is enough.
func randomID() int64 { return minID + rand.Int64N(maxID-minID) }

// View runs fn in a read-only transaction on a snapshot of the store. Write
// methods of the Tx fail. fn's error is returned as is. fn must not keep the
// Tx after it returns. While the database cannot be reached the error is
// [kiln.EUnavailable].
func (s *Store) View(ctx context.Context, fn func(kiln.Tx) error) error {
	return s.boundary(s.view(ctx, fn))
}

func (s *Store) view(ctx context.Context, fn func(kiln.Tx) error) error {
	sqlTx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil && s.d.lostConnection(err) {
		// A pooled connection the server dropped (a restart, a failover)
		// fails at BEGIN; nothing ran yet, so a new connection may retry.
		sqlTx, err = s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	}
	if err != nil {
		return kiln.Internal(fmt.Errorf("sqlstore: begin view: %w", err))
	}
	// Nothing to commit: a read-only transaction ends the same either way.
	defer sqlTx.Rollback()
	return fn(&tx{ctx: ctx, s: s, sql: sqlTx, now: s.txTime(), readOnly: true, stmts: s.readStmts})
}

// Update runs fn in a read-write transaction, committed if fn returns nil
// and rolled back otherwise (or if fn panics); fn's error is returned as is.
// Updates run one at a time, so fn must not call Update on the same store:
// it would wait for itself forever. While the database cannot be reached,
// or its write lock stays taken beyond the busy timeout, the error is
// [kiln.EUnavailable] and nothing was committed.
func (s *Store) Update(ctx context.Context, fn func(kiln.Tx) error) error {
	return s.boundary(s.update(ctx, fn))
}

func (s *Store) update(ctx context.Context, fn func(kiln.Tx) error) (err error) {
	sqlTx, err := s.beginUpdate(ctx)
	if err != nil && s.d.lostConnection(err) {
		// As in View: fn has not run, so a new connection may retry.
		sqlTx, err = s.beginUpdate(ctx)
	}
	if err != nil {
		return kiln.Internal(fmt.Errorf("sqlstore: begin update: %w", err))
	}
	committed := false
	defer func() {
		if !committed {
			sqlTx.Rollback()
		}
	}()
	// The clock is read once the write lock is held, so transactions'
	// times follow their commit order.
	if err := fn(&tx{ctx: ctx, s: s, sql: sqlTx, now: s.txTime(), stmts: s.writeStmts, guard: s.d.savepoints()}); err != nil {
		return err
	}
	committed = true // Commit ends the transaction even when it fails
	if err := sqlTx.Commit(); err != nil {
		return kiln.Internal(fmt.Errorf("sqlstore: commit: %w", err))
	}
	return nil
}

// beginUpdate begins a write transaction holding the dialect's write lock.
func (s *Store) beginUpdate(ctx context.Context) (*sql.Tx, error) {
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := s.d.beginWrite(ctx, sqlTx); err != nil {
		sqlTx.Rollback()
		return nil, err
	}
	return sqlTx, nil
}

// txTime is the instant of a new transaction: the clock truncated to
// milliseconds (the unit stored) and in UTC, so that what a transaction
// writes and what it reads back compare equal.
func (s *Store) txTime() time.Time { return time.UnixMilli(s.now().UnixMilli()).UTC() }

// Ping reports whether both pools reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return s.boundary(kiln.Internal(fmt.Errorf("sqlstore: ping: %w", err)))
	}
	if err := s.read.PingContext(ctx); err != nil {
		return s.boundary(kiln.Internal(fmt.Errorf("sqlstore: ping: %w", err)))
	}
	return nil
}

// WatchChanges implements [kiln.ChangeWatcher]: on PostgreSQL the
// returned channel receives a value soon after any process (this one
// included) commits change notices, through LISTEN/NOTIFY; on SQLite it is
// nil, and other processes' notices are seen by polling Changes. A value
// means "read Changes now", never which notices: several commits may
// share one. The subscription ends with ctx or Close.
func (s *Store) WatchChanges(ctx context.Context) <-chan struct{} { return s.d.watch(ctx) }

// Close closes the store, waiting for running transactions to finish.
// Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// Readers first, so that the writer's connection is the last one
		// and SQLite can checkpoint the WAL into the main file on close.
		err := errors.Join(s.d.close(), s.stamps.close(), s.readStmts.close(), s.writeStmts.close(), s.read.Close(), s.write.Close())
		if err != nil {
			s.closeErr = kiln.Internal(fmt.Errorf("sqlstore: close: %w", err))
		}
	})
	return s.closeErr
}
