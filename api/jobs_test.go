package api_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestJobsCRUD(t *testing.T) {
	e, tok := jobsEnv(t)
	created := call(t, e, tok, "POST", "/api/2.2/jobs/create", `{"name": "nightly", "timeout_seconds": "3600",
		"parameters": [{"name": "env", "default": 7}], "tags": {"team": 1},
		"job_clusters": [{"job_cluster_key": "small", "new_cluster": {"spark_version": "13.3.x-scala2.12", "num_workers": "2"}}],
		"tasks": [{"task_key": "a", "job_cluster_key": "small", "max_retries": "1", "retry_on_timeout": "True",
			"notebook_task": {"notebook_path": "/Shared/a"}},
			{"task_key": "b", "depends_on": [{"task_key": "a"}], "spark_python_task": {"python_file": "dbfs:/jobs/b.py", "parameters": ["--n", 3]}}],
		"access_control_list": [{"user_name": "x@example.com", "permission_level": "CAN_VIEW"}]}`)
	id := idOf(t, created, "job_id")
	job := call(t, e, tok, "GET", fmt.Sprintf("/api/2.2/jobs/get?job_id=%d", id), nil)
	settings := job["settings"].(map[string]any)
	// Numbers sent as strings are stored as numbers, parameters as strings.
	tasks := settings["tasks"].([]any)
	a := tasks[0].(map[string]any)
	cluster := settings["job_clusters"].([]any)[0].(map[string]any)["new_cluster"].(map[string]any)
	if settings["timeout_seconds"] != 3600.0 || a["max_retries"] != 1.0 || a["retry_on_timeout"] != true ||
		cluster["num_workers"] != 2.0 || settings["parameters"].([]any)[0].(map[string]any)["default"] != "7" ||
		settings["tags"].(map[string]any)["team"] != "1" ||
		tasks[1].(map[string]any)["spark_python_task"].(map[string]any)["parameters"].([]any)[1] != "3" {
		t.Errorf("settings not canonical: %s", asJSON(settings))
	}
	if _, has := settings["access_control_list"]; has {
		t.Errorf("access_control_list stored as a setting")
	}
	if job["creator_user_name"] != "admin@example.com" || job["created_time"].(float64) <= 0 {
		t.Errorf("job: %s", asJSON(job))
	}

	// update: tasks merge by key, fields_to_remove drops fields and tasks.
	call(t, e, tok, "POST", "/api/2.1/jobs/update", fmt.Sprintf(`{"job_id": "%d",
		"new_settings": {"name": "renamed", "tasks": [{"task_key": "c", "notebook_task": {"notebook_path": "/Shared/c"}}]},
		"fields_to_remove": ["tags", "tasks/b"]}`, id))
	settings = call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", id), nil)["settings"].(map[string]any)
	var keys []string
	for _, x := range settings["tasks"].([]any) {
		keys = append(keys, x.(map[string]any)["task_key"].(string))
	}
	if settings["name"] != "renamed" || strings.Join(keys, ",") != "a,c" || settings["tags"] != nil {
		t.Errorf("after update: %s", asJSON(settings))
	}

	// reset replaces everything; a job always has a name.
	call(t, e, tok, "POST", "/api/2.0/jobs/reset", fmt.Sprintf(`{"job_id": %d, "new_settings": {"notebook_task": {"notebook_path": "/Shared/x"}}}`, id))
	settings = call(t, e, tok, "GET", fmt.Sprintf("/api/2.0/jobs/get?job_id=%d", id), nil)["settings"].(map[string]any)
	if settings["name"] != "Untitled" || settings["notebook_task"] == nil || settings["tasks"] != nil {
		t.Errorf("after reset: %s", asJSON(settings))
	}

	call(t, e, tok, "POST", "/api/2.1/jobs/delete", map[string]any{"job_id": id})
	wantError(t, e.Do(t, "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", id), tok, nil), 400, "INVALID_PARAMETER_VALUE",
		fmt.Sprintf("Job %d does not exist.", id))
}

