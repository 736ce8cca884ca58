package api_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/beacon"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

// etlNotebook reads two widgets (one with a default) and exits with JSON.
const etlNotebook = `dbutils.widgets.text("day", "never")
dbutils.widgets.text("env", "dev")
print("processing", dbutils.widgets.get("day"))

# COMMAND ----------

# MAGIC %md
# MAGIC Exit with a summary.

# COMMAND ----------

import json
dbutils.notebook.exit(json.dumps({"day": dbutils.widgets.get("day"), "n": dbutils.widgets.get("n"), "env": dbutils.widgets.get("env")}))
`

// TestAirflowSubmitRunLegacyForm is Airflow's DatabricksSubmitRunOperator:
// the legacy single-task form with numbers as strings on 2.1, runs/get
// right after for run_page_url, polling with a JSON body on GET, then the
// output of the task run.
func TestAirflowSubmitRunLegacyForm(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/etl", etlNotebook)
	sub := call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "my_dag.etl", "existing_cluster_id": "kiln-local",
		"notebook_task": {"notebook_path": "/Shared/etl", "base_parameters": {"day": "2024-01-02", "n": "5"}},
		"timeout_seconds": "3600", "max_retries": "0"}`)
	runID := idOf(t, sub, "run_id")

	first := call(t, e, tok, "GET", "/api/2.1/jobs/runs/get?run_id="+strconv.FormatInt(runID, 10), nil)
	url, _ := first["run_page_url"].(string)
	if !strings.HasPrefix(url, e.URL+"/jobs/") || !strings.Contains(url, fmt.Sprintf("/runs/%d", runID)) {
		t.Errorf("run_page_url: %q", url)
	}
	if idOf(t, first, "job_id") == 0 {
		t.Errorf("a submitted run has a job_id: %v", first)
	}

	run := pollRun(t, e, tok, "2.1", runID, 60*time.Second)
	if got := stateOf(run); got != "TERMINATED/SUCCESS" {
		t.Fatalf("run: %s %v", got, run)
	}
	tasks := tasksOf(t, run)
	if len(tasks) != 1 || tasks[0]["task_key"] != "my_dag_etl" || idOf(t, tasks[0], "run_id") == runID ||
		stateOf(tasks[0]) != "TERMINATED/SUCCESS" || tasks[0]["attempt_number"] != 0.0 {
		t.Fatalf("tasks: %s", asJSON(tasks))
	}
	for _, k := range []string{"start_time", "end_time", "execution_duration", "setup_duration", "cleanup_duration"} {
		if _, ok := run[k].(float64); !ok {
			t.Errorf("runs/get has no %s: %v", k, run)
		}
	}
	if run["end_time"].(float64) < run["start_time"].(float64) {
		t.Errorf("end_time before start_time: %v", run)
	}
	taskRunID := idOf(t, tasks[0], "run_id")
	out := call(t, e, tok, "GET", "/api/2.1/jobs/runs/get-output?run_id="+strconv.FormatInt(taskRunID, 10), nil)
	nb, _ := out["notebook_output"].(map[string]any)
	if nb["result"] != `{"day": "2024-01-02", "n": "5", "env": "dev"}` || nb["truncated"] != false {
		t.Errorf("notebook_output: %v", out)
	}
	if logs, _ := out["logs"].(string); !strings.Contains(logs, "processing 2024-01-02") {
		t.Errorf("logs: %q", logs)
	}
	if md, _ := out["metadata"].(map[string]any); idOf(t, md, "run_id") != taskRunID || stateOf(md) != "TERMINATED/SUCCESS" {
		t.Errorf("metadata: %v", out["metadata"])
	}

	// get-output on the parent: 2.1 and 2.2 refuse it, as Databricks does;
	// 2.0 answers for a single-task run.
	for _, v := range []string{"2.1", "2.2"} {
		r := e.Do(t, "GET", "/api/"+v+"/jobs/runs/get-output?run_id="+strconv.FormatInt(runID, 10), tok, nil)
		wantError(t, r, 400, "INVALID_PARAMETER_VALUE", "Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead.")
	}
	out20 := call(t, e, tok, "GET", "/api/2.0/jobs/runs/get-output?run_id="+strconv.FormatInt(runID, 10), nil)
	if nb, _ := out20["notebook_output"].(map[string]any); nb["result"] != `{"day": "2024-01-02", "n": "5", "env": "dev"}` {
		t.Errorf("2.0 get-output on the parent: %v", out20)
	}

	// The 2.0 shape of the same run: no tasks, the task and cluster at the top.
	r20 := call(t, e, tok, "GET", "/api/2.0/jobs/runs/get?run_id="+strconv.FormatInt(runID, 10), nil)
	task, _ := r20["task"].(map[string]any)
	cluster, _ := r20["cluster_spec"].(map[string]any)
	if _, has := r20["tasks"]; has || task["notebook_task"] == nil || cluster["existing_cluster_id"] != "kiln-local" || r20["cluster_instance"] == nil {
		t.Errorf("2.0 runs/get: %s", asJSON(r20))
	}
}

func TestRunNowWithParameters(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/etl", etlNotebook)
	created := call(t, e, tok, "POST", "/api/2.1/jobs/create", `{"name": "nightly", "max_concurrent_runs": "1",
		"tasks": [{"task_key": "main", "existing_cluster_id": "kiln-local",
			"notebook_task": {"notebook_path": "/Shared/etl", "base_parameters": {"day": "2024-01-01", "n": 1}}}]}`)
	jobID := idOf(t, created, "job_id")
	for _, c := range []struct {
		name, version string
		body          string
		want          string
	}{
		{"NotebookParamsWin", "2.1", `{"job_id": "%d", "notebook_params": {"day": "2024-01-02"}}`, `{"day": "2024-01-02", "n": "1", "env": "dev"}`},
		{"BaseParameters", "2.2", `{"job_id": %d}`, `{"day": "2024-01-01", "n": "1", "env": "dev"}`},
		{"JobParameters", "2.2", `{"job_id": %d, "job_parameters": {"env": "prod"}}`, `{"day": "2024-01-01", "n": "1", "env": "prod"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rn := call(t, e, tok, "POST", "/api/"+c.version+"/jobs/run-now", fmt.Sprintf(c.body, jobID))
			runID := idOf(t, rn, "run_id")
			if idOf(t, rn, "number_in_job") != runID {
				t.Errorf("number_in_job: %v", rn)
			}
			run := pollRun(t, e, tok, c.version, runID, 60*time.Second)
			if stateOf(run) != "TERMINATED/SUCCESS" || idOf(t, run, "job_id") != jobID || run["run_type"] != "JOB_RUN" {
				t.Fatalf("run: %s", asJSON(run))
			}
			taskID := idOf(t, tasksOf(t, run)[0], "run_id")
			out := call(t, e, tok, "GET", fmt.Sprintf("/api/%s/jobs/runs/get-output?run_id=%d", c.version, taskID), nil)
			if nb, _ := out["notebook_output"].(map[string]any); nb["result"] != c.want {
				t.Errorf("result: %v, want %s", nb["result"], c.want)
			}
		})
	}
	// runs/list finds them, newest first, 2.2 without has_more.
	l := call(t, e, tok, "GET", fmt.Sprintf("/api/2.2/jobs/runs/list?job_id=%d&completed_only=True", jobID), nil)
	if runs, _ := l["runs"].([]any); len(runs) != 3 {
		t.Errorf("runs/list: %v", l)
	}
	if _, has := l["has_more"]; has {
		t.Errorf("2.2 runs/list has has_more: %v", l)
	}
	// job_parameters with notebook_params is refused, as Databricks does.
	r := e.Do(t, "POST", "/api/2.2/jobs/run-now", tok, fmt.Sprintf(`{"job_id": %d, "job_parameters": {"a": "b"}, "notebook_params": {"c": "d"}}`, jobID))
	wantError(t, r, 400, "INVALID_PARAMETER_VALUE", "job_parameters cannot be combined")
}

