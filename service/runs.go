package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln"
)

// Runs are visible to their owner (who they run as: the submitter, or the
// job's creator for run-now) and to admins; to anyone else a run does not
// exist: EInvalid "Run 123 does not exist." (HTTP 400), as the real
// service answers.

// Audit actions of runs.
const (
	AuditRunSubmit = "jobs.runs.submit"
	AuditRunNow    = "jobs.runNow"
	AuditRunCancel = "jobs.runs.cancel"
	AuditRunDelete = "jobs.runs.delete"
)

// Page bounds of runs/list, as Databricks documents them.
const (
	DefaultRunsLimit = 20
	MaxRunsLimit     = 25
)

// Runner is the executor as the service drives it; *runner.Runner
// implements it. Wake says work was queued; Stopped says a run was
// canceled or timed out, so its running tasks must be killed now.
type Runner interface {
	Wake()
	Stopped(runID int64, result string)
}

// Compute describes the executors of this server: the one cluster kiln
// has (kiln.LocalClusterID).
type Compute struct {
	Workers       int
	Cores         int
	MemoryMB      int64
	PythonVersion string
	Started       time.Time
	// Sandbox says how tasks are confined; SandboxError, when set, why
	// no task runs on this server; SandboxOff that tasks run unconfined.
	Sandbox      string
	SandboxError error
	SandboxOff   bool
}

// DefaultMaxQueuedRunsPerUser is how many runs one owner may have waiting
// to start (QUEUED or PENDING) unless configured.
const DefaultMaxQueuedRunsPerUser = 100

// checkWaitingRuns refuses a new run of owner who already has the most
// runs waiting to start. Together with the fair-share claim order (the
// store serves the owner with the fewest running tasks first) it keeps one
// user from crowding the queue out for everyone else. EThrottled, with
// Databricks' RESOURCE_EXHAUSTED: the condition passes as runs start, and
// clients retry a 429.
func (s *Service) checkWaitingRuns(tx kiln.Tx, ownerID int64, ownerName string) error {
	if s.maxWaitingRuns < 0 {
		return nil
	}
	n, err := tx.CountWaitingRuns(ownerID)
	if err != nil {
		return err
	}
	if n >= s.maxWaitingRuns {
		return kiln.Errorf(kiln.EThrottled, "%s already has %d runs waiting to start, the most allowed per user; retry when some have started.",
			ownerName, n).WithReason("RESOURCE_EXHAUSTED")
	}
	return nil
}

// LocalCluster describes this server's compute (any authenticated caller).
func (s *Service) LocalCluster(ctx context.Context) (Compute, error) {
	if _, err := callerOf(ctx); err != nil {
		return Compute{}, err
	}
	if s.compute == nil {
		return Compute{}, nil
	}
	return s.compute(), nil
}

func (s *Service) wake() {
	if s.jobs != nil {
		s.jobs.Wake()
	}
}

// announceStops tells the executor which runs were stopped.
func (s *Service) announceStops(ids []int64, result string) {
	if s.jobs == nil {
		return
	}
	for _, id := range ids {
		s.jobs.Stopped(id, result)
	}
}

// RunSpec is what the service keeps in kiln.Run.Spec to render a run.
type RunSpec struct {
	// Format is SINGLE_TASK for a run of the legacy single-task form,
	// MULTI_TASK otherwise.
	Format string `json:"format"`
	// OverridingParameters are run-now's parameters, as given.
	OverridingParameters *OverridingParameters `json:"overriding_parameters,omitempty"`
	JobParameters        []JobParameterValue   `json:"job_parameters,omitempty"`
	// ParentTaskRunID is the run_job_task task run that triggered this
	// run (0 for none; Databricks' trigger_info.run_id), and Depth how
	// many such triggers lead to it (see kiln.MaxRunJobDepth).
	ParentTaskRunID int64 `json:"parent_task_run_id,omitempty"`
	Depth           int   `json:"run_job_depth,omitempty"`
	// Trigger, when set, is the run's trigger (kiln.TriggerContinuous),
	// in place of the one kiln.Run.Trigger derives.
	Trigger string `json:"trigger,omitempty"`
}

