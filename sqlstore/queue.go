package sqlstore

import (
	"database/sql"
	"errors"
	"time"

	"github.com/kiln-dev/kiln"
)

// The queue. Executors claim task runs in write transactions, and Updates
// run one at a time on every dialect (SQLite's single writer, PostgreSQL's
// store-wide advisory lock), so a claim's SELECT and its UPDATE see no
// concurrent claim in between: two executors never get the same task, and
// the per-job concurrency count cannot be raced. Should writers ever run
// concurrently, the candidate must be selected FOR UPDATE SKIP LOCKED.
//
// Every state change loads the run with its tasks, applies the kiln.Run
// method that decides it, and writes the run back (persistRun): the rules
// live in the domain package, the store only persists.

// claimFrom and claimWhere select the runnable tasks: ready, of a run not stopped, and,
// for a run that has not started yet, of a job below its concurrency limit
// (runs with max_concurrent 0 have none).
//
// qClaim takes the one whose run owner has the fewest RUNNING tasks, so
// that one user's backlog cannot starve another user's runs when the
// executors are busy; among equals the oldest ready first, then the oldest
// run, then task order. The count is one grouped pass over the running
// tasks (as many as there are executor slots), joined to the candidates,
// rather than a count per candidate.
const (
	claimFrom  = ` FROM task_runs t JOIN runs r ON r.id = t.run_id`
	claimWhere = `
	WHERE t.state IN ('QUEUED', 'WAITING_FOR_RETRY') AND t.ready_at <= ? AND r.stop = ''
	AND (r.state <> 'QUEUED' OR r.max_concurrent <= 0
		OR (SELECT COUNT(*) FROM runs a WHERE a.job_id = r.job_id AND a.state IN ('RUNNING', 'TERMINATING')) < r.max_concurrent)`
	busyOwners = ` LEFT JOIN (SELECT br.owner_id, COUNT(*) AS running FROM task_runs bt JOIN runs br ON br.id = bt.run_id
		WHERE bt.state = 'RUNNING' GROUP BY br.owner_id) busy ON busy.owner_id = r.owner_id`
	qClaim = `SELECT t.id, t.run_id, t.parent_id` + claimFrom + busyOwners + claimWhere +
		` ORDER BY COALESCE(busy.running, 0), t.ready_at, r.seq, t.position LIMIT 1`
	qHasClaimable = `SELECT 1` + claimFrom + claimWhere + ` LIMIT 1`
)

// CountWaitingRuns counts the owner's runs that have not started.
func (t *tx) CountWaitingRuns(ownerID int64) (int, error) {
	var n int
	if err := t.queryRow(`SELECT COUNT(*) FROM runs WHERE owner_id = ? AND state IN ('QUEUED', 'PENDING')`, ownerID).Scan(&n); err != nil {
		return 0, internal("count waiting runs", err)
	}
	return n, nil
}

// HasClaimable reports whether ClaimTask would find a task now.
func (t *tx) HasClaimable() (bool, error) {
	found, err := t.exists(qHasClaimable, t.now.UnixMilli())
	if err != nil {
		return false, internal("look for claimable tasks", err)
	}
	return found, nil
}

// SweepDue reports whether SweepRuns(s) would change anything.
func (t *tx) SweepDue(s kiln.LeaseSweep) (bool, error) {
	const op = "look for runs to sweep"
	q, args := lostLeases("SELECT 1", s, t.now)
	found, err := t.exists(q+` LIMIT 1`, args...)
	if err == nil && !found {
		q, args = overdueRuns("SELECT 1", s, t.now)
		found, err = t.exists(q+` LIMIT 1`, args...)
	}
	if err != nil {
		return false, internal(op, err)
	}
	return found, nil
}

// lostLeases selects (cols) the running tasks whose executor is gone.
func lostLeases(cols string, s kiln.LeaseSweep, now time.Time) (string, []any) {
	if !s.Now.IsZero() {
		now = s.Now
	}
	q := cols + ` FROM task_runs WHERE state = 'RUNNING' AND (lease_until <= ?`
	args := []any{now.UnixMilli()}
	if s.Node != "" {
		// The prefix is matched with substr, not LIKE: node names may hold
		// LIKE's wildcards.
		prefix := s.Node + "/"
		q += ` OR (substr(lease_owner, 1, ?) = ? AND lease_owner <> ?)`
		args = append(args, len(prefix), prefix, s.Self)
	}
	return q + `)`, args
}

