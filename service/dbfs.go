package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln"
)

// DBFS (DBFS API 2.0) is a directory tree under the data directory
// (<data-dir>/dbfs), at the level orchestrators use it: upload a script or
// a wheel, read it back, list, move, delete. Every file operation goes
// through an os.Root, so no path, ".." or symbolic link can reach outside
// the tree; paths are also cleaned and ".." refused before that
// (CleanDBFSPath).
//
// As on Databricks, DBFS has no ACLs: every authenticated principal reads
// and writes all of it. Writes are atomic: put and create/add-block/close
// write a staging file (in a reserved directory no API path can name) and
// rename it into place, so a reader never sees half a file.
type DBFS struct {
	root *os.Root
	dir  string // the root's absolute path, symbolic links resolved
	now  func() time.Time

	// IdleTimeout closes a streaming handle unused for that long
	// (Databricks: 10 minutes); MaxHandles and MaxHandlesPerPrincipal
	// bound the open handles. Set them before serving.
	IdleTimeout            time.Duration
	MaxHandles             int
	MaxHandlesPerPrincipal int

	mu      sync.Mutex
	handles map[int64]*dbfsHandle
}

// DBFS limits, as Databricks documents them.
const (
	// DBFSMaxBlock bounds put's contents, add-block's data and read's
	// length (MAX_BLOCK_SIZE_EXCEEDED, MAX_READ_SIZE_EXCEEDED).
	DBFSMaxBlock = 1 << 20
	// DBFSDefaultReadLength is read's length when none is given.
	DBFSDefaultReadLength = 512 << 10
)

// The error_code values DBFS sends for its own conditions.
const (
	ReasonMaxBlockSize = "MAX_BLOCK_SIZE_EXCEEDED"
	ReasonMaxReadSize  = "MAX_READ_SIZE_EXCEEDED"
	ReasonIOError      = "IO_ERROR"
)

// dbfsStaging is the reserved top-level directory of in-progress writes.
const dbfsStaging = ".kiln-staging"

type dbfsHandle struct {
	id        int64
	owner     int64
	clean     string // DBFS path
	rel       string // os.Root name
	staging   string // os.Root name of the staging file
	overwrite bool
	lastUsed  time.Time // guarded by DBFS.mu

	mu     sync.Mutex // serialises writes; guards f and closed
	f      *os.File
	closed bool
}

// DBFSFileInfo is the DBFS API's FileInfo.
type DBFSFileInfo struct {
	Path     string // clean DBFS path, "/FileStore/x"
	IsDir    bool
	Size     int64 // 0 for directories
	Modified time.Time
}

// OpenDBFS opens (creating it with mode 0700 if needed) the DBFS tree at
// dir and clears staging files a previous process left behind.
func OpenDBFS(dir string) (*DBFS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, err
	}
	if err := root.RemoveAll(dbfsStaging); err != nil {
		root.Close()
		return nil, err
	}
	if err := root.Mkdir(dbfsStaging, 0o700); err != nil {
		root.Close()
		return nil, err
	}
	return &DBFS{
		root: root, dir: abs, now: time.Now, handles: map[int64]*dbfsHandle{},
		IdleTimeout: 10 * time.Minute, MaxHandles: 256, MaxHandlesPerPrincipal: 32,
	}, nil
}

// Close closes every open handle, dropping its upload, and the root.
func (d *DBFS) Close() error {
	d.mu.Lock()
	hs := d.handles
	d.handles = map[int64]*dbfsHandle{}
	d.mu.Unlock()
	for _, h := range hs {
		d.discard(h)
	}
	return d.root.Close()
}

// SetDBFS installs the DBFS tree; without one the DBFS API fails. Call it
// before serving.
func (s *Service) SetDBFS(d *DBFS) { s.dbfs = d }

// CleanDBFSPath returns the canonical DBFS path of p ("/a/b") and its name
// inside the DBFS directory ("a/b", "." for the root). p may carry the
// dbfs: scheme ("dbfs:/a/b"); otherwise the rules of kiln.CleanObjectPath
// apply (absolute, no "..", no control characters, bounded length), and
// kiln's reserved staging directory cannot be named.
func CleanDBFSPath(p string) (clean, rel string, err error) {
	if len(p) >= 5 && strings.EqualFold(p[:5], "dbfs:") {
		p = p[5:]
	}
	clean, err = kiln.CleanObjectPath(p)
	if err != nil {
		return "", "", err
	}
	if clean == "/" {
		return "/", ".", nil
	}
	rel = clean[1:]
	if first, _, _ := strings.Cut(rel, "/"); first == dbfsStaging {
		return "", "", kiln.Errorf(kiln.EInvalid, "Path %s is reserved by kiln.", clean)
	}
	return clean, rel, nil
}

