package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// Advisory lock keys, in one namespace of their own ("kiln" in ASCII in
// the high bits) so that other applications sharing the database are
// unlikely to collide with them.
const (
	// lockWrite is held, transaction-scoped, by every Update.
	lockWrite int64 = 0x6b696c6e_00000001
	// lockMigrate is held, session-scoped, while migrations run.
	lockMigrate int64 = 0x6b696c6e_00000002
)

// ChangesChannel is the LISTEN/NOTIFY channel on which a PostgreSQL store
// announces committed change notices. The payload is empty: listeners read
// the notices themselves with Changes, so a notice is never lost to a
// dropped notification, only delayed until the next poll.
const ChangesChannel = "kiln_changes"

// postgresDialect stores kiln in a PostgreSQL database through pgx
// (github.com/jackc/pgx/v5, its database/sql driver), shared by any number
// of kiln processes.
//
// What it does to keep the store's contract identical to SQLite's:
//
//   - One writer at a time, across every process: each Update first takes
//     a transaction-scoped advisory lock (lockWrite), the counterpart of
//     SQLite's BEGIN IMMEDIATE. The service's check-then-write rules (the
//     token quota, "never leave no active admin", first-start bootstrap)
//     therefore hold across replicas exactly as they do across kiln
//     processes on one SQLite file, and change sequence numbers, taken
//     under the lock, become visible in commit order (see Notify).
//     Writes in kiln are rare next to reads (token checks never write), so
//     serialising them costs little; the figures are in
//     docs/benchmarks.md.
//   - The write pool runs READ COMMITTED: every statement after the lock
//     sees every transaction committed before it, as an immediate SQLite
//     transaction does. (REPEATABLE READ would fix its snapshot at the lock
//     statement, before the wait, and so miss the commits it waited for.)
//   - Views run REPEATABLE READ, READ ONLY: one snapshot for the whole
//     View, as a SQLite read transaction has, and writes refused by the
//     server too.
//   - A failed statement aborts a whole PostgreSQL transaction, where
//     SQLite fails only the statement. Every write statement of an Update
//     therefore runs under a savepoint (see tx.exec), so a conflict can be
//     met and the transaction go on, as the conformance suite requires.
//   - Lock waits are bounded by the busy timeout (lock_timeout), and a
//     write transaction left idle by a stuck process is ended by the
//     server (idle_in_transaction_session_timeout), so one bad replica
//     cannot hold the write lock forever.
type postgresDialect struct {
	// listener announces change notices; set by open.
	listener *pgListener
}

func (*postgresDialect) name() string { return "postgres" }

func (*postgresDialect) migrations() fs.FS {
	sub, err := fs.Sub(postgresMigrations, "migrations/postgres")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

func (*postgresDialect) rebind(query string) string { return rebindNumbered(query) }

// classify reads the SQLSTATE of a PostgreSQL error; a connection that
// cannot be made or was lost is unavailable too.
func (d *postgresDialect) classify(err error) errClass {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return errUnique
		case "23503": // foreign_key_violation
			return errForeignKey
		case "53300", // too_many_connections
			"55P03": // lock_not_available: lock_timeout, the busy timeout, ran out
			return errUnavailable
		}
	}
	if d.lostConnection(err) {
		return errUnavailable
	}
	return errOther
}

// open parses dsn as a pgx connection string (URL or key=value) and opens
// the two pools with the session settings described on postgresDialect.
func (d *postgresDialect) open(ctx context.Context, dsn string, o *options) (read, write *sql.DB, err error) {
	base, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message never contains the password.
		return nil, nil, fmt.Errorf("sqlstore: PostgreSQL URL: %w", err)
	}
	if _, ok := base.RuntimeParams["application_name"]; !ok {
		base.RuntimeParams["application_name"] = "kiln"
	}
	busy := strconv.FormatInt(max(o.busyTimeout.Milliseconds(), 1), 10)

	wc := base.Copy()
	wc.RuntimeParams["default_transaction_isolation"] = "read committed"
	wc.RuntimeParams["lock_timeout"] = busy
	// Long enough for any real Update (they hold the lock for
	// milliseconds), short enough that a hung process frees the lock.
	wc.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	write = stdlib.OpenDB(*wc)
	// One connection: Updates queue here, in order, rather than each
	// holding a server connection that waits on the write lock.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, nil, fmt.Errorf("sqlstore: connecting to PostgreSQL: %w", err)
	}

	rc := base.Copy()
	rc.RuntimeParams["default_transaction_isolation"] = "repeatable read"
	rc.RuntimeParams["default_transaction_read_only"] = "on"
	read = stdlib.OpenDB(*rc)
	read.SetMaxOpenConns(o.readConns)
	read.SetMaxIdleConns(o.readConns)
	read.SetConnMaxIdleTime(5 * time.Minute)

	d.listener = &pgListener{cfg: base.Copy(), subs: map[chan struct{}]struct{}{}}
	return read, write, nil
}

