package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
)

// repairJob creates the job the repair tests run: a → b → c, a → e, and d
// alone; b (/Shared/flaky) fails while its widget "mode" is "fail", which
// the job parameter mode defaults to. It returns the job id.
func repairJob(t *testing.T, e *kilntest.Env, tok string) int64 {
	t.Helper()
	importNotebook(t, e, tok, "/Shared/ok", "dbutils.notebook.exit('ok')\n")
	importNotebook(t, e, tok, "/Shared/flaky", "mode = dbutils.widgets.get('mode')\nif mode == 'fail':\n    raise RuntimeError('asked to fail')\ndbutils.notebook.exit(mode)\n")
	nb := func(key, path string, deps ...string) map[string]any {
		task := map[string]any{"task_key": key, "notebook_task": map[string]any{"notebook_path": path}}
		var d []map[string]string
		for _, k := range deps {
			d = append(d, map[string]string{"task_key": k})
		}
		if d != nil {
			task["depends_on"] = d
		}
		return task
	}
	job := call(t, e, tok, "POST", "/api/2.1/jobs/create", map[string]any{
		"name":       "repairable",
		"parameters": []map[string]string{{"name": "mode", "default": "fail"}},
		"tasks": []map[string]any{nb("a", "/Shared/ok"), nb("b", "/Shared/flaky", "a"), nb("c", "/Shared/ok", "b"),
			nb("d", "/Shared/ok"), nb("e", "/Shared/ok", "a")},
	})
	return idOf(t, job, "job_id")
}

// failedJobRun runs the job to its failure and returns the run as
// runs/get shows it.
func failedJobRun(t *testing.T, e *kilntest.Env, tok string, jobID int64) map[string]any {
	t.Helper()
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": jobID}), "run_id")
	run := pollRun(t, e, tok, "2.1", runID, 2*time.Minute)
	if got := stateOf(run); got != "TERMINATED/FAILED" {
		t.Fatalf("run before the repair: %s", got)
	}
	want := map[string]string{"a": "TERMINATED/SUCCESS", "b": "TERMINATED/FAILED", "c": "TERMINATED/UPSTREAM_FAILED",
		"d": "TERMINATED/SUCCESS", "e": "TERMINATED/SUCCESS"}
	for _, task := range tasksOf(t, run) {
		if k := task["task_key"].(string); stateOf(task) != want[k] {
			t.Fatalf("task %s before the repair: %s", k, stateOf(task))
		}
	}
	return run
}

// taskRunIDs maps the task keys of a run to their task run ids.
func taskRunIDs(t *testing.T, run map[string]any) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, task := range tasksOf(t, run) {
		out[task["task_key"].(string)] = idOf(t, task, "run_id")
	}
	return out
}

// errorCode is the error_code of an error answer.
func errorCode(r kilntest.Response) string {
	var body struct {
		ErrorCode string `json:"error_code"`
	}
	json.Unmarshal(r.Body, &body)
	return body.ErrorCode
}

