package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/kiln-dev/kiln"
)

// Repairs. A rerun task keeps its row in task_runs (the queue, unique per
// run and task key) under a new id; the row as it was moves, under its old
// id, to replaced_task_runs, which TaskRun also reads. run_repairs holds
// the history, closed item by item as repairs follow each other.

// replacedCols are the columns a replaced task run keeps.
const replacedCols = `id, run_id, position, task_key, depends_on, run_if, definition, exec,
	timeout_ms, max_retries, min_retry_interval_ms, retry_on_timeout, attempt,
	state, result_state, state_message, ready_at, started_at, ended_at,
	result, truncated, error, error_trace, logs, logs_truncated, lease_owner, lease_until,
	depends_outcome, outcome, child_run_id, parent_id, iteration`

// RepairRun reruns the tasks s names in a finished run under new task run
// ids and records the repair.
func (t *tx) RepairRun(s kiln.RepairSpec) (*kiln.RunRepair, error) {
	const op = "repair run"
	if err := t.writable(op); err != nil {
		return nil, err
	}
	r, err := t.Run(s.RunID)
	if err != nil {
		return nil, err
	}
	if r.Active() {
		return nil, kiln.Errorf(kiln.EInvalid, "Run %d is still active: only a finished run can be repaired.", r.ID)
	}
	if len(s.TaskKeys) == 0 {
		return nil, kiln.Errorf(kiln.EInvalid, "A repair must run at least one task again.")
	}
	byKey := make(map[string]*kiln.TaskRun, len(r.Tasks))
	var originalIDs []int64
	for _, task := range r.Tasks {
		if task.ParentID != 0 {
			continue // an iteration: no task of the job, reran with its for_each task
		}
		byKey[task.TaskKey] = task
		originalIDs = append(originalIDs, task.ID)
	}
	for _, k := range s.TaskKeys {
		if byKey[k] == nil {
			return nil, kiln.Errorf(kiln.EInvalid, "Run %d has no task %s.", r.ID, k)
		}
	}
	// Close the item the run was in: the original run at the first repair.
	var last int64
	if err := t.queryRow(`SELECT COALESCE(MAX(number), -1) FROM run_repairs WHERE run_id = ?`, r.ID).Scan(&last); err != nil {
		return nil, internal(op, err)
	}
	if last < 0 {
		ids, err := json.Marshal(originalIDs)
		if err != nil {
			return nil, internal(op, err)
		}
		if _, err := t.exec(`INSERT INTO run_repairs (run_id, number, repair_id, started_at, ended_at, state, result_state,
			state_message, task_run_ids) VALUES (?, 0, 0, ?, ?, ?, ?, ?, ?)`,
			r.ID, kiln.MillisOf(r.Created), nullMillis(r.Ended), r.LifeCycleState, r.ResultState, r.StateMessage, string(ids)); err != nil {
			return nil, internal(op, err)
		}
		last = 0
	} else if _, err := t.exec(`UPDATE run_repairs SET ended_at = ?, state = ?, result_state = ?, state_message = ?
		WHERE run_id = ? AND number = ?`,
		nullMillis(r.Ended), r.LifeCycleState, r.ResultState, r.StateMessage, r.ID, last); err != nil {
		return nil, internal(op, err)
	}
	// Each rerun task: its row as it was kept under its old id, the live
	// row renumbered, with the repair's exec and no outputs.
	rep := &kiln.RunRepair{Type: kiln.RepairTypeRepair, Started: t.now}
	for _, k := range s.TaskKeys {
		task := byKey[k]
		// A rerun for_each task makes its iterations afresh: the old ones
		// are kept as replaced, under their ids.
		if _, err := t.exec(`INSERT INTO replaced_task_runs (`+replacedCols+`) SELECT `+replacedCols+
			` FROM task_runs WHERE id = ? OR (run_id = ? AND parent_id = ?)`, task.ID, r.ID, task.ID); err != nil {
			return nil, internal(op, err)
		}
		if _, err := t.exec(`DELETE FROM task_runs WHERE run_id = ? AND parent_id = ?`, r.ID, task.ID); err != nil {
			return nil, internal(op, err)
		}
		r.Tasks = slices.DeleteFunc(r.Tasks, func(it *kiln.TaskRun) bool { return it.ParentID == task.ID })
		newID, err := t.newRunID(op)
		if err != nil {
			return nil, err
		}
		if e, ok := s.Exec[k]; ok {
			task.Exec = e
		}
		exec, err := json.Marshal(task.Exec)
		if err != nil {
			return nil, internal(op, err)
		}
		// A rerun sets its task values afresh (and the row's id, which
		// they reference, changes).
		if _, err := t.exec(`DELETE FROM task_values WHERE task_run_id = ?`, task.ID); err != nil {
			return nil, internal(op, err)
		}
		if _, err := t.exec(`UPDATE task_runs SET id = ?, exec = ?, result = '', truncated = ?, error = '', error_trace = '',
			logs = '', logs_truncated = ?, outcome = '', child_run_id = 0 WHERE id = ?`, newID, string(exec), false, false, task.ID); err != nil {
			return nil, internal(op, err)
		}
		task.ID = newID
		rep.TaskRunIDs = append(rep.TaskRunIDs, newID)
	}
	if s.Spec != nil {
		if _, err := t.exec(`UPDATE runs SET spec = ? WHERE id = ?`, jsonText(s.Spec), r.ID); err != nil {
			return nil, internal(op, err)
		}
		r.Spec = s.Spec
	}
	r.Repair(s.TaskKeys, t.now)
	if err := t.persistRun(op, r, nil); err != nil {
		return nil, err
	}
	if rep.ID, err = t.newRunID(op); err != nil {
		return nil, err
	}
	ids, err := json.Marshal(rep.TaskRunIDs)
	if err != nil {
		return nil, internal(op, err)
	}
	if _, err := t.exec(`INSERT INTO run_repairs (run_id, number, repair_id, started_at, task_run_ids) VALUES (?, ?, ?, ?, ?)`,
		r.ID, last+1, rep.ID, kiln.MillisOf(t.now), string(ids)); err != nil {
		return nil, internal(op, err)
	}
	rep.LifeCycleState, rep.ResultState, rep.StateMessage, rep.Ended = r.LifeCycleState, r.ResultState, r.StateMessage, r.Ended
	return rep, nil
}

