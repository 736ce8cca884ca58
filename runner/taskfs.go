package runner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"path"
	"strings"

	"github.com/kiln-dev/kiln"
)

// TaskFS answers dbutils.fs inside tasks. Every call is made with a
// context RunContext returned, so the service acts as the run's owner
// (quotas, audit) exactly as for a DBFS API call of theirs.
// *service.Service implements it.
type TaskFS interface {
	// RunContext returns ctx acting as the run owner ownerID; an owner
	// who is gone or deactivated is refused.
	RunContext(ctx context.Context, ownerID int64) (context.Context, error)
	DBFSList(ctx context.Context, p string) ([]kiln.DBFSFileInfo, error)
	DBFSStatus(ctx context.Context, p string) (kiln.DBFSFileInfo, error)
	DBFSRead(ctx context.Context, p string, offset, length int64) ([]byte, error)
	DBFSPut(ctx context.Context, p string, r io.Reader, overwrite bool, limit int64) error
	DBFSOpenForRun(ctx context.Context, p string) (io.ReadCloser, error)
	DBFSMkdirs(ctx context.Context, p string) error
	DBFSDelete(ctx context.Context, p string, recursive bool) error
	DBFSMove(ctx context.Context, src, dst string) error
}

// Bounds of dbutils.fs inside tasks.
const (
	// fsHeadMax bounds dbutils.fs.head (Databricks' own default is 64 KiB).
	fsHeadMax = 1 << 20
	// fsCopyMax bounds one file dbutils.fs.cp copies.
	fsCopyMax = 4 << 30
	// fsCopyFiles bounds the files of one recursive copy.
	fsCopyFiles = 10000
)

// fsRequest is a dbutils.fs call from the shim.
type fsRequest struct {
	Op        string `json:"op"`
	Path      string `json:"path"`
	Dest      string `json:"dest"`
	Recurse   bool   `json:"recurse"`
	Overwrite bool   `json:"overwrite"`
	DataB64   string `json:"data_b64"`
	MaxBytes  int64  `json:"max_bytes"`
}

// fsEntry is one FileInfo of dbutils.fs.ls, as Databricks shapes it: the
// path with its dbfs: scheme, a directory's name ending in a slash.
type fsEntry struct {
	Path             string `json:"path"`
	Name             string `json:"name"`
	Size             int64  `json:"size"`
	ModificationTime int64  `json:"modificationTime"`
}

// taskFS serves the dbutils.fs calls of one attempt.
type taskFS struct {
	fs  TaskFS
	ctx context.Context
}

// answer serves one request and returns the answer line: {"error": …}
// (the service's message, never internal detail), or the op's result.
func (t *taskFS) answer(req fsRequest) []byte {
	out, err := t.serve(req)
	if err != nil {
		return errorLine(err)
	}
	b, _ := json.Marshal(out)
	return append(b, '\n')
}

func (t *taskFS) serve(req fsRequest) (map[string]any, error) {
	src, err := dbfsPath(req.Path)
	if err != nil {
		return nil, err
	}
	switch req.Op {
	case "ls":
		list, err := t.fs.DBFSList(t.ctx, src)
		if err != nil {
			return nil, err
		}
		entries := make([]fsEntry, 0, len(list))
		for _, fi := range list {
			e := fsEntry{Path: "dbfs:" + fi.Path, Name: path.Base(fi.Path), Size: fi.Size, ModificationTime: fi.Modified.UnixMilli()}
			if fi.IsDir {
				e.Path, e.Name = e.Path+"/", e.Name+"/"
			}
			entries = append(entries, e)
		}
		return map[string]any{"entries": entries}, nil
	case "head":
		n := req.MaxBytes
		if n <= 0 {
			n = 65536
		}
		b, err := t.fs.DBFSRead(t.ctx, src, 0, min(n, fsHeadMax))
		if err != nil {
			return nil, err
		}
		return map[string]any{"data_b64": base64.StdEncoding.EncodeToString(b)}, nil
	case "put":
		data, err := base64.StdEncoding.DecodeString(req.DataB64)
		if err != nil {
			return nil, kiln.Errorf(kiln.EInvalid, "dbutils.fs.put: the contents are not valid.")
		}
		return ok(t.fs.DBFSPut(t.ctx, src, strings.NewReader(string(data)), req.Overwrite, int64(len(data))))
	case "mkdirs":
		return ok(t.fs.DBFSMkdirs(t.ctx, src))
	case "rm":
		return ok(t.fs.DBFSDelete(t.ctx, src, req.Recurse))
	case "mv", "cp":
		dst, err := dbfsPath(req.Dest)
		if err != nil {
			return nil, err
		}
		if req.Op == "mv" {
			return ok(t.fs.DBFSMove(t.ctx, src, dst))
		}
		return ok(t.copy(src, dst, req.Recurse))
	}
	return nil, kiln.Errorf(kiln.EInvalid, "dbutils.fs.%s is not supported by kiln.", req.Op)
}

