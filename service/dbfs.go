package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/kiln-dev/kiln"
)

// DBFS (DBFS API 2.0) at the level orchestrators use it: upload a script
// or a wheel, read it back, list, move, delete. The tree itself is a
// [kiln.DBFS] (the local one: package dbfs); the service keeps the rules:
// a caller is required, paths are cleaned and ".." refused
// (CleanDBFSPath), sizes are bounded, and every condition the tree reports
// becomes the Databricks error and message clients expect.
//
// As on Databricks, DBFS has no ACLs: every authenticated principal reads
// and writes all of it.

// DBFS limits, as Databricks documents them.
const (
	// DBFSMaxBlock bounds put's contents, add-block's data and read's
	// length (MAX_BLOCK_SIZE_EXCEEDED, MAX_READ_SIZE_EXCEEDED).
	DBFSMaxBlock = 1 << 20
	// DBFSDefaultReadLength is read's length when none is given.
	DBFSDefaultReadLength = 512 << 10
	// DBFSMaxUpload bounds one streamed upload of a whole file: the API's
	// multipart put and the console's Upload.
	DBFSMaxUpload = 256 << 20
)

// The error_code values DBFS sends for its own conditions.
const (
	ReasonMaxBlockSize = "MAX_BLOCK_SIZE_EXCEEDED"
	ReasonMaxReadSize  = "MAX_READ_SIZE_EXCEEDED"
	ReasonIOError      = "IO_ERROR"
)

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
	if first, _, _ := strings.Cut(rel, "/"); first == kiln.DBFSReserved {
		return "", "", kiln.Errorf(kiln.EInvalid, "Path %s is reserved by kiln.", clean)
	}
	return clean, rel, nil
}

// dbfsOp says what an operation on the tree was, where one condition
// reads differently for different operations.
type dbfsOp int

const (
	dbfsReading dbfsOp = iota // read, status, list, open, delete
	dbfsWriting               // put, create, add-block, close
	dbfsMkdirs
	dbfsMoving
)

// dbfsError turns what the tree reported during op into the error a
// client sees: a kiln error as it is (a request body's own: too large,
// unreadable), a condition of kiln.DBFS as Databricks words it, anything
// else EInternal.
func dbfsError(op dbfsOp, err error) error {
	var (
		ke    *kiln.Error
		limit *kiln.DBFSHandleLimitError
		quota *kiln.DBFSQuotaError
		pe    *fs.PathError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke):
		return err
	case errors.As(err, &limit):
		return kiln.Errorf(kiln.EQuota, "Too many open DBFS handles: close the ones you no longer use (unused handles close after %v).", limit.IdleTimeout)
	case errors.As(err, &quota) && quota.Workspace:
		return kiln.Errorf(kiln.EQuota, "The workspace's DBFS quota of %s is reached: delete files you no longer need, or ask an admin to raise it.", byteSize(quota.Limit))
	case errors.As(err, &quota):
		return kiln.Errorf(kiln.EQuota, "Your DBFS quota of %s is reached: delete files you no longer need, or ask an admin to raise it.", byteSize(quota.Limit))
	case !errors.As(err, &pe):
		return kiln.Internal(err)
	}
	clean := pe.Path
	switch {
	case errors.Is(err, kiln.ErrDBFSNotFound):
		return kiln.Errorf(kiln.ENotFound, "No file or directory exists on path %s.", clean)
	case errors.Is(err, kiln.ErrDBFSNotEmpty):
		return kiln.Errorf(kiln.EInvalid, "%s is a non-empty directory: delete it with recursive set to true.", clean).WithReason(ReasonIOError)
	case errors.Is(err, kiln.ErrDBFSExists) && op == dbfsMoving:
		return kiln.Errorf(kiln.EConflict, "A file or directory already exists at the destination path %s.", clean)
	case errors.Is(err, kiln.ErrDBFSExists), errors.Is(err, kiln.ErrDBFSIsDir) && op == dbfsWriting:
		// A directory where put or create would write a file is answered
		// as Databricks does, overwrite or not: RESOURCE_ALREADY_EXISTS.
		return kiln.Errorf(kiln.EConflict, "A file or directory already exists at the input path %s.", clean)
	case errors.Is(err, kiln.ErrDBFSIsDir):
		return kiln.Errorf(kiln.EInvalid, "%s is a directory.", clean)
	case errors.Is(err, kiln.ErrDBFSNotDir) && op == dbfsMkdirs:
		return kiln.Errorf(kiln.EConflict, "A file exists at %s or one of its parents.", clean)
	case errors.Is(err, kiln.ErrDBFSNotDir):
		return kiln.Errorf(kiln.EConflict, "A file exists where a parent directory of %s should be.", clean)
	case errors.Is(err, kiln.ErrDBFSNotFile):
		return kiln.Errorf(kiln.EInvalid, "%s is not a regular file.", clean)
	case errors.Is(err, kiln.ErrDBFSOutside):
		return kiln.Errorf(kiln.EInvalid, "Path %s leads outside DBFS.", clean)
	}
	return kiln.Internal(err)
}