// RunRepairs returns the run's repair history, the last item with the
// run's current state.
func (t *tx) RunRepairs(runID int64) ([]*kiln.RunRepair, error) {
	const op = "read run repairs"
	var state, result, message string
	var ended sql.NullInt64
	if err := t.queryRow(`SELECT state, result_state, state_message, ended_at FROM runs WHERE id = ?`, runID).
		Scan(&state, &result, &message, &ended); err != nil {
		return nil, t.fail(op, err, runNotFound(runID), nil)
	}
	rows, err := t.query(`SELECT repair_id, started_at, ended_at, state, result_state, state_message, task_run_ids
		FROM run_repairs WHERE run_id = ? ORDER BY number`, runID)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []*kiln.RunRepair
	for rows.Next() {
		rep := &kiln.RunRepair{Type: kiln.RepairTypeRepair}
		var started int64
		var end sql.NullInt64
		var ids string
		if err := rows.Scan(&rep.ID, &started, &end, &rep.LifeCycleState, &rep.ResultState, &rep.StateMessage, &ids); err != nil {
			return nil, internal(op, err)
		}
		if err := json.Unmarshal([]byte(ids), &rep.TaskRunIDs); err != nil {
			return nil, internal(op, fmt.Errorf("run %d repair task_run_ids: %w", runID, err))
		}
		if rep.ID == 0 {
			rep.Type = kiln.RepairTypeOriginal
		}
		rep.Started, rep.Ended = kiln.TimeOfMillis(started), timeOfNull(end)
		out = append(out, rep)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	if n := len(out); n > 0 {
		cur := out[n-1]
		cur.LifeCycleState, cur.ResultState, cur.StateMessage, cur.Ended = state, result, message, timeOfNull(ended)
	}
	return out, nil
}