func TestRunFailures(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/boom", "def load():\n    return 1 / 0\n\nload()\n")
	importNotebook(t, e, tok, "/Shared/scala", "x = 1\n\n# COMMAND ----------\n\n# MAGIC %scala\n# MAGIC val y = 2\n")
	importNotebook(t, e, tok, "/Shared/forever", "import time\nwhile True:\n    time.sleep(0.05)\n")
	for _, c := range []struct {
		name, body  string
		state       string
		message     string
		error       string
		errorTrace  string
		durationMax time.Duration
	}{
		{"Exception", `{"run_name": "boom", "notebook_task": {"notebook_path": "/Shared/boom"}}`,
			"TERMINATED/FAILED", "Workload failed, see run output for details", "ZeroDivisionError: division by zero", "in load", time.Minute},
		{"ScalaCell", `{"run_name": "scala", "notebook_task": {"notebook_path": "/Shared/scala"}}`,
			"TERMINATED/FAILED", "Cell 2 of notebook /Shared/scala is a %scala cell, which kiln cannot run", "%scala", "", time.Minute},
		{"TimeoutOfAnInfiniteLoop", `{"run_name": "forever", "timeout_seconds": "1", "notebook_task": {"notebook_path": "/Shared/forever"}}`,
			"TERMINATED/TIMEDOUT", "Run timed out after 1 seconds.", "", "", 20 * time.Second},
		{"MissingNotebook", `{"run_name": "nope", "notebook_task": {"notebook_path": "/Shared/nope"}}`,
			"TERMINATED/FAILED", "does not exist", "does not exist", "", time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", c.body), "run_id")
			run := pollRun(t, e, tok, "2.1", runID, 60*time.Second)
			if d := time.Since(start); d > c.durationMax {
				t.Errorf("took %v", d)
			}
			st := run["state"].(map[string]any)
			if stateOf(run) != c.state || !strings.Contains(st["state_message"].(string), c.message) {
				t.Fatalf("run: %s %q, want %s %q", stateOf(run), st["state_message"], c.state, c.message)
			}
			// What Airflow does on FAILED: get-output of each failed task, read error.
			task := tasksOf(t, run)[0]
			out := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, task, "run_id")), nil)
			errMsg, _ := out["error"].(string)
			trace, _ := out["error_trace"].(string)
			if !strings.Contains(errMsg, c.error) || !strings.Contains(trace, c.errorTrace) {
				t.Errorf("get-output: error %q, error_trace %q; want %q, %q", errMsg, trace, c.error, c.errorTrace)
			}
		})
	}
}

