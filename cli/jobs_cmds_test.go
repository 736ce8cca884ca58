package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/cli"
	"github.com/kiln-dev/kiln/internal/beacon"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
)

// newJobsFixture is newFixture with an executor tuned for tests (short
// polls and grace periods, a short shutdown), both profiles configured
// (DEFAULT: the admin, jane), and python3 required: the runs are real.
func newJobsFixture(t *testing.T) *fixture {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required for the jobs tests: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(),
		AdminEmail: adminEmail, AdminPassword: "correct horse battery staple",
		ShutdownTimeout: 3 * time.Second,
		Runner: func(rc *runner.Config) {
			rc.PollInterval, rc.SweepInterval, rc.KillGrace = 50*time.Millisecond, 200*time.Millisecond, 500*time.Millisecond
		},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	f := &fixture{url: srv.URL(), srv: srv, home: t.TempDir(),
		offline: kiln.NewContextWithCaller(context.Background(), service.OfflineCaller())}
	if err := srv.Service.SetConf(f.offline, map[string]string{kiln.ConfEnableTokens: "true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Service.CreatePrincipal(f.offline, service.NewPrincipal{Kind: kiln.KindUser, UserName: janeEmail, DisplayName: "Jane"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Service.SetTokenPermissions(f.offline, []kiln.ACLEntry{{GroupName: kiln.GroupUsers, Level: kiln.LevelCanUse}}, false); err != nil {
		t.Fatal(err)
	}
	f.admin = f.mint(t, adminEmail, nil, "admin")
	f.jane = f.mint(t, janeEmail, nil, "jane")
	f.configure(t, "DEFAULT", f.admin)
	f.configure(t, "jane", f.jane)
	return f
}

// etlNotebook declares widgets (one with a default) and exits with JSON.
const etlNotebook = `# Databricks notebook source
dbutils.widgets.text("day", "never")
dbutils.widgets.text("env", "dev")
print("processing", dbutils.widgets.get("day"))

# COMMAND ----------

# MAGIC %md
# MAGIC Exit with a summary.

# COMMAND ----------

import json
dbutils.notebook.exit(json.dumps({"day": dbutils.widgets.get("day"), "env": dbutils.widgets.get("env")}))
`

// badNotebook fails in its second cell.
const badNotebook = `print("about to fail")

# COMMAND ----------

1/0
`

// writeFile writes a local file in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runIDRE is the bare id a command prints on a pipe.
var runIDRE = regexp.MustCompile(`^([0-9]+)\n$`)

// idFrom reads the bare id a command printed on standard output.
func idFrom(t *testing.T, r result) string {
	t.Helper()
	m := runIDRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout is not a bare id:\n%v", r)
	}
	return m[1]
}

// jsonOf decodes a command's JSON output.
func jsonOf(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not the JSON expected: %v\n%v", err, r)
	}
}

// runFails runs a command that must exit code, with want on standard
// error and a last line "Error: …" (progress lines may come before).
func runFails(t *testing.T, home string, code int, want []string, args ...string) result {
	t.Helper()
	r := run(t, home, nil, "", args...)
	if r.code != code {
		t.Fatalf("kiln %s: want exit %d, got %v", strings.Join(args, " "), code, r)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Error: ") {
		t.Errorf("kiln %s: the last line of stderr must be the error:\n%v", strings.Join(args, " "), r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("kiln %s: stderr lacks %q\n%v", strings.Join(args, " "), w, r)
		}
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("stack trace on stderr\n%v", r)
	}
	return r
}

