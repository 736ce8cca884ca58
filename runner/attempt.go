package runner

import (
	"context"
	"encoding/json"
	"fmt"
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
	Kind        string            `json:"kind"`
	Path        string            `json:"path"`
	Cells       []cell            `json:"cells,omitempty"`
	File        string            `json:"file,omitempty"`
	Args        []string          `json:"args,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	ResultLimit int               `json:"result_limit"`
}

// attempt runs the task once and describes how it went. It never returns
// an error: whatever goes wrong is the outcome.
func (r *Runner) attempt(ctx context.Context, run *kiln.Run, task *kiln.TaskRun) kiln.TaskOutcome {
	python, _, err := r.interpreter()
	if err != nil {
		return internalOutcome("kiln cannot run Python tasks on this server: %v.", err)
	}
	dir := filepath.Join(r.cfg.DataDir, "runs", strconv.FormatInt(run.ID, 10), strconv.FormatInt(task.ID, 10),
		"attempt-"+strconv.Itoa(task.Attempt))
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return internalOutcome("kiln could not create the task's working directory: %v.", err)
	}
	if !r.cfg.KeepWorkDirs {
		defer cleanWorkDir(dir)
	}
	refs := references(run, task)
	spec, o, ok := r.resolve(ctx, run, task, dir, refs)
	if !ok {
		return o
	}
	spec.ResultLimit = r.cfg.ResultLimit
	b, err := json.Marshal(spec)
	if err != nil {
		return internalOutcome("kiln could not prepare the task: %v.", err)
	}
	if err := os.WriteFile(filepath.Join(dir, specFile), b, 0o600); err != nil {
		return internalOutcome("kiln could not prepare the task: %v.", err)
	}
	if err := os.WriteFile(filepath.Join(dir, shimFile), shimSource, 0o600); err != nil {
		return internalOutcome("kiln could not prepare the task: %v.", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return internalOutcome("kiln could not create the task's log file: %v.", err)
	}
	defer lf.Close()
	capture := newLogCapture(r.cfg.LogHead, r.cfg.LogTail, lf, r.cfg.LogFileMax)
	handed := &secretList{}
	var secret func(scope, key string) ([]byte, error)
	if r.cfg.Secrets != nil {
		secret = func(scope, key string) ([]byte, error) {
			v, err := r.cfg.Secrets.SecretForRun(ctx, run.OwnerID, scope, key)
			if err != nil {
				return nil, fmt.Errorf("%s", kiln.ErrorMessage(err))
			}
			handed.add(string(v))
			return v, nil
		}
	}
	stopPublishing := r.publishLogs(task.ID, capture, handed)
	res, err := runProcess(ctx, procSpec{
		python: python, dir: dir, args: []string{"-u", "-B", shimFile, specFile},
		env: taskEnv(dir, run, task), secret: secret,
	}, capture, r.cfg.KillGrace)
	stopPublishing()
	if err != nil && !res.exited {
		return internalOutcome("kiln could not start python3: %v.", err)
	}
	o = outcomeOf(res, r.cfg.ResultLimit)
	if err != nil {
		o = internalOutcome("kiln lost track of the task's process: %v.", err)
	}
	o.Logs, o.LogsTruncated = cleanText(res.logs, res.secrets), res.logsCut
	return o
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
			Result: cleanText(v, nil), Truncated: truncated}
	case res.errLine != "":
		return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultFailed,
			StateMessage: kiln.MsgTaskFailed, Error: cleanText(res.errLine, res.secrets), ErrorTrace: cleanText(res.errTrace, res.secrets)}
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
			return shimSpec{}, outcomeOfError(err), false
		}
		params := make(map[string]string, len(e.Params))
		for k, v := range e.Params {
			params[k] = substitute(v, refs)
		}
		return shimSpec{Kind: "notebook", Path: e.Path, Cells: cells, Params: params}, kiln.TaskOutcome{}, true
	case kiln.ExecPythonFile:
		file, err := r.pythonFile(ctx, run.OwnerID, e.Path, dir)
		if err != nil {
			return shimSpec{}, outcomeOfError(err), false
		}
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = substitute(a, refs)
		}
		return shimSpec{Kind: "python_file", Path: e.Path, File: file, Args: args}, kiln.TaskOutcome{}, true
	}
	return shimSpec{}, internalOutcome("kiln cannot run tasks of kind %q.", e.Kind), false
}

// outcomeOfError makes a resolution error the task's outcome: the user's
// problem (EInvalid, ENotFound, EPermission) fails the task with its
// message, anything else is kiln's.
func outcomeOfError(err error) kiln.TaskOutcome {
	switch kiln.ErrorCode(err) {
	case kiln.EInvalid, kiln.ENotFound, kiln.EPermission:
		return failedOutcome(kiln.ErrorMessage(err))
	}
	return internalOutcome("kiln could not prepare the task: %v.", err)
}

// readObject reads a notebook or workspace file for the run's owner.
func (r *Runner) readObject(ctx context.Context, ownerID int64, p string) (*kiln.WorkspaceObject, error) {
	if r.cfg.Workspace != nil {
		return r.cfg.Workspace.WorkspaceObjectForRun(ctx, ownerID, p)
	}
	clean, err := kiln.CleanObjectPath(p)
	if err != nil {
		return nil, err
	}
	var obj *kiln.WorkspaceObject
	err = r.store.View(ctx, func(tx kiln.Tx) (err error) {
		obj, err = tx.ObjectByPath(clean)
		return err
	})
	return obj, err
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
		return r.cfg.DBFS.DBFSLocalPath(strings.TrimPrefix(p, "/dbfs"))
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

// taskEnv is the task's whole environment. Nothing of the server's own
// environment is passed on except what programs need to run (PATH, the
// locale, the time zone): the server's may hold secrets such as
// KILN_TOKEN_KEY.
func taskEnv(dir string, run *kiln.Run, task *kiln.TaskRun) []string {
	env := []string{
		"HOME=" + dir,
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONIOENCODING=utf-8",
		"KILN_JOB_ID=" + strconv.FormatInt(run.JobID, 10),
		"KILN_RUN_ID=" + strconv.FormatInt(run.ID, 10),
		"KILN_TASK_RUN_ID=" + strconv.FormatInt(task.ID, 10),
		"KILN_TASK_KEY=" + task.TaskKey,
	}
	for _, k := range []string{"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// cleanWorkDir removes an attempt's working directory except its log.
func cleanWorkDir(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() != logFile {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
