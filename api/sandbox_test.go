package api_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/sandbox"
	"github.com/kiln-dev/kiln/server"
)

// importAndSubmit imports src and submits a one-task run of it.
func importAndSubmit(t *testing.T, e *kilntest.Env, tok, path, src string) int64 {
	t.Helper()
	importNotebook(t, e, tok, path, src)
	return submitNotebook(t, e, tok, path)
}

// outputOf returns the get-output answer of a one-task run.
func outputOf(t *testing.T, e *kilntest.Env, tok string, run map[string]any) map[string]any {
	t.Helper()
	return call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", int64(tasksOf(t, run)[0]["run_id"].(float64))), nil)
}

// TestTaskLimits: a memory hog, a fork bomb and a notebook that prints
// without end each fail with their limit named, while an ordinary run
// beside them succeeds and the server stays healthy.
func TestTaskLimits(t *testing.T) {
	e, tok := jobsEnv(t, func(c *server.Config) {
		c.MaxConcurrentRuns = 4
		c.Sandbox.Limits = sandbox.Limits{MemoryBytes: 256 << 20, Processes: 48}
		c.TaskMaxOutput = 4 << 20
	})
	cases := []struct {
		name, src, message string
	}{
		{"Memory", "x = bytearray(1 << 30)\n", "The task ran out of memory: each of its processes may use 256 MiB (--task-memory)."},
		{"ForkBomb", "import os, time\nwhile True:\n    os.fork()\n", "The task reached its limit of 48 processes and threads (--task-processes)."},
		{"Output", "while True:\n    print('x' * 10000)\n", "The task wrote more than its limit of 4 MiB of output and was stopped (--task-max-output)."},
	}
	ids := map[string]int64{}
	for _, c := range cases {
		ids[c.name] = importAndSubmit(t, e, tok, "/Shared/limit-"+strings.ToLower(c.name), c.src)
	}
	ordinary := importAndSubmit(t, e, tok, "/Shared/ordinary", "import time\ntime.sleep(0.5)\ndbutils.notebook.exit('fine')\n")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := pollRun(t, e, tok, "2.1", ids[c.name], 60*time.Second)
			task := tasksOf(t, run)[0]
			st := task["state"].(map[string]any)
			if stateOf(task) != "TERMINATED/FAILED" || st["state_message"] != c.message {
				t.Fatalf("task: %s %q, want TERMINATED/FAILED %q", stateOf(task), st["state_message"], c.message)
			}
		})
	}
	run := pollRun(t, e, tok, "2.1", ordinary, 60*time.Second)
	if stateOf(run) != "TERMINATED/SUCCESS" || outputOf(t, e, tok, run)["notebook_output"].(map[string]any)["result"] != "fine" {
		t.Fatalf("the ordinary run beside them: %s", asJSON(run["state"]))
	}
	if r := e.Do(t, "GET", "/healthz", "", nil); r.Status != 200 {
		t.Fatalf("healthz: %d", r.Status)
	}
}