// overdueRuns selects (cols) the active runs past their timeout.
func overdueRuns(cols string, s kiln.LeaseSweep, now time.Time) (string, []any) {
	if !s.Now.IsZero() {
		now = s.Now
	}
	return cols + ` FROM runs WHERE state IN ` + activeStates + `
		AND stop = '' AND timeout_ms > 0 AND started_at IS NOT NULL AND started_at + timeout_ms <= ?`, []any{now.UnixMilli()}
}

// ClaimTask leases the next runnable task to c.Owner until c.LeaseUntil
// and returns it with its run, or nil, nil when nothing is runnable.
func (t *tx) ClaimTask(c kiln.Claim) (*kiln.Run, *kiln.TaskRun, error) {
	const op = "claim task"
	if err := t.writable(op); err != nil {
		return nil, nil, err
	}
	var taskID, runID, parentID int64
	if err := t.queryRow(qClaim, t.now.UnixMilli()).Scan(&taskID, &runID, &parentID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, nil
		}
		return nil, nil, internal(op, err)
	}
	// Claiming an iteration ends nothing: the live tasks will do.
	r, err := t.runToSettle(op, runID, parentID != 0)
	if err != nil {
		return nil, nil, err
	}
	task := r.Task(taskID)
	r.Claim(task, c.Owner, c.LeaseUntil, t.now)
	if err := t.persistRun(op, r, task); err != nil {
		return nil, nil, err
	}
	return r, task, nil
}

// runToSettle reads the run that a change of one of its tasks settles: its
// live tasks only (liveRun) when the change is an iteration's and can end
// no other task, else the whole run.
func (t *tx) runToSettle(op string, runID int64, iterationOnly bool) (*kiln.Run, error) {
	if iterationOnly {
		return t.liveRun(op, runID)
	}
	return t.Run(runID)
}

// RenewLease extends owner's lease on a running task and returns the
// run's Stop; ENotFound when owner no longer holds it.
func (t *tx) RenewLease(taskID int64, owner string, until time.Time) (string, error) {
	const op = "renew lease"
	if err := t.writable(op); err != nil {
		return "", err
	}
	if err := t.execOne(op, leaseLost(taskID), `UPDATE task_runs SET lease_until = ?
		WHERE id = ? AND lease_owner = ? AND state = 'RUNNING'`, until.UnixMilli(), taskID, owner); err != nil {
		return "", err
	}
	var stop string
	if err := t.queryRow(`SELECT r.stop FROM runs r JOIN task_runs t ON t.run_id = r.id WHERE t.id = ?`, taskID).Scan(&stop); err != nil {
		return "", internal(op, err)
	}
	return stop, nil
}

func leaseLost(taskID int64) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Task run %d is not leased to this executor.", taskID)
}

// RecordTaskLogs stores the logs so far of owner's running attempt.
func (t *tx) RecordTaskLogs(taskID int64, owner, logs string, truncated bool) error {
	const op = "record task logs"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, leaseLost(taskID), `UPDATE task_runs SET logs = ?, logs_truncated = ?
		WHERE id = ? AND lease_owner = ? AND state = 'RUNNING'`, logs, truncated, taskID, owner)
}

// FinishTask records the outcome of owner's attempt at the task and
// settles its run; ENotFound when owner no longer holds the lease.
func (t *tx) FinishTask(taskID int64, owner string, o kiln.TaskOutcome) error {
	const op = "finish task"
	if err := t.writable(op); err != nil {
		return err
	}
	var runID, parentID int64
	err := t.queryRow(`SELECT run_id, parent_id FROM task_runs WHERE id = ? AND lease_owner = ? AND state = 'RUNNING'`,
		taskID, owner).Scan(&runID, &parentID)
	if err != nil {
		return t.fail(op, err, leaseLost(taskID), nil)
	}
	// An iteration's end ends no other task (a run timeout stops the
	// whole run, and reads it whole).
	r, err := t.runToSettle(op, runID, parentID != 0 && !o.RunTimedOut)
	if err != nil {
		return err
	}
	task := r.Task(taskID)
	return t.finishAttempt(op, r, task, o, func() { r.Finish(task, o, t.now) })
}

