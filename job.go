package kiln

import (
	"encoding/json"
	"time"
)

// Job is a saved job definition. Settings is the Databricks JobSettings
// object kept as JSON, so fields kiln does not interpret round-trip
// unchanged.
type Job struct {
	// ID is numeric, below 2^53.
	ID        int64
	Name      string // settings.name, denormalised for list filters
	CreatorID int64
	// CreatorName is the creator's user name, filled on read ("" once the
	// creator is deleted).
	CreatorName string
	Settings    []byte // JSON JobSettings
	Created     time.Time
}

// JobFilter selects jobs, ordered by creation (oldest first, then id).
// Zero fields do not filter.
type JobFilter struct {
	// Name matches settings.name exactly.
	Name string
	// CreatorID keeps the jobs of one creator (what a non-admin may see).
	CreatorID int64
	// GrantedTo, with CreatorID, also keeps the jobs on which any of these
	// grantees holds a grant (the others a non-admin may see).
	GrantedTo []Grantee
	// AfterCreated and AfterID page by key: only jobs after that one in
	// the list order. Set both from the last job of the previous page.
	AfterCreated time.Time
	AfterID      int64
	// Offset skips jobs (the legacy paging); Limit 0 means all.
	Offset, Limit int
}

// Life cycle and result states of runs and task runs, exactly as
// Databricks names them (orchestrators poll them and refuse values they do
// not know).
const (
	LifeCyclePending         = "PENDING"
	LifeCycleQueued          = "QUEUED"
	LifeCycleBlocked         = "BLOCKED"
	LifeCycleWaitingForRetry = "WAITING_FOR_RETRY"
	LifeCycleRunning         = "RUNNING"
	LifeCycleTerminating     = "TERMINATING"
	LifeCycleTerminated      = "TERMINATED"
	LifeCycleSkipped         = "SKIPPED"
	LifeCycleInternalErr     = "INTERNAL_ERROR"

	ResultSuccess          = "SUCCESS"
	ResultFailed           = "FAILED"
	ResultTimedOut         = "TIMEDOUT"
	ResultCanceled         = "CANCELED"
	ResultExcluded         = "EXCLUDED"
	ResultUpstream         = "UPSTREAM_FAILED"
	ResultUpstreamCanceled = "UPSTREAM_CANCELED"
	// ResultMaxConcurrentRuns ends a run SKIPPED at its creation: its job
	// already had max_concurrent_runs active runs and does not queue
	// (queue.enabled false), or allows none (max_concurrent_runs 0).
	ResultMaxConcurrentRuns = "MAXIMUM_CONCURRENT_RUNS_REACHED"
)

// Run types.
const (
	RunTypeJob    = "JOB_RUN"    // jobs/run-now
	RunTypeSubmit = "SUBMIT_RUN" // jobs/runs/submit
)

// Run conditions of a task (run_if): when it runs once its dependencies
// are done. "" means RunIfAllSuccess.
const (
	RunIfAllSuccess        = "ALL_SUCCESS"
	RunIfAllDone           = "ALL_DONE"
	RunIfNoneFailed        = "NONE_FAILED"
	RunIfAtLeastOneSuccess = "AT_LEAST_ONE_SUCCESS"
	RunIfAllFailed         = "ALL_FAILED"
	RunIfAtLeastOneFailed  = "AT_LEAST_ONE_FAILED"
)

// LocalClusterID is the fixed cluster that is this server's executors,
// always RUNNING; clusters created through the API are named
// configurations of the same executors.
const LocalClusterID = "kiln-local"

