package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/beacon"
	"github.com/kiln-dev/kiln/sqlstore"
)

// requirePython fails (never skips) the test when python3 is missing: the
// runner's tests are worthless without it.
func requirePython(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required to test the runner: %v", err)
	}
}

// env is a runner over a real store in a temporary data directory.
type env struct {
	t     *testing.T
	store kiln.Store
	dir   string
	r     *Runner
	owner *kiln.Principal
}

func fastConfig(c *Config) {
	c.Workers, c.LeaseTTL, c.PollInterval, c.SweepInterval, c.KillGrace = 2, 3*time.Second, 50*time.Millisecond, 200*time.Millisecond, time.Second
}

func newEnv(t *testing.T, adjust ...func(*Config)) *env {
	t.Helper()
	requirePython(t)
	dir := t.TempDir()
	st, err := sqlstore.Open(context.Background(), filepath.Join(dir, "kiln.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, dir: dir}
	e.owner = &kiln.Principal{Kind: kiln.KindUser, UserName: "alice@example.com", Active: true}
	e.update(func(tx kiln.Tx) error {
		if err := tx.CreatePrincipal(e.owner); err != nil {
			return err
		}
		return tx.CreateObject(&kiln.WorkspaceObject{Path: "/Shared", Type: kiln.ObjectDirectory})
	})
	e.r = e.start(adjust...)
	t.Cleanup(func() {
		e.r.Shutdown(context.Background())
		st.Close()
	})
	return e
}

// start starts a runner on the env's store and data directory.
func (e *env) start(adjust ...func(*Config)) *Runner {
	e.t.Helper()
	c := Config{Store: e.store, DataDir: e.dir, Node: "test-node", Workspace: storeWorkspace{e.store}}
	fastConfig(&c)
	for _, a := range adjust {
		a(&c)
	}
	r, err := New(c)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// storeWorkspace reads the tasks' notebooks and files straight from the
// store, with no permission check: these tests are about running tasks,
// and the service's checks have tests of their own.
type storeWorkspace struct{ store kiln.Store }

func (w storeWorkspace) WorkspaceObjectForRun(ctx context.Context, _ int64, p string) (*kiln.WorkspaceObject, error) {
	clean, err := kiln.CleanObjectPath(p)
	if err != nil {
		return nil, err
	}
	var obj *kiln.WorkspaceObject
	err = w.store.View(ctx, func(tx kiln.Tx) (err error) {
		obj, err = tx.ObjectByPath(clean)
		return err
	})
	return obj, err
}

func TestWorkspaceIsRequired(t *testing.T) {
	if _, err := New(Config{Store: &countingStore{}, DataDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "Workspace") {
		t.Errorf("New without a Workspace: %v, want a refusal naming it", err)
	}
}

func (e *env) update(fn func(kiln.Tx) error) {
	e.t.Helper()
	if err := e.store.Update(context.Background(), fn); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) notebook(path, src string) {
	e.t.Helper()
	e.update(func(tx kiln.Tx) error {
		return tx.CreateObject(&kiln.WorkspaceObject{Path: path, Type: kiln.ObjectNotebook, Language: kiln.LanguagePython,
			Content: []byte("# Databricks notebook source\n" + src)})
	})
}

func nbTask(key, path string, params map[string]string, deps ...string) *kiln.TaskRun {
	return &kiln.TaskRun{TaskKey: key, DependsOn: deps, Exec: kiln.TaskExec{Kind: kiln.ExecNotebook, Path: path, Params: params}}
}

func (e *env) submit(tasks ...*kiln.TaskRun) *kiln.Run {
	e.t.Helper()
	r := &kiln.Run{OwnerID: e.owner.ID, RunType: kiln.RunTypeSubmit, Tasks: tasks}
	return e.submitRun(r)
}

func (e *env) submitRun(r *kiln.Run) *kiln.Run {
	e.t.Helper()
	e.update(func(tx kiln.Tx) error { return tx.CreateRun(r) })
	e.r.Wake()
	return r
}

func (e *env) read(id int64) *kiln.Run {
	e.t.Helper()
	var r *kiln.Run
	if err := e.store.View(context.Background(), func(tx kiln.Tx) (err error) { r, err = tx.Run(id); return err }); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) output(taskID int64) *kiln.TaskRun {
	e.t.Helper()
	var tr *kiln.TaskRun
	if err := e.store.View(context.Background(), func(tx kiln.Tx) (err error) { tr, err = tx.TaskRun(taskID); return err }); err != nil {
		e.t.Fatal(err)
	}
	return tr
}

// wait polls until the run is finished.
func (e *env) wait(id int64, d time.Duration) *kiln.Run {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		r := e.read(id)
		if !r.Active() {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %d still %s after %v: tasks %s", id, r.LifeCycleState, d, taskSummary(r))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitTask polls until cond holds for the run's first task.
func (e *env) waitTask(id int64, d time.Duration, what string, cond func(*kiln.TaskRun) bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond(e.read(id).Tasks[0]) {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func taskSummary(r *kiln.Run) string {
	var b strings.Builder
	for _, t := range r.Tasks {
		fmt.Fprintf(&b, "%s=%s/%s(%s) ", t.TaskKey, t.LifeCycleState, t.ResultState, t.StateMessage)
	}
	return b.String()
}

func wantState(t *testing.T, r *kiln.Run, lifeCycle, result string) {
	t.Helper()
	if r.LifeCycleState != lifeCycle || r.ResultState != result {
		t.Fatalf("run: %s/%s (%q), want %s/%s; tasks %s", r.LifeCycleState, r.ResultState, r.StateMessage, lifeCycle, result, taskSummary(r))
	}
}

func TestNotebookWidgetsAndExit(t *testing.T) {
	e := newEnv(t)
	e.notebook("/Shared/etl", `dbutils.widgets.text("day", "never")
dbutils.widgets.text("unset", "fallback")
print("hello from", dbutils.widgets.get("day"))
display({"rows": 3})

# COMMAND ----------

# MAGIC %md
# MAGIC This cell is documentation.

# COMMAND ----------

import json
dbutils.notebook.exit(json.dumps({"day": dbutils.widgets.get("day"), "unset": dbutils.widgets.get("unset"),
    "run": dbutils.widgets.get("run")}))
print("never printed")
`)
	r := e.submit(nbTask("etl", "/Shared/etl", map[string]string{"day": "2024-01-02", "run": "{{job.run_id}}"}))
	got := e.wait(r.ID, 30*time.Second)
	wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultSuccess)
	out := e.output(got.Tasks[0].ID)
	want := fmt.Sprintf(`{"day": "2024-01-02", "unset": "fallback", "run": "%d"}`, r.ID)
	if out.Result != want || out.Truncated {
		t.Errorf("result: %q (truncated %v), want %q", out.Result, out.Truncated, want)
	}
	if !strings.Contains(out.Logs, "hello from 2024-01-02") || !strings.Contains(out.Logs, "{'rows': 3}") ||
		strings.Contains(out.Logs, "never printed") {
		t.Errorf("logs: %q", out.Logs)
	}
	if got.Tasks[0].Attempt != 0 || got.Started.IsZero() || got.Ended.IsZero() {
		t.Errorf("task: %+v", got.Tasks[0])
	}
}

func TestFailures(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, src       string
		lifeCycle       string
		result          string
		msg, err, trace string
	}{
		{"Exception", "x = 1\n# COMMAND ----------\ndef f():\n    return 1 / 0\nf()\n",
			kiln.LifeCycleTerminated, kiln.ResultFailed, kiln.MsgTaskFailed, "ZeroDivisionError: division by zero", "in f"},
		{"MissingWidget", "dbutils.widgets.get('nope')\n",
			kiln.LifeCycleTerminated, kiln.ResultFailed, kiln.MsgTaskFailed, "No input widget named nope is defined", ""},
		{"SystemExitNonZero", "import sys\nsys.exit(3)\n",
			kiln.LifeCycleTerminated, kiln.ResultFailed, kiln.MsgTaskFailed, "SystemExit: 3", ""},
		{"SystemExitZeroIsSuccess", "import sys\nsys.exit(0)\n", kiln.LifeCycleTerminated, kiln.ResultSuccess, "", "", ""},
		{"HardExit", "import os\nos._exit(7)\n",
			kiln.LifeCycleTerminated, kiln.ResultFailed, "python3 exited with status 7.", "python3 exited with status 7.", ""},
		{"ScalaCell", "x = 1\n# COMMAND ----------\n# MAGIC %scala\n# MAGIC val y = 2\n",
			kiln.LifeCycleTerminated, kiln.ResultFailed, "Cell 2 of notebook /Shared/ScalaCell is a %scala cell", "%scala", ""},
		{"Spark", "spark.read\n", kiln.LifeCycleTerminated, kiln.ResultFailed, kiln.MsgTaskFailed, "there is no Spark session", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.notebook("/Shared/"+c.name, c.src)
			got := e.wait(e.submit(nbTask("t", "/Shared/"+c.name, nil)).ID, 30*time.Second)
			wantState(t, got, c.lifeCycle, c.result)
			out := e.output(got.Tasks[0].ID)
			if !strings.Contains(got.StateMessage, c.msg) || !strings.Contains(out.Error, c.err) || !strings.Contains(out.ErrorTrace, c.trace) {
				t.Errorf("message %q, error %q, trace %q; want %q, %q, %q", got.StateMessage, out.Error, out.ErrorTrace, c.msg, c.err, c.trace)
			}
		})
	}
	t.Run("MissingNotebook", func(t *testing.T) {
		got := e.wait(e.submit(nbTask("t", "/Shared/nope", nil)).ID, 30*time.Second)
		wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultFailed)
		if got.StateMessage != "Notebook /Shared/nope does not exist." {
			t.Errorf("message: %q", got.StateMessage)
		}
	})
}

func TestTimeoutKillsTheTask(t *testing.T) {
	e := newEnv(t)
	e.notebook("/Shared/forever", "import time\nwhile True:\n    time.sleep(0.1)\n")
	task := nbTask("t", "/Shared/forever", nil)
	task.Timeout = time.Second
	got := e.wait(e.submit(task).ID, 30*time.Second)
	wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultTimedOut)
	if got.StateMessage != "Task timed out after 1 seconds." {
		t.Errorf("message: %q", got.StateMessage)
	}
	// The run's own timeout stops it too.
	r := &kiln.Run{OwnerID: e.owner.ID, RunType: kiln.RunTypeSubmit, Timeout: time.Second,
		Tasks: []*kiln.TaskRun{nbTask("t", "/Shared/forever", nil)}}
	got = e.wait(e.submitRun(r).ID, 30*time.Second)
	wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultTimedOut)
	if got.StateMessage != "Run timed out after 1 seconds." {
		t.Errorf("message: %q", got.StateMessage)
	}
}

func TestCancelKillsTheProcessGroup(t *testing.T) {
	e := newEnv(t)
	b := beacon.New(t)
	// The notebook forks a child that ignores SIGTERM: only the SIGKILL
	// after the grace period ends it. The child reports to the beacon, and
	// its connection closes when it dies.
	child := fmt.Sprintf("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n%s\nwhile True: time.sleep(1)", b.Python(`"child"`))
	e.notebook("/Shared/fork", fmt.Sprintf(`import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", %q])
while True:
    time.sleep(0.1)
`, child))
	r := e.submit(nbTask("t", "/Shared/fork", nil))
	c := b.Next(t, 30*time.Second)
	e.update(func(tx kiln.Tx) error {
		_, err := tx.StopRun(r.ID, kiln.ResultCanceled, "Canceled by the test.")
		return err
	})
	e.r.Stopped(r.ID, kiln.ResultCanceled)
	got := e.wait(r.ID, 30*time.Second)
	wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultCanceled)
	if got.StateMessage != "Canceled by the test." {
		t.Errorf("message: %q", got.StateMessage)
	}
	c.WaitClosed(t, 10*time.Second)
}

func kilnWait(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRetriesCountAttempts(t *testing.T) {
	e := newEnv(t)
	b := beacon.New(t)
	// Each attempt has a directory of its own: the beacon counts them.
	e.notebook("/Shared/flaky", fmt.Sprintf(`n = %s
if n < 2:
    raise RuntimeError("attempt %%d fails" %% n)
dbutils.notebook.exit("ok after %%d" %% n)
`, b.Python(`"attempt"`)))
	task := nbTask("t", "/Shared/flaky", nil)
	task.MaxRetries = 2
	got := e.wait(e.submit(task).ID, 60*time.Second)
	wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultSuccess)
	if got.Tasks[0].Attempt != 2 {
		t.Errorf("attempt_number: %d, want 2", got.Tasks[0].Attempt)
	}
	if out := e.output(got.Tasks[0].ID); out.Result != "ok after 2" || out.Error != "" {
		t.Errorf("output: %q, error %q", out.Result, out.Error)
	}
}

func TestDependsOn(t *testing.T) {
	e := newEnv(t)
	e.notebook("/Shared/ok", "dbutils.notebook.exit('ok')\n")
	e.notebook("/Shared/bad", "raise ValueError('bad input')\n")
	got := e.wait(e.submit(
		nbTask("a", "/Shared/ok", nil),
		nbTask("b", "/Shared/bad", nil, "a"),
		nbTask("c", "/Shared/ok", nil, "b"),
		nbTask("d", "/Shared/ok", nil, "a"),
	).ID, 60*time.Second)
	wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultFailed)
	want := "a=TERMINATED/SUCCESS b=TERMINATED/FAILED c=TERMINATED/UPSTREAM_FAILED d=TERMINATED/SUCCESS"
	var states []string
	for _, tr := range got.Tasks {
		states = append(states, tr.TaskKey+"="+tr.LifeCycleState+"/"+tr.ResultState)
	}
	if strings.Join(states, " ") != want {
		t.Errorf("tasks: %s, want %s", strings.Join(states, " "), want)
	}
	if !strings.HasPrefix(got.StateMessage, "Task b failed with message:") {
		t.Errorf("message: %q", got.StateMessage)
	}
}

func TestLogsAreBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LogHead, c.LogTail, c.LogFileMax = 1000, 2000, 100<<10 })
	e.notebook("/Shared/loud", `import sys
print("FIRST LINE")
line = "x" * 1023 + "\n"
for i in range(50 * 1024):   # 50 MiB
    sys.stdout.write(line)
print("LAST LINE")
`)
	start := time.Now()
	got := e.wait(e.submit(nbTask("t", "/Shared/loud", nil)).ID, 120*time.Second)
	wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultSuccess)
	out := e.output(got.Tasks[0].ID)
	if len(out.Logs) > 3200 || !out.LogsTruncated || !strings.HasPrefix(out.Logs, "FIRST LINE") ||
		!strings.HasSuffix(out.Logs, "LAST LINE\n") || !strings.Contains(out.Logs, "bytes of output omitted") {
		t.Errorf("logs (%d bytes, truncated %v): %.200q … %.100q", len(out.Logs), out.LogsTruncated, out.Logs, out.Logs[max(0, len(out.Logs)-100):])
	}
	st, err := os.Stat(filepath.Join(e.dir, "runs", strconv.FormatInt(got.ID, 10), strconv.FormatInt(got.Tasks[0].ID, 10), "attempt-0", logFile))
	if err != nil || st.Size() > 101<<10 {
		t.Errorf("log file: %v, %v; want at most about 100 KiB", st, err)
	}
	t.Logf("50 MiB of output captured in %v", time.Since(start))
}

func TestResultIsTruncatedAtTheLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ResultLimit = 10 })
	e.notebook("/Shared/big", "dbutils.notebook.exit('é' * 20)\n")
	got := e.wait(e.submit(nbTask("t", "/Shared/big", nil)).ID, 30*time.Second)
	out := e.output(got.Tasks[0].ID)
	if out.Result != strings.Repeat("é", 5) || !out.Truncated {
		t.Errorf("result %q (truncated %v), want 5 é and truncated", out.Result, out.Truncated)
	}
}

// fakeSecrets hands out one secret to its owner.
type fakeSecrets struct{ owner int64 }

func (f fakeSecrets) SecretForRun(_ context.Context, ownerID int64, scope, key string) ([]byte, error) {
	if ownerID != f.owner || scope != "prod" || key != "password" {
		return nil, kiln.Errorf(kiln.ENotFound, "Secret does not exist with scope: %s and key: %s", scope, key)
	}
	return []byte("s3cr3t-value"), nil
}

func TestSecretsComeOverThePrivateChannel(t *testing.T) {
	requirePython(t)
	var e *env
	e = newEnv(t, func(c *Config) { c.Secrets = secretsOf(func() int64 { return e.owner.ID }) })
	e.notebook("/Shared/secret", `import os
v = dbutils.secrets.get("prod", "password")
print("the value is", v)
print("in env:", any(v in x for x in os.environ.values()))
try:
    dbutils.secrets.get("prod", "other")
except Exception as err:
    print("missing:", err)
dbutils.notebook.exit(str(len(v)))
`)
	got := e.wait(e.submit(nbTask("t", "/Shared/secret", nil)).ID, 30*time.Second)
	wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultSuccess)
	out := e.output(got.Tasks[0].ID)
	if out.Result != "12" || !strings.Contains(out.Logs, "the value is [REDACTED]") || strings.Contains(out.Logs, "s3cr3t") ||
		!strings.Contains(out.Logs, "in env: False") || !strings.Contains(out.Logs, "missing: Secret does not exist with scope: prod and key: other") {
		t.Errorf("result %q, logs %q", out.Result, out.Logs)
	}
}

