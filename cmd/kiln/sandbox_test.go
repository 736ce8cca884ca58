package main_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/beacon"
)

// hostileEnv is a real `kiln serve` with the real executor on a relative
// data directory, the admin's password in its environment as operators
// pass it, and a non-admin user's token.
type hostileEnv struct {
	p        *proc
	dataDir  string // absolute
	token    string // mallory's: an ordinary user
	user     string
	password string
}

const hostilePassword = "admin-password-never-leaks-42"

func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required: %v", err)
	}
	work := t.TempDir()
	// A relative data directory, as the README's quick start uses: every
	// path the runner hands a task must be absolute by then.
	p := serveIn(t, work, "kiln-data", "KILN_ADMIN_PASSWORD="+hostilePassword)
	e := &hostileEnv{p: p, dataDir: filepath.Join(work, "kiln-data"), user: "mallory@example.com", password: hostilePassword}
	admin(t, e.dataDir, "", "conf", "set", "enableTokensConfig=true")
	if _, stderr, code := admin(t, e.dataDir, "mallory-password-1234", "users", "create", "--email", e.user, "--password-stdin"); code != 0 {
		t.Fatalf("users create: %s", stderr)
	}
	tok, stderr, code := admin(t, e.dataDir, "", "tokens", "create", "--user", e.user)
	if code != 0 {
		t.Fatalf("tokens create: %s", stderr)
	}
	e.token = strings.TrimSpace(tok)
	within(t, 2*time.Second, "mallory's token works", func() bool { return status(t, p.url, e.token) == 200 })
	return e
}

// submit imports src as a notebook in mallory's home and runs it.
func (e *hostileEnv) submit(t *testing.T, name, src string) (runID string) {
	t.Helper()
	path := "/Users/" + e.user + "/" + name
	api(t, e.p.url, e.token, "POST", "/api/2.0/workspace/import", map[string]any{"path": path, "format": "SOURCE",
		"language": "PYTHON", "overwrite": true, "content": base64.StdEncoding.EncodeToString([]byte(src))})
	return e.submitTask(t, name, map[string]any{"notebook_task": map[string]any{"notebook_path": path}})
}

// submitTask submits a run of the one task task (its task_key added) as
// mallory.
func (e *hostileEnv) submitTask(t *testing.T, name string, task map[string]any) (runID string) {
	t.Helper()
	task["task_key"] = "t"
	sub := api(t, e.p.url, e.token, "POST", "/api/2.1/jobs/runs/submit", map[string]any{"run_name": name, "tasks": []any{task}})
	return strconv.FormatInt(int64(sub["run_id"].(float64)), 10)
}

// run submits src and returns the finished run's state and its output.
func (e *hostileEnv) run(t *testing.T, name, src string) (state map[string]any, output map[string]any) {
	t.Helper()
	return e.wait(t, name, e.submit(t, name, src))
}

// runWheel uploads whl to mallory's DBFS folder and runs its package's
// entry point main as a python_wheel_task.
func (e *hostileEnv) runWheel(t *testing.T, name string, whl []byte, pkg string) (state map[string]any, output map[string]any) {
	t.Helper()
	p := "dbfs:/FileStore/mallory/" + name + "-1.0-py3-none-any.whl"
	api(t, e.p.url, e.token, "POST", "/api/2.0/dbfs/put", map[string]any{"path": p, "overwrite": true,
		"contents": base64.StdEncoding.EncodeToString(whl)})
	return e.wait(t, name, e.submitTask(t, name, map[string]any{
		"python_wheel_task": map[string]any{"package_name": pkg, "entry_point": "main"},
		"libraries":         []any{map[string]any{"whl": p}}}))
}