// Run is one run of a job (run-now) or a one-time submitted run, with its
// task runs. Its state is derived from its tasks' (see run_state.go);
// stores persist it, they never decide it.
type Run struct {
	ID int64
	// Seq orders runs by submission: a store assigns increasing values.
	// Runs pages by it.
	Seq int64
	// JobID is the saved job of a JOB_RUN; a SUBMIT_RUN gets a one-time job
	// id of its own that names no saved job (clients read job_id of every
	// run).
	JobID int64
	// OwnerID is who the run runs as and who may see it (with admins): the
	// submitter, or the job's creator for run-now. OwnerName is filled on
	// read.
	OwnerID   int64
	OwnerName string
	RunName   string
	RunType   string
	// Spec is opaque JSON the service keeps for rendering the run (the
	// submitted settings, the overriding parameters); stores store it.
	Spec []byte
	// IdempotencyToken, when set, is unique per owner.
	IdempotencyToken string
	// Timeout bounds the run from its start (0: none). MaxConcurrent is the
	// job's max_concurrent_runs: a queued run of a job with that many
	// active runs waits (0: no limit).
	Timeout       time.Duration
	MaxConcurrent int

	LifeCycleState string
	ResultState    string
	StateMessage   string
	// Stop is "" while the run goes its course, or ResultCanceled or
	// ResultTimedOut once a cancel or the run's timeout ended it early:
	// tasks not yet started end at once, running ones are killed.
	Stop string

	Created time.Time
	Started time.Time // first task claimed
	Ended   time.Time
	Tasks   []*TaskRun // filled on read, in Position order

	// ScheduledTime is the tick of the job's schedule (or periodic
	// trigger) this run was queued for, zero for a run someone asked for.
	// A job has at most one run per scheduled time (CreateRun refuses a
	// second with EConflict), which is what makes a tick fire once however
	// many servers race for it.
	ScheduledTime time.Time
}

// Triggers of runs, as Databricks reports them in a run's trigger.
const (
	TriggerOneTime  = "ONE_TIME" // run-now, runs/submit
	TriggerPeriodic = "PERIODIC" // the job's schedule or periodic trigger
	// TriggerContinuous is a run the job's continuous setting started
	// (the service records it in the run's Spec).
	TriggerContinuous = "CONTINUOUS"
)

// Trigger is what started the run: TriggerPeriodic for a run queued by
// the job's schedule, TriggerOneTime otherwise.
func (r *Run) Trigger() string {
	if !r.ScheduledTime.IsZero() {
		return TriggerPeriodic
	}
	return TriggerOneTime
}

// TaskRun is one task of a run, with its own run id. A retried task keeps
// its id and counts its attempts (Attempt, from 0).
type TaskRun struct {
	ID       int64
	RunID    int64
	TaskKey  string
	Position int // order within the run, from 0
	// DependsOn lists task keys of the same run; RunIf says when the task
	// runs once they are done.
	DependsOn []string
	RunIf     string
	// DependsOnOutcome holds, for the dependencies that are condition
	// tasks and name one (depends_on[].outcome), the outcome ("true" or
	// "false") they must reach for this task to run; a dependency that
	// reaches the other counts as EXCLUDED for this task. Keyed by task key.
	DependsOnOutcome map[string]string
	// Definition is the task object as submitted (JSON), for rendering.
	Definition []byte
	// Exec is what the executor runs, resolved when the run was created.
	Exec TaskExec

	Timeout          time.Duration // per attempt; 0: none
	MaxRetries       int           // -1: retry without limit
	MinRetryInterval time.Duration
	RetryOnTimeout   bool
	Attempt          int

	LifeCycleState string
	ResultState    string
	StateMessage   string
	// ReadyAt is when a QUEUED or WAITING_FOR_RETRY task may be claimed.
	ReadyAt time.Time
	Started time.Time // of the current attempt
	Ended   time.Time

	// Result is notebook_output.result (bounded), Truncated says whether
	// it was cut; Error and ErrorTrace describe a failure; Logs is the
	// bounded stdout and stderr.
	Result        string
	Truncated     bool
	Error         string
	ErrorTrace    string
	Logs          string
	LogsTruncated bool
	// Outcome is a condition task's result, "true" or "false" ("" until it
	// succeeds); ChildRunID is the run a run_job_task triggered (0 until
	// it triggers one). Unlike Result they are read with every run.
	Outcome    string
	ChildRunID int64

	// ParentID is, for an iteration of a for_each_task, the task run of
	// that for_each task (0 for the tasks of the job itself), and
	// Iteration its index in the for_each task's inputs. Iterations are
	// task runs of the same run, claimed like any other, but they are no
	// task of the job: no task depends on them and they decide nothing of
	// the run's result (their parent does).
	ParentID  int64
	Iteration int
	// AttemptOf is, for an earlier attempt of a retried task (see
	// RunTx.EarlierAttempts), the task run that retried it; 0 otherwise.
	AttemptOf int64

	// LeaseOwner and LeaseUntil mark a task being executed: an executor
	// renews its lease while the task runs, so a task whose lease expired
	// belongs to an executor that died.
	LeaseOwner string
	LeaseUntil time.Time
}