// errEscapes is how os.Root reports a name that leads outside it; it has
// no exported sentinel.
const errEscapes = "path escapes from parent"

// dbfsError turns a file system error about clean into a kiln error.
func dbfsError(clean string, err error) error {
	var ke *kiln.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke):
		return err
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return kiln.Errorf(kiln.ENotFound, "No file or directory exists on path %s.", clean)
	case errors.Is(err, syscall.ENOTEMPTY): // before ErrExist, which it also matches
		return kiln.Errorf(kiln.EInvalid, "%s is a non-empty directory: delete it with recursive set to true.", clean).WithReason(ReasonIOError)
	case errors.Is(err, fs.ErrExist):
		return kiln.Errorf(kiln.EConflict, "A file or directory already exists at the input path %s.", clean)
	case errors.Is(err, syscall.EISDIR):
		return kiln.Errorf(kiln.EInvalid, "%s is a directory.", clean)
	case strings.Contains(err.Error(), errEscapes):
		return kiln.Errorf(kiln.EInvalid, "Path %s leads outside DBFS.", clean)
	}
	return kiln.Internal(err)
}

// dbfsOf returns the caller and the DBFS tree; every principal may use it.
func (s *Service) dbfsOf(ctx context.Context) (*kiln.Caller, *DBFS, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.dbfs == nil {
		return nil, nil, kiln.Internal(errors.New("service: no DBFS configured"))
	}
	return c, s.dbfs, nil
}

// cleanFile cleans p and refuses the root, which is never a file.
func cleanFile(p string) (clean, rel string, err error) {
	clean, rel, err = CleanDBFSPath(p)
	if err == nil && rel == "." {
		err = kiln.Errorf(kiln.EInvalid, "The DBFS root / is a directory.")
	}
	return clean, rel, err
}

// stage creates a new staging file.
func (d *DBFS) stage() (string, *os.File, error) {
	var b [12]byte
	rand.Read(b[:])
	name := dbfsStaging + "/" + hex.EncodeToString(b[:])
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	return name, f, err
}

// checkTarget fails early when a write to rel cannot succeed: a directory
// is there, or a file and no overwrite.
func (d *DBFS) checkTarget(clean, rel string, overwrite bool) error {
	st, err := d.root.Stat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return nil
	case err != nil:
		return dbfsError(clean, err)
	case st.IsDir():
		return kiln.Errorf(kiln.EConflict, "%s is a directory.", clean)
	case !overwrite:
		return kiln.Errorf(kiln.EConflict, "A file or directory already exists at the input path %s.", clean)
	}
	return nil
}

// mkdirParents creates the parent directories of rel.
func (d *DBFS) mkdirParents(clean, rel string) error {
	parent := path.Dir(rel)
	if parent == "." {
		return nil
	}
	if err := d.root.MkdirAll(parent, 0o700); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			return kiln.Errorf(kiln.EConflict, "A file exists where a parent directory of %s should be.", clean)
		}
		return dbfsError(clean, err)
	}
	return nil
}

// commit moves a complete staging file to rel. Without overwrite it links
// (which fails if rel exists, so two concurrent writers cannot both
// succeed), falling back to check-then-rename where hard links are not
// supported.
func (d *DBFS) commit(staging, clean, rel string, overwrite bool) error {
	defer d.root.Remove(staging) // after a link or a failure; a no-op after a rename
	if err := d.mkdirParents(clean, rel); err != nil {
		return err
	}
	if err := d.checkTarget(clean, rel, overwrite); err != nil {
		return err
	}
	if !overwrite {
		err := d.root.Link(staging, rel)
		if err == nil || errors.Is(err, fs.ErrExist) {
			return dbfsError(clean, err)
		}
		if err := d.checkTarget(clean, rel, false); err != nil {
			return err
		}
	}
	return dbfsError(clean, d.root.Rename(staging, rel))
}

// writeStaged copies r (at most limit bytes; more is errTooBig) to a new
// staging file, synced to disk.
func (d *DBFS) writeStaged(r io.Reader, limit int64) (string, error) {
	name, f, err := d.stage()
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = errTooBig
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.root.Remove(name)
		return "", err
	}
	return name, nil
}

var errTooBig = errors.New("dbfs: content over the limit")

