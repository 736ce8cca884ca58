package api_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/server"
)

// foreachEnv is jobsEnv with a longer lease: a for_each task holds its
// lease while its iterations run, and on a loaded test machine a 3s lease
// can run out between renewals.
func foreachEnv(t *testing.T) (*kilntest.Env, string) {
	return jobsEnv(t, func(c *server.Config) {
		prev := c.Runner
		c.Runner = func(rc *runner.Config) {
			prev(rc)
			rc.LeaseTTL = 15 * time.Second
		}
	})
}

// iterationsOf reads runs/get on a for_each task's run id: its iterations
// and its task_run_stats.
func iterationsOf(t *testing.T, run map[string]any, get func(id int64) map[string]any, key string) ([]map[string]any, map[string]any) {
	t.Helper()
	for _, task := range tasksOf(t, run) {
		if task["task_key"] != key {
			continue
		}
		fe, _ := task["for_each_task"].(map[string]any)
		stats, _ := fe["stats"].(map[string]any)
		trs, _ := stats["task_run_stats"].(map[string]any)
		asRun := get(idOf(t, task, "run_id"))
		var iters []map[string]any
		raw, _ := asRun["iterations"].([]any)
		for _, x := range raw {
			iters = append(iters, x.(map[string]any))
		}
		return iters, trs
	}
	t.Fatalf("no task %s in %s", key, asJSON(run))
	return nil, nil
}

// maxOverlap is the most intervals [start_time, end_time) open at once.
func maxOverlap(t *testing.T, iters []map[string]any) int {
	type ev struct {
		at    float64
		delta int
	}
	var evs []ev
	for _, it := range iters {
		s, _ := it["start_time"].(float64)
		e, _ := it["end_time"].(float64)
		if s == 0 || e == 0 {
			t.Fatalf("iteration without times: %v", it)
		}
		evs = append(evs, ev{s, 1}, ev{e, -1})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].delta < evs[j].delta // an end before a start at the same instant
	})
	open, most := 0, 0
	for _, v := range evs {
		open += v.delta
		most = max(most, open)
	}
	return most
}

func TestForEachLiteralWithConcurrency(t *testing.T) {
	e, tok := foreachEnv(t)
	importNotebook(t, e, tok, "/Shared/each", `import time
v = dbutils.widgets.get("v")
print("processing", v)
time.sleep(0.4)
dbutils.notebook.exit("done " + v)
`)
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "loop", "tasks": [
		{"task_key": "loop", "for_each_task": {"inputs": "[\"a\", \"b\", \"c\", \"d\", \"e\"]", "concurrency": 2,
			"task": {"task_key": "loop_iteration", "notebook_task": {"notebook_path": "/Shared/each", "base_parameters": {"v": "{{input}}"}}}}}]}`), "run_id")
	run := pollRun(t, e, tok, "2.1", runID, 90*time.Second)
	if stateOf(run) != "TERMINATED/SUCCESS" {
		t.Fatalf("run: %s", asJSON(run))
	}
	if n := len(tasksOf(t, run)); n != 1 {
		t.Errorf("runs/get lists %d tasks, want the for_each task alone: %s", n, asJSON(run))
	}
	get := func(id int64) map[string]any {
		return call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", id), nil)
	}
	iters, stats := iterationsOf(t, run, get, "loop")
	want := map[string]float64{"total_iterations": 5, "scheduled_iterations": 5, "active_iterations": 0,
		"completed_iterations": 5, "succeeded_iterations": 5, "failed_iterations": 0}
	for k, v := range want {
		if stats[k] != v {
			t.Errorf("task_run_stats.%s = %v, want %v (%v)", k, stats[k], v, stats)
		}
	}
	if len(iters) != 5 {
		t.Fatalf("%d iterations: %s", len(iters), asJSON(iters))
	}
	for i, it := range iters {
		in := string(rune('a' + i))
		if it["task_key"] != "loop_iteration" || it["iteration"] != float64(i) || stateOf(it) != "TERMINATED/SUCCESS" {
			t.Errorf("iteration %d: %s", i, asJSON(it))
		}
		out := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, it, "run_id")), nil)
		if nb, _ := out["notebook_output"].(map[string]any); nb["result"] != "done "+in {
			t.Errorf("iteration %d output %v, want done %s", i, out["notebook_output"], in)
		}
		if logs, _ := out["logs"].(string); !strings.Contains(logs, "processing "+in) {
			t.Errorf("iteration %d logs %q", i, logs)
		}
	}
	if n := maxOverlap(t, iters); n != 2 {
		t.Errorf("at most %d iterations ran at once; want 2 (concurrency 2, 4 executors)", n)
	}
}

func TestForEachOverTaskValueReference(t *testing.T) {
	e, tok := foreachEnv(t)
	importNotebook(t, e, tok, "/Shared/list", `dbutils.jobs.taskValues.set("items", [{"name": "x", "n": 1}, {"name": "y", "n": 2}])
