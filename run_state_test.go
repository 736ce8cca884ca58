package kiln_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

var now0 = time.UnixMilli(1_750_000_000_000).UTC()

// task returns an unsaved task run.
func task(key string, deps ...string) *kiln.TaskRun {
	return &kiln.TaskRun{ID: int64(len(key)*1000 + int(key[0])), TaskKey: key, DependsOn: deps}
}

// newRun returns an initialised run of the given tasks.
func newRun(tasks ...*kiln.TaskRun) *kiln.Run {
	r := &kiln.Run{ID: 1, Tasks: tasks}
	for i, t := range tasks {
		t.Position, t.RunID = i, r.ID
	}
	r.Init(now0)
	return r
}

func states(r *kiln.Run) string {
	var b strings.Builder
	b.WriteString(r.LifeCycleState + "/" + r.ResultState)
	for _, t := range r.Tasks {
		b.WriteString(" " + t.TaskKey + "=" + t.LifeCycleState + "/" + t.ResultState)
	}
	return b.String()
}

func ok() kiln.TaskOutcome {
	return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess}
}

func failed() kiln.TaskOutcome {
	return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultFailed, StateMessage: kiln.MsgTaskFailed, Error: "boom"}
}

func timedOut() kiln.TaskOutcome {
	return kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultTimedOut, StateMessage: "Task timed out."}
}

// step is one event applied to a run in a scenario.
type step func(r *kiln.Run)

func run(key string, o kiln.TaskOutcome) step {
	return func(r *kiln.Run) {
		for _, t := range r.Tasks {
			if t.TaskKey == key {
				r.Claim(t, "node/1", now0.Add(time.Minute), now0)
				r.Finish(t, o, now0.Add(time.Second))
				return
			}
		}
		panic("no task " + key)
	}
}

func claim(key string) step {
	return func(r *kiln.Run) {
		for _, t := range r.Tasks {
			if t.TaskKey == key {
				r.Claim(t, "node/1", now0.Add(time.Minute), now0)
				return
			}
		}
		panic("no task " + key)
	}
}

