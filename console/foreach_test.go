package console_test

import (
	"net/http"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/console"
)

// TestRunPageShowsAForEachTask: the run page lists the for_each task with
// its iterations summed up, the graph shows the job's tasks alone, and
// selecting the for_each task or one iteration lists the iterations.
func TestRunPageShowsAForEachTask(t *testing.T) {
	e := startJobsEnv(t)
	ana := e.newUser(t, "ana@example.com")
	ck := e.sessionFor(ana)
	home := "/Users/ana@example.com/"
	e.importNotebook(t, ana, home+"each", "v = dbutils.widgets.get(\"v\")\nif v == \"b\":\n    raise ValueError(\"no b\")\n")
	run := e.submitRun(t, ana, `{"run_name": "fan-out", "tasks": [{"task_key": "fan", "for_each_task": {"inputs": "[\"a\", \"b\", \"c\"]", "concurrency": 3,
		"task": {"task_key": "fan_item", "notebook_task": {"notebook_path": "`+home+`each", "base_parameters": {"v": "{{input}}"}}}}}]}`)
	run = e.waitRun(t, run.ID, "finished", finished)
	for _, it := range run.Tasks[1:] {
		if want := map[int]string{1: kiln.ResultFailed}[it.Iteration]; want == "" && it.ResultState != kiln.ResultSuccess || want != "" && it.ResultState != want {
			t.Fatalf("iteration %d ended %s %s: %s", it.Iteration, it.LifeCycleState, it.ResultState, it.StateMessage)
		}
	}
	if run.ResultState != kiln.ResultFailed || len(run.Tasks) != 4 {
		t.Fatalf("run ended %s with %d task runs: %s", run.ResultState, len(run.Tasks), run.StateMessage)
	}
	path := console.RunPath(run.JobID, run.ID)
	r := e.get(t, path, ck)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d", path, r.Status)
	}
	mustContain(t, r.Body, ">fan<", "For each", "3 iterations: 2 succeeded, 1 failed, 0 active", ">fan[0]<", ">fan[1]<", ">fan[2]<")
	iters := run.Iterations(run.Tasks[0].ID)
	r = e.get(t, path+"?task="+num(iters[1].ID), ck)
	if r.Status != http.StatusOK {
		t.Fatalf("GET the failed iteration: %d", r.Status)
	}
	mustContain(t, r.Body, ">fan[1]<", "no b", `aria-current="true">fan[1]<`)
}