// MaxTaskValues is how many values one task may set with
// dbutils.jobs.taskValues.set, as on Databricks.
const MaxTaskValues = 250

// Task kinds the executor runs. The control kinds (condition, run_job)
// run inside the server, never in the sandbox: they run no user code.
const (
	ExecNotebook   = "notebook"    // notebook_task
	ExecPythonFile = "python_file" // spark_python_task
	ExecWheel      = "wheel"       // python_wheel_task
	ExecCondition  = "condition"   // condition_task
	ExecRunJob     = "run_job"     // run_job_task
	ExecForEach    = "for_each"    // for_each_task
)

// Bounds of a for_each_task, as on Databricks: its inputs may hold at most
// MaxForEachInputs elements, and at most MaxForEachConcurrency iterations
// run at once.
const (
	MaxForEachInputs      = 5000
	MaxForEachConcurrency = 100
)

// Operators of a condition task (condition_task.op), as Databricks names
// them. EQUAL_TO and NOT_EQUAL compare strings; the others numbers.
const (
	OpEqualTo            = "EQUAL_TO"
	OpNotEqual           = "NOT_EQUAL"
	OpGreaterThan        = "GREATER_THAN"
	OpGreaterThanOrEqual = "GREATER_THAN_OR_EQUAL"
	OpLessThan           = "LESS_THAN"
	OpLessThanOrEqual    = "LESS_THAN_OR_EQUAL"
)

// Outcomes of a condition task.
const (
	OutcomeTrue  = "true"
	OutcomeFalse = "false"
)

// TaskExec is what a task runs, resolved by the service when the run is
// created so the executor needs no job settings.
type TaskExec struct {
	Kind string `json:"kind"`
	// Path is the notebook's workspace path, or the Python file: a
	// workspace path, dbfs:/… or file:/…; a wheel task's package name.
	Path string `json:"path"`
	// Params are a notebook's widget values (base_parameters merged with
	// notebook_params and job parameters).
	Params map[string]string `json:"params,omitempty"`
	// Args are a Python file's or a wheel's command line arguments
	// (sys.argv[1:]).
	Args []string `json:"args,omitempty"`
	// Wheels are a wheel task's wheels (its libraries' whl paths: a
	// workspace path or dbfs:/…), installed in order into the attempt's
	// own directory; Package and EntryPoint are what it calls there.
	Wheels     []string `json:"wheels,omitempty"`
	Package    string   `json:"package,omitempty"`
	EntryPoint string   `json:"entry_point,omitempty"`
	// ClusterID is the cluster the task runs on, as its run records it
	// (cluster_instance): its existing_cluster_id, known to kiln or not,
	// else kiln.LocalClusterID. Every cluster is the local executor.
	ClusterID string `json:"cluster_id,omitempty"`
	// Op is a condition's operator (Args holds its left and right
	// operands); JobID is the job a run_job task runs (Params holds its
	// job_parameters).
	Op    string `json:"op,omitempty"`
	JobID int64  `json:"job_id,omitempty"`
	// Inputs is a for_each task's inputs (a JSON array, or a reference
	// resolved when the task starts), Concurrency how many of its
	// iterations may run at once (at least 1), and Nested the task each
	// iteration runs.
	Inputs      string      `json:"inputs,omitempty"`
	Concurrency int         `json:"concurrency,omitempty"`
	Nested      *NestedTask `json:"nested,omitempty"`
}

// NestedTask is the task a for_each task runs once per element of its
// inputs: what each iteration's task run is made of. {{input}} and
// {{input.<field>}} in its Exec are replaced by the element when the
// iterations are created.
type NestedTask struct {
	Exec       TaskExec        `json:"exec"`
	Definition json.RawMessage `json:"definition,omitempty"`
	// TimeoutMS, MaxRetries, MinRetryIntervalMS and RetryOnTimeout are the
	// nested task's own, applied to each iteration.
	TimeoutMS          int64 `json:"timeout_ms,omitempty"`
	MaxRetries         int   `json:"max_retries,omitempty"`
	MinRetryIntervalMS int64 `json:"min_retry_interval_ms,omitempty"`
	RetryOnTimeout     bool  `json:"retry_on_timeout,omitempty"`
}

