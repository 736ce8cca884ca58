// Package dbfs is the DBFS tree ([kiln.DBFS]) in a local directory, the
// data directory's dbfs/. Every file operation goes through an os.Root,
// so no path, ".." or symbolic link can reach outside the tree, whatever
// the caller passes.
//
// Writes are atomic: put and create/add-block/close write a staging file
// (in the reserved directory [kiln.DBFSReserved], which no DBFS path names)
// and rename it into place, so a reader never sees half a file. Streaming
// handles live in the memory of this process: a restart drops open
// uploads, and on several replicas an upload must stay on the one that
// began it.
package dbfs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
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

// Options bound the streaming handles. Zero values take the defaults.
type Options struct {
	// IdleTimeout closes a handle unused for that long; default
	// [kiln.DBFSIdleTimeout], as Databricks.
	IdleTimeout time.Duration
	// MaxHandles bounds the open handles in all (default
	// [kiln.DBFSMaxHandles]), MaxHandlesPerOwner those of one owner
	// (default [kiln.DBFSMaxHandlesPerOwner]).
	MaxHandles, MaxHandlesPerOwner int
	// Now is the clock idle handles are judged by; default time.Now.
	Now func() time.Time
}

// Disk is the DBFS tree in a local directory. It is safe for concurrent
// use.
type Disk struct {
	root *os.Root
	opt  Options

	mu      sync.Mutex
	handles map[int64]*handle
}

var _ kiln.DBFS = (*Disk)(nil)

type handle struct {
	owner     int64
	clean     string // DBFS path
	rel       string // os.Root name
	staging   string // os.Root name of the staging file
	overwrite bool
	lastUsed  time.Time // guarded by Disk.mu

	mu     sync.Mutex // serialises writes; guards f and closed
	f      *os.File
	closed bool
}

// Open opens (creating it with mode 0700 if needed) the DBFS tree at dir
// and clears the staging files a previous process left behind.
func Open(dir string, o Options) (*Disk, error) {
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
	if err := root.RemoveAll(kiln.DBFSReserved); err != nil {
		root.Close()
		return nil, err
	}
	if err := root.Mkdir(kiln.DBFSReserved, 0o700); err != nil {
		root.Close()
		return nil, err
	}
	return &Disk{root: root, opt: o, handles: map[int64]*handle{}}, nil
}

// Close closes every open handle, dropping its upload, and the root.
func (d *Disk) Close() error {
	d.mu.Lock()
	hs := d.handles
	d.handles = map[int64]*handle{}
	d.mu.Unlock()
	for _, h := range hs {
		d.discard(h)
	}
	return d.root.Close()
}

// errEscapes is how os.Root reports a name that leads outside it; it has
// no exported sentinel.
const errEscapes = "path escapes from parent"

// errNotClean refuses a path the service would not have passed.
var errNotClean = errors.New("dbfs: not a clean DBFS path")

// pathError reports err, about the DBFS path clean, as the condition of
// kiln.DBFS it is, or as it is when it is none.
func pathError(op, clean string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		err = kiln.ErrDBFSNotFound
	case errors.Is(err, syscall.ENOTEMPTY): // before ErrExist, which it also matches
		err = kiln.ErrDBFSNotEmpty
	case errors.Is(err, fs.ErrExist):
		err = kiln.ErrDBFSExists
	case errors.Is(err, syscall.EISDIR):
		err = kiln.ErrDBFSIsDir
	case strings.Contains(err.Error(), errEscapes):
		err = kiln.ErrDBFSOutside
	}
	return &fs.PathError{Op: op, Path: clean, Err: err}
}

// condition is the condition c of op about clean.
func condition(op, clean string, c error) error {
	return &fs.PathError{Op: op, Path: clean, Err: c}
}

// rel returns the os.Root name of the clean DBFS path p ("." for the
// root). It checks what the service already did, so that no caller can
// name the staging directory or step outside by mistake.
func rel(op, p string) (string, error) {
	if p == "/" {
		return ".", nil
	}
	r, ok := strings.CutPrefix(p, "/")
	first, _, _ := strings.Cut(r, "/")
	if !ok || path.Clean(p) != p || !fs.ValidPath(r) || first == kiln.DBFSReserved {
		return "", condition(op, p, errNotClean)
	}
	return r, nil
}

