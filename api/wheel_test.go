package api_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/server"
)

// wheelEntry is one file of a test wheel, in the order it is stored.
type wheelEntry struct{ name, content string }

// buildWheel makes a wheel: a zip of entries, as bdist_wheel writes one
// (a RECORD listing them is added at the end).
func buildWheel(t *testing.T, entries []wheelEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	var distInfo string
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.content))
		fmt.Fprintf(&record, "%s,,\n", e.name)
		if strings.HasSuffix(e.name, ".dist-info/METADATA") {
			distInfo = strings.TrimSuffix(e.name, "METADATA")
		}
	}
	if distInfo != "" {
		w, _ := zw.Create(distInfo + "RECORD")
		fmt.Fprintf(&record, "%sRECORD,,\n", distInfo)
		w.Write([]byte(record.String()))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// distInfo are the metadata files of a wheel of package name 1.0.
func distInfo(name, entryPoints string) []wheelEntry {
	d := name + "-1.0.dist-info/"
	return []wheelEntry{
		{d + "METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: 1.0\n"},
		{d + "WHEEL", "Wheel-Version: 1.0\nGenerator: kiln-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{d + "entry_points.txt", entryPoints},
	}
}

// greetWheel is a package with console scripts, a module function and
// entry points that fail.
var greetWheel = append([]wheelEntry{
	{"greet/__init__.py", "import sys\n\ndef hello():\n    print('module function', sys.argv[1:])\n"},
	{"greet/cli.py", `import sys

def main():
    print("console script", sys.argv[1:], type(dbutils).__name__)

def boom():
    raise ValueError("bad input from the wheel")

def quit():
    print("quitting")
    sys.exit(3)
`},
}, distInfo("greet", "[console_scripts]\ngreet-cli = greet.cli:main\nboom = greet.cli:boom\nquit = greet.cli:quit\n")...)

// TestPythonWheelTask runs python_wheel_task tasks of wheels in the
// workspace and in DBFS: a console script with parameters resolved from
// job parameters, named parameters, Databricks' fallback to the
// package's function, an entry point that raises (and is retried), one
// that exits non-zero, a wheel the run's principal (run_as) may not
// read, wheels whose entries would land outside the attempt's directory,
// and a missing wheel.
func TestPythonWheelTask(t *testing.T) {
	e, admin := jobsEnv(t, func(c *server.Config) {
		c.KeepTaskDirs = runner.KeepAll
		// Ten tasks on a loaded machine: a lease of jobsEnv's 3 s can run
		// out while the executor waits for a core, and nothing here tests
		// leases.
		tuned := c.Runner
		c.Runner = func(rc *runner.Config) { tuned(rc); rc.LeaseTTL = 30 * time.Second }
	})
	e.NewUser(t, "alice@example.com", false)
	e.NewUser(t, "bob@example.com", false)
	alice := e.Token(t, "alice@example.com", 0)

	greet := buildWheel(t, greetWheel)
	ok(t, cliWrite(t, e, admin, "/Workspace/Shared/wheels/greet-1.0-py3-none-any.whl", greet, true), "workspace wheel")
	call(t, e, admin, "POST", "/api/2.0/dbfs/put", map[string]any{"path": "dbfs:/FileStore/wheels/greet-1.0-py3-none-any.whl",
		"contents": base64.StdEncoding.EncodeToString(greet), "overwrite": true})
	// Alice's home is hers: bob, whom the job runs as, may not read it.
	ok(t, cliWrite(t, e, alice, "/Users/alice@example.com/greet-1.0-py3-none-any.whl", greet, true), "alice's wheel")
	escaped := fmt.Sprintf("escaped-%d.txt", time.Now().UnixNano())
	evil := func(bad string) []byte {
		return buildWheel(t, append([]wheelEntry{{"evil/__init__.py", "def main():\n    print('ran')\n"}, {bad, "planted"}},
			distInfo("evil", "[console_scripts]\nmain = evil:main\n")...))
	}
	ok(t, cliWrite(t, e, admin, "/Shared/wheels/traversal.whl", evil("../../"+escaped), true), "traversal wheel")
	ok(t, cliWrite(t, e, admin, "/Shared/wheels/absolute.whl", evil(filepath.Join(e.DataDir, escaped)), true), "absolute wheel")

	whl := func(p string) []any { return []any{map[string]any{"whl": p}} }
	wheelTask := func(key, pkg, entry string, libs []any, extra map[string]any) map[string]any {
		wt := map[string]any{"package_name": pkg, "entry_point": entry}
		task := map[string]any{"task_key": key, "python_wheel_task": wt, "libraries": libs}
		for k, v := range extra {
			if k == "parameters" || k == "named_parameters" {
				wt[k] = v
			} else {
				task[k] = v
			}
		}
		return task
	}
	ws := whl("/Workspace/Shared/wheels/greet-1.0-py3-none-any.whl")
	job := idOf(t, call(t, e, admin, "POST", "/api/2.2/jobs/create", map[string]any{
		"name": "wheels", "run_as": map[string]any{"user_name": "bob@example.com"}, "max_concurrent_runs": 1,
		"parameters": []any{map[string]any{"name": "day", "default": "mon"}},
		"tasks": []any{
			wheelTask("console", "greet", "greet-cli", ws, map[string]any{"parameters": []any{"a", "{{job.parameters.day}}"}}),
			wheelTask("named", "greet", "greet-cli", whl("dbfs:/FileStore/wheels/greet-1.0-py3-none-any.whl"),
				map[string]any{"named_parameters": map[string]any{"name": "kiln", "day": "{{job.parameters.day}}"}}),
			wheelTask("fallback", "greet", "hello", ws, map[string]any{"parameters": []any{"x"}}),
			wheelTask("raises", "greet", "boom", ws, map[string]any{"max_retries": 1}),
			wheelTask("exits", "greet", "quit", ws, nil),
			wheelTask("unreadable", "greet", "greet-cli", whl("/Users/alice@example.com/greet-1.0-py3-none-any.whl"), nil),
			wheelTask("traversal", "evil", "main", whl("/Shared/wheels/traversal.whl"), nil),
			wheelTask("absolute", "evil", "main", whl("/Shared/wheels/absolute.whl"), nil),
			wheelTask("missing", "greet", "greet-cli", whl("dbfs:/FileStore/wheels/nope.whl"), nil),
			wheelTask("no_entry", "greet", "nope", ws, nil),
		}}), "job_id")
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.2/jobs/run-now", map[string]any{"job_id": job,
		"job_parameters": map[string]any{"day": "tue"}}), "run_id")
	run := pollRun(t, e, admin, "2.2", runID, 120*time.Second)

	want := map[string]struct {
		state   string
		logs    string // in the logs
		message string // in the state message (and the error)
	}{
		"console":    {"TERMINATED/SUCCESS", "console script ['a', 'tue'] DBUtils", ""},
		"named":      {"TERMINATED/SUCCESS", "console script ['--day=tue', '--name=kiln'] DBUtils", ""},
		"fallback":   {"TERMINATED/SUCCESS", "module function ['x']", ""},
		"raises":     {"TERMINATED/FAILED", "bad input from the wheel", ""},
		"exits":      {"TERMINATED/FAILED", "quitting", ""},
		"unreadable": {"TERMINATED/FAILED", "", "may not read it"},
		"traversal":  {"TERMINATED/FAILED", "", "would be written outside the task's directory"},
		"absolute":   {"TERMINATED/FAILED", "", "would be written outside the task's directory"},
		"missing":    {"TERMINATED/FAILED", "", "The wheel dbfs:/FileStore/wheels/nope.whl does not exist."},
		"no_entry":   {"TERMINATED/FAILED", "", "The package greet has no entry point nope in its metadata, and greet.nope is not a function."},
	}
	// runs/get lists a retried task's earlier attempts before its latest.
	latest := map[string]map[string]any{}
	tries := map[string]int{}
	for _, task := range tasksOf(t, run) {
		key := task["task_key"].(string)
		tries[key]++
		if prev := latest[key]; prev == nil || task["attempt_number"].(float64) > prev["attempt_number"].(float64) {
			latest[key] = task
		}
	}
	if len(latest) != len(want) || tries["raises"] != 2 {
		t.Fatalf("%d tasks, %d attempts of raises: %s", len(latest), tries["raises"], asJSON(run))
	}
	for key, task := range latest {
		w := want[key]
		out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.2/jobs/runs/get-output?run_id=%d", idOf(t, task, "run_id")), nil)
		st, _ := task["state"].(map[string]any)
		msg, _ := st["state_message"].(string)
		logs, _ := out["logs"].(string)
		errText, _ := out["error"].(string)
		if stateOf(task) != w.state || !strings.Contains(logs, w.logs) || !strings.Contains(msg, w.message) ||
			(w.message != "" && !strings.Contains(errText, w.message)) {
			t.Errorf("%s: %s %q; logs %q; error %q, want %s, logs with %q, message with %q", key, stateOf(task), msg, logs, errText, w.state, w.logs, w.message)
		}
		switch key {
		case "raises":
			trace, _ := out["error_trace"].(string)
			if errText != "ValueError: bad input from the wheel" || !strings.Contains(trace, "greet/cli.py") ||
				strings.Contains(trace, "kiln_runtime.py") || task["attempt_number"] != 1.0 {
				t.Errorf("raises: error %q, trace %q, attempt %v", errText, trace, task["attempt_number"])
			}
		case "exits":
			if errText != "SystemExit: 3" {
				t.Errorf("exits: error %q", errText)
			}
		}
	}

	// A wheel's dependency is another wheel of the task; run-now's
	// python_named_params replace the named parameters.
	dep := buildWheel(t, append([]wheelEntry{{"shout/__init__.py", "def shout(s):\n    return s.upper() + '!'\n"}}, distInfo("shout", "")...))
	app := buildWheel(t, append([]wheelEntry{{"app/__init__.py", "import sys\nfrom shout import shout\n\ndef main():\n    print(shout('app'), sys.argv[1:])\n"}},
		distInfo("my-app", "[console_scripts]\nrun = app:main\n")...))
	ok(t, cliWrite(t, e, admin, "/Shared/wheels/shout-1.0-py3-none-any.whl", dep, true), "dependency wheel")
	ok(t, cliWrite(t, e, admin, "/Shared/wheels/my_app-1.0-py3-none-any.whl", app, true), "app wheel")
	job = idOf(t, call(t, e, admin, "POST", "/api/2.2/jobs/create", map[string]any{"name": "deps", "tasks": []any{
		wheelTask("app", "My_App", "run", append(whl("/Shared/wheels/my_app-1.0-py3-none-any.whl"), whl("/Shared/wheels/shout-1.0-py3-none-any.whl")...),
			map[string]any{"named_parameters": map[string]any{"who": "job"}}),
	}}), "job_id")
	runID2 := idOf(t, call(t, e, admin, "POST", "/api/2.2/jobs/run-now", map[string]any{"job_id": job,
		"python_named_params": map[string]any{"who": "run-now"}}), "run_id")
	run2 := pollRun(t, e, admin, "2.2", runID2, 60*time.Second)
	appTask := tasksOf(t, run2)[0]
	out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.2/jobs/runs/get-output?run_id=%d", idOf(t, appTask, "run_id")), nil)
	if logs, _ := out["logs"].(string); stateOf(appTask) != "TERMINATED/SUCCESS" || !strings.Contains(logs, "APP! ['--who=run-now']") {
		t.Errorf("app with a dependency: %s %s", stateOf(appTask), asJSON(out))
	}
	if op, _ := run2["overriding_parameters"].(map[string]any); asJSON(op["python_named_params"]) != `{"who":"run-now"}` {
		t.Errorf("overriding_parameters: %v", run2["overriding_parameters"])
	}
	// runs/repair takes python_named_params too, as Airflow's repair
	// sends them.
	old := taskRunIDs(t, run2)["app"]
	call(t, e, admin, "POST", "/api/2.2/jobs/runs/repair", map[string]any{"run_id": runID2, "rerun_tasks": []string{"app"},
		"python_named_params": map[string]any{"who": "repair"}})
	run2 = pollRun(t, e, admin, "2.2", runID2, 60*time.Second)
	repaired := taskRunIDs(t, run2)["app"]
	out = call(t, e, admin, "GET", fmt.Sprintf("/api/2.2/jobs/runs/get-output?run_id=%d", repaired), nil)
	if logs, _ := out["logs"].(string); repaired == old || stateOf(run2) != "TERMINATED/SUCCESS" || !strings.Contains(logs, "APP! ['--who=repair']") {
		t.Errorf("app repaired with python_named_params (task run %d, was %d): %s %s", repaired, old, stateOf(run2), asJSON(out))
	}
	if op, _ := run2["overriding_parameters"].(map[string]any); asJSON(op["python_named_params"]) != `{"who":"repair"}` {
		t.Errorf("overriding_parameters after the repair: %v", run2["overriding_parameters"])
	}

	// Nothing of the hostile wheels was written: not outside the attempt
	// directories, and not even their harmless first entries inside.
	taskDir := runner.DefaultTaskDir(e.DataDir)
	for _, d := range []string{taskDir, filepath.Dir(taskDir), filepath.Dir(filepath.Dir(taskDir)), e.DataDir} {
		if _, err := os.Stat(filepath.Join(d, escaped)); err == nil {
			t.Errorf("a wheel entry was written to %s", d)
		}
	}
	attempts, _ := filepath.Glob(filepath.Join(taskDir, fmt.Sprintf("run-%d-task-*", runID)))
	if len(attempts) < len(want) {
		t.Fatalf("attempt directories: %v", attempts)
	}
	for _, a := range attempts {
		if _, err := os.Stat(filepath.Join(a, escaped)); err == nil {
			t.Errorf("a wheel entry was written to %s", a)
		}
		if _, err := os.Stat(filepath.Join(a, "site", "evil")); err == nil {
			t.Errorf("a refused wheel was partly installed in %s", a)
		}
	}
}

