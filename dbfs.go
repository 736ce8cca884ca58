package kiln

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// DBFS is the storage contract of the DBFS tree (DBFS API 2.0): files and
// directories under absolute paths, at the level orchestrators use it
// (upload a script or a wheel, read it back, list, move, delete). The
// local directory tree (package dbfs) implements it; every implementation
// passes the suite in dbfs/dbfstest.
//
// An implementation only stores. The service keeps the rules: who may
// call, path syntax, size limits, the Databricks error codes and every
// message a client sees. So:
//
//   - Paths are clean DBFS paths, as the service's CleanDBFSPath returns
//     them: absolute, slash-separated, without the dbfs: scheme, "." or
//     ".." elements, never naming [DBFSReserved] at the top. "/" is the
//     root, which always exists and is a directory.
//   - A condition the caller can cause is reported as an *fs.PathError
//     whose Path is the DBFS path it is about and whose Err is one of the
//     ErrDBFS values (or [*DBFSHandleLimitError]); test it with errors.Is.
//     Any other error is a failure of the storage itself.
//   - Writes are atomic: a file appears complete, at Put or CloseHandle,
//     or not at all, and a reader never sees half of one. Without
//     overwrite, of two writers racing to create one path exactly one
//     succeeds; the other gets ErrDBFSExists.
//   - A write creates the missing parent directories of its path; a file
//     where one of them should be is ErrDBFSNotDir.
//
// Streaming uploads (CreateHandle, AddBlock, CloseHandle) are named by a
// handle: an opaque int64 in (0, 2^53) (the API sends it as a JSON
// number), belonging to the owner (a principal id) who created it. A handle need not live in the memory of the process
// that created it (an implementation over a shared database keeps it
// there, so that an upload begun on one replica continues on another):
// callers keep nothing of it but its id and owner. AddBlock and CloseHandle
// with a handle that does not exist, was closed, expired, or belongs to
// another owner are ErrDBFSNoHandle, alike, so that a handle id tells a
// stranger nothing. Implementations bound the open handles (in all and per
// owner: [*DBFSHandleLimitError]) and expire the ones left unused for
// their idle timeout, dropping the upload.
//
// An implementation may bound the bytes stored, per owner and in all
// (the store's tree does, when configured): a write that would go over
// is refused with a [*DBFSQuotaError] and changes nothing. Bytes of open
// uploads count against their owner as they are added.
//
// Implementations are safe for concurrent use.
type DBFS interface {
	// Put writes the file at path for owner (a principal id, whose quota
	// it counts against) with what r yields, at most limit bytes: more is
	// ErrDBFSTooLarge and nothing is written. A directory at path is
	// ErrDBFSIsDir, an existing file without overwrite ErrDBFSExists,
	// both found before r is read. An error reading r is returned as it
	// is.
	Put(ctx context.Context, owner int64, path string, r io.Reader, limit int64, overwrite bool) error
	// CreateHandle opens a streaming upload to path for owner. It fails
	// early as Put would (ErrDBFSIsDir, ErrDBFSExists); the file appears
	// at CloseHandle.
	CreateHandle(ctx context.Context, owner int64, path string, overwrite bool) (handle int64, err error)
	// AddBlock appends data to the upload of owner's handle.
	AddBlock(ctx context.Context, owner, handle int64, data []byte) error
	// CloseHandle completes the upload of owner's handle: the file
	// appears at its path, with the errors of Put. The handle is gone
	// afterwards, whatever the outcome.
	CloseHandle(ctx context.Context, owner, handle int64) error

	// Read returns up to length (> 0) bytes of the file at path from
	// offset (>= 0); at or past the end, an empty slice. A directory is
	// ErrDBFSIsDir.
	Read(ctx context.Context, path string, offset, length int64) ([]byte, error)
	// Open opens the regular file at path for reading from its start;
	// anything else (a directory included) is ErrDBFSNotFile.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// Status describes path.
	Status(ctx context.Context, path string) (DBFSFileInfo, error)
	// List describes the entries of the directory at path ordered by
	// path, or, when path is a file, that file alone. Entries that cannot
	// be described (a symbolic link leading nowhere or outside the tree)
	// are left out.
	List(ctx context.Context, path string) ([]DBFSFileInfo, error)

	// Mkdirs creates the directory path and its missing parents; an
	// existing directory is success, a file at path or on the way to it
	// ErrDBFSNotDir.
	Mkdirs(ctx context.Context, path string) error
	// Delete removes the file or directory at path (never the root); a
	// directory with anything in it only when recursive, else
	// ErrDBFSNotEmpty. A missing path is ErrDBFSNotFound.
	Delete(ctx context.Context, path string, recursive bool) error
	// Move moves the file or directory src (never the root) to dst,
	// which must not exist (ErrDBFSExists, about dst) and is not inside
	// src; dst's missing parents are created.
	Move(ctx context.Context, src, dst string) error

	// Close drops the open uploads and releases the storage.
	Close() error
}

