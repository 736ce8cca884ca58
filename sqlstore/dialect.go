package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// dialect is everything that differs between database engines. The rest of
// the package (every query, the transaction logic, the migration runner) is
// written once against it:
//
//   - queries use "?" placeholders and go through rebind;
//   - schemas live in per-dialect migration directories, so types such as
//     BLOB/bytea or AUTOINCREMENT/identity never appear in Go code;
//   - driver errors are classified by the engine's error code, never by
//     message text, which changes between versions and locales.
//
// Two dialects exist: SQLite (sqlite.go) and PostgreSQL (postgres.go),
// each with its migrations/<name> directory mirroring the other. Two
// behaviours the conformance suite pins down differ between engines and
// are handled through this interface: a failed statement must not doom its
// transaction (PostgreSQL aborts the whole transaction, so write
// statements run under a SAVEPOINT: savepoints), and change sequence
// numbers must become visible in order (writers are serialised:
// beginWrite).
type dialect interface {
	// name is the dialect's name, also the migrations subdirectory.
	name() string
	// open connects to dsn and returns the pool View uses and the pool
	// Update and migrations use. They may be the same *sql.DB.
	open(ctx context.Context, dsn string, o *options) (read, write *sql.DB, err error)
	// migrations returns the dialect's migration files, named
	// NNNN_description.sql, at the root of the returned file system.
	migrations() fs.FS
	// rebind rewrites a query written with "?" placeholders into the
	// engine's placeholder syntax.
	rebind(query string) string
	// classify says what kind of failure a driver error is.
	classify(err error) errClass

	// beginWrite runs first in every Update's transaction: where the
	// engine does not serialise writers by itself, it takes the store-wide
	// write lock that makes Updates run one at a time across processes.
	beginWrite(ctx context.Context, tx *sql.Tx) error
	// lockMigrations makes conn the only one migrating, across processes,
	// until unlock; a nil unlock means the dialect needs no lock (each
	// migration's own write transaction is enough).
	lockMigrations(ctx context.Context, conn *sql.Conn) (unlock func(), err error)
	// savepoints reports whether a failed statement aborts the whole
	// transaction, so that write statements must run under a savepoint
	// for the transaction to go on after a conflict.
	savepoints() bool
	// notifyQuery is the statement that announces committed change
	// notices to other processes, run once in a transaction that calls
	// Notify; "" when the dialect has no such channel.
	notifyQuery() string
	// watch returns a channel that receives a value after any process
	// commits change notices, or nil if the dialect cannot tell.
	watch(ctx context.Context) <-chan struct{}
	// close releases what open started besides the pools.
	close() error
	// lostConnection reports whether err means the connection was lost or
	// closed by the server, so that a transaction that has not started
	// may be tried again on another connection.
	lostConnection(err error) bool
	// stampFile names the file whose first bytes change with every commit
	// (see ChangeStamp), or "" when the dialect has none.
	stampFile(dsn string) string
}

// errClass is a driver error's meaning to the store.
type errClass int

const (
	errOther errClass = iota
	// errUnique is a unique or primary key violation.
	errUnique
	// errForeignKey is a foreign key violation: the row referred to is
	// missing.
	errForeignKey
	// errUnavailable means the database cannot answer for now: it is
	// unreachable, shutting down, out of connections, or its write lock
	// stayed taken beyond the busy timeout. Retrying later can succeed.
	errUnavailable
)

// dialectFor picks the dialect a DSN speaks. Anything that is not a URL of
// another engine is a SQLite file path.
func dialectFor(dsn string) (dialect, error) {
	switch {
	case dsn == "":
		return nil, errors.New("sqlstore: empty DSN")
	case IsPostgresURL(dsn):
		return &postgresDialect{}, nil
	default:
		return sqliteDialect{}, nil
	}
}

// IsPostgresURL reports whether dsn names a PostgreSQL database
// (postgres:// or postgresql://) rather than a SQLite file.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// rebindNumbered rewrites "?" placeholders as $1, $2, … (PostgreSQL's
// syntax), leaving question marks inside quoted literals and identifiers
// alone. It is the rebind of dialects that number their parameters.
func rebindNumbered(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	var quote byte // the open quote character, 0 outside quotes
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
