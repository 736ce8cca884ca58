package api_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
)

// clusterIDShape is Databricks' cluster id: MMDD-HHMMSS-xxxxxxxx.
var clusterIDShape = regexp.MustCompile(`^\d{4}-\d{6}-[a-z0-9]{8}$`)

const smallCluster = `{"cluster_name": "etl", "spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large",
	"num_workers": "2", "spark_conf": {"spark.speculation": true}, "custom_tags": {"team": "data"}}`

func createCluster(t *testing.T, e *kilntest.Env, tok, body string) string {
	t.Helper()
	id, _ := call(t, e, tok, "POST", "/api/2.1/clusters/create", body)["cluster_id"].(string)
	if !clusterIDShape.MatchString(id) {
		t.Fatalf("cluster id %q is not of Databricks' shape", id)
	}
	return id
}

func getCluster(t *testing.T, e *kilntest.Env, tok, id string) map[string]any {
	t.Helper()
	return call(t, e, tok, "GET", "/api/2.1/clusters/get?cluster_id="+id, nil)
}

// waitCluster polls clusters/get until the cluster is in state.
func waitCluster(t *testing.T, e *kilntest.Env, tok, id, state string) map[string]any {
	t.Helper()
	var c map[string]any
	kilntest.Eventually(t, 10*time.Second, "cluster "+id+" "+state, func() bool {
		c = getCluster(t, e, tok, id)
		return c["state"] == state
	})
	return c
}

func clusterVerb(t *testing.T, e *kilntest.Env, tok, verb, id string) kilntest.Response {
	t.Helper()
	return e.Do(t, "POST", "/api/2.1/clusters/"+verb, tok, map[string]any{"cluster_id": id})
}

func eventTypesOf(t *testing.T, e *kilntest.Env, tok, id string) []string {
	t.Helper()
	ev := call(t, e, tok, "POST", "/api/2.0/clusters/events", map[string]any{"cluster_id": id, "order": "ASC", "limit": 500})
	var types []string
	for _, x := range ev["events"].([]any) {
		types = append(types, x.(map[string]any)["type"].(string))
	}
	return types
}

