package kiln

import (
	"fmt"
	"time"
)

// This file is the life cycle of runs and task runs. Stores call these
// methods inside their transactions and persist the result, so every
// backend moves runs through exactly the same states, and the rules are
// tested once, without a database.
//
// A task run goes
//
//	BLOCKED (waiting for dependencies) -> QUEUED (ready) -> RUNNING (leased)
//	  -> TERMINATED with a result, or INTERNAL_ERROR
//	  -> or WAITING_FOR_RETRY -> RUNNING … while retries remain.
//
// A run is QUEUED until its first task is claimed, RUNNING until every
// task is done (TERMINATING while a stop waits for running tasks), then
// TERMINATED (INTERNAL_ERROR when kiln lost a task) with a result derived
// from its tasks'.

// Messages shown in state_message, worded like Databricks'.
const (
	// MsgTaskFailed is the state message of a task whose code failed; the
	// error itself is in runs/get-output.
	MsgTaskFailed = "Workload failed, see run output for details"
	// MsgUpstreamFailed is the state message of a task skipped because a
	// dependency failed.
	MsgUpstreamFailed = "Upstream task(s) failed."
	// MsgUpstreamCanceled is the state message of a task skipped because a
	// dependency was canceled.
	MsgUpstreamCanceled = "Upstream task(s) were canceled."
	// MsgExcluded is the state message of a task whose run_if condition
	// was not met.
	MsgExcluded = "The task's run_if condition was not met."
	// MsgExcludedByCondition is the state message of a task excluded
	// because every dependency it has was excluded, or an upstream
	// condition task reached the other outcome than the one it names.
	MsgExcludedByCondition = "The task's dependencies were excluded or did not reach the outcome it depends on."
	// MsgExcludedByOnly is the state message of a task left out of a run
	// by run-now's "only".
	MsgExcludedByOnly = "The task was not selected to run."
	// MsgLeaseExpired ends a task whose executor stopped renewing its lease.
	MsgLeaseExpired = "The kiln executor running this task stopped before the task finished (the server restarted or crashed); the task's outcome is unknown."
)

// RunTimedOutMessage is the state message of a run stopped by its timeout.
func RunTimedOutMessage(timeout time.Duration) string {
	return fmt.Sprintf("Run timed out after %d seconds.", int64(timeout/time.Second))
}

// TaskTimedOutMessage is the state message of a task attempt stopped by the
// task's own timeout.
func TaskTimedOutMessage(timeout time.Duration) string {
	return fmt.Sprintf("Task timed out after %d seconds.", int64(timeout/time.Second))
}

// IsTerminal reports whether a life cycle state is final.
func IsTerminal(lifeCycle string) bool {
	switch lifeCycle {
	case LifeCycleTerminated, LifeCycleSkipped, LifeCycleInternalErr:
		return true
	}
	return false
}

// waiting reports whether the task has not started its current attempt
// and may still never start.
func (t *TaskRun) waiting() bool {
	switch t.LifeCycleState {
	case LifeCycleBlocked, LifeCycleQueued, LifeCycleWaitingForRetry, LifeCyclePending, "":
		return true
	}
	return false
}

// Done reports whether the task run is final.
func (t *TaskRun) Done() bool { return IsTerminal(t.LifeCycleState) }

// Active reports whether the run is not final.
func (r *Run) Active() bool { return !IsTerminal(r.LifeCycleState) }

// retriesLeft reports whether another attempt is allowed.
func (t *TaskRun) retriesLeft() bool { return t.MaxRetries < 0 || t.Attempt < t.MaxRetries }

func (t *TaskRun) end(now time.Time, lifeCycle, result, message string) {
	t.LifeCycleState, t.ResultState, t.StateMessage = lifeCycle, result, message
	t.Ended = now
	t.ReadyAt = time.Time{}
	t.LeaseOwner, t.LeaseUntil = "", time.Time{}
}

