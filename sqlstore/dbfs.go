package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
)

// DBFSChunkSize is the most bytes one row of dbfs_chunks holds: a file of
// n bytes is about n/DBFSChunkSize rows, and a reader holds one chunk in
// memory at a time.
const DBFSChunkSize = 1 << 20

// dbfsPutBatch is how many chunks a put writes per transaction: 4 writes
// about 1.3x as fast as 1 (BenchmarkDBFSPut, docs/benchmarks.md) and
// holds the write lock for tens of milliseconds; 8 gains nothing more.
const dbfsPutBatch = 4

// DBFSOptions bound the tree kept in the store. Zero values take the
// defaults.
type DBFSOptions struct {
	// IdleTimeout closes a handle unused for that long; default
	// [kiln.DBFSIdleTimeout], as Databricks. It is also how long the staging of a put
	// that died (its process stopped mid-upload) stays before it is
	// swept.
	IdleTimeout time.Duration
	// MaxHandles bounds the open handles in all (default
	// [kiln.DBFSMaxHandles]), MaxHandlesPerOwner those of one owner
	// (default [kiln.DBFSMaxHandlesPerOwner]); across every
	// process sharing the database, since the handles are rows.
	MaxHandles, MaxHandlesPerOwner int
	// QuotaPerOwner bounds the bytes one owner's files and open uploads
	// take, Quota those of everyone together; 0 or less, no bound.
	QuotaPerOwner, Quota int64
	// Now is the clock of modification times and idle handles; default
	// time.Now.
	Now func() time.Time
}

// DBFS is the DBFS tree ([kiln.DBFS]) kept in the store, so that every
// replica on one PostgreSQL database serves the same files and an upload
// begun through one replica goes on through another. Obtain it with
// [Store.DBFS]; it is safe for concurrent use.
//
// A file's content is written in chunks of at most [DBFSChunkSize] to a
// blob nothing refers to yet (a put's staging, or an open handle's
// upload), at most [dbfsPutBatch] chunks per short transaction, so that a
// large upload never holds the store's write lock for long. The file appears
// when one transaction points its row at the blob: a reader sees a whole
// file or none. Reads fetch only the chunks they need.
type DBFS struct {
	s   *Store
	opt DBFSOptions

	mu        sync.Mutex
	lastSweep time.Time // of staging blobs left behind; guarded by mu
}

var (
	_ kiln.DBFS         = (*DBFS)(nil)
	_ kiln.DBFSAccounts = (*DBFS)(nil)
)

// DBFS returns the DBFS tree kept in s, bounded by o. The tree lives as
// long as s: its Close releases nothing, and open handles stay for the
// other processes sharing the database.
func (s *Store) DBFS(o DBFSOptions) *DBFS {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = kiln.DBFSIdleTimeout
	}
	if o.MaxHandles <= 0 {
		o.MaxHandles = kiln.DBFSMaxHandles
	}
	if o.MaxHandlesPerOwner <= 0 {
		o.MaxHandlesPerOwner = kiln.DBFSMaxHandlesPerOwner
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &DBFS{s: s, opt: o}
}

// Close implements kiln.DBFS. Open uploads are rows of the store, shared
// with other replicas, so they stay (and expire after the idle timeout);
// the store is closed by its owner.
func (d *DBFS) Close() error { return nil }

// errNotClean refuses a path the service would not have passed.
var errNotClean = errors.New("sqlstore: not a clean DBFS path")

// errRoot and errIntoItself refuse what the service never asks for.
var (
	errRoot       = errors.New("sqlstore: the DBFS root cannot be deleted, moved or replaced")
	errIntoItself = errors.New("sqlstore: a directory cannot move into itself")
	// errChanged ends a reader whose file was replaced or deleted
	// while it read (its chunks are gone).
	errChanged = errors.New("sqlstore: the DBFS file changed while it was read")
)

// condition is the condition c of op about the DBFS path p.
func condition(op, p string, c error) error {
	return &fs.PathError{Op: op, Path: p, Err: c}
}