dbutils.jobs.taskValues.set("notalist", "oops")
`)
	importNotebook(t, e, tok, "/Shared/item", `dbutils.notebook.exit(dbutils.widgets.get("name") + ":" + dbutils.widgets.get("n") + ":" + dbutils.widgets.get("env"))
`)
	jobID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create", `{"name": "fanout", "parameters": [{"name": "env", "default": "dev"}], "tasks": [
		{"task_key": "list", "notebook_task": {"notebook_path": "/Shared/list"}},
		{"task_key": "each", "depends_on": [{"task_key": "list"}], "for_each_task": {"inputs": "{{tasks.list.values.items}}",
			"task": {"task_key": "each_item", "notebook_task": {"notebook_path": "/Shared/item",
				"base_parameters": {"name": "{{input.name}}", "n": "{{input.n}}"}}}}},
		{"task_key": "bad", "depends_on": [{"task_key": "list"}], "for_each_task": {"inputs": "{{tasks.list.values.notalist}}",
			"task": {"task_key": "bad_item", "notebook_task": {"notebook_path": "/Shared/item"}}}}]}`), "job_id")
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/run-now", fmt.Sprintf(`{"job_id": %d, "job_parameters": {"env": "prod"}}`, jobID)), "run_id")
	run := pollRun(t, e, tok, "2.1", runID, 90*time.Second)
	get := func(id int64) map[string]any {
		return call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", id), nil)
	}
	iters, stats := iterationsOf(t, run, get, "each")
	if len(iters) != 2 || stats["succeeded_iterations"] != 2.0 {
		t.Fatalf("iterations %s, stats %v", asJSON(iters), stats)
	}
	for i, want := range []string{"x:1:prod", "y:2:prod"} {
		out := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, iters[i], "run_id")), nil)
		if nb, _ := out["notebook_output"].(map[string]any); nb["result"] != want {
			t.Errorf("iteration %d output %v, want %s", i, out["notebook_output"], want)
		}
	}
	// Inputs that resolve to something other than an array fail the task,
	// saying so.
	for _, task := range tasksOf(t, run) {
		if task["task_key"] != "bad" {
			continue
		}
		msg := task["state"].(map[string]any)["state_message"].(string)
		if stateOf(task) != "TERMINATED/FAILED" || !strings.Contains(msg, "not a JSON array") {
			t.Errorf("bad inputs: %s %q", stateOf(task), msg)
		}
	}
	if stateOf(run) != "TERMINATED/FAILED" {
		t.Errorf("run: %s", stateOf(run))
	}
}

func TestForEachIterationFailureFailsTheTask(t *testing.T) {
	e, tok := foreachEnv(t)
	importNotebook(t, e, tok, "/Shared/maybe", `v = dbutils.widgets.get("v")
if v == "2":
    raise ValueError("two is bad")
