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
// finds nothing to do.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.d.migrations())
	if err != nil {
		return fmt.Errorf("sqlstore: %s migrations: %w", s.d.name(), err)
	}
	// BIGINT rather than INTEGER: PostgreSQL's integer is 32 bits.
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT   NOT NULL,
		checksum   TEXT   NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	applied, err := appliedMigrations(ctx, s.write, s.d)
	if err != nil {
		return err
	}
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
		if sum, ok := applied[m.version]; ok {
			if sum != m.checksum {
				return fmt.Errorf("sqlstore: migration %s was changed after it was applied", m.name)
			}
			continue
		}
		if err := s.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// appliedMigrations returns the recorded checksum of each applied version.
func appliedMigrations(ctx context.Context, db *sql.DB, d dialect) (map[int]string, error) {
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

// apply runs m and records it, in one write transaction.
func (s *Store) apply(ctx context.Context, m migration) error {
	tx, err := s.write.BeginTx(ctx, nil)
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