// checkPath checks what the service already did, so that no caller can
// store a path that could not be named.
func checkPath(op, p string) error {
	if p == "/" {
		return nil
	}
	r, ok := strings.CutPrefix(p, "/")
	first, _, _ := strings.Cut(r, "/")
	if !ok || path.Clean(p) != p || !fs.ValidPath(r) || first == kiln.DBFSReserved || !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
		return condition(op, p, errNotClean)
	}
	return nil
}

// now is the tree's clock in stored milliseconds.
func (d *DBFS) now() int64 { return d.opt.Now().UnixMilli() }

// update and view run fn in a transaction of the store.
func (d *DBFS) update(ctx context.Context, fn func(t *tx) error) error {
	return d.s.Update(ctx, func(k kiln.Tx) error { return fn(k.(*tx)) })
}

func (d *DBFS) view(ctx context.Context, fn func(t *tx) error) error {
	return d.s.View(ctx, func(k kiln.Tx) error { return fn(k.(*tx)) })
}

// dbfsEntry is a row of dbfs_files; the root is a directory without one.
type dbfsEntry struct {
	path     string
	isDir    bool
	size     int64
	modified int64
	owner    int64
	blob     sql.NullInt64
}

func (e dbfsEntry) info() kiln.DBFSFileInfo {
	return kiln.DBFSFileInfo{Path: e.path, IsDir: e.isDir, Size: e.size, Modified: time.UnixMilli(e.modified).UTC()}
}

// entry returns what is at p, and whether anything is.
func (t *tx) dbfsEntry(p string) (dbfsEntry, bool, error) {
	if p == "/" {
		return dbfsEntry{path: "/", isDir: true}, true, nil
	}
	e := dbfsEntry{path: p}
	err := t.queryRow(`SELECT is_dir, size, modified, owner, blob_id FROM dbfs_files WHERE path = ?`, p).
		Scan(&e.isDir, &e.size, &e.modified, &e.owner, &e.blob)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return dbfsEntry{}, false, nil
	case err != nil:
		return dbfsEntry{}, false, internal("dbfs lookup", err)
	}
	return e, true, nil
}

// dbfsExisting returns what is at p, which must exist: nothing there is
// ErrDBFSNotFound for op.
func (t *tx) dbfsExisting(op, p string) (dbfsEntry, error) {
	e, ok, err := t.dbfsEntry(p)
	if err == nil && !ok {
		err = condition(op, p, kiln.ErrDBFSNotFound)
	}
	return e, err
}

// dbfsFileInWay reports whether a file is where a directory on the way
// to p (p excluded) should be.
func (t *tx) dbfsFileInWay(p string) (bool, error) {
	for q := path.Dir(p); q != "/"; q = path.Dir(q) {
		e, ok, err := t.dbfsEntry(q)
		if err != nil {
			return false, err
		}
		if ok {
			return !e.isDir, nil // a directory's parents are directories
		}
	}
	return false, nil
}

// dbfsMkdirAll makes dir and its missing parents directories, for an
// operation about the path about. Everything is checked before anything
// is written: a file in the way is ErrDBFSNotDir and changes nothing.
func (t *tx) dbfsMkdirAll(op, about, dir string, now int64) error {
	var missing []string
	for q := dir; q != "/"; q = path.Dir(q) {
		e, ok, err := t.dbfsEntry(q)
		if err != nil {
			return err
		}
		if ok {
			if !e.isDir {
				return condition(op, about, kiln.ErrDBFSNotDir)
			}
			break // a directory's parents are directories
		}
		missing = append(missing, q)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if _, err := t.exec(`INSERT INTO dbfs_files (path, parent, is_dir, size, modified, owner) VALUES (?, ?, ?, 0, ?, 0)`,
			missing[i], path.Dir(missing[i]), true, now); err != nil {
			return internal("dbfs mkdirs", err)
		}
	}
	return nil
}

