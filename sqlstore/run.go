package sqlstore

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// runSelect reads runs with their owner's user name.
const runSelect = `SELECT r.id, r.seq, r.job_id, r.owner_id, COALESCE(p.user_name, ''), r.run_name, r.run_type,
	r.spec, r.idempotency_token, r.timeout_ms, r.max_concurrent, r.state, r.result_state, r.state_message,
	r.stop, r.created_at, r.started_at, r.ended_at, r.scheduled_time
	FROM runs r LEFT JOIN principals p ON p.id = r.owner_id`

// taskCols are the task run columns every read selects. The bulky outputs
// (result, error_trace, logs) are only read by TaskRun: polling runs/get
// must not drag megabytes of logs through every request.
const taskCols = `t.id, t.run_id, t.position, t.task_key, t.depends_on, t.run_if, t.definition, t.exec,
	t.timeout_ms, t.max_retries, t.min_retry_interval_ms, t.retry_on_timeout, t.attempt,
	t.state, t.result_state, t.state_message, t.ready_at, t.started_at, t.ended_at,
	t.truncated, t.error, t.logs_truncated, t.lease_owner, t.lease_until,
	t.depends_outcome, t.outcome, t.child_run_id, t.parent_id, t.iteration`

// activeStates are the life cycle states of a run that is not finished.
const activeStates = `('QUEUED', 'PENDING', 'BLOCKED', 'WAITING_FOR_RETRY', 'RUNNING', 'TERMINATING')`

// scheduledConflict is CreateRun's answer for a second run of one tick.
func scheduledConflict(jobID int64, at time.Time) *kiln.Error {
	return kiln.Errorf(kiln.EConflict, "Job %d already has a run scheduled at %s.", jobID, at.UTC().Format(time.RFC3339Nano))
}

func runNotFound(id int64) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Run %d does not exist.", id)
}

func scanRun(r scanner) (*kiln.Run, error) {
	run := &kiln.Run{}
	var spec string
	var token sql.NullString
	var timeoutMS, created, scheduled int64
	var started, ended sql.NullInt64
	if err := r.Scan(&run.ID, &run.Seq, &run.JobID, &run.OwnerID, &run.OwnerName, &run.RunName, &run.RunType,
		&spec, &token, &timeoutMS, &run.MaxConcurrent, &run.LifeCycleState, &run.ResultState, &run.StateMessage,
		&run.Stop, &created, &started, &ended, &scheduled); err != nil {
		return nil, err
	}
	run.Spec, run.IdempotencyToken = []byte(spec), token.String
	run.Timeout = time.Duration(timeoutMS) * time.Millisecond
	run.Created, run.Started, run.Ended = kiln.TimeOfMillis(created), timeOfNull(started), timeOfNull(ended)
	run.ScheduledTime = kiln.TimeOfMillis(scheduled)
	return run, nil
}