`)
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "loop", "tasks": [
		{"task_key": "loop", "for_each_task": {"inputs": "[1, 2, 3]", "concurrency": 3,
			"task": {"task_key": "it", "notebook_task": {"notebook_path": "/Shared/maybe", "base_parameters": {"v": "{{input}}"}}}}},
		{"task_key": "after", "depends_on": [{"task_key": "loop"}], "notebook_task": {"notebook_path": "/Shared/maybe", "base_parameters": {"v": "0"}}}]}`), "run_id")
	run := pollRun(t, e, tok, "2.1", runID, 90*time.Second)
	if stateOf(run) != "TERMINATED/FAILED" {
		t.Fatalf("run: %s", asJSON(run))
	}
	get := func(id int64) map[string]any {
		return call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", id), nil)
	}
	iters, stats := iterationsOf(t, run, get, "loop")
	if len(iters) != 3 || stats["failed_iterations"] != 1.0 || stats["succeeded_iterations"] != 2.0 || stats["completed_iterations"] != 3.0 {
		t.Errorf("stats %v", stats)
	}
	for _, task := range tasksOf(t, run) {
		want := map[string]string{"loop": "TERMINATED/FAILED", "after": "TERMINATED/UPSTREAM_FAILED"}[task["task_key"].(string)]
		if stateOf(task) != want {
			t.Errorf("%s: %s, want %s", task["task_key"], stateOf(task), want)
		}
	}
	if msg := run["state"].(map[string]any)["state_message"].(string); !strings.Contains(msg, "Task loop failed") || !strings.Contains(msg, "1 of 3 iterations") {
		t.Errorf("state_message %q", msg)
	}
}

func TestForEachRefusedAtCreate(t *testing.T) {
	e, tok := foreachEnv(t)
	for _, c := range []struct{ name, fe, want string }{
		{"nested for_each", `{"inputs": "[1]", "task": {"task_key": "inner", "for_each_task": {"inputs": "[1]", "task": {"task_key": "x", "notebook_task": {"notebook_path": "/a"}}}}}`, "cannot be another for_each_task"},
		{"not an array", `{"inputs": "{\"a\": 1}", "task": {"task_key": "x", "notebook_task": {"notebook_path": "/a"}}}`, "not a JSON array"},
		{"not JSON", `{"inputs": "[1, 2", "task": {"task_key": "x", "notebook_task": {"notebook_path": "/a"}}}`, "not a JSON array"},
		{"too many", `{"inputs": "[` + strings.Repeat("1,", 5000) + `1]", "task": {"task_key": "x", "notebook_task": {"notebook_path": "/a"}}}`, "at most 5000"},
		{"concurrency", `{"inputs": "[1]", "concurrency": 101, "task": {"task_key": "x", "notebook_task": {"notebook_path": "/a"}}}`, "between 1 and 100"},
		{"no inputs", `{"task": {"task_key": "x", "notebook_task": {"notebook_path": "/a"}}}`, "inputs is required"},
		{"no task", `{"inputs": "[1]"}`, "task is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(t, "POST", "/api/2.1/jobs/create", tok, `{"name": "x", "tasks": [{"task_key": "loop", "for_each_task": `+c.fe+`}]}`)
			if r.Status != 400 || errorCode(r) != "INVALID_PARAMETER_VALUE" || !strings.Contains(string(r.Body), c.want) {
				t.Errorf("%d %s; want 400 naming %q", r.Status, r.Body, c.want)
			}
		})
	}
}