// checkTarget fails early when a write to p cannot succeed: a directory
// there, a file and no overwrite, or a file where a parent should be.
func (t *tx) dbfsCheckTarget(op, p string, overwrite bool) (dbfsEntry, bool, error) {
	e, ok, err := t.dbfsEntry(p)
	switch {
	case err != nil:
		return e, false, err
	case ok && e.isDir:
		return e, true, condition(op, p, kiln.ErrDBFSIsDir)
	case ok && !overwrite:
		return e, true, condition(op, p, kiln.ErrDBFSExists)
	case ok:
		return e, true, nil
	}
	inWay, err := t.dbfsFileInWay(p)
	if err == nil && inWay {
		err = condition(op, p, kiln.ErrDBFSNotDir)
	}
	return e, false, err
}

// usage returns the bytes owner's files and open uploads take (when
// needMine), and those of everyone's (when needAll).
func (d *DBFS) usage(t *tx, owner int64, needMine, needAll bool) (mine, all int64, err error) {
	const op = "dbfs usage"
	sum := func(q string, args ...any) (int64, error) {
		var n int64
		if err := t.queryRow(q, args...).Scan(&n); err != nil {
			return 0, internal(op, err)
		}
		return n, nil
	}
	if needMine {
		files, err := sum(`SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM dbfs_files WHERE owner = ?`, owner)
		if err != nil {
			return 0, 0, err
		}
		ups, err := sum(`SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM dbfs_handles WHERE owner = ?`, owner)
		if err != nil {
			return 0, 0, err
		}
		mine = files + ups
	}
	if needAll {
		files, err := sum(`SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM dbfs_files`)
		if err != nil {
			return 0, 0, err
		}
		ups, err := sum(`SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM dbfs_handles`)
		if err != nil {
			return 0, 0, err
		}
		all = files + ups
	}
	return mine, all, nil
}

// Usage implements [kiln.DBFSAccounts].
func (d *DBFS) Usage(ctx context.Context, owner int64) (kiln.DBFSUsage, error) {
	u := kiln.DBFSUsage{QuotaPerOwner: max(d.opt.QuotaPerOwner, 0), Quota: max(d.opt.Quota, 0)}
	err := d.view(ctx, func(t *tx) (err error) {
		u.Mine, u.All, err = d.usage(t, owner, true, true)
		return err
	})
	return u, err
}

// checkQuota refuses a write about p that adds growMine bytes to owner's
// usage and growAll to everyone's, when that goes over a quota. A write
// that adds nothing always passes, so that an owner over a lowered quota
// can still shrink or delete.
func (d *DBFS) checkQuota(t *tx, op, p string, owner, growMine, growAll int64) error {
	if (d.opt.QuotaPerOwner <= 0 || growMine <= 0) && (d.opt.Quota <= 0 || growAll <= 0) {
		return nil
	}
	mine, all, err := d.usage(t, owner, d.opt.QuotaPerOwner > 0, d.opt.Quota > 0)
	if err != nil {
		return err
	}
	if d.opt.QuotaPerOwner > 0 && growMine > 0 && mine+growMine > d.opt.QuotaPerOwner {
		return condition(op, p, &kiln.DBFSQuotaError{Limit: d.opt.QuotaPerOwner})
	}
	if d.opt.Quota > 0 && growAll > 0 && all+growAll > d.opt.Quota {
		return condition(op, p, &kiln.DBFSQuotaError{Limit: d.opt.Quota, Workspace: true})
	}
	return nil
}

// newBlob creates an empty blob and returns its id.
func (t *tx) newDBFSBlob(now int64) (int64, error) {
	for range 8 {
		id := t.s.newID()
		taken, err := t.exists(`SELECT 1 FROM dbfs_blobs WHERE id = ?`, id)
		if err != nil {
			return 0, internal("dbfs new blob", err)
		}
		if !taken {
			if _, err := t.exec(`INSERT INTO dbfs_blobs (id, touched) VALUES (?, ?)`, id, now); err != nil {
				return 0, internal("dbfs new blob", err)
			}
			return id, nil
		}
	}
	return 0, kiln.Internal(errIDsExhausted)
}

// dropBlob deletes blob and its chunks.
func (t *tx) dropDBFSBlob(blob int64) error {
	if _, err := t.exec(`DELETE FROM dbfs_blobs WHERE id = ?`, blob); err != nil {
		return internal("dbfs drop blob", err)
	}
	return nil
}