func TestJobsValidation(t *testing.T) {
	e, tok := jobsEnv(t)
	for _, c := range []struct{ name, body, msg string }{
		{"DuplicateKey", `{"tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/x"}}, {"task_key": "a", "notebook_task": {"notebook_path": "/y"}}]}`, "used more than once"},
		{"MissingDependency", `{"tasks": [{"task_key": "a", "depends_on": [{"task_key": "z"}], "notebook_task": {"notebook_path": "/x"}}]}`, "depends on z"},
		{"Cycle", `{"tasks": [{"task_key": "a", "depends_on": [{"task_key": "b"}], "notebook_task": {"notebook_path": "/x"}},
			{"task_key": "b", "depends_on": [{"task_key": "a"}], "notebook_task": {"notebook_path": "/y"}}]}`, "form a cycle"},
		{"NothingToRun", `{"tasks": [{"task_key": "a"}]}`, "has nothing to run"},
		{"BadTaskKey", `{"tasks": [{"task_key": "a b", "notebook_task": {"notebook_path": "/x"}}]}`, "Invalid task_key"},
		{"UnknownJobCluster", `{"tasks": [{"task_key": "a", "job_cluster_key": "big", "notebook_task": {"notebook_path": "/x"}}]}`, "job cluster big"},
		{"BadNumber", `{"timeout_seconds": "soon"}`, "timeout_seconds"},
		{"GitNotebook", `{"tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "x", "source": "GIT"}}]}`, "Git"},
		{"BadRunIf", `{"tasks": [{"task_key": "a", "run_if": "SOMETIMES", "notebook_task": {"notebook_path": "/x"}}]}`, "run_if"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.Do(t, "POST", "/api/2.1/jobs/create", tok, c.body), 400, "INVALID_PARAMETER_VALUE", c.msg)
		})
	}
	// Task types kiln cannot run are stored (Terraform manages such jobs)
	// but refused by run-now with a clear message.
	id := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create",
		`{"name": "jar", "tasks": [{"task_key": "j", "spark_jar_task": {"main_class_name": "Main"}}]}`), "job_id")
	wantError(t, e.Do(t, "POST", "/api/2.1/jobs/run-now", tok, map[string]any{"job_id": id}), 400, "INVALID_PARAMETER_VALUE",
		"Task j is a spark_jar_task, which kiln cannot run")
}

// TestJobsRefuseNumbersJSONCannotSay sends, to every Jobs verb with a
// body, number fields spelled as strings that strconv would parse but JSON
// cannot carry; each must be a 400 naming the field, never a 500.
func TestJobsRefuseNumbersJSONCannotSay(t *testing.T) {
	e, tok := jobsEnv(t)
	id := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create",
		`{"name": "n", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/x"}}]}`), "job_id")
	get := fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", id)
	before := asJSON(call(t, e, tok, "GET", get, nil))
	for _, c := range []struct{ verb, field, body string }{
		{"create", "timeout_seconds", `{"name": "x", "timeout_seconds": %s}`},
		{"create", "num_workers", `{"name": "x", "job_clusters": [{"job_cluster_key": "c", "new_cluster": {"num_workers": %s}}]}`},
		{"update", "job_id", `{"job_id": %s, "new_settings": {"name": "y"}}`},
		{"update", "max_concurrent_runs", `{"job_id": ` + fmt.Sprint(id) + `, "new_settings": {"max_concurrent_runs": %s}}`},
		{"reset", "job_id", `{"job_id": %s, "new_settings": {"name": "y"}}`},
		{"reset", "max_retries", `{"job_id": ` + fmt.Sprint(id) + `, "new_settings": {"tasks": [{"task_key": "t", "max_retries": %s}]}}`},
		{"delete", "job_id", `{"job_id": %s}`},
		{"run-now", "job_id", `{"job_id": %s}`},
		{"runs/submit", "timeout_seconds", `{"run_name": "r", "timeout_seconds": %s, "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/x"}}]}`},
		{"runs/submit", "min_retry_interval_millis", `{"tasks": [{"task_key": "t", "min_retry_interval_millis": %s, "notebook_task": {"notebook_path": "/Shared/x"}}]}`},
		{"runs/cancel", "run_id", `{"run_id": %s}`},
		{"runs/cancel-all", "job_id", `{"job_id": %s}`},
		{"runs/delete", "run_id", `{"run_id": %s}`},
	} {
		for _, bad := range []string{"NaN", "inf", "-Infinity", "0x1p4", "0x10", "+5", ".5", "5.", "05", "1e", "1_000"} {
			t.Run(c.verb+"/"+c.field+"="+bad, func(t *testing.T) {
				r := e.Do(t, "POST", "/api/2.1/jobs/"+c.verb, tok, fmt.Sprintf(c.body, strconv.Quote(bad)))
				wantError(t, r, 400, "INVALID_PARAMETER_VALUE", "Invalid value for "+c.field+": "+strconv.Quote(bad)+" is not a number.")
			})
		}
	}
	// The job is untouched by all of that.
	if after := asJSON(call(t, e, tok, "GET", get, nil)); after != before {
		t.Fatalf("job changed:\n%s\n%s", before, after)
	}
}

