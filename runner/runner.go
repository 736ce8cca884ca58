// Package runner executes job runs: it claims task runs from the durable
// queue in the store (kiln.RunTx), holds a lease on each while it runs,
// and runs each task as python3 under an embedded runtime shim in a
// process group and working directory of its own, with timeouts,
// cancellation, retries and bounded logs.
//
// One Runner serves one kiln server. It runs at most Workers tasks at
// once; everything else waits in the store as QUEUED, so a restart loses
// nothing. A task whose executor died (kill -9, power loss) is found by
// its expired lease, or at once by the next start of the same node, and
// ends as INTERNAL_ERROR, or is retried when retries remain.
package runner

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kiln-dev/kiln"
)

//go:embed shim/kiln_runtime.py
var shimSource []byte

// Secrets answers dbutils.secrets.get inside tasks, for the run's owner.
// *service.Service implements it.
type Secrets interface {
	SecretForRun(ctx context.Context, ownerID int64, scope, key string) ([]byte, error)
}

// DBFS resolves dbfs:/ paths of Python files to local files.
// *service.Service implements it.
type DBFS interface {
	DBFSLocalPath(p string) (string, error)
}

// Workspace reads the notebooks and workspace files of tasks with the read
// permissions of the run's owner. *service.Service implements it.
type Workspace interface {
	WorkspaceObjectForRun(ctx context.Context, ownerID int64, path string) (*kiln.WorkspaceObject, error)
}

// Config configures a Runner. Zero values take the documented defaults.
type Config struct {
	Store kiln.Store
	// DataDir holds the working directories, under DataDir/runs.
	DataDir string
	// Workers is how many tasks run at once; default 4.
	Workers int
	// Python is the interpreter; default python3 from PATH.
	Python string
	// Node names this server among the executors sharing the store; by
	// default the host name and the data directory. It must be unique per
	// running server: a starting server expires the leases of every other
	// incarnation of its node.
	Node string
	// LeaseTTL is how long a lease lasts unless renewed; default 30s.
	// Leases are renewed every LeaseTTL/3.
	LeaseTTL time.Duration
	// PollInterval is how often an idle runner looks for work that
	// Wake did not announce (retries coming due, other replicas); default
	// 1s.
	PollInterval time.Duration
	// SweepInterval is how often expired leases and run timeouts are
	// checked; default 5s.
	SweepInterval time.Duration
	// KillGrace is how long a task has between SIGTERM and SIGKILL;
	// default 10s.
	KillGrace time.Duration
	// ResultLimit bounds notebook_output.result; default 5 MiB (as
	// Databricks).
	ResultLimit int
	// LogPublish is how often the logs of a running task are written to
	// the store, so that they can be read before the task ends; default 2s.
	LogPublish time.Duration
	// LogHead and LogTail bound the logs stored per task: the first and
	// last bytes (defaults 128 KiB and 384 KiB). LogFileMax bounds the
	// full log file kept in the working directory (default 64 MiB).
	LogHead, LogTail int
	LogFileMax       int64
	// KeepWorkDirs keeps each attempt's working directory (tests,
	// debugging); by default only its output.log is kept.
	KeepWorkDirs bool
	Secrets      Secrets
	DBFS         DBFS
	// Workspace, when set, reads notebooks and files as the run's owner
	// may; without it they are read from the store unchecked (tests).
	Workspace Workspace
	Log       *slog.Logger
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 5 * time.Second
	}
	if c.KillGrace <= 0 {
		c.KillGrace = 10 * time.Second
	}
	if c.ResultLimit <= 0 {
		c.ResultLimit = 5 << 20
	}
	if c.LogPublish <= 0 {
		c.LogPublish = 2 * time.Second
	}
	if c.LogHead <= 0 {
		c.LogHead = 128 << 10
	}
	if c.LogTail <= 0 {
		c.LogTail = 384 << 10
	}
	if c.LogFileMax <= 0 {
		c.LogFileMax = 64 << 20
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Node == "" {
		host, _ := os.Hostname()
		dir, _ := filepath.Abs(c.DataDir)
		c.Node = host + ":" + dir
	}
}

// Runner executes runs. Start it once; Shutdown stops it.
type Runner struct {
	cfg   Config
	store kiln.Store
	log   *slog.Logger
	owner string // lease owner: node/incarnation

	// The interpreter, resolved on first use (see interpreter).
	pyOnce sync.Once
	python string
	pyVer  string
	pyErr  error

	wake   chan struct{}
	slots  chan struct{} // one token per running task
	base   context.Context
	cancel context.CancelFunc // stops claiming and the maintenance loop
	loops  sync.WaitGroup
	tasks  sync.WaitGroup

	mu      sync.Mutex
	running map[int64]*running // by task run id
	killAll context.CancelCauseFunc
	killCtx context.Context
}

// running is a task this runner executes.
type running struct {
	runID int64
	stop  context.CancelCauseFunc
}

// Causes that end a task early.
var (
	errCanceled   = errors.New("the run was canceled")
	errRunTimeout = errors.New("the run timed out")
	errLeaseLost  = errors.New("the task's lease was lost")
	errShutdown   = errors.New("the kiln server shut down")
)

// New returns a runner; Start starts it.
func New(c Config) (*Runner, error) {
	c.defaults()
	if c.Store == nil || c.DataDir == "" {
		return nil, errors.New("runner: Store and DataDir are required")
	}
	var inc [4]byte
	rand.Read(inc[:])
	r := &Runner{
		cfg: c, store: c.Store, log: c.Log, owner: c.Node + "/" + hex.EncodeToString(inc[:]),
		wake: make(chan struct{}, 1), slots: make(chan struct{}, c.Workers), running: map[int64]*running{},
	}
	return r, nil
}

