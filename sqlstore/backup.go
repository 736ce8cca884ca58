package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// BackupSQLite writes a consistent copy of the SQLite database at src to
// the new file dst, while other processes (a running kiln) go on reading
// and writing src. It uses VACUUM INTO, which reads src in one read
// transaction, so the copy is one committed state of the database, never
// a mixture, and writes it compacted and without a WAL, ready to be
// opened or restored. dst must not exist.
//
// PostgreSQL databases are backed up with pg_dump instead (see the
// README), which is consistent in the same way.
func BackupSQLite(ctx context.Context, src, dst string) error {
	if IsPostgresURL(src) {
		return errors.New("backup: the store is PostgreSQL: use pg_dump (see the README)")
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// Created empty and 0600 first (VACUUM INTO accepts an empty file),
	// so that the copy is never readable by others, even for a moment.
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup: %s exists; choose a new file", dst)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	db, err := openPlainSQLite(src, true)
	if err != nil {
		os.Remove(abs)
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, abs); err != nil {
		os.Remove(abs)
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Chmod(abs, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// openPlainSQLite opens the database file at path on one connection
// without the store's pool settings: for maintenance, not for serving.
func openPlainSQLite(path string, mustExist bool) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	if mustExist {
		q.Set("mode", "rw") // never create it
	}
	db, err := sql.Open("sqlite", sqliteURI(abs, q))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// CheckSQLiteBackup verifies that the file at path is a sound kiln SQLite
// database this binary can open: SQLite's integrity check passes, and it
// holds no migration unknown to this kiln and no edited one. It changes
// nothing in the file.
func CheckSQLiteBackup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := openPlainSQLite(path, true)
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return fmt.Errorf("%s is not a readable SQLite database: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("%s fails SQLite's integrity check: %s", path, res)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'workspace'`).Scan(&n); err != nil || n == 0 {
		return fmt.Errorf("%s is not a kiln database (no workspace table)", path)
	}
	applied, err := appliedMigrations(ctx, db, sqliteDialect{})
	if err != nil {
		return err
	}
	ms, err := loadMigrations(sqliteDialect{}.migrations())
	if err != nil {
		return err
	}
	return checkApplied(applied, ms)
}

// ErrInUse means a database file is open in another process.
var ErrInUse = errors.New("the database is open in another process (a running kiln?); stop it first")

// RestoreSQLite replaces the SQLite database at dst with the backup at
// src (checked first with [CheckSQLiteBackup]). dst must not be open in
// any process: restoring under a running server would have it write into a
// file that is no longer the database, so RestoreSQLite refuses with
// [ErrInUse], detected by taking SQLite's exclusive lock on dst. An
// existing dst is kept beside it as dst.before-restore-<time>, with its WAL
// checkpointed into it. The new file is written next to dst and renamed
// into place, so dst is at every moment either the old database or the
// complete restored one.
func RestoreSQLite(ctx context.Context, src, dst string) (kept string, err error) {
	if err := CheckSQLiteBackup(ctx, src); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		if err := checkpointIdle(ctx, dst); err != nil {
			return "", fmt.Errorf("restore: %w", err)
		}
		kept = dst + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("restore: %w", err)
	}
	tmp := dst + ".restoring"
	if err := copyFile(src, tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("restore: %w", err)
	}
	if kept != "" {
		if err := os.Rename(dst, kept); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("restore: %w", err)
		}
	}
	// The old database's WAL was checkpointed and is empty; a stale one
	// must not be replayed into the restored file.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dst + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return kept, fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return kept, fmt.Errorf("restore: %w", err)
	}
	return kept, nil
}

// checkpointIdle fails with ErrInUse unless no other connection has the
// database at path open, and otherwise folds its WAL into the main file.
// An exclusive lock in WAL mode is granted only while no other connection
// (in any process) holds the database open.
func checkpointIdle(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	q := url.Values{}
	q.Set("mode", "rw")
	q.Add("_pragma", "busy_timeout(0)")
	q.Add("_pragma", "locking_mode(EXCLUSIVE)")
	db, err := sql.Open("sqlite", sqliteURI(abs, q))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		var se *sqlite.Error
		// The primary result code is the low byte of the extended one.
		if errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED) {
			return fmt.Errorf("%s: %w", path, ErrInUse)
		}
		return err
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
