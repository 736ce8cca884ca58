package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// migration is one embedded schema change.
type migration struct {
	version  int
	name     string // the file name
	sql      string
	checksum string // hex SHA-256 of sql
}

// loadMigrations reads the NNNN_description.sql files at the root of fsys,
// in version order. Versions must be positive and unique; gaps are allowed.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".") // sorted by name
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		if n := len(ms); n > 0 && ms[n-1].version >= v {
			return nil, fmt.Errorf("migration %s: version %d does not follow %s", e.Name(), v, ms[n-1].name)
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b), checksum: hex.EncodeToString(sum[:])})
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations")
	}
	return ms, nil
}

// migrate brings the schema up to date. Migrations are append-only: a
// database holding a migration this binary does not know (written by a
// newer kiln) or whose recorded checksum differs from the embedded file (an
// edited migration) is refused rather than run against a schema the code
// does not expect.
//
// Each pending migration runs in its own write transaction together with
// its schema_migrations row, so a crash leaves it either fully applied and
// recorded or not at all, and a second Open (in this process or another)
// finds nothing to do. On PostgreSQL the whole run also holds the
// migration lock, so that of ten replicas starting at once exactly one
// migrates and the others wait and then find the schema current.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.d.migrations())
	if err != nil {
		return fmt.Errorf("sqlstore: %s migrations: %w", s.d.name(), err)
	}
	// Everything on one connection of the write pool, which holds the
	// dialect's migration lock throughout.
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	defer conn.Close()
	unlock, err := s.d.lockMigrations(ctx, conn)
	if err != nil {
		return fmt.Errorf("sqlstore: taking the migration lock: %w", err)
	}
	if unlock != nil {
		defer unlock()
	}
	if _, err := conn.ExecContext(ctx, createSchemaMigrations); err != nil {
		return fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	applied, err := appliedMigrations(ctx, conn, s.d)
	if err != nil {
		return err
	}
	if err := checkApplied(applied, ms); err != nil {
		return err
	}
	for _, m := range ms {
		if _, ok := applied[m.version]; ok {
			continue
		}
		if err := s.apply(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

// BIGINT rather than INTEGER: PostgreSQL's integer is 32 bits.
const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT   NOT NULL,
	checksum   TEXT   NOT NULL,
	applied_at BIGINT NOT NULL
)`

// MigrationState is one migration as [Status] and [Store.Migrations]
// report it.
type MigrationState struct {
	Version int
	Name    string
	// Applied is when it was applied, zero if it is pending.
	Applied time.Time
}

// Migrations returns every migration this binary embeds for the store's
// dialect, in order, with when each was applied (all are, in an open
// store).
func (s *Store) Migrations(ctx context.Context) ([]MigrationState, error) {
	ms, err := loadMigrations(s.d.migrations())
	if err != nil {
		return nil, kiln.Internal(fmt.Errorf("sqlstore: %s migrations: %w", s.d.name(), err))
	}
	return migrationStates(ctx, s.write, s.d, ms)
}

// Status reports, without changing anything, every migration this binary
// embeds for the database at dsn and whether (and when) each is applied:
// `kiln admin migrate --status`. It fails like Open on a database migrated
// by a newer kiln or holding an edited migration, and works on a database
// never migrated (all pending).
func Status(ctx context.Context, dsn string) ([]MigrationState, error) {
	d, err := dialectFor(dsn)
	if err != nil {
		return nil, kiln.Internal(err)
	}
	ms, err := loadMigrations(d.migrations())
	if err != nil {
		return nil, kiln.Internal(fmt.Errorf("sqlstore: %s migrations: %w", d.name(), err))
	}
	o := defaultOptions()
	read, write, err := d.open(ctx, dsn, &o)
	if err != nil {
		return nil, kiln.Internal(err)
	}
	defer func() { d.close(); read.Close(); write.Close() }()
	// Under the migration lock, so that a migration in progress elsewhere
	// is reported once it is done, not half way; and in a transaction
	// rolled back at the end, so that even creating the record table
	// leaves no trace: DDL is transactional in both engines.
	conn, err := write.Conn(ctx)
	if err != nil {
		return nil, kiln.Internal(fmt.Errorf("sqlstore: migrations: %w", err))
	}
	defer conn.Close()
	unlock, err := d.lockMigrations(ctx, conn)
	if err != nil {
		return nil, kiln.Internal(fmt.Errorf("sqlstore: taking the migration lock: %w", err))
	}
	if unlock != nil {
		defer unlock()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, kiln.Internal(fmt.Errorf("sqlstore: migrations: %w", err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
		return nil, kiln.Internal(fmt.Errorf("sqlstore: create schema_migrations: %w", err))
	}
	applied, err := appliedMigrations(ctx, tx, d)
	if err != nil {
		return nil, kiln.Internal(err)
	}
	if err := checkApplied(applied, ms); err != nil {
		return nil, kiln.Internal(err)
	}
	return migrationStates(ctx, tx, d, ms)
}

// Pending is [Status] reduced to the migrations not applied: what Open
// would apply.
func Pending(ctx context.Context, dsn string) ([]MigrationState, error) {
	all, err := Status(ctx, dsn)
	if err != nil {
		return nil, err
	}
	var pending []MigrationState
	for _, m := range all {
		if m.Applied.IsZero() {
			pending = append(pending, m)
		}
	}
	return pending, nil
}

// querier is the reading part of a *sql.DB, *sql.Conn or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// migrationStates lists ms with their applied times.
func migrationStates(ctx context.Context, db querier, d dialect, ms []migration) ([]MigrationState, error) {
	rows, err := db.QueryContext(ctx, d.rebind(`SELECT version, applied_at FROM schema_migrations`))
	if err != nil {
		return nil, kiln.Internal(fmt.Errorf("sqlstore: read schema_migrations: %w", err))
	}
	defer rows.Close()
	at := map[int]int64{}
	for rows.Next() {
		var v int
		var ms int64
		if err := rows.Scan(&v, &ms); err != nil {
			return nil, kiln.Internal(fmt.Errorf("sqlstore: read schema_migrations: %w", err))
		}
		at[v] = ms
	}
	if err := rows.Err(); err != nil {
		return nil, kiln.Internal(fmt.Errorf("sqlstore: read schema_migrations: %w", err))
	}
	out := make([]MigrationState, len(ms))
	for i, m := range ms {
		out[i] = MigrationState{Version: m.version, Name: m.name}
		if v, ok := at[m.version]; ok {
			out[i].Applied = time.UnixMilli(v).UTC()
		}
	}
	return out, nil
}

// checkApplied refuses a migration record (version to checksum) holding
// a migration unknown to this binary or one whose text changed.
func checkApplied(applied map[int]string, ms []migration) error {
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("sqlstore: the database has migration %d, unknown to this kiln: it was upgraded by a newer version", v)
		}
	}
	for _, m := range ms {
		if sum, ok := applied[m.version]; ok && sum != m.checksum {
			return fmt.Errorf("sqlstore: migration %s was changed after it was applied", m.name)
		}
	}
	return nil
}

// appliedMigrations returns the recorded checksum of each applied version.
func appliedMigrations(ctx context.Context, db querier, d dialect) (map[int]string, error) {
	rows, err := db.QueryContext(ctx, d.rebind(`SELECT version, checksum FROM schema_migrations`))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := make(map[int]string)
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("sqlstore: read schema_migrations: %w", err)
		}
		applied[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: read schema_migrations: %w", err)
	}
	return applied, nil
}

// apply runs m and records it, in one write transaction on conn.
func (s *Store) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	// Another process may have applied it while this one waited for the
	// write lock.
	var sum string
	err = tx.QueryRowContext(ctx, s.d.rebind(`SELECT checksum FROM schema_migrations WHERE version = ?`), m.version).Scan(&sum)
	switch {
	case err == nil && sum == m.checksum:
		return nil
	case err == nil:
		return fmt.Errorf("sqlstore: migration %s was changed after it was applied", m.name)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO schema_migrations (version, name, checksum, applied_at)
		VALUES (?, ?, ?, ?)`), m.version, m.name, m.checksum, s.now().UnixMilli()); err != nil {
		return fmt.Errorf("sqlstore: record migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit migration %s: %w", m.name, err)
	}
	return nil
}
