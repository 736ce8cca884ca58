package conformance

import (
	"slices"
	"testing"

	"github.com/kiln-dev/kiln"
)

// conditionRun creates a run whose condition task "cond" has two
// branches, "yes" (depends on it with outcome true) and "no" (false), and
// a task "after" joining them; it claims cond and finishes it with
// outcome.
func conditionRun(t *testing.T, s kiln.Store, outcome string) *kiln.Run {
	t.Helper()
	alice := createUsers(t, s, "alice@example.com")[0]
	cond := newTask("cond")
	cond.Exec = kiln.TaskExec{Kind: kiln.ExecCondition, Op: kiln.OpEqualTo, Args: []string{"a", "a"}}
	yes, no := newTask("yes", "cond"), newTask("no", "cond")
	yes.DependsOnOutcome = map[string]string{"cond": kiln.OutcomeTrue}
	no.DependsOnOutcome = map[string]string{"cond": kiln.OutcomeFalse}
	r := newRun(alice.ID, cond, yes, no, newTask("after", "yes", "no"))
	createRuns(t, s, r)
	o := success
	o.Outcome = outcome
	finish(t, s, wantClaim(t, s, "node/1", "cond"), "node/1", o)
	return readRun(t, s, r.ID)
}

var controlTests = []test{
	{"Control/ConditionOutcomePicksTheBranch", func(t *testing.T, s kiln.Store) {
		r := conditionRun(t, s, kiln.OutcomeFalse)
		if want := []string{"cond=TERMINATED/SUCCESS", "yes=TERMINATED/EXCLUDED", "no=QUEUED/", "after=BLOCKED/"}; !slices.Equal(taskStates(r), want) {
			t.Fatalf("after the condition: %v, want %v", taskStates(r), want)
		}
		if got := r.Tasks[0].Outcome; got != kiln.OutcomeFalse {
			t.Errorf("the condition's outcome reads %q, want false", got)
		}
		if got := r.Tasks[2].DependsOnOutcome; got["cond"] != kiln.OutcomeFalse || len(got) != 1 {
			t.Errorf("no's depends_on outcome reads %v", got)
		}
		finish(t, s, wantClaim(t, s, "node/1", "no"), "node/1", success)
		r = readRun(t, s, r.ID)
		// One branch excluded (counts as succeeded), the other succeeded:
		// the join runs with its default run_if.
		if want := []string{"cond=TERMINATED/SUCCESS", "yes=TERMINATED/EXCLUDED", "no=TERMINATED/SUCCESS", "after=QUEUED/"}; !slices.Equal(taskStates(r), want) {
			t.Fatalf("after the branch: %v, want %v", taskStates(r), want)
		}
		var full *kiln.TaskRun
		view(t, s, func(tx kiln.Tx) (err error) { full, err = tx.TaskRun(r.Tasks[0].ID); return err })
		if full.Outcome != kiln.OutcomeFalse || full.Exec.Op != kiln.OpEqualTo || !slices.Equal(full.Exec.Args, []string{"a", "a"}) {
			t.Errorf("TaskRun(cond): outcome %q exec %+v", full.Outcome, full.Exec)
		}
	}},
	{"Control/AllDependenciesExcludedExcludesTheTask", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		cond := newTask("cond")
		cond.Exec = kiln.TaskExec{Kind: kiln.ExecCondition, Op: kiln.OpEqualTo, Args: []string{"a", "b"}}
		yes := newTask("yes", "cond")
		yes.DependsOnOutcome = map[string]string{"cond": kiln.OutcomeTrue}
		after := newTask("after", "yes")
		after.RunIf = kiln.RunIfAllDone
		r := newRun(alice.ID, cond, yes, after)
		createRuns(t, s, r)
		o := success
		o.Outcome = kiln.OutcomeFalse
		finish(t, s, wantClaim(t, s, "node/1", "cond"), "node/1", o)
		r = readRun(t, s, r.ID)
		if want := []string{"cond=TERMINATED/SUCCESS", "yes=TERMINATED/EXCLUDED", "after=TERMINATED/EXCLUDED"}; !slices.Equal(taskStates(r), want) ||
			r.ResultState != kiln.ResultSuccess {
			t.Fatalf("got %s %v, want SUCCESS %v", r.ResultState, taskStates(r), want)
		}
	}},
	{"Control/ChildRunIDIsKeptAndClearedByARepair", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		task := newTask("child")
		task.Exec = kiln.TaskExec{Kind: kiln.ExecRunJob, JobID: 42, Params: map[string]string{"day": "mon"}}
		r := newRun(alice.ID, task)
		createRuns(t, s, r)
		o := failure
		o.ChildRunID = 777
		old := wantClaim(t, s, "node/1", "child")
		finish(t, s, old, "node/1", o)
		r = readRun(t, s, r.ID)
		if got := r.Tasks[0]; got.ChildRunID != 777 || got.Exec.JobID != 42 || got.Exec.Params["day"] != "mon" {
			t.Fatalf("after the attempt: child run %d exec %+v", got.ChildRunID, got.Exec)
		}
		repair(t, s, kiln.RepairSpec{RunID: r.ID, TaskKeys: []string{"child"}})
		r = readRun(t, s, r.ID)
		if got := r.Tasks[0].ChildRunID; got != 0 {
			t.Errorf("the rerun task keeps child run %d", got)
		}
		var replaced *kiln.TaskRun
		view(t, s, func(tx kiln.Tx) (err error) { replaced, err = tx.TaskRun(old.ID); return err })
		if replaced.ChildRunID != 777 {
			t.Errorf("the replaced task run reads child run %d, want 777", replaced.ChildRunID)
		}
	}},
}