// stage creates a new staging file.
func (d *Disk) stage() (string, *os.File, error) {
	var b [12]byte
	rand.Read(b[:])
	name := kiln.DBFSReserved + "/" + hex.EncodeToString(b[:])
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	return name, f, err
}

// checkTarget fails early when a write to rel cannot succeed: a directory
// is there, or a file and no overwrite.
func (d *Disk) checkTarget(op, clean, rel string, overwrite bool) error {
	st, err := d.root.Stat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return nil
	case err != nil:
		return pathError(op, clean, err)
	case st.IsDir():
		return condition(op, clean, kiln.ErrDBFSIsDir)
	case !overwrite:
		return condition(op, clean, kiln.ErrDBFSExists)
	}
	return nil
}

// mkdirAll creates the directory rel and its parents, for an operation
// on clean.
func (d *Disk) mkdirAll(op, clean, rel string) error {
	if err := d.root.MkdirAll(rel, 0o700); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			return condition(op, clean, kiln.ErrDBFSNotDir)
		}
		return pathError(op, clean, err)
	}
	return nil
}

// mkdirParents creates the parent directories of rel.
func (d *Disk) mkdirParents(op, clean, rel string) error {
	if parent := path.Dir(rel); parent != "." {
		return d.mkdirAll(op, clean, parent)
	}
	return nil
}

// commit moves a complete staging file to rel. Without overwrite it links
// (which fails if rel exists, so two concurrent writers cannot both
// succeed), falling back to check-then-rename where hard links are not
// supported.
func (d *Disk) commit(op, staging, clean, rel string, overwrite bool) error {
	defer d.root.Remove(staging) // after a link or a failure; a no-op after a rename
	if err := d.mkdirParents(op, clean, rel); err != nil {
		return err
	}
	if err := d.checkTarget(op, clean, rel, overwrite); err != nil {
		return err
	}
	if !overwrite {
		err := d.root.Link(staging, rel)
		if err == nil || errors.Is(err, fs.ErrExist) {
			return pathError(op, clean, err)
		}
		if err := d.checkTarget(op, clean, rel, false); err != nil {
			return err
		}
	}
	return pathError(op, clean, d.root.Rename(staging, rel))
}

// readErrors remembers the error of the reader it wraps, to tell it from
// the errors of writing.
type readErrors struct {
	r   io.Reader
	err error
}

func (r *readErrors) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// writeStaged copies r (at most limit bytes) to a new staging file,
// synced to disk.
func (d *Disk) writeStaged(op, clean string, r io.Reader, limit int64) (string, error) {
	name, f, err := d.stage()
	if err != nil {
		return "", pathError(op, clean, err)
	}
	in := &readErrors{r: io.LimitReader(r, limit+1)}
	n, err := io.Copy(f, in)
	switch {
	case in.err != nil:
		err = in.err // the caller's, as it is
	case err != nil:
		err = pathError(op, clean, err)
	case n > limit:
		err = condition(op, clean, kiln.ErrDBFSTooLarge)
	default:
		err = pathError(op, clean, f.Sync())
	}
	if cerr := f.Close(); err == nil {
		err = pathError(op, clean, cerr)
	}
	if err != nil {
		d.root.Remove(name)
		return "", err
	}
	return name, nil
}

// Put implements kiln.DBFS.
func (d *Disk) Put(_ context.Context, _ int64, p string, r io.Reader, limit int64, overwrite bool) error {
	const op = "put"
	rel, err := rel(op, p)
	if err != nil {
		return err
	}
	if err := d.checkTarget(op, p, rel, overwrite); err != nil {
		return err // before reading a large body for nothing
	}
	staging, err := d.writeStaged(op, p, r, limit)
	if err != nil {
		return err
	}
	return d.commit(op, staging, p, rel, overwrite)
}

// randomID returns a random handle id of 16 digits, below 2^53 so that
// JavaScript clients read it exactly (as the workspace id).
func randomID() int64 {
	var b [8]byte
	rand.Read(b[:])
	const lo, hi = 1_000_000_000_000_000, 1 << 53
	return lo + int64(binary.BigEndian.Uint64(b[:])%uint64(hi-lo))
}