// Control reports whether the task is one the server evaluates itself
// (a condition, a run_job) rather than a program run in the sandbox: it
// takes no executor slot, so a run_job task waiting for its child run
// cannot starve the child of the slots it needs.
func (e TaskExec) Control() bool {
	return e.Kind == ExecCondition || e.Kind == ExecRunJob || e.Kind == ExecForEach
}

// TaskOutcome is how an execution attempt ended, as the executor reports
// it to FinishTask.
type TaskOutcome struct {
	// LifeCycleState is LifeCycleTerminated, or LifeCycleInternalErr when
	// kiln itself failed to run the task.
	LifeCycleState string
	ResultState    string
	StateMessage   string
	// RunTimedOut says the run's own timeout (not the task's) ended the
	// attempt: the whole run stops as TIMEDOUT.
	RunTimedOut   bool
	Result        string
	Truncated     bool
	Error         string
	ErrorTrace    string
	Logs          string
	LogsTruncated bool
	// Outcome and ChildRunID are TaskRun's (condition and run_job tasks).
	Outcome    string
	ChildRunID int64
}

// RunFilter selects runs, newest first (by Seq). Zero fields do not
// filter.
type RunFilter struct {
	JobID int64
	// OwnerID keeps the runs of one owner (what a non-admin may see).
	OwnerID       int64
	ActiveOnly    bool
	CompletedOnly bool
	RunType       string
	// StartFrom and StartTo bound the creation time (inclusive, exclusive).
	StartFrom, StartTo time.Time
	// BeforeSeq pages by key: only runs with a lower Seq.
	BeforeSeq int64
	// Offset skips runs; Limit 0 means all.
	Offset, Limit int
	// WithTasks fills each run's Tasks.
	WithTasks bool
}

// Claim asks for the next task to execute.
type Claim struct {
	// Owner names the executor (see LeaseSweep for its shape).
	Owner string
	// LeaseUntil is when the lease ends unless renewed.
	LeaseUntil time.Time
}

// LeaseSweep finds the tasks of executors that died.
type LeaseSweep struct {
	// Now: leases that ended at or before Now are expired, and runs whose
	// timeout passed by Now are stopped as TIMEDOUT.
	Now time.Time
	// Node and Self, when set, also expire every lease held by another
	// incarnation of this node: owners are "<node>/<incarnation>", and a
	// server restarting on its data directory knows its earlier self is
	// dead, so its runs need not wait for their leases to run out.
	Node, Self string
}

// SweepResult says what a sweep changed.
type SweepResult struct {
	// Expired counts the tasks whose executor was gone (ended as
	// INTERNAL_ERROR, or queued again when retries remained).
	Expired int
	// TimedOut lists the runs stopped by their timeout; executors kill
	// their running tasks.
	TimedOut []int64
}

// JobTx stores job definitions.
type JobTx interface {
	// CreateJob inserts j; a zero ID is assigned and a zero Created becomes
	// the transaction time, both written back.
	CreateJob(j *Job) error
	// Job returns the job, or ENotFound.
	Job(id int64) (*Job, error)
	// Jobs returns the page f selects.
	Jobs(f JobFilter) ([]*Job, error)
	// UpdateJob replaces the name and settings of job j.ID; ENotFound if
	// it does not exist.
	UpdateJob(j *Job) error
	// DeleteJob removes the job (its runs stay); ENotFound if it does not
	// exist.
	DeleteJob(id int64) error
}

// JobSchedule is the firing state of a job with an active schedule (or
// periodic trigger): the next tick it fires. Stores keep one per job, and
// the scheduler claims a tick by moving NextFire forward with
// AdvanceJobSchedule in the transaction that queues the tick's run.
type JobSchedule struct {
	JobID int64
	// Spec is the schedule as the service compiled it (opaque to stores):
	// a settings change that leaves it equal keeps NextFire.
	Spec string
	// NextFire is the next tick to fire, at millisecond precision.
	NextFire time.Time
}