// OverridingParameters are the parameters run-now overrode.
type OverridingParameters struct {
	NotebookParams map[string]string `json:"notebook_params,omitempty"`
	PythonParams   []string          `json:"python_params,omitempty"`
	// PythonNamedParams are the wheel tasks' named parameters.
	PythonNamedParams map[string]string `json:"python_named_params,omitempty"`
}

// ParseRunSpec reads a run's Spec; a damaged one reads as empty.
func ParseRunSpec(r *kiln.Run) RunSpec {
	var spec RunSpec
	json.Unmarshal(r.Spec, &spec)
	return spec
}

func runNotFound(id int64) error {
	return kiln.Errorf(kiln.EInvalid, "Run %d does not exist.", id)
}

func runTarget(id int64) string { return "run:" + strconv.FormatInt(id, 10) }

// RunNowParams are the inputs of jobs/run-now.
type RunNowParams struct {
	JobID int64
	RunParams
	IdempotencyToken string
}

// RunNow queues a run of a job the caller may see. The run runs as the
// job's creator. With an idempotency token, the run the job's creator
// already has with that token is returned instead of a new one.
func (s *Service) RunNow(ctx context.Context, p RunNowParams) (*kiln.Run, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkRunParams(p.RunParams, p.IdempotencyToken); err != nil {
		return nil, err
	}
	var run *kiln.Run
	created := false
	err = s.store.Update(ctx, func(tx kiln.Tx) error {
		j, err := jobFor(tx, c, p.JobID, rankManageRun)
		if err != nil {
			return err
		}
		if p.IdempotencyToken != "" {
			_, runAsID, _, err := runAsFor(tx, j)
			if err != nil {
				return err
			}
			if prev, err := tx.RunByIdempotencyToken(runAsID, p.IdempotencyToken); err == nil {
				run = prev
				return nil
			} else if !kiln.IsCode(err, kiln.ENotFound) {
				return err
			}
		}
		if run, err = s.queueJobRun(tx, j, p.RunParams, p.IdempotencyToken, time.Time{}); err != nil {
			return err
		}
		created = run.LifeCycleState != kiln.LifeCycleSkipped
		ev := auditEvent(c, AuditRunNow, runTarget(run.ID))
		ev.Detail = map[string]string{"job_id": strconv.FormatInt(j.ID, 10)}
		return tx.Audit(ev)
	})
	if err != nil {
		return nil, err
	}
	if created {
		s.wake()
	}
	return run, nil
}

// runAsFor returns who a job's runs run as: run_as or the owner, as a
// caller (nil when that principal is gone: the run keeps the owner's id,
// and the runner says so), with its id and name.
func runAsFor(tx kiln.Tx, j *kiln.Job) (runAs *kiln.Caller, id int64, name string, err error) {
	id, name = j.CreatorID, j.CreatorName
	p, err := runAsOf(tx, j)
	if err != nil {
		return nil, 0, "", err
	}
	if p != nil {
		runAs, id, name = &kiln.Caller{Principal: p, Method: "run"}, p.ID, p.UserName
	}
	return runAs, id, name, nil
}