// CreateHandle implements kiln.DBFS.
func (d *Disk) CreateHandle(_ context.Context, owner int64, p string, overwrite bool) (int64, error) {
	const op = "create"
	rel, err := rel(op, p)
	if err != nil {
		return 0, err
	}
	if err := d.checkTarget(op, p, rel, overwrite); err != nil {
		return 0, err
	}
	d.sweep()
	staging, f, err := d.stage()
	if err != nil {
		return 0, pathError(op, p, err)
	}
	h := &handle{owner: owner, clean: p, rel: rel, staging: staging, overwrite: overwrite, f: f}
	d.mu.Lock()
	mine := 0
	for _, o := range d.handles {
		if o.owner == owner {
			mine++
		}
	}
	if len(d.handles) >= d.opt.MaxHandles || mine >= d.opt.MaxHandlesPerOwner {
		d.mu.Unlock()
		d.discard(h)
		return 0, &kiln.DBFSHandleLimitError{IdleTimeout: d.opt.IdleTimeout}
	}
	id := int64(0)
	for id == 0 || d.handles[id] != nil {
		id = randomID()
	}
	h.lastUsed = d.opt.Now()
	d.handles[id] = h
	d.mu.Unlock()
	return id, nil
}

// handle returns owner's open handle id and marks it used.
func (d *Disk) handle(op string, id, owner int64) (*handle, error) {
	d.sweep()
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.handles[id]
	if h == nil || h.owner != owner {
		return nil, condition(op, "", kiln.ErrDBFSNoHandle)
	}
	h.lastUsed = d.opt.Now()
	return h, nil
}

// sweep closes the handles idle for longer than IdleTimeout.
func (d *Disk) sweep() {
	now := d.opt.Now()
	var idle []*handle
	d.mu.Lock()
	for id, h := range d.handles {
		if now.Sub(h.lastUsed) > d.opt.IdleTimeout {
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
func (d *Disk) discard(h *handle) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		h.f.Close()
		d.root.Remove(h.staging)
	}
}

// AddBlock implements kiln.DBFS.
func (d *Disk) AddBlock(_ context.Context, owner, id int64, data []byte) error {
	const op = "add-block"
	h, err := d.handle(op, id, owner)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return condition(op, "", kiln.ErrDBFSNoHandle)
	}
	if _, err := h.f.Write(data); err != nil {
		return pathError(op, h.clean, err)
	}
	return nil
}

// CloseHandle implements kiln.DBFS.
func (d *Disk) CloseHandle(_ context.Context, owner, id int64) error {
	const op = "close"
	h, err := d.handle(op, id, owner)
	if err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.handles, id)
	d.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return condition(op, "", kiln.ErrDBFSNoHandle)
	}
	h.closed = true
	err = h.f.Sync()
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.root.Remove(h.staging)
		return pathError(op, h.clean, err)
	}
	return d.commit(op, h.staging, h.clean, h.rel, h.overwrite)
}

// Read implements kiln.DBFS.
func (d *Disk) Read(_ context.Context, p string, offset, length int64) ([]byte, error) {
	const op = "read"
	rel, err := rel(op, p)
	if err != nil {
		return nil, err
	}
	f, err := d.root.Open(rel)
	if err != nil {
		return nil, pathError(op, p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, pathError(op, p, err)
	}
	if st.IsDir() {
		return nil, condition(op, p, kiln.ErrDBFSIsDir)
	}
	if offset >= st.Size() {
		return []byte{}, nil
	}
	buf := make([]byte, min(length, st.Size()-offset))
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, pathError(op, p, err)
	}
	return buf[:n], nil
}

// Open implements kiln.DBFS. The file is opened without blocking, so that
// a FIFO planted in the tree cannot hang the caller, and checked to be a
// regular file once open.
func (d *Disk) Open(_ context.Context, p string) (io.ReadCloser, error) {
	const op = "open"
	rel, err := rel(op, p)
	if err != nil {
		return nil, err
	}
	f, err := d.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, pathError(op, p, err)
	}
	st, err := f.Stat()
	switch {
	case err != nil:
		err = pathError(op, p, err)
	case !st.Mode().IsRegular():
		err = condition(op, p, kiln.ErrDBFSNotFile)
	default:
		return f, nil
	}
	f.Close()
	return nil, err
}

func fileInfo(clean string, st fs.FileInfo) kiln.DBFSFileInfo {
	fi := kiln.DBFSFileInfo{Path: clean, IsDir: st.IsDir(), Modified: st.ModTime().Truncate(time.Millisecond)}
	if !fi.IsDir {
		fi.Size = st.Size()
	}
	return fi
}