func TestCancelKillsTheWholeGroup(t *testing.T) {
	e, tok := jobsEnv(t)
	b := beacon.New(t)
	// The child reports to the beacon; its connection closes when it dies.
	importNotebook(t, e, tok, "/Shared/fork", fmt.Sprintf(`import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", %q])
while True:
    time.sleep(0.1)
`, "import time\n"+b.Python(`"child"`)+"\nwhile True: time.sleep(1)"))
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.2/jobs/runs/submit",
		`{"run_name": "fork", "tasks": [{"task_key": "fork", "notebook_task": {"notebook_path": "/Shared/fork"}}]}`), "run_id")
	child := b.Next(t, 30*time.Second)
	call(t, e, tok, "POST", "/api/2.2/jobs/runs/cancel", map[string]any{"run_id": runID})
	run := pollRun(t, e, tok, "2.2", runID, 30*time.Second)
	if stateOf(run) != "TERMINATED/CANCELED" || run["state"].(map[string]any)["user_cancelled_or_timedout"] != true {
		t.Fatalf("run: %s", asJSON(run["state"]))
	}
	child.WaitClosed(t, 10*time.Second)
	// Canceling again is harmless; deleting works once it is over.
	call(t, e, tok, "POST", "/api/2.2/jobs/runs/cancel", map[string]any{"run_id": runID})
	call(t, e, tok, "POST", "/api/2.2/jobs/runs/delete", map[string]any{"run_id": runID})
	wantError(t, e.Do(t, "GET", fmt.Sprintf("/api/2.2/jobs/runs/get?run_id=%d", runID), tok, nil), 400, "INVALID_PARAMETER_VALUE",
		fmt.Sprintf("Run %d does not exist.", runID))
}

