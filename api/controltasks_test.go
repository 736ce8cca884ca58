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
