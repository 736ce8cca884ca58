package conformance

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// claim claims the next task as owner, with a lease of a minute.
func claim(t *testing.T, s kiln.Store, owner string) (*kiln.Run, *kiln.TaskRun) {
	t.Helper()
	var r *kiln.Run
	var task *kiln.TaskRun
	update(t, s, func(tx kiln.Tx) (err error) {
		r, task, err = tx.ClaimTask(kiln.Claim{Owner: owner, LeaseUntil: tx.Now().Add(time.Minute)})
		return err
	})
	return r, task
}

// wantClaim claims and checks the task claimed has key want ("" for none).
func wantClaim(t *testing.T, s kiln.Store, owner, want string) *kiln.TaskRun {
	t.Helper()
	_, task := claim(t, s, owner)
	got := ""
	if task != nil {
		got = task.TaskKey
	}
	if got != want {
		t.Fatalf("claim: got task %q, want %q", got, want)
	}
	return task
}

func finish(t *testing.T, s kiln.Store, task *kiln.TaskRun, owner string, o kiln.TaskOutcome) {
	t.Helper()
	update(t, s, func(tx kiln.Tx) error { return tx.FinishTask(task.ID, owner, o) })
}

var success = kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess}

var failure = kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultFailed,
	StateMessage: kiln.MsgTaskFailed, Error: "ZeroDivisionError: division by zero", ErrorTrace: "Traceback …"}

