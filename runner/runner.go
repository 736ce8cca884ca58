// Package runner executes job runs: it claims task runs from the durable
// queue in the store (kiln.RunTx), holds a lease on each while it runs,
// and runs each task as python3 under an embedded runtime shim, confined
// by the task sandbox (package sandbox) in a private directory outside the
// data directory, with timeouts, cancellation, retries, resource limits
// and bounded, redacted logs.
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
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/sandbox"
)

//go:embed shim/kiln_runtime.py
var shimSource []byte

// Secrets answers dbutils.secrets.get inside tasks, for the run's owner.
// *service.Service implements it.
type Secrets interface {
	SecretForRun(ctx context.Context, ownerID int64, scope, key string) ([]byte, error)
}

// DBFS opens the dbfs:/ Python files and wheels of tasks for reading
// (DBFS has no ACLs). *service.Service implements it.
type DBFS interface {
	DBFSOpenForRun(ctx context.Context, p string) (io.ReadCloser, error)
}

// Workspace reads the notebooks, workspace files and wheels of tasks with
// the read permissions of the run's owner. *service.Service implements it.
type Workspace interface {
	WorkspaceObjectForRun(ctx context.Context, ownerID int64, path string) (*kiln.WorkspaceObject, error)
}

// Config configures a Runner. Zero values take the documented defaults.
type Config struct {
	Store kiln.Store
	// DataDir is the server's data directory: the full log of each
	// attempt is kept under DataDir/runs, where no task can reach it.
	// Tasks never run inside it.
	DataDir string
	// TaskDir holds the private working directory of each attempt;
	// default DefaultTaskDir(DataDir). It must lie outside DataDir.
	TaskDir string
	// KeepTaskDirs says which attempt directories outlive their attempt:
	// KeepNone (the default), KeepFailed or KeepAll.
	KeepTaskDirs string
	// Sandbox confines tasks; DataDir is always added to its private
	// paths. When the sandbox cannot be set up and Sandbox.Off is false,
	// the runner refuses to execute tasks and says why in each run.
	Sandbox sandbox.Config
	// MaxOutput bounds what a task may print; a task that prints more is
	// stopped and fails, naming the limit. Default 256 MiB.
	MaxOutput int64
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
	Secrets          Secrets
	DBFS             DBFS
	// TaskFS answers dbutils.fs inside tasks; nil refuses it.
	TaskFS TaskFS
	// Workspace reads notebooks and files as the run's owner may;
	// required.
	Workspace Workspace
	// Jobs queues the runs of run_job_task tasks; nil fails them.
	Jobs Jobs
	Log  *slog.Logger
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
	if c.MaxOutput <= 0 {
		c.MaxOutput = 256 << 20
	}
	if c.KeepTaskDirs == "" {
		c.KeepTaskDirs = KeepNone
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

	// The sandbox, or why there is none (then no task runs).
	sb    *sandbox.Sandbox
	sbErr error

	// The interpreter, resolved on first use (see interpreter).
	pyOnce sync.Once
	py     python
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
	if c.Store == nil || c.DataDir == "" || c.Workspace == nil {
		return nil, errors.New("runner: Store, DataDir and Workspace are required")
	}
	// Absolute from the start: tasks run elsewhere, and a relative path
	// would be resolved again from their directories.
	var err error
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil {
		return nil, err
	}
	if c.TaskDir == "" {
		c.TaskDir = DefaultTaskDir(c.DataDir)
	}
	if c.TaskDir, err = filepath.Abs(c.TaskDir); err != nil {
		return nil, err
	}
	switch c.KeepTaskDirs {
	case "", KeepNone, KeepFailed, KeepAll:
	default:
		return nil, fmt.Errorf("runner: KeepTaskDirs is %q; use %s, %s or %s", c.KeepTaskDirs, KeepNone, KeepFailed, KeepAll)
	}
	c.defaults()
	var inc [4]byte
	rand.Read(inc[:])
	r := &Runner{
		cfg: c, store: c.Store, log: c.Log, owner: c.Node + "/" + hex.EncodeToString(inc[:]),
		wake: make(chan struct{}, 1), slots: make(chan struct{}, c.Workers), running: map[int64]*running{},
	}
	r.sb, r.sbErr = openSandbox(c)
	return r, nil
}

// Which attempt directories outlive their attempt (Config.KeepTaskDirs).
const (
	KeepNone   = "none"
	KeepFailed = "failed"
	KeepAll    = "all"
)

// DefaultTaskDir is where attempt directories go unless configured: a
// sibling of the data directory (kiln-data.tasks), or, when kiln runs as
// root and tasks as another user who may not reach the data directory's
// parent, a directory of its own under /var/lib/kiln/tasks.
func DefaultTaskDir(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	if os.Getuid() == 0 {
		sum := sha256.Sum256([]byte(abs))
		return filepath.Join("/var/lib/kiln/tasks", filepath.Base(abs)+"-"+hex.EncodeToString(sum[:4]))
	}
	return abs + ".tasks"
}

// openSandbox sets up the sandbox and the task directory; an error means
// no task may run.
func openSandbox(c Config) (*sandbox.Sandbox, error) {
	sc := c.Sandbox
	sc.Private = append(append([]string{}, sc.Private...), c.DataDir)
	sb, err := sandbox.New(sc)
	if err != nil {
		return nil, err
	}
	if err := sb.CheckPaths(c.TaskDir); err != nil {
		return nil, fmt.Errorf("the task directory %s: %v", c.TaskDir, err)
	}
	// Traversable but not listable by the task user: each task finds only
	// its own directory, whose name it is given.
	if err := os.MkdirAll(c.TaskDir, 0o711); err != nil {
		return nil, fmt.Errorf("cannot create the task directory: %v", err)
	}
	if err := os.Chmod(c.TaskDir, 0o711); err != nil {
		return nil, fmt.Errorf("cannot set up the task directory: %v", err)
	}
	if uid, _ := sb.Owner(); !sb.Off() && uid != os.Getuid() {
		if blocked := unreachable(c.TaskDir, uid); blocked != "" {
			return nil, fmt.Errorf("the task user %s cannot reach the task directory %s: %s is closed to other users; pass --task-dir with a directory it can reach", sb.User(), c.TaskDir, blocked)
		}
	}
	return sb, nil
}

// unreachable returns the first directory on the way to dir that other
// users may not traverse, "" when there is none.
func unreachable(dir string, uid int) string {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return d
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != uid && st.Mode().Perm()&0o001 == 0 {
			return d
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

// SandboxOff reports whether tasks run unconfined (--task-sandbox=off).
func (r *Runner) SandboxOff() bool { return r.sb != nil && r.sb.Off() }

// Sandbox describes how tasks are confined, or why none run (the console
// and the logs show it).
func (r *Runner) Sandbox() (description string, err error) {
	if r.sbErr != nil {
		return "", r.sbErr
	}
	return r.sb.Describe(), nil
}

// Owner returns the lease owner name of this runner: node/incarnation.
func (r *Runner) Owner() string { return r.owner }

// Start expires the leases of this node's earlier incarnations (their
// tasks died with them), then starts claiming. ctx bounds that first
// sweep only.
func (r *Runner) Start(ctx context.Context) error {
	switch {
	case r.sbErr != nil:
		r.log.Error("kiln refuses to execute tasks: the task sandbox cannot be set up; every run will fail until this is fixed (or, knowingly, --task-sandbox=off)", "err", r.sbErr)
	case r.sb.Off():
		r.log.Warn("THE TASK SANDBOX IS OFF: tasks run as kiln's own user and can read its keys and database; never allow untrusted users to run jobs", "task_dir", r.cfg.TaskDir)
	default:
		r.log.Info("task sandbox", "confinement", r.sb.Describe(), "task_dir", r.cfg.TaskDir)
	}
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
	if r.sb != nil {
		defer r.sb.Close()
	}
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
		if task.Exec.Control() {
			// Evaluated here, with no slot: a run_job_task holding one
			// while it waits could starve its own child run.
			<-r.slots
			go func() {
				defer r.tasks.Done()
				defer r.Wake()
				r.execute(run, task)
			}()
			continue
		}
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
