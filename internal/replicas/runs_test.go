package replicas

import (
	"context"
	"encoding/base64"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/beacon"
)

// The run tests use a short task lease, so that a dead replica's tasks are
// resolved in seconds (the default is 30s), and a fast idle poll.
const taskLease = 2 * time.Second

// runsCluster starts replicas with the given extra serve arguments each
// (one replica per entry), all on one new database.
func runsCluster(t *testing.T, args ...[]string) *cluster {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required to execute runs: %v", err)
	}
	c := newCluster(t, 0)
	var rs []*replica
	for i, a := range args {
		rs = append(rs, c.startWith(i+1, c.env(), append([]string{"--data-dir", filepath.Join(c.t.TempDir(), fmt.Sprintf("replica-%d", i+1)),
			"--task-lease", taskLease.String()}, a...)...))
	}
	for _, r := range rs {
		c.waitReady(r)
	}
	c.replicas = rs
	return c
}

// importNotebook imports a Python notebook through replica r.
func (c *cluster) importNotebook(r *replica, token, path, src string) {
	c.t.Helper()
	c.must(r, 200, "POST", "/api/2.0/workspace/import", token, map[string]any{
		"path": path, "format": "SOURCE", "language": "PYTHON", "overwrite": true,
		"content": base64.StdEncoding.EncodeToString([]byte("# Databricks notebook source\n" + src)),
	})
}

// submit submits a one-task run of the notebook through replica r.
func (c *cluster) submit(r *replica, token, notebook string, retries int) int64 {
	c.t.Helper()
	m := c.must(r, 200, "POST", "/api/2.1/jobs/runs/submit", token, map[string]any{
		"run_name": "replica test",
		"tasks": []any{map[string]any{"task_key": "t", "max_retries": retries,
			"notebook_task": map[string]any{"notebook_path": notebook}}},
	}).json(c.t)
	id, _ := m["run_id"].(float64)
	if id <= 0 {
		c.t.Fatalf("runs/submit: %v", m)
	}
	return int64(id)
}

// runState returns the run's life cycle and result states through r.
func (c *cluster) runState(r *replica, token string, runID int64) (lifeCycle, result string, run map[string]any) {
	resp := c.do(r, "GET", "/api/2.1/jobs/runs/get?run_id="+strconv.FormatInt(runID, 10), token, nil)
	if resp.status != 200 {
		return "", "", nil
	}
	run = resp.json(c.t)
	st, _ := run["state"].(map[string]any)
	lifeCycle, _ = st["life_cycle_state"].(string)
	result, _ = st["result_state"].(string)
	return lifeCycle, result, run
}

