package sqlstore

import (
	"fmt"
	"time"

	"github.com/kiln-dev/kiln"
)

// for_each iterations and the earlier attempts of retried tasks. An
// iteration is a task_runs row like any other (the queue is one table),
// tied to its for_each task by parent_id. A retried task keeps its row and
// id; the attempt that failed is copied, under an id of its own, to
// replaced_task_runs with attempt_of naming the row that went on.

// AddIterations creates the iterations of the for_each task parentID,
// PENDING, and settles the run (which queues the first ones); the
// iterations the parent already has are returned instead.
func (t *tx) AddIterations(parentID int64, owner string, iters []*kiln.TaskRun) ([]*kiln.TaskRun, error) {
	const op = "add iterations"
	if err := t.writable(op); err != nil {
		return nil, err
	}
	var runID int64
	err := t.queryRow(`SELECT run_id FROM task_runs WHERE id = ? AND lease_owner = ? AND state = 'RUNNING'`,
		parentID, owner).Scan(&runID)
	if err != nil {
		return nil, t.fail(op, err, leaseLost(parentID), nil)
	}
	r, err := t.Run(runID)
	if err != nil {
		return nil, err
	}
	if existing := r.Iterations(parentID); len(existing) > 0 {
		return existing, nil
	}
	parent := r.Task(parentID)
	if parent.Exec.Kind != kiln.ExecForEach {
		return nil, kiln.Errorf(kiln.EInvalid, "Task run %d is not a for_each task.", parentID)
	}
	if len(iters) > kiln.MaxForEachInputs {
		return nil, kiln.Errorf(kiln.EInvalid, "A for_each task runs at most %d iterations.", kiln.MaxForEachInputs)
	}
	pos := 0
	for _, task := range r.Tasks {
		pos = max(pos, task.Position+1)
	}
	for i, it := range iters {
		if it.ID, err = t.newRunID(op); err != nil {
			return nil, err
		}
		it.RunID, it.ParentID, it.Iteration, it.Position = runID, parentID, i, pos+i
		it.TaskKey = fmt.Sprintf("%s[%d]", parent.TaskKey, i)
		it.DependsOn, it.DependsOnOutcome, it.RunIf = nil, nil, ""
		it.LifeCycleState, it.ResultState, it.StateMessage, it.Attempt = kiln.LifeCyclePending, "", "", 0
		it.ReadyAt, it.Started, it.Ended = time.Time{}, time.Time{}, time.Time{}
		if err := t.insertTask(op, it); err != nil {
			return nil, err
		}
	}
	r.Tasks = append(r.Tasks, iters...)
	r.Settle(t.now)
	if err := t.persistRun(op, r, nil); err != nil {
		return nil, err
	}
	return iters, nil
}

// IterationsEnded reports whether the iterations of the for_each task
// parentID have all ended, and then how many did not succeed. The first
// read is a lookup per unfinished state in task_runs_parent_state; the
// count runs once, when none is left.
func (t *tx) IterationsEnded(parentID int64) (bool, int, error) {
	const op = "read the iterations' states"
	left, err := t.exists(`SELECT 1 FROM task_runs WHERE parent_id = ? AND state IN `+unfinishedStates+` LIMIT 1`, parentID)
	if err != nil {
		return false, 0, internal(op, err)
	}
	if left {
		return false, 0, nil
	}
	var failed int
	if err := t.queryRow(`SELECT COUNT(*) FROM task_runs WHERE parent_id = ? AND result_state <> 'SUCCESS'`, parentID).Scan(&failed); err != nil {
		return false, 0, internal(op, err)
	}
	return true, failed, nil
}

// EarlierAttempts returns the earlier attempts of the run's current task
// runs, by task position then attempt.
func (t *tx) EarlierAttempts(runID int64) ([]*kiln.TaskRun, error) {
	const op = "read earlier attempts"
	rows, err := t.query(`SELECT `+taskCols+`, t.attempt_of FROM replaced_task_runs t
		WHERE t.run_id = ? AND t.attempt_of <> 0 AND t.attempt_of IN (SELECT id FROM task_runs WHERE run_id = ?)
		ORDER BY t.position, t.attempt`, runID, runID)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []*kiln.TaskRun
	for rows.Next() {
		var of int64
		task, err := scanTask(rows, false, &of)
		if err != nil {
			return nil, internal(op, err)
		}
		task.AttemptOf = of
		out = append(out, task)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// finishAttempt applies end (kiln.Run.Finish or LoseLease) to task and
// persists the run; when that retried the task, the attempt that failed
// is kept as an earlier attempt, with its outputs, under a new id.
func (t *tx) finishAttempt(op string, r *kiln.Run, task *kiln.TaskRun, o kiln.TaskOutcome, end func()) error {
	before := task.Attempt
	end()
	if err := t.persistRun(op, r, task); err != nil {
		return err
	}
	if task.Attempt == before {
		return nil
	}
	id, err := t.newRunID(op)
	if err != nil {
		return err
	}
	lifeCycle, result := o.LifeCycleState, o.ResultState
	if lifeCycle == "" {
		lifeCycle = kiln.LifeCycleTerminated
	}
	if result == "" {
		result = kiln.ResultFailed
	}
	if _, err := t.exec(`INSERT INTO replaced_task_runs (`+replacedCols+`, attempt_of)
		SELECT ?, run_id, position, task_key, depends_on, run_if, definition, exec,
		timeout_ms, max_retries, min_retry_interval_ms, retry_on_timeout, ?,
		?, ?, ?, NULL, started_at, ended_at,
		result, truncated, error, error_trace, logs, logs_truncated, '', NULL,
		depends_outcome, '', child_run_id, parent_id, iteration, id FROM task_runs WHERE id = ?`,
		id, before, lifeCycle, result, o.StateMessage, task.ID); err != nil {
		return internal(op, err)
	}
	return nil
}