// Owner returns the lease owner name of this runner: node/incarnation.
func (r *Runner) Owner() string { return r.owner }

// Start expires the leases of this node's earlier incarnations (their
// tasks died with them), then starts claiming. ctx bounds that first
// sweep only.
func (r *Runner) Start(ctx context.Context) error {
	res, err := r.sweep(ctx, true)
	if err != nil {
		return fmt.Errorf("runner: expiring the tasks of the previous server: %w", err)
	}
	if res.Expired > 0 {
		r.log.Warn("tasks of the previous server process ended as INTERNAL_ERROR or were queued for retry", "tasks", res.Expired)
	}
	r.base, r.cancel = context.WithCancel(context.Background())
	r.killCtx, r.killAll = context.WithCancelCause(context.Background())
	r.loops.Add(2)
	go func() { defer r.loops.Done(); r.dispatch() }()
	go func() { defer r.loops.Done(); r.maintain() }()
	r.Wake()
	return nil
}

// Wake tells the runner that work may be claimable (a run was queued, a
// task finished). It never blocks.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stopped tells the runner that a run was stopped (result is
// kiln.ResultCanceled or kiln.ResultTimedOut): its running tasks here are
// killed at once rather than at their next lease renewal.
func (r *Runner) Stopped(runID int64, result string) {
	cause := errCanceled
	if result == kiln.ResultTimedOut {
		cause = errRunTimeout
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.running {
		if t.runID == runID {
			t.stop(cause)
		}
	}
}

// Shutdown stops claiming, lets running tasks finish until ctx ends, then
// kills the rest and records them as ended by the shutdown (INTERNAL_ERROR,
// or queued again when retries remain), so that nothing stays RUNNING.
func (r *Runner) Shutdown(ctx context.Context) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.loops.Wait()
	done := make(chan struct{})
	go func() { r.tasks.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.log.Warn("shutdown: killing the tasks still running")
		r.killAll(errShutdown)
		<-done
	}
}

// dispatch claims tasks while a slot is free.
func (r *Runner) dispatch() {
	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	for {
		select {
		case r.slots <- struct{}{}:
		case <-r.base.Done():
			return
		}
		run, task, err := r.claim()
		if err != nil || task == nil {
			<-r.slots
			if err != nil && r.base.Err() == nil {
				r.log.Error("claiming a task", "err", err)
			}
			select {
			case <-r.wake:
			case <-poll.C:
			case <-r.base.Done():
				return
			}
			continue
		}
		r.tasks.Add(1)
		go func() {
			defer r.tasks.Done()
			defer func() { <-r.slots; r.Wake() }()
			r.execute(run, task)
		}()
	}
}

// claim leases the next runnable task, or returns nil. It first looks in
// a read-only transaction, so that an idle runner never writes.
func (r *Runner) claim() (*kiln.Run, *kiln.TaskRun, error) {
	var due bool
	if err := r.store.View(r.base, func(tx kiln.Tx) (err error) { due, err = tx.HasClaimable(); return err }); err != nil || !due {
		return nil, nil, err
	}
	var run *kiln.Run
	var task *kiln.TaskRun
	err := r.store.Update(r.base, func(tx kiln.Tx) (err error) {
		run, task, err = tx.ClaimTask(kiln.Claim{Owner: r.owner, LeaseUntil: tx.Now().Add(r.cfg.LeaseTTL)})
		return err
	})
	return run, task, err
}

// maintain sweeps expired leases and run timeouts periodically.
func (r *Runner) maintain() {
	t := time.NewTicker(r.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-r.base.Done():
			return
		case <-t.C:
			if _, err := r.sweep(r.base, false); err != nil && r.base.Err() == nil {
				r.log.Error("sweeping runs", "err", err)
			}
		}
	}
}

func (r *Runner) sweep(ctx context.Context, atStart bool) (kiln.SweepResult, error) {
	ls := kiln.LeaseSweep{}
	if atStart {
		ls.Node, ls.Self = r.cfg.Node, r.owner
	}
	var res kiln.SweepResult
	var due bool
	// A read first: an idle server never writes.
	if err := r.store.View(ctx, func(tx kiln.Tx) (err error) { due, err = tx.SweepDue(ls); return err }); err != nil || !due {
		return res, err
	}
	err := r.store.Update(ctx, func(tx kiln.Tx) (err error) {
		res, err = tx.SweepRuns(ls)
		return err
	})
	if err != nil {
		return res, err
	}
	for _, id := range res.TimedOut {
		r.Stopped(id, kiln.ResultTimedOut)
	}
	if res.Expired > 0 {
		r.log.Warn("tasks whose executor stopped renewing its lease were ended", "tasks", res.Expired)
		r.Wake()
	}
	return res, nil
}

// track registers a running task so that Stopped and Shutdown reach it.
func (r *Runner) track(runID, taskID int64, stop context.CancelCauseFunc) func() {
	r.mu.Lock()
	r.running[taskID] = &running{runID: runID, stop: stop}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.running, taskID)
		r.mu.Unlock()
	}
}

// Running returns the ids of the task runs executing here (tests, the
// console).
func (r *Runner) Running() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]int64, 0, len(r.running))
	for id := range r.running {
		ids = append(ids, id)
	}
	return ids
}