// TestSecretsNeverReachDiskOrResponses: a notebook prints a secret, puts
// it in its exception and in its exit value; every response and every
// file kiln keeps shows [REDACTED] instead.
func TestSecretsNeverReachDiskOrResponses(t *testing.T) {
	e, tok := jobsEnv(t)
	value := string(secretValues[0])
	ok(t, e.Do(t, "POST", "/api/2.0/secrets/scopes/create", tok, map[string]any{"scope": "prod"}), "create scope")
	ok(t, e.Do(t, "POST", "/api/2.0/secrets/put", tok, map[string]any{"scope": "prod", "key": "pw", "string_value": value}), "put")
	for _, c := range []struct {
		name, src string
	}{
		{"ExitValue", "v = dbutils.secrets.get('prod', 'pw')\nprint('the value is', v)\nimport sys\nsys.stdout.write(v[:5]); sys.stdout.flush(); sys.stdout.write(v[5:] + '\\n')\ndbutils.notebook.exit('exit ' + v)\n"},
		{"Exception", "v = dbutils.secrets.get('prod', 'pw')\nraise RuntimeError('failed with ' + v)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := pollRun(t, e, tok, "2.1", importAndSubmit(t, e, tok, "/Shared/leak-"+strings.ToLower(c.name), c.src), 60*time.Second)
			out := e.Do(t, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", int64(tasksOf(t, run)[0]["run_id"].(float64))), tok, nil)
			if out.Status != 200 || !bytes.Contains(out.Body, []byte("[REDACTED]")) {
				t.Fatalf("get-output: %d %s", out.Status, out.Body)
			}
			noValues(t, "get-output", out.Body)
			noValues(t, "runs/get", e.Do(t, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", int64(run["run_id"].(float64))), tok, nil).Body)
		})
	}
	// Every file in the data directory, the full logs included.
	logs := 0
	filepath.WalkDir(e.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) == "output.log" {
			logs++
			if !bytes.Contains(b, []byte("[REDACTED]")) && bytes.Contains(b, []byte("the value is")) {
				t.Errorf("%s: not redacted: %q", p, b)
			}
		}
		noValues(t, p, b)
		return nil
	})
	if logs == 0 {
		t.Fatal("no output.log was kept")
	}
}

// TestClosedNetwork: with --task-network=none a task cannot connect even
// to loopback, while by default it can (notebooks call APIs).
func TestClosedNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	src := fmt.Sprintf(`import socket
try:
    socket.create_connection(("127.0.0.1", %d), timeout=5).close()
    dbutils.notebook.exit("connected")
except OSError as e:
    dbutils.notebook.exit("refused: %%s" %% e)
`, ln.Addr().(*net.TCPAddr).Port)
	for _, c := range []struct {
		name   string
		closed bool
		want   string
	}{
		{"Open", false, "connected"},
		{"None", true, "refused: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, tok := jobsEnv(t, func(cfg *server.Config) { cfg.Sandbox.NoNetwork = c.closed })
			run := pollRun(t, e, tok, "2.1", importAndSubmit(t, e, tok, "/Shared/net", src), 60*time.Second)
			got, _ := outputOf(t, e, tok, run)["notebook_output"].(map[string]any)["result"].(string)
			if !strings.HasPrefix(got, c.want) {
				t.Fatalf("result %q, want %q…", got, c.want)
			}
		})
	}
}

// TestSandboxFailsClosed: when the sandbox cannot be set up (here: the
// task directory inside the data directory), kiln executes nothing and
// says why in the run; with the sandbox off the same task runs.
func TestSandboxFailsClosed(t *testing.T) {
	t.Run("Refused", func(t *testing.T) {
		var dataDir string
		e, tok := jobsEnv(t, func(c *server.Config) {
			dataDir = c.DataDir
			if dataDir == "" {
				dataDir = t.TempDir()
				c.DataDir = dataDir
			}
			c.TaskDir = filepath.Join(dataDir, "tasks")
		})
		run := pollRun(t, e, tok, "2.1", importAndSubmit(t, e, tok, "/Shared/any", "print('hello')\n"), 60*time.Second)
		msg := run["state"].(map[string]any)["state_message"].(string)
		if stateOf(run) != "INTERNAL_ERROR/FAILED" || !strings.Contains(msg, "refuses to run tasks") || !strings.Contains(msg, "sandbox") {
			t.Fatalf("run: %s %q", stateOf(run), msg)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "tasks")); err == nil {
			t.Error("a task directory was created inside the data directory")
		}
	})
	t.Run("Off", func(t *testing.T) {
		e, tok := jobsEnv(t, func(c *server.Config) { c.Sandbox.Off = true })
		run := pollRun(t, e, tok, "2.1", importAndSubmit(t, e, tok, "/Shared/any", "import os\ndbutils.notebook.exit(str(os.getuid()))\n"), 60*time.Second)
		got := outputOf(t, e, tok, run)["notebook_output"].(map[string]any)["result"]
		if stateOf(run) != "TERMINATED/SUCCESS" || got != fmt.Sprint(os.Getuid()) {
			t.Fatalf("run: %s, uid %v", stateOf(run), got)
		}
	})
}
