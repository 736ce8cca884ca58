package runner

import (
	"context"
	"errors"
	"time"

	"github.com/kiln-dev/kiln"
)

// Messages of tasks that kiln ended.
const (
	msgCanceled = "The run was canceled."
	msgShutdown = "The kiln server shut down while the task was running; the task's outcome is unknown."
)

// execute runs one claimed task to its end and records the outcome.
func (r *Runner) execute(run *kiln.Run, task *kiln.TaskRun) {
	ctx, stop := context.WithCancelCause(r.killCtx)
	defer stop(nil)
	defer r.track(run.ID, task.ID, stop)()

	deadline, runDeadline := attemptDeadline(run, task)
	tctx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		tctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	renewed := make(chan struct{})
	go func() { defer close(renewed); r.renew(ctx, task.ID, stop) }()

	var o kiln.TaskOutcome
	if task.Exec.Control() {
		o = r.control(tctx, run, task)
	} else {
		o = r.attempt(tctx, run, task)
	}

	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errLeaseLost):
		// Another executor or the sweep owns the task now: whatever this
		// attempt did is dropped.
		r.log.Warn("task lease lost; its outcome is dropped", "run_id", run.ID, "task_run_id", task.ID)
		stop(nil)
		<-renewed
		return
	case errors.Is(cause, errShutdown):
		o.LifeCycleState, o.ResultState, o.StateMessage = kiln.LifeCycleInternalErr, kiln.ResultFailed, msgShutdown
	case errors.Is(cause, errCanceled):
		o.LifeCycleState, o.ResultState, o.StateMessage = kiln.LifeCycleTerminated, kiln.ResultCanceled, msgCanceled
	case errors.Is(cause, errRunTimeout):
		o.LifeCycleState, o.ResultState = kiln.LifeCycleTerminated, kiln.ResultTimedOut
		o.StateMessage = kiln.RunTimedOutMessage(run.Timeout)
	case ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded):
		o.LifeCycleState, o.ResultState, o.RunTimedOut = kiln.LifeCycleTerminated, kiln.ResultTimedOut, runDeadline
		o.StateMessage = kiln.TaskTimedOutMessage(task.Timeout)
		if runDeadline {
			o.StateMessage = kiln.RunTimedOutMessage(run.Timeout)
		}
	}
	stop(nil)
	<-renewed
	r.finish(task, o)
}

// attemptDeadline is when this attempt must end: the task's timeout from
// the attempt's start, or the run's from the run's start, whichever is
// first; zero for none. runDeadline says the run's is the one.
func attemptDeadline(run *kiln.Run, task *kiln.TaskRun) (deadline time.Time, runDeadline bool) {
	if task.Timeout > 0 {
		deadline = task.Started.Add(task.Timeout)
	}
	if run.Timeout > 0 {
		if d := run.Started.Add(run.Timeout); deadline.IsZero() || d.Before(deadline) {
			deadline, runDeadline = d, true
		}
	}
	return deadline, runDeadline
}

// renew keeps the lease alive until ctx ends, and ends the task (through
// stop) when the run was stopped elsewhere or the lease was lost.
func (r *Runner) renew(ctx context.Context, taskID int64, stop context.CancelCauseFunc) {
	t := time.NewTicker(r.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var result string
		err := r.store.Update(ctx, func(tx kiln.Tx) (err error) {
			result, err = tx.RenewLease(taskID, r.owner, tx.Now().Add(r.cfg.LeaseTTL))
			return err
		})
		switch {
		case kiln.IsCode(err, kiln.ENotFound):
			stop(errLeaseLost)
			return
		case err != nil:
			if ctx.Err() == nil {
				r.log.Error("renewing a task lease", "task_run_id", taskID, "err", err)
			}
		case result == kiln.ResultCanceled:
			stop(errCanceled)
		case result == kiln.ResultTimedOut:
			stop(errRunTimeout)
		}
	}
}

// finish records o, retrying briefly if the store is busy; if it cannot,
// the lease runs out and the sweep ends the task instead.
func (r *Runner) finish(task *kiln.TaskRun, o kiln.TaskOutcome) {
	for i, wait := 0, 100*time.Millisecond; ; i, wait = i+1, wait*2 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.store.Update(ctx, func(tx kiln.Tx) error { return tx.FinishTask(task.ID, r.owner, o) })
		cancel()
		switch {
		case err == nil:
			return
		case kiln.IsCode(err, kiln.ENotFound):
			r.log.Warn("task finished after its lease was lost; its outcome is dropped", "task_run_id", task.ID)
			return
		case i == 4:
			r.log.Error("recording a task's outcome failed; the lease sweep will end it", "task_run_id", task.ID, "err", err)
			return
		}
		time.Sleep(wait)
	}
}

// failedOutcome is a task that could not run for a reason the user can
// fix (a missing notebook, an unsupported cell).
func failedOutcome(msg string) kiln.TaskOutcome {
	return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultFailed, StateMessage: msg, Error: msg}
}

// internalOutcome is a task kiln itself failed to run.
func internalOutcome(msg string) kiln.TaskOutcome {
	return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleInternalErr, ResultState: kiln.ResultFailed, StateMessage: msg, Error: msg}
}
