package conformance

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// forEachRun creates a run whose for_each task "loop" (concurrency conc)
// is followed by "after", claims loop and adds n iterations.
func forEachRun(t *testing.T, s kiln.Store, conc, n int) (*kiln.Run, *kiln.TaskRun, []*kiln.TaskRun) {
	t.Helper()
	alice := createUsers(t, s, "alice@example.com")[0]
	loop := newTask("loop")
	loop.Exec = kiln.TaskExec{Kind: kiln.ExecForEach, Inputs: "[1]", Concurrency: conc,
		Nested: &kiln.NestedTask{Exec: kiln.TaskExec{Kind: kiln.ExecNotebook, Path: "/Shared/it"}}}
	r := newRun(alice.ID, loop, newTask("after", "loop"))
	createRuns(t, s, r)
	parent := wantClaim(t, s, "node/1", "loop")
	iters := make([]*kiln.TaskRun, n)
	for i := range iters {
		iters[i] = &kiln.TaskRun{Definition: []byte(`{"task_key":"it"}`),
			Exec:       kiln.TaskExec{Kind: kiln.ExecNotebook, Path: "/Shared/it", Params: map[string]string{"v": strings.Repeat("x", i+1)}},
			MaxRetries: 1}
	}
	var got []*kiln.TaskRun
	update(t, s, func(tx kiln.Tx) (err error) { got, err = tx.AddIterations(parent.ID, "node/1", iters); return err })
	return readRun(t, s, r.ID), parent, got
}

