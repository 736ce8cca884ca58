package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/client"
)

// stub answers each path with a canned body and records the requests.
type stub struct {
	mu   sync.Mutex
	seen []string // "METHOD path?query body"
	// answer returns status and body for a request; nil answers 200 {}.
	answer func(r *http.Request, body string) (int, string)
}

func (s *stub) start(t *testing.T) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		line := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			line += "?" + r.URL.RawQuery
		}
		if len(b) > 0 {
			line += " " + string(b)
		}
		s.seen = append(s.seen, line)
		s.mu.Unlock()
		status, body := http.StatusOK, "{}"
		if s.answer != nil {
			status, body = s.answer(r, string(b))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return newClient(t, srv.URL)
}

func (s *stub) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func TestWorkspaceRequests(t *testing.T) {
	s := &stub{answer: func(r *http.Request, body string) (int, string) {
		switch r.URL.Path {
		case "/api/2.0/workspace/export":
			return 200, `{"content": "cHJpbnQoMSkK", "file_type": "py"}`
		case "/api/2.0/workspace/list":
			return 200, `{}`
		case "/api/2.0/workspace/get-status":
			return 200, `{"object_type": "NOTEBOOK", "object_id": 12, "path": "/Shared/etl", "language": "PYTHON", "modified_at": 1700000000000}`
		}
		return 200, `{}`
	}}
	c := s.start(t)
	ctx := context.Background()
	if err := c.WorkspaceImport(ctx, client.ImportRequest{Path: "/Shared/etl", Format: client.FormatSource, Language: "PYTHON", Content: []byte("print(1)\n"), Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	ex, err := c.WorkspaceExport(ctx, "/Shared/etl", "")
	if err != nil || string(ex.Content) != "print(1)\n" || ex.FileType != "py" {
		t.Fatalf("export: %+v %v", ex, err)
	}
	objs, err := c.WorkspaceList(ctx, "/Shared")
	if err != nil || objs == nil || len(objs) != 0 {
		t.Fatalf("an empty folder lists as an empty slice: %#v %v", objs, err)
	}
	info, err := c.WorkspaceGetStatus(ctx, "/Shared/etl")
	if err != nil || info.ObjectType != client.ObjectNotebook || info.Modified().UnixMilli() != 1700000000000 {
		t.Fatalf("get-status: %+v %v", info, err)
	}
	if err := c.WorkspaceMkdirs(ctx, "/Shared/a b"); err != nil {
		t.Fatal(err)
	}
	if err := c.WorkspaceDelete(ctx, "/Shared/a b", true); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`POST /api/2.0/workspace/import {"content":"cHJpbnQoMSkK","format":"SOURCE","language":"PYTHON","overwrite":true,"path":"/Shared/etl"}`,
		`GET /api/2.0/workspace/export?path=%2FShared%2Fetl`,
		`GET /api/2.0/workspace/list?path=%2FShared`,
		`GET /api/2.0/workspace/get-status?path=%2FShared%2Fetl`,
		`POST /api/2.0/workspace/mkdirs {"path":"/Shared/a b"}`,
		`POST /api/2.0/workspace/delete {"path":"/Shared/a b","recursive":true}`,
	}
	if got := s.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestJobsRequests(t *testing.T) {
	const runJSON = `{"run_id": 7, "job_id": 3, "run_name": "r", "state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""},
		"start_time": 1000, "end_time": 3500, "tasks": [{"task_key": "main", "run_id": 8, "state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"},
		"notebook_task": {"notebook_path": "/Shared/etl"}, "cluster_instance": {"cluster_id": "kiln-local"}}], "overriding_parameters": {"notebook_params": {"a": "b"}}}`
	s := &stub{answer: func(r *http.Request, body string) (int, string) {
		switch r.URL.Path {
		case "/api/2.2/jobs/create":
			return 200, `{"job_id": 3}`
		case "/api/2.2/jobs/get":
			return 200, `{"job_id": 3, "created_time": 1000, "settings": {"name": "nightly", "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": "/Shared/etl"}}], "schedule": {"quartz_cron_expression": "0 0 * * * ?"}}}`
		case "/api/2.2/jobs/list":
			if r.URL.Query().Get("page_token") == "" {
				return 200, `{"jobs": [{"job_id": 1, "settings": {"name": "a"}}], "next_page_token": "p2"}`
			}
			return 200, `{"jobs": [{"job_id": 2, "settings": {"name": "b"}}]}`
		case "/api/2.2/jobs/run-now", "/api/2.2/jobs/runs/submit":
			return 200, `{"run_id": 7, "number_in_job": 7}`
		case "/api/2.2/jobs/runs/get":
			return 200, runJSON
		case "/api/2.2/jobs/runs/get-output":
			return 200, `{"metadata": {"run_id": 8, "state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}}, "notebook_output": {"result": "42", "truncated": false}, "logs": "hi\n"}`
		case "/api/2.2/jobs/runs/list":
			return 200, `{"runs": [` + runJSON + `]}`
		}
		return 200, `{}`
	}}
	c := s.start(t)
	ctx := context.Background()

	id, err := c.CreateJob(ctx, json.RawMessage(`{"name": "nightly"}`))
	if err != nil || id != 3 {
		t.Fatalf("create: %d %v", id, err)
	}
	j, err := c.GetJob(ctx, 3)
	if err != nil || j.Settings.Name != "nightly" || j.Settings.Tasks[0].Describe() != "notebook /Shared/etl" {
		t.Fatalf("get: %+v %v", j, err)
	}
	// What kiln's types do not know survives a round trip.
	if b, _ := json.Marshal(j); !strings.Contains(string(b), `"quartz_cron_expression"`) {
		t.Errorf("a Job does not encode back to what the server sent: %s", b)
	}
	jobs, err := c.ListJobs(ctx, client.JobListFilter{Name: "x", ExpandTasks: true})
	if err != nil || len(jobs) != 2 || jobs[1].JobID != 2 {
		t.Fatalf("list follows next_page_token: %+v %v", jobs, err)
	}
	if err := c.DeleteJob(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if id, err := c.RunNow(ctx, client.RunNowRequest{JobID: 3, NotebookParams: map[string]string{"day": "1"}, PythonParams: []string{"x"}}); err != nil || id != 7 {
		t.Fatalf("run-now: %d %v", id, err)
	}
	if id, err := c.SubmitRun(ctx, client.SubmitRunRequest{RunName: "r", Tasks: []client.SubmitTask{{TaskKey: "main",
		NotebookTask: &client.NotebookTask{NotebookPath: "/Shared/etl", BaseParameters: map[string]string{"a": "b"}}}}}); err != nil || id != 7 {
		t.Fatalf("submit: %d %v", id, err)
	}
	run, err := c.GetRun(ctx, 7)
	if err != nil || !run.State.Succeeded() || !run.State.Terminal() || run.State.Outcome() != "SUCCESS" || run.Tasks[0].RunID != 8 ||
		run.Duration(time.Now()) != 2500*time.Millisecond || len(run.TaskRuns()) != 1 {
		t.Fatalf("get run: %+v %v", run, err)
	}
	if b, _ := json.Marshal(run); !strings.Contains(string(b), `"cluster_instance"`) || !strings.Contains(string(b), `"overriding_parameters"`) {
		t.Errorf("a Run does not encode back to what the server sent: %s", b)
	}
	out, err := c.GetRunOutput(ctx, 8)
	if err != nil || out.NotebookOutput.Result != "42" || out.Logs != "hi\n" || out.Metadata.RunID != 8 {
		t.Fatalf("get-output: %+v %v", out, err)
	}
	runs, err := c.ListRuns(ctx, client.RunListFilter{JobID: 3, ActiveOnly: true, Limit: 5})
	if err != nil || len(runs) != 1 {
		t.Fatalf("list runs: %+v %v", runs, err)
	}
	if err := c.CancelRun(ctx, 7); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`POST /api/2.2/jobs/create {"name":"nightly"}`,
		`GET /api/2.2/jobs/get?job_id=3`,
		`GET /api/2.2/jobs/list?expand_tasks=true&limit=100&name=x`,
		`GET /api/2.2/jobs/list?expand_tasks=true&limit=100&name=x&page_token=p2`,
		`POST /api/2.2/jobs/delete {"job_id":3}`,
		`POST /api/2.2/jobs/run-now {"job_id":3,"notebook_params":{"day":"1"},"python_params":["x"]}`,
		`POST /api/2.2/jobs/runs/submit {"run_name":"r","tasks":[{"task_key":"main","notebook_task":{"notebook_path":"/Shared/etl","base_parameters":{"a":"b"}}}]}`,
		`GET /api/2.2/jobs/runs/get?run_id=7`,
		`GET /api/2.2/jobs/runs/get-output?run_id=8`,
		`GET /api/2.2/jobs/runs/list?active_only=true&job_id=3&limit=5`,
		`POST /api/2.2/jobs/runs/cancel {"run_id":7}`,
	}
	if got := s.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMissingJobIsNotFound: the Jobs API answers a missing job or run
// with 400 INVALID_PARAMETER_VALUE; the client reads it as not found.
func TestMissingJobIsNotFound(t *testing.T) {
	s := &stub{answer: func(r *http.Request, body string) (int, string) {
		switch r.URL.Path {
		case "/api/2.2/jobs/get":
			return 400, `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Job 9 does not exist."}`
		case "/api/2.2/jobs/runs/get":
			return 400, `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Run 9 does not exist."}`
		}
		return 400, `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Job 9 does not exist, but this is no jobs path."}`
	}}
	c := s.start(t)
	ctx := context.Background()
	_, err := c.GetJob(ctx, 9)
	var api *client.APIError
	if !errors.As(err, &api) || !api.IsNotFound() {
		t.Errorf("jobs/get: %v", err)
	}
	if _, err := c.GetRun(ctx, 9); !errors.As(err, &api) || !api.IsNotFound() {
		t.Errorf("runs/get: %v", err)
	}
	if _, err := c.WorkspaceExport(ctx, "/x", ""); !errors.As(err, &api) || api.IsNotFound() {
		t.Errorf("a 400 outside the Jobs API is not 'not found': %v", err)
	}
}

func TestWaitRun(t *testing.T) {
	var mu sync.Mutex
	polls := 0
	s := &stub{answer: func(r *http.Request, body string) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		polls++
		switch {
		case strings.Contains(r.URL.RawQuery, "run_id=2"):
			return 200, `{"run_id": 2, "state": {"life_cycle_state": "RUNNING"}}`
		case polls < 3:
			return 200, `{"run_id": 1, "state": {"life_cycle_state": "RUNNING"}}`
		}
		return 200, `{"run_id": 1, "state": {"life_cycle_state": "TERMINATED", "result_state": "FAILED", "state_message": "boom"}}`
	}}
	c := s.start(t)
	var seen []string
	run, err := c.WaitRun(context.Background(), 1, client.WaitOptions{Interval: 10 * time.Millisecond,
		OnPoll: func(r *client.Run) { seen = append(seen, r.State.LifeCycleState) }})
	if err != nil || run.State.Succeeded() || run.State.Outcome() != "FAILED" {
		t.Fatalf("a failed run is returned, not an error: %+v %v", run, err)
	}
	if strings.Join(seen, ",") != "RUNNING,RUNNING,TERMINATED" {
		t.Errorf("OnPoll saw %v", seen)
	}

	start := time.Now()
	_, err = c.WaitRun(context.Background(), 2, client.WaitOptions{Interval: 20 * time.Millisecond, Timeout: 150 * time.Millisecond})
	var te *client.WaitTimeoutError
	if !errors.As(err, &te) || te.Last.State.LifeCycleState != "RUNNING" || !strings.Contains(err.Error(), "run 2 is still RUNNING after 150ms") {
		t.Fatalf("timeout: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %v", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.WaitRun(ctx, 2, client.WaitOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a context that ends: %v", err)
	}
}

func TestTaskDescribe(t *testing.T) {
	for _, c := range []struct {
		task string
		want string
	}{
		{`{"task_key": "a", "notebook_task": {"notebook_path": "/Shared/etl"}}`, "notebook /Shared/etl"},
		{`{"task_key": "a", "spark_python_task": {"python_file": "dbfs:/job.py"}}`, "python dbfs:/job.py"},
		{`{"task_key": "a", "python_wheel_task": {"package_name": "greet", "entry_point": "main"}}`, "wheel greet.main"},
		{`{"task_key": "a", "sql_task": {}}`, "other task"},
	} {
		var task client.Task
		if err := json.Unmarshal([]byte(c.task), &task); err != nil {
			t.Fatal(err)
		}
		if got := task.Describe(); got != c.want {
			t.Errorf("%s: Describe() = %q, want %q", c.task, got, c.want)
		}
	}
}