// TestRepairRun: runs/repair reruns the chosen failed tasks and their
// dependents under new task run ids while the other tasks keep their
// results, applies the repair's parameters, and ends with a result over
// every task; runs/get shows the repair history as Databricks does.
func TestRepairRun(t *testing.T) {
	e, admin := jobsEnv(t)
	jobID := repairJob(t, e, admin)
	cases := []struct {
		name, version string
		body          map[string]any
		rerun         []string // the tasks that get new attempts
		want          string   // the run's state after the repair
		output        string   // b's notebook_output.result after the repair; "" when it failed
	}{
		{"failed task and its dependent, notebook_params", "2.1",
			map[string]any{"rerun_tasks": []string{"b"}, "notebook_params": map[string]string{"mode": "ok"}},
			[]string{"b", "c"}, "TERMINATED/SUCCESS", "ok"},
		{"all failed tasks, job_parameters", "2.2",
			map[string]any{"rerun_all_failed_tasks": true, "job_parameters": map[string]string{"mode": "fine"}},
			[]string{"b", "c"}, "TERMINATED/SUCCESS", "fine"},
		{"all failed tasks, same parameters, fails again", "2.0",
			map[string]any{"rerun_all_failed_tasks": true},
			[]string{"b", "c"}, "TERMINATED/FAILED", ""},
		{"succeeded task with rerun_dependent_tasks", "2.1",
			map[string]any{"rerun_tasks": []string{"a"}, "rerun_dependent_tasks": true, "notebook_params": map[string]string{"mode": "again"}},
			[]string{"a", "b", "c", "e"}, "TERMINATED/SUCCESS", "again"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := failedJobRun(t, e, admin, jobID)
			runID := idOf(t, before, "run_id")
			old := taskRunIDs(t, before)
			hist := call(t, e, admin, "GET", fmt.Sprintf("/api/%s/jobs/runs/get?run_id=%d&include_history=true", c.version, runID), nil)
			if h, _ := hist["repair_history"].([]any); len(h) != 1 || h[0].(map[string]any)["type"] != "ORIGINAL" {
				t.Fatalf("history before any repair: %v", hist["repair_history"])
			} else if _, ok := h[0].(map[string]any)["id"]; ok {
				t.Errorf("the ORIGINAL item has an id: %v", h[0])
			}
			if _, ok := hist["latest_repair_id"]; ok {
				t.Errorf("latest_repair_id before any repair: %v", hist["latest_repair_id"])
			}

			body := map[string]any{"run_id": runID}
			for k, v := range c.body {
				body[k] = v
			}
			repairID := idOf(t, call(t, e, admin, "POST", "/api/"+c.version+"/jobs/runs/repair", body), "repair_id")
			after := pollRun(t, e, admin, "2.1", runID, 2*time.Minute)
			if got := stateOf(after); got != c.want {
				t.Fatalf("run after the repair: %s", got)
			}
			now := taskRunIDs(t, after)
			var rerun []string
			for k, id := range now {
				if id != old[k] {
					rerun = append(rerun, k)
				}
			}
			sort.Strings(rerun)
			if !slices.Equal(rerun, c.rerun) {
				t.Errorf("tasks with new attempts: %v, want %v (before %v, after %v)", rerun, c.rerun, old, now)
			}
			for _, task := range tasksOf(t, after) {
				if k := task["task_key"].(string); !slices.Contains(c.rerun, k) && stateOf(task) != "TERMINATED/SUCCESS" {
					t.Errorf("kept task %s: %s", k, stateOf(task))
				}
			}

			got := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d&include_history=true", runID), nil)
			if idOf(t, got, "latest_repair_id") != repairID {
				t.Errorf("latest_repair_id %v, want %d", got["latest_repair_id"], repairID)
			}
			h, _ := got["repair_history"].([]any)
			if len(h) != 2 {
				t.Fatalf("repair_history: %v", asJSON(got["repair_history"]))
			}
			orig, rep := h[0].(map[string]any), h[1].(map[string]any)
			wantIDs := func(keys []string, ids map[string]int64) []any {
				var out []any
				for _, k := range []string{"a", "b", "c", "d", "e"} {
					if slices.Contains(keys, k) {
						out = append(out, float64(ids[k]))
					}
				}
				return out
			}
			if orig["type"] != "ORIGINAL" || stateOf(orig) != "TERMINATED/FAILED" || idOf(t, orig, "start_time") != idOf(t, before, "start_time") ||
				idOf(t, orig, "end_time") != idOf(t, before, "end_time") ||
				asJSON(orig["task_run_ids"]) != asJSON(wantIDs([]string{"a", "b", "c", "d", "e"}, old)) {
				t.Errorf("ORIGINAL item: %s", asJSON(orig))
			}
			if rep["type"] != "REPAIR" || idOf(t, rep, "id") != repairID || stateOf(rep) != c.want ||
				idOf(t, rep, "start_time") < idOf(t, orig, "end_time") || idOf(t, rep, "end_time") != idOf(t, after, "end_time") ||
				asJSON(rep["task_run_ids"]) != asJSON(wantIDs(c.rerun, now)) {
				t.Errorf("REPAIR item: %s", asJSON(rep))
			}
			if st, _ := rep["status"].(map[string]any); st["state"] != "TERMINATED" || st["termination_details"] == nil {
				t.Errorf("REPAIR status: %v", rep["status"])
			}

			// The parameters reached the rerun task; its failed attempt is
			// still there under its old id.
			out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", now["b"]), nil)
			nbOut, _ := out["notebook_output"].(map[string]any)
			if res, _ := nbOut["result"].(string); res != c.output {
				t.Errorf("b's output after the repair: %v (error %v)", out["notebook_output"], out["error"])
			}
			prev := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", old["b"]), nil)
			if fmt.Sprint(prev["error"]) == "" || stateOf(prev["metadata"].(map[string]any)) != "TERMINATED/FAILED" {
				t.Errorf("b's first attempt: %v", prev)
			}
		})
	}
}