// waitState polls `kiln runs get` until the run's life cycle is state.
func waitState(t *testing.T, home, id, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var run struct {
			State struct {
				LifeCycleState string `json:"life_cycle_state"`
			} `json:"state"`
		}
		r := check{args: []string{"runs", "get", id, "-o", "json"}, json: true}.run(t, home)
		jsonOf(t, r, &run)
		if run.State.LifeCycleState == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never reached %s: %s", id, state, r.stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkProgress checks the plain (not a terminal) progress of --wait: one
// line per state change, no spinner.
func checkProgress(t *testing.T, r result, id string, final string) {
	t.Helper()
	if strings.ContainsAny(r.stderr, "\r⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") {
		t.Errorf("a spinner on a pipe:\n%q", r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Errorf("line %q repeated: one line per state change\n%v", l, r)
		}
		seen[l] = true
	}
	if !strings.HasPrefix(lines[0], "Run "+id+": http://") {
		t.Errorf("the first line should link the run:\n%v", r)
	}
	if !regexp.MustCompile(`(?m)^Run ` + id + `: ` + final + ` \(\d+s\)$`).MatchString(r.stderr) {
		t.Errorf("no line for the final state %s:\n%v", final, r)
	}
}

func TestWorkspaceCommands(t *testing.T) {
	f := newJobsFixture(t)
	home := f.home
	dir := t.TempDir()
	etl := writeFile(t, dir, "etl.py", strings.TrimPrefix(etlNotebook, "# Databricks notebook source\n"))
	script := writeFile(t, dir, "job.py", "import sys\nprint('args:', sys.argv[1:])\n")
	existing := writeFile(t, dir, "exists.txt", "keep me")

	runChecks(t, home, []check{
		{name: "import a notebook", args: []string{"workspace", "import", etl, "/Shared/etl"},
			quiet: true, stderr: []string{"Imported " + etl + " as /Shared/etl (PYTHON notebook)."}},
		{name: "import over an existing one", args: []string{"workspace", "import", etl, "/Shared/etl"},
			code: cli.ExitError, stderr: []string{"Error: /Shared/etl already exists: add --overwrite to replace it"}},
		{name: "import --overwrite json", args: []string{"workspace", "import", etl, "/Shared/etl", "--overwrite", "-o", "json"},
			json: true, stdout: []string{`"object_type": "NOTEBOOK"`, `"path": "/Shared/etl"`, `"language": "PYTHON"`}},
		{name: "mkdirs", args: []string{"workspace", "mkdirs", "/Shared/jobs/daily"}, quiet: true, stderr: []string{"Folder /Shared/jobs/daily is ready."}},
		{name: "mkdirs json", args: []string{"workspace", "mkdirs", "/Shared/jobs", "-o", "json"}, json: true, stdout: []string{`"created": true`}},
		{name: "import a script as a file", args: []string{"workspace", "import", script, "/Shared/jobs/job.py", "--format", "raw"},
			quiet: true, stderr: []string{`re:as /Shared/jobs/job\.py \(file, \d+ bytes\)\.`}},
		{name: "import into a folder keeps the name", args: []string{"workspace", "import", etl, "/Shared/jobs/daily/"},
			quiet: true, stderr: []string{"as /Shared/jobs/daily/etl (PYTHON notebook)."}},
		{name: "import standard input", args: []string{"workspace", "import", "-", "/Shared/q", "--language", "sql"}, stdin: "SELECT 1",
			quiet: true, stderr: []string{"Imported standard input as /Shared/q (SQL notebook)."}},
		{name: "import a missing local file", args: []string{"workspace", "import", filepath.Join(dir, "nope.py"), "/Shared/x"},
			code: cli.ExitUsage, stderr: []string{"cannot read " + filepath.Join(dir, "nope.py") + ": no such file or directory"}},
		{name: "import into a missing folder", args: []string{"workspace", "import", etl, "/Shared/nodir/etl"},
			code: cli.ExitNotFound, stderr: []string{"The parent folder (/Shared/nodir) does not exist; create it with kiln workspace mkdirs /Shared/nodir"}},
		{name: "import with a bad language", args: []string{"workspace", "import", etl, "/Shared/x", "--language", "cobol"},
			code: cli.ExitError, stderr: []string{`Invalid language "COBOL"`}},
		{name: "import without arguments", args: []string{"workspace", "import", etl}, code: cli.ExitUsage, stderr: []string{"takes LOCAL_FILE and WORKSPACE_PATH"}},

		{name: "list", args: []string{"workspace", "list", "/Shared"},
			stdout: []string{"TYPE", "PATH", "LANGUAGE", "MODIFIED", "re:NOTEBOOK +/Shared/etl +PYTHON +\\d+ +(just now|\\d+ seconds? ago)", "re:DIRECTORY +/Shared/jobs +- +-", "/Shared/q"}},
		{name: "list json", args: []string{"workspace", "list", "/Shared/jobs", "-o", "json"}, json: true,
			stdout: []string{`"object_type": "FILE"`, `"path": "/Shared/jobs/job.py"`, `"object_type": "DIRECTORY"`}},
		{name: "list the root", args: []string{"workspace", "ls"}, stdout: []string{"/Shared", "/Users"}},
		{name: "list a missing folder", args: []string{"workspace", "list", "/Shared/nope"},
			code: cli.ExitNotFound, stderr: []string{"Error: Path (/Shared/nope) doesn't exist."}},

		{name: "export to stdout", args: []string{"workspace", "export", "/Shared/etl"},
			stdout: []string{"# Databricks notebook source\ndbutils.widgets.text(\"day\", \"never\")", "dbutils.notebook.exit("}},
		{name: "export a file", args: []string{"workspace", "export", "/Shared/jobs/job.py"}, stdout: []string{"import sys\nprint('args:', sys.argv[1:])\n"}},
		{name: "export jupyter to a file", args: []string{"workspace", "export", "/Shared/etl", "--format", "JUPYTER", "--file", filepath.Join(dir, "etl.ipynb")},
			quiet: true, stderr: []string{"Exported /Shared/etl to " + filepath.Join(dir, "etl.ipynb")}},
		{name: "import the jupyter export", args: []string{"workspace", "import", filepath.Join(dir, "etl.ipynb"), "/Shared/jobs/"},
			quiet: true, stderr: []string{"as /Shared/jobs/etl (PYTHON notebook)"}},
		{name: "export json", args: []string{"workspace", "export", "/Shared/etl", "-o", "json"}, json: true,
			stdout: []string{`"file_type": "py"`, `"content": "IyBEYXRhYnJpY2tzIG5vdGVib29rIHNvdXJjZQ`}},
		{name: "export over a local file", args: []string{"workspace", "export", "/Shared/etl", "--file", existing},
			code: cli.ExitUsage, stderr: []string{existing + " exists: add --overwrite to replace it"}},
		{name: "export a missing path", args: []string{"workspace", "export", "/Shared/nope"},
			code: cli.ExitNotFound, stderr: []string{"Error: Path (/Shared/nope) doesn't exist."}},

		{name: "delete a folder that is not empty", args: []string{"workspace", "delete", "/Shared/jobs"},
			code: cli.ExitError, stderr: []string{"/Shared/jobs is a folder that is not empty: add --recursive"}},
		{name: "delete a notebook", args: []string{"workspace", "delete", "/Shared/q"}, quiet: true, stderr: []string{"Deleted /Shared/q."}},
		{name: "delete recursively json", args: []string{"workspace", "rm", "/Shared/jobs", "-r", "-o", "json"}, json: true, stdout: []string{`"deleted": true`}},
		{name: "delete a missing path", args: []string{"workspace", "delete", "/Shared/jobs"},
			code: cli.ExitNotFound, stderr: []string{"Error: Path (/Shared/jobs) doesn't exist."}},
		{name: "delete /Shared", args: []string{"workspace", "delete", "/Shared"}, code: cli.ExitPermission, stderr: []string{"cannot be deleted"}},

		// jane writes to /Shared and her home, not to the admin's.
		{name: "non-admin import into /Shared", args: []string{"workspace", "import", etl, "/Shared/jane-etl", "-p", "jane"},
			quiet: true, stderr: []string{"as /Shared/jane-etl"}},
		{name: "non-admin import into another home", args: []string{"workspace", "import", etl, "/Users/" + adminEmail + "/etl", "-p", "jane"},
			code: cli.ExitPermission, stderr: []string{"permission denied: You do not have permission to write to /Users/" + adminEmail + "/etl."}},
	})
	if b, err := os.ReadFile(existing); err != nil || string(b) != "keep me" {
		t.Errorf("export replaced a local file without --overwrite: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "etl.ipynb")); err != nil || !json.Valid(b) || !bytes.Contains(b, []byte(`"cells"`)) {
		t.Errorf("the Jupyter export is not a notebook: %v\n%s", err, b)
	}
}

func TestJobsAndRuns(t *testing.T) {
	f := newJobsFixture(t)
	home := f.home
	dir := t.TempDir()
	runChecks(t, home, []check{
		{name: "import etl", args: []string{"workspace", "import", writeFile(t, dir, "etl.py", etlNotebook), "/Shared/etl"}, quiet: true},
		{name: "import bad", args: []string{"workspace", "import", writeFile(t, dir, "bad.py", badNotebook), "/Shared/bad"}, quiet: true},
		{name: "import a script", args: []string{"workspace", "import", writeFile(t, dir, "job.py", "import sys\nprint('args:', sys.argv[1:])\n"), "/Shared/job.py", "--format", "RAW"}, quiet: true},
	})

	// A notebook submitted with widget values, waited for.
	sub := check{args: []string{"runs", "submit", "--notebook", "/Shared/etl", "--param", "day=2024-01-02", "--wait"},
		stderr: []string{"succeeded in"}}.run(t, home)
	runID := idFrom(t, sub)
	checkProgress(t, sub, runID, "TERMINATED SUCCESS")

	var run struct {
		RunID int64  `json:"run_id"`
		Name  string `json:"run_name"`
		Tasks []struct {
			RunID   int64  `json:"run_id"`
			TaskKey string `json:"task_key"`
		} `json:"tasks"`
	}
	jsonOf(t, check{args: []string{"runs", "get", runID, "-o", "json"}, json: true}.run(t, home), &run)
	if strconv.FormatInt(run.RunID, 10) != runID || len(run.Tasks) != 1 || run.Tasks[0].TaskKey != "etl" || run.Name != "kiln runs submit /Shared/etl" {
		t.Fatalf("runs get: %+v", run)
	}
	taskRunID := strconv.FormatInt(run.Tasks[0].RunID, 10)

	// Without --wait: the id alone, on a pipe.
	quick := check{args: []string{"runs", "submit", "--notebook", "/Shared/etl", "--run-name", "quick"}, stderr: []string{"Started run"}}.run(t, home)
	quickID := idFrom(t, quick)

	runChecks(t, home, []check{
		{name: "runs output", args: []string{"runs", "output", runID}, stdout: []string{`re:^\{"day": "2024-01-02", "env": "dev"\}\n$`}},
		{name: "runs output of the task run", args: []string{"runs", "output", taskRunID}, stdout: []string{`{"day": "2024-01-02", "env": "dev"}`}},
		{name: "runs output json", args: []string{"runs", "output", runID, "-o", "json"}, json: true,
			stdout: []string{`"result": "{\"day\": \"2024-01-02\", \"env\": \"dev\"}"`, `"logs": "processing 2024-01-02\n"`, `"life_cycle_state": "TERMINATED"`}},
		{name: "runs logs", args: []string{"runs", "logs", runID}, stdout: []string{"re:^processing 2024-01-02\n$"}},
		{name: "runs logs --follow of an ended run", args: []string{"runs", "logs", runID, "--follow"}, stdout: []string{"re:^processing 2024-01-02\n$"},
			stderr: []string{"Run " + runID + " ended: TERMINATED SUCCESS"}},
		{name: "runs get", args: []string{"runs", "get", runID},
			stdout: []string{"Run ID:", runID, "Name:", "kiln runs submit /Shared/etl", "State:", "TERMINATED SUCCESS", "Type:", "SUBMIT_RUN",
				"Started:", "URL:", f.url + "/jobs/", "TASK", "TASK RUN ID", "re:etl +" + taskRunID + " +TERMINATED SUCCESS +0 +\\d+(ms|s) +notebook /Shared/etl"}},
		{name: "runs get of a task run", args: []string{"runs", "get", taskRunID}, stdout: []string{"Parent run:", runID, "Task:", "etl"}},
		{name: "runs get json", args: []string{"runs", "get", runID, "-o", "json"}, json: true,
			stdout: []string{`"run_page_url": "` + f.url, `"base_parameters": {`, `"day": "2024-01-02"`}},
		{name: "runs list", args: []string{"runs", "list"},
			stdout: []string{"RUN ID", "JOB ID", "NAME", "STATE", "STARTED", "DURATION", "re:" + runID + " +\\d+ +kiln runs submit /Shared/etl +SUBMIT_RUN +TERMINATED SUCCESS +(just now|\\d+ seconds? ago)", quickID}},
		{name: "runs list json", args: []string{"runs", "list", "--limit", "1", "-o", "json"}, json: true, stdout: []string{`"run_id": ` + quickID}},
		{name: "runs list completed", args: []string{"runs", "list", "--completed-only", "--active-only"}, code: cli.ExitUsage, stderr: []string{"not both"}},

		// A Python file with arguments after --.
		{name: "submit a python file", args: []string{"runs", "submit", "--python-file", "/Shared/job.py", "--wait", "--", "--day", "2024-01-02"},
			stdout: []string{`re:^\d+\n$`}, stderr: []string{"TERMINATED SUCCESS", "succeeded in"}},
	})

	t.Run("python file logs", func(t *testing.T) {
		var runs []struct {
			RunID int64 `json:"run_id"`
		}
		jsonOf(t, check{args: []string{"runs", "list", "--limit", "1", "-o", "json"}, json: true}.run(t, home), &runs)
		check{args: []string{"runs", "logs", strconv.FormatInt(runs[0].RunID, 10)}, stdout: []string{"args: ['--day', '2024-01-02']"}}.run(t, home)
		check{args: []string{"runs", "output", strconv.FormatInt(runs[0].RunID, 10)}, stderr: []string{"succeeded; it has no result"}, quiet: true}.run(t, home)
	})

	// Jobs: create, list, get, run-now with parameters, delete.
	jobFile := writeFile(t, dir, "job.json", `{"name": "nightly", "parameters": [{"name": "env", "default": "dev"}],
		"tasks": [{"task_key": "main", "notebook_task": {"notebook_path": "/Shared/etl", "base_parameters": {"day": "base"}}}]}`)
	jobID := idFrom(t, check{args: []string{"jobs", "create", "--json", "@" + jobFile}, stderr: []string{`Created job`, `("nightly")`}}.run(t, home))
	var created map[string]int64
	jsonOf(t, check{args: []string{"jobs", "create", "--json", `{"name": "second", "tasks": [{"task_key": "py", "spark_python_task": {"python_file": "/Shared/job.py", "parameters": ["a"]}}]}`, "-o", "json"}, json: true}.run(t, home), &created)
	secondID := strconv.FormatInt(created["job_id"], 10)

	runChecks(t, home, []check{
		{name: "jobs list", args: []string{"jobs", "list"},
			stdout: []string{"ID", "NAME", "TASKS", "CREATED BY", "re:" + jobID + " +nightly +main: notebook /Shared/etl +" + adminEmail + " +(just now|\\d+ seconds? ago)", "py: python /Shared/job.py"}},
		{name: "jobs list by name json", args: []string{"jobs", "list", "--name", "second", "-o", "json"}, json: true,
			stdout: []string{`"job_id": ` + secondID, `"python_file": "/Shared/job.py"`}},
		{name: "jobs list unknown name", args: []string{"jobs", "list", "--name", "nope"}, quiet: true, stderr: []string{`No job is named "nope".`}},
		{name: "jobs get", args: []string{"jobs", "get", jobID},
			stdout: []string{"Job ID:", jobID, "Name:", "nightly", "Parameters:", "env=dev", "Max concurrent runs:", "1", "TASK", "re:main +notebook /Shared/etl +day=base"}},
		{name: "jobs get json", args: []string{"jobs", "get", jobID, "-o", "json"}, json: true,
			stdout: []string{`"job_id": ` + jobID, `"settings": {`, `"name": "nightly"`, `"task_key": "main"`}},
		{name: "run-now with the defaults", args: []string{"jobs", "run-now", jobID, "--wait"}, stdout: []string{`re:^\d+\n$`}, stderr: []string{"TERMINATED SUCCESS"}},
		{name: "run-now json", args: []string{"jobs", "run-now", jobID, "--wait", "-o", "json"}, json: true,
			stdout: []string{`"result_state": "SUCCESS"`, `"job_id": ` + jobID}},
		{name: "run-now python args", args: []string{"jobs", "run-now", secondID, "--wait", "--", "x", "y"}, stdout: []string{`re:^\d+\n$`}},
	})

	t.Run("run-now parameters reach the notebook", func(t *testing.T) {
		r := check{args: []string{"jobs", "run-now", jobID, "--param", "day=2024-02-03", "--param", "env=test", "--wait"}}.run(t, home)
		id := idFrom(t, r)
		checkProgress(t, r, id, "TERMINATED SUCCESS")
		check{args: []string{"runs", "output", id}, stdout: []string{`{"day": "2024-02-03", "env": "test"}`}}.run(t, home)
		id = idFrom(t, check{args: []string{"jobs", "run-now", jobID, "--job-param", "env=prod", "--wait"}}.run(t, home))
		check{args: []string{"runs", "output", id}, stdout: []string{`{"day": "base", "env": "prod"}`}}.run(t, home)
		check{args: []string{"jobs", "run-now", jobID, "--job-param", "env=prod", "--param", "day=x"},
			code: cli.ExitError, stderr: []string{"job_parameters cannot be combined with notebook_params"}}.run(t, home)
		r = check{args: []string{"jobs", "run-now", jobID, "--json", `{"notebook_params": {"day": "from-json"}}`}}.run(t, home)
		id = idFrom(t, r)
		check{args: []string{"runs", "logs", id, "--follow"}, stdout: []string{"processing from-json"}}.run(t, home)
		check{args: []string{"runs", "list", "--job-id", jobID}, stdout: []string{id, "JOB_RUN"}}.run(t, home)

		var runs []struct {
			RunID int64 `json:"run_id"`
		}
		jsonOf(t, check{args: []string{"runs", "list", "--job-id", secondID, "-o", "json"}, json: true}.run(t, home), &runs)
		check{args: []string{"runs", "logs", strconv.FormatInt(runs[0].RunID, 10)}, stdout: []string{"args: ['x', 'y']"}}.run(t, home)
	})

	// A failing notebook: non-zero exit, the error on stderr.
	t.Run("failing notebook", func(t *testing.T) {
		r := runFails(t, home, cli.ExitRunFailed, []string{"task bad: ZeroDivisionError: division by zero", "kiln runs output"},
			"runs", "submit", "--notebook", "/Shared/bad", "--wait")
		id := idFrom(t, r)
		checkProgress(t, r, id, "TERMINATED FAILED")
		if !strings.Contains(r.stderr, "Error: run "+id+" FAILED: ") {
			t.Errorf("stderr: %s", r.stderr)
		}
		r = runFails(t, home, cli.ExitRunFailed, []string{"Traceback (most recent call last)", "ZeroDivisionError: division by zero",
			"Error: run " + id + " did not succeed: task bad FAILED: ZeroDivisionError: division by zero"}, "runs", "output", id)
		if r.stdout != "" {
			t.Errorf("a failed notebook has no result: %q", r.stdout)
		}
		r = runFails(t, home, cli.ExitRunFailed, []string{"Run " + id + " ended: TERMINATED FAILED"}, "runs", "logs", id, "--follow")
		if !strings.Contains(r.stdout, "about to fail\n") {
			t.Errorf("logs: %q", r.stdout)
		}
		check{args: []string{"runs", "output", id, "-o", "json"}, json: true, stdout: []string{`"error": "ZeroDivisionError: division by zero"`, `"error_trace": "Traceback`}}.run(t, home)
		runFails(t, home, cli.ExitRunFailed, []string{"task none: Notebook /Shared/none does not exist."}, "runs", "submit", "--notebook", "/Shared/none", "--wait")
	})

	// --follow on a running run prints each output once, retries too. kiln
	// clears a failed attempt's logs when the retry starts, so the retry
	// waits long enough (2.5 s) for a poll (at most 1 s apart) to see them.
	t.Run("follow", func(t *testing.T) {
		// Each attempt has a directory of its own: the beacon counts them.
		attempts := beacon.New(t)
		nb := "import os, time\nprint('attempt starts', flush=True)\ntime.sleep(0.5)\n" +
			"if " + attempts.Python(`"attempt"`) + " == 0:\n    raise RuntimeError('first attempt fails')\n" +
			"print('second attempt done')\n"
		check{args: []string{"workspace", "import", "-", "/Shared/flaky", "--language", "PYTHON"}, stdin: nb, quiet: true}.run(t, home)
		body := `{"run_name": "flaky", "tasks": [
			{"task_key": "flaky", "max_retries": 1, "min_retry_interval_millis": 2500, "notebook_task": {"notebook_path": "/Shared/flaky"}},
			{"task_key": "after", "depends_on": [{"task_key": "flaky"}], "notebook_task": {"notebook_path": "/Shared/etl", "base_parameters": {"day": "after"}}}]}`
		id := idFrom(t, check{args: []string{"runs", "submit", "--json", "@-"}, stdin: body}.run(t, home))
		r := check{args: []string{"runs", "logs", id, "--follow"}, stderr: []string{"Run " + id + " ended: TERMINATED SUCCESS"}}.run(t, home)
		for _, want := range []string{"attempt starts", "first attempt fails", "second attempt done", "processing after"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("--follow lacks %q:\n%s", want, r.stdout)
			}
		}
		if n := strings.Count(r.stdout, "attempt starts"); n != 2 {
			t.Errorf("each attempt's output once: %d times\n%s", n, r.stdout)
		}
		if n := strings.Count(r.stdout, "processing after"); n != 1 {
			t.Errorf("printed %d times\n%s", n, r.stdout)
		}
		if !strings.Contains(r.stdout, "==> flaky (task run ") || !strings.Contains(r.stdout, "), next attempt <==") || !strings.Contains(r.stdout, "==> after (task run ") {
			t.Errorf("headers:\n%s", r.stdout)
		}
		check{args: []string{"runs", "logs", id, "--task", "after"}, stdout: []string{"re:^processing after\n$"}}.run(t, home)
		check{args: []string{"runs", "output", id, "--task", "after"}, stdout: []string{`re:^\{"day": "after", "env": "dev"\}\n$`}}.run(t, home)
		check{args: []string{"runs", "output", id}, stdout: []string{"==> flaky (task run", "==> after (task run", `{"day": "after"`}}.run(t, home)
		check{args: []string{"runs", "output", id, "--task", "nope"}, code: cli.ExitNotFound, stderr: []string{`has no task "nope" (its tasks: flaky, after)`}}.run(t, home)
	})

	// Canceling: the waiting command exits non-zero; cancel --wait returns
	// once the run ended.
	t.Run("cancel", func(t *testing.T) {
		check{args: []string{"workspace", "import", "-", "/Shared/slow", "--language", "PYTHON"},
			stdin: "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n", quiet: true}.run(t, home)
		cmd := exec.Command(kilnBin, "runs", "submit", "--notebook", "/Shared/slow", "--wait")
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
		var out, errb lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !runIDRE.MatchString(out.String()) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		id := strings.TrimSpace(out.String())
		waitState(t, home, id, "RUNNING")
		check{args: []string{"runs", "cancel", id, "--wait"}, quiet: true, stderr: []string{"Run " + id + " ended: TERMINATED CANCELED."}}.run(t, home)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != cli.ExitRunFailed {
			t.Fatalf("the waiting submit: %v\n%s", err, errb.String())
		}
		if !strings.Contains(errb.String(), "Error: run "+id+" CANCELED: Run was canceled by "+adminEmail+".") {
			t.Errorf("stderr of the waiting submit:\n%s", errb.String())
		}
		check{args: []string{"runs", "get", id}, stdout: []string{"TERMINATED CANCELED", "Run was canceled by " + adminEmail}}.run(t, home)
		check{args: []string{"runs", "logs", id}}.run(t, home) // "sleeping", unless the cancel came first
		check{args: []string{"runs", "cancel", id, "-o", "json"}, json: true, stdout: []string{`"canceled": true`}}.run(t, home)

		// Giving up waiting leaves the run running.
		id = idFrom(t, runFails(t, home, cli.ExitError, []string{"gave up waiting after 1s: run ", "it goes on (kiln runs get"},
			"runs", "submit", "--notebook", "/Shared/slow", "--wait", "--timeout", "1s"))
		check{args: []string{"runs", "list", "--active-only"}, stdout: []string{id}}.run(t, home)
		check{args: []string{"runs", "cancel", id}, quiet: true, stderr: []string{"Canceling run " + id}}.run(t, home)

		// A run's own timeout: TIMEDOUT, exit 6.
		runFails(t, home, cli.ExitRunFailed, []string{"TIMEDOUT: Run timed out after 1 seconds."},
			"runs", "submit", "--json", `{"run_name": "short", "timeout_seconds": 1, "tasks": [{"task_key": "slow", "notebook_task": {"notebook_path": "/Shared/slow"}}]}`, "--wait")
	})

	// Failure paths: missing objects, bad command lines.
	runChecks(t, home, []check{
		{name: "jobs delete", args: []string{"jobs", "delete", secondID}, quiet: true, stderr: []string{"Deleted job " + secondID + "."}},
		{name: "jobs delete json", args: []string{"jobs", "delete", jobID, "-o", "json"}, json: true, stdout: []string{`"deleted": true`}},
		{name: "jobs get a deleted job", args: []string{"jobs", "get", jobID}, code: cli.ExitNotFound, stderr: []string{"Error: Job " + jobID + " does not exist."}},
		{name: "jobs run-now a missing job", args: []string{"jobs", "run-now", "999", "--wait"}, code: cli.ExitNotFound, stderr: []string{"Error: Job 999 does not exist."}},
		{name: "jobs delete a missing job", args: []string{"jobs", "delete", "999"}, code: cli.ExitNotFound, stderr: []string{"Job 999 does not exist."}},
		{name: "runs get a missing run", args: []string{"runs", "get", "999"}, code: cli.ExitNotFound, stderr: []string{"Error: Run 999 does not exist."}},
		{name: "runs output of a missing run", args: []string{"runs", "output", "999"}, code: cli.ExitNotFound, stderr: []string{"Run 999 does not exist."}},
		{name: "runs logs of a missing run", args: []string{"runs", "logs", "999", "-f"}, code: cli.ExitNotFound, stderr: []string{"Run 999 does not exist."}},
		{name: "runs cancel a missing run", args: []string{"runs", "cancel", "999"}, code: cli.ExitNotFound, stderr: []string{"Run 999 does not exist."}},
		{name: "another user's run does not exist", args: []string{"runs", "get", runID, "-p", "jane"}, code: cli.ExitNotFound, stderr: []string{"Run " + runID + " does not exist."}},
		{name: "jobs get a bad id", args: []string{"jobs", "get", "nightly"}, code: cli.ExitUsage, stderr: []string{`JOB_ID must be a positive whole number, not "nightly"`}},
		{name: "runs get without id", args: []string{"runs", "get"}, code: cli.ExitUsage, stderr: []string{"takes RUN_ID"}},
		{name: "jobs create without json", args: []string{"jobs", "create"}, code: cli.ExitUsage, stderr: []string{"--json is required"}},
		{name: "jobs create bad json", args: []string{"jobs", "create", "--json", `{"name": `}, code: cli.ExitUsage, stderr: []string{"--json: inline JSON is not valid JSON"}},
		{name: "jobs create not an object", args: []string{"jobs", "create", "--json", `[1]`}, code: cli.ExitUsage, stderr: []string{"must be a JSON object"}},
		{name: "jobs create missing file", args: []string{"jobs", "create", "--json", "@" + filepath.Join(dir, "nope.json")}, code: cli.ExitUsage, stderr: []string{"nope.json: no such file or directory"}},
		{name: "jobs create invalid settings", args: []string{"jobs", "create", "--json", `{"tasks": [{"notebook_task": {"notebook_path": "/Shared/etl"}}]}`},
			code: cli.ExitError, stderr: []string{"Missing required field: task_key."}},
		{name: "run-now json with flags", args: []string{"jobs", "run-now", "1", "--json", "{}", "--param", "a=b"}, code: cli.ExitUsage, stderr: []string{"--json gives the whole request"}},
		{name: "run-now bad param", args: []string{"jobs", "run-now", "1", "--param", "day"}, code: cli.ExitUsage, stderr: []string{`--param "day" is not KEY=VALUE`}},
		{name: "submit nothing", args: []string{"runs", "submit"}, code: cli.ExitUsage, stderr: []string{"say what to run"}},
		{name: "submit two things", args: []string{"runs", "submit", "--notebook", "/a", "--python-file", "/b"}, code: cli.ExitUsage, stderr: []string{"give one of"}},
		{name: "submit params without notebook", args: []string{"runs", "submit", "--python-file", "/b", "--param", "a=b"}, code: cli.ExitUsage, stderr: []string{"use it with --notebook"}},
		{name: "submit args without python file", args: []string{"runs", "submit", "--notebook", "/a", "--", "x"}, code: cli.ExitUsage, stderr: []string{"use them with --python-file"}},
		{name: "submit stray argument", args: []string{"runs", "submit", "/Shared/etl"}, code: cli.ExitUsage, stderr: []string{"takes no arguments"}},
		{name: "submit an invalid run", args: []string{"runs", "submit", "--notebook", "relative/path"}, code: cli.ExitError, stderr: []string{"notebook_path"}},
		{name: "runs list bad limit", args: []string{"runs", "list", "--limit", "0"}, code: cli.ExitUsage, stderr: []string{"--limit"}},
	})
}

// TestRunExitCodes checks that the exit codes are documented.
func TestRunExitCodes(t *testing.T) {
	r := run(t, t.TempDir(), nil, "", "--help")
	if !strings.Contains(r.stdout, "6 the run did not succeed") {
		t.Errorf("kiln --help does not document exit code 6:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"runs", "submit", "--help"}, {"jobs", "run-now", "--help"}} {
		if r := run(t, t.TempDir(), nil, "", args...); !strings.Contains(r.stdout, "exits 0 when the run succeeded, 6 when it") {
			t.Errorf("kiln %s does not say how it exits:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
}