func ok(err error) (map[string]any, error) {
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": true}, nil
}

// copy copies the file src to dst (replacing it), or with recurse the
// directory src into dst, file by file, streaming each.
func (t *taskFS) copy(src, dst string, recurse bool) error {
	fi, err := t.fs.DBFSStatus(t.ctx, src)
	if err != nil {
		return err
	}
	if !fi.IsDir {
		return t.copyFile(src, dst)
	}
	if !recurse {
		return kiln.Errorf(kiln.EInvalid, "%s is a directory: copy it with recurse=True.", "dbfs:"+src)
	}
	if dst == src || strings.HasPrefix(dst, strings.TrimSuffix(src, "/")+"/") {
		return kiln.Errorf(kiln.EInvalid, "Cannot copy dbfs:%s into itself.", src)
	}
	copied := 0
	var walk func(dir, to string) error
	walk = func(dir, to string) error {
		if err := t.fs.DBFSMkdirs(t.ctx, to); err != nil {
			return err
		}
		list, err := t.fs.DBFSList(t.ctx, dir)
		if err != nil {
			return err
		}
		for _, e := range list {
			target := path.Join(to, path.Base(e.Path))
			if e.IsDir {
				if err := walk(e.Path, target); err != nil {
					return err
				}
				continue
			}
			if copied++; copied > fsCopyFiles {
				return kiln.Errorf(kiln.EInvalid, "dbutils.fs.cp copies at most %d files at once.", fsCopyFiles)
			}
			if err := t.copyFile(e.Path, target); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(src, dst)
}

func (t *taskFS) copyFile(src, dst string) error {
	r, err := t.fs.DBFSOpenForRun(t.ctx, src)
	if err != nil {
		return err
	}
	defer r.Close()
	return t.fs.DBFSPut(t.ctx, dst, r, true, fsCopyMax)
}

// dbfsPath takes the DBFS paths dbutils.fs does (dbfs:/x, /x, and the
// FUSE form /dbfs/x) and refuses the task's local files (file:/…), which
// a task reads with Python's own functions.
func dbfsPath(p string) (string, error) {
	switch {
	case p == "":
		return "", kiln.Errorf(kiln.EInvalid, "dbutils.fs needs a path.")
	case strings.HasPrefix(strings.ToLower(p), "file:"):
		return "", kiln.Errorf(kiln.EInvalid, "dbutils.fs in kiln works on dbfs:/ paths; read and write the task's local files (%s) with Python's own functions.", p)
	case strings.Contains(p, "://") && !strings.HasPrefix(strings.ToLower(p), "dbfs:"):
		return "", kiln.Errorf(kiln.EInvalid, "dbutils.fs in kiln works on dbfs:/ paths, not %s.", p)
	}
	if rest, found := strings.CutPrefix(p, "/dbfs/"); found {
		p = "/" + rest
	}
	return p, nil
}

// answerFS answers one dbutils.fs call of a task of run, as its owner.
func (r *Runner) answerFS(ctx context.Context, run *kiln.Run, line []byte) []byte {
	var req fsRequest
	if json.Unmarshal(line, &req) != nil {
		return errorLine(kiln.Errorf(kiln.EInvalid, "kiln could not read the dbutils.fs call."))
	}
	if r.cfg.TaskFS == nil {
		return errorLine(kiln.Errorf(kiln.EInvalid, "DBFS is not available to this task."))
	}
	octx, err := r.cfg.TaskFS.RunContext(ctx, run.OwnerID)
	if err != nil {
		return errorLine(err)
	}
	return (&taskFS{fs: r.cfg.TaskFS, ctx: octx}).answer(req)
}

// errorLine is the answer line {"error": message} for err: a kiln
// error's message, never internal detail.
func errorLine(err error) []byte {
	b, _ := json.Marshal(map[string]string{"error": kiln.ErrorMessage(err)})
	return append(b, '\n')
}