// wait waits for the run runID to end and returns its state and output.
func (e *hostileEnv) wait(t *testing.T, name, runID string) (state map[string]any, output map[string]any) {
	t.Helper()
	var run map[string]any
	within(t, 60*time.Second, "run "+name+" ends", func() bool {
		run = api(t, e.p.url, e.token, "GET", "/api/2.1/jobs/runs/get?run_id="+runID, nil)
		lc := run["state"].(map[string]any)["life_cycle_state"]
		return lc == "TERMINATED" || lc == "INTERNAL_ERROR" || lc == "SKIPPED"
	})
	taskID := strconv.FormatInt(int64(run["tasks"].([]any)[0].(map[string]any)["run_id"].(float64)), 10)
	return run["state"].(map[string]any), api(t, e.p.url, e.token, "GET", "/api/2.1/jobs/runs/get-output?run_id="+taskID, nil)
}

// probe is Python that tries one escape. It must end with
// dbutils.notebook.exit("blocked: …") when every attempt failed, and
// "ESCAPED: …" when one worked.
const probePrelude = `import os, sys, subprocess
def blocked(what, fn):
    try:
        got = fn()
    except (PermissionError, FileNotFoundError, ProcessLookupError, OSError) as e:
        return "%s: %s" % (what, type(e).__name__)
    dbutils.notebook.exit("ESCAPED: %s gave %r" % (what, str(got)[:200]))
`

