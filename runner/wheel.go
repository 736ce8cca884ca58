package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/sandbox"
)

// A wheel task's wheels are copied, as the run's principal reads them,
// into the attempt's wheelDir; the shim unpacks them, inside the sandbox,
// into siteDir, which it puts first on sys.path. Nothing is installed
// anywhere else, and nothing is fetched: a wheel's own dependencies must
// be wheels of the task too (or installed on the server's Python).
const (
	wheelDir = "wheels"
	siteDir  = "site"
)

// wheels copies the wheels of a wheel task into dir/wheels and returns
// them, in order. A workspace wheel is read with the run
// principal's permissions, a dbfs:/ (or /dbfs/) one through DBFS, which
// has no ACLs. Each may be at most the task's file size limit: it is a
// file of the task's directory like any other.
func (r *Runner) wheels(ctx context.Context, ownerID int64, paths []string, dir string) ([]wheelFile, error) {
	limit := r.sb.Limits().FileSizeBytes // negative: none
	out := make([]wheelFile, 0, len(paths))
	for i, p := range paths {
		local := filepath.Join(dir, wheelDir, strconv.Itoa(i)+"-"+wheelName(p))
		if err := r.copyWheel(ctx, ownerID, p, local, limit); err != nil {
			return nil, err
		}
		out = append(out, wheelFile{Path: p, File: local})
	}
	return out, nil
}

// wheelFile is one wheel of a wheel task: as the task names it (for
// messages) and the attempt's own copy, which the shim unpacks.
type wheelFile struct {
	Path string `json:"path"`
	File string `json:"file"`
}

// wheelName is a safe local file name for the wheel at p: its base name,
// which a workspace or DBFS path has already been cleaned to.
func wheelName(p string) string {
	b := path.Base(p)
	if b == "." || b == "/" || b == ".." {
		return "wheel.whl"
	}
	return b
}

func (r *Runner) copyWheel(ctx context.Context, ownerID int64, p, local string, limit int64) error {
	if isDBFS(p) {
		if r.cfg.DBFS == nil {
			return kiln.Errorf(kiln.EInvalid, "DBFS is not available on this server: the wheel %s cannot be read.", p)
		}
		src, err := r.cfg.DBFS.DBFSOpenForRun(ctx, strings.TrimPrefix(p, "/dbfs"))
		switch {
		case kiln.IsCode(err, kiln.ENotFound):
			return kiln.Errorf(kiln.EInvalid, "The wheel %s does not exist.", p)
		case err != nil:
			return err
		}
		defer src.Close()
		var in io.Reader = src
		if limit > 0 {
			in = io.LimitReader(src, limit+1)
		}
		if _, err := copyInto(in, local); err != nil {
			return err
		}
		if st, err := os.Stat(local); err != nil {
			return err
		} else if limit > 0 && st.Size() > limit {
			return wheelTooBig(p, limit)
		}
		return nil
	}
	obj, err := r.readObject(ctx, ownerID, p)
	switch {
	case kiln.IsCode(err, kiln.ENotFound):
		return kiln.Errorf(kiln.EInvalid, "The wheel %s does not exist.", p)
	case kiln.IsCode(err, kiln.EPermission):
		return kiln.Errorf(kiln.EPermission, "The wheel %s cannot be installed: the user the run runs as may not read it.", p)
	case err != nil:
		return err
	case obj.Type != kiln.ObjectFile:
		return kiln.Errorf(kiln.EInvalid, "%s is a %s, not a wheel file.", p, strings.ToLower(string(obj.Type)))
	case limit > 0 && int64(len(obj.Content)) > limit:
		return wheelTooBig(p, limit)
	}
	if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
		return err
	}
	return os.WriteFile(local, obj.Content, 0o600)
}

// isDBFS says whether a path names DBFS: dbfs:/… or the FUSE form /dbfs/….
func isDBFS(p string) bool {
	return (len(p) >= 6 && strings.EqualFold(p[:6], "dbfs:/")) || strings.HasPrefix(p, "/dbfs/")
}

func wheelTooBig(p string, limit int64) error {
	return kiln.Errorf(kiln.EInvalid, "The wheel %s is larger than the task's file size limit of %s (--task-file-size).", p, sandbox.BytesText(limit))
}

// wheelSpec is the shim's spec of a wheel task.
func wheelSpec(e kiln.TaskExec, wheels []wheelFile, dir string, args []string) shimSpec {
	return shimSpec{Kind: "wheel", Path: fmt.Sprintf("%s.%s", e.Package, e.EntryPoint), Args: args,
		Wheels: wheels, Site: filepath.Join(dir, siteDir), Package: e.Package, EntryPoint: e.EntryPoint}
}
