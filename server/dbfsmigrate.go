package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/dbfs"
	"github.com/kiln-dev/kiln/sqlstore"
)

// migratedSuffix is added to the name of a local DBFS directory once its
// files are in the store.
const migratedSuffix = ".migrated"

// dbfsMigration counts what migrateLocalDBFS moved.
type dbfsMigration struct {
	files, dirs, skipped int
	bytes                int64
}

// migrateLocalDBFS moves the DBFS tree an older kiln kept in the data
// directory (dir, its dbfs/) into the store's tree, once: afterwards the
// directory is renamed dir+".migrated" (or, if that exists, with the time
// added), kept for the operator to check and delete, and never read
// again. Without dir it does nothing.
//
// It is idempotent. A file or directory already in the store (moved by a
// start that stopped half-way, or by another replica from its own data
// directory) is kept and the local one skipped; imports are atomic, so a
// second run completes a first one. The local tree is read through
// package dbfs, so a symbolic link planted in it (skipped, and logged)
// or a FIFO never leads outside it or hangs the start. Files keep their
// modification time and belong to no one (they count against no user's
// quota).
func migrateLocalDBFS(ctx context.Context, dir string, into *sqlstore.DBFS, log *slog.Logger) error {
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	disk, err := dbfs.Open(dir, dbfs.Options{})
	if err != nil {
		return err
	}
	var m dbfsMigration
	err = m.walk(ctx, disk, dir, "/", into, log)
	if cerr := disk.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	to := dir + migratedSuffix
	if _, err := os.Lstat(to); err == nil {
		to = fmt.Sprintf("%s%s-%d", dir, migratedSuffix, time.Now().Unix())
	}
	if err := os.Rename(dir, to); err != nil {
		return err
	}
	log.Info("moved the local DBFS directory into the store; the old directory is kept under a new name and may be deleted",
		"files", m.files, "directories", m.dirs, "bytes", m.bytes, "skipped", m.skipped, "old_directory", to)
	return nil
}

// walk moves the directory p of disk (at dir on the file system) and
// everything in it.
func (m *dbfsMigration) walk(ctx context.Context, disk *dbfs.Disk, dir, p string, into *sqlstore.DBFS, log *slog.Logger) error {
	list, err := disk.List(ctx, p)
	if err != nil {
		return fmt.Errorf("listing %s: %w", p, err)
	}
	for _, e := range list {
		local := filepath.Join(dir, filepath.FromSlash(e.Path[1:]))
		if st, err := os.Lstat(local); err != nil || st.Mode()&fs.ModeSymlink != 0 {
			log.Warn("not moving a symbolic link of the local DBFS directory into the store", "path", e.Path)
			m.skipped++
			continue
		}
		if e.IsDir {
			if err := into.Mkdirs(ctx, e.Path); m.conflict(err, e.Path, log) {
				continue
			} else if err != nil {
				return fmt.Errorf("creating %s: %w", e.Path, err)
			}
			m.dirs++
			if err := m.walk(ctx, disk, dir, e.Path, into, log); err != nil {
				return err
			}
			continue
		}
		f, err := disk.Open(ctx, e.Path)
		if errors.Is(err, kiln.ErrDBFSNotFile) {
			log.Warn("not moving a special file of the local DBFS directory into the store", "path", e.Path)
			m.skipped++
			continue
		}
		if err != nil {
			return fmt.Errorf("opening %s: %w", e.Path, err)
		}
		err = into.Import(ctx, e.Path, f, e.Modified)
		f.Close()
		if m.conflict(err, e.Path, log) {
			continue
		}
		if err != nil {
			return fmt.Errorf("moving %s: %w", e.Path, err)
		}
		m.files++
		m.bytes += e.Size
	}
	return nil
}

// conflict reports whether err means the store already has something at
// p (kept, the local entry skipped).
func (m *dbfsMigration) conflict(err error, p string, log *slog.Logger) bool {
	if errors.Is(err, kiln.ErrDBFSExists) || errors.Is(err, kiln.ErrDBFSIsDir) || errors.Is(err, kiln.ErrDBFSNotDir) {
		log.Info("the store's DBFS already has this path; kept it, skipped the local one", "path", p)
		m.skipped++
		return true
	}
	return false
}