// TestHostileNotebooksCannotEscape runs, as an ordinary user, one
// notebook per escape route that gave a task admin rights before the
// sandbox, and asserts that each attempt fails.
func TestHostileNotebooksCannotEscape(t *testing.T) {
	e := newHostileEnv(t)
	serverPID := e.p.cmd.Process.Pid
	d := e.dataDir
	cases := []struct {
		name string
		code string
	}{
		{"KeysAndDatabaseByPath", fmt.Sprintf(`r = [blocked(f, lambda f=f: open(os.path.join(%q, f), "rb").read(16)) for f in ("token.key", "secrets.key", "kiln.db", "kiln.db-wal")]`, d)},
		{"KeysByRelativePath", `r = [blocked(p, lambda p=p: open(p, "rb").read(16)) for p in ["/".join([".."] * k + ["kiln-data", "token.key"]) for k in range(0, 9)] + ["/".join([".."] * k + ["token.key"]) for k in range(0, 9)]]`},
		{"ForgeRowsWithSQLite", fmt.Sprintf(`import sqlite3
def forge():
    try:
        c = sqlite3.connect("file:%s?mode=rw", uri=True)
        c.execute("INSERT INTO group_members SELECT 1, 1")
        c.commit()
    except sqlite3.OperationalError as e:
        raise PermissionError(str(e))
r = [blocked("sqlite", forge)]`, filepath.Join(d, "kiln.db"))},
		{"ServerCwdThroughProc", fmt.Sprintf(`r = [blocked(p, lambda p=p: os.listdir(p)) for p in ("/proc/%d/cwd", "/proc/%d/root/%s", "/proc/%d/cwd/kiln-data")]`, serverPID, serverPID, strings.TrimPrefix(d, "/"), serverPID)},
		{"DataDirFromCmdline", `r = [blocked("/proc", lambda: [open("/proc/%s/cmdline" % p).read() for p in os.listdir("/proc") if p.isdigit()])]`},
		{"ServerEnviron", fmt.Sprintf(`r = [blocked("environ", lambda: open("/proc/%d/environ").read()), "env: " + ("leak" if any("KILN" in k and "PASSWORD" in k for k in os.environ) else "clean")]
if "leak" in r[-1]: dbutils.notebook.exit("ESCAPED: the password is in the task's environment")`, serverPID)},
		{"KilnAdminCommands", fmt.Sprintf(`r = [blocked(b, lambda b=b: subprocess.run([b, "admin", "--data-dir", %q, "tokens", "create", "--user", "admin@kiln.local"], capture_output=True, check=True).stdout) for b in (%q, "/proc/%d/exe")]`, d, kilnBin, serverPID)},
		{"SignalTheServer", fmt.Sprintf(`import signal
r = [blocked("kill", lambda: os.kill(%d, signal.SIGKILL))]`, serverPID)},
		{"WriteIntoTheDataDir", fmt.Sprintf(`r = [blocked("write", lambda: open(os.path.join(%q, "planted"), "w").write("x"))]`, d)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			state, out := e.run(t, "probe-"+strings.ToLower(c.name), probePrelude+c.code+"\ndbutils.notebook.exit(\"blocked: \" + \"; \".join(r))\n")
			result, _ := out["notebook_output"].(map[string]any)["result"].(string)
			if state["result_state"] != "SUCCESS" || !strings.HasPrefix(result, "blocked: ") {
				t.Fatalf("state %v, result %q, error %v", state, result, out["error"])
			}
			t.Log(result)
		})
	}
	t.Run("ShellCellIsConfined", func(t *testing.T) {
		// A %sh cell is a child of the sandboxed runtime: the same rules
		// hold for it, and its failure fails the task.
		state, out := e.run(t, "probe-shell", fmt.Sprintf("# Databricks notebook source\n# MAGIC %%sh\n# MAGIC cat %s/token.key && echo LEAKED\n", d))
		errMsg, _ := out["error"].(string)
		logs, _ := out["logs"].(string)
		if state["result_state"] != "FAILED" || !strings.Contains(errMsg, "the %sh command exited with status 1") {
			t.Fatalf("state %v, error %q, logs %q", state, errMsg, logs)
		}
		if strings.Contains(logs, "LEAKED") || !strings.Contains(logs, "Permission denied") {
			t.Fatalf("logs %q: want cat refused and nothing after it", logs)
		}
	})
	t.Run("WheelCode", func(t *testing.T) {
		// A wheel's code runs in the same sandbox as a notebook's: its
		// module, imported from the attempt's own site directory, cannot
		// read the server's keys or write into the data directory.
		code := fmt.Sprintf(`import os, sys
def blocked(what, fn):
    try:
        got = fn()
    except (PermissionError, FileNotFoundError, OSError) as e:
        return "%%s: %%s" %% (what, type(e).__name__)
    print("ESCAPED: %%s gave %%r" %% (what, str(got)[:200]))
    sys.exit(1)

def main():
    d = %q
    r = [blocked(f, lambda f=f: open(os.path.join(d, f), "rb").read(16)) for f in ("token.key", "secrets.key", "kiln.db")]
    r.append(blocked("write", lambda: open(os.path.join(d, "planted-by-wheel"), "w").write("x")))
    print("blocked: " + "; ".join(r))
`, d)
		state, out := e.runWheel(t, "probewheel", hostileWheel(t, "probewheel", code, ""), "probewheel")
		logs, _ := out["logs"].(string)
		if state["result_state"] != "SUCCESS" || !strings.Contains(logs, "blocked: token.key: ") || strings.Contains(logs, "ESCAPED") {
			t.Fatalf("state %v, logs %q, error %v", state, logs, out["error"])
		}
		t.Log(logs)
	})
	t.Run("WheelEntryIntoTheDataDir", func(t *testing.T) {
		// An entry named with the data directory's absolute path is
		// refused before anything of the wheel is unpacked.
		state, out := e.runWheel(t, "plantwheel", hostileWheel(t, "plantwheel", "def main():\n    print('ran')\n", filepath.Join(d, "planted-by-entry")), "plantwheel")
		msg, _ := state["state_message"].(string)
		if state["result_state"] != "FAILED" || !strings.Contains(msg, "outside the task's directory") {
			t.Fatalf("state %v, error %v", state, out["error"])
		}
	})
	t.Run("ServerStillHealthy", func(t *testing.T) {
		if status(t, e.p.url, e.token) != 200 {
			t.Fatal("the server stopped answering")
		}
		for _, f := range []string{"planted", "planted-by-wheel", "planted-by-entry"} {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				t.Fatalf("a task planted %s in the data directory", f)
			}
		}
	})
	t.Run("PasswordGoneFromServerEnviron", func(t *testing.T) {
		// Read as root, who may: even then the value is gone.
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", serverPID))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), e.password) {
			t.Fatal("the admin password is still in the server's /proc environ")
		}
	})
	t.Run("OtherAttemptsDirectory", func(t *testing.T) {
		// One run keeps a private file in its directory while the next
		// tries to read it, by name.
		b := beacon.New(t)
		e.submit(t, "keeper", fmt.Sprintf(`import os, time
open("private.txt", "w").write("mine")
%s
time.sleep(30)`, b.Python(`os.path.abspath("private.txt")`)))
		c := b.Next(t, 30*time.Second)
		state, out := e.run(t, "snoop", probePrelude+fmt.Sprintf(`r = [blocked("file", lambda: open(%q).read()), blocked("dir", lambda: os.listdir(os.path.dirname(%q))), blocked("parent", lambda: os.listdir(os.path.dirname(os.path.dirname(%q))))]
dbutils.notebook.exit("blocked: " + "; ".join(r))`, c.Message, c.Message, c.Message))
		result, _ := out["notebook_output"].(map[string]any)["result"].(string)
		if state["result_state"] != "SUCCESS" || !strings.HasPrefix(result, "blocked: ") {
			t.Fatalf("state %v, result %q, error %v", state, result, out["error"])
		}
	})
	t.Run("DetachedProcessDiesWithTheRun", func(t *testing.T) {
		b := beacon.New(t)
		child := "import time\n" + b.Python(`"detached"`) + "\ntime.sleep(300)"
		state, _ := e.run(t, "detach", fmt.Sprintf(`import subprocess, sys
subprocess.Popen(["setsid", sys.executable, "-c", %q], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
import time
time.sleep(1)
dbutils.notebook.exit("left a detached child")`, child))
		if state["result_state"] != "SUCCESS" {
			t.Fatalf("state %v", state)
		}
		c := b.Next(t, 10*time.Second)
		took := c.WaitClosed(t, 10*time.Second)
		t.Logf("the detached child was gone %v after it reported", took)
	})
}