// byteSize writes n bytes for a message, with the largest binary unit
// that divides it: "1500 bytes", "10737418240 bytes (10 GiB)".
func byteSize(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d bytes (%d %s)", n, n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// handleError is dbfsError for an operation on handle.
func handleError(handle int64, err error) error {
	if errors.Is(err, kiln.ErrDBFSNoHandle) {
		return kiln.Errorf(kiln.ENotFound, "Handle %d does not exist.", handle)
	}
	return dbfsError(dbfsWriting, err)
}

// dbfsOf returns the caller and the DBFS tree; every principal may use it.
func (s *Service) dbfsOf(ctx context.Context) (*kiln.Caller, kiln.DBFS, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.dbfs == nil {
		return nil, nil, errNoDBFS()
	}
	return c, s.dbfs, nil
}

func errNoDBFS() error { return kiln.Internal(errors.New("service: no DBFS configured")) }

// cleanFile cleans p and refuses the root, which is never a file.
func cleanFile(p string) (string, error) {
	clean, rel, err := CleanDBFSPath(p)
	if err == nil && rel == "." {
		err = kiln.Errorf(kiln.EInvalid, "The DBFS root / is a directory.")
	}
	return clean, err
}

func blockTooBig(what string, limit int64) error {
	return kiln.Errorf(kiln.EInvalid, "The %s is larger than the %d byte limit; upload large files with create, add-block and close.", what, limit).
		WithReason(ReasonMaxBlockSize)
}

// DBFSUsage returns the bytes the caller's DBFS files and open uploads
// take, and everyone's, with the quotas; ok is false when the tree keeps
// no account of them.
func (s *Service) DBFSUsage(ctx context.Context) (u kiln.DBFSUsage, ok bool, err error) {
	c, d, err := s.dbfsOf(ctx)
	if err != nil {
		return u, false, err
	}
	a, ok := d.(kiln.DBFSAccounts)
	if !ok {
		return u, false, nil
	}
	u, err = a.Usage(ctx, c.Principal.ID)
	return u, err == nil, err
}

// DBFSPut writes the file at p from r, at most limit bytes (DBFSMaxBlock
// for a JSON put's contents; more for a multipart upload); larger is
// MAX_BLOCK_SIZE_EXCEEDED. Missing parent directories are created. An
// existing file without overwrite is EConflict.
func (s *Service) DBFSPut(ctx context.Context, p string, r io.Reader, overwrite bool, limit int64) error {
	c, d, err := s.dbfsOf(ctx)
	if err != nil {
		return err
	}
	clean, err := cleanFile(p)
	if err != nil {
		return err
	}
	err = d.Put(ctx, c.Principal.ID, clean, r, limit, overwrite)
	if errors.Is(err, kiln.ErrDBFSTooLarge) {
		return blockTooBig("content", limit)
	}
	return dbfsError(dbfsWriting, err)
}

// DBFSCreate opens a streaming upload to p and returns its handle, for
// DBFSAddBlock and DBFSClose. The file appears at close. Handles belong
// to the principal that opened them and close after the tree's idle
// timeout unused.
func (s *Service) DBFSCreate(ctx context.Context, p string, overwrite bool) (int64, error) {
	c, d, err := s.dbfsOf(ctx)
	if err != nil {
		return 0, err
	}
	clean, err := cleanFile(p)
	if err != nil {
		return 0, err
	}
	h, err := d.CreateHandle(ctx, c.Principal.ID, clean, overwrite)
	if err != nil {
		return 0, dbfsError(dbfsWriting, err)
	}
	return h, nil
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
	return handleError(handle, d.AddBlock(ctx, c.Principal.ID, handle, data))
}

// DBFSClose completes the upload of handle: the file appears at its path.
func (s *Service) DBFSClose(ctx context.Context, handle int64) error {
	c, d, err := s.dbfsOf(ctx)
	if err != nil {
		return err
	}
	return handleError(handle, d.CloseHandle(ctx, c.Principal.ID, handle))
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
	clean, _, err := CleanDBFSPath(p)
	if err != nil {
		return nil, err
	}
	b, err := d.Read(ctx, clean, offset, length)
	if err != nil {
		return nil, dbfsError(dbfsReading, err)
	}
	if b == nil {
		b = []byte{} // data is always sent, if empty
	}
	return b, nil
}

// DBFSStatus returns the FileInfo of p.
func (s *Service) DBFSStatus(ctx context.Context, p string) (kiln.DBFSFileInfo, error) {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return kiln.DBFSFileInfo{}, err
	}
	clean, _, err := CleanDBFSPath(p)
	if err != nil {
		return kiln.DBFSFileInfo{}, err
	}
	fi, err := d.Status(ctx, clean)
	return fi, dbfsError(dbfsReading, err)
}

