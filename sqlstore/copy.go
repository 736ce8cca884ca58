package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kiln-dev/kiln"
)

// TableCopy reports one table copied by [CopyToPostgres].
type TableCopy struct {
	Table string
	Rows  int64
	// Digest is the SHA-256 of the table's rows in primary key order, the
	// same computed on the source and read back from the destination.
	Digest string
}

// CopyToPostgres copies every row of every table of src, a SQLite store,
// into dst, a PostgreSQL store that holds no workspace yet: `kiln admin
// migrate-store`, which moves a single-node install to PostgreSQL.
//
// Both stores must be at the same migration (Open brought both to this
// binary's). The tables are discovered from the destination's catalog,
// not listed here, so tables added by later migrations are copied too; a
// table present on one side only fails the copy.
//
// Nothing is lost or half-copied:
//   - the source is read inside an immediate (write-locked) transaction,
//     so it is one consistent state, and a process still writing to it
//     (a kiln that was not stopped) waits or fails instead of committing a
//     write the copy would miss;
//   - the destination is written in one transaction holding the store's
//     write lock: a failure leaves it exactly as it was;
//   - before committing, every table's row count and a digest of its
//     content, read back from the destination, must equal the source's.
//
// Identity columns (audit ids, change sequence numbers) keep their values
// and their sequences are moved past them.
func CopyToPostgres(ctx context.Context, src, dst *Store) ([]TableCopy, error) {
	if src.d.name() != "sqlite" || dst.d.name() != "postgres" {
		return nil, fmt.Errorf("copy: from SQLite to PostgreSQL only, not %s to %s", src.d.name(), dst.d.name())
	}
	sm, err := src.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	dm, err := dst.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	if names(sm) != names(dm) {
		return nil, fmt.Errorf("copy: the stores are at different migrations (%s and %s)", names(sm), names(dm))
	}

	stx, err := src.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE: writers wait
	if err != nil {
		return nil, fmt.Errorf("copy: locking the source: %w", err)
	}
	defer stx.Rollback()
	srcTables, err := sqliteTables(ctx, stx)
	if err != nil {
		return nil, err
	}

	conn, err := dst.write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	defer conn.Close()
	var report []TableCopy
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		ptx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer ptx.Rollback(context.Background())
		if _, err := ptx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockWrite); err != nil {
			return err
		}
		var workspaces int
		if err := ptx.QueryRow(ctx, `SELECT COUNT(*) FROM workspace`).Scan(&workspaces); err != nil {
			return err
		}
		if workspaces != 0 {
			return errors.New("copy: the PostgreSQL database already holds a workspace; migrate-store needs a new, empty database")
		}
		tables, err := pgTables(ctx, ptx)
		if err != nil {
			return err
		}
		var dstNames []string
		for _, t := range tables {
			dstNames = append(dstNames, t.name)
		}
		slices.Sort(dstNames)
		if !slices.Equal(dstNames, srcTables) {
			return fmt.Errorf("copy: the stores' tables differ: SQLite has %v, PostgreSQL %v", srcTables, dstNames)
		}
		// Rows the migrations themselves insert (the workspace root
		// directory) are in the source too: start from empty tables.
		var all []string
		for _, t := range tables {
			all = append(all, pgx.Identifier{t.name}.Sanitize())
		}
		if _, err := ptx.Exec(ctx, "TRUNCATE "+joinComma(all)); err != nil {
			return fmt.Errorf("copy: emptying the destination: %w", err)
		}
		for _, t := range tables {
			tc, err := copyTable(ctx, stx, ptx, t)
			if err != nil {
				return fmt.Errorf("copy: table %s: %w", t.name, err)
			}
			report = append(report, tc)
		}
		return ptx.Commit(ctx)
	})
	if err != nil {
		return nil, kiln.Internal(err)
	}
	return report, nil
}

func names(ms []MigrationState) string {
	s := ""
	for _, m := range ms {
		s += m.Name + " "
	}
	return s
}

func joinComma(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

// pgTable is a table of the destination as its catalog describes it.
type pgTable struct {
	name     string
	cols     []pgColumn
	pk       []string
	identity []string
}

type pgColumn struct {
	name, typ string
}

// sqliteTables lists the source's tables, sorted.
func sqliteTables(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("copy: listing SQLite tables: %w", err)
	}
	defer rows.Close()
	var ts []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		ts = append(ts, n)
	}
	return ts, rows.Err()
}