// TestPythonWheelTaskRefused: what kiln cannot run is a 400 when the run
// is made, naming the task.
func TestPythonWheelTaskRefused(t *testing.T) {
	e, admin := jobsEnv(t)
	for _, c := range []struct {
		name, task, msg string
	}{
		{"NoWheel", `{"package_name": "p", "entry_point": "e"}`, "needs its wheel in the task's libraries"},
		{"NoEntryPoint", `{"package_name": "p"}`, "package_name and python_wheel_task.entry_point are required"},
		{"BothParameterKinds", `{"package_name": "p", "entry_point": "e", "parameters": ["a"], "named_parameters": {"b": "c"}}`, "parameters or named_parameters, not both"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.Do(t, "POST", "/api/2.2/jobs/runs/submit", admin,
				`{"run_name": "w", "tasks": [{"task_key": "w", "python_wheel_task": `+c.task+`}]}`), 400, "INVALID_PARAMETER_VALUE", c.msg)
		})
	}
	wantError(t, e.Do(t, "POST", "/api/2.2/jobs/runs/submit", admin, `{"run_name": "w", "tasks": [{"task_key": "w",
		"python_wheel_task": {"package_name": "p", "entry_point": "e"}, "libraries": [{"whl": "s3://bucket/p.whl"}]}]}`),
		400, "INVALID_PARAMETER_VALUE", "give a workspace path (/Workspace/…) or dbfs:/…")
}