// hostileWheel is a wheel of package pkg whose module is code, with an
// entry point main, and an extra entry named extra (none when "").
func hostileWheel(t *testing.T, pkg, code, extra string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	d := pkg + "-1.0.dist-info/"
	files := [][2]string{{pkg + "/__init__.py", code}, {d + "METADATA", "Metadata-Version: 2.1\nName: " + pkg + "\nVersion: 1.0\n"},
		{d + "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{d + "entry_points.txt", "[console_scripts]\nmain = " + pkg + ":main\n"}, {d + "RECORD", ""}}
	if extra != "" {
		files = append(files, [2]string{extra, "planted"})
	}
	for _, f := range files {
		w, err := zw.Create(f[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOrdinaryTasksUnderTheSandbox: on a relative data directory, as an
// ordinary user, every kind of task still works confined: a notebook
// with widgets, %run and an exit value, a workspace Python file, a DBFS
// Python file, and a secret the user was granted READ on, whose value
// appears in no answer and no file.
func TestOrdinaryTasksUnderTheSandbox(t *testing.T) {
	e := newHostileEnv(t)
	adminTok, stderr, code := admin(t, e.dataDir, "", "tokens", "create", "--user", "admin@kiln.local")
	if code != 0 {
		t.Fatalf("admin token: %s", stderr)
	}
	adminTok = strings.TrimSpace(adminTok)
	const value = "sandboxed-secret-value-93"
	for _, c := range []struct {
		path string
		body map[string]any
	}{
		{"/api/2.0/secrets/scopes/create", map[string]any{"scope": "team"}},
		{"/api/2.0/secrets/put", map[string]any{"scope": "team", "key": "pw", "string_value": value}},
		{"/api/2.0/secrets/acls/put", map[string]any{"scope": "team", "principal": e.user, "permission": "READ"}},
	} {
		api(t, e.p.url, adminTok, "POST", c.path, c.body)
	}
	home := "/Users/" + e.user
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	api(t, e.p.url, e.token, "POST", "/api/2.0/workspace/import", map[string]any{"path": home + "/lib", "format": "SOURCE",
		"language": "PYTHON", "overwrite": true, "content": b64("def twice(x):\n    return 2 * x\n")})
	api(t, e.p.url, e.token, "POST", "/api/2.0/workspace/import", map[string]any{"path": home + "/main", "format": "SOURCE", "language": "PYTHON", "overwrite": true,
		"content": b64("# Databricks notebook source\n# MAGIC %run ./lib\n\n# COMMAND ----------\n\n" +
			"dbutils.widgets.text('n', '1')\nv = dbutils.secrets.get('team', 'pw')\nprint('secret', v)\n" +
			"dbutils.notebook.exit('twice %s; secret %s' % (twice(int(dbutils.widgets.get('n'))), v))\n")})
	api(t, e.p.url, e.token, "POST", "/api/2.0/workspace/import", map[string]any{"path": home + "/shell", "format": "SOURCE", "language": "PYTHON", "overwrite": true,
		"content": b64("# Databricks notebook source\nprint('python first', flush=True)\n\n# COMMAND ----------\n\n# MAGIC %sh\n# MAGIC echo \"shell $((6 * 7)) in $(basename \"$PWD\")\"\n")})
	api(t, e.p.url, e.token, "POST", "/api/2.0/workspace/import", map[string]any{"path": home + "/job.py", "format": "RAW", "overwrite": true,
		"content": b64("import sys\nprint('workspace file', sys.argv[1:])\n")})
	api(t, e.p.url, e.token, "POST", "/api/2.0/dbfs/put", map[string]any{"path": "/FileStore/mallory/job.py", "overwrite": true,
		"contents": b64("import sys\nprint('dbfs file', sys.argv[1:])\n")})
	for _, c := range []struct {
		name   string
		task   map[string]any
		result string // notebook result, or a line of the logs
	}{
		{"Notebook", map[string]any{"notebook_task": map[string]any{"notebook_path": home + "/main", "base_parameters": map[string]any{"n": "21"}}}, "twice 42; secret [REDACTED]"},
		{"WorkspaceFile", map[string]any{"spark_python_task": map[string]any{"python_file": home + "/job.py", "parameters": []any{"a"}}}, "workspace file ['a']"},
		{"ShellCell", map[string]any{"notebook_task": map[string]any{"notebook_path": home + "/shell"}}, "shell 42 in "},
		{"DBFSFile", map[string]any{"spark_python_task": map[string]any{"python_file": "dbfs:/FileStore/mallory/job.py", "parameters": []any{"b"}}}, "dbfs file ['b']"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.task["task_key"] = "t"
			sub := api(t, e.p.url, e.token, "POST", "/api/2.1/jobs/runs/submit", map[string]any{"run_name": c.name, "tasks": []any{c.task}})
			runID := strconv.FormatInt(int64(sub["run_id"].(float64)), 10)
			var run map[string]any
			within(t, 60*time.Second, "the run ends", func() bool {
				run = api(t, e.p.url, e.token, "GET", "/api/2.1/jobs/runs/get?run_id="+runID, nil)
				return run["state"].(map[string]any)["life_cycle_state"] == "TERMINATED"
			})
			taskID := strconv.FormatInt(int64(run["tasks"].([]any)[0].(map[string]any)["run_id"].(float64)), 10)
			out := api(t, e.p.url, e.token, "GET", "/api/2.1/jobs/runs/get-output?run_id="+taskID, nil)
			nb, _ := out["notebook_output"].(map[string]any)
			result, _ := nb["result"].(string)
			logs, _ := out["logs"].(string)
			if run["state"].(map[string]any)["result_state"] != "SUCCESS" || (result != c.result && !strings.Contains(logs, c.result)) {
				t.Fatalf("state %v, result %q, logs %q, error %v", run["state"], result, logs, out["error"])
			}
			if b, _ := json.Marshal(out); strings.Contains(string(b), value) {
				t.Fatalf("get-output carries the secret value: %s", b)
			}
		})
	}
	filepath.WalkDir(e.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if b, _ := os.ReadFile(p); strings.Contains(string(b), value) {
			t.Errorf("%s holds the secret value in plaintext", p)
		}
		return nil
	})
}
