package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
)

// taskByKey returns the task of a run with the given key.
func taskByKey(t *testing.T, run map[string]any, key string) map[string]any {
	t.Helper()
	for _, task := range tasksOf(t, run) {
		if task["task_key"] == key {
			return task
		}
	}
	t.Fatalf("run has no task %s: %s", key, asJSON(run))
	return nil
}

// taskStates renders the key=life_cycle/result of each task of a run.
func taskStates(t *testing.T, run map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, task := range tasksOf(t, run) {
		out[task["task_key"].(string)] = stateOf(task)
	}
	return out
}

// taskOutput returns runs/get-output of a task run.
func taskOutput(t *testing.T, e *kilntest.Env, tok string, task map[string]any) map[string]any {
	t.Helper()
	return call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, task, "run_id")), nil)
}

// TestConditionTaskBranches: a condition_task compares a task value set
// by a notebook with a job parameter, on the server; the branch that
// depends on the outcome it reached runs, the other is EXCLUDED, and a
// task joining both runs.
func TestConditionTaskBranches(t *testing.T) {
	e, admin := jobsEnv(t)
	importNotebook(t, e, admin, "/Shared/count", `dbutils.jobs.taskValues.set("rows", 42)`)
	importNotebook(t, e, admin, "/Shared/branch", `dbutils.notebook.exit(dbutils.widgets.get("which"))`)
	job := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/create", `{"name": "branching",
		"parameters": [{"name": "threshold", "default": "10"}],
		"tasks": [
			{"task_key": "count", "notebook_task": {"notebook_path": "/Shared/count"}},
			{"task_key": "enough", "depends_on": [{"task_key": "count"}],
				"condition_task": {"op": "GREATER_THAN", "left": "{{tasks.count.values.rows}}", "right": "{{job.parameters.threshold}}"}},
			{"task_key": "yes", "depends_on": [{"task_key": "enough", "outcome": "true"}],
				"notebook_task": {"notebook_path": "/Shared/branch", "base_parameters": {"which": "yes"}}},
			{"task_key": "no", "depends_on": [{"task_key": "enough", "outcome": "false"}],
				"condition_task": {"op": "EQUAL_TO", "left": "x", "right": "x"}},
			{"task_key": "after", "depends_on": [{"task_key": "yes"}, {"task_key": "no"}],
				"condition_task": {"op": "NOT_EQUAL", "left": "{{job.parameters.threshold}}", "right": 10}}]}`), "job_id")
	for _, c := range []struct {
		threshold, outcome string
		states             map[string]string
		afterOutcome       string
	}{
		{"10", "true", map[string]string{"count": "TERMINATED/SUCCESS", "enough": "TERMINATED/SUCCESS",
			"yes": "TERMINATED/SUCCESS", "no": "TERMINATED/EXCLUDED", "after": "TERMINATED/SUCCESS"}, "false"},
		{"100", "false", map[string]string{"count": "TERMINATED/SUCCESS", "enough": "TERMINATED/SUCCESS",
			"yes": "TERMINATED/EXCLUDED", "no": "TERMINATED/SUCCESS", "after": "TERMINATED/SUCCESS"}, "true"},
	} {
		t.Run("threshold="+c.threshold, func(t *testing.T) {
			runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/run-now",
				map[string]any{"job_id": job, "job_parameters": map[string]string{"threshold": c.threshold}}), "run_id")
			run := pollRun(t, e, admin, "2.1", runID, 60*time.Second)
			if stateOf(run) != "TERMINATED/SUCCESS" {
				t.Fatalf("run: %s", asJSON(run))
			}
			if got := taskStates(t, run); asJSON(got) != asJSON(c.states) {
				t.Errorf("tasks: %v, want %v", got, c.states)
			}
			enough := taskByKey(t, run, "enough")
			ct, _ := enough["condition_task"].(map[string]any)
			if ct["outcome"] != c.outcome || ct["op"] != "GREATER_THAN" || ct["left"] != "{{tasks.count.values.rows}}" {
				t.Errorf("enough's condition_task: %v, want outcome %s", ct, c.outcome)
			}
			if _, ok := enough["cluster_instance"]; ok {
				t.Errorf("a condition task shows a cluster: %v", enough["cluster_instance"])
			}
			after, _ := taskByKey(t, run, "after")["condition_task"].(map[string]any)
			if after["outcome"] != c.afterOutcome || after["right"] != "10" {
				t.Errorf("after's condition_task: %v, want outcome %s (right canonicalised to a string)", after, c.afterOutcome)
			}
			excluded := map[string]string{"true": "no", "false": "yes"}[c.outcome]
			if st := taskByKey(t, run, excluded)["state"].(map[string]any); st["state_message"] != kiln.MsgExcludedByCondition {
				t.Errorf("%s's state: %v", excluded, st)
			}
		})
	}
}

// TestConditionTaskFailures: a condition whose operands cannot be
// compared fails (its dependents are UPSTREAM_FAILED, a failure handler
// runs); a reference without a value fails rather than being compared as
// text.
func TestConditionTaskFailures(t *testing.T) {
	e, admin := jobsEnv(t)
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "bad conditions", "tasks": [
		{"task_key": "nan", "condition_task": {"op": "LESS_THAN", "left": "abc", "right": "3"}},
		{"task_key": "unset", "condition_task": {"op": "EQUAL_TO", "left": "{{tasks.nan.values.x}}", "right": "3"}},
		{"task_key": "numeric", "condition_task": {"op": "GREATER_THAN_OR_EQUAL", "left": "12.0", "right": "12"}},
		{"task_key": "then", "depends_on": [{"task_key": "nan", "outcome": "true"}], "condition_task": {"op": "EQUAL_TO", "left": "a", "right": "a"}},
		{"task_key": "handler", "depends_on": [{"task_key": "nan"}], "run_if": "AT_LEAST_ONE_FAILED",
			"condition_task": {"op": "EQUAL_TO", "left": "12.0", "right": "12"}}]}`), "run_id")
	run := pollRun(t, e, admin, "2.1", runID, 30*time.Second)
	want := map[string]string{"nan": "TERMINATED/FAILED", "unset": "TERMINATED/FAILED", "numeric": "TERMINATED/SUCCESS",
		"then": "TERMINATED/UPSTREAM_FAILED", "handler": "TERMINATED/SUCCESS"}
	if got := taskStates(t, run); asJSON(got) != asJSON(want) || stateOf(run) != "TERMINATED/FAILED" {
		t.Fatalf("run %s, tasks %v; want FAILED with %v", stateOf(run), got, want)
	}
	for key, msg := range map[string]string{"nan": `compares numbers, and "abc" is not a number`,
		"unset": "{{tasks.nan.values.x}} has no value"} {
		if out := taskOutput(t, e, admin, taskByKey(t, run, key)); !strings.Contains(fmt.Sprint(out["error"]), msg) {
			t.Errorf("%s's error: %v, want %q", key, out["error"], msg)
		}
	}
	for key, outcome := range map[string]string{"numeric": "true", "handler": "false"} {
		if ct := taskByKey(t, run, key)["condition_task"].(map[string]any); ct["outcome"] != outcome {
			t.Errorf("%s's outcome: %v, want %s", key, ct["outcome"], outcome)
		}
	}
}

