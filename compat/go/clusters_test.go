package compat

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/retries"
	"github.com/databricks/databricks-sdk-go/service/compute"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// TestClusterSelectors resolves a runtime and a node type through the
// SDK's own helpers, as Terraform's databricks_spark_version and
// databricks_node_type data sources do (they call the same functions).
func TestClusterSelectors(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	for _, c := range []struct {
		name string
		req  compute.SparkVersionRequest
		want string
	}{
		{"LatestLTS", compute.SparkVersionRequest{Latest: true, LongTermSupport: true}, "16.4.x-scala2.12"},
		{"LatestLTSML", compute.SparkVersionRequest{Latest: true, LongTermSupport: true, ML: true}, "16.4.x-cpu-ml-scala2.12"},
		{"LatestGPUML", compute.SparkVersionRequest{Latest: true, ML: true, GPU: true}, "16.4.x-gpu-ml-scala2.12"},
		{"LatestPhoton", compute.SparkVersionRequest{Latest: true, Photon: true}, "17.0.x-photon-scala2.13"},
		{"Spark34", compute.SparkVersionRequest{Latest: true, SparkVersion: "3.4.1"}, "13.3.x-scala2.12"},
		// Terraform's defaults without arguments: latest, Scala "2.1".
		{"TerraformDefaults", compute.SparkVersionRequest{Latest: true, Scala: "2.1"}, "17.0.x-scala2.13"},
		{"TerraformScala212LTS", compute.SparkVersionRequest{Latest: true, Scala: "2.12", LongTermSupport: true}, "16.4.x-scala2.12"},
	} {
		t.Run("SparkVersion"+c.name, func(t *testing.T) {
			got, err := w.Clusters.SelectSparkVersion(ctx, c.req)
			must(t, err, "SelectSparkVersion")
			if got != c.want {
				t.Errorf("SelectSparkVersion(%+v) = %s, want %s", c.req, got, c.want)
			}
		})
	}
	for _, c := range []struct {
		name string
		req  compute.NodeTypeRequest
		want string
	}{
		{"LocalDisk4Cores", compute.NodeTypeRequest{LocalDisk: true, MinCores: 4}, "c5d.xlarge"},
		{"MinMemory", compute.NodeTypeRequest{LocalDisk: true, MinMemoryGB: 60}, "i3.2xlarge"},
		{"GPU", compute.NodeTypeRequest{MinGPUs: 1}, "g4dn.xlarge"},
		{"Category", compute.NodeTypeRequest{Category: "Storage Optimized"}, "i3.xlarge"},
	} {
		t.Run("NodeType"+c.name, func(t *testing.T) {
			got, err := w.Clusters.SelectNodeType(ctx, c.req)
			must(t, err, "SelectNodeType")
			// kiln-local is this machine: it is the answer when the
			// machine is the smallest that fits.
			if got != c.want && got != "kiln-local" {
				t.Errorf("SelectNodeType(%+v) = %s, want %s", c.req, got, c.want)
			}
		})
	}
	// Terraform's databricks_node_type without arguments.
	if got, err := w.Clusters.SelectNodeType(ctx, compute.NodeTypeRequest{LocalDisk: true}); err != nil || got == "" {
		t.Errorf("SelectNodeType(LocalDisk): %q, %v", got, err)
	}
}

