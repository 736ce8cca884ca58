package main_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/beacon"
)

// api sends an authenticated JSON request and decodes a 200 answer.
func api(t *testing.T, url, token, method, path string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestKill9DuringARunEndsTheRunAtRestart kills the server with SIGKILL
// while a notebook runs: the notebook's process dies with the server
// (it does not run on unsupervised), and the restarted server ends the
// run as INTERNAL_ERROR at once, rather than after the lease would have
// run out, and never leaves it RUNNING.
func TestKill9DuringARunEndsTheRunAtRestart(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required: %v", err)
	}
	dir := t.TempDir()
	p := serve(t, dir)
	admin(t, dir, "", "conf", "set", "enableTokensConfig=true")
	tok, _, _ := admin(t, dir, "", "tokens", "create", "--user", "admin@kiln.local")
	tok = strings.TrimSpace(tok)
	within(t, time.Second, "the token works", func() bool { return status(t, p.url, tok) == 200 })

	b := beacon.New(t)
	src := fmt.Sprintf("# Databricks notebook source\nimport os, time\n%s\ntime.sleep(120)\n", b.Python(`"started"`))
	api(t, p.url, tok, "POST", "/api/2.0/workspace/import", map[string]any{"path": "/Shared/slow", "format": "SOURCE",
		"language": "PYTHON", "content": base64.StdEncoding.EncodeToString([]byte(src))})
	sub := api(t, p.url, tok, "POST", "/api/2.1/jobs/runs/submit", map[string]any{"run_name": "slow",
		"notebook_task": map[string]any{"notebook_path": "/Shared/slow"}})
	runID := strconv.FormatInt(int64(sub["run_id"].(float64)), 10)
	nb := b.Next(t, 30*time.Second)

	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.done <- nil
	took := nb.WaitClosed(t, 10*time.Second)
	t.Logf("the task's process died %v after the server", took)

	p2 := serve(t, dir)
	var state map[string]any
	took = within(t, 10*time.Second, "the run to end after the restart", func() bool {
		state = api(t, p2.url, tok, "GET", "/api/2.1/jobs/runs/get?run_id="+runID, nil)["state"].(map[string]any)
		return state["life_cycle_state"] != "RUNNING"
	})
	if state["life_cycle_state"] != "INTERNAL_ERROR" || state["result_state"] != "FAILED" ||
		!strings.Contains(state["state_message"].(string), "stopped before the task finished") {
		t.Fatalf("after the restart: %v", state)
	}
	t.Logf("run ended %v after the restart: %v", took, state["state_message"])
}