func TestRunLifeCycle(t *testing.T) {
	for _, c := range []struct {
		name  string
		tasks func() []*kiln.TaskRun
		steps []step
		want  string
	}{
		{"NewRunIsQueued", func() []*kiln.TaskRun { return []*kiln.TaskRun{task("a"), task("b", "a")} },
			nil, "QUEUED/ a=QUEUED/ b=BLOCKED/"},
		{"ClaimStartsTheRun", func() []*kiln.TaskRun { return []*kiln.TaskRun{task("a"), task("b", "a")} },
			[]step{claim("a")}, "RUNNING/ a=RUNNING/ b=BLOCKED/"},
		{"SuccessUnblocksDependents", func() []*kiln.TaskRun { return []*kiln.TaskRun{task("a"), task("b", "a")} },
			[]step{run("a", ok())}, "RUNNING/ a=TERMINATED/SUCCESS b=QUEUED/"},
		{"AllSucceed", func() []*kiln.TaskRun { return []*kiln.TaskRun{task("a"), task("b", "a")} },
			[]step{run("a", ok()), run("b", ok())}, "TERMINATED/SUCCESS a=TERMINATED/SUCCESS b=TERMINATED/SUCCESS"},
		{"FailureSkipsDownstreamTransitively", func() []*kiln.TaskRun {
			return []*kiln.TaskRun{task("a"), task("b", "a"), task("c", "b"), task("d")}
		}, []step{run("a", failed()), run("d", ok())},
			"TERMINATED/FAILED a=TERMINATED/FAILED b=TERMINATED/UPSTREAM_FAILED c=TERMINATED/UPSTREAM_FAILED d=TERMINATED/SUCCESS"},
		{"AllDoneRunsAfterFailure", func() []*kiln.TaskRun {
			b := task("b", "a")
			b.RunIf = kiln.RunIfAllDone
			return []*kiln.TaskRun{task("a"), b}
		}, []step{run("a", failed())}, "RUNNING/ a=TERMINATED/FAILED b=QUEUED/"},
		{"AtLeastOneFailedExcludedWhenAllSucceed", func() []*kiln.TaskRun {
			b := task("b", "a")
			b.RunIf = kiln.RunIfAtLeastOneFailed
			return []*kiln.TaskRun{task("a"), b}
		}, []step{run("a", ok())}, "TERMINATED/SUCCESS a=TERMINATED/SUCCESS b=TERMINATED/EXCLUDED"},
		{"SingleTaskTimeout", func() []*kiln.TaskRun { return []*kiln.TaskRun{task("a")} },
			[]step{run("a", timedOut())}, "TERMINATED/TIMEDOUT a=TERMINATED/TIMEDOUT"},
		{"RetryThenSucceed", func() []*kiln.TaskRun {
			a := task("a")
			a.MaxRetries = 2
			return []*kiln.TaskRun{a}
		}, []step{run("a", failed()), run("a", failed()), run("a", ok())}, "TERMINATED/SUCCESS a=TERMINATED/SUCCESS"},
		{"RetriesExhausted", func() []*kiln.TaskRun {
			a := task("a")
			a.MaxRetries = 1
			return []*kiln.TaskRun{a}
		}, []step{run("a", failed()), run("a", failed())}, "TERMINATED/FAILED a=TERMINATED/FAILED"},
		{"WaitingForRetry", func() []*kiln.TaskRun {
			a := task("a")
			a.MaxRetries = 1
			return []*kiln.TaskRun{a}
		}, []step{run("a", failed())}, "RUNNING/ a=WAITING_FOR_RETRY/"},
		{"TimeoutNotRetriedByDefault", func() []*kiln.TaskRun {
			a := task("a")
			a.MaxRetries = 3
			return []*kiln.TaskRun{a}
		}, []step{run("a", timedOut())}, "TERMINATED/TIMEDOUT a=TERMINATED/TIMEDOUT"},
		{"TimeoutRetriedWhenAsked", func() []*kiln.TaskRun {
			a := task("a")
			a.MaxRetries, a.RetryOnTimeout = 3, true
			return []*kiln.TaskRun{a}
		}, []step{run("a", timedOut())}, "RUNNING/ a=WAITING_FOR_RETRY/"},
		{"CancelQueuedRun", func() []*kiln.TaskRun { return []*kiln.TaskRun{task("a"), task("b", "a")} },
			[]step{func(r *kiln.Run) { r.Halt(kiln.ResultCanceled, "canceled", now0) }},
			"TERMINATED/CANCELED a=TERMINATED/CANCELED b=TERMINATED/CANCELED"},
		{"CancelRunningRunWaitsForTheTask", func() []*kiln.TaskRun { return []*kiln.TaskRun{task("a"), task("b", "a")} },
			[]step{claim("a"), func(r *kiln.Run) { r.Halt(kiln.ResultCanceled, "canceled", now0) }},
			"TERMINATING/ a=RUNNING/ b=TERMINATED/CANCELED"},
		{"CanceledTaskEndsCanceledWithoutRetry", func() []*kiln.TaskRun {
			a := task("a")
			a.MaxRetries = 5
			return []*kiln.TaskRun{a}
		}, []step{claim("a"), func(r *kiln.Run) {
			r.Halt(kiln.ResultCanceled, "canceled", now0)
			r.Finish(r.Tasks[0], failed(), now0)
		}}, "TERMINATED/CANCELED a=TERMINATED/CANCELED"},
		{"LostLeaseIsInternalError", func() []*kiln.TaskRun { return []*kiln.TaskRun{task("a")} },
			[]step{claim("a"), func(r *kiln.Run) { r.LoseLease(r.Tasks[0], now0) }},
			"INTERNAL_ERROR/FAILED a=INTERNAL_ERROR/FAILED"},
		{"LostLeaseRetried", func() []*kiln.TaskRun {
			a := task("a")
			a.MaxRetries = 1
			return []*kiln.TaskRun{a}
		}, []step{claim("a"), func(r *kiln.Run) { r.LoseLease(r.Tasks[0], now0) }},
			"RUNNING/ a=WAITING_FOR_RETRY/"},
		{"RunTimeoutStopsEverything", func() []*kiln.TaskRun {
			a := task("a")
			a.MaxRetries, a.RetryOnTimeout = 3, true
			return []*kiln.TaskRun{a, task("b"), task("c", "a")}
		}, []step{claim("a"), claim("b"), func(r *kiln.Run) {
			o := timedOut()
			o.RunTimedOut = true
			r.Finish(r.Tasks[0], o, now0)
		}}, "TERMINATING/ a=TERMINATED/TIMEDOUT b=RUNNING/ c=TERMINATED/TIMEDOUT"},
		{"OnlyExcludesTheOthers", func() []*kiln.TaskRun {
			a := task("a")
			a.ResultState = kiln.ResultExcluded
			return []*kiln.TaskRun{a, task("b", "a")}
		}, nil, "QUEUED/ a=TERMINATED/EXCLUDED b=QUEUED/"},
		{"AllExcludedSucceeds", func() []*kiln.TaskRun {
			a := task("a")
			a.ResultState = kiln.ResultExcluded
			return []*kiln.TaskRun{a}
		}, nil, "TERMINATED/SUCCESS a=TERMINATED/EXCLUDED"},
		{"StopOfFinishedRunIsNoOp", func() []*kiln.TaskRun { return []*kiln.TaskRun{task("a")} },
			[]step{run("a", ok()), func(r *kiln.Run) {
				if r.Halt(kiln.ResultCanceled, "x", now0) {
					panic("stopped a finished run")
				}
			}}, "TERMINATED/SUCCESS a=TERMINATED/SUCCESS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRun(c.tasks()...)
			for _, s := range c.steps {
				s(r)
			}
			if got := states(r); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestRunMessages(t *testing.T) {
	r := newRun(task("a"), task("b", "a"))
	run("a", failed())(r)
	want := "Task a failed with message: " + kiln.MsgTaskFailed + " This caused all downstream tasks to get skipped."
	if r.StateMessage != want {
		t.Errorf("multi-task message: got %q, want %q", r.StateMessage, want)
	}
	single := newRun(task("a"))
	run("a", failed())(single)
	if single.StateMessage != kiln.MsgTaskFailed {
		t.Errorf("single-task message: got %q, want the task's", single.StateMessage)
	}
	if single.Tasks[0].Error != "boom" || single.Ended.IsZero() || single.Started.IsZero() {
		t.Errorf("outcome not recorded: %+v", single.Tasks[0])
	}
}

func TestRetryKeepsAttemptAndInterval(t *testing.T) {
	a := task("a")
	a.MaxRetries, a.MinRetryInterval = 2, 5*time.Second
	r := newRun(a)
	run("a", failed())(r)
	if a.Attempt != 1 || !a.ReadyAt.Equal(now0.Add(time.Second+5*time.Second)) {
		t.Errorf("after one failure: attempt %d, ready at %v", a.Attempt, a.ReadyAt)
	}
	run("a", failed())(r)
	run("a", ok())(r)
	if a.Attempt != 2 || a.ResultState != kiln.ResultSuccess || a.Error != "" {
		t.Errorf("final attempt: %+v", a)
	}
}