func TestRetryAndDependsOn(t *testing.T) {
	e, tok := jobsEnv(t)
	// Each attempt runs in a fresh directory: the beacon counts them.
	b := beacon.New(t)
	importNotebook(t, e, tok, "/Shared/flaky", fmt.Sprintf(`n = %s
if n < 2:
    raise RuntimeError("attempt %%d failed" %% n)
dbutils.notebook.exit("succeeded on attempt %%d" %% n)
`, b.Python(`"attempt"`)))
	importNotebook(t, e, tok, "/Shared/bad", "raise ValueError('bad data')\n")
	importNotebook(t, e, tok, "/Shared/ok", "print('ok')\n")
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "dag", "tasks": [
		{"task_key": "flaky", "max_retries": "2", "min_retry_interval_millis": "0", "notebook_task": {"notebook_path": "/Shared/flaky"}},
		{"task_key": "bad", "depends_on": [{"task_key": "flaky"}], "notebook_task": {"notebook_path": "/Shared/bad"}},
		{"task_key": "after_bad", "depends_on": [{"task_key": "bad"}], "notebook_task": {"notebook_path": "/Shared/ok"}},
		{"task_key": "cleanup", "depends_on": [{"task_key": "bad"}], "run_if": "ALL_DONE", "notebook_task": {"notebook_path": "/Shared/ok"}}]}`), "run_id")
	run := pollRun(t, e, tok, "2.1", runID, 90*time.Second)
	if stateOf(run) != "TERMINATED/FAILED" {
		t.Fatalf("run: %s", asJSON(run))
	}
	want := map[string]string{"flaky": "TERMINATED/SUCCESS", "bad": "TERMINATED/FAILED", "after_bad": "TERMINATED/UPSTREAM_FAILED", "cleanup": "TERMINATED/SUCCESS"}
	flaky := 0
	for _, task := range tasksOf(t, run) {
		if task["task_key"] == "flaky" && task["attempt_number"] != 2.0 {
			// An earlier attempt, listed before the last one.
			if task["attempt_number"] != float64(flaky) || stateOf(task) != "TERMINATED/FAILED" {
				t.Errorf("flaky's attempt %d: %s", flaky, asJSON(task))
			}
			flaky++
			continue
		}
		if got := stateOf(task); got != want[task["task_key"].(string)] {
			t.Errorf("task %s: %s, want %s", task["task_key"], got, want[task["task_key"].(string)])
		}
	}
	if flaky != 2 {
		t.Errorf("flaky lists %d earlier attempts, want 2", flaky)
	}
	// runs/list with expand_tasks lists the same attempts as runs/get.
	list := call(t, e, tok, "GET", "/api/2.1/jobs/runs/list?expand_tasks=true&limit=1", nil)
	if runs, _ := list["runs"].([]any); len(runs) != 1 || asJSON(taskRunIDsInOrder(runs[0].(map[string]any))) != asJSON(taskRunIDsInOrder(run)) {
		t.Errorf("runs/list expand_tasks: %s, want the tasks of runs/get: %s", asJSON(list["runs"]), asJSON(run["tasks"]))
	}
	if msg := run["state"].(map[string]any)["state_message"].(string); !strings.HasPrefix(msg, "Task bad failed with message:") {
		t.Errorf("state_message: %q", msg)
	}
	// A multi-task parent's output is refused on every version.
	wantError(t, e.Do(t, "GET", fmt.Sprintf("/api/2.0/jobs/runs/get-output?run_id=%d", runID), tok, nil), 400,
		"INVALID_PARAMETER_VALUE", "Retrieving the output of runs with multiple tasks is not supported.")
}

func TestIdempotencyToken(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/ok", "print('ok')\n")
	body := `{"run_name": "once", "idempotency_token": "dag1-run7", "notebook_task": {"notebook_path": "/Shared/ok"}}`
	first := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", body), "run_id")
	second := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", body), "run_id")
	if first != second {
		t.Fatalf("same idempotency token gave runs %d and %d", first, second)
	}
	l := call(t, e, tok, "GET", "/api/2.1/jobs/runs/list?run_type=SUBMIT_RUN", nil)
	if runs, _ := l["runs"].([]any); len(runs) != 1 {
		t.Errorf("runs/list: %d runs, want 1", len(runs))
	}
	job := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create", `{"name": "j", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/ok"}}]}`), "job_id")
	rn := fmt.Sprintf(`{"job_id": %d, "idempotency_token": "same"}`, job)
	a := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/run-now", rn), "run_id")
	b := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/run-now", rn), "run_id")
	if a != b {
		t.Errorf("run-now with the same token: runs %d and %d", a, b)
	}
	pollRun(t, e, tok, "2.1", first, 30*time.Second)
	pollRun(t, e, tok, "2.1", a, 30*time.Second)
}

func TestLoudNotebookKeepsTheServerResponsive(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/loud", `import sys
print("BEGIN")
line = "y" * 1023 + "\n"
for i in range(200 * 1024):   # 200 MiB
    sys.stdout.write(line)
print("END")
`)
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "loud", "notebook_task": {"notebook_path": "/Shared/loud"}}`), "run_id")
	// While it prints, the API answers promptly.
	var slowest time.Duration
	for {
		start := time.Now()
		run := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID), nil)
		slowest = max(slowest, time.Since(start))
		if terminal[run["state"].(map[string]any)["life_cycle_state"].(string)] {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if slowest > 2*time.Second {
		t.Errorf("slowest runs/get while the task printed: %v", slowest)
	}
	run := pollRun(t, e, tok, "2.1", runID, time.Minute)
	task := tasksOf(t, run)[0]
	out := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, task, "run_id")), nil)
	logs, _ := out["logs"].(string)
	if len(logs) > 600<<10 || out["logs_truncated"] != true || !strings.HasPrefix(logs, "BEGIN") || !strings.HasSuffix(logs, "END\n") {
		t.Errorf("logs: %d bytes, truncated %v", len(logs), out["logs_truncated"])
	}
	t.Logf("slowest runs/get while 200 MiB were printed: %v", slowest)
}