func blockTooBig(what string, limit int64) error {
	return kiln.Errorf(kiln.EInvalid, "The %s is larger than the %d byte limit; upload large files with create, add-block and close.", what, limit).
		WithReason(ReasonMaxBlockSize)
}

// DBFSPut writes the file at p from r, at most limit bytes (DBFSMaxBlock
// for a JSON put's contents; more for a multipart upload); larger is
// MAX_BLOCK_SIZE_EXCEEDED. Missing parent directories are created. An
// existing file without overwrite is EConflict.
func (s *Service) DBFSPut(ctx context.Context, p string, r io.Reader, overwrite bool, limit int64) error {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return err
	}
	clean, rel, err := cleanFile(p)
	if err != nil {
		return err
	}
	if err := d.checkTarget(clean, rel, overwrite); err != nil {
		return err // before reading a large body for nothing
	}
	staging, err := d.writeStaged(r, limit)
	if errors.Is(err, errTooBig) {
		return blockTooBig("content", limit)
	}
	if err != nil {
		var ke *kiln.Error
		if errors.As(err, &ke) {
			return err // the request body's own error (too large, unreadable)
		}
		return dbfsError(clean, err)
	}
	return d.commit(staging, clean, rel, overwrite)
}

// DBFSCreate opens a streaming upload to p and returns its handle, for
// DBFSAddBlock and DBFSClose. The file appears at close. Handles belong
// to the principal that opened them and close after IdleTimeout unused.
func (s *Service) DBFSCreate(ctx context.Context, p string, overwrite bool) (int64, error) {
	c, d, err := s.dbfsOf(ctx)
	if err != nil {
		return 0, err
	}
	clean, rel, err := cleanFile(p)
	if err != nil {
		return 0, err
	}
	if err := d.checkTarget(clean, rel, overwrite); err != nil {
		return 0, err
	}
	d.sweep()
	staging, f, err := d.stage()
	if err != nil {
		return 0, dbfsError(clean, err)
	}
	h := &dbfsHandle{owner: c.Principal.ID, clean: clean, rel: rel, staging: staging, overwrite: overwrite, f: f}
	d.mu.Lock()
	mine := 0
	for _, o := range d.handles {
		if o.owner == h.owner {
			mine++
		}
	}
	if len(d.handles) >= d.MaxHandles || mine >= d.MaxHandlesPerPrincipal {
		d.mu.Unlock()
		d.discard(h)
		return 0, kiln.Errorf(kiln.EQuota, "Too many open DBFS handles: close the ones you no longer use (unused handles close after %v).", d.IdleTimeout)
	}
	for h.id == 0 || d.handles[h.id] != nil {
		h.id = randomID()
	}
	h.lastUsed = d.now()
	d.handles[h.id] = h
	d.mu.Unlock()
	return h.id, nil
}

// handle returns the caller's open handle id and marks it used.
func (d *DBFS) handle(id, owner int64) (*dbfsHandle, error) {
	d.sweep()
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.handles[id]
	if h == nil || h.owner != owner {
		return nil, kiln.Errorf(kiln.ENotFound, "Handle %d does not exist.", id)
	}
	h.lastUsed = d.now()
	return h, nil
}

// sweep closes the handles idle for longer than IdleTimeout.
func (d *DBFS) sweep() {
	now := d.now()
	var idle []*dbfsHandle
	d.mu.Lock()
	for id, h := range d.handles {
		if now.Sub(h.lastUsed) > d.IdleTimeout {
			idle = append(idle, h)
			delete(d.handles, id)
		}
	}
	d.mu.Unlock()
	for _, h := range idle {
		d.discard(h)
	}
}

// discard closes h and removes its staging file.
func (d *DBFS) discard(h *dbfsHandle) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		h.f.Close()
		d.root.Remove(h.staging)
	}
}

// DBFSAddBlock appends data (at most DBFSMaxBlock bytes) to the upload of
// handle.
func (s *Service) DBFSAddBlock(ctx context.Context, handle int64, data []byte) error {
	c, d, err := s.dbfsOf(ctx)
	if err != nil {
		return err
	}
	if len(data) > DBFSMaxBlock {
		return blockTooBig("block", DBFSMaxBlock)
	}
	h, err := d.handle(handle, c.Principal.ID)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return kiln.Errorf(kiln.ENotFound, "Handle %d does not exist.", handle)
	}
	if _, err := h.f.Write(data); err != nil {
		return dbfsError(h.clean, err)
	}
	return nil
}