var iterationTests = []test{
	{"Iterations/QueuedUpToTheConcurrency", func(t *testing.T, s kiln.Store) {
		r, parent, iters := forEachRun(t, s, 2, 3)
		if len(iters) != 3 || iters[0].ParentID != parent.ID || iters[2].Iteration != 2 || iters[1].TaskKey != "loop[1]" {
			t.Fatalf("AddIterations returned %+v", iters)
		}
		want := []string{"loop=RUNNING/", "after=BLOCKED/", "loop[0]=QUEUED/", "loop[1]=QUEUED/", "loop[2]=PENDING/"}
		if !slices.Equal(taskStates(r), want) {
			t.Fatalf("after AddIterations: %v, want %v", taskStates(r), want)
		}
		if got := r.Iterations(parent.ID); len(got) != 3 || got[2].Exec.Params["v"] != "xxx" || got[2].Iteration != 2 || got[2].MaxRetries != 1 {
			t.Errorf("Iterations read back: %+v", got)
		}
		// A second call (a later attempt of the parent) gets the same ones.
		var again []*kiln.TaskRun
		update(t, s, func(tx kiln.Tx) (err error) {
			again, err = tx.AddIterations(parent.ID, "node/1", []*kiln.TaskRun{newTask("x")})
			return err
		})
		if len(again) != 3 || again[0].ID != iters[0].ID {
			t.Errorf("AddIterations again: %d iterations", len(again))
		}
		err := s.Update(ctx(t), func(tx kiln.Tx) error { _, err := tx.AddIterations(parent.ID, "node/2", nil); return err })
		wantCode(t, "AddIterations by another owner", err, kiln.ENotFound)

		finish(t, s, wantClaim(t, s, "node/1", "loop[0]"), "node/1", success)
		r = readRun(t, s, r.ID)
		if want := []string{"loop=RUNNING/", "after=BLOCKED/", "loop[0]=TERMINATED/SUCCESS", "loop[1]=QUEUED/", "loop[2]=QUEUED/"}; !slices.Equal(taskStates(r), want) {
			t.Fatalf("after one iteration: %v, want %v", taskStates(r), want)
		}
		finish(t, s, wantClaim(t, s, "node/1", "loop[1]"), "node/1", success)
		finish(t, s, wantClaim(t, s, "node/1", "loop[2]"), "node/1", success)
		finish(t, s, parent, "node/1", success)
		finish(t, s, wantClaim(t, s, "node/1", "after"), "node/1", success)
		if r = readRun(t, s, r.ID); r.ResultState != kiln.ResultSuccess || len(r.JobTasks()) != 2 {
			t.Errorf("run: %s, %d job tasks", r.ResultState, len(r.JobTasks()))
		}
	}},
	{"Iterations/StopEndsThemAndAFailedOneDecidesNothing", func(t *testing.T, s kiln.Store) {
		r, parent, _ := forEachRun(t, s, 1, 2)
		it := wantClaim(t, s, "node/1", "loop[0]")
		update(t, s, func(tx kiln.Tx) error { _, err := tx.StopRun(r.ID, kiln.ResultCanceled, "stop"); return err })
		finish(t, s, it, "node/1", failure)
		finish(t, s, parent, "node/1", kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultCanceled})
		r = readRun(t, s, r.ID)
		want := []string{"loop=TERMINATED/CANCELED", "after=TERMINATED/CANCELED", "loop[0]=TERMINATED/CANCELED", "loop[1]=TERMINATED/CANCELED"}
		if !slices.Equal(taskStates(r), want) || r.ResultState != kiln.ResultCanceled {
			t.Fatalf("after stop: %s %v, want %v", r.ResultState, taskStates(r), want)
		}
	}},
	{"Iterations/PendingOnesEndWithTheirParent", func(t *testing.T, s kiln.Store) {
		r, parent, _ := forEachRun(t, s, 1, 2)
		finish(t, s, parent, "node/1", failure)
		r = readRun(t, s, r.ID)
		want := []string{"loop=TERMINATED/FAILED", "after=TERMINATED/UPSTREAM_FAILED", "loop[0]=TERMINATED/CANCELED", "loop[1]=TERMINATED/CANCELED"}
		if got := taskStates(r); !slices.Equal(got, want) {
			t.Fatalf("after the parent ended: %v, want %v", got, want)
		}
		if r.ResultState != kiln.ResultFailed || !strings.HasPrefix(r.StateMessage, "Task loop failed") {
			t.Errorf("run: %s %q", r.ResultState, r.StateMessage)
		}
	}},
	{"Iterations/ALongLoopEndsEveryOne", func(t *testing.T, s kiln.Store) {
		// More iterations than the store reads at a time while claiming
		// and finishing them (kiln.MaxForEachConcurrency pending ones).
		const n, conc = 250, 3
		r, parent, iters := forEachRun(t, s, conc, n)
		type endedCount struct {
			ended  bool
			failed int
		}
		ended := func(parentID int64) endedCount {
			var c endedCount
			view(t, s, func(tx kiln.Tx) (err error) { c.ended, c.failed, err = tx.IterationsEnded(parentID); return err })
			return c
		}
		if c := ended(parent.ID); c != (endedCount{}) {
			t.Fatalf("IterationsEnded before any ran: %+v", c)
		}
		for step := 0; ; step++ {
			_, task := claim(t, s, "node/1")
			if task == nil {
				break
			}
			if task.ParentID != parent.ID {
				t.Fatalf("step %d claimed %s", step, task.TaskKey)
			}
			o := success
			if task.Iteration%50 == 7 {
				o = failure // and again on its retry
			}
			finish(t, s, task, "node/1", o)
			if c := ended(parent.ID); c != (endedCount{}) && step < n+n/50-1 {
				t.Fatalf("step %d: IterationsEnded %+v with iterations left", step, c)
			}
			if step%40 == 0 {
				started := 0
				for _, it := range readRun(t, s, r.ID).Iterations(parent.ID) {
					if !it.Done() && it.LifeCycleState != kiln.LifeCyclePending {
						started++
					}
				}
				if started > conc {
					t.Fatalf("step %d: %d iterations queued or running, concurrency %d", step, started, conc)
				}
			}
		}
		if c := ended(parent.ID); c != (endedCount{true, n / 50}) {
			t.Errorf("IterationsEnded at the end: %+v, want %d failed", c, n/50)
		}
		for i, it := range readRun(t, s, r.ID).Iterations(parent.ID) {
			want := kiln.ResultSuccess
			if i%50 == 7 {
				want = kiln.ResultFailed
			}
			if it.ID != iters[i].ID || it.LifeCycleState != kiln.LifeCycleTerminated || it.ResultState != want {
				t.Fatalf("iteration %d: %s/%s, want TERMINATED/%s", i, it.LifeCycleState, it.ResultState, want)
			}
		}
		if c := ended(parent.ID + 1000); c != (endedCount{ended: true}) {
			t.Errorf("IterationsEnded of no for_each task: %+v", c)
		}
	}},
	{"Iterations/AParentEndingMidLoopEndsEveryOneLeft", func(t *testing.T, s kiln.Store) {
		r, parent, _ := forEachRun(t, s, 2, 250)
		for i := range 5 {
			finish(t, s, wantClaim(t, s, "node/1", fmt.Sprintf("loop[%d]", i)), "node/1", success)
		}
		running := wantClaim(t, s, "node/1", "loop[5]")
		finish(t, s, parent, "node/1", failure)
		finish(t, s, running, "node/1", success) // a running one ends on its own
		r = readRun(t, s, r.ID)
		ended := map[string]int{}
		for _, it := range r.Iterations(parent.ID) {
			ended[it.LifeCycleState+"/"+it.ResultState]++
		}
		if want := map[string]int{"TERMINATED/SUCCESS": 6, "TERMINATED/CANCELED": 244}; !maps.Equal(ended, want) {
			t.Errorf("iterations after their parent failed mid-loop: %v, want %v", ended, want)
		}
		if r.Active() || r.ResultState != kiln.ResultFailed {
			t.Errorf("run: %s/%s", r.LifeCycleState, r.ResultState)
		}
	}},
	{"Iterations/RepairMakesThemAfresh", func(t *testing.T, s kiln.Store) {
		r, parent, iters := forEachRun(t, s, 2, 1)
		finish(t, s, wantClaim(t, s, "node/1", "loop[0]"), "node/1", failure)
		finish(t, s, wantClaim(t, s, "node/1", "loop[0]"), "node/1", failure) // its retry
		finish(t, s, parent, "node/1", failure)
		update(t, s, func(tx kiln.Tx) error {
			_, err := tx.RepairRun(kiln.RepairSpec{RunID: r.ID, TaskKeys: []string{"loop", "after"}})
			return err
		})
		r = readRun(t, s, r.ID)
		if want := []string{"loop=QUEUED/", "after=BLOCKED/"}; !slices.Equal(taskStates(r), want) {
			t.Fatalf("after the repair: %v, want %v", taskStates(r), want)
		}
		var old *kiln.TaskRun
		view(t, s, func(tx kiln.Tx) (err error) { old, err = tx.TaskRun(iters[0].ID); return err })
		if old.ParentID != parent.ID || old.ResultState != kiln.ResultFailed {
			t.Errorf("the replaced iteration reads %+v", old)
		}
		err := s.Update(ctx(t), func(tx kiln.Tx) error {
			_, err := tx.RepairRun(kiln.RepairSpec{RunID: r.ID, TaskKeys: []string{"loop[0]"}})
			return err
		})
		wantCode(t, "RepairRun of an iteration key", err, kiln.EInvalid)
	}},
	{"Attempts/EachFailedAttemptKeepsItsOutputs", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		task := newTask("flaky")
		task.MaxRetries = 2
		r := newRun(alice.ID, task, newTask("other", "flaky"))
		createRuns(t, s, r)
		for i := range 2 {
			got := wantClaim(t, s, "node/1", "flaky")
			o := failure
			o.Logs, o.Error = "log "+string(rune('0'+i)), "error "+string(rune('0'+i))
			finish(t, s, got, "node/1", o)
		}
		// The third attempt is lost with its executor.
		wantClaim(t, s, "node/1", "flaky")
		update(t, s, func(tx kiln.Tx) error {
			_, err := tx.SweepRuns(kiln.LeaseSweep{Now: tx.Now().Add(2 * time.Minute)})
			return err
		})
		var earlier []*kiln.TaskRun
		view(t, s, func(tx kiln.Tx) (err error) { earlier, err = tx.EarlierAttempts(r.ID); return err })
		if len(earlier) != 2 {
			t.Fatalf("EarlierAttempts: %d, want 2", len(earlier))
		}
		live := readRun(t, s, r.ID).Tasks[0]
		if live.Attempt != 2 || live.LifeCycleState != kiln.LifeCycleInternalErr {
			t.Errorf("the live task: attempt %d %s", live.Attempt, live.LifeCycleState)
		}
		for i, a := range earlier {
			if a.Attempt != i || a.AttemptOf != live.ID || a.ID == live.ID || a.TaskKey != "flaky" ||
				a.LifeCycleState != kiln.LifeCycleTerminated || a.ResultState != kiln.ResultFailed || a.Started.IsZero() || a.Ended.IsZero() {
				t.Errorf("attempt %d: %+v", i, a)
			}
			var full *kiln.TaskRun
			view(t, s, func(tx kiln.Tx) (err error) { full, err = tx.TaskRun(a.ID); return err })
			if want := "log " + string(rune('0'+i)); full.Logs != want || full.Error != "error "+string(rune('0'+i)) || full.AttemptOf != live.ID {
				t.Errorf("TaskRun(attempt %d): logs %q error %q attempt_of %d", i, full.Logs, full.Error, full.AttemptOf)
			}
		}
		var none []*kiln.TaskRun
		view(t, s, func(tx kiln.Tx) (err error) { none, err = tx.EarlierAttempts(r.ID + 1); return err })
		if len(none) != 0 {
			t.Errorf("EarlierAttempts of no run: %v", none)
		}
		// Retention prunes the earlier attempts with their run.
		var pruned []int64
		update(t, s, func(tx kiln.Tx) (err error) { pruned, err = tx.PruneRuns(tx.Now().Add(time.Hour), 10); return err })
		if !slices.Contains(pruned, r.ID) {
			t.Fatalf("PruneRuns: %v, want run %d", pruned, r.ID)
		}
		err := s.View(ctx(t), func(tx kiln.Tx) error { _, err := tx.TaskRun(earlier[0].ID); return err })
		wantCode(t, "TaskRun of a pruned run's earlier attempt", err, kiln.ENotFound)
	}},
}
