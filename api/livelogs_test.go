package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/server"
)

func TestLogsOfARunningTask(t *testing.T) {
	e, admin := jobsEnv(t, func(c *server.Config) {
		inner := c.Runner
		c.Runner = func(rc *runner.Config) {
			inner(rc)
			rc.LogPublish = 100 * time.Millisecond
		}
	})
	call(t, e, admin, "POST", "/api/2.0/secrets/scopes/create", map[string]any{"scope": "s"})
	call(t, e, admin, "POST", "/api/2.0/secrets/put", map[string]any{"scope": "s", "key": "k", "string_value": "live-secret-value"})
	importNotebook(t, e, admin, "/Shared/slow", `import time
print("started", dbutils.secrets.get("s", "k"), flush=True)
time.sleep(60)
`)
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "slow", "notebook_task": {"notebook_path": "/Shared/slow"}}`), "run_id")
	var taskRunID int64
	kilntest.Eventually(t, 20*time.Second, "the task is running", func() bool {
		run := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID), nil)
		tasks := tasksOf(t, run)
		if len(tasks) == 1 && strings.HasPrefix(stateOf(tasks[0]), "RUNNING") {
			taskRunID = idOf(t, tasks[0], "run_id")
			return true
		}
		return false
	})
	var logs string
	kilntest.Eventually(t, 20*time.Second, "the running task's logs are published", func() bool {
		out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", taskRunID), nil)
		logs, _ = out["logs"].(string)
		return strings.Contains(logs, "started")
	})
	if strings.Contains(logs, "live-secret-value") || !strings.Contains(logs, "started [REDACTED]") {
		t.Fatalf("live logs are not redacted: %q", logs)
	}
	if run := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID), nil); !strings.HasPrefix(stateOf(run), "RUNNING") {
		t.Fatalf("the run ended early: %s", stateOf(run))
	}
	call(t, e, admin, "POST", "/api/2.1/jobs/runs/cancel", map[string]any{"run_id": runID})
	run := pollRun(t, e, admin, "2.1", runID, 30*time.Second)
	out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", taskRunID), nil)
	if stateOf(run) != "TERMINATED/CANCELED" || !strings.Contains(out["logs"].(string), "started [REDACTED]") {
		t.Fatalf("after cancel: %s, logs %q", stateOf(run), out["logs"])
	}
}
