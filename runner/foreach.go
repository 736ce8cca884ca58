package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// This file runs for_each_task: the server resolves its inputs, creates
// one task run per element (an iteration, kiln.TaskRun.ParentID), and
// waits for them. The iterations are claimed and executed like any task;
// the store's settling (kiln.Run.Settle) queues them, at most the task's
// concurrency at a time. The for_each task succeeds when every iteration
// did, and fails otherwise, once all have ended.

// iterationPoll is how often a for_each task looks at its iterations.
const iterationPoll = 200 * time.Millisecond

// forEach runs one attempt of a for_each task.
func (r *Runner) forEach(ctx context.Context, run *kiln.Run, task *kiln.TaskRun) kiln.TaskOutcome {
	e := task.Exec
	if e.Nested == nil {
		return internalOutcome("The for_each task has no nested task.")
	}
	refs := references(run, task)
	probe := *task
	probe.Exec = kiln.TaskExec{Args: []string{e.Inputs}}
	r.addTaskValueRefs(ctx, run, &probe, refs)
	elems, err := ParseForEachInputs(substitute(e.Inputs, refs))
	if err != nil {
		return failedOutcome("The for_each task's inputs are not usable: " + err.Error() + ".")
	}
	iters := make([]*kiln.TaskRun, len(elems))
	for i, el := range elems {
		iters[i] = iterationOf(e.Nested, el)
	}
	err = r.store.Update(ctx, func(tx kiln.Tx) (err error) { iters, err = tx.AddIterations(task.ID, r.owner, iters); return err })
	if err != nil {
		if ctx.Err() == nil && kiln.IsCode(err, kiln.EInternal) {
			r.log.Error("creating the iterations of a for_each task", "run_id", run.ID, "task_run_id", task.ID, "err", err)
		}
		return failedOutcome("for_each_task: " + kiln.ErrorMessage(err))
	}
	r.Wake()
	logs := fmt.Sprintf("%d iterations, at most %d at a time.\n", len(iters), max(e.Concurrency, 1))
	if len(iters) == 0 {
		return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess, Logs: logs}
	}
	tick := time.NewTicker(iterationPoll)
	defer tick.Stop()
	for {
		var ended bool
		var failed int
		err := r.store.View(ctx, func(tx kiln.Tx) (err error) { ended, failed, err = tx.IterationsEnded(task.ID); return err })
		if err == nil {
			if ended {
				return iterationsOutcome(len(iters), failed, logs)
			}
		} else if ctx.Err() == nil {
			r.log.Warn("reading the iterations of a for_each task", "run_id", run.ID, "err", err)
		}
		select {
		case <-ctx.Done():
			// execute says how the task ended (canceled, timed out, shut
			// down); a stop of the run stops the iterations too.
			return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultCanceled,
				StateMessage: msgCanceled, Logs: logs}
		case <-tick.C:
		}
	}
}

// iterationsOutcome is how a for_each task ends once all its total
// iterations have: a success when none failed, else a failure counting
// them.
func iterationsOutcome(total, failed int, logs string) kiln.TaskOutcome {
	if failed == 0 {
		return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess, Logs: logs}
	}
	o := failedOutcome(fmt.Sprintf("%d of %d iterations did not succeed.", failed, total))
	o.Logs = logs
	return o
}

// ParseForEachInputs reads a for_each task's inputs, resolved: a JSON
// array of at most kiln.MaxForEachInputs elements. A reference left
// unresolved, or anything else, is an error that says what is wrong.
func ParseForEachInputs(s string) ([]json.RawMessage, error) {
	if m := referenceRE.FindString(s); m != "" && !strings.HasPrefix(strings.TrimSpace(s), "[") {
		return nil, fmt.Errorf("the reference %s has no value: no task or job parameter set it", m)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal([]byte(s), &elems); err != nil || elems == nil {
		shown := s
		if len(shown) > 80 {
			shown = shown[:80] + "…"
		}
		return nil, fmt.Errorf("%q is not a JSON array", shown)
	}
	if len(elems) > kiln.MaxForEachInputs {
		return nil, fmt.Errorf("they hold %d elements, and a for_each task runs at most %d iterations", len(elems), kiln.MaxForEachInputs)
	}
	return elems, nil
}

// iterationOf is the task run of one iteration: the nested task with
// {{input}} (and {{input.<field>}} for an object) replaced by el.
func iterationOf(n *kiln.NestedTask, el json.RawMessage) *kiln.TaskRun {
	refs := inputRefs(el)
	e := n.Exec
	e.Nested = nil
	if e.Params != nil {
		params := make(map[string]string, len(e.Params))
		for k, v := range e.Params {
			params[k] = substitute(v, refs)
		}
		e.Params = params
	}
	if e.Args != nil {
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = substitute(a, refs)
		}
		e.Args = args
	}
	return &kiln.TaskRun{Definition: n.Definition, Exec: e,
		Timeout: time.Duration(n.TimeoutMS) * time.Millisecond, MaxRetries: n.MaxRetries,
		MinRetryInterval: time.Duration(n.MinRetryIntervalMS) * time.Millisecond, RetryOnTimeout: n.RetryOnTimeout}
}

// inputRefs are the values of {{input}} and, for an object element,
// {{input.<field>}}: a string as itself, anything else as its JSON.
func inputRefs(el json.RawMessage) map[string]string {
	refs := map[string]string{"input": jsonText(el)}
	var obj map[string]json.RawMessage
	if json.Unmarshal(el, &obj) == nil {
		for k, v := range obj {
			refs["input."+k] = jsonText(v)
		}
	}
	return refs
}

// jsonText is a JSON value as a parameter: a string unquoted, anything
// else as compact JSON.
func jsonText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return string(v)
	}
	return buf.String()
}