// secretsOf defers reading the owner until the env exists.
type secretsOf func() int64

func (f secretsOf) SecretForRun(ctx context.Context, ownerID int64, scope, key string) ([]byte, error) {
	return fakeSecrets{owner: f()}.SecretForRun(ctx, ownerID, scope, key)
}

func TestPythonFileTasks(t *testing.T) {
	// A file: path is read by the task itself, so only where the sandbox
	// lets tasks read: here a directory the operator opened to them.
	shared := readableDir(t)
	e := newEnv(t, func(c *Config) { c.Sandbox.ReadOnly = []string{shared} })
	local := filepath.Join(shared, "job.py")
	hidden := filepath.Join(t.TempDir(), "job.py")
	src := "import sys\nprint('args', sys.argv[1:])\nif sys.argv[1] == 'fail': raise SystemExit(2)\n"
	for _, f := range []string{local, hidden} {
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.update(func(tx kiln.Tx) error {
		return tx.CreateObject(&kiln.WorkspaceObject{Path: "/Shared/job.py", Type: kiln.ObjectFile, Content: []byte(src)})
	})
	for _, c := range []struct {
		name, path string
		args       []string
		result     string
		logs       string
	}{
		{"WorkspaceFile", "/Shared/job.py", []string{"a", "{{task.name}}"}, kiln.ResultSuccess, "args ['a', 'py']"},
		{"LocalFile", "file:" + local, []string{"b"}, kiln.ResultSuccess, "args ['b']"},
		{"LocalFileTasksMayNotRead", "file:" + hidden, []string{"b"}, kiln.ResultFailed, "Permission denied"},
		{"Fails", "/Shared/job.py", []string{"fail"}, kiln.ResultFailed, "args ['fail']"},
		{"Missing", "/Shared/nope.py", nil, kiln.ResultFailed, ""},
		{"Unsupported", "s3://bucket/job.py", nil, kiln.ResultFailed, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			task := &kiln.TaskRun{TaskKey: "py", Exec: kiln.TaskExec{Kind: kiln.ExecPythonFile, Path: c.path, Args: c.args}}
			got := e.wait(e.submit(task).ID, 30*time.Second)
			wantState(t, got, kiln.LifeCycleTerminated, c.result)
			if out := e.output(got.Tasks[0].ID); !strings.Contains(out.Logs, c.logs) {
				t.Errorf("logs: %q, want %q", out.Logs, c.logs)
			}
		})
	}
}

func TestConcurrencyLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Workers = 2 })
	e.notebook("/Shared/sleep", "import time\ntime.sleep(1.5)\n")
	var runs []*kiln.Run
	for range 4 {
		runs = append(runs, e.submit(nbTask("t", "/Shared/sleep", nil)))
	}
	kilnWait(t, 30*time.Second, "two runs running", func() bool { return len(e.r.Running()) == 2 })
	queued := 0
	for _, r := range runs {
		if e.read(r.ID).LifeCycleState == kiln.LifeCycleQueued {
			queued++
		}
	}
	if queued != 2 || len(e.r.Running()) > 2 {
		t.Errorf("queued %d, running %d; want 2 and 2", queued, len(e.r.Running()))
	}
	for _, r := range runs {
		wantState(t, e.wait(r.ID, 60*time.Second), kiln.LifeCycleTerminated, kiln.ResultSuccess)
	}
}

func TestRestartEndsOrRetriesTheTasksOfTheDeadRunner(t *testing.T) {
	e := newEnv(t)
	e.notebook("/Shared/slow", "import time\ntime.sleep(60)\n")
	once := e.submit(nbTask("once", "/Shared/slow", nil))
	e.waitTask(once.ID, 30*time.Second, "the task to start", func(tr *kiln.TaskRun) bool { return tr.LifeCycleState == kiln.LifeCycleRunning })
	// Simulate a runner that died without a word: its lease stays in the
	// store. A new runner of the same node expires it at start.
	e.r.cancel()
	e.r.loops.Wait()
	e.r.killAll(errLeaseLost) // kill its processes without recording anything
	e.r.tasks.Wait()
	if got := e.read(once.ID); got.LifeCycleState != kiln.LifeCycleRunning {
		t.Fatalf("after the silent death: %s, want still RUNNING in the store", got.LifeCycleState)
	}
	e.r = e.start()
	got := e.wait(once.ID, 10*time.Second)
	wantState(t, got, kiln.LifeCycleInternalErr, kiln.ResultFailed)
	if got.StateMessage != kiln.MsgLeaseExpired {
		t.Errorf("message: %q", got.StateMessage)
	}
}

