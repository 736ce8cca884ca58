package conformance

import (
	"slices"
	"testing"

	"github.com/kiln-dev/kiln"
)

// failedRun creates a run a → b → c plus d alone and executes it: a and d
// succeed, b fails, so c is skipped and the run fails.
func failedRun(t *testing.T, s kiln.Store) *kiln.Run {
	t.Helper()
	alice := createUsers(t, s, "alice@example.com")[0]
	r := newRun(alice.ID, newTask("a"), newTask("b", "a"), newTask("c", "b"), newTask("d"))
	createRuns(t, s, r)
	finish(t, s, wantClaim(t, s, "node/1", "a"), "node/1", success)
	finish(t, s, wantClaim(t, s, "node/1", "d"), "node/1", success)
	finish(t, s, wantClaim(t, s, "node/1", "b"), "node/1", failure)
	got := readRun(t, s, r.ID)
	if want := []string{"a=TERMINATED/SUCCESS", "b=TERMINATED/FAILED", "c=TERMINATED/UPSTREAM_FAILED", "d=TERMINATED/SUCCESS"}; !slices.Equal(taskStates(got), want) ||
		got.LifeCycleState != kiln.LifeCycleTerminated || got.ResultState != kiln.ResultFailed {
		t.Fatalf("before the repair: %s/%s %v", got.LifeCycleState, got.ResultState, taskStates(got))
	}
	return got
}

func repair(t *testing.T, s kiln.Store, spec kiln.RepairSpec) *kiln.RunRepair {
	t.Helper()
	var rep *kiln.RunRepair
	update(t, s, func(tx kiln.Tx) (err error) { rep, err = tx.RepairRun(spec); return err })
	return rep
}

func repairs(t *testing.T, s kiln.Store, runID int64) []*kiln.RunRepair {
	t.Helper()
	var out []*kiln.RunRepair
	view(t, s, func(tx kiln.Tx) (err error) { out, err = tx.RunRepairs(runID); return err })
	return out
}

func taskIDs(r *kiln.Run) map[string]int64 {
	out := map[string]int64{}
	for _, t := range r.Tasks {
		out[t.TaskKey] = t.ID
	}
	return out
}