var queueTests = []test{
	{"Queue/ClaimServesOldestRunFirst", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r1, r2 := newRun(alice.ID, newTask("first")), newRun(alice.ID, newTask("second"))
		createRuns(t, s, r1, r2)
		r, task := claim(t, s, "node/1")
		if task == nil || task.TaskKey != "first" || r.ID != r1.ID {
			t.Fatalf("first claim: %+v", task)
		}
		if task.LifeCycleState != kiln.LifeCycleRunning || task.LeaseOwner != "node/1" || task.LeaseUntil.IsZero() ||
			task.Started.IsZero() || r.LifeCycleState != kiln.LifeCycleRunning || r.Started.IsZero() {
			t.Errorf("claimed: run %+v task %+v", r, task)
		}
		if got := readRun(t, s, r1.ID); got.LifeCycleState != kiln.LifeCycleRunning || got.Tasks[0].LeaseOwner != "node/1" {
			t.Errorf("stored after claim: %+v %+v", got, got.Tasks[0])
		}
		wantClaim(t, s, "node/1", "second")
		wantClaim(t, s, "node/1", "")
	}},
	{"Queue/ClaimWaitsForDependencies", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r := newRun(alice.ID, newTask("a"), newTask("b", "a"))
		createRuns(t, s, r)
		a := wantClaim(t, s, "node/1", "a")
		wantClaim(t, s, "node/1", "")
		finish(t, s, a, "node/1", success)
		b := wantClaim(t, s, "node/1", "b")
		finish(t, s, b, "node/1", success)
		got := readRun(t, s, r.ID)
		if got.LifeCycleState != kiln.LifeCycleTerminated || got.ResultState != kiln.ResultSuccess || got.Ended.IsZero() {
			t.Errorf("finished run: %+v", got)
		}
	}},
	{"Queue/FailedDependencySkipsDownstream", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r := newRun(alice.ID, newTask("a"), newTask("b", "a"))
		createRuns(t, s, r)
		finish(t, s, wantClaim(t, s, "node/1", "a"), "node/1", failure)
		wantClaim(t, s, "node/1", "")
		got := readRun(t, s, r.ID)
		if want := []string{"a=TERMINATED/FAILED", "b=TERMINATED/UPSTREAM_FAILED"}; !slices.Equal(taskStates(got), want) ||
			got.ResultState != kiln.ResultFailed {
			t.Errorf("run %s/%s tasks %v, want FAILED with %v", got.LifeCycleState, got.ResultState, taskStates(got), want)
		}
	}},
	{"Queue/FinishStoresOutputsReadByTaskRun", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r := newRun(alice.ID, newTask("a"))
		createRuns(t, s, r)
		task := wantClaim(t, s, "node/1", "a")
		o := failure
		o.Result, o.Truncated, o.Logs, o.LogsTruncated = "partial", true, "line 1\nline 2\n", true
		finish(t, s, task, "node/1", o)
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.TaskRun(task.ID)
			if err != nil {
				return err
			}
			if got.Result != "partial" || !got.Truncated || got.Error != o.Error || got.ErrorTrace != o.ErrorTrace ||
				got.Logs != o.Logs || !got.LogsTruncated || got.ResultState != kiln.ResultFailed ||
				got.StateMessage != kiln.MsgTaskFailed || got.Ended.IsZero() || got.LeaseOwner != "" {
				t.Errorf("TaskRun after finish: %+v", got)
			}
			return nil
		})
	}},
	{"Queue/RecordTaskLogsWhileRunning", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		createRuns(t, s, newRun(alice.ID, newTask("a")))
		task := wantClaim(t, s, "node/1", "a")
		logs := func() (string, bool) {
			var got *kiln.TaskRun
			view(t, s, func(tx kiln.Tx) (err error) { got, err = tx.TaskRun(task.ID); return err })
			return got.Logs, got.LogsTruncated
		}
		for _, step := range []struct {
			logs string
			cut  bool
		}{{"line 1\n", false}, {"line 1\nline 2\n", true}} {
			update(t, s, func(tx kiln.Tx) error { return tx.RecordTaskLogs(task.ID, "node/1", step.logs, step.cut) })
			if got, cut := logs(); got != step.logs || cut != step.cut {
				t.Errorf("logs while running: got %q (cut %v), want %q (cut %v)", got, cut, step.logs, step.cut)
			}
		}
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.RecordTaskLogs(task.ID, "node/2", "stolen", false) })
		wantCode(t, "RecordTaskLogs(other owner)", err, kiln.ENotFound)
		finish(t, s, task, "node/1", success)
		err = s.Update(ctx(t), func(tx kiln.Tx) error { return tx.RecordTaskLogs(task.ID, "node/1", "late", false) })
		wantCode(t, "RecordTaskLogs(finished)", err, kiln.ENotFound)
		if got, _ := logs(); got == "stolen" || got == "late" {
			t.Errorf("logs after refused writes: %q", got)
		}
	}},
	{"Queue/TaskValues", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		createRuns(t, s, newRun(alice.ID, newTask("a")))
		task := wantClaim(t, s, "node/1", "a")
		get := func(name string) ([]byte, error) {
			var v []byte
			err := s.View(ctx(t), func(tx kiln.Tx) (err error) { v, err = tx.TaskValue(task.ID, name); return err })
			return v, err
		}
		set := func(owner, name, value string) error {
			return s.Update(ctx(t), func(tx kiln.Tx) error { return tx.SetTaskValue(task.ID, owner, name, []byte(value)) })
		}
		_, err := get("rows")
		wantCode(t, "TaskValue(unset)", err, kiln.ENotFound)
		for _, v := range []string{`1`, `{"rows": 42, "name": "é"}`} {
			if err := set("node/1", "rows", v); err != nil {
				t.Fatal(err)
			}
			if got, err := get("rows"); err != nil || string(got) != v {
				t.Errorf("TaskValue = %s, %v; want %s", got, err, v)
			}
		}
		wantCode(t, "SetTaskValue(other owner)", set("node/2", "stolen", `1`), kiln.ENotFound)
		for i := 1; i < kiln.MaxTaskValues; i++ {
			if err := set("node/1", fmt.Sprintf("k%d", i), `true`); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, "SetTaskValue(one too many)", set("node/1", "extra", `1`), kiln.EInvalid)
		if err := set("node/1", "rows", `2`); err != nil {
			t.Errorf("replacing a value at the limit: %v", err)
		}
		finish(t, s, task, "node/1", success)
		wantCode(t, "SetTaskValue(finished)", set("node/1", "late", `1`), kiln.ENotFound)
		if got, err := get("rows"); err != nil || string(got) != `2` {
			t.Errorf("after the task ended: %s, %v", got, err)
		}
	}},
	{"Queue/FinishByAnotherOwnerIsDropped", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		createRuns(t, s, newRun(alice.ID, newTask("a")))
		task := wantClaim(t, s, "node/1", "a")
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.FinishTask(task.ID, "node/2", success) })
		wantCode(t, "FinishTask(other owner)", err, kiln.ENotFound)
		_, err = renew(t, s, task.ID, "node/2")
		wantCode(t, "RenewLease(other owner)", err, kiln.ENotFound)
		finish(t, s, task, "node/1", success)
		err = s.Update(ctx(t), func(tx kiln.Tx) error { return tx.FinishTask(task.ID, "node/1", success) })
		wantCode(t, "FinishTask(twice)", err, kiln.ENotFound)
	}},
	{"Queue/RenewExtendsLeaseAndReportsStop", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r := newRun(alice.ID, newTask("a"), newTask("b", "a"))
		createRuns(t, s, r)
		task := wantClaim(t, s, "node/1", "a")
		if stop, err := renew(t, s, task.ID, "node/1"); err != nil || stop != "" {
			t.Fatalf("RenewLease: %q, %v", stop, err)
		}
		if got := readRun(t, s, r.ID).Tasks[0]; !got.LeaseUntil.After(task.LeaseUntil) {
			t.Errorf("lease not extended: %v, was %v", got.LeaseUntil, task.LeaseUntil)
		}
		var active bool
		update(t, s, func(tx kiln.Tx) (err error) {
			active, err = tx.StopRun(r.ID, kiln.ResultCanceled, "Canceled by alice.")
			return err
		})
		got := readRun(t, s, r.ID)
		if !active || got.LifeCycleState != kiln.LifeCycleTerminating || got.Stop != kiln.ResultCanceled {
			t.Fatalf("stopped running run: active %v, %+v", active, got)
		}
		if stop, err := renew(t, s, task.ID, "node/1"); err != nil || stop != kiln.ResultCanceled {
			t.Errorf("RenewLease after stop: %q, %v", stop, err)
		}
		wantClaim(t, s, "node/1", "")
		finish(t, s, task, "node/1", failure)
		got = readRun(t, s, r.ID)
		if got.LifeCycleState != kiln.LifeCycleTerminated || got.ResultState != kiln.ResultCanceled ||
			got.StateMessage != "Canceled by alice." {
			t.Errorf("canceled run: %+v", got)
		}
		update(t, s, func(tx kiln.Tx) (err error) { active, err = tx.StopRun(r.ID, kiln.ResultCanceled, "again"); return err })
		if active {
			t.Errorf("StopRun of a finished run reported it active")
		}
		err := s.Update(ctx(t), func(tx kiln.Tx) error { _, err := tx.StopRun(r.ID+1, kiln.ResultCanceled, "x"); return err })
		if !kiln.IsCode(err, kiln.ENotFound) {
			t.Errorf("StopRun(missing): %v, want ENotFound", err)
		}
	}},
	{"Queue/RetryWaitsForItsInterval", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		slow, fast := newTask("slow"), newTask("fast")
		slow.MaxRetries, slow.MinRetryInterval = 1, time.Hour
		fast.MaxRetries = 2
		createRuns(t, s, newRun(alice.ID, slow), newRun(alice.ID, fast))
		finish(t, s, wantClaim(t, s, "node/1", "slow"), "node/1", failure)
		finish(t, s, wantClaim(t, s, "node/1", "fast"), "node/1", failure)
		again := wantClaim(t, s, "node/1", "fast")
		if again.Attempt != 1 {
			t.Errorf("retried attempt: %d, want 1", again.Attempt)
		}
		wantClaim(t, s, "node/1", "")
	}},
	{"Queue/JobConcurrencyLimitHoldsQueuedRuns", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		jobRun := func(key string) *kiln.Run {
			return &kiln.Run{OwnerID: alice.ID, JobID: 7, RunType: kiln.RunTypeJob, MaxConcurrent: 1,
				Tasks: []*kiln.TaskRun{newTask(key), newTask(key+"2", key)}}
		}
		r1, r2 := jobRun("one"), jobRun("two")
		createRuns(t, s, r1, r2, newRun(alice.ID, newTask("other")))
		one := wantClaim(t, s, "node/1", "one")
		wantClaim(t, s, "node/1", "other") // another job's run is not held
		wantClaim(t, s, "node/1", "")
		if got := readRun(t, s, r2.ID); got.LifeCycleState != kiln.LifeCycleQueued {
			t.Errorf("held run: %s, want QUEUED", got.LifeCycleState)
		}
		finish(t, s, one, "node/1", success)
		// The started run goes on even though the job is at its limit.
		finish(t, s, wantClaim(t, s, "node/1", "one2"), "node/1", success)
		wantClaim(t, s, "node/1", "two")
	}},
	{"Queue/ClaimFavoursOwnersWithFewestRunningTasks", func(t *testing.T, s kiln.Store) {
		us := createUsers(t, s, "alice@example.com", "bob@example.com", "carol@example.com")
		alice, bob, carol := us[0].ID, us[1].ID, us[2].ID
		// Submitted in this order, each in its own transaction: alice's
		// backlog first, then bob's, then carol's.
		for _, r := range []*kiln.Run{
			newRun(alice, newTask("a1")), newRun(alice, newTask("a2")), newRun(alice, newTask("a3")),
			newRun(bob, newTask("b1")), newRun(bob, newTask("b2")), newRun(carol, newTask("c1")),
		} {
			createRuns(t, s, r)
		}
		// Each claim goes to an owner with the fewest running tasks; among
		// those, to the task queued first.
		claimed := map[string]*kiln.TaskRun{}
		for _, want := range []string{
			"a1", // nobody runs anything: the oldest
			"b1", // alice runs one, bob and carol none: bob's is older than carol's
			"c1", // alice and bob run one, carol none
			"a2", // everyone runs one: the oldest of a2, a3, b2
			"b2", // alice runs two, bob one
			"a3", // only alice's is left
			"",
		} {
			claimed[want] = wantClaim(t, s, "node/1", want)
		}
		// Finished tasks no longer count: alice, down to one running task,
		// comes before bob's older submission, bob running two.
		finish(t, s, claimed["a1"], "node/1", success)
		finish(t, s, claimed["a2"], "node/1", success)
		createRuns(t, s, newRun(bob, newTask("b3")))
		createRuns(t, s, newRun(alice, newTask("a4")))
		wantClaim(t, s, "node/1", "a4")
		wantClaim(t, s, "node/1", "b3")
	}},
	{"Queue/CountWaitingRunsCountsUnstartedRunsOfTheOwner", func(t *testing.T, s kiln.Store) {
		us := createUsers(t, s, "alice@example.com", "bob@example.com")
		alice, bob := us[0].ID, us[1].ID
		r1, r2, r3 := newRun(alice, newTask("a1")), newRun(alice, newTask("a2")), newRun(alice, newTask("a3"))
		createRuns(t, s, r1, r2, r3, newRun(bob, newTask("b1")))
		count := func(owner int64) int {
			var n int
			view(t, s, func(tx kiln.Tx) (err error) { n, err = tx.CountWaitingRuns(owner); return err })
			return n
		}
		if a, b, none := count(alice), count(bob), count(999); a != 3 || b != 1 || none != 0 {
			t.Fatalf("waiting runs: alice %d, bob %d, unknown %d; want 3, 1, 0", a, b, none)
		}
		// A started run no longer waits, nor does a canceled one.
		wantClaim(t, s, "node/1", "a1")
		update(t, s, func(tx kiln.Tx) error { _, err := tx.StopRun(r2.ID, kiln.ResultCanceled, "Canceled."); return err })
		if a := count(alice); a != 1 {
			t.Errorf("waiting runs of alice after a claim and a cancel: %d, want 1", a)
		}
		// Every run by state: a1 running, a2 canceled, a3 and b1 waiting.
		var byState map[string]int
		view(t, s, func(tx kiln.Tx) (err error) { byState, err = tx.CountRunsByState(); return err })
		want := map[string]int{kiln.LifeCycleRunning: 1, kiln.LifeCycleTerminated: 1, kiln.LifeCycleQueued: 2}
		if fmt.Sprint(byState) != fmt.Sprint(want) {
			t.Errorf("runs by state: %v, want %v", byState, want)
		}
	}},
	{"Queue/StopQueuedRunEndsItAtOnce", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r := newRun(alice.ID, newTask("a"), newTask("b", "a"))
		createRuns(t, s, r)
		update(t, s, func(tx kiln.Tx) error { _, err := tx.StopRun(r.ID, kiln.ResultCanceled, "Canceled."); return err })
		got := readRun(t, s, r.ID)
		if got.LifeCycleState != kiln.LifeCycleTerminated || got.ResultState != kiln.ResultCanceled ||
			!slices.Equal(taskStates(got), []string{"a=TERMINATED/CANCELED", "b=TERMINATED/CANCELED"}) {
			t.Errorf("stopped queued run: %+v %v", got, taskStates(got))
		}
		wantClaim(t, s, "node/1", "")
	}},
	{"Queue/SweepExpiresDeadLeases", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		once, retried := newTask("once"), newTask("retried")
		retried.MaxRetries = 1
		r1, r2 := newRun(alice.ID, once), newRun(alice.ID, retried)
		createRuns(t, s, r1, r2)
		a := wantClaim(t, s, "node/1", "once")
		wantClaim(t, s, "node/1", "retried")
		if res := sweep(t, s, kiln.LeaseSweep{Now: a.LeaseUntil.Add(-time.Second)}); res.Expired != 0 {
			t.Fatalf("sweep before the leases end expired %d", res.Expired)
		}
		if res := sweep(t, s, kiln.LeaseSweep{Now: a.LeaseUntil.Add(time.Second)}); res.Expired != 2 {
			t.Fatalf("sweep after the leases end expired %d, want 2", res.Expired)
		}
		got := readRun(t, s, r1.ID)
		if got.LifeCycleState != kiln.LifeCycleInternalErr || got.ResultState != kiln.ResultFailed ||
			got.Tasks[0].LifeCycleState != kiln.LifeCycleInternalErr || got.StateMessage != kiln.MsgLeaseExpired {
			t.Errorf("expired run: %+v / %+v", got, got.Tasks[0])
		}
		if got := readRun(t, s, r2.ID).Tasks[0]; got.LifeCycleState != kiln.LifeCycleWaitingForRetry || got.Attempt != 1 {
			t.Errorf("expired task with retries: %+v", got)
		}
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.FinishTask(a.ID, "node/1", success) })
		wantCode(t, "FinishTask(after expiry)", err, kiln.ENotFound)
	}},
	{"Queue/SweepExpiresEarlierIncarnationsOfTheNode", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		createRuns(t, s, newRun(alice.ID, newTask("mine")), newRun(alice.ID, newTask("self")), newRun(alice.ID, newTask("theirs")))
		wantClaim(t, s, "n1/old", "mine")
		wantClaim(t, s, "n1/new", "self")
		wantClaim(t, s, "n10/x", "theirs")
		res := sweep(t, s, kiln.LeaseSweep{Now: time.Now().Add(-time.Hour), Node: "n1", Self: "n1/new"})
		if res.Expired != 1 {
			t.Errorf("expired %d, want only n1/old's task", res.Expired)
		}
	}},
	{"Queue/SweepStopsRunsPastTheirTimeout", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r := newRun(alice.ID, newTask("a"), newTask("b"))
		r.Timeout = time.Second
		createRuns(t, s, r)
		a := wantClaim(t, s, "node/1", "a")
		if res := sweep(t, s, kiln.LeaseSweep{Now: a.Started}); len(res.TimedOut) != 0 {
			t.Fatalf("timed out too early: %v", res.TimedOut)
		}
		res := sweep(t, s, kiln.LeaseSweep{Now: a.Started.Add(2 * time.Second)})
		if !slices.Equal(res.TimedOut, []int64{r.ID}) {
			t.Fatalf("TimedOut: %v, want [%d]", res.TimedOut, r.ID)
		}
		got := readRun(t, s, r.ID)
		if got.Stop != kiln.ResultTimedOut || got.LifeCycleState != kiln.LifeCycleTerminating ||
			!slices.Equal(taskStates(got), []string{"a=RUNNING/", "b=TERMINATED/TIMEDOUT"}) {
			t.Errorf("timed out run: %+v %v", got, taskStates(got))
		}
		finish(t, s, a, "node/1", kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultCanceled})
		if got := readRun(t, s, r.ID); got.ResultState != kiln.ResultTimedOut || got.LifeCycleState != kiln.LifeCycleTerminated {
			t.Errorf("final: %+v", got)
		}
	}},
	{"Queue/ConcurrentClaimsNeverShareATask", func(t *testing.T, s kiln.Store) {
		const runs, executors = 40, 4
		alice := createUsers(t, s, "alice@example.com")[0]
		var rs []*kiln.Run
		for range runs {
			rs = append(rs, newRun(alice.ID, newTask("a")))
		}
		createRuns(t, s, rs...)
		var mu sync.Mutex
		seen := map[int64]string{}
		var wg sync.WaitGroup
		for e := range executors {
			owner := "node/" + string(rune('a'+e))
			wg.Go(func() {
				for {
					var task *kiln.TaskRun
					err := s.Update(ctx(t), func(tx kiln.Tx) (err error) {
						_, task, err = tx.ClaimTask(kiln.Claim{Owner: owner, LeaseUntil: tx.Now().Add(time.Minute)})
						return err
					})
					if err != nil {
						t.Errorf("%s: ClaimTask: %v", owner, err)
						return
					}
					if task == nil {
						return
					}
					mu.Lock()
					if prev, dup := seen[task.ID]; dup {
						t.Errorf("task %d claimed by %s and %s", task.ID, prev, owner)
					}
					seen[task.ID] = owner
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != runs {
			t.Errorf("claimed %d tasks, want %d", len(seen), runs)
		}
	}},
	{"Queue/WritesFailInAView", func(t *testing.T, s kiln.Store) {
		err := s.View(ctx(t), func(tx kiln.Tx) error {
			_, _, err := tx.ClaimTask(kiln.Claim{Owner: "node/1", LeaseUntil: t0})
			return err
		})
		if err == nil {
			t.Errorf("ClaimTask in a View succeeded")
		}
	}},
}

func renew(t *testing.T, s kiln.Store, taskID int64, owner string) (string, error) {
	t.Helper()
	var stop string
	err := s.Update(ctx(t), func(tx kiln.Tx) (err error) {
		stop, err = tx.RenewLease(taskID, owner, tx.Now().Add(2*time.Minute))
		return err
	})
	return stop, err
}

func sweep(t *testing.T, s kiln.Store, ls kiln.LeaseSweep) kiln.SweepResult {
	t.Helper()
	var res kiln.SweepResult
	update(t, s, func(tx kiln.Tx) (err error) { res, err = tx.SweepRuns(ls); return err })
	return res
}

// readChecks evaluates HasClaimable and SweepDue in a View.
func readChecks(t *testing.T, s kiln.Store, ls kiln.LeaseSweep) (claimable, due bool) {
	t.Helper()
	view(t, s, func(tx kiln.Tx) (err error) {
		if claimable, err = tx.HasClaimable(); err != nil {
			return err
		}
		due, err = tx.SweepDue(ls)
		return err
	})
	return claimable, due
}

var queueReadTests = []test{
	{"Queue/ReadChecksAgreeWithClaimAndSweep", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		if c, d := readChecks(t, s, kiln.LeaseSweep{}); c || d {
			t.Fatalf("empty store: claimable %v, sweep due %v", c, d)
		}
		r := newRun(alice.ID, newTask("a"))
		r.Timeout = time.Second
		createRuns(t, s, r)
		if c, _ := readChecks(t, s, kiln.LeaseSweep{}); !c {
			t.Fatal("a queued task is not claimable")
		}
		task := wantClaim(t, s, "n1/a", "a")
		for _, c := range []struct {
			name string
			ls   kiln.LeaseSweep
			due  bool
		}{
			{"LeaseAndTimeoutAhead", kiln.LeaseSweep{Now: task.Started}, false},
			{"TimeoutPassed", kiln.LeaseSweep{Now: task.Started.Add(2 * time.Second)}, true},
			{"LeaseExpired", kiln.LeaseSweep{Now: task.LeaseUntil.Add(time.Second)}, true},
			{"SameIncarnation", kiln.LeaseSweep{Now: task.Started, Node: "n1", Self: "n1/a"}, false},
			{"EarlierIncarnation", kiln.LeaseSweep{Now: task.Started, Node: "n1", Self: "n1/b"}, true},
			{"OtherNode", kiln.LeaseSweep{Now: task.Started, Node: "n", Self: "n/b"}, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				claimable, due := readChecks(t, s, c.ls)
				if claimable || due != c.due {
					t.Errorf("claimable %v, due %v; want false, %v", claimable, due, c.due)
				}
			})
		}
	}},
}