// TestRepairRunRefusals: latest_repair_id guards against concurrent
// repairs, an active run cannot be repaired, bad requests are refused,
// and repairing needs CAN_MANAGE_RUN on the job; refusals change
// nothing, and each repair is audited.
func TestRepairRunRefusals(t *testing.T) {
	e, admin := jobsEnv(t)
	jobID := repairJob(t, e, admin)
	for _, u := range []string{"viewer@example.com", "runner@example.com", "stranger@example.com"} {
		e.NewUser(t, u, false)
	}
	call(t, e, admin, "PATCH", fmt.Sprintf("/api/2.0/permissions/jobs/%d", jobID), map[string]any{"access_control_list": []map[string]any{
		{"user_name": "viewer@example.com", "permission_level": "CAN_VIEW"},
		{"user_name": "runner@example.com", "permission_level": "CAN_MANAGE_RUN"},
	}})
	viewer, runner, stranger := e.Token(t, "viewer@example.com", 0), e.Token(t, "runner@example.com", 0), e.Token(t, "stranger@example.com", 0)

	runID := idOf(t, failedJobRun(t, e, admin, jobID), "run_id")
	first := idOf(t, call(t, e, runner, "POST", "/api/2.1/jobs/runs/repair", map[string]any{"run_id": runID, "rerun_all_failed_tasks": true}), "repair_id")
	pollRun(t, e, admin, "2.1", runID, 2*time.Minute)

	importNotebook(t, e, admin, "/Shared/slow", "import time\ntime.sleep(60)\n")
	slow := call(t, e, admin, "POST", "/api/2.1/jobs/runs/submit", map[string]any{"run_name": "slow",
		"tasks": []map[string]any{{"task_key": "s", "notebook_task": map[string]any{"notebook_path": "/Shared/slow"}}}})
	slowID := idOf(t, slow, "run_id")
	t.Cleanup(func() { e.Do(t, "POST", "/api/2.1/jobs/runs/cancel", admin, map[string]any{"run_id": slowID}) })

	repairBody := func(extra string) string { return fmt.Sprintf(`{"run_id": %d%s}`, runID, extra) }
	cases := []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"a repaired run without latest_repair_id", admin, repairBody(`, "rerun_all_failed_tasks": true`), 400, "INVALID_PARAMETER_VALUE"},
		{"a stale latest_repair_id", admin, repairBody(fmt.Sprintf(`, "rerun_all_failed_tasks": true, "latest_repair_id": %d`, first+1)), 400, "INVALID_PARAMETER_VALUE"},
		{"an active run", admin, fmt.Sprintf(`{"run_id": %d, "rerun_all_failed_tasks": true}`, slowID), 400, "INVALID_STATE_FOR_RUN"},
		{"no tasks chosen", admin, repairBody(fmt.Sprintf(`, "latest_repair_id": %d`, first)), 400, "INVALID_PARAMETER_VALUE"},
		{"both rerun_tasks and rerun_all_failed_tasks", admin, repairBody(fmt.Sprintf(`, "rerun_tasks": ["b"], "rerun_all_failed_tasks": true, "latest_repair_id": %d`, first)), 400, "INVALID_PARAMETER_VALUE"},
		{"an unknown task", admin, repairBody(fmt.Sprintf(`, "rerun_tasks": ["zz"], "latest_repair_id": %d`, first)), 400, "INVALID_PARAMETER_VALUE"},
		{"a missing run", admin, `{"run_id": 1, "rerun_all_failed_tasks": true}`, 400, "INVALID_PARAMETER_VALUE"},
		{"CAN_VIEW only", viewer, repairBody(fmt.Sprintf(`, "rerun_all_failed_tasks": true, "latest_repair_id": %d`, first)), 403, "PERMISSION_DENIED"},
		{"no permission: the run does not exist", stranger, repairBody(fmt.Sprintf(`, "rerun_all_failed_tasks": true, "latest_repair_id": %d`, first)), 400, "INVALID_PARAMETER_VALUE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(t, "POST", "/api/2.1/jobs/runs/repair", c.token, c.body)
			if r.Status != c.status || errorCode(r) != c.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
		})
	}
	// Nothing changed: one repair in the history.
	got := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d&include_history=true", runID), nil)
	if h, _ := got["repair_history"].([]any); len(h) != 2 || idOf(t, got, "latest_repair_id") != first {
		t.Fatalf("history after refusals: %s", asJSON(got["repair_history"]))
	}
	// With the latest id, the next repair is accepted and closes the first.
	second := idOf(t, call(t, e, runner, "POST", "/api/2.1/jobs/runs/repair",
		map[string]any{"run_id": runID, "rerun_all_failed_tasks": true, "latest_repair_id": first}), "repair_id")
	pollRun(t, e, admin, "2.1", runID, 2*time.Minute)
	got = call(t, e, viewer, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d&include_history=true", runID), nil)
	h, _ := got["repair_history"].([]any)
	if len(h) != 3 || idOf(t, h[1].(map[string]any), "id") != first || idOf(t, h[2].(map[string]any), "id") != second ||
		stateOf(h[1].(map[string]any)) != "TERMINATED/FAILED" || idOf(t, got, "latest_repair_id") != second {
		t.Fatalf("history after the second repair: %s", asJSON(h))
	}

	var audit auditList
	r := e.Do(t, "GET", "/api/kiln/v1/audit?action=jobs.repairRun", admin, nil)
	json.Unmarshal(r.Body, &audit)
	if len(audit.Events) != 2 || audit.Events[0].ActorName != "runner@example.com" || audit.Events[0].Target != fmt.Sprintf("run:%d", runID) ||
		audit.Events[0].Detail["rerun_tasks"] != "b,c" {
		t.Fatalf("audit: %s", r.Body)
	}
}