// TestControlTaskValidation: bad condition_task, run_job_task and
// depends_on outcomes are 400 INVALID_PARAMETER_VALUE naming the fault.
func TestControlTaskValidation(t *testing.T) {
	e, tok := jobsEnv(t)
	cond := `{"task_key": "c", "condition_task": {"op": "EQUAL_TO", "left": "a", "right": "b"}}`
	for _, c := range []struct{ name, body, msg string }{
		{"NoOp", `{"tasks": [{"task_key": "c", "condition_task": {"left": "a", "right": "b"}}]}`, "condition_task.op is required"},
		{"BadOp", `{"tasks": [{"task_key": "c", "condition_task": {"op": "LIKE", "left": "a", "right": "b"}}]}`, `"LIKE" is not one of EQUAL_TO`},
		{"NoRight", `{"tasks": [{"task_key": "c", "condition_task": {"op": "EQUAL_TO", "left": "a"}}]}`, "left and condition_task.right are required"},
		{"Retried", `{"tasks": [{"task_key": "c", "max_retries": 2, "condition_task": {"op": "EQUAL_TO", "left": "a", "right": "b"}}]}`, "cannot be retried"},
		{"OutcomeOnNotebook", `{"tasks": [{"task_key": "n", "notebook_task": {"notebook_path": "/x"}},
			{"task_key": "d", "depends_on": [{"task_key": "n", "outcome": "true"}], "notebook_task": {"notebook_path": "/y"}}]}`, "only a dependency on a condition_task"},
		{"BadOutcome", `{"tasks": [` + cond + `, {"task_key": "d", "depends_on": [{"task_key": "c", "outcome": "yes"}], "notebook_task": {"notebook_path": "/y"}}]}`, `use "true" or "false"`},
		{"NoJobID", `{"tasks": [{"task_key": "r", "run_job_task": {"job_parameters": {"a": "b"}}}]}`, "run_job_task.job_id is required"},
		{"LegacyParams", `{"tasks": [{"task_key": "r", "run_job_task": {"job_id": 5, "notebook_params": {"a": "b"}}}]}`, "job_parameters only, not notebook_params"},
		{"BadJobID", `{"tasks": [{"task_key": "r", "run_job_task": {"job_id": "five"}}]}`, "job_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.Do(t, "POST", "/api/2.1/jobs/create", tok, c.body), 400, "INVALID_PARAMETER_VALUE", c.msg)
			wantError(t, e.Do(t, "POST", "/api/2.1/jobs/runs/submit", tok, c.body), 400, "INVALID_PARAMETER_VALUE", c.msg)
		})
	}
}