// lostConnection recognises a connection the server ended (SQLSTATE class
// 08, connection exception; 57P01-57P03, shutdown and restart) or that
// broke under the driver (database/sql's ErrBadConn, a network error, EOF).
// database/sql retries only ErrBadConn itself, and pgx reports a server
// that terminated an idle pooled connection as the server's own error.
func (*postgresDialect) lostConnection(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// beginWrite takes the store-wide write lock for the transaction; it is
// released by the commit or rollback.
func (*postgresDialect) beginWrite(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockWrite)
	return err
}

// lockMigrations holds the migration lock on conn: of several processes
// opening the store at once, one migrates while the others wait, then
// find nothing left to do.
func (*postgresDialect) lockMigrations(ctx context.Context, conn *sql.Conn) (unlock func(), err error) {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockMigrate); err != nil {
		return nil, err
	}
	return func() {
		// A failure leaves the lock to the session's end, which Close
		// brings about; nothing else can be done.
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, lockMigrate)
	}, nil
}

func (*postgresDialect) savepoints() bool { return true }

// notifyQuery wakes the listeners of every process at commit. PostgreSQL
// folds identical notifications of one transaction into one.
func (*postgresDialect) notifyQuery() string {
	return `SELECT pg_notify('` + ChangesChannel + `', '')`
}

func (d *postgresDialect) close() error {
	if d.listener != nil {
		d.listener.stop()
	}
	return nil
}

// watch returns a channel that receives a value after change notices are
// committed by any process.
func (d *postgresDialect) watch(ctx context.Context) <-chan struct{} {
	if d.listener == nil {
		return nil
	}
	return d.listener.subscribe(ctx)
}

// pgListener keeps one connection LISTENing on ChangesChannel and passes
// every notification on to its subscribers, coalesced: a subscriber that
// has not yet taken the previous signal gets no second one. It starts
// with the first subscriber and reconnects after a lost connection,
// signalling once on every (re)connect, since notices may have been
// missed meanwhile.
type pgListener struct {
	cfg *pgx.ConnConfig

	mu      sync.Mutex
	subs    map[chan struct{}]struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

func (l *pgListener) subscribe(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return nil
	}
	l.subs[ch] = struct{}{}
	if l.cancel == nil {
		lctx, cancel := context.WithCancel(context.Background())
		l.cancel, l.done = cancel, make(chan struct{})
		go l.run(lctx)
	}
	context.AfterFunc(ctx, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	})
	return ch
}

func (l *pgListener) signal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending: one refresh covers both
		}
	}
}

func (l *pgListener) run(ctx context.Context) {
	defer close(l.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := l.listen(ctx, func() { backoff = 50 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		_ = err // the poll covers the gap; the next connect signals
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen runs one connection until it fails or ctx ends.
func (l *pgListener) listen(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+ChangesChannel); err != nil {
		return err
	}
	connected()
	l.signal()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		l.signal()
	}
}

func (l *pgListener) stop() {
	l.mu.Lock()
	l.stopped = true
	cancel, done := l.cancel, l.done
	l.subs = map[chan struct{}]struct{}{}
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// execGuarded runs a write statement under a savepoint: if it fails, the
// transaction is rolled back to just before it and stays usable, as a
// failed statement leaves a SQLite transaction. The savepoint is released
// on success so that a long transaction does not pile up subtransactions.
func (t *tx) execGuarded(query string, args ...any) (sql.Result, error) {
	if _, err := t.sql.ExecContext(t.ctx, `SAVEPOINT kiln_stmt`); err != nil {
		return nil, err
	}
	res, err := t.sql.ExecContext(t.ctx, t.s.d.rebind(query), args...)
	if err != nil {
		if _, rerr := t.sql.ExecContext(t.ctx, `ROLLBACK TO SAVEPOINT kiln_stmt; RELEASE SAVEPOINT kiln_stmt`); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return nil, err
	}
	if _, err := t.sql.ExecContext(t.ctx, `RELEASE SAVEPOINT kiln_stmt`); err != nil {
		return nil, err
	}
	return res, nil
}