// queueJobRun creates a run of the saved job j with parameters p, as its
// run_as or owner: run-now's (with its idempotency token) and the
// scheduler's (with the tick it fires, scheduled, non-zero).
func (s *Service) queueJobRun(tx kiln.Tx, j *kiln.Job, p RunParams, token string, scheduled time.Time) (*kiln.Run, error) {
	runAs, runAsID, runAsName, err := runAsFor(tx, j)
	if err != nil {
		return nil, err
	}
	st, tasks, err := parseSettings(j.Settings, legacyTaskKey(j.Name))
	if err != nil {
		return nil, err
	}
	if err := checkRunnable(tasks); err != nil {
		return nil, err
	}
	if err := s.useClusters(tx, runAs, tasks); err != nil {
		return nil, err
	}
	for _, k := range p.Only {
		if !hasTask(tasks, k) {
			return nil, kiln.Errorf(kiln.EInvalid, "only: job %d has no task %s.", j.ID, k)
		}
	}
	if err := s.checkWaitingRuns(tx, runAsID, runAsName); err != nil {
		return nil, err
	}
	trs, jobParams := runTasks(st, tasks, p)
	spec := RunSpec{Format: formatOf(st), JobParameters: jobParams}
	spec.OverridingParameters = p.overriding()
	if p.parent != nil {
		spec.ParentTaskRunID, spec.Depth = p.parent.taskRunID, p.parent.depth
	}
	spec.Trigger = p.trigger
	maxConcurrent := int64(1)
	if st.MaxConcurrentRuns != nil {
		maxConcurrent = max(*st.MaxConcurrentRuns, 1)
	}
	run := &kiln.Run{
		JobID: j.ID, OwnerID: runAsID, OwnerName: runAsName, RunName: j.Name, RunType: kiln.RunTypeJob,
		IdempotencyToken: token, Timeout: time.Duration(st.TimeoutSeconds) * time.Second,
		MaxConcurrent: int(maxConcurrent), Tasks: trs, ScheduledTime: scheduled,
	}
	if run.Spec, err = json.Marshal(spec); err != nil {
		return nil, kiln.Internal(err)
	}
	skip, err := skipsRun(tx, j.ID, st) // before the run counts itself
	if err != nil {
		return nil, err
	}
	if err := tx.CreateRun(run); err != nil {
		return nil, err
	}
	if skip == "" {
		return run, nil
	}
	// Databricks records the run, SKIPPED: run-now answers its run_id.
	if _, err := tx.StopRun(run.ID, kiln.ResultMaxConcurrentRuns, skip); err != nil {
		return nil, err
	}
	return tx.Run(run.ID)
}

// skipsRun returns, when a new run of job must be skipped rather than
// queued, Databricks' message saying why ("" when it runs): the job allows
// no runs (max_concurrent_runs 0), or it has max_concurrent_runs active
// runs and does not queue (queue.enabled false). The check shares the
// run's transaction; should two replicas race past it, the run queue's
// own limit still holds the extra run QUEUED, never running.
func skipsRun(tx kiln.Tx, jobID int64, st *settings) (string, error) {
	limit := int64(1)
	if st.MaxConcurrentRuns != nil {
		limit = *st.MaxConcurrentRuns
	}
	if limit > 0 && (st.Queue == nil || st.Queue.Enabled) {
		return "", nil
	}
	if limit > 0 {
		active, err := tx.Runs(kiln.RunFilter{JobID: jobID, ActiveOnly: true, Limit: int(limit)})
		if err != nil {
			return "", err
		}
		if int64(len(active)) < limit {
			return "", nil
		}
	}
	return fmt.Sprintf("Skipping this run because the limit of %d maximum concurrent runs has been reached.", limit), nil
}

func hasTask(tasks []*task, key string) bool {
	for _, t := range tasks {
		if t.TaskKey == key {
			return true
		}
	}
	return false
}

func formatOf(st *settings) string {
	if st.legacy != nil {
		return "SINGLE_TASK"
	}
	return "MULTI_TASK"
}