// DBFSList returns the entries of the directory at p ordered by path, or
// for a file the file itself. Symbolic links leading outside DBFS are
// left out.
func (s *Service) DBFSList(ctx context.Context, p string) ([]kiln.DBFSFileInfo, error) {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return nil, err
	}
	clean, _, err := CleanDBFSPath(p)
	if err != nil {
		return nil, err
	}
	list, err := d.List(ctx, clean)
	if err != nil {
		return nil, dbfsError(dbfsReading, err)
	}
	return list, nil
}

// DBFSMkdirs creates the directory p and its parents; an existing
// directory is success, a file on the way EConflict.
func (s *Service) DBFSMkdirs(ctx context.Context, p string) error {
	_, d, err := s.dbfsOf(ctx)
	if err != nil {
		return err
	}
	clean, _, err := CleanDBFSPath(p)
	if err != nil {
		return err
	}
	return dbfsError(dbfsMkdirs, d.Mkdirs(ctx, clean))
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
	err = d.Delete(ctx, clean, recursive)
	if errors.Is(err, kiln.ErrDBFSNotFound) {
		return nil
	}
	return dbfsError(dbfsReading, err)
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
	return dbfsError(dbfsMoving, d.Move(ctx, srcClean, dstClean))
}

// DBFSOpenForRun opens the regular file at the DBFS path p
// ("dbfs:/x/job.py" or "/x/job.py") for reading: the runner copies a
// spark_python_task python_file into the task's directory with it. It
// needs no caller: DBFS has no ACLs. ENotFound when there is no such
// file, EInvalid for a directory or a path leading outside DBFS.
func (s *Service) DBFSOpenForRun(ctx context.Context, p string) (io.ReadCloser, error) {
	if s.dbfs == nil {
		return nil, errNoDBFS()
	}
	clean, err := cleanFile(p)
	if err != nil {
		return nil, err
	}
	f, err := s.dbfs.Open(ctx, clean)
	if err != nil {
		return nil, dbfsError(dbfsReading, err)
	}
	return f, nil
}

// DBFSOpen opens the regular file at p for the caller to read whole (the
// console's Download): DBFSOpenForRun with a caller required. ENotFound
// when there is no such file, EInvalid for a directory.
func (s *Service) DBFSOpen(ctx context.Context, p string) (io.ReadCloser, error) {
	if _, _, err := s.dbfsOf(ctx); err != nil {
		return nil, err
	}
	return s.DBFSOpenForRun(ctx, p)
}

// DBFSPutBytes is DBFSPut of a JSON put's decoded contents.
func (s *Service) DBFSPutBytes(ctx context.Context, p string, contents []byte, overwrite bool) error {
	if len(contents) > DBFSMaxBlock {
		return blockTooBig("content", DBFSMaxBlock)
	}
	return s.DBFSPut(ctx, p, bytes.NewReader(contents), overwrite, DBFSMaxBlock)
}
