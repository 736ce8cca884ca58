package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// BenchmarkForEachIteration measures what the store spends on one
// iteration of a for_each task: the claim, the finish (each settles the
// run) and one poll of the for_each task (IterationsEnded), on the
// SQLite store, for loops of 10 to 5000 iterations. The baseline, measured
// in the same run, is the same cycle on a run of one ordinary task.
// docs/benchmarks.md has the figures.
func BenchmarkForEachIteration(b *testing.B) {
	for _, n := range []int{0, 10, 1000, 5000} {
		name := fmt.Sprintf("iterations=%d", n)
		if n == 0 {
			name = "baseline=one-task-run"
		}
		b.Run(name, func(b *testing.B) {
			s, _ := openTemp(b)
			ctx := context.Background()
			var owner int64
			mustUpdate(b, s, func(tx kiln.Tx) error {
				p := &kiln.Principal{Kind: kiln.KindUser, UserName: "bench@example.com", DisplayName: "bench", Active: true}
				err := tx.CreatePrincipal(p)
				owner = p.ID
				return err
			})
			var runID int64
			left := 0
			refill := func() {
				b.StopTimer()
				defer b.StartTimer()
				runID, left = benchLoopRun(b, s, owner, n)
			}
			for i := 0; i < b.N; i++ {
				if left == 0 {
					refill()
				}
				var task *kiln.TaskRun
				mustUpdate(b, s, func(tx kiln.Tx) (err error) {
					_, task, err = tx.ClaimTask(kiln.Claim{Owner: "node/1", LeaseUntil: tx.Now().Add(time.Minute)})
					return err
				})
				if task == nil || (n > 0 && task.ParentID == 0) {
					b.Fatalf("claim %d: %+v", i, task)
				}
				mustUpdate(b, s, func(tx kiln.Tx) error {
					return tx.FinishTask(task.ID, "node/1", kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated, ResultState: kiln.ResultSuccess})
				})
				// What the for_each task's poller reads (for the baseline,
				// what the run page's poll of a one-task run would).
				if err := s.View(ctx, func(tx kiln.Tx) (err error) {
					if n == 0 {
						_, err = tx.Run(runID)
					} else {
						_, _, err = tx.IterationsEnded(task.ParentID)
					}
					return err
				}); err != nil {
					b.Fatal(err)
				}
				left--
			}
		})
	}
}

// benchLoopRun creates a run whose for_each task holds n iterations (a
// run of one plain task for n = 0), claims the for_each task, and returns
// the run's id and how many tasks are left to claim.
func benchLoopRun(b *testing.B, s kiln.Store, owner int64, n int) (int64, int) {
	task := func(key string) *kiln.TaskRun {
		return &kiln.TaskRun{TaskKey: key, Definition: []byte(`{"task_key":"` + key + `","notebook_task":{"notebook_path":"/Shared/it"}}`),
			Exec: kiln.TaskExec{Kind: kiln.ExecNotebook, Path: "/Shared/it", Params: map[string]string{"day": "1"}}}
	}
	r := &kiln.Run{OwnerID: owner, RunName: "bench", RunType: kiln.RunTypeSubmit, Spec: []byte(`{}`)}
	if n == 0 {
		r.Tasks = []*kiln.TaskRun{task("only")}
		mustUpdate(b, s, func(tx kiln.Tx) error { return tx.CreateRun(r) })
		return r.ID, 1
	}
	loop := task("loop")
	loop.Exec = kiln.TaskExec{Kind: kiln.ExecForEach, Inputs: "[]", Concurrency: 1,
		Nested: &kiln.NestedTask{Exec: kiln.TaskExec{Kind: kiln.ExecNotebook, Path: "/Shared/it"}}}
	r.Tasks = []*kiln.TaskRun{loop}
	mustUpdate(b, s, func(tx kiln.Tx) error { return tx.CreateRun(r) })
	mustUpdate(b, s, func(tx kiln.Tx) error {
		_, parent, err := tx.ClaimTask(kiln.Claim{Owner: "node/1", LeaseUntil: tx.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		iters := make([]*kiln.TaskRun, n)
		for i := range iters {
			iters[i] = task("it")
			iters[i].Exec.Params["v"] = fmt.Sprint(i)
		}
		_, err = tx.AddIterations(parent.ID, "node/1", iters)
		return err
	})
	return r.ID, n
}

func mustUpdate(b *testing.B, s kiln.Store, fn func(kiln.Tx) error) {
	b.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		b.Fatal(err)
	}
}