func TestMissingAndInvisibleRunsAndJobs(t *testing.T) {
	e, admin := jobsEnv(t)
	e.NewUser(t, "alice@example.com", false)
	e.NewUser(t, "bob@example.com", false)
	alice, bob := e.Token(t, "alice@example.com", 0), e.Token(t, "bob@example.com", 0)
	importNotebook(t, e, admin, "/Shared/ok", "print('ok')\n")
	job := idOf(t, call(t, e, alice, "POST", "/api/2.1/jobs/create", `{"name": "alice-job", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/ok"}}]}`), "job_id")
	runID := idOf(t, call(t, e, alice, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "alice-run", "notebook_task": {"notebook_path": "/Shared/ok"}}`), "run_id")
	pollRun(t, e, alice, "2.1", runID, 30*time.Second)

	for _, c := range []struct {
		name, method, path, tok string
		body                    any
		msg                     string
	}{
		{"MissingRun", "GET", "/api/2.1/jobs/runs/get?run_id=123", alice, nil, "Run 123 does not exist."},
		{"MissingRunOutput", "GET", "/api/2.2/jobs/runs/get-output?run_id=123", alice, nil, "Run 123 does not exist."},
		{"MissingRunCancel", "POST", "/api/2.0/jobs/runs/cancel", alice, `{"run_id": "123"}`, "Run 123 does not exist."},
		{"MissingJob", "GET", "/api/2.2/jobs/get?job_id=123", alice, nil, "Job 123 does not exist."},
		{"MissingJobRunNow", "POST", "/api/2.1/jobs/run-now", alice, `{"job_id": 123}`, "Job 123 does not exist."},
		{"OtherUsersRun", "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID), bob, nil, fmt.Sprintf("Run %d does not exist.", runID)},
		{"OtherUsersRunCancel", "POST", "/api/2.1/jobs/runs/cancel", bob, map[string]any{"run_id": runID}, fmt.Sprintf("Run %d does not exist.", runID)},
		{"OtherUsersJob", "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", job), bob, nil, fmt.Sprintf("Job %d does not exist.", job)},
		{"OtherUsersJobRunNow", "POST", "/api/2.1/jobs/run-now", bob, map[string]any{"job_id": job}, fmt.Sprintf("Job %d does not exist.", job)},
		{"OtherUsersJobDelete", "POST", "/api/2.1/jobs/delete", bob, map[string]any{"job_id": job}, fmt.Sprintf("Job %d does not exist.", job)},
		{"UnsupportedTask", "POST", "/api/2.1/jobs/runs/submit", alice,
			`{"tasks": [{"task_key": "jar", "spark_jar_task": {"main_class_name": "Main"}}]}`, "Task jar is a spark_jar_task, which kiln cannot run"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.Do(t, c.method, c.path, c.tok, c.body), 400, "INVALID_PARAMETER_VALUE", c.msg)
		})
	}
	// Bob's lists do not show Alice's things; an admin's do.
	if runs, _ := call(t, e, bob, "GET", "/api/2.1/jobs/runs/list", nil)["runs"].([]any); len(runs) != 0 {
		t.Errorf("bob sees runs: %v", runs)
	}
	if jobs, _ := call(t, e, bob, "GET", "/api/2.1/jobs/list", nil)["jobs"].([]any); len(jobs) != 0 {
		t.Errorf("bob sees jobs: %v", jobs)
	}
	if runs, _ := call(t, e, admin, "GET", "/api/2.1/jobs/runs/list", nil)["runs"].([]any); len(runs) != 1 {
		t.Errorf("admin sees %d runs, want 1", len(runs))
	}
	call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", job), nil)
}

func TestRestartEndsTheRunOfTheDeadServer(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Fatal("needs /proc")
	}
	e, tok := jobsEnv(t, func(c *server.Config) { c.ShutdownTimeout = 100 * time.Millisecond })
	importNotebook(t, e, tok, "/Shared/slow", "import time\ntime.sleep(120)\n")
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "slow", "notebook_task": {"notebook_path": "/Shared/slow"}}`), "run_id")
	kilntest.Eventually(t, 30*time.Second, "the run to start", func() bool {
		return stateOf(call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID), nil)) == "RUNNING/<nil>"
	})
	// The server stops while the task runs: the task is killed at the
	// shutdown timeout and recorded; a new server on the same data
	// directory shows the run finished, never RUNNING.
	e.Stop()
	e2 := kilntest.StartConfig(t, e.Srv.Config)
	run := pollRun(t, e2, tok, "2.1", runID, 30*time.Second)
	if stateOf(run) != "INTERNAL_ERROR/FAILED" {
		t.Fatalf("after restart: %s", asJSON(run["state"]))
	}
}