// waitRun waits up to d for the run to be terminal and returns its states.
func (c *cluster) waitRun(r *replica, token string, runID int64, d time.Duration) (lifeCycle, result string, run map[string]any) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		lifeCycle, result, run = c.runState(r, token, runID)
		switch lifeCycle {
		case "TERMINATED", "INTERNAL_ERROR", "SKIPPED":
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("run %d still %q after %v: %v", runID, lifeCycle, d, run)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// output returns the notebook's exit value of the run's single task.
func (c *cluster) output(r *replica, token string, run map[string]any) string {
	c.t.Helper()
	// runs/get lists a retried task's earlier attempts first: the last
	// entry is the latest attempt.
	tasks, _ := run["tasks"].([]any)
	if len(tasks) == 0 {
		c.t.Fatalf("run without its task: %v", run)
	}
	latest := tasks[len(tasks)-1].(map[string]any)
	if want := float64(len(tasks) - 1); latest["attempt_number"] != want {
		c.t.Fatalf("the last of %d task entries is attempt %v, want %v: %v", len(tasks), latest["attempt_number"], want, run)
	}
	taskRunID := int64(latest["run_id"].(float64))
	m := c.must(r, 200, "GET", "/api/2.1/jobs/runs/get-output?run_id="+strconv.FormatInt(taskRunID, 10), token, nil).json(c.t)
	nb, _ := m["notebook_output"].(map[string]any)
	res, _ := nb["result"].(string)
	return res
}

// executorOf names the replica whose data directory a task's working
// directory (its exit value, see whereAmI) lies in.
func (c *cluster) executorOf(cwd string) int {
	for i := range c.replicas {
		// Lease owners name the data directory (…/replica-N/), and task
		// directories are named after it (runner.DefaultTaskDir):
		// replica-N.tasks, or replica-N-<hash> under /var/lib/kiln/tasks
		// when kiln runs as root.
		if strings.Contains(cwd, fmt.Sprintf("%creplica-%d%c", filepath.Separator, i+1, filepath.Separator)) ||
			strings.Contains(cwd, fmt.Sprintf("%creplica-%d.tasks%c", filepath.Separator, i+1, filepath.Separator)) ||
			strings.Contains(cwd, fmt.Sprintf("%creplica-%d-", filepath.Separator, i+1)) {
			return i + 1
		}
	}
	return 0
}

// whereAmI sleeps, then exits with its working directory, which lies in the
// task directory of the replica executing it.
const whereAmI = "import os, time\ntime.sleep(1.5)\ndbutils.notebook.exit(os.getcwd())\n"

// TestRunsExecuteOnAnyReplica: runs submitted through replica 1 only are
// executed by whichever replica has a free slot, the executor-only node
// (--no-api) included, and all succeed.
func TestRunsExecuteOnAnyReplica(t *testing.T) {
	c := runsCluster(t,
		[]string{"--max-concurrent-runs", "1"},
		[]string{"--max-concurrent-runs", "1"},
		[]string{"--max-concurrent-runs", "2", "--no-api"},
	)
	r1, r3 := c.replicas[0], c.replicas[2]
	admin := c.adminToken()
	if got := c.do(r3, "GET", "/api/2.0/preview/scim/v2/Me", admin, nil).status; got != 404 {
		t.Errorf("the executor-only node serves the API: /Me got %d, want 404", got)
	}
	c.importNotebook(r1, admin, "/Shared/where", whereAmI)
	const runs = 6
	ids := make([]int64, runs)
	for i := range ids {
		ids[i] = c.submit(r1, admin, "/Shared/where", 0)
	}
	ran := map[int]int{}
	for _, id := range ids {
		lc, res, run := c.waitRun(r1, admin, id, 60*time.Second)
		if lc != "TERMINATED" || res != "SUCCESS" {
			t.Fatalf("run %d: %s/%s: %v", id, lc, res, run)
		}
		ran[c.executorOf(c.output(r1, admin, run))]++
	}
	t.Logf("runs executed per replica: %v", ran)
	if ran[0] != 0 {
		t.Errorf("%d runs executed by no known replica", ran[0])
	}
	if len(ran) < 3 {
		t.Errorf("runs submitted to replica 1 ran on replicas %v; want all three (replica 1 and 2 take one at a time, 3 two)", ran)
	}
	if ran[3] == 0 {
		t.Error("the executor-only node executed nothing")
	}
}

// TestKilledReplicaRunsAreResolved: the replica executing a run is killed
// with kill -9 mid-run; the others resolve its task within a bounded time,
// never leaving it RUNNING: retried (and then succeeding on a survivor)
// when it has retries left, INTERNAL_ERROR otherwise.
func TestKilledReplicaRunsAreResolved(t *testing.T) {
	c := runsCluster(t, []string{"--max-concurrent-runs", "2"}, []string{"--max-concurrent-runs", "2"}, []string{"--max-concurrent-runs", "2"})
	admin := c.adminToken()
	// Tasks report to a beacon when they start. The first attempt hangs;
	// a retry (the beacon's second report) finishes at once.
	hang, hangForever := beacon.New(t), beacon.New(t)
	c.importNotebook(c.replicas[0], admin, "/Shared/hang", fmt.Sprintf(`import os, time
if %s > 0:
    dbutils.notebook.exit("retried:" + os.getcwd())
time.sleep(600)
`, hang.Python(`"hang"`)))
	c.importNotebook(c.replicas[0], admin, "/Shared/hang-forever", fmt.Sprintf(`import time
%s
time.sleep(600)
`, hangForever.Python(`"hang forever"`)))

	for _, tc := range []struct {
		name     string
		notebook string
		retries  int
		started  *beacon.Beacon // reports once the task runs
		want     string
	}{
		{"WithRetriesLeft", "/Shared/hang", 1, hang, "TERMINATED/SUCCESS"},
		{"WithoutRetries", "/Shared/hang-forever", 0, hangForever, "INTERNAL_ERROR/FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alive := c.alive()
			if len(alive) < 2 {
				t.Fatal("fewer than two replicas left")
			}
			id := c.submit(alive[0], admin, tc.notebook, tc.retries)
			victim := c.waitExecutor(id, 30*time.Second)
			// Mid-run: the notebook itself is running.
			tc.started.Next(t, 30*time.Second)
			c.kill(victim)
			killed := time.Now()
			survivor := c.alive()[0]
			// Bound: the lease, one sweep, and the retry's own run.
			lc, res, run := c.waitRun(survivor, admin, id, taskLease*3+15*time.Second)
			took := time.Since(killed)
			if got := lc + "/" + res; got != tc.want {
				t.Fatalf("run %d after its replica %d was killed: %s, want %s: %v", id, victim.n, got, tc.want, run)
			}
			t.Logf("replica %d killed mid-run; run resolved as %s/%s %v later", victim.n, lc, res, took.Round(time.Millisecond))
			if tc.retries > 0 {
				out := c.output(survivor, admin, run)
				if !strings.HasPrefix(out, "retried:") || c.executorOf(out) == victim.n {
					t.Errorf("retry output %q: want it retried on a surviving replica, not %d", out, victim.n)
				}
			}
		})
	}
}

// alive returns the replicas not stopped or killed.
func (c *cluster) alive() []*replica {
	var rs []*replica
	for _, r := range c.replicas {
		if !r.gone.Load() {
			rs = append(rs, r)
		}
	}
	return rs
}

// waitExecutor waits until a task of the run is leased and returns the
// replica holding the lease (by its data directory in the lease owner).
func (c *cluster) waitExecutor(runID int64, d time.Duration) *replica {
	c.t.Helper()
	db := c.db()
	deadline := time.Now().Add(d)
	for {
		var owner string
		err := db.QueryRow(context.Background(),
			`SELECT lease_owner FROM task_runs WHERE run_id = $1 AND state = 'RUNNING' AND lease_owner <> ''`, runID).Scan(&owner)
		if err == nil {
			if n := c.executorOf(owner); n > 0 {
				return c.replicas[n-1]
			}
			c.t.Fatalf("lease owner %q names no replica", owner)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("run %d not running on any replica within %v", runID, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
