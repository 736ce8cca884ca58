package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// sqliteDialect stores kiln in one SQLite file through the pure-Go
// modernc.org/sqlite driver (no cgo, so kiln stays a static binary).
type sqliteDialect struct{}

func (sqliteDialect) name() string { return "sqlite" }

func (sqliteDialect) migrations() fs.FS {
	sub, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// rebind is the identity: SQLite takes "?" as it is.
func (sqliteDialect) rebind(query string) string { return query }

// classify reads SQLite's extended result code (the driver enables extended
// codes on every connection). SQLITE_BUSY, in any of its extended forms,
// only reaches kiln once busy_timeout has run out.
func (sqliteDialect) classify(err error) errClass {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return errOther
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return errUnique
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return errForeignKey
	}
	if se.Code()&0xff == sqlite3.SQLITE_BUSY {
		// Another process held the lock for longer than busy_timeout.
		return errUnavailable
	}
	return errOther
}

// beginWrite does nothing: BEGIN IMMEDIATE (_txlock, see open) already
// makes SQLite's writers take turns, across processes too.
func (sqliteDialect) beginWrite(context.Context, *sql.Tx) error { return nil }

// lockMigrations needs no lock: each migration runs in an immediate
// transaction that re-checks whether another process applied it.
func (sqliteDialect) lockMigrations(context.Context, *sql.Conn) (func(), error) { return nil, nil }

// savepoints is false: SQLite fails the statement, not the transaction.
func (sqliteDialect) savepoints() bool { return false }

// notifyQuery is empty: other processes on the file see notices by polling.
func (sqliteDialect) notifyQuery() string { return "" }

func (sqliteDialect) watch(context.Context) <-chan struct{} { return nil }

func (sqliteDialect) close() error { return nil }

// lostConnection is false: a file has no connection to lose.
func (sqliteDialect) lostConnection(error) bool { return false }

// open opens two pools on the same file.
//
// SQLite allows one writer at a time. The write pool therefore has a single
// connection: concurrent Updates queue in database/sql, in order, instead of
// each grabbing its own connection and spinning on the file lock under
// busy_timeout. Its transactions start with BEGIN IMMEDIATE (_txlock), which
// takes the write lock up front: a deferred transaction that reads first and
// writes later can fail with SQLITE_BUSY when another process (kiln admin)
// wrote in between, and busy_timeout cannot help it; an immediate one waits
// its turn under busy_timeout instead.
//
// The read pool has several connections, which WAL lets read concurrently
// with each other and with the writer, each from its own snapshot. They are
// query_only, so a write slipping into a View fails in SQLite too, not just
// in the Go-level check.
//
// WAL with synchronous=FULL: each commit appends to the WAL and fsyncs it
// before Update returns. Even synchronous=NORMAL survives kill -9 of the
// process (the committed frames are already in the OS page cache, which
// outlives the process), but NORMAL skips that fsync and so can lose the
// last acknowledged transactions when the machine itself goes down (power
// loss, kernel panic, a VM or container host killed hard). FULL makes
// "acknowledged" mean "on disk", at the cost of one fsync per Update.
//
// foreign_keys is per connection in SQLite and off by default; without it
// the ON DELETE CASCADE clauses would silently do nothing.
func (sqliteDialect) open(ctx context.Context, dsn string, o *options) (read, write *sql.DB, err error) {
	if dsn == ":memory:" || strings.HasPrefix(dsn, "file:") {
		// Each pooled connection would get its own private database, and
		// file: URIs would let a DSN override the pragmas below.
		return nil, nil, fmt.Errorf("sqlstore: %q: want a file path", dsn)
	}
	path, err := filepath.Abs(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: %w", err)
	}
	if err := privateFiles(path); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: %w", err)
	}
	busy := strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)

	wq := url.Values{}
	wq.Set("_busy_timeout", busy)
	wq.Set("_foreign_keys", "on")
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "FULL")
	wq.Set("_txlock", "immediate")
	write, err = sql.Open("sqlite", sqliteURI(path, wq))
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// Connect now: it creates the file and switches it to WAL before any
	// reader connects (a query_only connection cannot change the journal
	// mode), and reports a bad path here rather than at the first Update.
	if err := pingCreating(ctx, write); err != nil {
		write.Close()
		return nil, nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}

	rq := url.Values{}
	rq.Set("_busy_timeout", busy)
	rq.Set("_foreign_keys", "on")
	rq.Set("_query_only", "on")
	read, err = sql.Open("sqlite", sqliteURI(path, rq))
	if err != nil {
		write.Close()
		return nil, nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	read.SetMaxOpenConns(o.readConns)
	read.SetMaxIdleConns(o.readConns)
	read.SetConnMaxIdleTime(0)
	return read, write, nil
}

// privateFiles makes the database at path readable by its owner only.
// SQLite creates a new database with mode 0644 (less the umask) and gives
// its -wal and -shm files the database's mode, so creating the file 0600
// first makes all three private; changing the process's umask instead
// would race with every other goroutine creating files. Files an earlier
// kiln left wider are narrowed.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

// sqliteURI builds a file: URI for path. The URI form percent-encodes the
// path, so a file name containing "?" or "#" cannot be mistaken for the
// start of the parameters.
func sqliteURI(path string, q url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// pingCreating connects the write pool, retrying briefly on SQLITE_BUSY:
// when two processes create the same new file at once (kiln serve and kiln
// admin started together), switching it to WAL can fail with SQLITE_BUSY
// without consulting busy_timeout, because SQLite refuses to wait where
// waiting could deadlock. The loser succeeds once the winner is done.
func pingCreating(ctx context.Context, db *sql.DB) error {
	var err error
	for attempt := range 50 {
		var se *sqlite.Error
		if err = db.PingContext(ctx); err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(10+attempt*5) * time.Millisecond):
		}
	}
	return err
}
