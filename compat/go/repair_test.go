package compat

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/retries"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// TestJobsRepairRun repairs a failed run through the SDK: RepairRunAndWait
// with rerun_all_failed_tasks and notebook_params, then GetRun with
// include_history decodes repair_history into RepairHistoryItem (ORIGINAL,
// then REPAIR with the repair's id and the new task run ids).
func TestJobsRepairRun(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required: %v", err)
	}
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	nb := "/Shared/sdk-flaky"
	must(t, w.Workspace.Import(ctx, workspace.PythonNotebookOverwrite(nb,
		"dbutils.widgets.text('mode', 'fail')\nif dbutils.widgets.get('mode') == 'fail':\n    raise RuntimeError('asked to fail')\ndbutils.notebook.exit('fixed')\n")), "Import")
	created, err := w.Jobs.Create(ctx, jobs.CreateJob{Name: "sdk-repair", Tasks: []jobs.Task{
		{TaskKey: "flaky", NotebookTask: &jobs.NotebookTask{NotebookPath: nb}},
		{TaskKey: "after", DependsOn: []jobs.TaskDependency{{TaskKey: "flaky"}}, NotebookTask: &jobs.NotebookTask{NotebookPath: nb, BaseParameters: map[string]string{"mode": "ok"}}},
	}})
	must(t, err, "Create")
	wait, err := w.Jobs.RunNow(ctx, jobs.RunNow{JobId: created.JobId})
	must(t, err, "RunNow")
	run, err := wait.GetWithTimeout(2 * time.Minute)
	must(t, err, "waiting for the first run")
	if run.State.ResultState != jobs.RunResultStateFailed {
		t.Fatalf("the first run did not fail: %+v", run.State)
	}
	runID := wait.RunId
	before, err := w.Jobs.GetRun(ctx, jobs.GetRunRequest{RunId: runID, IncludeHistory: true})
	must(t, err, "GetRun before")
	if len(before.RepairHistory) != 1 || before.RepairHistory[0].Type != jobs.RepairHistoryItemTypeOriginal {
		t.Fatalf("history before the repair: %+v", before.RepairHistory)
	}

	repaired, err := w.Jobs.RepairRunAndWait(ctx, jobs.RepairRun{RunId: runID, RerunAllFailedTasks: true,
		NotebookParams: map[string]string{"mode": "ok"}}, retries.Timeout[jobs.Run](2*time.Minute))
	must(t, err, "RepairRunAndWait")
	if repaired.State.ResultState != jobs.RunResultStateSuccess {
		t.Fatalf("repaired run: %+v", repaired.State)
	}
	got, err := w.Jobs.GetRun(ctx, jobs.GetRunRequest{RunId: runID, IncludeHistory: true})
	must(t, err, "GetRun after")
	h := got.RepairHistory
	if len(h) != 2 || h[0].Type != jobs.RepairHistoryItemTypeOriginal || h[0].Id != 0 || h[1].Type != jobs.RepairHistoryItemTypeRepair ||
		h[1].Id == 0 || len(h[1].TaskRunIds) != 2 || h[1].State == nil || h[1].State.ResultState != jobs.RunResultStateSuccess ||
		h[1].Status == nil || h[1].Status.State != jobs.RunLifecycleStateV2StateTerminated {
		t.Fatalf("repair history: %+v", h)
	}
	for i, task := range got.Tasks {
		if task.RunId == before.Tasks[i].RunId || task.RunId != h[1].TaskRunIds[i] {
			t.Errorf("task %s: run id %d, was %d, repair lists %v", task.TaskKey, task.RunId, before.Tasks[i].RunId, h[1].TaskRunIds)
		}
	}
	// A second repair needs the latest repair id.
	apiErr := env.expectAPIError(t, func() error {
		_, err := w.Jobs.RepairRun(ctx, jobs.RepairRun{RunId: runID, RerunTasks: []string{"after"}})
		return err
	})
	if apiErr.ErrorCode != "INVALID_PARAMETER_VALUE" {
		t.Errorf("a second repair without latest_repair_id: %v", apiErr)
	}
	_, err = w.Jobs.RepairRunAndWait(ctx, jobs.RepairRun{RunId: runID, RerunTasks: []string{"after"}, LatestRepairId: h[1].Id},
		retries.Timeout[jobs.Run](2*time.Minute))
	must(t, err, "RepairRunAndWait with latest_repair_id")
}