var repairTests = []test{
	{"Repair/RerunTaskSetsItsValuesAfresh", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r := newRun(alice.ID, newTask("a"), newTask("b"))
		createRuns(t, s, r)
		a := wantClaim(t, s, "node/1", "a")
		b := wantClaim(t, s, "node/1", "b")
		for _, task := range []*kiln.TaskRun{a, b} {
			update(t, s, func(tx kiln.Tx) error { return tx.SetTaskValue(task.ID, "node/1", "rows", []byte(`7`)) })
		}
		finish(t, s, a, "node/1", failure)
		finish(t, s, b, "node/1", success)
		rep := repair(t, s, kiln.RepairSpec{RunID: r.ID, TaskKeys: []string{"a"}})
		var kept []byte
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.TaskValue(rep.TaskRunIDs[0], "rows")
			wantCode(t, "TaskValue(rerun task)", err, kiln.ENotFound)
			kept, err = tx.TaskValue(b.ID, "rows")
			return err
		})
		if string(kept) != `7` {
			t.Errorf("the value of a task not rerun: %s", kept)
		}
	}},
	{"Repair/RerunsNamedTasksUnderNewIDsAndKeepsTheOthers", func(t *testing.T, s kiln.Store) {
		before := failedRun(t, s)
		old := taskIDs(before)
		if h := repairs(t, s, before.ID); len(h) != 0 {
			t.Fatalf("history of a run never repaired: %+v", h)
		}
		exec := kiln.TaskExec{Kind: kiln.ExecNotebook, Path: "/Shared/b", Params: map[string]string{"day": "2"}}
		rep := repair(t, s, kiln.RepairSpec{RunID: before.ID, TaskKeys: []string{"b", "c"},
			Exec: map[string]kiln.TaskExec{"b": exec}, Spec: []byte(`{"k":2}`)})
		if rep.ID == 0 || rep.Type != kiln.RepairTypeRepair || len(rep.TaskRunIDs) != 2 {
			t.Fatalf("repair: %+v", rep)
		}
		got := readRun(t, s, before.ID)
		now := taskIDs(got)
		if want := []string{"a=TERMINATED/SUCCESS", "b=QUEUED/", "c=BLOCKED/", "d=TERMINATED/SUCCESS"}; !slices.Equal(taskStates(got), want) {
			t.Errorf("after the repair: %v, want %v", taskStates(got), want)
		}
		if got.LifeCycleState != kiln.LifeCycleQueued || got.ResultState != "" || !got.Ended.IsZero() || !got.Started.IsZero() || string(got.Spec) != `{"k":2}` {
			t.Errorf("run after the repair: %s/%s ended %v spec %s", got.LifeCycleState, got.ResultState, got.Ended, got.Spec)
		}
		if now["a"] != old["a"] || now["d"] != old["d"] || now["b"] == old["b"] || now["c"] == old["c"] ||
			!slices.Equal(rep.TaskRunIDs, []int64{now["b"], now["c"]}) {
			t.Errorf("task ids before %v, after %v, repair %v", old, now, rep.TaskRunIDs)
		}
		if b := got.Tasks[1]; b.Exec.Params["day"] != "2" || b.Attempt != 0 || !b.Started.IsZero() {
			t.Errorf("rerun task b: %+v", b)
		}
		view(t, s, func(tx kiln.Tx) error {
			prev, err := tx.TaskRun(old["b"])
			if err != nil || prev.RunID != before.ID || prev.ResultState != kiln.ResultFailed || prev.Error != failure.Error || prev.Exec.Params["day"] != "1" {
				t.Errorf("replaced task run b: %+v, %v", prev, err)
			}
			cur, err := tx.TaskRun(now["b"])
			if err != nil || cur.Error != "" || cur.Logs != "" || cur.LifeCycleState != kiln.LifeCycleQueued {
				t.Errorf("new task run b: %+v, %v", cur, err)
			}
			return nil
		})
		h := repairs(t, s, before.ID)
		if len(h) != 2 || h[0].Type != kiln.RepairTypeOriginal || h[0].ID != 0 || h[1].ID != rep.ID ||
			h[0].LifeCycleState != kiln.LifeCycleTerminated || h[0].ResultState != kiln.ResultFailed || !h[0].Ended.Equal(before.Ended) ||
			!h[0].Started.Equal(before.Created) || len(h[0].TaskRunIDs) != 4 || h[0].TaskRunIDs[1] != old["b"] ||
			h[1].LifeCycleState != kiln.LifeCycleQueued || !h[1].Ended.IsZero() || !slices.Equal(h[1].TaskRunIDs, rep.TaskRunIDs) {
			t.Fatalf("history: %+v", h)
		}
		// The repair runs to the end; its result covers every task.
		finish(t, s, wantClaim(t, s, "node/1", "b"), "node/1", success)
		finish(t, s, wantClaim(t, s, "node/1", "c"), "node/1", success)
		got = readRun(t, s, before.ID)
		if got.LifeCycleState != kiln.LifeCycleTerminated || got.ResultState != kiln.ResultSuccess || got.Ended.IsZero() || got.Started.IsZero() {
			t.Errorf("after the repaired tasks: %s/%s", got.LifeCycleState, got.ResultState)
		}
		h = repairs(t, s, before.ID)
		if h[1].LifeCycleState != kiln.LifeCycleTerminated || h[1].ResultState != kiln.ResultSuccess || !h[1].Ended.Equal(got.Ended) {
			t.Errorf("current item: %+v", h[1])
		}
	}},
	{"Repair/SecondRepairClosesTheFirst", func(t *testing.T, s kiln.Store) {
		r := failedRun(t, s)
		first := repair(t, s, kiln.RepairSpec{RunID: r.ID, TaskKeys: []string{"b", "c"}})
		finish(t, s, wantClaim(t, s, "node/1", "b"), "node/1", failure)
		failedAgain := readRun(t, s, r.ID)
		if failedAgain.ResultState != kiln.ResultFailed || failedAgain.Tasks[2].ResultState != kiln.ResultUpstream {
			t.Fatalf("first repair: %s %v", failedAgain.ResultState, taskStates(failedAgain))
		}
		second := repair(t, s, kiln.RepairSpec{RunID: r.ID, TaskKeys: []string{"b", "c"}})
		if second.ID == first.ID {
			t.Fatalf("repair ids %d, %d", first.ID, second.ID)
		}
		h := repairs(t, s, r.ID)
		if len(h) != 3 || h[1].ID != first.ID || h[2].ID != second.ID || h[1].ResultState != kiln.ResultFailed ||
			!h[1].Ended.Equal(failedAgain.Ended) || h[2].LifeCycleState != kiln.LifeCycleQueued {
			t.Fatalf("history: %+v %+v %+v", h[0], h[1], h[2])
		}
		// Each replaced attempt stays readable; deleting the run removes them.
		view(t, s, func(tx kiln.Tx) error {
			for _, id := range append(slices.Clone(h[0].TaskRunIDs), h[1].TaskRunIDs...) {
				if _, err := tx.TaskRun(id); err != nil {
					t.Errorf("TaskRun(%d): %v", id, err)
				}
			}
			return nil
		})
		update(t, s, func(tx kiln.Tx) error { _, err := tx.StopRun(r.ID, kiln.ResultCanceled, "stop"); return err })
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteRun(r.ID) })
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.TaskRun(h[0].TaskRunIDs[1])
			wantCode(t, "TaskRun(replaced, run deleted)", err, kiln.ENotFound)
			_, err = tx.RunRepairs(r.ID)
			wantCode(t, "RunRepairs(run deleted)", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Repair/RefusesActiveRunsAndUnknownTasks", func(t *testing.T, s kiln.Store) {
		r := failedRun(t, s)
		active := newRun(r.OwnerID, newTask("x"))
		createRuns(t, s, active)
		for _, c := range []struct {
			name string
			spec kiln.RepairSpec
			want kiln.Code
		}{
			{"active run", kiln.RepairSpec{RunID: active.ID, TaskKeys: []string{"x"}}, kiln.EInvalid},
			{"unknown task", kiln.RepairSpec{RunID: r.ID, TaskKeys: []string{"b", "nope"}}, kiln.EInvalid},
			{"no task", kiln.RepairSpec{RunID: r.ID}, kiln.EInvalid},
			{"missing run", kiln.RepairSpec{RunID: 12345, TaskKeys: []string{"b"}}, kiln.ENotFound},
		} {
			err := s.Update(ctx(t), func(tx kiln.Tx) error { _, err := tx.RepairRun(c.spec); return err })
			wantCode(t, "RepairRun("+c.name+")", err, c.want)
		}
		// The refusals changed nothing.
		if got := readRun(t, s, r.ID); got.ResultState != kiln.ResultFailed || len(repairs(t, s, r.ID)) != 0 {
			t.Errorf("after refusals: %s, history %v", got.ResultState, repairs(t, s, r.ID))
		}
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.RunRepairs(12345)
			wantCode(t, "RunRepairs(missing run)", err, kiln.ENotFound)
			return nil
		})
	}},
}