// pgTables lists the destination's tables in an order that inserts every
// referenced row before the rows referring to it.
func pgTables(ctx context.Context, tx pgx.Tx) ([]pgTable, error) {
	rows, err := tx.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'
		ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	tableNames, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, `SELECT s.relname, d.relname FROM pg_constraint c
		JOIN pg_class s ON s.oid = c.conrelid
		JOIN pg_class d ON d.oid = c.confrelid
		JOIN pg_namespace n ON n.oid = s.relnamespace
		WHERE c.contype = 'f' AND n.nspname = current_schema()`)
	if err != nil {
		return nil, err
	}
	deps := map[string][]string{} // table -> tables it refers to
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			rows.Close()
			return nil, err
		}
		if from != to {
			deps[from] = append(deps[from], to)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	order, err := topoSort(tableNames, deps)
	if err != nil {
		return nil, err
	}
	var ts []pgTable
	for _, name := range order {
		t := pgTable{name: name}
		rows, err := tx.Query(ctx, `SELECT column_name, data_type, is_identity FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, name)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c pgColumn
			var ident string
			if err := rows.Scan(&c.name, &c.typ, &ident); err != nil {
				rows.Close()
				return nil, err
			}
			t.cols = append(t.cols, c)
			if ident == "YES" {
				t.identity = append(t.identity, c.name)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		rows, err = tx.Query(ctx, `SELECT a.attname FROM pg_index i
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
			WHERE i.indrelid = $1::regclass AND i.indisprimary
			ORDER BY array_position(i.indkey::int2[], a.attnum)`, pgx.Identifier{name}.Sanitize())
		if err != nil {
			return nil, err
		}
		if t.pk, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, err
		}
		if len(t.pk) == 0 {
			return nil, fmt.Errorf("copy: table %s has no primary key to order its rows by", name)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// topoSort orders tables so that each comes after those it refers to;
// ties go by name, so the order is the same on every run.
func topoSort(tables []string, deps map[string][]string) ([]string, error) {
	done := map[string]bool{}
	var order []string
	for len(order) < len(tables) {
		progress := false
		for _, t := range tables {
			if done[t] {
				continue
			}
			ready := true
			for _, d := range deps[t] {
				if !done[d] {
					ready = false
				}
			}
			if ready {
				done[t], progress = true, true
				order = append(order, t)
			}
		}
		if !progress {
			return nil, errors.New("copy: foreign keys form a cycle")
		}
	}
	return order, nil
}

// copyTable streams one table from the source into the destination with
// COPY, then checks the destination's count and digest against the
// source's.
func copyTable(ctx context.Context, stx *sql.Tx, ptx pgx.Tx, t pgTable) (TableCopy, error) {
	var colNames []string
	var quoted []string
	for _, c := range t.cols {
		colNames = append(colNames, c.name)
		quoted = append(quoted, pgx.Identifier{c.name}.Sanitize())
	}
	var pkQuoted []string
	for _, c := range t.pk {
		pkQuoted = append(pkQuoted, pgx.Identifier{c}.Sanitize())
	}
	table := pgx.Identifier{t.name}.Sanitize()
	// Both engines order integers and byte-wise (C, BINARY) text alike, and
	// primary keys are never NULL, so both sides list rows in one order.
	selectSQL := "SELECT " + joinComma(quoted) + " FROM " + table + " ORDER BY " + joinComma(pkQuoted)

	rows, err := stx.QueryContext(ctx, selectSQL)
	if err != nil {
		return TableCopy{}, fmt.Errorf("reading SQLite: %w", err)
	}
	defer rows.Close()
	srcDigest := sha256.New()
	var n int64
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	copied, err := ptx.CopyFrom(ctx, pgx.Identifier{t.name}, colNames, pgx.CopyFromFunc(func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out := make([]any, len(vals))
		for i, v := range vals {
			cv, err := convert(v, t.cols[i].typ)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", t.cols[i].name, err)
			}
			out[i] = cv
		}
		digestRow(srcDigest, out)
		n++
		return out, nil
	}))
	if err != nil {
		return TableCopy{}, err
	}
	rows.Close()
	if copied != n {
		return TableCopy{}, fmt.Errorf("COPY wrote %d rows of %d", copied, n)
	}
	// Read back what landed, in the same order.
	prows, err := ptx.Query(ctx, selectSQL)
	if err != nil {
		return TableCopy{}, err
	}
	dstDigest := sha256.New()
	var m int64
	for prows.Next() {
		vs, err := prows.Values()
		if err != nil {
			prows.Close()
			return TableCopy{}, err
		}
		digestRow(dstDigest, vs)
		m++
	}
	if err := prows.Err(); err != nil {
		return TableCopy{}, err
	}
	sd, dd := hex.EncodeToString(srcDigest.Sum(nil)), hex.EncodeToString(dstDigest.Sum(nil))
	if m != n || sd != dd {
		return TableCopy{}, fmt.Errorf("verification failed: the source has %d rows (digest %s), PostgreSQL %d (digest %s)", n, sd, m, dd)
	}
	for _, col := range t.identity {
		_, err := ptx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2),
			COALESCE((SELECT MAX(`+pgx.Identifier{col}.Sanitize()+`) FROM `+table+`), 0) + 1, false)`,
			table, col)
		if err != nil {
			return TableCopy{}, fmt.Errorf("moving the %s sequence: %w", col, err)
		}
	}
	return TableCopy{Table: t.name, Rows: n, Digest: sd}, nil
}

// convert turns a value read from SQLite into the destination column's
// type where the two differ: SQLite keeps booleans as 0/1 integers.
func convert(v any, pgType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch pgType {
	case "boolean":
		switch x := v.(type) {
		case int64:
			return x != 0, nil
		case bool:
			return x, nil
		}
		return nil, fmt.Errorf("cannot store %T as boolean", v)
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case "text":
		switch x := v.(type) {
		case []byte:
			return string(x), nil
		}
	}
	return v, nil
}

// digestRow adds one row to h in a form that is the same whichever engine
// the values came from (booleans as 0/1, text and bytes length-prefixed).
func digestRow(h hash.Hash, vals []any) {
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			h.Write([]byte("N;"))
		case bool:
			if x {
				h.Write([]byte("i1;"))
			} else {
				h.Write([]byte("i0;"))
			}
		case int64:
			h.Write([]byte("i" + strconv.FormatInt(x, 10) + ";"))
		case int32:
			h.Write([]byte("i" + strconv.FormatInt(int64(x), 10) + ";"))
		case string:
			h.Write([]byte("s" + strconv.Itoa(len(x)) + ":" + x))
		case []byte:
			h.Write([]byte("b" + strconv.Itoa(len(x)) + ":"))
			h.Write(x)
		default:
			h.Write([]byte(fmt.Sprintf("?%T:%v;", x, x)))
		}
	}
	h.Write([]byte("\n"))
}