// DBFSFileInfo describes a DBFS file or directory (the DBFS API's
// FileInfo).
type DBFSFileInfo struct {
	Path     string // clean DBFS path, "/FileStore/x"
	IsDir    bool
	Size     int64     // 0 for directories
	Modified time.Time // to the millisecond
}

// DBFSReserved is the one top-level name no DBFS path may use:
// implementations keep their own state under it (the local tree its
// staging files).
const DBFSReserved = ".kiln-staging"

// The conditions a [DBFS] reports, each wrapped in an *fs.PathError that
// names the DBFS path concerned.
var (
	// ErrDBFSNotFound: nothing at the path, or a file where one of its
	// parent directories should be (on reads).
	ErrDBFSNotFound = errors.New("dbfs: no such file or directory")
	// ErrDBFSExists: something at the path where nothing may be.
	ErrDBFSExists = errors.New("dbfs: file or directory exists")
	// ErrDBFSIsDir: a directory where a file is needed.
	ErrDBFSIsDir = errors.New("dbfs: is a directory")
	// ErrDBFSNotDir: a file where a directory is needed (the path of a
	// Mkdirs, or a parent of the path of a write).
	ErrDBFSNotDir = errors.New("dbfs: a file is in the way")
	// ErrDBFSNotFile: something other than a regular file (Open).
	ErrDBFSNotFile = errors.New("dbfs: not a regular file")
	// ErrDBFSNotEmpty: a directory with entries, deleted without
	// recursive.
	ErrDBFSNotEmpty = errors.New("dbfs: directory not empty")
	// ErrDBFSOutside: the path leads outside the tree (through a symbolic
	// link planted in a local tree).
	ErrDBFSOutside = errors.New("dbfs: path leads outside the tree")
	// ErrDBFSTooLarge: Put's content is over its limit.
	ErrDBFSTooLarge = errors.New("dbfs: content over the limit")
	// ErrDBFSNoHandle: no such handle of this owner.
	ErrDBFSNoHandle = errors.New("dbfs: no such handle")
)

// The bounds every [DBFS] implementation puts on streaming handles unless
// configured otherwise: Databricks closes a handle left unused for 10
// minutes, and kiln lets 256 be open in all, 32 of them one owner's.
const (
	DBFSIdleTimeout        = 10 * time.Minute
	DBFSMaxHandles         = 256
	DBFSMaxHandlesPerOwner = 32
)

// DBFSHandleLimitError is CreateHandle's error when the owner, or everyone
// together, holds the most open handles the implementation allows. Handles
// left unused for IdleTimeout close by themselves.
type DBFSHandleLimitError struct {
	IdleTimeout time.Duration
}

// Error says that the limit was reached and when handles free up.
func (e *DBFSHandleLimitError) Error() string {
	return fmt.Sprintf("dbfs: too many open handles (unused ones close after %v)", e.IdleTimeout)
}

// DBFSQuotaError is the condition (inside an *fs.PathError) of a write
// that would bring the bytes stored over a quota: its owner's, or the
// whole tree's when Workspace is set.
type DBFSQuotaError struct {
	Limit     int64 // the quota, in bytes
	Workspace bool  // the tree's quota rather than the owner's
}

// Error names the quota that was reached.
func (e *DBFSQuotaError) Error() string {
	if e.Workspace {
		return fmt.Sprintf("dbfs: the workspace's %d byte quota is reached", e.Limit)
	}
	return fmt.Sprintf("dbfs: the owner's %d byte quota is reached", e.Limit)
}