func TestClusterLifecycle(t *testing.T) {
	e, tok := jobsEnv(t)
	id := createCluster(t, e, tok, smallCluster)
	c := getCluster(t, e, tok, id)
	if c["state"] != "PENDING" || c["cluster_name"] != "etl" || c["spark_version"] != "15.4.x-scala2.12" ||
		c["num_workers"] != 2.0 || c["spark_conf"].(map[string]any)["spark.speculation"] != "true" ||
		c["creator_user_name"] != kilntest.AdminEmail || c["start_time"].(float64) <= 0 || c["state_message"] == "" {
		t.Errorf("created cluster: %s", asJSON(c))
	}
	c = waitCluster(t, e, tok, id, "RUNNING")
	if c["state_message"] != "" || c["driver"] == nil || c["terminated_time"] != nil {
		t.Errorf("running cluster: %s", asJSON(c))
	}

	// Each verb from the states Databricks allows it in, and the state it
	// passes through; the others are 400 INVALID_STATE.
	steps := []struct {
		name, verb, body string
		status           int
		via, then        string // "" via: no passing state
		msg              string
	}{
		{"StartRunning", "start", "", 400, "", "", "is in unexpected state Running."},
		{"Restart", "restart", "", 200, "RESTARTING", "RUNNING", ""},
		{"Resize", "resize", `{"cluster_id": "ID", "num_workers": 5}`, 200, "RESIZING", "RUNNING", ""},
		{"EditRunningRestarts", "edit", `{"cluster_id": "ID", "cluster_name": "etl2", "spark_version": "16.4.x-scala2.12",
			"node_type_id": "i3.xlarge", "autoscale": {"min_workers": 1, "max_workers": 4}}`, 200, "RESTARTING", "RUNNING", ""},
		{"Terminate", "delete", "", 200, "TERMINATING", "TERMINATED", ""},
		{"TerminateTerminatedIsANoOp", "delete", "", 200, "", "TERMINATED", ""},
		{"RestartTerminated", "restart", "", 400, "", "", "is in unexpected state Terminated."},
		{"ResizeTerminated", "resize", `{"cluster_id": "ID", "num_workers": 1}`, 400, "", "", "unexpected state Terminated."},
		{"EditTerminatedStaysTerminated", "edit", `{"cluster_id": "ID", "cluster_name": "etl3", "spark_version": "16.4.x-scala2.12",
			"node_type_id": "i3.xlarge"}`, 200, "", "TERMINATED", ""},
		{"Start", "start", "", 200, "PENDING", "RUNNING", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			body := any(map[string]any{"cluster_id": id})
			if s.body != "" {
				body = strings.ReplaceAll(s.body, "ID", id)
			}
			r := e.Do(t, "POST", "/api/2.1/clusters/"+s.verb, tok, body)
			if s.status != 200 {
				wantError(t, r, s.status, "INVALID_STATE", s.msg)
				return
			}
			if r.Status != 200 {
				t.Fatalf("%s: %d %s", s.verb, r.Status, r.Body)
			}
			if s.via != "" {
				if got := getCluster(t, e, tok, id)["state"]; got != s.via {
					t.Errorf("after %s: state %v, want %s", s.verb, got, s.via)
				}
			}
			waitCluster(t, e, tok, id, s.then)
		})
	}
	c = getCluster(t, e, tok, id)
	if c["cluster_name"] != "etl3" || c["autoscale"] != nil || c["node_type_id"] != "i3.xlarge" || c["termination_reason"] != nil {
		t.Errorf("after the steps: %s", asJSON(c))
	}
	want := []string{"CREATING", "RUNNING", "RESTARTING", "RUNNING", "RESIZING", "UPSIZE_COMPLETED", "EDITED", "RESTARTING",
		"RUNNING", "TERMINATING", "TERMINATED", "EDITED", "STARTING", "RUNNING"}
	if got := eventTypesOf(t, e, tok, id); !slices.Equal(got, want) {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}

	// Pin and unpin (admins); list on both versions, with filters.
	call(t, e, tok, "POST", "/api/2.0/clusters/pin", map[string]any{"cluster_id": id})
	for _, v := range []string{"2.0", "2.1"} {
		var ids []string
		for _, x := range call(t, e, tok, "GET", "/api/"+v+"/clusters/list", nil)["clusters"].([]any) {
			ids = append(ids, x.(map[string]any)["cluster_id"].(string))
		}
		if !slices.Equal(ids, []string{"kiln-local", id}) {
			t.Errorf("%s clusters/list: %v", v, ids)
		}
	}
	pinned := call(t, e, tok, "GET", "/api/2.1/clusters/list?filter_by.is_pinned=true", nil)["clusters"].([]any)
	terminated := call(t, e, tok, "GET", "/api/2.1/clusters/list?filter_by.cluster_states=TERMINATED", nil)["clusters"].([]any)
	if len(pinned) != 1 || len(terminated) != 0 {
		t.Errorf("filtered lists: pinned %v, terminated %v", pinned, terminated)
	}
	call(t, e, tok, "POST", "/api/2.0/clusters/unpin", map[string]any{"cluster_id": id})

	// Permanent delete, in any state: the cluster and its events are gone.
	call(t, e, tok, "POST", "/api/2.1/clusters/permanent-delete", map[string]any{"cluster_id": id})
	wantError(t, e.Do(t, "GET", "/api/2.1/clusters/get?cluster_id="+id, tok, nil), 400, "INVALID_PARAMETER_VALUE",
		fmt.Sprintf("Cluster %s does not exist.", id))
}

func TestClusterTerminationReason(t *testing.T) {
	e, tok := jobsEnv(t)
	id := createCluster(t, e, tok, smallCluster)
	waitCluster(t, e, tok, id, "RUNNING")
	call(t, e, tok, "POST", "/api/2.0/clusters/delete", map[string]any{"cluster_id": id})
	c := waitCluster(t, e, tok, id, "TERMINATED")
	reason, _ := c["termination_reason"].(map[string]any)
	if reason["code"] != "USER_REQUEST" || reason["type"] != "SUCCESS" || c["terminated_time"].(float64) < c["start_time"].(float64) {
		t.Errorf("terminated cluster: %s", asJSON(c))
	}
}

