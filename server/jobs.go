package server

import (
	"context"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/service"
)

// DefaultMaxConcurrentRuns is how many task runs a server executes at once
// unless configured.
const DefaultMaxConcurrentRuns = 4

// newRunner builds the executor of job runs over the assembled parts and
// wires it into the service, which wakes it when runs are queued and
// tells it about canceled runs. Tasks read notebooks and workspace files
// (with their owner's permissions), secrets (dbutils.secrets.get) and DBFS
// files through the service.
func newRunner(p *Parts) (*runner.Runner, error) {
	workers := p.Config.MaxConcurrentRuns
	if workers <= 0 {
		workers = DefaultMaxConcurrentRuns
	}
	c := runner.Config{
		Store: p.Store, DataDir: p.Config.DataDir, Workers: workers,
		TaskDir: p.Config.TaskDir, KeepTaskDirs: p.Config.KeepTaskDirs, Sandbox: p.Config.Sandbox, MaxOutput: p.Config.TaskMaxOutput,
		Python:  p.Config.TaskPython,
		Secrets: p.Service, DBFS: p.Service, Workspace: p.Service, Log: p.Log.With("component", "runner"),
	}
	if l := p.Config.TaskLease; l > 0 {
		// Renewed every third of the lease; swept every sixth, so that a
		// dead replica's task is resolved within about 1.2 leases.
		c.LeaseTTL, c.SweepInterval = l, max(l/6, 100*time.Millisecond)
	}
	if p.Config.Runner != nil {
		p.Config.Runner(&c)
	}
	r, err := runner.New(c)
	if err != nil {
		return nil, fmt.Errorf("starting the job runner: %w", err)
	}
	started := time.Now()
	p.Service.SetRunner(r, func() service.Compute {
		d := r.Compute()
		c := service.Compute{Workers: d.Workers, Cores: d.Cores, MemoryMB: d.MemoryMB, PythonVersion: d.PythonVersion, Started: started}
		c.Sandbox, c.SandboxError = r.Sandbox()
		c.SandboxOff = c.SandboxError == nil && r.SandboxOff()
		return c
	})
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