// checkRunParams applies Databricks' limits to run-now's parameters.
func checkRunParams(p RunParams, token string) error {
	if len(token) > maxIdempotencyToken {
		return kiln.Errorf(kiln.EInvalid, "idempotency_token is longer than %d characters.", maxIdempotencyToken)
	}
	if p.JobParameters != nil && p.overriding() != nil {
		return kiln.Errorf(kiln.EInvalid, "job_parameters cannot be combined with notebook_params, python_params or python_named_params.")
	}
	for name, v := range map[string]any{"notebook_params": p.NotebookParams, "python_params": p.PythonParams,
		"python_named_params": p.PythonNamedParams} {
		if b, _ := json.Marshal(v); len(b) > maxLegacyParamsJSON {
			return kiln.Errorf(kiln.EInvalid, "%s is larger than %d bytes as JSON.", name, maxLegacyParamsJSON)
		}
	}
	for _, a := range p.PythonParams {
		for _, r := range a {
			if r > 127 {
				return kiln.Errorf(kiln.EInvalid, "python_params must be ASCII.")
			}
		}
	}
	return nil
}

// SubmitRun queues a one-time run (runs/submit) of body, a SubmitRun in
// the multi-task form (tasks[]) or the legacy single-task form (a task
// type at the top level, as Airflow's submit operator sends it). The one
// task of the legacy form is keyed by the run name (see legacyTaskKey).
// With an idempotency token, the caller's run with that token is returned
// instead of a new one.
func (s *Service) SubmitRun(ctx context.Context, body json.RawMessage) (*kiln.Run, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var head struct {
		RunName          string `json:"run_name"`
		IdempotencyToken string `json:"idempotency_token"`
	}
	if err := strictUnmarshal(body, &head, "run"); err != nil {
		return nil, err
	}
	if len(head.RunName) > maxRunNameBytes {
		return nil, kiln.Errorf(kiln.EInvalid, "run_name is longer than %d bytes.", maxRunNameBytes)
	}
	if len(head.IdempotencyToken) > maxIdempotencyToken {
		return nil, kiln.Errorf(kiln.EInvalid, "idempotency_token is longer than %d characters.", maxIdempotencyToken)
	}
	name := head.RunName
	if name == "" {
		name = DefaultJobName
	}
	st, tasks, err := parseSettings(body, legacyTaskKey(head.RunName))
	if err != nil {
		return nil, err
	}
	if err := checkRunnable(tasks); err != nil {
		return nil, err
	}
	trs, _ := runTasks(st, tasks, RunParams{})
	spec, err := json.Marshal(RunSpec{Format: formatOf(st)})
	if err != nil {
		return nil, kiln.Internal(err)
	}
	run := &kiln.Run{OwnerID: c.Principal.ID, OwnerName: c.Principal.UserName, RunName: name, RunType: kiln.RunTypeSubmit,
		IdempotencyToken: head.IdempotencyToken, Timeout: time.Duration(st.TimeoutSeconds) * time.Second,
		Spec: spec, Tasks: trs}
	created := false
	err = s.store.Update(ctx, func(tx kiln.Tx) error {
		if head.IdempotencyToken != "" {
			if prev, err := tx.RunByIdempotencyToken(c.Principal.ID, head.IdempotencyToken); err == nil {
				run = prev
				return nil
			} else if !kiln.IsCode(err, kiln.ENotFound) {
				return err
			}
		}
		if err := s.useClusters(tx, c, tasks); err != nil {
			return err
		}
		if err := s.checkWaitingRuns(tx, c.Principal.ID, c.Principal.UserName); err != nil {
			return err
		}
		if err := tx.CreateRun(run); err != nil {
			return err
		}
		created = true
		return tx.Audit(auditEvent(c, AuditRunSubmit, runTarget(run.ID)))
	})
	if err != nil {
		return nil, err
	}
	if created {
		s.wake()
	}
	return run, nil
}

// AuditRunJobTask is the audit action of a run a run_job_task triggered.
const AuditRunJobTask = "jobs.runJobTask"