// DBFSClose completes the upload of handle: the file appears at its path.
func (s *Service) DBFSClose(ctx context.Context, handle int64) error {
	c, d, err := s.dbfsOf(ctx)
	if err != nil {
		return err
	}
	h, err := d.handle(handle, c.Principal.ID)
	if err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.handles, handle)
	d.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return kiln.Errorf(kiln.ENotFound, "Handle %d does not exist.", handle)
	}
	h.closed = true
	err = h.f.Sync()
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.root.Remove(h.staging)
		return dbfsError(h.clean, err)
	}
	return d.commit(h.staging, h.clean, h.rel, h.overwrite)
}

// DBFSRead returns up to length bytes of the file at p from offset
// (length 0 means DBFSDefaultReadLength; over DBFSMaxBlock is
// MAX_READ_SIZE_EXCEEDED). Reading at or past the end returns no bytes.
func (s *Service) DBFSRead(ctx context.Context, p string, offset, length int64) ([]byte, error) {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case offset < 0:
		return nil, kiln.Errorf(kiln.EInvalid, "offset must not be negative, got %d.", offset)
	case length < 0:
		return nil, kiln.Errorf(kiln.EInvalid, "length must not be negative, got %d.", length)
	case length == 0:
		length = DBFSDefaultReadLength
	case length > DBFSMaxBlock:
		return nil, kiln.Errorf(kiln.EInvalid, "length %d is over the %d byte limit of one read.", length, DBFSMaxBlock).WithReason(ReasonMaxReadSize)
	}
	clean, rel, err := CleanDBFSPath(p)
	if err != nil {
		return nil, err
	}
	f, err := d.root.Open(rel)
	if err != nil {
		return nil, dbfsError(clean, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, dbfsError(clean, err)
	}
	if st.IsDir() {
		return nil, kiln.Errorf(kiln.EInvalid, "%s is a directory.", clean)
	}
	if offset >= st.Size() {
		return []byte{}, nil
	}
	buf := make([]byte, min(length, st.Size()-offset))
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, dbfsError(clean, err)
	}
	return buf[:n], nil
}

func fileInfo(clean string, st fs.FileInfo) DBFSFileInfo {
	fi := DBFSFileInfo{Path: clean, IsDir: st.IsDir(), Modified: st.ModTime().Truncate(time.Millisecond)}
	if !fi.IsDir {
		fi.Size = st.Size()
	}
	return fi
}

// DBFSStatus returns the FileInfo of p.
func (s *Service) DBFSStatus(ctx context.Context, p string) (DBFSFileInfo, error) {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return DBFSFileInfo{}, err
	}
	clean, rel, err := CleanDBFSPath(p)
	if err != nil {
		return DBFSFileInfo{}, err
	}
	st, err := d.root.Stat(rel)
	if err != nil {
		return DBFSFileInfo{}, dbfsError(clean, err)
	}
	return fileInfo(clean, st), nil
}

// DBFSList returns the entries of the directory at p ordered by path, or
// for a file the file itself. Symbolic links leading outside DBFS are
// left out.
func (s *Service) DBFSList(ctx context.Context, p string) ([]DBFSFileInfo, error) {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return nil, err
	}
	clean, rel, err := CleanDBFSPath(p)
	if err != nil {
		return nil, err
	}
	st, err := d.root.Stat(rel)
	if err != nil {
		return nil, dbfsError(clean, err)
	}
	if !st.IsDir() {
		return []DBFSFileInfo{fileInfo(clean, st)}, nil
	}
	f, err := d.root.Open(rel)
	if err != nil {
		return nil, dbfsError(clean, err)
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, dbfsError(clean, err)
	}
	out := make([]DBFSFileInfo, 0, len(entries))
	for _, e := range entries {
		if rel == "." && e.Name() == dbfsStaging {
			continue
		}
		st, err := d.root.Stat(path.Join(rel, e.Name()))
		if err != nil {
			continue // a dangling or escaping link, or gone meanwhile
		}
		out = append(out, fileInfo(path.Join(clean, e.Name()), st))
	}
	slices.SortFunc(out, func(a, b DBFSFileInfo) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// DBFSMkdirs creates the directory p and its parents; an existing
// directory is success, a file on the way EConflict.
func (s *Service) DBFSMkdirs(ctx context.Context, p string) error {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return err
	}
	clean, rel, err := CleanDBFSPath(p)
	if err != nil {
		return err
	}
	if err := d.root.MkdirAll(rel, 0o700); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			return kiln.Errorf(kiln.EConflict, "A file exists at %s or one of its parents.", clean)
		}
		return dbfsError(clean, err)
	}
	return nil
}