// Status implements kiln.DBFS.
func (d *Disk) Status(_ context.Context, p string) (kiln.DBFSFileInfo, error) {
	const op = "get-status"
	rel, err := rel(op, p)
	if err != nil {
		return kiln.DBFSFileInfo{}, err
	}
	st, err := d.root.Stat(rel)
	if err != nil {
		return kiln.DBFSFileInfo{}, pathError(op, p, err)
	}
	return fileInfo(p, st), nil
}

// List implements kiln.DBFS.
func (d *Disk) List(_ context.Context, p string) ([]kiln.DBFSFileInfo, error) {
	const op = "list"
	rel, err := rel(op, p)
	if err != nil {
		return nil, err
	}
	st, err := d.root.Stat(rel)
	if err != nil {
		return nil, pathError(op, p, err)
	}
	if !st.IsDir() {
		return []kiln.DBFSFileInfo{fileInfo(p, st)}, nil
	}
	f, err := d.root.Open(rel)
	if err != nil {
		return nil, pathError(op, p, err)
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, pathError(op, p, err)
	}
	out := make([]kiln.DBFSFileInfo, 0, len(entries))
	for _, e := range entries {
		if rel == "." && e.Name() == kiln.DBFSReserved {
			continue
		}
		st, err := d.root.Stat(path.Join(rel, e.Name()))
		if err != nil {
			continue // a dangling or escaping link, or gone meanwhile
		}
		out = append(out, fileInfo(path.Join(p, e.Name()), st))
	}
	slices.SortFunc(out, func(a, b kiln.DBFSFileInfo) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// Mkdirs implements kiln.DBFS.
func (d *Disk) Mkdirs(_ context.Context, p string) error {
	const op = "mkdirs"
	rel, err := rel(op, p)
	if err != nil {
		return err
	}
	return d.mkdirAll(op, p, rel)
}

// errRoot and errIntoItself refuse what the service never asks for.
var (
	errRoot       = errors.New("dbfs: the root cannot be deleted, moved or replaced")
	errIntoItself = errors.New("dbfs: a directory cannot move into itself")
)

// Delete implements kiln.DBFS.
func (d *Disk) Delete(_ context.Context, p string, recursive bool) error {
	const op = "delete"
	rel, err := rel(op, p)
	if err != nil {
		return err
	}
	if rel == "." {
		return condition(op, p, errRoot)
	}
	st, err := d.root.Lstat(rel)
	if err != nil {
		return pathError(op, p, err)
	}
	switch {
	case st.IsDir() && recursive:
		return pathError(op, p, d.root.RemoveAll(rel))
	case st.IsDir():
		// rmdir reports a non-empty directory as ENOTEMPTY or EEXIST
		// depending on the system: ask the directory itself.
		f, err := d.root.Open(rel)
		if err != nil {
			return pathError(op, p, err)
		}
		names, err := f.Readdirnames(1)
		f.Close()
		if len(names) > 0 {
			return condition(op, p, kiln.ErrDBFSNotEmpty)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return pathError(op, p, err)
		}
	}
	return pathError(op, p, d.root.Remove(rel))
}

// Move implements kiln.DBFS.
func (d *Disk) Move(_ context.Context, src, dst string) error {
	const op = "move"
	srcRel, err := rel(op, src)
	if err != nil {
		return err
	}
	dstRel, err := rel(op, dst)
	if err != nil {
		return err
	}
	switch {
	case srcRel == "." || dstRel == ".":
		return condition(op, src, errRoot)
	case dst == src || strings.HasPrefix(dst, src+"/"):
		return condition(op, dst, errIntoItself)
	}
	if _, err := d.root.Lstat(srcRel); err != nil {
		return pathError(op, src, err)
	}
	if _, err := d.root.Lstat(dstRel); err == nil {
		return condition(op, dst, kiln.ErrDBFSExists)
	}
	if err := d.mkdirParents(op, dst, dstRel); err != nil {
		return err
	}
	err = d.root.Rename(srcRel, dstRel)
	if errors.Is(err, fs.ErrExist) { // dst appeared meanwhile
		return condition(op, dst, kiln.ErrDBFSExists)
	}
	return pathError(op, src, err)
}