// TestSecretsAndDBFSInTasks reads a secret with dbutils.secrets.get (as
// the run's owner, over the runner's private channel) and runs a Python
// file uploaded to DBFS, as ADF's Python activity does.
func TestSecretsAndDBFSInTasks(t *testing.T) {
	e, admin := jobsEnv(t)
	e.NewUser(t, "alice@example.com", false)
	alice := e.Token(t, "alice@example.com", 0)
	call(t, e, admin, "POST", "/api/2.0/secrets/scopes/create", map[string]any{"scope": "prod"})
	call(t, e, admin, "POST", "/api/2.0/secrets/put", map[string]any{"scope": "prod", "key": "db-password", "string_value": "hunter2-secret"})
	importNotebook(t, e, admin, "/Shared/secret", `v = dbutils.secrets.get("prod", "db-password")
print("password:", v)
dbutils.notebook.exit(str(len(v)))
`)
	// The admin may read the scope: the run gets the value, its logs do not.
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "s", "notebook_task": {"notebook_path": "/Shared/secret"}}`), "run_id")
	run := pollRun(t, e, admin, "2.1", runID, 30*time.Second)
	out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, tasksOf(t, run)[0], "run_id")), nil)
	if nb, _ := out["notebook_output"].(map[string]any); nb["result"] != "14" || strings.Contains(out["logs"].(string), "hunter2") ||
		!strings.Contains(out["logs"].(string), "password: [REDACTED]") {
		t.Errorf("admin's run: %s", asJSON(out))
	}
	// Alice has no READ on the scope: her run fails with the service's refusal.
	runID = idOf(t, call(t, e, alice, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "s", "notebook_task": {"notebook_path": "/Shared/secret"}}`), "run_id")
	run = pollRun(t, e, alice, "2.1", runID, 30*time.Second)
	out = call(t, e, alice, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, tasksOf(t, run)[0], "run_id")), nil)
	if stateOf(run) != "TERMINATED/FAILED" || strings.Contains(asJSON(out), "hunter2") {
		t.Errorf("alice's run: %s %s", stateOf(run), asJSON(out))
	}

	script := "import sys\nprint('dbfs args', sys.argv[1:])\n"
	call(t, e, admin, "POST", "/api/2.0/dbfs/put", map[string]any{"path": "/FileStore/jobs/job.py", "contents": b64(script), "overwrite": true})
	runID = idOf(t, call(t, e, admin, "POST", "/api/2.2/jobs/runs/submit", `{"run_name": "py",
		"spark_python_task": {"python_file": "dbfs:/FileStore/jobs/job.py", "parameters": ["--day", 7]}}`), "run_id")
	run = pollRun(t, e, admin, "2.2", runID, 30*time.Second)
	out = call(t, e, admin, "GET", fmt.Sprintf("/api/2.2/jobs/runs/get-output?run_id=%d", idOf(t, tasksOf(t, run)[0], "run_id")), nil)
	if stateOf(run) != "TERMINATED/SUCCESS" || !strings.Contains(out["logs"].(string), "dbfs args ['--day', '7']") {
		t.Errorf("DBFS python file: %s %s", stateOf(run), asJSON(out))
	}
	if _, has := out["notebook_output"]; has {
		t.Errorf("a Python file task has notebook_output: %v", out)
	}
}

func TestCancelAllAndQueuedRuns(t *testing.T) {
	e, tok := jobsEnv(t, func(c *server.Config) { c.MaxConcurrentRuns = 1 })
	importNotebook(t, e, tok, "/Shared/slow", "import time\ntime.sleep(60)\n")
	job := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create",
		`{"name": "slow", "max_concurrent_runs": 5, "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/slow"}}]}`), "job_id")
	var runs []int64
	for range 3 {
		runs = append(runs, idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": job}), "run_id"))
	}
	// One executor slot: the first runs, the others wait QUEUED.
	kilntest.Eventually(t, 30*time.Second, "the first run to start", func() bool {
		return strings.HasPrefix(stateOf(call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runs[0]), nil)), "RUNNING")
	})
	for _, id := range runs[1:] {
		run := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", id), nil)
		if st := run["state"].(map[string]any); st["life_cycle_state"] != "QUEUED" || st["queue_reason"] == nil {
			t.Errorf("run %d: %v, want QUEUED with a queue_reason", id, st)
		}
	}
	// A running run cannot be deleted.
	wantError(t, e.Do(t, "POST", "/api/2.1/jobs/runs/delete", tok, map[string]any{"run_id": runs[0]}), 400, "INVALID_PARAMETER_VALUE", "still active")
	// all_queued_runs cancels the queued ones only.
	call(t, e, tok, "POST", "/api/2.1/jobs/runs/cancel-all", `{"all_queued_runs": "true"}`)
	for _, id := range runs[1:] {
		if got := stateOf(pollRun(t, e, tok, "2.1", id, 10*time.Second)); got != "TERMINATED/CANCELED" {
			t.Errorf("queued run %d: %s", id, got)
		}
	}
	if got := stateOf(call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runs[0]), nil)); !strings.HasPrefix(got, "RUNNING") {
		t.Errorf("running run after all_queued_runs: %s", got)
	}
	// job_id cancels the job's active runs, the running one included.
	call(t, e, tok, "POST", "/api/2.1/jobs/runs/cancel-all", map[string]any{"job_id": fmt.Sprint(job)})
	if got := stateOf(pollRun(t, e, tok, "2.1", runs[0], 30*time.Second)); got != "TERMINATED/CANCELED" {
		t.Errorf("running run after cancel-all: %s", got)
	}
	active := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/list?job_id=%d&active_only=true", job), nil)
	if _, has := active["runs"]; has || active["has_more"] != false {
		t.Errorf("active runs left: %v", active)
	}
}