// appendChunks appends data to blob, whose size is size: the last chunk
// is topped up to DBFSChunkSize first, so that many small blocks do not
// make as many rows.
func (t *tx) appendDBFSChunks(blob, size int64, data []byte, now int64) error {
	const op = "dbfs append"
	if len(data) == 0 {
		return nil
	}
	// Every chunk but the last is full: a partial one is the last, at
	// the offset below size that is a multiple of DBFSChunkSize.
	if part := size % DBFSChunkSize; part != 0 {
		off := size - part
		var last []byte
		if err := t.queryRow(`SELECT data FROM dbfs_chunks WHERE blob_id = ? AND off = ?`, blob, off).Scan(&last); err != nil {
			return internal(op, err)
		}
		k := min(int64(len(data)), DBFSChunkSize-part)
		last = append(last, data[:k]...)
		if _, err := t.exec(`UPDATE dbfs_chunks SET size = ?, data = ? WHERE blob_id = ? AND off = ?`, len(last), last, blob, off); err != nil {
			return internal(op, err)
		}
		data, size = data[k:], size+k
	}
	for len(data) > 0 {
		k := min(len(data), DBFSChunkSize)
		if _, err := t.exec(`INSERT INTO dbfs_chunks (blob_id, off, size, data) VALUES (?, ?, ?, ?)`, blob, size, k, data[:k]); err != nil {
			return internal(op, err)
		}
		data, size = data[k:], size+int64(k)
	}
	if _, err := t.exec(`UPDATE dbfs_blobs SET touched = ? WHERE id = ?`, now, blob); err != nil {
		return internal(op, err)
	}
	return nil
}