// DBFSDelete deletes the file or directory p; a non-empty directory needs
// recursive (IO_ERROR otherwise). Deleting a path that does not exist
// succeeds, so a retried delete is not an error.
func (s *Service) DBFSDelete(ctx context.Context, p string, recursive bool) error {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return err
	}
	clean, rel, err := CleanDBFSPath(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return kiln.Errorf(kiln.EInvalid, "The DBFS root / cannot be deleted.")
	}
	st, err := d.root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return dbfsError(clean, err)
	}
	switch {
	case st.IsDir() && recursive:
		return dbfsError(clean, d.root.RemoveAll(rel))
	case st.IsDir():
		// rmdir reports a non-empty directory as ENOTEMPTY or EEXIST
		// depending on the system: ask the directory itself.
		f, err := d.root.Open(rel)
		if err != nil {
			return dbfsError(clean, err)
		}
		names, err := f.Readdirnames(1)
		f.Close()
		if len(names) > 0 {
			return dbfsError(clean, syscall.ENOTEMPTY)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return dbfsError(clean, err)
		}
	}
	return dbfsError(clean, d.root.Remove(rel))
}

// DBFSMove moves the file or directory src to dst (a directory with
// everything in it). A missing src is ENotFound, an existing dst
// EConflict; dst's parents are created.
func (s *Service) DBFSMove(ctx context.Context, src, dst string) error {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return err
	}
	srcClean, srcRel, err := CleanDBFSPath(src)
	if err != nil {
		return err
	}
	dstClean, dstRel, err := CleanDBFSPath(dst)
	if err != nil {
		return err
	}
	switch {
	case srcRel == "." || dstRel == ".":
		return kiln.Errorf(kiln.EInvalid, "The DBFS root / cannot be moved or replaced.")
	case dstClean == srcClean || strings.HasPrefix(dstClean, srcClean+"/"):
		return kiln.Errorf(kiln.EInvalid, "Cannot move %s into itself (%s).", srcClean, dstClean)
	}
	if _, err := d.root.Lstat(srcRel); err != nil {
		return dbfsError(srcClean, err)
	}
	if _, err := d.root.Lstat(dstRel); err == nil {
		return kiln.Errorf(kiln.EConflict, "A file or directory already exists at the destination path %s.", dstClean)
	}
	if err := d.mkdirParents(dstClean, dstRel); err != nil {
		return err
	}
	return dbfsError(srcClean, d.root.Rename(srcRel, dstRel))
}

// LocalPath returns the absolute local path of the regular file at the
// DBFS path p ("dbfs:/x/job.py" or "/x/job.py"), with symbolic links
// resolved and checked to stay inside DBFS: what the runner hands to
// python3 for a spark_python_task python_file. ENotFound when there is
// no such file, EInvalid for a directory or a path leading outside.
func (d *DBFS) LocalPath(p string) (string, error) {
	clean, rel, err := cleanFile(p)
	if err != nil {
		return "", err
	}
	st, err := d.root.Stat(rel)
	if err != nil {
		return "", dbfsError(clean, err)
	}
	if !st.Mode().IsRegular() {
		return "", kiln.Errorf(kiln.EInvalid, "%s is not a regular file.", clean)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(d.dir, filepath.FromSlash(rel)))
	if err != nil {
		return "", dbfsError(clean, err)
	}
	if !strings.HasPrefix(real, d.dir+string(filepath.Separator)) {
		return "", kiln.Errorf(kiln.EInvalid, "Path %s leads outside DBFS.", clean)
	}
	return real, nil
}

// DBFSLocalPath is LocalPath on the service's DBFS tree (see
// DBFS.LocalPath); the runner calls it to resolve a python_file. It needs
// no caller: DBFS has no ACLs.
func (s *Service) DBFSLocalPath(p string) (string, error) {
	if s.dbfs == nil {
		return "", kiln.Internal(errors.New("service: no DBFS configured"))
	}
	return s.dbfs.LocalPath(p)
}

// DBFSPutBytes is DBFSPut of a JSON put's decoded contents.
func (s *Service) DBFSPutBytes(ctx context.Context, p string, contents []byte, overwrite bool) error {
	if len(contents) > DBFSMaxBlock {
		return blockTooBig("content", DBFSMaxBlock)
	}
	return s.DBFSPut(ctx, p, bytes.NewReader(contents), overwrite, DBFSMaxBlock)
}
