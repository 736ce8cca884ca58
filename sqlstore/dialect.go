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
// Adding PostgreSQL means writing a pgx-backed dialect (SQLSTATE 23505 is
// errUnique, 23503 errForeignKey), a migrations/postgres directory mirroring
// migrations/sqlite, and a case in dialectFor; callers keep calling Open.
// Two behaviours the conformance suite pins down need care there: a
// failed statement must not doom its transaction (PostgreSQL aborts the
// whole transaction, so statements that may conflict need a SAVEPOINT),
// and change sequence numbers must become visible in order (see Notify).
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
)

// dialectFor picks the dialect a DSN speaks. Anything that is not a URL of
// another engine is a SQLite file path.
func dialectFor(dsn string) (dialect, error) {
	switch {
	case dsn == "":
		return nil, errors.New("sqlstore: empty DSN")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, fmt.Errorf("sqlstore: PostgreSQL is not supported yet")
	default:
		return sqliteDialect{}, nil
	}
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