// ScheduleTx stores the firing state of job schedules.
type ScheduleTx interface {
	// SetJobSchedule creates or replaces the schedule of job s.JobID;
	// ENotFound if the job does not exist.
	SetJobSchedule(s JobSchedule) error
	// DeleteJobSchedule removes the job's schedule; a job without one is
	// no error. DeleteJob removes it too.
	DeleteJobSchedule(jobID int64) error
	// JobSchedule returns the job's schedule, or ENotFound.
	JobSchedule(jobID int64) (*JobSchedule, error)
	// DueSchedules returns, earliest first, at most limit schedules whose
	// NextFire is at or before now. It only reads: every server polls it.
	DueSchedules(now time.Time, limit int) ([]*JobSchedule, error)
	// AdvanceJobSchedule moves the job's NextFire from from to to, only if
	// it is still from (compare and swap), and reports whether it did; a
	// zero to removes the schedule instead (its last tick fired). Of
	// servers racing to fire the same tick, exactly one sees true.
	AdvanceJobSchedule(jobID int64, from, to time.Time) (bool, error)
}

// RunTx stores runs and is the durable queue their tasks wait in. The
// state changes (claim, finish, stop, sweep) are decided by the Run
// methods in run_state.go, so every backend moves runs the same way.
type RunTx interface {
	// CreateRun inserts r with its tasks: ids are assigned (runs and task
	// runs share one id space), Seq and Created are set, and the state is
	// settled (tasks without dependencies QUEUED, the others BLOCKED).
	// A SUBMIT_RUN without JobID gets a one-time job id. EConflict if the
	// owner already has a run with r.IdempotencyToken, or the job already
	// has a run with r.ScheduledTime (when set).
	CreateRun(r *Run) error
	// Run returns the run with its tasks, or ENotFound.
	Run(id int64) (*Run, error)
	// TaskRun returns one task run, or ENotFound.
	TaskRun(id int64) (*TaskRun, error)
	// RunByIdempotencyToken returns the owner's run created with token, or
	// ENotFound.
	RunByIdempotencyToken(ownerID int64, token string) (*Run, error)
	// Runs returns the page f selects.
	Runs(f RunFilter) ([]*Run, error)
	// DeleteRun removes a finished run; ENotFound if it does not exist,
	// EInvalid while it is active.
	DeleteRun(id int64) error
	// PruneRuns deletes at most limit finished runs (TERMINATED, SKIPPED,
	// INTERNAL_ERROR) that ended before endedBefore, oldest first, with
	// their task runs, repairs and task values, and returns their ids.
	// Active runs are never pruned, however old.
	PruneRuns(endedBefore time.Time, limit int) ([]int64, error)

	// CountWaitingRuns counts the owner's runs that have not started:
	// those QUEUED or PENDING.
	CountWaitingRuns(ownerID int64) (int, error)
	// CountRunsByState counts every run by its life-cycle state; states
	// without runs are absent.
	CountRunsByState() (map[string]int, error)

	// ClaimTask leases the next runnable task to c.Owner. Runnable are the
	// ready QUEUED or WAITING_FOR_RETRY tasks whose run is not stopped
	// and, for a run not yet started, whose job is below its concurrency
	// limit. Of those it takes the one whose run owner has the fewest
	// RUNNING tasks (fair share: one user's backlog cannot starve another
	// user), then the longest ready, then the oldest run, then task order.
	// It returns the task's run (with every task) and the task, or nil,
	// nil when nothing is runnable. Two claims never get the same task.
	ClaimTask(c Claim) (*Run, *TaskRun, error)
	// HasClaimable reports whether ClaimTask would find a task now, and
	// SweepDue whether SweepRuns(s) would change anything. They only
	// read: idle executors poll with them, so an idle server never writes.
	HasClaimable() (bool, error)
	SweepDue(s LeaseSweep) (bool, error)
	// RenewLease extends the lease owner holds on a running task and
	// returns its run's Stop. ENotFound when owner no longer holds it (it
	// expired and was swept): the executor must kill the task.
	RenewLease(taskID int64, owner string, until time.Time) (stop string, err error)
	// RecordTaskLogs replaces the logs of the running attempt owner is
	// executing, so that they can be read (runs/get-output, the console,
	// kiln runs logs --follow) before the attempt ends. ENotFound when
	// owner no longer holds the lease.
	RecordTaskLogs(taskID int64, owner, logs string, truncated bool) error
	// SetTaskValue stores value (JSON) under name for the attempt owner is
	// executing at task taskID (dbutils.jobs.taskValues.set), replacing
	// what an earlier attempt or call set under it. ENotFound when owner
	// no longer holds the lease; EInvalid when the task already has
	// MaxTaskValues other values.
	SetTaskValue(taskID int64, owner, name string, value []byte) error
	// TaskValue returns the value task taskID set under name, or
	// ENotFound.
	TaskValue(taskID int64, name string) ([]byte, error)
	// FinishTask records the outcome of the attempt owner is executing:
	// the task ends, or waits for a retry, and its run settles. ENotFound
	// when owner no longer holds the lease (the outcome is dropped).
	FinishTask(taskID int64, owner string, o TaskOutcome) error
	// StopRun ends an active run early with result (ResultCanceled,
	// ResultTimedOut, or ResultMaxConcurrentRuns: SKIPPED) and message; a finished run is left as it is. It
	// reports whether the run was active.
	StopRun(id int64, result, message string) (bool, error)
	// SweepRuns expires the leases of dead executors and stops runs past
	// their timeout (see LeaseSweep).
	SweepRuns(s LeaseSweep) (SweepResult, error)

	// AddIterations creates the iterations of the for_each task run
	// parentID, which owner is executing: one task run per element of
	// iters (their ParentID, Iteration, RunID, Position, TaskKey and ids
	// are assigned), PENDING until the run's settling queues them, at most
	// the parent's Exec.Concurrency at a time. Iterations the parent
	// already has (an earlier attempt's) are returned instead, and iters
	// ignored. ENotFound when owner no longer holds the parent's lease.
	AddIterations(parentID int64, owner string, iters []*TaskRun) ([]*TaskRun, error)
	// IterationsEnded reports whether every iteration of the for_each
	// task run parentID has ended and, once they all have, how many ended
	// without success. A for_each task polls it while its iterations run:
	// until the last one ends, a poll costs one index lookup, whatever the
	// size of the loop.
	IterationsEnded(parentID int64) (ended bool, failed int, err error)
	// EarlierAttempts returns the earlier attempts of the run's current
	// task runs (one per failed attempt that was retried), each with
	// AttemptOf set, by task then attempt; nothing for a run without
	// retries. Each is readable through TaskRun, with its outputs.
	EarlierAttempts(runID int64) ([]*TaskRun, error)

	// RepairRun runs the tasks s names again in a finished run (see
	// Run.Repair): each rerun task gets a new task run id (the one it had
	// stays readable through TaskRun, with its outputs), the history item
	// the run was in is closed with the run's final state, and a new
	// REPAIR item with a fresh id is recorded and returned. ENotFound if
	// the run does not exist, EInvalid while it is active or when a key
	// names no task of the run.
	RepairRun(s RepairSpec) (*RunRepair, error)
	// RunRepairs returns the run's repair history, oldest first: nothing
	// for a run never repaired, else the ORIGINAL item and one REPAIR
	// item per repair, the last one showing the run's current state.
	// ENotFound if the run does not exist.
	RunRepairs(runID int64) ([]*RunRepair, error)
}

// MaxRunJobDepth bounds how deeply run_job_task runs nest: a run that a
// run_job_task triggered is one level deeper than the run of that task,
// and a run_job_task of a run already at the bound fails instead of
// triggering another. Without it a job that runs itself (directly or
// through others) would trigger runs forever.
const MaxRunJobDepth = 5

// RunJobRequest is what a run_job_task asks of the service: a run of
// JobID with JobParameters, triggered for the task run TaskRunID
// (attempt Attempt) of run RunID, as OwnerID, the principal that run runs
// as.
type RunJobRequest struct {
	OwnerID       int64
	RunID         int64
	TaskRunID     int64
	Attempt       int
	JobID         int64
	JobParameters map[string]string
}
