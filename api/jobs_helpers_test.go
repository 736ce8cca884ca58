package api_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/server"
)

// jobsEnv starts a server whose executor is tuned for tests (short polls
// and grace periods) and returns it with an admin token. The lease is
// 15 s: no test here waits for one to lapse, and a shorter one can lapse
// on a loaded machine (a renewal late by a few seconds), ending a healthy
// task as INTERNAL_ERROR.
// It fails, never skips, without python3.
func jobsEnv(t testing.TB, adjust ...func(*server.Config)) (*kilntest.Env, string) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required for the jobs tests: %v", err)
	}
	e := kilntest.Start(t, kilntest.WithConfig(func(c *server.Config) {
		c.ShutdownTimeout = 3 * time.Second
		c.Runner = func(rc *runner.Config) {
			rc.PollInterval, rc.SweepInterval, rc.KillGrace, rc.LeaseTTL = 50*time.Millisecond, 200*time.Millisecond, 500*time.Millisecond, 15*time.Second
		}
		for _, a := range adjust {
			a(c)
		}
	}))
	return e, e.AdminToken(t)
}

// importNotebook imports a Python notebook (SOURCE format, header added)
// through the Workspace API.
func importNotebook(t testing.TB, e *kilntest.Env, tok, path, src string) {
	t.Helper()
	r := e.Do(t, "POST", "/api/2.0/workspace/import", tok, map[string]any{
		"path": path, "format": "SOURCE", "language": "PYTHON", "overwrite": true,
		"content": b64("# Databricks notebook source\n" + src),
	})
	if r.Status != 200 {
		t.Fatalf("importing %s: %d %s", path, r.Status, r.Body)
	}
}

// call sends a request and decodes a 200 JSON object answer.
func call(t testing.TB, e *kilntest.Env, tok, method, path string, body any) map[string]any {
	t.Helper()
	r := e.Do(t, method, path, tok, body)
	if r.Status != 200 {
		t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
	return r.JSON(t)
}

// terminal are the life cycle states Airflow stops polling at.
var terminal = map[string]bool{"TERMINATED": true, "SKIPPED": true, "INTERNAL_ERROR": true}

// lifeCycles are the nine values Airflow accepts; anything else raises.
var lifeCycles = map[string]bool{"QUEUED": true, "PENDING": true, "RUNNING": true, "TERMINATING": true, "TERMINATED": true,
	"SKIPPED": true, "INTERNAL_ERROR": true, "BLOCKED": true, "WAITING_FOR_RETRY": true}

// pollRun polls runs/get as Airflow's deferrable trigger does (a JSON
// body on GET, run_id as a string) until the run is terminal.
func pollRun(t testing.TB, e *kilntest.Env, tok, version string, runID int64, d time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		run := call(t, e, tok, "GET", "/api/"+version+"/jobs/runs/get", map[string]any{"run_id": fmt.Sprint(runID)})
		st, ok := run["state"].(map[string]any)
		if !ok {
			t.Fatalf("runs/get without state: %v", run)
		}
		lc, _ := st["life_cycle_state"].(string)
		if !lifeCycles[lc] {
			t.Fatalf("life_cycle_state %q is not one Airflow accepts", lc)
		}
		if terminal[lc] {
			return run
		}
		if _, ok := st["result_state"]; ok {
			t.Fatalf("result_state before the run is terminal: %v", st)
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still %s after %v", runID, lc, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// idOf reads a numeric id field of a decoded answer.
func idOf(t testing.TB, m map[string]any, key string) int64 {
	t.Helper()
	f, ok := m[key].(float64)
	if !ok || f <= 0 {
		t.Fatalf("%s missing in %v", key, m)
	}
	return int64(f)
}

// stateOf returns life_cycle_state/result_state of a run or task.
func stateOf(m map[string]any) string {
	st, _ := m["state"].(map[string]any)
	return fmt.Sprintf("%v/%v", st["life_cycle_state"], st["result_state"])
}

// tasksOf returns the tasks[] of a run.
func tasksOf(t testing.TB, run map[string]any) []map[string]any {
	t.Helper()
	raw, _ := run["tasks"].([]any)
	var out []map[string]any
	for _, x := range raw {
		out = append(out, x.(map[string]any))
	}
	return out
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