// childRunOf returns the run a run_job_task triggered, as its
// get-output's run_job_output names it.
func childRunOf(t *testing.T, e *kilntest.Env, tok string, task map[string]any) int64 {
	t.Helper()
	out := taskOutput(t, e, tok, task)
	rjo, _ := out["run_job_output"].(map[string]any)
	if rjo == nil {
		t.Fatalf("get-output of %v has no run_job_output: %s", task["task_key"], asJSON(out))
	}
	return idOf(t, rjo, "run_id")
}

// TestRunJobTask: a run_job_task runs another job with job parameters
// (references resolved), waits for it and ends as it does; the child run
// says what triggered it, and a failed child fails the task.
func TestRunJobTask(t *testing.T) {
	e, admin := jobsEnv(t)
	importNotebook(t, e, admin, "/Shared/child", `day = dbutils.widgets.get("day")
if day == "never":
    raise ValueError("no such day")
dbutils.notebook.exit("child ran for " + day)`)
	child := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/create", `{"name": "child",
		"parameters": [{"name": "day", "default": "monday"}],
		"tasks": [{"task_key": "work", "notebook_task": {"notebook_path": "/Shared/child"}}]}`), "job_id")
	parent := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/create", fmt.Sprintf(`{"name": "parent",
		"parameters": [{"name": "when", "default": "tuesday"}],
		"tasks": [{"task_key": "call", "run_job_task": {"job_id": %d, "job_parameters": {"day": "{{job.parameters.when}}"}}}]}`, child)), "job_id")

	runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": parent,
		"job_parameters": map[string]string{"when": "friday"}}), "run_id")
	run := pollRun(t, e, admin, "2.1", runID, 60*time.Second)
	if stateOf(run) != "TERMINATED/SUCCESS" {
		t.Fatalf("parent run: %s", asJSON(run))
	}
	task := taskByKey(t, run, "call")
	if rj, _ := task["run_job_task"].(map[string]any); rj["job_id"] != float64(child) {
		t.Errorf("the task's run_job_task: %v", task["run_job_task"])
	}
	if _, ok := task["cluster_instance"]; ok {
		t.Errorf("a run_job_task shows a cluster: %v", task["cluster_instance"])
	}
	childID := childRunOf(t, e, admin, task)
	if out := taskOutput(t, e, admin, task); !strings.Contains(fmt.Sprint(out["logs"]), fmt.Sprintf("Triggered run %d of job %d.", childID, child)) {
		t.Errorf("the task's logs: %q", out["logs"])
	}
	cr := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", childID), nil)
	ti, _ := cr["trigger_info"].(map[string]any)
	if stateOf(cr) != "TERMINATED/SUCCESS" || cr["job_id"] != float64(child) || cr["trigger"] != "RUN_JOB_TASK" ||
		ti["run_id"] != task["run_id"] || !strings.Contains(asJSON(cr["job_parameters"]), `"name":"day","value":"friday"`) {
		t.Errorf("child run: %s", asJSON(cr))
	}
	if out := taskOutput(t, e, admin, tasksOf(t, cr)[0]); out["notebook_output"].(map[string]any)["result"] != "child ran for friday" {
		t.Errorf("the child's output: %v", out["notebook_output"])
	}

	// A child that fails fails the task, which names it.
	runID = idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": parent,
		"job_parameters": map[string]string{"when": "never"}}), "run_id")
	run = pollRun(t, e, admin, "2.1", runID, 60*time.Second)
	task = taskByKey(t, run, "call")
	childID = childRunOf(t, e, admin, task)
	out := taskOutput(t, e, admin, task)
	if stateOf(run) != "TERMINATED/FAILED" || !strings.Contains(fmt.Sprint(out["error"]), fmt.Sprintf("The run %d of job %d ended FAILED", childID, child)) {
		t.Errorf("parent run %s, task error %v", stateOf(run), out["error"])
	}
	if cr := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", childID), nil); stateOf(cr) != "TERMINATED/FAILED" {
		t.Errorf("child run: %s", stateOf(cr))
	}
}

// TestRunJobTaskRecursionIsBounded: a job that runs itself nests
// kiln.MaxRunJobDepth runs deep, then its run_job_task fails with a clear
// error, and every run up the chain fails.
func TestRunJobTaskRecursionIsBounded(t *testing.T) {
	e, admin := jobsEnv(t)
	id := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/create", `{"name": "ouroboros",
		"tasks": [{"task_key": "again", "condition_task": {"op": "EQUAL_TO", "left": "a", "right": "a"}}]}`), "job_id")
	// With the default max_concurrent_runs (1) the run it triggers would
	// queue behind itself for ever: refused at once.
	call(t, e, admin, "POST", "/api/2.1/jobs/reset", fmt.Sprintf(`{"job_id": %d, "new_settings": {"name": "ouroboros",
		"tasks": [{"task_key": "again", "run_job_task": {"job_id": %d}}]}}`, id, id))
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": id}), "run_id")
	run := pollRun(t, e, admin, "2.1", runID, 30*time.Second)
	if out := taskOutput(t, e, admin, taskByKey(t, run, "again")); stateOf(run) != "TERMINATED/FAILED" ||
		!strings.Contains(fmt.Sprint(out["error"]), "allows 1 concurrent runs, and 1 of its runs are waiting for this task") {
		t.Fatalf("self-run with max_concurrent_runs 1: %s, error %v", stateOf(run), out["error"])
	}
	// With room for every level, the depth bound stops it.
	call(t, e, admin, "POST", "/api/2.1/jobs/reset", fmt.Sprintf(`{"job_id": %d, "new_settings": {"name": "ouroboros",
		"max_concurrent_runs": 10, "tasks": [{"task_key": "again", "run_job_task": {"job_id": %d}}]}}`, id, id))
	runID = idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": id}), "run_id")
	run = pollRun(t, e, admin, "2.1", runID, 60*time.Second)
	if stateOf(run) != "TERMINATED/FAILED" {
		t.Fatalf("top run: %s", asJSON(run))
	}
	depth := 0
	for {
		task := taskByKey(t, run, "again")
		out := taskOutput(t, e, admin, task)
		rjo, _ := out["run_job_output"].(map[string]any)
		if rjo == nil {
			if msg := fmt.Sprint(out["error"]); !strings.Contains(msg, fmt.Sprintf("already %d run_job_task triggers deep", kiln.MaxRunJobDepth)) {
				t.Errorf("the deepest task's error: %q", msg)
			}
			break
		}
		depth++
		if depth > kiln.MaxRunJobDepth {
			t.Fatalf("runs nest deeper than %d", kiln.MaxRunJobDepth)
		}
		run = call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", idOf(t, rjo, "run_id")), nil)
		if stateOf(run) != "TERMINATED/FAILED" {
			t.Errorf("run at depth %d: %s", depth, stateOf(run))
		}
	}
	if depth != kiln.MaxRunJobDepth {
		t.Errorf("runs nested %d deep, want %d", depth, kiln.MaxRunJobDepth)
	}
}

// TestRunJobTaskNeedsCanManageRun: the principal a run runs as needs
// CAN_MANAGE_RUN on the job its run_job_task runs, as for run-now: a job
// it cannot see does not exist, CAN_VIEW is not enough.
func TestRunJobTaskNeedsCanManageRun(t *testing.T) {
	e, admin := jobsEnv(t)
	bob := e.NewUser(t, "bob@example.com", false)
	bobTok := e.Token(t, bob.UserName, 0)
	target := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/create", `{"name": "admins only",
		"tasks": [{"task_key": "t", "condition_task": {"op": "EQUAL_TO", "left": "a", "right": "a"}}]}`), "job_id")
	caller := idOf(t, call(t, e, bobTok, "POST", "/api/2.1/jobs/create", fmt.Sprintf(`{"name": "bob's",
		"tasks": [{"task_key": "call", "run_job_task": {"job_id": %d}}]}`, target)), "job_id")
	perms := fmt.Sprintf("/api/2.0/permissions/jobs/%d", target)
	for _, c := range []struct{ grant, state, msg string }{
		{"", "TERMINATED/FAILED", fmt.Sprintf("Job %d does not exist.", target)},
		{"CAN_VIEW", "TERMINATED/FAILED", fmt.Sprintf("bob@example.com does not have Manage Run permissions on Job %d.", target)},
		{"CAN_MANAGE_RUN", "TERMINATED/SUCCESS", ""},
	} {
		if c.grant != "" {
			call(t, e, admin, "PATCH", perms, map[string]any{"access_control_list": []map[string]any{
				{"user_name": bob.UserName, "permission_level": c.grant}}})
		}
		runID := idOf(t, call(t, e, bobTok, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": caller}), "run_id")
		run := pollRun(t, e, bobTok, "2.1", runID, 30*time.Second)
		out := taskOutput(t, e, bobTok, taskByKey(t, run, "call"))
		if stateOf(run) != c.state || (c.msg != "" && !strings.Contains(fmt.Sprint(out["error"]), c.msg)) {
			t.Errorf("granted %q: run %s, error %v; want %s %q", c.grant, stateOf(run), out["error"], c.state, c.msg)
		}
	}
}

// TestRunJobTaskCancelCancelsTheChild: canceling the run of a
// run_job_task cancels the run it is waiting for.
func TestRunJobTaskCancelCancelsTheChild(t *testing.T) {
	e, admin := jobsEnv(t)
	importNotebook(t, e, admin, "/Shared/slow", "import time\ntime.sleep(60)\n")
	child := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/create", `{"name": "slow",
		"tasks": [{"task_key": "sleep", "notebook_task": {"notebook_path": "/Shared/slow"}}]}`), "job_id")
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/runs/submit", fmt.Sprintf(`{"run_name": "waits",
		"tasks": [{"task_key": "call", "run_job_task": {"job_id": %d}}]}`, child)), "run_id")
	// Wait until the child's notebook runs.
	var childID int64
	deadline := time.Now().Add(30 * time.Second)
	for childID == 0 {
		runs := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/list?job_id=%d&expand_tasks=true", child), nil)
		if list, _ := runs["runs"].([]any); len(list) == 1 {
			cr := list[0].(map[string]any)
			if stateOf(tasksOf(t, cr)[0]) == "RUNNING/<nil>" {
				childID = idOf(t, cr, "run_id")
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child run did not start: %s", asJSON(runs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	call(t, e, admin, "POST", "/api/2.1/jobs/runs/cancel", map[string]any{"run_id": runID})
	run := pollRun(t, e, admin, "2.1", runID, 30*time.Second)
	cr := pollRun(t, e, admin, "2.1", childID, 30*time.Second)
	if stateOf(run) != "TERMINATED/CANCELED" || stateOf(cr) != "TERMINATED/CANCELED" {
		t.Fatalf("parent %s, child %s; want both CANCELED", stateOf(run), stateOf(cr))
	}
	if got := childRunOf(t, e, admin, taskByKey(t, run, "call")); got != childID {
		t.Errorf("run_job_output names run %d, want %d", got, childID)
	}
	if msg := cr["state"].(map[string]any)["state_message"]; !strings.Contains(fmt.Sprint(msg), "the run_job_task") {
		t.Errorf("the child's state message: %v", msg)
	}
}
