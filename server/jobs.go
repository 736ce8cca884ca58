package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/service"
)

// runnerLink is the service's executor (service.Deps.Jobs, Compute) until
// there is one, and forwards to the runner afterwards. It exists because
// the two need each other: tasks read secrets, workspace objects and DBFS
// files through the service, so the runner is built on it, while the
// service wakes the runner when runs are queued and stops the canceled
// ones. The service is built first, with the link (OpenParts: offline
// commands never build a runner); newRunner points the link at the runner
// once it is built. Until then Wake and Stopped do nothing (a starting
// runner looks at the queue itself) and Compute describes nothing.
type runnerLink struct {
	to atomic.Pointer[linkedRunner]
}

type linkedRunner struct {
	r       *runner.Runner
	started time.Time
}

// Wake forwards to the runner's Wake.
func (l *runnerLink) Wake() {
	if to := l.to.Load(); to != nil {
		to.r.Wake()
	}
}

// Stopped forwards to the runner's Stopped.
func (l *runnerLink) Stopped(runID int64, result string) {
	if to := l.to.Load(); to != nil {
		to.r.Stopped(runID, result)
	}
}

// compute describes the runner's executors, for service.Deps.Compute.
func (l *runnerLink) compute() service.Compute {
	to := l.to.Load()
	if to == nil {
		return service.Compute{}
	}
	r := to.r
	d := r.Compute()
	c := service.Compute{Workers: d.Workers, Cores: d.Cores, MemoryMB: d.MemoryMB, PythonVersion: d.PythonVersion, Started: to.started}
	c.Sandbox, c.SandboxError = r.Sandbox()
	c.SandboxOff = c.SandboxError == nil && r.SandboxOff()
	return c
}

// newRunner builds the executor of job runs over the assembled parts and
// points the service's runnerLink at it, so that the service wakes it
// when runs are queued and tells it about canceled runs. Tasks read
// notebooks and workspace files (with their owner's permissions), secrets
// (dbutils.secrets.get) and DBFS files through the service.
func newRunner(p *Parts) (*runner.Runner, error) {
	c := runner.Config{
		Store: p.Store, DataDir: p.Config.DataDir, Workers: p.Config.MaxConcurrentRuns,
		TaskDir: p.Config.TaskDir, KeepTaskDirs: p.Config.KeepTaskDirs, Sandbox: p.Config.Sandbox, MaxOutput: p.Config.TaskMaxOutput,
		Python:  p.Config.TaskPython,
		Secrets: p.Service, DBFS: p.Service, TaskFS: p.Service, Workspace: p.Service, Jobs: p.Service,
		Log: p.Log.With("component", "runner"),
	}
	// Renewed every third of the lease; swept every sixth, so that a dead
	// replica's task is resolved within about 1.2 leases.
	l := p.Config.TaskLease
	c.LeaseTTL, c.SweepInterval = l, max(l/6, 100*time.Millisecond)
	if p.Config.Runner != nil {
		p.Config.Runner(&c)
	}
	r, err := runner.New(c)
	if err != nil {
		return nil, fmt.Errorf("starting the job runner: %w", err)
	}
	p.runnerLink.to.Store(&linkedRunner{r: r, started: time.Now()})
	return r, nil
}

// stopRunner stops claiming tasks and gives the running ones the shutdown
// timeout to finish; those still running then are killed and recorded as
// ended by the shutdown (or queued again when they have retries left), so
// that no run stays RUNNING.
func (s *Server) stopRunner() {
	ctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	defer cancel()
	s.Log.Info("shutting down: waiting for running tasks")
	s.Runner.Shutdown(ctx)
}