// TestJobsListAsAirflowCallsIt pages jobs/list with Airflow's exact
// parameters until next_page_token disappears, and filters on
// settings.name locally, as find_job_id_by_name does.
func TestJobsListAsAirflowCallsIt(t *testing.T) {
	e, tok := jobsEnv(t)
	for i := range 30 {
		call(t, e, tok, "POST", "/api/2.1/jobs/create", fmt.Sprintf(`{"name": "job-%02d", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/x"}}]}`, i))
	}
	call(t, e, tok, "POST", "/api/2.1/jobs/create", `{"name": "job-07"}`)
	for _, v := range jobsVersions {
		t.Run(v, func(t *testing.T) {
			var names []string
			token, pages := "", 0
			for {
				page := call(t, e, tok, "GET", "/api/"+v+"/jobs/list?limit=25&expand_tasks=False&include_user_names=False&page_token="+token, nil)
				pages++
				for _, j := range page["jobs"].([]any) {
					s := j.(map[string]any)["settings"].(map[string]any)
					names = append(names, s["name"].(string))
					if _, has := s["tasks"]; has {
						t.Errorf("tasks listed without expand_tasks")
					}
				}
				next, has := page["next_page_token"].(string)
				if hm, ok := page["has_more"]; (v == "2.2") == ok || (ok && hm != has) {
					t.Errorf("has_more %v (present %v) with next_page_token %v on %s", hm, ok, has, v)
				}
				if !has {
					break
				}
				if next == "" {
					t.Fatal("empty next_page_token: Airflow would loop forever")
				}
				token = next
			}
			// Jobs created in the same millisecond come in id order, which is
			// random: check that every job came exactly once, not the order.
			want := []string{"job-07"}
			for i := range 30 {
				want = append(want, fmt.Sprintf("job-%02d", i))
			}
			slices.Sort(want)
			got := slices.Sorted(slices.Values(names))
			if pages != 2 || !slices.Equal(got, want) {
				t.Errorf("%d jobs in %d pages: %v", len(names), pages, names)
			}
		})
	}
	byName := call(t, e, tok, "GET", "/api/2.1/jobs/list?name=job-07", nil)["jobs"].([]any)
	if len(byName) != 2 {
		t.Errorf("name filter: %d jobs, want 2", len(byName))
	}
	expanded := call(t, e, tok, "GET", "/api/2.1/jobs/list?name=job-01&expand_tasks=true", nil)["jobs"].([]any)
	if s := expanded[0].(map[string]any)["settings"].(map[string]any); s["tasks"] == nil {
		t.Errorf("expand_tasks=true: no tasks")
	}
}

var jobsVersions = []string{"2.0", "2.1", "2.2"}

func TestClustersForConnectionChecks(t *testing.T) {
	e, tok := jobsEnv(t)
	for _, v := range []string{"2.0", "2.1"} {
		t.Run(v, func(t *testing.T) {
			p := "/api/" + v + "/"
			versions := call(t, e, tok, "GET", p+"clusters/spark-versions", nil)["versions"].([]any)
			if len(versions) < 2 || !strings.HasPrefix(versions[0].(map[string]any)["key"].(string), "kiln-python3") {
				t.Errorf("spark-versions: %v", versions)
			}
			clusters := call(t, e, tok, "GET", p+"clusters/list", nil)["clusters"].([]any)
			c := clusters[0].(map[string]any)
			if len(clusters) != 1 || c["cluster_id"] != "kiln-local" || c["state"] != "RUNNING" || c["state_message"] != "" ||
				c["cluster_cores"].(float64) < 1 {
				t.Errorf("clusters/list: %v", clusters)
			}
			got := call(t, e, tok, "GET", p+"clusters/get?cluster_id=kiln-local", nil)
			if got["state"] != "RUNNING" || got["state_message"] != "" {
				t.Errorf("clusters/get: %v", got)
			}
			wantError(t, e.Do(t, "GET", p+"clusters/get?cluster_id=0101-abc", tok, nil), 400, "INVALID_PARAMETER_VALUE", "Cluster 0101-abc does not exist.")
			nodes := call(t, e, tok, "GET", p+"clusters/list-node-types", nil)["node_types"].([]any)
			n := nodes[0].(map[string]any)
			for _, k := range []string{"node_type_id", "memory_mb", "num_cores", "description", "instance_type_id", "category"} {
				if n[k] == nil {
					t.Errorf("node type without %s: %v", k, n)
				}
			}
			if pools := call(t, e, tok, "GET", p+"instance-pools/list", nil); len(pools) != 0 {
				t.Errorf("instance-pools/list: %v, want {}", pools)
			}
			if pol := call(t, e, tok, "GET", p+"policies/clusters/list", nil); pol["total_count"] != 0.0 {
				t.Errorf("policies/clusters/list: %v", pol)
			}
		})
	}
	wantError(t, e.Do(t, "GET", "/api/2.1/clusters/list", "", nil), 401, "UNAUTHENTICATED", "")
}

// TestNewClusterRunsOnTheLocalExecutor submits with a new_cluster, as ADF
// and Airflow do, and the run executes here.
func TestNewClusterRunsOnTheLocalExecutor(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/ok", "dbutils.notebook.exit('ran')\n")
	runID := idOf(t, call(t, e, tok, "POST", "/api/2.2/jobs/runs/submit", `{"run_name": "adf",
		"new_cluster": {"spark_version": "13.3.x-scala2.12", "node_type_id": "Standard_DS3_v2", "num_workers": "2", "autoscale": {"min_workers": "1", "max_workers": "10"}},
		"notebook_task": {"notebook_path": "/Shared/ok"}}`), "run_id")
	run := pollRun(t, e, tok, "2.2", runID, 30*time.Second)
	if stateOf(run) != "TERMINATED/SUCCESS" {
		t.Fatalf("run: %s", asJSON(run))
	}
}
