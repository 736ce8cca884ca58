package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// continuousJob is a one-notebook job in continuous mode.
func continuousJob(name, notebook string, continuous map[string]any) map[string]any {
	return map[string]any{
		"name":       name,
		"continuous": continuous,
		"tasks": []any{map[string]any{"task_key": "main", "max_retries": 3,
			"notebook_task": map[string]any{"notebook_path": notebook}}},
	}
}

func TestContinuousValidation(t *testing.T) {
	e := kilntest.Start(t)
	tok := e.AdminToken(t)
	for _, tc := range []struct {
		name   string
		change func(job map[string]any)
		msg    string
	}{
		{"WithASchedule", func(j map[string]any) { j["schedule"] = everySecond("UNPAUSED") }, "cannot also have a schedule"},
		{"WithAPeriodicTrigger", func(j map[string]any) {
			j["trigger"] = map[string]any{"periodic": map[string]any{"interval": 1, "unit": "HOURS"}}
		}, "cannot also have a schedule or a trigger"},
		{"TwoConcurrentRuns", func(j map[string]any) { j["max_concurrent_runs"] = 2 }, "max_concurrent_runs must be 1"},
		{"BadPauseStatus", func(j map[string]any) { j["continuous"] = map[string]any{"pause_status": "SOMETIMES"} }, "continuous.pause_status"},
		{"BadRetryMode", func(j map[string]any) { j["continuous"] = map[string]any{"task_retry_mode": "ALWAYS"} }, "continuous.task_retry_mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := continuousJob("bad", "/Shared/nb", map[string]any{"pause_status": "PAUSED"})
			tc.change(job)
			wantError(t, e.Do(t, "POST", "/api/2.1/jobs/create", tok, job), 400, "INVALID_PARAMETER_VALUE", tc.msg)
		})
	}
}

// activeRuns counts the job's runs not yet over.
func activeRuns(t *testing.T, e *kilntest.Env, tok string, job int64) int {
	page := call(t, e, tok, "GET", fmt.Sprintf("/api/2.2/jobs/runs/list?job_id=%d&active_only=true", job), nil)
	runs, _ := page["runs"].([]any)
	return len(runs)
}

// TestContinuousJob: a continuous job always has exactly one run going,
// trigger CONTINUOUS; a canceled run is followed by a new one (how new
// settings are taken up); paused, it starts none; its tasks are not
// retried under the default task_retry_mode.
func TestContinuousJob(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/stream", "import time\ntime.sleep(0.7)\n")
	job := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create",
		continuousJob("stream", "/Shared/stream", map[string]any{"pause_status": "UNPAUSED"})), "job_id")

	// Runs follow one another, never two at once.
	deadline := time.Now().Add(30 * time.Second)
	for countRuns(t, e, tok, job) < 3 && time.Now().Before(deadline) {
		if n := activeRuns(t, e, tok, job); n > 1 {
			t.Fatalf("%d runs of a continuous job active at once", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	runs := jobRuns(t, e, tok, job)
	if len(runs) < 3 {
		t.Fatalf("%d runs in 30 s of a continuous job, want a run after each", len(runs))
	}
	for _, r := range runs[1:] { // the newest may still run
		if r["trigger"] != "CONTINUOUS" || stateOf(r) != "TERMINATED/SUCCESS" {
			t.Errorf("run %v: trigger %v, state %s", r["run_id"], r["trigger"], stateOf(r))
		}
	}

	// Canceled, it is followed by a new run.
	kilntest.Eventually(t, 10*time.Second, "a run going", func() bool { return activeRuns(t, e, tok, job) == 1 })
	page := call(t, e, tok, "GET", fmt.Sprintf("/api/2.2/jobs/runs/list?job_id=%d&active_only=true", job), nil)
	canceled := idOf(t, page["runs"].([]any)[0].(map[string]any), "run_id")
	call(t, e, tok, "POST", "/api/2.2/jobs/runs/cancel", map[string]any{"run_id": canceled})
	kilntest.Eventually(t, 10*time.Second, "a run after the canceled one", func() bool {
		newest := jobRuns(t, e, tok, job)[0]
		return idOf(t, newest, "run_id") > canceled
	})

	// Paused: the run going ends, and none follows.
	call(t, e, tok, "POST", "/api/2.1/jobs/update", map[string]any{"job_id": job,
		"new_settings": map[string]any{"continuous": map[string]any{"pause_status": "PAUSED"}}})
	kilntest.Eventually(t, 10*time.Second, "the last run to end", func() bool { return activeRuns(t, e, tok, job) == 0 })
	paused := countRuns(t, e, tok, job)
	time.Sleep(2500 * time.Millisecond)
	if n := countRuns(t, e, tok, job); n != paused {
		t.Fatalf("%d runs started while paused", n-paused)
	}
	// run-now still works, and says ONE_TIME.
	id := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": job}), "run_id")
	if r := pollRun(t, e, tok, "2.2", id, 30*time.Second); r["trigger"] != "ONE_TIME" {
		t.Errorf("run-now of a paused continuous job: trigger %v", r["trigger"])
	}
}

// TestContinuousBackoff: failed runs in a row back off; the task's own
// retries are not used (task_retry_mode NEVER), and the backoff ends once
// its time has passed.
func TestContinuousBackoff(t *testing.T) {
	clock := kilntest.NewClock()
	e, tok := jobsEnv(t, kilntest.WithClock(clock))
	// The service's clock keeps pace with the wall's, so that the
	// backoff is the only jump.
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				clock.Advance(50 * time.Millisecond)
			}
		}
	}()
	importNotebook(t, e, tok, "/Shared/broken", "raise ValueError('broken')\n")
	job := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create",
		continuousJob("broken", "/Shared/broken", map[string]any{})), "job_id")

	threshold := service.ContinuousFailureThreshold
	kilntest.Eventually(t, 60*time.Second, "the failures before the backoff", func() bool {
		return countRuns(t, e, tok, job) >= threshold && activeRuns(t, e, tok, job) == 0
	})
	time.Sleep(3 * time.Second) // past the recheck, well within the backoff
	runs := jobRuns(t, e, tok, job)
	if len(runs) != threshold {
		t.Fatalf("%d runs after %d failures in a row; want the backoff to hold the next", len(runs), threshold)
	}
	for _, r := range runs {
		if stateOf(r) != "TERMINATED/FAILED" {
			t.Errorf("run %v: %s", r["run_id"], stateOf(r))
		}
		tasks := tasksOf(t, call(t, e, tok, "GET", fmt.Sprintf("/api/2.2/jobs/runs/get?run_id=%d", idOf(t, r, "run_id")), nil))
		if n := len(tasks); n != 1 || tasks[0]["attempt_number"] != float64(0) {
			t.Errorf("run %v was retried within the run: %v", r["run_id"], tasks)
		}
	}
	clock.Advance(service.ContinuousBackoff)
	kilntest.Eventually(t, 30*time.Second, "the run after the backoff", func() bool { return countRuns(t, e, tok, job) > threshold })
	call(t, e, tok, "POST", "/api/2.1/jobs/update", map[string]any{"job_id": job,
		"new_settings": map[string]any{"continuous": map[string]any{"pause_status": "PAUSED"}}})
}
