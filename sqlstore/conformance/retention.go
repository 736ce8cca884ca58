package conformance

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

var retentionTests = []test{
	{"Retention/PruneRunsTakesOnlyFinishedRunsEndedBefore", func(t *testing.T, s kiln.Store) {
		failed := failedRun(t, s) // with a repair history
		done := newRun(failed.OwnerID, newTask("a"))
		active := newRun(failed.OwnerID, newTask("x"))
		createRuns(t, s, done, active)
		task := wantClaim(t, s, "node/1", "a")
		update(t, s, func(tx kiln.Tx) error { return tx.SetTaskValue(task.ID, "node/1", "n", []byte(`1`)) })
		finish(t, s, task, "node/1", success)
		done = readRun(t, s, done.ID)
		if done.Ended.IsZero() || !kiln.IsTerminal(done.LifeCycleState) {
			t.Fatalf("finished run: %+v", done)
		}
		repair(t, s, kiln.RepairSpec{RunID: failed.ID, TaskKeys: []string{"b", "c"}})
		update(t, s, func(tx kiln.Tx) error { _, err := tx.StopRun(failed.ID, kiln.ResultCanceled, "stop"); return err })
		failed = readRun(t, s, failed.ID)
		earliest, latest := failed.Ended, done.Ended
		if latest.Before(earliest) {
			earliest, latest = latest, earliest
		}

		prune := func(before time.Time, limit int) []int64 {
			t.Helper()
			var ids []int64
			update(t, s, func(tx kiln.Tx) (err error) { ids, err = tx.PruneRuns(before, limit); return err })
			slices.Sort(ids)
			return ids
		}
		if got := prune(earliest, 10); len(got) != 0 {
			t.Errorf("PruneRuns(at the first end): got %v, want none", got)
		}
		if got := prune(latest.Add(time.Hour), 0); len(got) != 0 {
			t.Errorf("PruneRuns(limit 0): got %v", got)
		}
		// Limit 1 takes the run that ended first.
		first := failed
		if done.Ended.Before(failed.Ended) {
			first = done
		}
		if got := prune(latest.Add(time.Hour), 1); !slices.Equal(got, []int64{first.ID}) {
			t.Errorf("PruneRuns(limit 1): got %v, want the oldest %d", got, first.ID)
		}
		got := prune(latest.Add(time.Hour), 10)
		if len(got) != 1 || got[0] == first.ID || got[0] == active.ID {
			t.Errorf("PruneRuns(the rest): got %v, want the other finished run", got)
		}
		view(t, s, func(tx kiln.Tx) error {
			for _, r := range []*kiln.Run{done, failed} {
				_, err := tx.Run(r.ID)
				wantCode(t, "Run(pruned)", err, kiln.ENotFound)
				for _, task := range r.Tasks {
					_, err := tx.TaskRun(task.ID)
					wantCode(t, "TaskRun(of a pruned run)", err, kiln.ENotFound)
				}
			}
			_, err := tx.TaskValue(task.ID, "n")
			wantCode(t, "TaskValue(of a pruned run)", err, kiln.ENotFound)
			_, err = tx.RunRepairs(failed.ID)
			wantCode(t, "RunRepairs(pruned run)", err, kiln.ENotFound)
			// However old, an active run stays.
			if r, err := tx.Run(active.ID); err != nil || kiln.IsTerminal(r.LifeCycleState) {
				t.Errorf("active run: %v, %v", r, err)
			}
			return nil
		})
		if got := prune(time.Now().Add(1000*time.Hour), 10); len(got) != 0 {
			t.Errorf("PruneRuns(far future): got %v, want the active run kept", got)
		}
		err := s.View(ctx(t), func(tx kiln.Tx) error { _, err := tx.PruneRuns(time.Now(), 1); return err })
		if err == nil {
			t.Error("PruneRuns in a View: no error")
		}
	}},
	{"Retention/PruneChangesRaisesTheFloor", func(t *testing.T, s kiln.Store) {
		notify := func(n int) {
			for i := range n {
				update(t, s, func(tx kiln.Tx) error { return tx.Notify(kiln.ChangeToken, tokenID(i)) })
			}
		}
		notify(3)
		old, err := s.Changes(ctx(t), 0, 10)
		if err != nil || len(old) != 3 {
			t.Fatalf("Changes: %v, %v", old, err)
		}
		// Nothing is older than the first notice.
		if n, err := s.PruneChanges(ctx(t), old[0].Time); err != nil || n != 0 {
			t.Fatalf("PruneChanges(before the first): %d, %v", n, err)
		}
		if cs, err := s.Changes(ctx(t), 0, 10); err != nil || len(cs) != 3 {
			t.Fatalf("Changes after a no-op prune: %v, %v", cs, err)
		}
		time.Sleep(5 * time.Millisecond) // the next notices get a later time
		cut := time.Now()
		time.Sleep(5 * time.Millisecond)
		notify(2)
		n, err := s.PruneChanges(ctx(t), cut)
		if err != nil || n != 3 {
			t.Fatalf("PruneChanges: %d, %v, want 3", n, err)
		}
		// A poller inside the pruned range is told to reload.
		for _, after := range []int64{0, old[0].Seq, old[1].Seq} {
			if _, err := s.Changes(ctx(t), after, 10); !errors.Is(err, kiln.ErrChangesPruned) {
				t.Errorf("Changes(after %d): %v, want ErrChangesPruned", after, err)
			}
		}
		// One at the pruned range's end or past it reads on.
		cs, err := s.Changes(ctx(t), old[2].Seq, 10)
		if err != nil || len(cs) != 2 || cs[0].Seq <= old[2].Seq {
			t.Errorf("Changes(after the floor): %v, %v", cs, err)
		}
		// Pruning everything leaves LastChange where it was, so a new
		// poller does not start below the floor.
		last, _ := s.LastChange(ctx(t))
		if n, err := s.PruneChanges(ctx(t), time.Now().Add(time.Hour)); err != nil || n != 2 {
			t.Fatalf("PruneChanges(all): %d, %v", n, err)
		}
		if got, err := s.LastChange(ctx(t)); err != nil || got != last {
			t.Errorf("LastChange after pruning all: %d, %v, want %d", got, err, last)
		}
		if cs, err := s.Changes(ctx(t), last, 10); err != nil || len(cs) != 0 {
			t.Errorf("Changes(from LastChange): %v, %v", cs, err)
		}
		// New notices carry on above the floor.
		notify(1)
		if cs, err := s.Changes(ctx(t), last, 10); err != nil || len(cs) != 1 || cs[0].Seq <= last {
			t.Errorf("Changes after a new notice: %v, %v", cs, err)
		}
	}},
}
