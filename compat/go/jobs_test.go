package compat

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/retries"
	"github.com/databricks/databricks-sdk-go/service/compute"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// TestJobsRunANotebook drives the Jobs API through the SDK as its users
// do: import a notebook, SubmitAndWait and RunNowAndWait (the SDK's
// poller reads state.life_cycle_state until TERMINATED), read the task's
// output, page jobs with ListAll, and check that missing jobs, runs and
// clusters are errors.Is NotFound (the SDK rewrites Databricks' 400
// "… does not exist." answers by their message).
func TestJobsRunANotebook(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required: %v", err)
	}
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	nb := "/Shared/sdk-etl"
	must(t, w.Workspace.Import(ctx, workspace.PythonNotebookOverwrite(nb,
		"dbutils.widgets.text('day', 'never')\ndbutils.notebook.exit('day=' + dbutils.widgets.get('day'))\n")), "Import")

	run, err := w.Jobs.SubmitAndWait(ctx, jobs.SubmitRun{RunName: "sdk", Tasks: []jobs.SubmitTask{{
		TaskKey: "etl", ExistingClusterId: "kiln-local",
		NotebookTask: &jobs.NotebookTask{NotebookPath: nb, BaseParameters: map[string]string{"day": "2024-01-02"}},
	}}}, retries.Timeout[jobs.Run](2*time.Minute))
	must(t, err, "SubmitAndWait")
	if run.State.ResultState != jobs.RunResultStateSuccess || len(run.Tasks) != 1 || run.Tasks[0].RunId == run.RunId || run.RunPageUrl == "" {
		t.Fatalf("run: %+v", run)
	}
	out, err := w.Jobs.GetRunOutputByRunId(ctx, run.Tasks[0].RunId)
	must(t, err, "GetRunOutput")
	if out.NotebookOutput == nil || out.NotebookOutput.Result != "day=2024-01-02" {
		t.Fatalf("output: %+v", out)
	}

	created, err := w.Jobs.Create(ctx, jobs.CreateJob{Name: "sdk-job", Tasks: []jobs.Task{{
		TaskKey: "etl", NotebookTask: &jobs.NotebookTask{NotebookPath: nb},
	}}})
	must(t, err, "Create")
	run, err = w.Jobs.RunNowAndWait(ctx, jobs.RunNow{JobId: created.JobId, NotebookParams: map[string]string{"day": "now"}},
		retries.Timeout[jobs.Run](2*time.Minute))
	must(t, err, "RunNowAndWait")
	out, err = w.Jobs.GetRunOutputByRunId(ctx, run.Tasks[0].RunId)
	must(t, err, "GetRunOutput")
	if out.NotebookOutput.Result != "day=now" || run.JobId != created.JobId {
		t.Fatalf("run-now output: %+v", out)
	}
	all, err := w.Jobs.ListAll(ctx, jobs.ListJobsRequest{Name: "sdk-job"})
	must(t, err, "ListAll")
	if len(all) != 1 || all[0].Settings.Name != "sdk-job" {
		t.Fatalf("ListAll: %+v", all)
	}
	runs, err := w.Jobs.ListRunsAll(ctx, jobs.ListRunsRequest{JobId: created.JobId})
	must(t, err, "ListRunsAll")
	if len(runs) != 1 {
		t.Fatalf("ListRunsAll: %d runs", len(runs))
	}
	versions, err := w.Clusters.SparkVersions(ctx)
	must(t, err, "SparkVersions")
	clusters, err := w.Clusters.ListAll(ctx, compute.ListClustersRequest{})
	must(t, err, "Clusters.ListAll")
	if len(versions.Versions) < 2 || len(clusters) != 1 || clusters[0].State != compute.StateRunning {
		t.Fatalf("compute: %+v %+v", versions, clusters)
	}

	for _, c := range []struct {
		name string
		call func() error
	}{
		{"GetJob", func() error { _, err := w.Jobs.GetByJobId(ctx, 123); return err }},
		{"GetRun", func() error { _, err := w.Jobs.GetRun(ctx, jobs.GetRunRequest{RunId: 123}); return err }},
		{"GetCluster", func() error { _, err := w.Clusters.GetByClusterId(ctx, "0101-abc"); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := env.expectAPIError(t, c.call)
			expectIs(t, err, apierr.ErrNotFound)
		})
	}
}