// commit makes blob (size bytes, owner's) the file at p, in t. Every
// condition is found before anything is written. counted says the quotas
// are not to be checked: the bytes already count (an upload's) or count
// for no one (an import).
func (d *DBFS) commit(t *tx, op, p string, owner, blob, size int64, overwrite, counted bool, modified int64) error {
	old, exists, err := t.dbfsCheckTarget(op, p, overwrite)
	if err != nil {
		return err
	}
	if !counted {
		var replacedMine, replacedAll int64
		if exists {
			replacedAll = old.size
			if old.owner == owner {
				replacedMine = old.size
			}
		}
		if err := d.checkQuota(t, op, p, owner, size-replacedMine, size-replacedAll); err != nil {
			return err
		}
	}
	if err := t.dbfsMkdirAll(op, p, path.Dir(p), modified); err != nil {
		return err
	}
	if exists {
		if _, err := t.exec(`DELETE FROM dbfs_files WHERE path = ?`, p); err != nil {
			return internal(op, err)
		}
		if old.blob.Valid {
			if err := t.dropDBFSBlob(old.blob.Int64); err != nil {
				return err
			}
		}
	}
	if _, err := t.exec(`INSERT INTO dbfs_files (path, parent, is_dir, size, modified, owner, blob_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p, path.Dir(p), false, size, modified, owner, blob); err != nil {
		return internal(op, err)
	}
	return nil
}

// cleanup runs fn (which undoes a failed write) even when ctx is
// cancelled; what it cannot undo is swept later.
func (d *DBFS) cleanup(ctx context.Context, fn func(t *tx) error) {
	d.update(context.WithoutCancel(ctx), fn)
}

// Put implements kiln.DBFS.
func (d *DBFS) Put(ctx context.Context, owner int64, p string, r io.Reader, limit int64, overwrite bool) error {
	return d.put(ctx, "put", owner, p, r, limit, overwrite, 0)
}

// Import writes the file at p with what r yields, unbounded and outside
// every quota, owned by no one (owner 0) and modified at modified: the
// one-time move of a local DBFS directory into the store. An existing
// file or directory at p is ErrDBFSExists (or ErrDBFSIsDir), and stays.
func (d *DBFS) Import(ctx context.Context, p string, r io.Reader, modified time.Time) error {
	return d.put(ctx, "import", 0, p, r, math.MaxInt64-1, false, modified.UnixMilli())
}

// put is Put, modified at modified (0: now); an import (op "import")
// ignores the quotas.
func (d *DBFS) put(ctx context.Context, op string, owner int64, p string, r io.Reader, limit int64, overwrite bool, modified int64) error {
	if err := checkPath(op, p); err != nil {
		return err
	}
	if p == "/" {
		return condition(op, p, kiln.ErrDBFSIsDir)
	}
	// Before reading a large body for nothing.
	if err := d.view(ctx, func(t *tx) error {
		_, _, err := t.dbfsCheckTarget(op, p, overwrite)
		return err
	}); err != nil {
		return err
	}
	d.sweepStaging(ctx)
	var blob int64
	if err := d.update(ctx, func(t *tx) (err error) {
		blob, err = t.newDBFSBlob(d.now())
		return err
	}); err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			d.cleanup(ctx, func(t *tx) error { return t.dropDBFSBlob(blob) })
		}
	}()
	buf := make([]byte, dbfsPutBatch*DBFSChunkSize)
	var size int64
	for {
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return rerr // the caller's, as it is
		}
		if int64(n) > limit-size {
			return condition(op, p, kiln.ErrDBFSTooLarge)
		}
		if n > 0 {
			if err := d.update(ctx, func(t *tx) error { return t.appendDBFSChunks(blob, size, buf[:n], d.now()) }); err != nil {
				return err
			}
			size += int64(n)
		}
		if rerr != nil {
			break
		}
	}
	err := d.update(ctx, func(t *tx) error {
		now := d.now()
		if modified == 0 {
			modified = now
		}
		return d.commit(t, op, p, owner, blob, size, overwrite, op == "import", modified)
	})
	committed = err == nil
	return err
}

// sweepStaging deletes, at most once a minute per process, the blobs
// nothing refers to that were not written for the idle timeout: the
// staging of puts whose process stopped mid-upload.
func (d *DBFS) sweepStaging(ctx context.Context) {
	now := d.opt.Now()
	d.mu.Lock()
	due := now.Sub(d.lastSweep) >= time.Minute || now.Before(d.lastSweep)
	if due {
		d.lastSweep = now
	}
	d.mu.Unlock()
	if !due {
		return
	}
	cutoff := now.Add(-d.opt.IdleTimeout).UnixMilli()
	d.update(ctx, func(t *tx) error {
		_, err := t.exec(`DELETE FROM dbfs_blobs WHERE touched < ?
			AND NOT EXISTS (SELECT 1 FROM dbfs_files f WHERE f.blob_id = dbfs_blobs.id)
			AND NOT EXISTS (SELECT 1 FROM dbfs_handles h WHERE h.blob_id = dbfs_blobs.id)`, cutoff)
		return err
	})
}

// expireHandles drops the handles unused for longer than the idle
// timeout, with their uploads.
func (d *DBFS) expireHandles(t *tx, now int64) error {
	const op = "dbfs expire handles"
	cutoff := now - d.opt.IdleTimeout.Milliseconds()
	blobs, err := collect(t, op, `SELECT blob_id FROM dbfs_handles WHERE last_used < ?`, scanInt64, cutoff)
	if err != nil {
		return err
	}
	if len(blobs) == 0 {
		return nil
	}
	if _, err := t.exec(`DELETE FROM dbfs_handles WHERE last_used < ?`, cutoff); err != nil {
		return internal(op, err)
	}
	for _, b := range blobs {
		if err := t.dropDBFSBlob(b); err != nil {
			return err
		}
	}
	return nil
}

// CreateHandle implements kiln.DBFS.
func (d *DBFS) CreateHandle(ctx context.Context, owner int64, p string, overwrite bool) (int64, error) {
	const op = "create"
	if err := checkPath(op, p); err != nil {
		return 0, err
	}
	if p == "/" {
		return 0, condition(op, p, kiln.ErrDBFSIsDir)
	}
	d.sweepStaging(ctx)
	var id int64
	err := d.update(ctx, func(t *tx) error {
		now := d.now()
		if err := d.expireHandles(t, now); err != nil {
			return err
		}
		if _, _, err := t.dbfsCheckTarget(op, p, overwrite); err != nil {
			return err
		}
		var all, mine int
		if err := t.queryRow(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN owner = ? THEN 1 ELSE 0 END), 0) FROM dbfs_handles`, owner).Scan(&all, &mine); err != nil {
			return internal(op, err)
		}
		if all >= d.opt.MaxHandles || mine >= d.opt.MaxHandlesPerOwner {
			return &kiln.DBFSHandleLimitError{IdleTimeout: d.opt.IdleTimeout}
		}
		blob, err := t.newDBFSBlob(now)
		if err != nil {
			return err
		}
		for range 8 {
			id = t.s.newID()
			taken, err := t.exists(`SELECT 1 FROM dbfs_handles WHERE id = ?`, id)
			if err != nil {
				return internal(op, err)
			}
			if !taken {
				_, err := t.exec(`INSERT INTO dbfs_handles (id, owner, path, overwrite, blob_id, size, last_used) VALUES (?, ?, ?, ?, ?, 0, ?)`,
					id, owner, p, overwrite, blob, now)
				return internalOrNil(op, err)
			}
		}
		return kiln.Internal(errIDsExhausted)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// scanInt64 scans a row of one integer.
func scanInt64(s scanner) (int64, error) {
	var n int64
	err := s.Scan(&n)
	return n, err
}

// internalOrNil is internal(op, err), or nil without an error.
func internalOrNil(op string, err error) error {
	if err == nil {
		return nil
	}
	return internal(op, err)
}

// dbfsHandle is an open upload, as a row of dbfs_handles.
type dbfsHandle struct {
	path      string
	overwrite bool
	blob      int64
	size      int64
}

// handle returns owner's live handle id.
func (d *DBFS) handle(t *tx, op string, owner, id, now int64) (dbfsHandle, error) {
	var h dbfsHandle
	err := t.queryRow(`SELECT path, overwrite, blob_id, size FROM dbfs_handles WHERE id = ? AND owner = ? AND last_used >= ?`,
		id, owner, now-d.opt.IdleTimeout.Milliseconds()).Scan(&h.path, &h.overwrite, &h.blob, &h.size)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return h, condition(op, "", kiln.ErrDBFSNoHandle)
	case err != nil:
		return h, internal(op, err)
	}
	return h, nil
}