// TestMaxConcurrentRunsAndQueue: a run beyond max_concurrent_runs waits
// QUEUED when the job queues (queue.enabled true, or no queue setting),
// and is SKIPPED at once, with Databricks' result and message, when it
// does not; max_concurrent_runs 0 skips every run.
func TestMaxConcurrentRunsAndQueue(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/slow", "import time\ntime.sleep(60)\n")
	for _, c := range []struct {
		name     string
		settings string
		// first is the first run's fate; second the second's, started
		// while the first is active.
		first, second string
		message       string
	}{
		{"queue enabled", `"max_concurrent_runs": 1, "queue": {"enabled": true}`, "RUNNING", "QUEUED", ""},
		{"no queue setting", `"max_concurrent_runs": 1`, "RUNNING", "QUEUED", ""},
		{"queue disabled", `"max_concurrent_runs": 1, "queue": {"enabled": false}`, "RUNNING", "SKIPPED/MAXIMUM_CONCURRENT_RUNS_REACHED",
			"Skipping this run because the limit of 1 maximum concurrent runs has been reached."},
		{"no runs allowed", `"max_concurrent_runs": 0, "queue": {"enabled": true}`, "SKIPPED/MAXIMUM_CONCURRENT_RUNS_REACHED", "SKIPPED/MAXIMUM_CONCURRENT_RUNS_REACHED",
			"Skipping this run because the limit of 0 maximum concurrent runs has been reached."},
	} {
		t.Run(c.name, func(t *testing.T) {
			job := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create",
				`{"name": "limited", `+c.settings+`, "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/slow"}}]}`), "job_id")
			t.Cleanup(func() { call(t, e, tok, "POST", "/api/2.1/jobs/runs/cancel-all", map[string]any{"job_id": job}) })
			get := func(id int64) map[string]any {
				return call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", id), nil)
			}
			first := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": job}), "run_id")
			kilntest.Eventually(t, 30*time.Second, "the first run's state", func() bool { return strings.HasPrefix(stateOf(get(first)), c.first) })
			second := get(idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": job}), "run_id"))
			if got := stateOf(second); !strings.HasPrefix(got, c.second) {
				t.Errorf("second run: %s; want %s", got, c.second)
			}
			if c.message != "" {
				st := second["state"].(map[string]any)
				if st["state_message"] != c.message {
					t.Errorf("state_message %q; want %q", st["state_message"], c.message)
				}
				for _, task := range tasksOf(t, second) {
					if task["state"].(map[string]any)["life_cycle_state"] != "TERMINATED" {
						t.Errorf("a skipped run's task: %v", task["state"])
					}
				}
			}
		})
	}
}

// TestDbutilsFS: dbutils.fs inside a task works on kiln's DBFS as the
// run's owner: what a task writes the DBFS API reads back, and what the
// API wrote the task lists, copies, moves and removes; local file: paths
// are refused with a message that says what to do instead.
func TestDbutilsFS(t *testing.T) {
	e, admin := jobsEnv(t)
	call(t, e, admin, "POST", "/api/2.0/dbfs/put", map[string]any{"path": "/data/in/a.csv", "contents": b64("x,y\n1,2\n"), "overwrite": true})
	importNotebook(t, e, admin, "/Shared/fs", `fs = dbutils.fs
names = sorted(f.name for f in fs.ls("dbfs:/data"))
assert names == ["in/"], names
[a] = fs.ls("/data/in")
assert (a.path, a.name, a.size, a.isFile()) == ("dbfs:/data/in/a.csv", "a.csv", 8, True), a
assert fs.head("dbfs:/data/in/a.csv", 3) == "x,y"
assert fs.put("dbfs:/data/out/report.txt", "made by a task", True)
try:
    fs.put("dbfs:/data/out/report.txt", "again")
    raise AssertionError("put without overwrite replaced a file")
except Exception as e:
    assert "already exists" in str(e), e
fs.cp("dbfs:/data/in", "dbfs:/data/copy", recurse=True)
fs.mv("/dbfs/data/copy/a.csv", "dbfs:/data/moved.csv")
fs.mkdirs("dbfs:/data/empty/deep")
fs.rm("dbfs:/data/empty", True)
try:
    fs.ls("file:/tmp")
    raise AssertionError("a local path was listed")
except Exception as e:
    assert "Python's own functions" in str(e), e
try:
    fs.ls("dbfs:/missing")
    raise AssertionError("a missing path was listed")
except Exception as e:
    assert "/missing" in str(e), e
dbutils.notebook.exit("ok")
`)
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "fs", "notebook_task": {"notebook_path": "/Shared/fs"}}`), "run_id")
	run := pollRun(t, e, admin, "2.1", runID, 60*time.Second)
	out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, tasksOf(t, run)[0], "run_id")), nil)
	if nb, _ := out["notebook_output"].(map[string]any); stateOf(run) != "TERMINATED/SUCCESS" || nb["result"] != "ok" {
		t.Fatalf("run: %s %s", stateOf(run), asJSON(out))
	}
	for _, c := range []struct {
		path, want string
	}{
		{"/data/out/report.txt", "made by a task"},
		{"/data/moved.csv", "x,y\n1,2\n"},
		{"/data/in/a.csv", "x,y\n1,2\n"},
	} {
		got := call(t, e, admin, "GET", "/api/2.0/dbfs/read?path="+c.path, nil)
		if b, _ := base64.StdEncoding.DecodeString(fmt.Sprint(got["data"])); string(b) != c.want {
			t.Errorf("%s: %q; want %q", c.path, b, c.want)
		}
	}
	for path, status := range map[string]int{"/data/copy": 200, "/data/copy/a.csv": 404, "/data/empty": 404} {
		if r := e.Do(t, "GET", "/api/2.0/dbfs/get-status?path="+path, admin, nil); r.Status != status {
			t.Errorf("get-status %s: %d; want %d", path, r.Status, status)
		}
	}
}

// TestTaskValues: dbutils.jobs.taskValues passes values from a task to
// the tasks after it in the same run, as JSON; a key never set is the
// caller's default, or a ValueError without one.
func TestTaskValues(t *testing.T) {
	e, admin := jobsEnv(t)
	importNotebook(t, e, admin, "/Shared/produce", `dbutils.jobs.taskValues.set("rows", 42)
