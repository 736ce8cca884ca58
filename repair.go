package kiln

import "time"

// Types of the items of a run's repair history, as Databricks names them
// (RepairHistoryItemType).
const (
	RepairTypeOriginal = "ORIGINAL"
	RepairTypeRepair   = "REPAIR"
)

// RunRepair is one item of a run's repair history (runs/get with
// include_history): the original run, then one item per repair, oldest
// first.
type RunRepair struct {
	// ID is the repair's id (repair_id, latest_repair_id); 0 for the
	// original run.
	ID int64
	// Type is RepairTypeOriginal or RepairTypeRepair.
	Type string
	// Started is when the original run was created or the repair made;
	// Ended is zero while the item is the run's current one and active.
	Started, Ended time.Time
	// LifeCycleState, ResultState and StateMessage are the run's state
	// when the next repair began, or, for the current item, the run's own.
	LifeCycleState, ResultState, StateMessage string
	// TaskRunIDs are the task runs that ran as part of this item: every
	// task of the original run, the rerun tasks' new ids for a repair.
	TaskRunIDs []int64
}

// RepairSpec asks the store to repair a finished run (runs/repair). The
// service decides which tasks run again and with what; the store checks
// that the run is finished and moves it.
type RepairSpec struct {
	RunID int64
	// TaskKeys are the tasks that run again (the service has added their
	// dependents already). Every key must name a task of the run.
	TaskKeys []string
	// Exec, when it holds a task key, replaces what that rerun task runs
	// (the repair's parameter overrides).
	Exec map[string]TaskExec
	// Spec, when not nil, replaces the run's Spec.
	Spec []byte
}

// Repair runs the tasks named again in a finished run: each goes back to
// QUEUED (BLOCKED when it has dependencies; Settle queues it once they
// are done), with its attempts, times and outputs cleared; the run's
// stop, result, start and end are cleared, so its timeout and its job's
// concurrency limit count from the repair, and the run settles. The other
// tasks keep their results, and the run's final result is derived over
// all of them again.
func (r *Run) Repair(keys []string, now time.Time) {
	rerun := make(map[string]bool, len(keys))
	for _, k := range keys {
		rerun[k] = true
	}
	r.LifeCycleState, r.ResultState, r.StateMessage, r.Stop = LifeCycleQueued, "", "", ""
	r.Started, r.Ended = time.Time{}, time.Time{}
	for _, t := range r.Tasks {
		if !rerun[t.TaskKey] {
			continue
		}
		t.ResultState, t.StateMessage, t.Attempt = "", "", 0
		t.Started, t.Ended = time.Time{}, time.Time{}
		t.LeaseOwner, t.LeaseUntil = "", time.Time{}
		t.Result, t.Truncated, t.Error, t.ErrorTrace, t.Logs, t.LogsTruncated = "", false, "", "", "", false
		t.Outcome, t.ChildRunID = "", 0
		if len(t.DependsOn) == 0 {
			t.LifeCycleState, t.ReadyAt = LifeCycleQueued, now
		} else {
			t.LifeCycleState, t.ReadyAt = LifeCycleBlocked, time.Time{}
		}
	}
	r.Settle(now)
}

// Dependents returns the keys of the tasks of r that depend on any of
// keys, directly or through other tasks, in task order, without keys
// themselves.
func (r *Run) Dependents(keys []string) []string {
	in, seed := make(map[string]bool, len(keys)), make(map[string]bool, len(keys))
	for _, k := range keys {
		in[k], seed[k] = true, true
	}
	// Tasks are few (at most 1000): repeat passes until nothing is added.
	for moved := true; moved; {
		moved = false
		for _, t := range r.Tasks {
			if in[t.TaskKey] {
				continue
			}
			for _, d := range t.DependsOn {
				if in[d] {
					in[t.TaskKey], moved = true, true
					break
				}
			}
		}
	}
	var out []string
	for _, t := range r.Tasks {
		if in[t.TaskKey] && !seed[t.TaskKey] {
			out = append(out, t.TaskKey)
		}
	}
	return out
}

// Unsuccessful reports whether a finished task did not succeed: it
// failed, timed out, was canceled, was skipped for its dependencies, or
// kiln lost it (EXCLUDED, left out by run_if or run-now's "only", counts
// as succeeded). These are the tasks a repair with
// rerun_all_failed_tasks runs again.
func (t *TaskRun) Unsuccessful() bool {
	return t.Done() && t.ResultState != ResultSuccess && t.ResultState != ResultExcluded || t.LifeCycleState == LifeCycleInternalErr
}