func TestExpiredLeaseOfAnotherNodeIsSwept(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Workers = 1 })
	e.notebook("/Shared/quick", "dbutils.notebook.exit('done')\n")
	// Another node claims a task with a retry left and vanishes.
	task := nbTask("t", "/Shared/quick", nil)
	task.MaxRetries = 1
	e.r.Shutdown(context.Background())
	r := e.submit(task)
	e.update(func(tx kiln.Tx) error {
		_, _, err := tx.ClaimTask(kiln.Claim{Owner: "other-node/1", LeaseUntil: tx.Now().Add(300 * time.Millisecond)})
		return err
	})
	e.r = e.start(func(c *Config) { c.Workers = 1 })
	got := e.wait(r.ID, 30*time.Second)
	wantState(t, got, kiln.LifeCycleTerminated, kiln.ResultSuccess)
	if got.Tasks[0].Attempt != 1 {
		t.Errorf("attempt: %d, want 1 (retried after the lost lease)", got.Tasks[0].Attempt)
	}
}

func TestShutdownEndsRunningTasks(t *testing.T) {
	e := newEnv(t)
	e.notebook("/Shared/slow", "import time\ntime.sleep(60)\n")
	r := e.submit(nbTask("t", "/Shared/slow", nil))
	e.waitTask(r.ID, 30*time.Second, "the task to start", func(tr *kiln.TaskRun) bool { return tr.LifeCycleState == kiln.LifeCycleRunning })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	e.r.Shutdown(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	got := e.read(r.ID)
	wantState(t, got, kiln.LifeCycleInternalErr, kiln.ResultFailed)
	if got.StateMessage != msgShutdown {
		t.Errorf("message: %q", got.StateMessage)
	}
}

// countingStore counts write transactions.
type countingStore struct {
	kiln.Store
	updates atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(kiln.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

func TestIdleRunnerNeverWrites(t *testing.T) {
	e := newEnv(t)
	cs := &countingStore{Store: e.store}
	idle := e.start(func(c *Config) { c.Store, c.Node = cs, "idle-node" })
	defer idle.Shutdown(context.Background())
	time.Sleep(time.Second) // 20 polls and 5 sweeps
	if n := cs.updates.Load(); n != 0 {
		t.Errorf("an idle runner made %d write transactions, want 0", n)
	}
}

// readableDir is a directory that the task user may traverse and read
// (t.TempDir's parents are closed to other users).
func readableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kiln-readable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
