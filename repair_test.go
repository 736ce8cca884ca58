package kiln_test

import (
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// TestRunRepair: a repair reruns only the tasks named, queued or blocked
// by their dependencies, clears the run's end, and the run's final result
// is derived over every task again.
func TestRunRepair(t *testing.T) {
	cases := []struct {
		name   string
		before []step
		rerun  []string
		queued string // states right after the repair
		after  []step // the rerun tasks' outcomes
		want   string // states at the end
	}{
		{"failed task and its skipped dependent", []step{run("a", ok()), run("b", failed()), run("d", ok())}, []string{"b", "c"},
			"QUEUED/ a=TERMINATED/SUCCESS b=QUEUED/ c=BLOCKED/ d=TERMINATED/SUCCESS",
			[]step{run("b", ok()), run("c", ok())},
			"TERMINATED/SUCCESS a=TERMINATED/SUCCESS b=TERMINATED/SUCCESS c=TERMINATED/SUCCESS d=TERMINATED/SUCCESS"},
		{"failing again skips the dependent again", []step{run("a", ok()), run("b", failed()), run("d", ok())}, []string{"b", "c"},
			"QUEUED/ a=TERMINATED/SUCCESS b=QUEUED/ c=BLOCKED/ d=TERMINATED/SUCCESS",
			[]step{run("b", failed())},
			"TERMINATED/FAILED a=TERMINATED/SUCCESS b=TERMINATED/FAILED c=TERMINATED/UPSTREAM_FAILED d=TERMINATED/SUCCESS"},
		{"a root task blocks its rerun dependents", []step{run("a", failed()), run("d", ok())}, []string{"a", "b", "c"},
			"QUEUED/ a=QUEUED/ b=BLOCKED/ c=BLOCKED/ d=TERMINATED/SUCCESS",
			[]step{run("a", ok()), run("b", ok()), run("c", ok())},
			"TERMINATED/SUCCESS a=TERMINATED/SUCCESS b=TERMINATED/SUCCESS c=TERMINATED/SUCCESS d=TERMINATED/SUCCESS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRun(task("a"), task("b", "a"), task("c", "b"), task("d"))
			for _, s := range c.before {
				s(r)
			}
			if r.Active() || r.ResultState != kiln.ResultFailed {
				t.Fatalf("before the repair: %s", states(r))
			}
			at := now0.Add(time.Hour)
			r.Repair(c.rerun, at)
			if got := states(r); got != c.queued {
				t.Errorf("after the repair: %s, want %s", got, c.queued)
			}
			if !r.Ended.IsZero() || !r.Started.IsZero() || r.Stop != "" {
				t.Errorf("the repaired run: ended %v, started %v, stop %q", r.Ended, r.Started, r.Stop)
			}
			for _, tk := range r.Tasks {
				if slices.Contains(c.rerun, tk.TaskKey) && (tk.Error != "" || tk.Attempt != 0 || !tk.Ended.IsZero()) {
					t.Errorf("rerun task %s kept its attempt: %+v", tk.TaskKey, tk)
				}
			}
			for _, s := range c.after {
				s(r)
			}
			if got := states(r); got != c.want {
				t.Errorf("at the end: %s, want %s", got, c.want)
			}
		})
	}
}

// TestRunDependents: the transitive dependents of tasks, in task order,
// and which finished tasks count as not succeeded.
func TestRunDependents(t *testing.T) {
	r := newRun(task("a"), task("b", "a"), task("c", "b"), task("d"), task("e", "d", "c"))
	for _, c := range []struct {
		keys []string
		want []string
	}{
		{[]string{"a"}, []string{"b", "c", "e"}},
		{[]string{"c"}, []string{"e"}},
		{[]string{"d", "b"}, []string{"c", "e"}},
		{[]string{"e"}, nil},
	} {
		if got := r.Dependents(c.keys); !slices.Equal(got, c.want) {
			t.Errorf("Dependents(%v) = %v, want %v", c.keys, got, c.want)
		}
	}
	run("a", ok())(r)
	run("b", failed())(r)
	run("d", ok())(r)
	var unsuccessful []string
	for _, tk := range r.Tasks {
		if tk.Unsuccessful() {
			unsuccessful = append(unsuccessful, tk.TaskKey)
		}
	}
	if want := []string{"b", "c", "e"}; !slices.Equal(unsuccessful, want) {
		t.Errorf("unsuccessful tasks %v, want %v (%s)", unsuccessful, want, states(r))
	}
}
