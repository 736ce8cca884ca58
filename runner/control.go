package runner

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// This file runs the control tasks, the ones the server evaluates itself
// (kiln.TaskExec.Control): condition_task and run_job_task (for_each_task
// is in foreach.go). They run no
// user code, so they run outside the sandbox, and take no executor slot:
// a run_job_task waits for its child run, which needs the slots.

// Jobs queues the runs run_job_task tasks ask for. *service.Service
// implements it.
type Jobs interface {
	RunJobForRun(ctx context.Context, req kiln.RunJobRequest) (int64, error)
}

// childPoll is how often a run_job_task looks at its child run.
const childPoll = 200 * time.Millisecond

// control runs one attempt of a control task.
func (r *Runner) control(ctx context.Context, run *kiln.Run, task *kiln.TaskRun) kiln.TaskOutcome {
	if task.Exec.Kind == kiln.ExecForEach {
		return r.forEach(ctx, run, task)
	}
	refs := references(run, task)
	r.addTaskValueRefs(ctx, run, task, refs)
	switch task.Exec.Kind {
	case kiln.ExecCondition:
		return evalConditionTask(task.Exec, refs)
	case kiln.ExecRunJob:
		return r.runJob(ctx, run, task, refs)
	}
	return internalOutcome(fmt.Sprintf("kiln does not know how to run a task of kind %q.", task.Exec.Kind))
}

// evalConditionTask evaluates a condition task's operands, with their
// references resolved, into its outcome. A reference left without a value
// fails the task rather than being compared as text.
func evalConditionTask(e kiln.TaskExec, refs map[string]string) kiln.TaskOutcome {
	if len(e.Args) != 2 {
		return internalOutcome("The condition task has no operands.")
	}
	left, right := substitute(e.Args[0], refs), substitute(e.Args[1], refs)
	for _, side := range []string{left, right} {
		if m := referenceRE.FindString(side); m != "" {
			return failedOutcome(fmt.Sprintf("The condition's operand %s has no value: no task or job parameter set it.", m))
		}
	}
	ok, err := EvalCondition(e.Op, left, right)
	if err != nil {
		return failedOutcome("The condition cannot be evaluated: " + err.Error() + ".")
	}
	return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess,
		Outcome: strconv.FormatBool(ok)}
}

// EvalCondition decides left op right as Databricks does: EQUAL_TO and
// NOT_EQUAL compare the strings ("12.0" is not "12"), the other operators
// compare numbers ("12.0" >= "12"), and fail when an operand is not one.
func EvalCondition(op, left, right string) (bool, error) {
	switch op {
	case kiln.OpEqualTo:
		return left == right, nil
	case kiln.OpNotEqual:
		return left != right, nil
	}
	l, err := conditionNumber(op, left)
	if err != nil {
		return false, err
	}
	rt, err := conditionNumber(op, right)
	if err != nil {
		return false, err
	}
	switch op {
	case kiln.OpGreaterThan:
		return l > rt, nil
	case kiln.OpGreaterThanOrEqual:
		return l >= rt, nil
	case kiln.OpLessThan:
		return l < rt, nil
	case kiln.OpLessThanOrEqual:
		return l <= rt, nil
	}
	return false, fmt.Errorf("the operator %q is not one kiln knows", op)
}

func conditionNumber(op, s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("%s compares numbers, and %.40q is not a number", op, s)
	}
	return f, nil
}

// runJob triggers the run a run_job_task asks for and waits for it: the
// task ends as the child run does. Should the task end first (canceled,
// timed out, the server shutting down), the child run is canceled.
func (r *Runner) runJob(ctx context.Context, run *kiln.Run, task *kiln.TaskRun, refs map[string]string) kiln.TaskOutcome {
	if r.cfg.Jobs == nil {
		return internalOutcome("This kiln server cannot run run_job_task tasks.")
	}
	params := make(map[string]string, len(task.Exec.Params))
	for k, v := range task.Exec.Params {
		params[k] = substitute(v, refs)
	}
	childID, err := r.cfg.Jobs.RunJobForRun(ctx, kiln.RunJobRequest{OwnerID: run.OwnerID, RunID: run.ID, TaskRunID: task.ID,
		Attempt: task.Attempt, JobID: task.Exec.JobID, JobParameters: params})
	if err != nil {
		if ctx.Err() == nil && kiln.IsCode(err, kiln.EInternal) {
			r.log.Error("triggering the run of a run_job_task", "run_id", run.ID, "task_run_id", task.ID, "err", err)
		}
		return failedOutcome("run_job_task: " + kiln.ErrorMessage(err))
	}
	r.Wake()
	logs := fmt.Sprintf("Triggered run %d of job %d.\n", childID, task.Exec.JobID)
	if err := r.store.Update(ctx, func(tx kiln.Tx) error { return tx.RecordTaskLogs(task.ID, r.owner, logs, false) }); err != nil && ctx.Err() == nil {
		r.log.Warn("recording a run_job_task's child run", "task_run_id", task.ID, "err", err)
	}
	tick := time.NewTicker(childPoll)
	defer tick.Stop()
	for {
		var child *kiln.Run
		err := r.store.View(ctx, func(tx kiln.Tx) (err error) { child, err = tx.Run(childID); return err })
		switch {
		case err == nil && !child.Active():
			return childOutcome(child, task.Exec.JobID, logs)
		case kiln.IsCode(err, kiln.ENotFound):
			o := failedOutcome(fmt.Sprintf("The run %d of job %d that this task triggered no longer exists.", childID, task.Exec.JobID))
			o.ChildRunID, o.Logs = childID, logs
			return o
		case err != nil && ctx.Err() == nil:
			r.log.Warn("reading a run_job_task's child run", "run_id", childID, "err", err)
		}
		select {
		case <-ctx.Done():
			r.stopChild(childID, task.ID)
			// execute says how the task ended; the child is recorded.
			return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultCanceled,
				StateMessage: msgCanceled, ChildRunID: childID, Logs: logs}
		case <-tick.C:
		}
	}
}

// childOutcome is how a run_job_task ends once its child run has: as a
// success when the child succeeded, else as a failure naming the child's
// result.
func childOutcome(child *kiln.Run, jobID int64, logs string) kiln.TaskOutcome {
	if child.ResultState == kiln.ResultSuccess {
		return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess,
			ChildRunID: child.ID, Logs: logs}
	}
	msg := fmt.Sprintf("The run %d of job %d ended %s", child.ID, jobID, child.ResultState)
	if child.StateMessage != "" {
		msg += ": " + child.StateMessage
	} else {
		msg += "."
	}
	o := failedOutcome(msg)
	o.ChildRunID, o.Logs = child.ID, logs
	return o
}

// stopChild cancels the child run of a run_job_task that ended first.
func (r *Runner) stopChild(childID, taskID int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := fmt.Sprintf("Run was canceled: the run_job_task (task run %d) that triggered it ended first.", taskID)
	var active bool
	err := r.store.Update(ctx, func(tx kiln.Tx) (err error) { active, err = tx.StopRun(childID, kiln.ResultCanceled, msg); return err })
	if err != nil {
		r.log.Error("canceling the child run of a run_job_task", "run_id", childID, "err", err)
		return
	}
	if active {
		r.Stopped(childID, kiln.ResultCanceled)
	}
}