func TestForEachCancel(t *testing.T) {
	e, tok := foreachEnv(t)
	importNotebook(t, e, tok, "/Shared/slow", "import time\ntime.sleep(60)\n")
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "loop", "tasks": [
		{"task_key": "loop", "for_each_task": {"inputs": "[1, 2, 3, 4]", "concurrency": 2,
			"task": {"task_key": "it", "notebook_task": {"notebook_path": "/Shared/slow"}}}}]}`), "run_id")
	get := func(id int64) map[string]any {
		return call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", id), nil)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		run := get(runID)
		tasks := tasksOf(t, run)
		fe, _ := tasks[0]["for_each_task"].(map[string]any)
		stats, _ := fe["stats"].(map[string]any)
		trs, _ := stats["task_run_stats"].(map[string]any)
		if trs["active_iterations"] == 2.0 && trs["total_iterations"] == 4.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two iterations never became active: %s", asJSON(run))
		}
		time.Sleep(50 * time.Millisecond)
	}
	started := time.Now()
	call(t, e, tok, "POST", "/api/2.1/jobs/runs/cancel", fmt.Sprintf(`{"run_id": %d}`, runID))
	run := pollRun(t, e, tok, "2.1", runID, 30*time.Second)
	if stateOf(run) != "TERMINATED/CANCELED" || time.Since(started) > 20*time.Second {
		t.Fatalf("run after cancel (%v): %s", time.Since(started), asJSON(run))
	}
	iters, stats := iterationsOf(t, run, get, "loop")
	for _, it := range iters {
		if stateOf(it) != "TERMINATED/CANCELED" {
			t.Errorf("iteration %v: %s", it["iteration"], stateOf(it))
		}
	}
	if stats["active_iterations"] != 0.0 || stats["succeeded_iterations"] != 0.0 || stats["completed_iterations"] != 4.0 {
		t.Errorf("stats after cancel %v", stats)
	}
}

func TestRetriedAttemptsEachHaveTheirOutput(t *testing.T) {
	e, tok := foreachEnv(t)
	importNotebook(t, e, tok, "/Shared/retry", `n = dbutils.widgets.get("n")
print("log of execution", n)
if n == "1":
    raise RuntimeError("first execution fails")
dbutils.notebook.exit("ok on " + n)
`)
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "retry", "tasks": [
		{"task_key": "flaky", "max_retries": 1, "min_retry_interval_millis": 0,
			"notebook_task": {"notebook_path": "/Shared/retry", "base_parameters": {"n": "{{task.execution_count}}"}}}]}`), "run_id")
	run := pollRun(t, e, tok, "2.1", runID, 60*time.Second)
	if stateOf(run) != "TERMINATED/SUCCESS" {
		t.Fatalf("run: %s", asJSON(run))
	}
	tasks := tasksOf(t, run)
	if len(tasks) != 2 {
		t.Fatalf("want both attempts listed: %s", asJSON(tasks))
	}
	for i, want := range []struct{ state, log, result string }{
		{"TERMINATED/FAILED", "log of execution 1", ""},
		{"TERMINATED/SUCCESS", "log of execution 2", "ok on 2"},
	} {
		task := tasks[i]
		if task["task_key"] != "flaky" || task["attempt_number"] != float64(i) || stateOf(task) != want.state {
			t.Errorf("attempt %d: %s", i, asJSON(task))
		}
		out := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, task, "run_id")), nil)
		logs, _ := out["logs"].(string)
		other := "log of execution " + map[int]string{0: "2", 1: "1"}[i]
		if !strings.Contains(logs, want.log) || strings.Contains(logs, other) {
			t.Errorf("attempt %d logs %q; want %q alone", i, logs, want.log)
		}
		nb, _ := out["notebook_output"].(map[string]any)
		if res, _ := nb["result"].(string); res != want.result {
			t.Errorf("attempt %d result %q, want %q", i, res, want.result)
		}
		if errText, _ := out["error"].(string); (i == 0) != strings.Contains(errText, "first execution fails") {
			t.Errorf("attempt %d error %q", i, errText)
		}
		meta, _ := out["metadata"].(map[string]any)
		if meta["attempt_number"] != float64(i) {
			t.Errorf("attempt %d metadata attempt_number %v", i, meta["attempt_number"])
		}
	}
	if tasks[0]["run_id"] == tasks[1]["run_id"] {
		t.Errorf("both attempts have run_id %v", tasks[0]["run_id"])
	}
}