func TestClusterAutotermination(t *testing.T) {
	e, tok := jobsEnv(t)
	id := createCluster(t, e, tok, `{"spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "autotermination_minutes": 10}`)
	never := createCluster(t, e, tok, `{"spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large"}`)
	waitCluster(t, e, tok, id, "RUNNING")
	waitCluster(t, e, tok, never, "RUNNING")
	// The sweep, as if nine and then eleven idle minutes had passed.
	if err := e.Svc().SweepClusters(t.Context(), time.Now().Add(9*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := getCluster(t, e, tok, id)["state"]; got != "RUNNING" {
		t.Fatalf("after 9 idle minutes: %v", got)
	}
	if err := e.Svc().SweepClusters(t.Context(), time.Now().Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := getCluster(t, e, tok, id)["state"]; got != "TERMINATING" {
		t.Fatalf("after 11 idle minutes: %v", got)
	}
	c := waitCluster(t, e, tok, id, "TERMINATED")
	reason, _ := c["termination_reason"].(map[string]any)
	if reason["code"] != "INACTIVITY" || !strings.Contains(c["state_message"].(string), "Inactive cluster terminated") {
		t.Errorf("autoterminated cluster: %s", asJSON(c))
	}
	if got := getCluster(t, e, tok, never)["state"]; got != "RUNNING" {
		t.Errorf("a cluster without autotermination: %v", got)
	}
}

func TestClusterErrors(t *testing.T) {
	e, tok := jobsEnv(t)
	e.NewUser(t, "bob@example.com", false)
	bob := e.Token(t, "bob@example.com", time.Hour)
	id := createCluster(t, e, tok, smallCluster)
	missing := "0101-000000-missing0"
	for _, c := range []struct {
		name, tok, verb string
		body            any
		status          int
		code, msg       string
	}{
		{"NoSparkVersion", tok, "create", `{"node_type_id": "m5d.large"}`, 400, "INVALID_PARAMETER_VALUE", "spark_version"},
		{"UnknownSparkVersion", tok, "create", `{"spark_version": "99.9.x-scala2.12", "node_type_id": "m5d.large"}`, 400, "INVALID_PARAMETER_VALUE", "Invalid spark version 99.9.x-scala2.12."},
		{"NoNodeType", tok, "create", `{"spark_version": "15.4.x-scala2.12"}`, 400, "INVALID_PARAMETER_VALUE", "node_type_id"},
		{"UnknownNodeType", tok, "create", `{"spark_version": "15.4.x-scala2.12", "node_type_id": "x9.huge"}`, 400, "INVALID_PARAMETER_VALUE", "Node type x9.huge is not supported."},
		{"UnknownDriverNodeType", tok, "create", `{"spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "driver_node_type_id": "x9"}`, 400, "INVALID_PARAMETER_VALUE", "Node type x9"},
		{"ShortAutotermination", tok, "create", `{"spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "autotermination_minutes": 5}`, 400, "INVALID_PARAMETER_VALUE", "between 10 and 10000"},
		{"NegativeWorkers", tok, "create", `{"spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "num_workers": -1}`, 400, "INVALID_PARAMETER_VALUE", "num_workers"},
		{"BadAutoscale", tok, "create", `{"spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "autoscale": {"min_workers": 3, "max_workers": 2}}`, 400, "INVALID_PARAMETER_VALUE", "autoscale"},
		{"InstancePool", tok, "create", `{"spark_version": "15.4.x-scala2.12", "instance_pool_id": "p1"}`, 400, "INVALID_PARAMETER_VALUE", "Instance pool p1 does not exist."},
		{"Malformed", tok, "create", `{"spark_version": `, 400, "MALFORMED_REQUEST", ""},
		{"StartMissing", tok, "start", map[string]any{"cluster_id": missing}, 400, "INVALID_PARAMETER_VALUE", "Cluster " + missing + " does not exist."},
		{"DeleteMissing", tok, "delete", map[string]any{"cluster_id": missing}, 400, "INVALID_PARAMETER_VALUE", "does not exist."},
		{"PermanentDeleteMissing", tok, "permanent-delete", map[string]any{"cluster_id": missing}, 400, "INVALID_PARAMETER_VALUE", "does not exist."},
		{"EventsMissing", tok, "events", map[string]any{"cluster_id": missing}, 400, "INVALID_PARAMETER_VALUE", "does not exist."},
		{"NoClusterID", tok, "restart", map[string]any{}, 400, "INVALID_PARAMETER_VALUE", "cluster_id"},
		{"ResizeNeither", tok, "resize", map[string]any{"cluster_id": id}, 400, "INVALID_PARAMETER_VALUE", "num_workers or autoscale"},
		{"EditMissing", tok, "edit", map[string]any{"cluster_id": missing, "spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large"}, 400, "INVALID_PARAMETER_VALUE", "does not exist."},
		{"LocalClusterFixed", tok, "delete", map[string]any{"cluster_id": "kiln-local"}, 400, "INVALID_STATE", "always running"},
		{"OthersClusterTerminate", bob, "delete", map[string]any{"cluster_id": id}, 403, "PERMISSION_DENIED", "Manage permission"},
		{"OthersClusterEdit", bob, "edit", map[string]any{"cluster_id": id, "spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large"}, 403, "PERMISSION_DENIED", ""},
		{"PinNeedsAdmin", bob, "pin", map[string]any{"cluster_id": id}, 403, "PERMISSION_DENIED", ""},
		{"EventsBadOrder", tok, "events", map[string]any{"cluster_id": id, "order": "UP"}, 400, "INVALID_PARAMETER_VALUE", "ASC or DESC"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.Do(t, "POST", "/api/2.1/clusters/"+c.verb, c.tok, c.body), c.status, c.code, c.msg)
		})
	}
	// Everyone sees every cluster.
	if got := getCluster(t, e, bob, id); got["cluster_id"] != id {
		t.Errorf("bob's clusters/get: %v", got)
	}
	// Bob may manage his own.
	own := createCluster(t, e, bob, smallCluster)
	if r := clusterVerb(t, e, bob, "permanent-delete", own); r.Status != 200 {
		t.Errorf("bob deleting his cluster: %d %s", r.Status, r.Body)
	}
}

func TestClusterEventsPaging(t *testing.T) {
	e, tok := jobsEnv(t)
	id := createCluster(t, e, tok, smallCluster)
	waitCluster(t, e, tok, id, "RUNNING")
	call(t, e, tok, "POST", "/api/2.1/clusters/pin", map[string]any{"cluster_id": id})
	call(t, e, tok, "POST", "/api/2.1/clusters/unpin", map[string]any{"cluster_id": id})
	// Newest first by default; next_page repeats the request further on.
	page := call(t, e, tok, "POST", "/api/2.1/clusters/events", map[string]any{"cluster_id": id, "limit": "2"})
	var types []string
	for {
		for _, x := range page["events"].([]any) {
			types = append(types, x.(map[string]any)["type"].(string))
		}
		next, ok := page["next_page"].(map[string]any)
		if !ok {
			break
		}
		page = call(t, e, tok, "POST", "/api/2.1/clusters/events", next)
	}
	if want := []string{"UNPINNED", "PINNED", "RUNNING", "CREATING"}; !slices.Equal(types, want) || page["total_count"] != 4.0 {
		t.Errorf("events: %v (total %v), want %v", types, page["total_count"], want)
	}
	only := call(t, e, tok, "POST", "/api/2.1/clusters/events", map[string]any{"cluster_id": id, "event_types": []string{"PINNED"}})
	if only["total_count"] != 1.0 {
		t.Errorf("event_types filter: %v", only)
	}
}

func TestSparkVersionsAndNodeTypes(t *testing.T) {
	e, tok := jobsEnv(t)
	versions := map[string]string{}
	for _, x := range call(t, e, tok, "GET", "/api/2.1/clusters/spark-versions", nil)["versions"].([]any) {
		v := x.(map[string]any)
		versions[v["key"].(string)] = v["name"].(string)
	}
	for key, name := range map[string]string{
		"15.4.x-scala2.12":        "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)",
		"15.4.x-cpu-ml-scala2.12": "15.4 LTS ML (includes Apache Spark 3.5.0, Scala 2.12)",
		"15.4.x-photon-scala2.12": "15.4 LTS Photon (includes Apache Spark 3.5.0, Scala 2.12)",
		"16.3.x-scala2.12":        "16.3 (includes Apache Spark 3.5.2, Scala 2.12)",
	} {
		if versions[key] != name {
			t.Errorf("spark version %s: %q, want %q", key, versions[key], name)
		}
	}
	nodes := map[string]map[string]any{}
	for _, x := range call(t, e, tok, "GET", "/api/2.0/clusters/list-node-types", nil)["node_types"].([]any) {
		n := x.(map[string]any)
		nodes[n["node_type_id"].(string)] = n
	}
	if n := nodes["m5d.large"]; n == nil || n["num_cores"] != 2.0 || n["node_instance_type"].(map[string]any)["local_disks"] != 1.0 {
		t.Errorf("m5d.large: %v", n)
	}
	if nodes["kiln-local"] == nil {
		t.Errorf("no kiln-local node type: %v", nodes)
	}
	// Every listed runtime and node type makes a cluster.
	for _, v := range []string{"15.4.x-scala2.12", "17.0.x-photon-scala2.13"} {
		createCluster(t, e, tok, fmt.Sprintf(`{"spark_version": %q, "node_type_id": "g4dn.xlarge"}`, v))
	}
}

func TestClusterJobs(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/ok", "print('ok')")
	id := createCluster(t, e, tok, smallCluster)
	waitCluster(t, e, tok, id, "RUNNING")
	unknown := "0923-164208-meows279" // a real workspace's cluster

	// submit runs a notebook on clusterID and returns the cluster its
	// task ran on (cluster_instance).
	submit := func(t *testing.T, clusterID string) string {
		t.Helper()
		run := call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", fmt.Sprintf(`{"run_name": "r",
			"tasks": [{"task_key": "a", "existing_cluster_id": %q, "notebook_task": {"notebook_path": "/Shared/ok"}}]}`, clusterID))
		got := pollRun(t, e, tok, "2.1", idOf(t, run, "run_id"), 30*time.Second)
		task := tasksOf(t, got)[0]
		if stateOf(task) != "TERMINATED/SUCCESS" {
			t.Fatalf("task on %s: %s", clusterID, asJSON(task))
		}
		ci, _ := task["cluster_instance"].(map[string]any)
		return fmt.Sprint(ci["cluster_id"])
	}
	for _, c := range []struct{ name, cluster string }{
		{"ExistingCluster", id},
		{"LocalCluster", "kiln-local"},
		{"UnknownClusterRunsLocally", unknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := submit(t, c.cluster); got != c.cluster {
				t.Errorf("cluster_instance.cluster_id: %s, want %s", got, c.cluster)
			}
		})
	}
	t.Run("JobOnExistingCluster", func(t *testing.T) {
		job := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create", fmt.Sprintf(`{"name": "on-cluster",
			"tasks": [{"task_key": "a", "existing_cluster_id": %q, "notebook_task": {"notebook_path": "/Shared/ok"}}]}`, id)), "job_id")
		run := pollRun(t, e, tok, "2.1", idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": job}), "run_id"), 30*time.Second)
		if ci := tasksOf(t, run)[0]["cluster_instance"].(map[string]any); ci["cluster_id"] != id {
			t.Errorf("cluster_instance: %v", ci)
		}
	})
	t.Run("RunStartsATerminatedCluster", func(t *testing.T) {
		call(t, e, tok, "POST", "/api/2.1/clusters/delete", map[string]any{"cluster_id": id})
		waitCluster(t, e, tok, id, "TERMINATED")
		if got := submit(t, id); got != id {
			t.Errorf("cluster_instance.cluster_id: %s", got)
		}
		if st := getCluster(t, e, tok, id)["state"]; st != "PENDING" && st != "RUNNING" {
			t.Errorf("the run did not start its cluster: %v", st)
		}
	})

	// Strict: unknown ids are refused wherever a job or run names one.
	e.SetConf(t, map[string]string{"kilnRejectUnknownClusterIds": "true"})
	body := fmt.Sprintf(`{"tasks": [{"task_key": "a", "existing_cluster_id": %q, "notebook_task": {"notebook_path": "/Shared/ok"}}]}`, unknown)
	for _, c := range []struct{ name, path, body string }{
		{"StrictSubmit", "/api/2.1/jobs/runs/submit", body},
		{"StrictLegacySubmit", "/api/2.0/jobs/runs/submit", fmt.Sprintf(`{"existing_cluster_id": %q, "notebook_task": {"notebook_path": "/Shared/ok"}}`, unknown)},
		{"StrictCreate", "/api/2.1/jobs/create", body},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.Do(t, "POST", c.path, tok, c.body), 400, "INVALID_PARAMETER_VALUE", "Cluster "+unknown+" does not exist.")
		})
	}
	t.Run("StrictKnownCluster", func(t *testing.T) {
		if got := submit(t, id); got != id {
			t.Errorf("cluster_instance.cluster_id: %s", got)
		}
	})
	wantError(t, e.Do(t, "PATCH", "/api/2.0/workspace-conf", tok, map[string]string{"kilnRejectUnknownClusterIds": "maybe"}),
		400, "INVALID_PARAMETER_VALUE", "Some values are not allowed")
}