// Task returns the run's task with the given id, or nil.
func (r *Run) Task(id int64) *TaskRun {
	for _, t := range r.Tasks {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// Init sets the states of a new run: QUEUED, with tasks without
// dependencies QUEUED from now and the others BLOCKED. Tasks created with
// ResultState ResultExcluded are left out of the run: they start
// TERMINATED, and count as succeeded for their dependents.
func (r *Run) Init(now time.Time) {
	r.LifeCycleState, r.ResultState, r.StateMessage, r.Stop = LifeCycleQueued, "", "", ""
	r.Created = now
	for _, t := range r.Tasks {
		if t.ResultState == ResultExcluded {
			// Left out of this run (run-now's "only"): done from the start.
			t.end(now, LifeCycleTerminated, ResultExcluded, MsgExcludedByOnly)
			continue
		}
		t.ResultState, t.StateMessage, t.Attempt = "", "", 0
		if len(t.DependsOn) == 0 {
			t.LifeCycleState, t.ReadyAt = LifeCycleQueued, now
		} else {
			t.LifeCycleState, t.ReadyAt = LifeCycleBlocked, time.Time{}
		}
	}
	r.Settle(now)
}

// Claim leases t to owner until the given time and starts its attempt.
func (r *Run) Claim(t *TaskRun, owner string, until, now time.Time) {
	t.LifeCycleState, t.ResultState, t.StateMessage = LifeCycleRunning, "", ""
	t.LeaseOwner, t.LeaseUntil = owner, until
	t.Started, t.Ended, t.ReadyAt = now, time.Time{}, time.Time{}
	t.Result, t.Truncated, t.Error, t.ErrorTrace, t.Logs, t.LogsTruncated = "", false, "", "", "", false
	t.Outcome, t.ChildRunID = "", 0
	if r.Started.IsZero() {
		r.Started = now
	}
	r.Settle(now)
}

// Finish records the outcome of t's current attempt: t ends, or waits for
// a retry when it failed (or timed out with RetryOnTimeout, or kiln lost
// it) and retries remain and the run was not stopped. Then the run
// settles.
func (r *Run) Finish(t *TaskRun, o TaskOutcome, now time.Time) {
	if o.RunTimedOut {
		r.stop(ResultTimedOut, RunTimedOutMessage(r.Timeout), now)
	}
	failed := o.LifeCycleState == LifeCycleInternalErr || o.ResultState == ResultFailed ||
		(o.ResultState == ResultTimedOut && t.RetryOnTimeout && !o.RunTimedOut)
	if failed && r.Stop == "" && t.retriesLeft() {
		t.Attempt++
		t.LifeCycleState, t.ResultState = LifeCycleWaitingForRetry, ""
		t.StateMessage = fmt.Sprintf("Attempt %d failed (%s); retrying.", t.Attempt-1, o.StateMessage)
		t.ReadyAt = now.Add(t.MinRetryInterval)
		t.LeaseOwner, t.LeaseUntil = "", time.Time{}
		t.Ended = now
		// The failed attempt's error stays visible until the next one ends.
		t.Result, t.Truncated, t.Error, t.ErrorTrace = o.Result, o.Truncated, o.Error, o.ErrorTrace
		t.Logs, t.LogsTruncated = o.Logs, o.LogsTruncated
		t.ChildRunID = o.ChildRunID
		r.Settle(now)
		return
	}
	lifeCycle, result, msg := o.LifeCycleState, o.ResultState, o.StateMessage
	if r.Stop != "" && result != ResultSuccess {
		// Killed by the stop (or lost while stopping): the stop's result.
		lifeCycle, result, msg = LifeCycleTerminated, r.Stop, r.StateMessage
	}
	if lifeCycle == "" {
		lifeCycle = LifeCycleTerminated
	}
	t.end(now, lifeCycle, result, msg)
	t.Result, t.Truncated, t.Error, t.ErrorTrace = o.Result, o.Truncated, o.Error, o.ErrorTrace
	t.Logs, t.LogsTruncated = o.Logs, o.LogsTruncated
	t.ChildRunID = o.ChildRunID
	if result == ResultSuccess {
		t.Outcome = o.Outcome
	}
	r.Settle(now)
}

// LoseLease ends the attempt of t, whose executor is gone, as an internal
// error (retried when retries remain).
func (r *Run) LoseLease(t *TaskRun, now time.Time) {
	r.Finish(t, TaskOutcome{LifeCycleState: LifeCycleInternalErr, ResultState: ResultFailed, StateMessage: MsgLeaseExpired}, now)
}

// Halt ends an active run early with result (ResultCanceled or
// ResultTimedOut, or ResultMaxConcurrentRuns for a run skipped at its
// creation, which ends SKIPPED): tasks not started end at once, running tasks keep
// running until their executor kills them and calls Finish. It reports
// whether the run was active.
func (r *Run) Halt(result, message string, now time.Time) bool {
	if !r.Active() {
		return false
	}
	r.stop(result, message, now)
	r.Settle(now)
	return true
}

func (r *Run) stop(result, message string, now time.Time) {
	if r.Stop != "" {
		return // the first stop decides
	}
	r.Stop, r.StateMessage = result, message
}

// Settle derives what follows from the tasks' states: a stopped run's
// waiting tasks end, blocked tasks whose dependencies are done are queued
// or skipped (by their run_if), and the run's own state follows.
func (r *Run) Settle(now time.Time) {
	if r.Stop != "" {
		for _, t := range r.Tasks {
			if t.waiting() {
				t.end(now, LifeCycleTerminated, r.Stop, r.StateMessage)
			}
		}
	}
	byKey := make(map[string]*TaskRun, len(r.Tasks))
	for _, t := range r.Tasks {
		byKey[t.TaskKey] = t
	}
	// A skipped task may unblock (or skip) its own dependents: repeat until
	// nothing moves. Each pass ends at least one task, so it terminates.
	for moved := true; moved; {
		moved = false
		for _, t := range r.Tasks {
			if t.LifeCycleState != LifeCycleBlocked {
				continue
			}
			deps, done := make([]*TaskRun, 0, len(t.DependsOn)), true
			for _, k := range t.DependsOn {
				d := byKey[k]
				if d == nil {
					continue // validated away on creation; a missing one cannot block
				}
				done = done && d.Done()
				deps = append(deps, dependencyAs(d, t.DependsOnOutcome[k]))
			}
			if !done {
				continue
			}
			moved = true
			if allExcluded(deps) {
				t.end(now, LifeCycleTerminated, ResultExcluded, MsgExcludedByCondition)
				continue
			}
			if runIfMet(t.RunIf, deps) {
				t.LifeCycleState, t.ReadyAt = LifeCycleQueued, now
				continue
			}
			switch {
			case anyResult(deps, ResultCanceled, ResultUpstreamCanceled):
				t.end(now, LifeCycleTerminated, ResultUpstreamCanceled, MsgUpstreamCanceled)
			case anyFailed(deps):
				t.end(now, LifeCycleTerminated, ResultUpstream, MsgUpstreamFailed)
			default:
				t.end(now, LifeCycleTerminated, ResultExcluded, MsgExcluded)
			}
		}
	}
	r.settleIterations(now)
	r.settleRun(now)
}

// MsgIterationNotStarted ends the iterations of a for_each task that
// ended early (lost by its executor) before they started.
const MsgIterationNotStarted = "The for_each task ended before this iteration started."

// settleIterations queues the PENDING iterations of each running
// for_each task, in order, while fewer than its concurrency are queued or
// running. The iterations not started of a for_each task that ended
// early (its executor lost it) end with it; running ones end on their
// own.
func (r *Run) settleIterations(now time.Time) {
	parents := map[int64]*TaskRun{}
	active := map[int64]int{}
	for _, t := range r.Tasks {
		switch {
		case t.ParentID == 0 && t.Exec.Kind == ExecForEach:
			parents[t.ID] = t
		case t.ParentID != 0 && !t.Done() && t.LifeCycleState != LifeCyclePending:
			active[t.ParentID]++
		}
	}
	for _, t := range r.Tasks {
		if t.ParentID == 0 || !t.waiting() {
			continue
		}
		p := parents[t.ParentID]
		switch {
		case p == nil || p.Done():
			t.end(now, LifeCycleTerminated, ResultCanceled, MsgIterationNotStarted)
		case t.LifeCycleState != LifeCyclePending:
		case p.LifeCycleState == LifeCycleRunning && active[p.ID] < max(p.Exec.Concurrency, 1):
			t.LifeCycleState, t.ReadyAt = LifeCycleQueued, now
			active[p.ID]++
		}
	}
}

// JobTasks returns the run's tasks of its job: every task but the iterations
// of for_each tasks.
func (r *Run) JobTasks() []*TaskRun {
	out := make([]*TaskRun, 0, len(r.Tasks))
	for _, t := range r.Tasks {
		if t.ParentID == 0 {
			out = append(out, t)
		}
	}
	return out
}

// Iterations returns the iterations of the for_each task run parentID,
// in order.
func (r *Run) Iterations(parentID int64) []*TaskRun {
	var out []*TaskRun
	for _, t := range r.Tasks {
		if t.ParentID == parentID && parentID != 0 {
			out = append(out, t)
		}
	}
	return out
}

// settleRun derives the run's life cycle, result and message.
func (r *Run) settleRun(now time.Time) {
	running, allDone := false, true
	for _, t := range r.Tasks {
		running = running || t.LifeCycleState == LifeCycleRunning
		allDone = allDone && t.Done()
	}
	switch {
	case !allDone && r.Stop != "":
		r.LifeCycleState = LifeCycleTerminating
	case !allDone && (running || !r.Started.IsZero()):
		r.LifeCycleState = LifeCycleRunning
	case !allDone:
		r.LifeCycleState = LifeCycleQueued
	default:
		if r.Ended.IsZero() {
			r.Ended = now
		}
		r.LifeCycleState, r.ResultState, r.StateMessage = r.outcome()
	}
}

// outcome is the final state of a run whose tasks are all done.
func (r *Run) outcome() (lifeCycle, result, message string) {
	if r.Stop == ResultMaxConcurrentRuns {
		return LifeCycleSkipped, r.Stop, r.StateMessage
	}
	if r.Stop != "" {
		return LifeCycleTerminated, r.Stop, r.StateMessage
	}
	// The iterations of a for_each task decide nothing here: their parent
	// fails when one does.
	tasks := r.JobTasks()
	var culprit *TaskRun
	internal, skipped := false, false
	for _, t := range tasks {
		switch {
		case t.LifeCycleState == LifeCycleInternalErr:
			internal = true
		case t.ResultState == ResultUpstream || t.ResultState == ResultUpstreamCanceled:
			skipped = true
			continue
		case t.ResultState == ResultSuccess || t.ResultState == ResultExcluded:
			continue
		}
		if culprit == nil {
			culprit = t
		}
	}
	if culprit == nil {
		if skipped { // only possible with a dependency outside the run: defensive
			return LifeCycleTerminated, ResultFailed, MsgUpstreamFailed
		}
		return LifeCycleTerminated, ResultSuccess, ""
	}
	result = ResultFailed
	for _, want := range []string{ResultFailed, ResultTimedOut, ResultCanceled} {
		if anyResult(tasks, want) {
			result = want
			break
		}
	}
	lifeCycle = LifeCycleTerminated
	if internal {
		lifeCycle, result = LifeCycleInternalErr, ResultFailed
	}
	message = culprit.StateMessage
	if len(tasks) > 1 {
		message = fmt.Sprintf("Task %s failed with message: %s", culprit.TaskKey, culprit.StateMessage)
		if skipped {
			message += " This caused all downstream tasks to get skipped."
		}
	}
	return lifeCycle, result, message
}

// dependencyAs is how a finished dependency counts for a task that
// depends on it with outcome (depends_on[].outcome, "" for none): as it
// is, or, when it is a condition that succeeded with the other outcome,
// as EXCLUDED.
func dependencyAs(d *TaskRun, outcome string) *TaskRun {
	if outcome == "" || d.ResultState != ResultSuccess || d.Outcome == outcome {
		return d
	}
	view := *d
	view.ResultState, view.StateMessage = ResultExcluded, MsgExcludedByCondition
	return &view
}

// allExcluded reports whether every dependency was excluded by a
// condition or a run_if, which excludes the task whatever its run_if (as
// on Databricks). Tasks that run-now's "only" left out do not count:
// their dependents run as if they had succeeded.
func allExcluded(deps []*TaskRun) bool {
	for _, d := range deps {
		if d.ResultState != ResultExcluded || d.StateMessage == MsgExcludedByOnly {
			return false
		}
	}
	return len(deps) > 0
}

// runIfMet decides a run_if condition over finished dependencies.
func runIfMet(runIf string, deps []*TaskRun) bool {
	succeeded, failed := 0, 0
	for _, d := range deps {
		switch {
		case d.ResultState == ResultSuccess || d.ResultState == ResultExcluded:
			succeeded++
		case isFailure(d):
			failed++
		}
	}
	switch runIf {
	case RunIfAllDone:
		return true
	case RunIfAtLeastOneSuccess:
		return succeeded > 0
	case RunIfNoneFailed:
		return failed == 0 && !anyResult(deps, ResultCanceled, ResultUpstreamCanceled)
	case RunIfAllFailed:
		return failed == len(deps)
	case RunIfAtLeastOneFailed:
		return failed > 0
	default: // ALL_SUCCESS
		return succeeded == len(deps)
	}
}

func isFailure(t *TaskRun) bool {
	switch t.ResultState {
	case ResultFailed, ResultTimedOut, ResultUpstream:
		return true
	}
	return t.LifeCycleState == LifeCycleInternalErr
}

func anyFailed(ts []*TaskRun) bool {
	for _, t := range ts {
		if isFailure(t) {
			return true
		}
	}
	return false
}

func anyResult(ts []*TaskRun, results ...string) bool {
	for _, t := range ts {
		for _, r := range results {
			if t.ResultState == r {
				return true
			}
		}
	}
	return false
}