// RunJobForRun queues the run a run_job_task asks for (see
// kiln.RunJobRequest) and returns its id. It acts as the principal the
// task's run runs as, who needs CAN_MANAGE_RUN on the job, as for
// run-now; the new run runs as that job's run_as or owner. The request
// is idempotent per task attempt: asked again (an executor retrying after
// a store error), it returns the run it queued the first time. A task
// whose run is already kiln.MaxRunJobDepth run_job_task triggers deep is
// refused (EInvalid), so that jobs running each other cannot recurse
// without end.
func (s *Service) RunJobForRun(ctx context.Context, req kiln.RunJobRequest) (int64, error) {
	ctx, err := s.RunContext(ctx, req.OwnerID)
	if err != nil {
		return 0, err
	}
	c, err := callerOf(ctx)
	if err != nil {
		return 0, err
	}
	token := fmt.Sprintf("kiln-run-job-task-%d-%d", req.TaskRunID, req.Attempt)
	var run *kiln.Run
	created := false
	err = s.store.Update(ctx, func(tx kiln.Tx) error {
		parent, err := tx.Run(req.RunID)
		if err != nil {
			return err
		}
		depth := ParseRunSpec(parent).Depth + 1
		if depth > kiln.MaxRunJobDepth {
			return kiln.Errorf(kiln.EInvalid, "run_job_task cannot run job %d: this run is already %d run_job_task triggers deep, the most kiln allows (does a job run itself?).",
				req.JobID, depth-1)
		}
		j, err := jobFor(tx, c, req.JobID, rankManageRun)
		if err != nil {
			return err
		}
		if err := checkNoSelfWait(tx, parent, j); err != nil {
			return err
		}
		_, runAsID, _, err := runAsFor(tx, j)
		if err != nil {
			return err
		}
		if prev, err := tx.RunByIdempotencyToken(runAsID, token); err == nil {
			run = prev
			return nil
		} else if !kiln.IsCode(err, kiln.ENotFound) {
			return err
		}
		p := RunParams{JobParameters: req.JobParameters, parent: &runParent{taskRunID: req.TaskRunID, depth: depth}}
		if run, err = s.queueJobRun(tx, j, p, token, time.Time{}); err != nil {
			return err
		}
		created = run.LifeCycleState != kiln.LifeCycleSkipped
		ev := auditEvent(c, AuditRunJobTask, runTarget(run.ID))
		ev.Detail = map[string]string{"job_id": strconv.FormatInt(j.ID, 10), "task_run_id": strconv.FormatInt(req.TaskRunID, 10)}
		return tx.Audit(ev)
	})
	if err != nil {
		return 0, err
	}
	if created {
		s.wake()
	}
	return run.ID, nil
}

// checkNoSelfWait refuses a run of job j that could never start: when
// the runs waiting on it (parent, and the runs whose run_job_task
// triggered parent, up the chain) are runs of j that alone fill its
// max_concurrent_runs, the new run would queue behind its own ancestors
// for ever.
func checkNoSelfWait(tx kiln.Tx, parent *kiln.Run, j *kiln.Job) error {
	st, _, err := parseSettings(j.Settings, legacyTaskKey(j.Name))
	if err != nil {
		return err
	}
	limit := int64(1)
	if st.MaxConcurrentRuns != nil {
		limit = max(*st.MaxConcurrentRuns, 1)
	}
	waiting := int64(0)
	for r, hops := parent, 0; r != nil && hops <= kiln.MaxRunJobDepth; hops++ {
		if r.RunType == kiln.RunTypeJob && r.JobID == j.ID {
			waiting++
		}
		up := ParseRunSpec(r).ParentTaskRunID
		if up == 0 {
			break
		}
		task, err := tx.TaskRun(up)
		if kiln.IsCode(err, kiln.ENotFound) {
			break
		} else if err != nil {
			return err
		}
		if r, err = tx.Run(task.RunID); kiln.IsCode(err, kiln.ENotFound) {
			break
		} else if err != nil {
			return err
		}
	}
	if waiting >= limit {
		return kiln.Errorf(kiln.EInvalid, "run_job_task cannot run job %d: it allows %d concurrent runs, and %d of its runs are waiting for this task, so the new run could never start. Raise the job's max_concurrent_runs.",
			j.ID, limit, waiting)
	}
	return nil
}
