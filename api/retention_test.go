package api_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/server"
)

// TestRunRetention: finished runs older than kilnRunRetentionDays go,
// with their outputs, log files and kept attempt directories; a run still
// going stays whatever its age, and so do its files; 0 keeps everything.
func TestRunRetention(t *testing.T) {
	clock := kilntest.NewClock()
	e, tok := jobsEnv(t, func(c *server.Config) {
		c.Clock = clock.Now
		c.PruneInterval = 50 * time.Millisecond
		c.KeepTaskDirs = runner.KeepAll
		// The test clock jumps days ahead; the long run's lease must
		// outlast the jump, as it would a real clock's steady pace.
		fast := c.Runner
		c.Runner = func(rc *runner.Config) { fast(rc); rc.LeaseTTL = 30 * 24 * time.Hour }
	})
	taskDir := runner.DefaultTaskDir(e.DataDir)
	for _, tt := range []struct {
		value  string
		status int
	}{{"-1", 400}, {"ten", 400}, {"3651", 400}, {"0", 200}} {
		if r := e.Do(t, "PATCH", "/api/2.0/workspace-conf", tok, map[string]string{"kilnRunRetentionDays": tt.value}); r.Status != tt.status {
			t.Errorf("kilnRunRetentionDays %q: %d %s, want %d", tt.value, r.Status, r.Body, tt.status)
		}
	}
	if got := call(t, e, tok, "GET", "/api/2.0/workspace-conf?keys=kilnRunRetentionDays", nil); got["kilnRunRetentionDays"] != "0" {
		t.Fatalf("workspace-conf: %v", got)
	}

	done := pollRun(t, e, tok, "2.1", importAndSubmit(t, e, tok, "/Shared/done", "print('done')\n"), 60*time.Second)
	doneID := idOf(t, done, "run_id")
	importNotebook(t, e, tok, "/Shared/forever", "import time\nwhile True:\n    time.sleep(0.2)\n")
	activeID := idOf(t, call(t, e, tok, "POST", "/api/2.2/jobs/runs/submit",
		`{"run_name": "forever", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/forever"}}]}`), "run_id")
	kilntest.Eventually(t, 30*time.Second, "the long run to start", func() bool {
		st := stateOf(call(t, e, tok, "GET", fmt.Sprintf("/api/2.2/jobs/runs/get?run_id=%d", activeID), nil))
		return st == "RUNNING/<nil>"
	})
	files := func(runID int64) []string {
		logs, _ := filepath.Glob(filepath.Join(e.DataDir, "runs", fmt.Sprint(runID)))
		dirs, _ := filepath.Glob(filepath.Join(taskDir, fmt.Sprintf("run-%d-task-*", runID)))
		return append(logs, dirs...)
	}
	kilntest.Eventually(t, 30*time.Second, "the long run's files", func() bool { return len(files(activeID)) == 2 })
	if len(files(doneID)) != 2 {
		t.Fatalf("files of the finished run: %v", files(doneID))
	}
	// A name kiln did not write is not its to remove.
	stranger := filepath.Join(e.DataDir, "runs", "notes")
	if err := os.MkdirAll(stranger, 0o700); err != nil {
		t.Fatal(err)
	}

	// Two days on, with retention off.
	clock.Advance(2 * 24 * time.Hour)
	time.Sleep(300 * time.Millisecond) // several prune intervals
	call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", doneID), nil)

	// Within the retention a run stays; past it, it goes.
	e.SetConf(t, map[string]string{"kilnRunRetentionDays": "3"})
	time.Sleep(300 * time.Millisecond)
	call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", doneID), nil)
	e.SetConf(t, map[string]string{"kilnRunRetentionDays": "1"})
	kilntest.Eventually(t, 10*time.Second, "the finished run to be pruned", func() bool {
		return e.Do(t, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", doneID), tok, nil).Status == 400
	})
	wantError(t, e.Do(t, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, tasksOf(t, done)[0], "run_id")), tok, nil),
		400, "INVALID_PARAMETER_VALUE", "")
	kilntest.Eventually(t, 10*time.Second, "the pruned run's files to go", func() bool { return len(files(doneID)) == 0 })
	if got := files(activeID); len(got) != 2 {
		t.Errorf("the active run's files: %v", got)
	}
	if _, err := os.Stat(stranger); err != nil {
		t.Errorf("a directory kiln did not write was removed: %v", err)
	}
	run := call(t, e, tok, "GET", fmt.Sprintf("/api/2.2/jobs/runs/get?run_id=%d", activeID), nil)
	if stateOf(run) != "RUNNING/<nil>" {
		t.Errorf("the active run: %s %v", stateOf(run), run["state"])
	}
	// Once over, it is two days past its end on this test's clock, so
	// retention goes off first to watch it end.
	e.SetConf(t, map[string]string{"kilnRunRetentionDays": "0"})
	call(t, e, tok, "POST", "/api/2.2/jobs/runs/cancel", map[string]any{"run_id": activeID})
	pollRun(t, e, tok, "2.2", activeID, 30*time.Second)
}