// AddBlock implements kiln.DBFS.
func (d *DBFS) AddBlock(ctx context.Context, owner, id int64, data []byte) error {
	const op = "add-block"
	return d.update(ctx, func(t *tx) error {
		now := d.now()
		h, err := d.handle(t, op, owner, id, now)
		if err != nil {
			return err
		}
		n := int64(len(data))
		if err := d.checkQuota(t, op, h.path, owner, n, n); err != nil {
			return err
		}
		if err := t.appendDBFSChunks(h.blob, h.size, data, now); err != nil {
			return err
		}
		_, err = t.exec(`UPDATE dbfs_handles SET size = ?, last_used = ? WHERE id = ?`, h.size+n, now, id)
		return internalOrNil(op, err)
	})
}

// CloseHandle implements kiln.DBFS. A close that fails (a directory
// appeared at the path meanwhile) still ends the handle, in a second
// transaction.
func (d *DBFS) CloseHandle(ctx context.Context, owner, id int64) error {
	const op = "close"
	var h dbfsHandle
	err := d.update(ctx, func(t *tx) error {
		now := d.now()
		var err error
		if h, err = d.handle(t, op, owner, id, now); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM dbfs_handles WHERE id = ?`, id); err != nil {
			return internal(op, err)
		}
		return d.commit(t, op, h.path, owner, h.blob, h.size, h.overwrite, true, now)
	})
	var pe *fs.PathError
	if err != nil && h.path != "" && errors.As(err, &pe) && pe.Path != "" {
		d.cleanup(ctx, func(t *tx) error {
			if _, err := t.exec(`DELETE FROM dbfs_handles WHERE id = ? AND owner = ?`, id, owner); err != nil {
				return internal(op, err)
			}
			return t.dropDBFSBlob(h.blob)
		})
	}
	return err
}

// Read implements kiln.DBFS.
func (d *DBFS) Read(ctx context.Context, p string, offset, length int64) ([]byte, error) {
	const op = "read"
	if err := checkPath(op, p); err != nil {
		return nil, err
	}
	var out []byte
	err := d.view(ctx, func(t *tx) error {
		e, err := t.dbfsExisting(op, p)
		switch {
		case err != nil:
			return err
		case e.isDir:
			return condition(op, p, kiln.ErrDBFSIsDir)
		case offset >= e.size:
			out = []byte{}
			return nil
		}
		end := offset + min(length, e.size-offset)
		out = make([]byte, end-offset)
		rows, err := t.query(`SELECT off, data FROM dbfs_chunks WHERE blob_id = ? AND off < ? AND off + size > ? ORDER BY off`, e.blob.Int64, end, offset)
		if err != nil {
			return internal(op, err)
		}
		defer rows.Close()
		got := int64(0)
		for rows.Next() {
			var off int64
			var data []byte
			if err := rows.Scan(&off, &data); err != nil {
				return internal(op, err)
			}
			lo, hi := max(off, offset), min(off+int64(len(data)), end)
			got += int64(copy(out[lo-offset:hi-offset], data[lo-off:hi-off]))
		}
		if err := rows.Err(); err != nil {
			return internal(op, err)
		}
		if got != end-offset {
			return internal(op, fmt.Errorf("%s: %d of %d bytes stored", p, got, end-offset))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Open implements kiln.DBFS. The reader fetches one chunk at a time, each
// in a read transaction of its own; if the file is replaced or deleted
// meanwhile, it fails rather than mix two contents.
func (d *DBFS) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	const op = "open"
	if err := checkPath(op, p); err != nil {
		return nil, err
	}
	var e dbfsEntry
	err := d.view(ctx, func(t *tx) error {
		var err error
		if e, err = t.dbfsExisting(op, p); err == nil && e.isDir {
			err = condition(op, p, kiln.ErrDBFSNotFile)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &chunkReader{ctx: ctx, d: d, path: p, blob: e.blob.Int64, size: e.size}, nil
}

// chunkReader reads a blob's chunks in order, one in memory at a time.
type chunkReader struct {
	ctx  context.Context
	d    *DBFS
	path string
	blob int64
	size int64
	off  int64  // of buf's first byte in the blob
	buf  []byte // the rest of the current chunk
	err  error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(r.buf) == 0 {
		if r.off >= r.size {
			return 0, io.EOF
		}
		var data []byte
		err := r.d.view(r.ctx, func(t *tx) error {
			return t.queryRow(`SELECT data FROM dbfs_chunks WHERE blob_id = ? AND off = ?`, r.blob, r.off).Scan(&data)
		})
		switch {
		case errors.Is(err, sql.ErrNoRows), err == nil && len(data) == 0:
			r.err = condition("read", r.path, errChanged)
			return 0, r.err
		case err != nil:
			r.err = err
			return 0, err
		}
		r.buf = data
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.off += int64(n)
	return n, nil
}

// Close drops the chunk held.
func (r *chunkReader) Close() error {
	r.buf, r.err = nil, errors.New("sqlstore: read of a closed DBFS file")
	return nil
}

// Status implements kiln.DBFS.
func (d *DBFS) Status(ctx context.Context, p string) (kiln.DBFSFileInfo, error) {
	const op = "get-status"
	if err := checkPath(op, p); err != nil {
		return kiln.DBFSFileInfo{}, err
	}
	var fi kiln.DBFSFileInfo
	err := d.view(ctx, func(t *tx) error {
		e, err := t.dbfsExisting(op, p)
		if err == nil {
			fi = e.info()
		}
		return err
	})
	return fi, err
}

// List implements kiln.DBFS.
func (d *DBFS) List(ctx context.Context, p string) ([]kiln.DBFSFileInfo, error) {
	const op = "list"
	if err := checkPath(op, p); err != nil {
		return nil, err
	}
	var out []kiln.DBFSFileInfo
	err := d.view(ctx, func(t *tx) error {
		e, err := t.dbfsExisting(op, p)
		switch {
		case err != nil:
			return err
		case !e.isDir:
			out = []kiln.DBFSFileInfo{e.info()}
			return nil
		}
		out, err = collect(t, op, `SELECT path, is_dir, size, modified FROM dbfs_files WHERE parent = ? ORDER BY path`,
			func(s scanner) (kiln.DBFSFileInfo, error) {
				var e dbfsEntry
				err := s.Scan(&e.path, &e.isDir, &e.size, &e.modified)
				return e.info(), err
			}, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Mkdirs implements kiln.DBFS.
func (d *DBFS) Mkdirs(ctx context.Context, p string) error {
	const op = "mkdirs"
	if err := checkPath(op, p); err != nil {
		return err
	}
	return d.update(ctx, func(t *tx) error { return t.dbfsMkdirAll(op, p, p, d.now()) })
}

// below returns the bounds of the paths strictly inside the directory
// p: those after p+"/" and before p+"0" ('0' follows '/'), in the byte
// order both dialects compare paths in.
func below(p string) (lo, hi string) {
	if p == "/" {
		return "/", "0"
	}
	return p + "/", p + "0"
}

// Delete implements kiln.DBFS.
func (d *DBFS) Delete(ctx context.Context, p string, recursive bool) error {
	const op = "delete"
	if err := checkPath(op, p); err != nil {
		return err
	}
	if p == "/" {
		return condition(op, p, errRoot)
	}
	return d.update(ctx, func(t *tx) error {
		e, err := t.dbfsExisting(op, p)
		switch {
		case err != nil:
			return err
		case !e.isDir:
			if _, err := t.exec(`DELETE FROM dbfs_files WHERE path = ?`, p); err != nil {
				return internal(op, err)
			}
			return t.dropDBFSBlob(e.blob.Int64)
		}
		full, err := t.exists(`SELECT 1 FROM dbfs_files WHERE parent = ? LIMIT 1`, p)
		if err != nil {
			return internal(op, err)
		}
		if full && !recursive {
			return condition(op, p, kiln.ErrDBFSNotEmpty)
		}
		lo, hi := below(p)
		blobs, err := collect(t, op, `SELECT blob_id FROM dbfs_files WHERE path > ? AND path < ? AND blob_id IS NOT NULL`,
			scanInt64, lo, hi)
		if err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM dbfs_files WHERE path = ? OR (path > ? AND path < ?)`, p, lo, hi); err != nil {
			return internal(op, err)
		}
		for _, b := range blobs {
			if err := t.dropDBFSBlob(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// Move implements kiln.DBFS. A directory moves with everything in it in
// one statement: the paths below src are rewritten in place.
func (d *DBFS) Move(ctx context.Context, src, dst string) error {
	const op = "move"
	if err := checkPath(op, src); err != nil {
		return err
	}
	if err := checkPath(op, dst); err != nil {
		return err
	}
	switch {
	case src == "/" || dst == "/":
		return condition(op, src, errRoot)
	case dst == src || strings.HasPrefix(dst, src+"/"):
		return condition(op, dst, errIntoItself)
	}
	return d.update(ctx, func(t *tx) error {
		e, err := t.dbfsExisting(op, src)
		if err != nil {
			return err
		}
		if _, taken, err := t.dbfsEntry(dst); err != nil {
			return err
		} else if taken {
			return condition(op, dst, kiln.ErrDBFSExists)
		}
		if err := t.dbfsMkdirAll(op, dst, path.Dir(dst), d.now()); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE dbfs_files SET path = ?, parent = ? WHERE path = ?`, dst, path.Dir(dst), src); err != nil {
			return internal(op, err)
		}
		if !e.isDir {
			return nil
		}
		// substr counts characters on both dialects.
		from := utf8.RuneCountInString(src) + 1
		lo, hi := below(src)
		_, err = t.exec(`UPDATE dbfs_files SET path = CAST(? AS TEXT) || substr(path, ?), parent = CAST(? AS TEXT) || substr(parent, ?)
			WHERE path > ? AND path < ?`, dst, from, dst, from, lo, hi)
		return internalOrNil(op, err)
	})
}