// scanTask reads taskCols, plus the bulky outputs when full, then
// into extra whatever further columns the query selects.
func scanTask(r scanner, full bool, extra ...any) (*kiln.TaskRun, error) {
	t := &kiln.TaskRun{}
	var deps, def, exec, depOutcomes string
	var timeoutMS, intervalMS int64
	var ready, started, ended, leaseUntil sql.NullInt64
	dest := []any{&t.ID, &t.RunID, &t.Position, &t.TaskKey, &deps, &t.RunIf, &def, &exec,
		&timeoutMS, &t.MaxRetries, &intervalMS, &t.RetryOnTimeout, &t.Attempt,
		&t.LifeCycleState, &t.ResultState, &t.StateMessage, &ready, &started, &ended,
		&t.Truncated, &t.Error, &t.LogsTruncated, &t.LeaseOwner, &leaseUntil,
		&depOutcomes, &t.Outcome, &t.ChildRunID, &t.ParentID, &t.Iteration}
	if full {
		dest = append(dest, &t.Result, &t.ErrorTrace, &t.Logs)
	}
	dest = append(dest, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(deps), &t.DependsOn); err != nil {
		return nil, fmt.Errorf("task run %d depends_on: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(exec), &t.Exec); err != nil {
		return nil, fmt.Errorf("task run %d exec: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(depOutcomes), &t.DependsOnOutcome); err != nil {
		return nil, fmt.Errorf("task run %d depends_outcome: %w", t.ID, err)
	}
	if len(t.DependsOnOutcome) == 0 {
		t.DependsOnOutcome = nil
	}
	t.Definition = []byte(def)
	t.Timeout = time.Duration(timeoutMS) * time.Millisecond
	t.MinRetryInterval = time.Duration(intervalMS) * time.Millisecond
	t.ReadyAt, t.Started, t.Ended = timeOfNull(ready), timeOfNull(started), timeOfNull(ended)
	t.LeaseUntil = timeOfNull(leaseUntil)
	return t, nil
}

// newRunID returns a random id free among runs, task runs (replaced ones
// included) and repairs, which share one id space: runs/get and
// runs/get-output accept either kind of run.
func (t *tx) newRunID(op string) (int64, error) {
	for range 16 {
		id := t.s.newID()
		found, err := t.exists(`SELECT 1 FROM runs WHERE id = ? UNION ALL SELECT 1 FROM task_runs WHERE id = ?
			UNION ALL SELECT 1 FROM replaced_task_runs WHERE id = ? UNION ALL SELECT 1 FROM run_repairs WHERE repair_id = ?`, id, id, id, id)
		if err != nil {
			return 0, internal(op, err)
		}
		if !found {
			return id, nil
		}
	}
	return 0, internal(op, errIDsExhausted)
}

// CreateRun inserts r and its tasks with fresh ids, the next seq and the
// transaction time, and settles its state (kiln.Run.Init). A SUBMIT_RUN
// without a job id gets a one-time one, free among saved jobs. EConflict
// when the owner already has a run with r.IdempotencyToken.
func (t *tx) CreateRun(r *kiln.Run) error {
	const op = "create run"
	if err := t.writable(op); err != nil {
		return err
	}
	if r.IdempotencyToken != "" {
		found, err := t.exists(`SELECT 1 FROM runs WHERE owner_id = ? AND idempotency_token = ?`, r.OwnerID, r.IdempotencyToken)
		if err != nil {
			return internal(op, err)
		}
		if found {
			return idempotencyConflict()
		}
	}
	if !r.ScheduledTime.IsZero() {
		if r.JobID == 0 {
			return kiln.Errorf(kiln.EInvalid, "A scheduled run needs its job.")
		}
		found, err := t.exists(`SELECT 1 FROM runs WHERE job_id = ? AND scheduled_time = ?`, r.JobID, kiln.MillisOf(r.ScheduledTime))
		if err != nil {
			return internal(op, err)
		}
		if found {
			return scheduledConflict(r.JobID, r.ScheduledTime)
		}
	}
	id, err := t.newRunID(op)
	if err != nil {
		return err
	}
	jobID := r.JobID
	if jobID == 0 && r.RunType == kiln.RunTypeSubmit {
		if jobID, err = t.newRowID(op, "jobs", 0, nil); err != nil {
			return err
		}
	}
	var seq int64
	if err := t.queryRow(`SELECT COALESCE(MAX(seq), 0) + 1 FROM runs`).Scan(&seq); err != nil {
		return internal(op, err)
	}
	r.ID, r.Seq, r.JobID = id, seq, jobID
	seen := map[string]bool{}
	for i, task := range r.Tasks {
		if seen[task.TaskKey] {
			return kiln.Errorf(kiln.EInvalid, "Task key %s is used more than once.", task.TaskKey)
		}
		seen[task.TaskKey] = true
		if task.ID, err = t.newRunID(op); err != nil {
			return err
		}
		task.RunID, task.Position = id, i
	}
	r.Init(t.now)
	var token any
	if r.IdempotencyToken != "" {
		token = r.IdempotencyToken
	}
	if _, err := t.exec(`INSERT INTO runs (id, seq, job_id, owner_id, run_name, run_type, spec, idempotency_token,
		timeout_ms, max_concurrent, state, result_state, state_message, stop, created_at, started_at, ended_at, scheduled_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Seq, r.JobID, r.OwnerID, r.RunName, r.RunType, jsonText(r.Spec), token,
		r.Timeout.Milliseconds(), r.MaxConcurrent, r.LifeCycleState, r.ResultState, r.StateMessage, r.Stop,
		kiln.MillisOf(r.Created), nullMillis(r.Started), nullMillis(r.Ended), kiln.MillisOf(r.ScheduledTime)); err != nil {
		conflict := idempotencyConflict()
		if r.IdempotencyToken == "" {
			conflict = scheduledConflict(r.JobID, r.ScheduledTime)
		}
		return t.fail(op, err, nil, conflict)
	}
	for _, task := range r.Tasks {
		if err := t.insertTask(op, task); err != nil {
			return err
		}
	}
	return nil
}

// insertTask writes a new task run row.
func (t *tx) insertTask(op string, task *kiln.TaskRun) error {
	deps, err := json.Marshal(nonNilStrings(task.DependsOn))
	if err != nil {
		return internal(op, err)
	}
	exec, err := json.Marshal(task.Exec)
	if err != nil {
		return internal(op, err)
	}
	depOutcomes, err := json.Marshal(task.DependsOnOutcome)
	if err != nil || task.DependsOnOutcome == nil {
		depOutcomes = []byte("{}")
	}
	if _, err := t.exec(`INSERT INTO task_runs (id, run_id, position, task_key, depends_on, run_if, definition, exec,
		timeout_ms, max_retries, min_retry_interval_ms, retry_on_timeout, attempt, state, result_state, state_message,
		ready_at, started_at, ended_at, depends_outcome, parent_id, iteration)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		task.ID, task.RunID, task.Position, task.TaskKey, string(deps), task.RunIf, jsonText(task.Definition), string(exec),
		task.Timeout.Milliseconds(), task.MaxRetries, task.MinRetryInterval.Milliseconds(), task.RetryOnTimeout,
		task.Attempt, task.LifeCycleState, task.ResultState, task.StateMessage,
		nullMillis(task.ReadyAt), nullMillis(task.Started), nullMillis(task.Ended), string(depOutcomes),
		task.ParentID, task.Iteration); err != nil {
		return t.fail(op, err, nil, kiln.Errorf(kiln.EInvalid, "Task key %s is used more than once.", task.TaskKey))
	}
	return nil
}

func idempotencyConflict() *kiln.Error {
	return kiln.Errorf(kiln.EConflict, "A run with this idempotency token already exists.")
}

// jsonText stores empty JSON as an empty object.
func jsonText(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Run returns the run with its tasks (without their bulky outputs), or
// ENotFound.
func (t *tx) Run(id int64) (*kiln.Run, error) {
	const op = "read run"
	r, err := scanRun(t.queryRow(runSelect+` WHERE r.id = ?`, id))
	if err != nil {
		return nil, t.fail(op, err, runNotFound(id), nil)
	}
	if err := t.fillTasks(op, []*kiln.Run{r}); err != nil {
		return nil, err
	}
	return r, nil
}

// liveRun reads the run as Run does, less the iterations that settling it
// cannot change: those that ended, and the PENDING ones past the first
// kiln.MaxForEachConcurrency of their for_each task (iterations are queued
// in order, so no later one can be next). Claiming and finishing an
// iteration read it, so that an iteration costs about the same in a loop
// of 10 as in one of 5000 (BenchmarkForEachIteration), where reading the
// whole run made a loop quadratic. Whatever may end a for_each task or
// stop the run reads the whole run, so that every iteration left ends
// with it.
//
// Each read is a range of the task_runs_live index: the job's tasks, then
// per for_each task its started iterations and its next PENDING ones.
func (t *tx) liveRun(op string, id int64) (*kiln.Run, error) {
	r, err := scanRun(t.queryRow(runSelect+` WHERE r.id = ?`, id))
	if err != nil {
		return nil, t.fail(op, err, runNotFound(id), nil)
	}
	r.Tasks = nil
	if err := t.scanTasks(op, []*kiln.Run{r}, `SELECT `+taskCols+` FROM task_runs t WHERE t.run_id = ? AND t.parent_id = 0
		ORDER BY t.position`, id); err != nil {
		return nil, err
	}
	for _, p := range r.JobTasks() {
		if p.Exec.Kind != kiln.ExecForEach {
			continue
		}
		if err := t.scanTasks(op, []*kiln.Run{r}, `SELECT `+taskCols+` FROM task_runs t WHERE t.run_id = ? AND t.parent_id = ?
			AND t.state IN `+startedStates, id, p.ID); err != nil {
			return nil, err
		}
		if err := t.scanTasks(op, []*kiln.Run{r}, `SELECT `+taskCols+` FROM task_runs t WHERE t.run_id = ? AND t.parent_id = ?
			AND t.state = 'PENDING' ORDER BY t.iteration LIMIT ?`, id, p.ID, kiln.MaxForEachConcurrency); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(r.Tasks, func(a, b *kiln.TaskRun) int { return cmp.Compare(a.Position, b.Position) })
	return r, nil
}

// startedStates are the task life cycle states that are neither PENDING
// nor final: of the closed set in package kiln, an iteration in one of
// these may still change, and counts against its for_each task's
// concurrency.
const startedStates = `('QUEUED', 'BLOCKED', 'WAITING_FOR_RETRY', 'RUNNING', 'TERMINATING')`

// unfinishedStates are startedStates and PENDING: every task life cycle
// state that is not final.
const unfinishedStates = `('PENDING', 'QUEUED', 'BLOCKED', 'WAITING_FOR_RETRY', 'RUNNING', 'TERMINATING')`

// fillTasks reads the tasks of runs, in position order.
func (t *tx) fillTasks(op string, runs []*kiln.Run) error {
	if len(runs) == 0 {
		return nil
	}
	args := make([]any, len(runs))
	for i, r := range runs {
		args[i] = r.ID
		r.Tasks = nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(runs)), ", ")
	return t.scanTasks(op, runs, `SELECT `+taskCols+` FROM task_runs t WHERE t.run_id IN (`+marks+`) ORDER BY t.run_id, t.position`, args...)
}

// scanTasks appends the task runs query selects (taskCols) to their runs.
func (t *tx) scanTasks(op string, runs []*kiln.Run, query string, args ...any) error {
	byID := make(map[int64]*kiln.Run, len(runs))
	for _, r := range runs {
		byID[r.ID] = r
	}
	rows, err := t.query(query, args...)
	if err != nil {
		return internal(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		task, err := scanTask(rows, false)
		if err != nil {
			return internal(op, err)
		}
		r := byID[task.RunID]
		r.Tasks = append(r.Tasks, task)
		t.remember(task)
	}
	if err := rows.Err(); err != nil {
		return internal(op, err)
	}
	return nil
}

// TaskRun returns one task run with its outputs, or ENotFound: a live
// one, else one a repair replaced or an earlier attempt of a retried one.
func (t *tx) TaskRun(id int64) (*kiln.TaskRun, error) {
	task, err := scanTask(t.queryRow(`SELECT `+taskCols+`, t.result, t.error_trace, t.logs FROM task_runs t WHERE t.id = ?`, id), true)
	if errors.Is(err, sql.ErrNoRows) {
		var attemptOf int64
		task, err = scanTask(t.queryRow(`SELECT `+taskCols+`, t.result, t.error_trace, t.logs, t.attempt_of
			FROM replaced_task_runs t WHERE t.id = ?`, id), true, &attemptOf)
		if err == nil {
			task.AttemptOf = attemptOf
		}
	}
	if err != nil {
		return nil, t.fail("read task run", err, runNotFound(id), nil)
	}
	return task, nil
}

// RunByIdempotencyToken returns the owner's run created with token, or
// ENotFound.
func (t *tx) RunByIdempotencyToken(ownerID int64, token string) (*kiln.Run, error) {
	const op = "read run by idempotency token"
	var id int64
	err := t.queryRow(`SELECT id FROM runs WHERE owner_id = ? AND idempotency_token = ?`, ownerID, token).Scan(&id)
	if err != nil {
		return nil, t.fail(op, err, kiln.Errorf(kiln.ENotFound, "No run has this idempotency token."), nil)
	}
	return t.Run(id)
}

// Runs returns the runs f selects, newest first.
func (t *tx) Runs(f kiln.RunFilter) ([]*kiln.Run, error) {
	const op = "list runs"
	var conds []string
	var args []any
	if f.JobID != 0 {
		conds, args = append(conds, "r.job_id = ?"), append(args, f.JobID)
	}
	if f.OwnerID != 0 {
		conds, args = append(conds, "r.owner_id = ?"), append(args, f.OwnerID)
	}
	if f.ActiveOnly {
		conds = append(conds, "r.state IN "+activeStates)
	}
	if f.CompletedOnly {
		conds = append(conds, "r.state NOT IN "+activeStates)
	}
	if f.RunType != "" {
		conds, args = append(conds, "r.run_type = ?"), append(args, f.RunType)
	}
	if !f.StartFrom.IsZero() {
		conds, args = append(conds, "r.created_at >= ?"), append(args, f.StartFrom.UnixMilli())
	}
	if !f.StartTo.IsZero() {
		conds, args = append(conds, "r.created_at < ?"), append(args, f.StartTo.UnixMilli())
	}
	if f.BeforeSeq > 0 {
		conds, args = append(conds, "r.seq < ?"), append(args, f.BeforeSeq)
	}
	args = append(args, pageLimit(f.Limit), max(f.Offset, 0))
	rows, err := t.query(runSelect+whereClause(conds)+` ORDER BY r.seq DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, internal(op, err)
	}
	var runs []*kiln.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, internal(op, err)
		}
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	if f.WithTasks {
		if err := t.fillTasks(op, runs); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// DeleteRun removes a finished run and its task runs; ENotFound if it does
// not exist, EInvalid while it is active.
func (t *tx) DeleteRun(id int64) error {
	const op = "delete run"
	if err := t.writable(op); err != nil {
		return err
	}
	var state string
	if err := t.queryRow(`SELECT state FROM runs WHERE id = ?`, id).Scan(&state); err != nil {
		return t.fail(op, err, runNotFound(id), nil)
	}
	if !kiln.IsTerminal(state) {
		return kiln.Errorf(kiln.EInvalid, "Run %d is still active: cancel it first, then delete it.", id)
	}
	return t.execOne(op, runNotFound(id), `DELETE FROM runs WHERE id = ?`, id)
}