// TestClusterLifecycleThroughTheSDK creates a cluster from the selected
// runtime and node type and waits for it with the SDK's pollers, restarts
// and resizes it, terminates it, and deletes it for good.
func TestClusterLifecycleThroughTheSDK(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	version, err := w.Clusters.SelectSparkVersion(ctx, compute.SparkVersionRequest{Latest: true, LongTermSupport: true})
	must(t, err, "SelectSparkVersion")
	node, err := w.Clusters.SelectNodeType(ctx, compute.NodeTypeRequest{LocalDisk: true, MinCores: 4})
	must(t, err, "SelectNodeType")

	wait, err := w.Clusters.Create(ctx, compute.CreateCluster{ClusterName: "sdk", SparkVersion: version, NodeTypeId: node,
		NumWorkers: 2, AutoterminationMinutes: 60, SparkConf: map[string]string{"spark.speculation": "true"}})
	must(t, err, "Create")
	c, err := wait.GetWithTimeout(time.Minute)
	must(t, err, "WaitGetClusterRunning")
	if c.State != compute.StateRunning || c.ClusterName != "sdk" || c.SparkVersion != version || c.NodeTypeId != node ||
		c.NumWorkers != 2 || c.AutoterminationMinutes != 60 || c.SparkConf["spark.speculation"] != "true" {
		t.Fatalf("running cluster: %+v", c)
	}
	id := wait.ClusterId

	expectIs(t, env.expectAPIError(t, func() error {
		_, err := w.Clusters.Start(ctx, compute.StartCluster{ClusterId: id})
		return err
	}), apierr.ErrInvalidState)

	restart, err := w.Clusters.Restart(ctx, compute.RestartCluster{ClusterId: id})
	must(t, err, "Restart")
	_, err = restart.GetWithTimeout(time.Minute)
	must(t, err, "WaitGetClusterRunning after Restart")
	resize, err := w.Clusters.Resize(ctx, compute.ResizeCluster{ClusterId: id, NumWorkers: 4})
	must(t, err, "Resize")
	c, err = resize.GetWithTimeout(time.Minute)
	must(t, err, "WaitGetClusterRunning after Resize")
	if c.NumWorkers != 4 {
		t.Errorf("resized: %d workers", c.NumWorkers)
	}
	must(t, w.Clusters.Pin(ctx, compute.PinCluster{ClusterId: id}), "Pin")
	// Terraform's databricks_cluster reads is_pinned this way.
	pinned, err := w.Clusters.ListAll(ctx, compute.ListClustersRequest{FilterBy: &compute.ListClustersFilterBy{IsPinned: true}, PageSize: 100})
	must(t, err, "ListAll pinned")
	if len(pinned) != 1 || pinned[0].ClusterId != id {
		t.Errorf("pinned clusters: %+v", pinned)
	}

	all, err := w.Clusters.ListAll(ctx, compute.ListClustersRequest{})
	must(t, err, "ListAll")
	var ids []string
	for _, c := range all {
		ids = append(ids, c.ClusterId)
	}
	if !slices.Equal(ids, []string{"kiln-local", id}) {
		t.Errorf("ListAll: %v", ids)
	}

	del, err := w.Clusters.Delete(ctx, compute.DeleteCluster{ClusterId: id})
	must(t, err, "Delete")
	c, err = del.GetWithTimeout(time.Minute)
	must(t, err, "WaitGetClusterTerminated")
	if c.State != compute.StateTerminated || c.TerminationReason == nil || c.TerminationReason.Code != compute.TerminationReasonCodeUserRequest ||
		c.TerminatedTime == 0 {
		t.Errorf("terminated cluster: %+v", c)
	}
	events, err := w.Clusters.EventsAll(ctx, compute.GetEvents{ClusterId: id, Order: compute.GetEventsOrderAsc})
	must(t, err, "EventsAll")
	var types []compute.EventType
	for _, e := range events {
		types = append(types, e.Type)
	}
	want := []compute.EventType{"CREATING", "RUNNING", "RESTARTING", "RUNNING", "RESIZING", "UPSIZE_COMPLETED", "PINNED", "TERMINATING", "TERMINATED"}
	if !slices.Equal(types, want) {
		t.Errorf("events: %v, want %v", types, want)
	}

	must(t, w.Clusters.PermanentDelete(ctx, compute.PermanentDeleteCluster{ClusterId: id}), "PermanentDelete")
	expectIs(t, env.expectAPIError(t, func() error { _, err := w.Clusters.GetByClusterId(ctx, id); return err }), apierr.ErrNotFound)
}

// TestClusterRunsAJob runs a job on a created cluster and a submitted run
// on an id kiln does not know: both run on the local executor, and the
// run records the cluster it asked for.
func TestClusterRunsAJob(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required: %v", err)
	}
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	nb := "/Shared/sdk-cluster"
	must(t, w.Workspace.Import(ctx, workspace.PythonNotebookOverwrite(nb, "dbutils.notebook.exit('ok')\n")), "Import")
	c, err := w.Clusters.CreateAndWait(ctx, compute.CreateCluster{ClusterName: "jobs", SparkVersion: "15.4.x-scala2.12",
		NodeTypeId: "m5d.large", NumWorkers: 1}, retries.Timeout[compute.ClusterDetails](time.Minute))
	must(t, err, "CreateAndWait")

	job, err := w.Jobs.Create(ctx, jobs.CreateJob{Name: "on-cluster", Tasks: []jobs.Task{{
		TaskKey: "etl", ExistingClusterId: c.ClusterId, NotebookTask: &jobs.NotebookTask{NotebookPath: nb},
	}}})
	must(t, err, "Jobs.Create")
	run, err := w.Jobs.RunNowAndWait(ctx, jobs.RunNow{JobId: job.JobId}, retries.Timeout[jobs.Run](2*time.Minute))
	must(t, err, "RunNowAndWait")
	if run.State.ResultState != jobs.RunResultStateSuccess || run.Tasks[0].ClusterInstance == nil ||
		run.Tasks[0].ClusterInstance.ClusterId != c.ClusterId {
		t.Errorf("run on cluster %s: %+v", c.ClusterId, run.Tasks[0])
	}

	unknown := "0923-164208-meows279"
	run, err = w.Jobs.SubmitAndWait(ctx, jobs.SubmitRun{RunName: "dag", Tasks: []jobs.SubmitTask{{
		TaskKey: "etl", ExistingClusterId: unknown, NotebookTask: &jobs.NotebookTask{NotebookPath: nb},
	}}}, retries.Timeout[jobs.Run](2*time.Minute))
	must(t, err, "SubmitAndWait on an unknown cluster")
	if run.State.ResultState != jobs.RunResultStateSuccess || run.Tasks[0].ClusterInstance.ClusterId != unknown {
		t.Errorf("run on an unknown cluster: %+v", run.Tasks[0])
	}

	must(t, w.WorkspaceConf.SetStatus(ctx, map[string]string{"kilnRejectUnknownClusterIds": "true"}), "SetStatus")
	apiErr := env.expectAPIError(t, func() error {
		_, err := w.Jobs.Submit(ctx, jobs.SubmitRun{RunName: "dag", Tasks: []jobs.SubmitTask{{
			TaskKey: "etl", ExistingClusterId: unknown, NotebookTask: &jobs.NotebookTask{NotebookPath: nb},
		}}})
		return err
	})
	expectIs(t, apiErr, apierr.ErrInvalidParameterValue)
	if apiErr.Message != "Cluster "+unknown+" does not exist." {
		t.Errorf("strict refusal: %q", apiErr.Message)
	}
}
