package api_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

// submitNotebook submits a one-task notebook run as tok's user.
func submitNotebook(t *testing.T, e *kilntest.Env, tok, path string) int64 {
	t.Helper()
	return idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit",
		map[string]any{"run_name": "fair", "tasks": []map[string]any{{"task_key": "t", "notebook_task": map[string]any{"notebook_path": path}}}}), "run_id")
}

// runInfo reads a run's life cycle state and start time (0 until it
// starts).
func runInfo(t *testing.T, e *kilntest.Env, tok string, id int64) (string, int64) {
	t.Helper()
	run := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", id), nil)
	st, _ := run["state"].(map[string]any)
	lc, _ := st["life_cycle_state"].(string)
	started := int64(0)
	if tasks := tasksOf(t, run); len(tasks) == 1 {
		f, _ := tasks[0]["start_time"].(float64)
		started = int64(f)
	}
	return lc, started
}

// TestFairShare fills both executor slots with alice's runs and queues
// more of hers; bob's one short run, submitted last, must take the first
// slot that frees, before any of alice's queued runs, rather than wait
// behind her backlog.
func TestFairShare(t *testing.T) {
	e, admin := jobsEnv(t, func(c *server.Config) { c.MaxConcurrentRuns = 2 })
	e.NewUser(t, "alice@example.com", false)
	e.NewUser(t, "bob@example.com", false)
	alice, bob := e.Token(t, "alice@example.com", 0), e.Token(t, "bob@example.com", 0)
	importNotebook(t, e, admin, "/Shared/busy", "import time\ntime.sleep(3)\n")
	importNotebook(t, e, admin, "/Shared/busier", "import time\ntime.sleep(8)\n")
	importNotebook(t, e, admin, "/Shared/quick", "print('quick')\n")

	// Alice's two running runs end seconds apart: when the first slot
	// frees she still runs one and bob none, so the slot is bob's. (Were
	// both to end at once, both would have none running, and the tie
	// rightly goes to the oldest queued run, hers.)
	running := []int64{submitNotebook(t, e, alice, "/Shared/busy"), submitNotebook(t, e, alice, "/Shared/busier")}
	kilntest.Eventually(t, 30*time.Second, "alice's first two runs to fill both slots", func() bool {
		for _, id := range running {
			if lc, _ := runInfo(t, e, alice, id); lc != "RUNNING" {
				return false
			}
		}
		return true
	})
	var queued []int64
	for range 4 {
		queued = append(queued, submitNotebook(t, e, alice, "/Shared/busy"))
	}
	submitted := time.Now()
	bobs := submitNotebook(t, e, bob, "/Shared/quick")
	t.Cleanup(func() {
		for _, id := range append(running, queued...) {
			e.Do(t, "POST", "/api/2.1/jobs/runs/cancel", alice, map[string]any{"run_id": id})
		}
	})

	run := pollRun(t, e, bob, "2.1", bobs, 30*time.Second)
	if stateOf(run) != "TERMINATED/SUCCESS" {
		t.Fatalf("bob's run: %s", asJSON(run["state"]))
	}
	_, bobStarted := runInfo(t, e, bob, bobs)
	// Alice's runs hold the slots for about three seconds; bob's waits for
	// one of them, not for her queue.
	if wait := time.UnixMilli(bobStarted).Sub(submitted); wait > 10*time.Second {
		t.Errorf("bob's run started %v after it was submitted", wait)
	}
	for _, id := range queued {
		if lc, started := runInfo(t, e, alice, id); started != 0 && started < bobStarted {
			t.Errorf("alice's queued run %d (%s) started at %d, before bob's at %d", id, lc, started, bobStarted)
		}
	}
}

// TestQueuedRunsPerUserLimit: beyond the per-user limit of waiting runs,
// run-now and runs/submit answer 429 RESOURCE_EXHAUSTED; other users, an
// idempotent retry, and the same user once a run leaves the queue are not
// refused.
func TestQueuedRunsPerUserLimit(t *testing.T) {
	e, admin := jobsEnv(t, func(c *server.Config) { c.MaxConcurrentRuns, c.MaxQueuedRunsPerUser = 1, 2 })
	e.NewUser(t, "alice@example.com", false)
	e.NewUser(t, "bob@example.com", false)
	alice, bob := e.Token(t, "alice@example.com", 0), e.Token(t, "bob@example.com", 0)
	importNotebook(t, e, admin, "/Shared/slow", "import time\ntime.sleep(60)\n")
	job := idOf(t, call(t, e, alice, "POST", "/api/2.1/jobs/create",
		`{"name": "slow", "max_concurrent_runs": 10, "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/slow"}}]}`), "job_id")
	var ids []int64
	t.Cleanup(func() {
		for _, id := range ids {
			e.Do(t, "POST", "/api/2.1/jobs/runs/cancel", admin, map[string]any{"run_id": id})
		}
	})

	// One run takes the only slot; two more wait: alice is at the limit.
	ids = append(ids, submitNotebook(t, e, alice, "/Shared/slow"))
	kilntest.Eventually(t, 30*time.Second, "the first run to start", func() bool {
		lc, _ := runInfo(t, e, alice, ids[0])
		return lc == "RUNNING"
	})
	ids = append(ids, submitNotebook(t, e, alice, "/Shared/slow"))
	ids = append(ids, idOf(t, call(t, e, alice, "POST", "/api/2.1/jobs/runs/submit",
		`{"run_name": "again", "idempotency_token": "tok-1", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/slow"}}]}`), "run_id"))

	submit := `{"run_name": "more", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/slow"}}]}`
	for _, c := range []struct {
		name, tok, path string
		body            any
		status          int
	}{
		{"submit beyond the limit", alice, "/api/2.1/jobs/runs/submit", submit, 429},
		{"legacy 2.0 submit", alice, "/api/2.0/jobs/runs/submit", `{"run_name": "more", "notebook_task": {"notebook_path": "/Shared/slow"}}`, 429},
		{"run-now of her job", alice, "/api/2.1/jobs/run-now", map[string]any{"job_id": job}, 429},
		{"run-now by an admin still runs as alice, the job's owner", admin, "/api/2.1/jobs/run-now", map[string]any{"job_id": job}, 429},
		{"an idempotent retry returns the waiting run", alice, "/api/2.1/jobs/runs/submit",
			`{"run_name": "again", "idempotency_token": "tok-1", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/slow"}}]}`, 200},
		{"another user is not held back", bob, "/api/2.1/jobs/runs/submit", submit, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(t, "POST", c.path, c.tok, c.body)
			if c.status == 429 {
				wantError(t, r, 429, "RESOURCE_EXHAUSTED", "already has 2 runs waiting to start")
				return
			}
			if r.Status != c.status {
				t.Fatalf("got %d %s, want %d", r.Status, r.Body, c.status)
			}
			id := idOf(t, r.JSON(t), "run_id")
			if c.tok == alice && id != ids[2] {
				t.Errorf("idempotent retry: run %d, want %d", id, ids[2])
			}
			ids = append(ids, id)
		})
	}

	// A canceled run leaves the queue: alice may submit one more.
	call(t, e, alice, "POST", "/api/2.1/jobs/runs/cancel", map[string]any{"run_id": ids[1]})
	pollRun(t, e, alice, "2.1", ids[1], 30*time.Second)
	ids = append(ids, submitNotebook(t, e, alice, "/Shared/slow"))
	wantError(t, e.Do(t, "POST", "/api/2.1/jobs/runs/submit", alice, submit), 429, "RESOURCE_EXHAUSTED", "")
}