dbutils.jobs.taskValues.set("meta", {"day": "2024-01-02", "ok": True, "tags": ["a", "b"]})
dbutils.jobs.taskValues.set("rows", 43)
try:
    dbutils.jobs.taskValues.set("bad", object())
    raise AssertionError("a value that is not JSON was stored")
except TypeError:
    pass
`)
	importNotebook(t, e, admin, "/Shared/consume", `import json
tv = dbutils.jobs.taskValues
rows = tv.get(taskKey="produce", key="rows", default=0, debugValue=7)
meta = tv.get("produce", "meta")
fallback = tv.get("produce", "absent", default="fallback")
try:
    tv.get("produce", "absent")
    raise AssertionError("a missing key without a default was answered")
except ValueError as e:
    assert "absent" in str(e), e
try:
    tv.get("nosuchtask", "rows", default=1)
    raise AssertionError("a task that is not in the run was answered")
except ValueError as e:
    assert "nosuchtask" in str(e), e
dbutils.notebook.exit(json.dumps([rows, meta, fallback], sort_keys=True))
`)
	importNotebook(t, e, admin, "/Shared/refer", `import json
dbutils.notebook.exit(json.dumps([dbutils.widgets.get("rows"), json.loads(dbutils.widgets.get("meta"))["day"], dbutils.widgets.get("unset")]))
`)
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "tv", "tasks": [
		{"task_key": "produce", "notebook_task": {"notebook_path": "/Shared/produce"}},
		{"task_key": "consume", "depends_on": [{"task_key": "produce"}], "notebook_task": {"notebook_path": "/Shared/consume"}},
		{"task_key": "refer", "depends_on": [{"task_key": "produce"}], "notebook_task": {"notebook_path": "/Shared/refer",
			"base_parameters": {"rows": "{{tasks.produce.values.rows}}", "meta": "{{ tasks.produce.values.meta }}", "unset": "{{tasks.produce.values.nothing}}"}}}]}`), "run_id")
	run := pollRun(t, e, admin, "2.1", runID, 60*time.Second)
	if stateOf(run) != "TERMINATED/SUCCESS" {
		t.Fatalf("run: %s", asJSON(run))
	}
	for _, task := range tasksOf(t, run) {
		want := map[string]string{
			"consume": `[43, {"day": "2024-01-02", "ok": true, "tags": ["a", "b"]}, "fallback"]`,
			// References resolve once the task before has run; one to a
			// value never set stays as written.
			"refer": `["43", "2024-01-02", "{{tasks.produce.values.nothing}}"]`,
		}[task["task_key"].(string)]
		if want == "" {
			continue
		}
		out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, task, "run_id")), nil)
		if nb, _ := out["notebook_output"].(map[string]any); nb["result"] != want {
			t.Errorf("%s's output %v; want %s", task["task_key"], out["notebook_output"], want)
		}
	}
}

// taskRunIDsInOrder are a run's tasks as "key/attempt/run_id", in the order
// they are listed.
func taskRunIDsInOrder(run map[string]any) []string {
	var out []string
	tasks, _ := run["tasks"].([]any)
	for _, t := range tasks {
		m := t.(map[string]any)
		out = append(out, fmt.Sprintf("%v/%v/%v", m["task_key"], m["attempt_number"], m["run_id"]))
	}
	return out
}