// StopRun ends an active run early; a finished run is left alone.
func (t *tx) StopRun(id int64, result, message string) (bool, error) {
	const op = "stop run"
	if err := t.writable(op); err != nil {
		return false, err
	}
	r, err := t.Run(id)
	if err != nil {
		return false, err
	}
	if !r.Halt(result, message, t.now) {
		return false, nil
	}
	return true, t.persistRun(op, r, nil)
}

// SweepRuns expires the leases of dead executors, then stops the runs
// whose timeout has passed.
func (t *tx) SweepRuns(s kiln.LeaseSweep) (kiln.SweepResult, error) {
	const op = "sweep runs"
	var res kiln.SweepResult
	if err := t.writable(op); err != nil {
		return res, err
	}
	now := s.Now
	if now.IsZero() {
		now = t.now
	}
	q, args := lostLeases("SELECT id, run_id", s, now)
	lost, err := t.idPairs(op, q, args...)
	if err != nil {
		return res, err
	}
	for _, p := range lost {
		r, err := t.Run(p[1])
		if err != nil {
			return res, err
		}
		task := r.Task(p[0])
		lost := kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleInternalErr, ResultState: kiln.ResultFailed, StateMessage: kiln.MsgLeaseExpired}
		if err := t.finishAttempt(op, r, task, lost, func() { r.LoseLease(task, now) }); err != nil {
			return res, err
		}
		res.Expired++
	}
	q, args = overdueRuns("SELECT id, id", s, now)
	overdue, err := t.idPairs(op, q, args...)
	if err != nil {
		return res, err
	}
	for _, p := range overdue {
		r, err := t.Run(p[0])
		if err != nil {
			return res, err
		}
		if r.Halt(kiln.ResultTimedOut, kiln.RunTimedOutMessage(r.Timeout), now) {
			if err := t.persistRun(op, r, nil); err != nil {
				return res, err
			}
			res.TimedOut = append(res.TimedOut, r.ID)
		}
	}
	return res, nil
}

// idPairs reads two id columns of every row of a query.
func (t *tx) idPairs(op, query string, args ...any) ([][2]int64, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out [][2]int64
	for rows.Next() {
		var p [2]int64
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, internal(op, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// persistRun writes a run's state and every task's changed state back
// (the ones that differ from what this transaction read or wrote). The
// outputs (result, error, logs) only change for the task an executor just
// claimed or finished, so only that one's are written: the others were
// never read (see taskCols).
func (t *tx) persistRun(op string, r *kiln.Run, outputs *kiln.TaskRun) error {
	if _, err := t.exec(`UPDATE runs SET state = ?, result_state = ?, state_message = ?, stop = ?,
		started_at = ?, ended_at = ? WHERE id = ?`,
		r.LifeCycleState, r.ResultState, r.StateMessage, r.Stop, nullMillis(r.Started), nullMillis(r.Ended), r.ID); err != nil {
		return internal(op, err)
	}
	for _, task := range r.Tasks {
		if st, ok := t.persisted[task.ID]; ok && st == stateOfTask(task) {
			continue // unchanged since this transaction read it
		}
		if _, err := t.exec(`UPDATE task_runs SET attempt = ?, state = ?, result_state = ?, state_message = ?,
			ready_at = ?, started_at = ?, ended_at = ?, lease_owner = ?, lease_until = ? WHERE id = ?`,
			task.Attempt, task.LifeCycleState, task.ResultState, task.StateMessage,
			nullMillis(task.ReadyAt), nullMillis(task.Started), nullMillis(task.Ended),
			task.LeaseOwner, nullMillis(task.LeaseUntil), task.ID); err != nil {
			return internal(op, err)
		}
		t.remember(task)
	}
	if outputs != nil {
		if _, err := t.exec(`UPDATE task_runs SET result = ?, truncated = ?, error = ?, error_trace = ?,
			logs = ?, logs_truncated = ?, outcome = ?, child_run_id = ? WHERE id = ?`,
			outputs.Result, outputs.Truncated, outputs.Error, outputs.ErrorTrace,
			outputs.Logs, outputs.LogsTruncated, outputs.Outcome, outputs.ChildRunID, outputs.ID); err != nil {
			return internal(op, err)
		}
	}
	return nil
}

// CountRunsByState counts runs per life-cycle state (runs_state index).
func (t *tx) CountRunsByState() (map[string]int, error) {
	const op = "count runs by state"
	rows, err := t.query(`SELECT state, COUNT(*) FROM runs GROUP BY state`)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, internal(op, err)
		}
		out[state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}
