package api_test

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/server"
)

// The jobs benchmarks run a real server over loopback with its real
// executor and python3. Reproduce with:
//
//	go test -run '^$' -bench 'BenchmarkJobs' -benchtime 20x ./api/
//
// (BenchmarkJobsDrain1000 drains 1,000 runs per iteration: -benchtime 1x
// is enough for it.)

// benchRunState reads a run's life cycle state.
func benchRunState(b *testing.B, e *kilntest.Env, tok string, runID int64) string {
	run := call(b, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID), nil)
	return run["state"].(map[string]any)["life_cycle_state"].(string)
}

// BenchmarkJobsSubmitToRunning measures, on an idle server, the time from
// sending runs/submit to runs/get reporting the run RUNNING (claimed by
// an executor; its process is starting). Each run is waited for before
// the next one, so the server is idle at every submit.
func BenchmarkJobsSubmitToRunning(b *testing.B) {
	e, tok := jobsEnv(b)
	importNotebook(b, e, tok, "/Shared/noop", "pass\n")
	body := `{"run_name": "bench", "notebook_task": {"notebook_path": "/Shared/noop"}}`
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		runID := idOf(b, call(b, e, tok, "POST", "/api/2.1/jobs/runs/submit", body), "run_id")
		for benchRunState(b, e, tok, runID) == "QUEUED" {
		}
		total += time.Since(start)
		for !terminal[benchRunState(b, e, tok, runID)] {
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/submit-to-running")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkJobsRunsGetPolling measures runs/get throughput with 8
// concurrent pollers on a finished two-task run, against the same
// clients calling SCIM Me (authenticated, answered from memory) as the
// baseline.
func BenchmarkJobsRunsGetPolling(b *testing.B) {
	e, tok := jobsEnv(b)
	importNotebook(b, e, tok, "/Shared/noop", "pass\n")
	runID := idOf(b, call(b, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "poll", "tasks": [
		{"task_key": "a", "notebook_task": {"notebook_path": "/Shared/noop"}},
		{"task_key": "b", "depends_on": [{"task_key": "a"}], "notebook_task": {"notebook_path": "/Shared/noop"}}]}`), "run_id")
	pollRun(b, e, tok, "2.1", runID, time.Minute)
	for _, c := range []struct{ name, path string }{
		{"runs-get", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID)},
		{"baseline-scim-me", "/api/2.0/preview/scim/v2/Me"},
	} {
		b.Run(c.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			b.SetParallelism(4) // 4 × GOMAXPROCS (2) = 8 pollers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", e.URL+c.path, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					resp, err := client.Do(req)
					if err != nil || resp.StatusCode != 200 {
						b.Errorf("%s: %v %v", c.path, err, resp)
						return
					}
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkJobsDrain1000 submits 1,000 trivial runs as fast as one client
// can, then waits for all of them to finish with SUCCESS: nothing lost,
// nothing left QUEUED or RUNNING. The executor runs 4 tasks at once (the
// default --max-concurrent-runs), each a python3 process.
func BenchmarkJobsDrain1000(b *testing.B) {
	const runs = 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e, tok := jobsEnv(b, func(c *server.Config) { c.MaxConcurrentRuns = server.DefaultMaxConcurrentRuns })
		importNotebook(b, e, tok, "/Shared/noop", "pass\n")
		b.StartTimer()
		start := time.Now()
		ids := make([]int64, 0, runs)
		var mu sync.Mutex
		var wg sync.WaitGroup
		var failed atomic.Int32
		for w := range 4 { // 4 submitting clients
			wg.Go(func() {
				for j := w; j < runs; j += 4 {
					r := e.Do(b, "POST", "/api/2.1/jobs/runs/submit", tok, fmt.Sprintf(`{"run_name": "drain-%d", "notebook_task": {"notebook_path": "/Shared/noop"}}`, j))
					if r.Status != 200 {
						failed.Add(1)
						continue
					}
					mu.Lock()
					ids = append(ids, int64(r.JSON(b)["run_id"].(float64)))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		submitted := time.Since(start)
		if failed.Load() > 0 || len(ids) != runs {
			b.Fatalf("%d submits failed", failed.Load())
		}
		// Wait until runs/list reports nothing active, then check every run.
		for {
			l := call(b, e, tok, "GET", "/api/2.1/jobs/runs/list?active_only=true&limit=1", nil)
			if rs, _ := l["runs"].([]any); len(rs) == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		drained := time.Since(start)
		b.StopTimer()
		success := 0
		for _, id := range ids {
			run := call(b, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", id), nil)
			if stateOf(run) == "TERMINATED/SUCCESS" {
				success++
			}
		}
		if success != runs {
			b.Fatalf("%d of %d runs succeeded", success, runs)
		}
		e.Stop()
		baseline := bareInterpreters(b, runs, server.DefaultMaxConcurrentRuns)
		b.ReportMetric(submitted.Seconds(), "s-to-submit")
		b.ReportMetric(drained.Seconds(), "s-to-drain")
		b.ReportMetric(runs/drained.Seconds(), "runs/s")
		b.ReportMetric(baseline.Seconds(), "s-baseline")
		b.ReportMetric(drained.Seconds()/baseline.Seconds(), "x-baseline")
		b.StartTimer()
	}
	b.ReportMetric(0, "ns/op")
}

// bareInterpreters is the drain's baseline: how long n runs of the same
// interpreter doing nothing ("python3 -c pass"), par at a time, take on
// this machine. A task cannot cost less than starting its interpreter.
func bareInterpreters(b *testing.B, n, par int) time.Duration {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		b.Fatal(err)
	}
	python := strings.TrimSpace(string(out))
	start := time.Now()
	var wg sync.WaitGroup
	for w := range par {
		wg.Go(func() {
			for j := w; j < n; j += par {
				if err := exec.Command(python, "-c", "pass").Run(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkJobsSandboxOverhead measures submit → TERMINATED of a trivial
// notebook on two idle servers in the same run, one confining tasks (the
// default) and one with --task-sandbox=off, interleaved run by run so
// that both see the same machine. It reports each mean and their ratio.
//
//	go test -run '^$' -bench 'BenchmarkJobsSandboxOverhead' -benchtime 40x ./api/
func BenchmarkJobsSandboxOverhead(b *testing.B) {
	type side struct {
		e     *kilntest.Env
		tok   string
		total time.Duration
	}
	var on, off side
	// One interpreter for both: as root the sandbox cannot use a per-user
	// installation (pyenv under /root), and the unconfined side would pick
	// it, measuring two Pythons instead of one sandbox.
	samePython := func(c *server.Config) {
		adjust := c.Runner
		c.Runner = func(rc *runner.Config) { adjust(rc); rc.Python = "/usr/bin/python3" }
	}
	on.e, on.tok = jobsEnv(b, samePython)
	off.e, off.tok = jobsEnv(b, samePython, func(c *server.Config) { c.Sandbox.Off = true })
	body := `{"run_name": "bench", "notebook_task": {"notebook_path": "/Shared/noop"}}`
	for _, s := range []*side{&on, &off} {
		importNotebook(b, s.e, s.tok, "/Shared/noop", "pass\n")
		// The first run resolves the interpreter: not part of the figure.
		pollRun(b, s.e, s.tok, "2.1", idOf(b, call(b, s.e, s.tok, "POST", "/api/2.1/jobs/runs/submit", body), "run_id"), time.Minute)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range []*side{&on, &off} {
			start := time.Now()
			runID := idOf(b, call(b, s.e, s.tok, "POST", "/api/2.1/jobs/runs/submit", body), "run_id")
			for !terminal[benchRunState(b, s.e, s.tok, runID)] {
				time.Sleep(2 * time.Millisecond)
			}
			s.total += time.Since(start)
		}
	}
	msOn := float64(on.total.Microseconds()) / float64(b.N) / 1000
	msOff := float64(off.total.Microseconds()) / float64(b.N) / 1000
	b.ReportMetric(msOn, "ms/run-sandboxed")
	b.ReportMetric(msOff, "ms/run-unconfined")
	b.ReportMetric(msOn/msOff, "sandboxed/unconfined")
	b.ReportMetric(0, "ns/op")
}
