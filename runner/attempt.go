package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// shimFile and specFile are written into each attempt's working
// directory; logFile collects its output and is kept.
const (
	shimFile = "kiln_runtime.py"
	specFile = "task.json"
	logFile  = "output.log"
)

// shimSpec is task.json, what the shim reads.
type shimSpec struct {
	Kind   string            `json:"kind"`
	Path   string            `json:"path"`
	Cells  []cell            `json:"cells,omitempty"`
	File   string            `json:"file,omitempty"`
	Args   []string          `json:"args,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	// Wheels (local copies) are unpacked into Site, where the shim finds
	// Package's EntryPoint: a wheel task's.
	Wheels      []wheelFile `json:"wheels,omitempty"`
	Site        string      `json:"site,omitempty"`
	Package     string      `json:"package,omitempty"`
	EntryPoint  string      `json:"entry_point,omitempty"`
	ResultLimit int         `json:"result_limit"`
	// MemoryLimit is the address-space limit the sandbox sets on the
	// shim's process as it starts; the shim runs no task code before it
	// is in force. 0 when there is none to wait for.
	MemoryLimit int64 `json:"memory_limit,omitempty"`
}

// attempt runs the task once and describes how it went. It never returns
// an error: whatever goes wrong is the outcome.
func (r *Runner) attempt(ctx context.Context, run *kiln.Run, task *kiln.TaskRun) (o kiln.TaskOutcome) {
	if r.sbErr != nil {
		// The cause names paths and kernel features of the server: it is
		// in the server's log (and the Admin Console), not in the run.
		return internalOutcome("kiln refuses to run tasks on this server because the task sandbox cannot be set up. An operator must fix this; the server's log says why.")
	}
	py, err := r.interpreter()
	if err != nil {
		return internalOutcome("kiln cannot run Python tasks on this server: it has no usable Python interpreter. An operator must install python3 or set --python; the server's log says why.")
	}
	name := fmt.Sprintf("run-%d-task-%d-attempt-%d", run.ID, task.ID, task.Attempt)
	dir := filepath.Join(r.cfg.TaskDir, name)
	logDir := filepath.Join(r.cfg.DataDir, "runs", strconv.FormatInt(run.ID, 10), strconv.FormatInt(task.ID, 10),
		"attempt-"+strconv.Itoa(task.Attempt))
	if err := newTaskDir(dir); err != nil {
		r.log.Error("creating a task directory", "dir", dir, "err", err)
		return internalOutcome("kiln could not create the task's working directory.")
	}
	defer func() { r.retain(dir, o) }()
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		r.log.Error("creating a task's log directory", "dir", logDir, "err", err)
		return internalOutcome("kiln could not create the task's log file.")
	}
	refs := references(run, task)
	r.addTaskValueRefs(ctx, run, task, refs)
	spec, o, ok := r.resolve(ctx, run, task, dir, refs)
	if !ok {
		return o
	}
	spec.ResultLimit = r.cfg.ResultLimit
	if !r.sb.Off() {
		spec.MemoryLimit = max(r.sb.Limits().MemoryBytes, 0)
	}
	if err := r.prepare(dir, spec); err != nil {
		r.log.Error("preparing a task", "dir", dir, "err", err)
		return internalOutcome("kiln could not prepare the task.")
	}
	lf, err := os.OpenFile(filepath.Join(logDir, logFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		r.log.Error("creating a task's log file", "dir", logDir, "err", err)
		return internalOutcome("kiln could not create the task's log file.")
	}
	defer lf.Close()
	handed := &secretList{}
	redacted := newRedactingWriter(lf, handed)
	defer redacted.Flush()
	actx, stopTask := context.WithCancelCause(ctx)
	defer stopTask(nil)
	capture := newLogCapture(r.cfg.LogHead, r.cfg.LogTail, redacted, r.cfg.LogFileMax)
	capture.limit(r.cfg.MaxOutput, func() { stopTask(errOutputLimit) })
	var secret func(scope, key string) ([]byte, error)
	if r.cfg.Secrets != nil {
		secret = func(scope, key string) ([]byte, error) {
			v, err := r.cfg.Secrets.SecretForRun(ctx, run.OwnerID, scope, key)
			if err != nil {
				return nil, fmt.Errorf("%s", kiln.ErrorMessage(err))
			}
			// Listed before the value leaves: any output that carries it
			// comes later and is redacted.
			handed.add(string(v))
			return v, nil
		}
	}
	asks := map[string]func([]byte) []byte{
		"fs":        func(line []byte) []byte { return r.answerFS(ctx, run, line) },
		"taskvalue": func(line []byte) []byte { return r.answerTaskValue(ctx, run, task, line) },
		"notebook":  func(line []byte) []byte { return r.answerNotebook(ctx, run, line) },
	}
	stopPublishing := r.publishLogs(task.ID, capture, handed)
	res, err := runProcess(actx, procSpec{
		sandbox: r.sb, python: py.path, dir: dir, args: []string{"-u", "-B", shimFile, specFile},
		env: taskEnv(dir, py.path, run, task), readOnly: py.read, writable: []string{dir}, secret: secret, asks: asks,
	}, capture, r.cfg.KillGrace)
	stopPublishing()
	if err != nil && !res.exited {
		r.log.Error("starting a task", "err", err)
		return internalOutcome("kiln could not start python3.")
	}
	res.secrets = handed.list()
	o = outcomeOf(res, r.cfg.ResultLimit)
	switch {
	case err != nil:
		r.log.Error("waiting for a task", "err", err)
		o = internalOutcome("kiln lost track of the task's process.")
	case res.setup != "":
		r.log.Error("setting up a task's sandbox", "err", res.setup)
		o = internalOutcome("kiln could not set up the task's sandbox. An operator must fix this; the server's log says why.")
	case errors.Is(context.Cause(actx), errOutputLimit):
		o = failedOutcome(limitMessage(limitOutput, r.sb.Limits(), r.cfg.MaxOutput))
	case o.ResultState == kiln.ResultFailed && ctx.Err() == nil:
		if l := limitOf(res); l != "" {
			o.StateMessage = limitMessage(l, r.sb.Limits(), r.cfg.MaxOutput)
			if o.Error == "" || o.Error == describeExit(res)+"." {
				o.Error = o.StateMessage
			}
		}
	}
	o.Logs, o.LogsTruncated = cleanText(res.logs, res.secrets), res.logsCut
	return o
}

// newTaskDir creates an attempt's private directory afresh (an attempt
// started again after a crash starts clean).
func newTaskDir(dir string) error {
	if err := removeTree(dir); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return os.Mkdir(filepath.Join(dir, "tmp"), 0o700)
}

// prepare writes what the shim reads into the attempt directory and hands
// the directory to the task's user.
func (r *Runner) prepare(dir string, spec shimSpec) error {
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, specFile), b, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, shimFile), shimSource, 0o600); err != nil {
		return err
	}
	uid, gid := r.sb.Owner()
	if uid == os.Getuid() {
		return nil
	}
	// Everything here was created by kiln a moment ago: no links to
	// follow, and Lchown would not follow them anyway.
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// retain removes an attempt's directory unless Config.KeepTaskDirs keeps
// it.
func (r *Runner) retain(dir string, o kiln.TaskOutcome) {
	switch {
	case r.cfg.KeepTaskDirs == KeepAll:
		return
	case r.cfg.KeepTaskDirs == KeepFailed && o.ResultState != kiln.ResultSuccess:
		return
	}
	if err := removeTree(dir); err != nil {
		r.log.Warn("removing a task directory", "dir", dir, "err", err)
	}
}

// removeTree removes dir and everything in it, also what the task made
// unwritable to itself (mode 0500 directories). Links are removed, never
// followed.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// outcomeOf reads a finished process's result.
func outcomeOf(res procResult, limit int) kiln.TaskOutcome {
	switch {
	case res.gotExit:
		v := res.exitValue
		truncated := res.truncated
		if len(v) > limit {
			v, truncated = v[:limit], true
		}
		return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess,
			Result: cleanText(v, res.secrets), Truncated: truncated}
	case res.errLine != "":
		state := kiln.MsgTaskFailed
		if res.errState != "" {
			state = cleanText(res.errState, res.secrets)
		}
		return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultFailed,
			StateMessage: state, Error: cleanText(res.errLine, res.secrets), ErrorTrace: cleanText(res.errTrace, res.secrets)}
	case res.exitCode == 0:
		return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess}
	default:
		msg := describeExit(res) + "."
		return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultFailed,
			StateMessage: msg, Error: msg}
	}
}

// resolve turns the task's TaskExec into what the shim runs, reading
// notebooks and files. ok false means the task cannot run; o says why.
func (r *Runner) resolve(ctx context.Context, run *kiln.Run, task *kiln.TaskRun, dir string, refs map[string]string) (shimSpec, kiln.TaskOutcome, bool) {
	e := task.Exec
	switch e.Kind {
	case kiln.ExecNotebook:
		cells, err := notebookCells(e.Path, func(p string) (kiln.Language, []byte, error) { return r.readNotebook(ctx, run.OwnerID, p) })
		if err != nil {
			return shimSpec{}, r.outcomeOfError(err), false
		}
		params := make(map[string]string, len(e.Params))
		for k, v := range e.Params {
			params[k] = substitute(v, refs)
		}
		return shimSpec{Kind: "notebook", Path: e.Path, Cells: cells, Params: params}, kiln.TaskOutcome{}, true
	case kiln.ExecPythonFile:
		file, err := r.pythonFile(ctx, run.OwnerID, e.Path, dir)
		if err != nil {
			return shimSpec{}, r.outcomeOfError(err), false
		}
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = substitute(a, refs)
		}
		return shimSpec{Kind: "python_file", Path: e.Path, File: file, Args: args}, kiln.TaskOutcome{}, true
	case kiln.ExecWheel:
		wheels, err := r.wheels(ctx, run.OwnerID, e.Wheels, dir)
		if err != nil {
			return shimSpec{}, r.outcomeOfError(err), false
		}
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = substitute(a, refs)
		}
		return wheelSpec(e, wheels, dir, args), kiln.TaskOutcome{}, true
	}
	return shimSpec{}, internalOutcome(fmt.Sprintf("kiln cannot run tasks of kind %q.", e.Kind)), false
}

// outcomeOfError makes a resolution error the task's outcome: the user's
// problem (EInvalid, ENotFound, EPermission) fails the task with its
// message, anything else is kiln's.
func (r *Runner) outcomeOfError(err error) kiln.TaskOutcome {
	switch kiln.ErrorCode(err) {
	case kiln.EInvalid, kiln.ENotFound, kiln.EPermission:
		return failedOutcome(kiln.ErrorMessage(err))
	}
	// The cause is the server's business: the log has it, the run says
	// only that kiln failed.
	r.log.Error("preparing a task", "err", err)
	return internalOutcome("kiln could not prepare the task.")
}

// readObject reads a notebook or workspace file for the run's owner.
func (r *Runner) readObject(ctx context.Context, ownerID int64, p string) (*kiln.WorkspaceObject, error) {
	return r.cfg.Workspace.WorkspaceObjectForRun(ctx, ownerID, p)
}

// readNotebook reads a notebook for notebookCells.
func (r *Runner) readNotebook(ctx context.Context, ownerID int64, p string) (kiln.Language, []byte, error) {
	obj, err := r.readObject(ctx, ownerID, p)
	switch {
	case kiln.IsCode(err, kiln.ENotFound):
		return "", nil, kiln.Errorf(kiln.EInvalid, "Notebook %s does not exist.", p)
	case err != nil:
		return "", nil, err
	case obj.Type != kiln.ObjectNotebook:
		return "", nil, kiln.Errorf(kiln.EInvalid, "%s is a %s, not a notebook.", p, strings.ToLower(string(obj.Type)))
	}
	return obj.Language, obj.Content, nil
}

// pythonFile returns the local path of a spark_python_task python_file:
// dbfs:/… (or /dbfs/…) through DBFS, file:/… as is, and anything else as
// a workspace file, written into the working directory.
func (r *Runner) pythonFile(ctx context.Context, ownerID int64, p, dir string) (string, error) {
	switch {
	case strings.HasPrefix(p, "dbfs:/") || strings.HasPrefix(p, "/dbfs/"):
		if r.cfg.DBFS == nil {
			return "", kiln.Errorf(kiln.EInvalid, "DBFS is not available on this server: %s cannot be read.", p)
		}
		src, err := r.cfg.DBFS.DBFSOpenForRun(ctx, strings.TrimPrefix(p, "/dbfs"))
		if err != nil {
			return "", err
		}
		defer src.Close()
		// DBFS is no place tasks can reach (the data directory, or a
		// database): the task gets its own copy.
		return copyInto(src, filepath.Join(dir, "src", path.Base(p)))
	case strings.HasPrefix(p, "file:"):
		local := path.Clean("/" + strings.TrimLeft(strings.TrimPrefix(p, "file:"), "/"))
		st, err := os.Stat(local)
		if err != nil || !st.Mode().IsRegular() {
			return "", kiln.Errorf(kiln.EInvalid, "Python file %s does not exist on the kiln server.", p)
		}
		return local, nil
	case strings.Contains(p, "://"):
		return "", kiln.Errorf(kiln.EInvalid, "kiln cannot read %s: give a workspace path, dbfs:/… or file:/….", p)
	}
	obj, err := r.readObject(ctx, ownerID, p)
	switch {
	case kiln.IsCode(err, kiln.ENotFound):
		return "", kiln.Errorf(kiln.EInvalid, "Python file %s does not exist.", p)
	case err != nil:
		return "", err
	case obj.Type == kiln.ObjectDirectory:
		return "", kiln.Errorf(kiln.EInvalid, "%s is a directory, not a Python file.", p)
	}
	local := filepath.Join(dir, "src", path.Base(obj.Path))
	if !strings.HasSuffix(local, ".py") {
		local += ".py"
	}
	if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
		return "", err
	}
	return local, os.WriteFile(local, obj.Content, 0o600)
}

// copyInto copies what in yields to dst, creating dst's directory.
func copyInto(in io.Reader, dst string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return dst, out.Close()
}

// taskEnv is the task's whole environment: nothing of the server's own
// environment is passed on, which may hold secrets such as
// KILN_TOKEN_KEY, only the locale and time zone.
func taskEnv(dir, python string, run *kiln.Run, task *kiln.TaskRun) []string {
	return append(baseEnv(filepath.Dir(python)),
		"HOME="+dir,
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"KILN_JOB_ID="+strconv.FormatInt(run.JobID, 10),
		"KILN_RUN_ID="+strconv.FormatInt(run.ID, 10),
		"KILN_TASK_RUN_ID="+strconv.FormatInt(task.ID, 10),
		"KILN_TASK_KEY="+task.TaskKey,
	)
}

// baseEnv is the environment of every Python process kiln starts: a
// fixed PATH (the interpreter's directory first), Python's I/O settings,
// and the server's locale and time zone.
func baseEnv(pythonDir string) []string {
	path := "/usr/local/bin:/usr/bin:/bin"
	if pythonDir != "" {
		path = pythonDir + ":" + path
	}
	env := []string{
		"PATH=" + path,
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONIOENCODING=utf-8",
	}
	for _, k := range []string{"LANG", "LC_ALL", "LC_CTYPE", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
