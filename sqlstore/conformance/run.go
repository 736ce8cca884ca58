package conformance

import (
	"slices"
	"testing"

	"github.com/kiln-dev/kiln"
)

// newTask returns an unsaved task running a notebook.
func newTask(key string, deps ...string) *kiln.TaskRun {
	return &kiln.TaskRun{
		TaskKey: key, DependsOn: deps, Definition: []byte(`{"task_key":"` + key + `"}`),
		Exec: kiln.TaskExec{Kind: kiln.ExecNotebook, Path: "/Shared/" + key, Params: map[string]string{"day": "1"}},
	}
}

// newRun returns an unsaved submitted run of owner with tasks.
func newRun(owner int64, tasks ...*kiln.TaskRun) *kiln.Run {
	return &kiln.Run{OwnerID: owner, RunName: "adhoc", RunType: kiln.RunTypeSubmit, Spec: []byte(`{"k":1}`), Tasks: tasks}
}

// createRuns saves runs in order, in one Update.
func createRuns(t *testing.T, s kiln.Store, runs ...*kiln.Run) {
	t.Helper()
	update(t, s, func(tx kiln.Tx) error {
		for _, r := range runs {
			if err := tx.CreateRun(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func readRun(t *testing.T, s kiln.Store, id int64) *kiln.Run {
	t.Helper()
	var r *kiln.Run
	view(t, s, func(tx kiln.Tx) (err error) { r, err = tx.Run(id); return err })
	return r
}

func runIDs(rs []*kiln.Run) []int64 {
	ids := []int64{}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

// taskStates renders the life cycle states of a run's tasks.
func taskStates(r *kiln.Run) []string {
	var out []string
	for _, t := range r.Tasks {
		out = append(out, t.TaskKey+"="+t.LifeCycleState+"/"+t.ResultState)
	}
	return out
}

var runTests = []test{
	{"Runs/CreateAssignsIDsAndQueues", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r := newRun(alice.ID, newTask("a"), newTask("b", "a"))
		r.IdempotencyToken = "tok-1"
		createRuns(t, s, r)
		if r.ID < minID || r.ID >= maxID || r.JobID == 0 || r.Seq == 0 || r.Created.IsZero() {
			t.Fatalf("created run: %+v", r)
		}
		got := readRun(t, s, r.ID)
		if got.LifeCycleState != kiln.LifeCycleQueued || got.OwnerName != alice.UserName || got.JobID != r.JobID ||
			got.IdempotencyToken != "tok-1" || string(got.Spec) != `{"k":1}` || got.RunType != kiln.RunTypeSubmit {
			t.Errorf("Run: %+v", got)
		}
		if want := []string{"a=QUEUED/", "b=BLOCKED/"}; !slices.Equal(taskStates(got), want) {
			t.Errorf("tasks: %v, want %v", taskStates(got), want)
		}
		a, b := got.Tasks[0], got.Tasks[1]
		if a.ID == r.ID || a.ID == b.ID || a.RunID != r.ID || a.Position != 0 || b.Position != 1 ||
			!slices.Equal(b.DependsOn, []string{"a"}) || a.Exec.Params["day"] != "1" || a.Exec.Path != "/Shared/a" {
			t.Errorf("task runs: %+v %+v", a, b)
		}
		view(t, s, func(tx kiln.Tx) error {
			tr, err := tx.TaskRun(b.ID)
			if err != nil || tr.RunID != r.ID || tr.TaskKey != "b" {
				t.Errorf("TaskRun: %+v, %v", tr, err)
			}
			_, err = tx.Run(a.ID)
			wantCode(t, "Run(task run id)", err, kiln.ENotFound)
			_, err = tx.TaskRun(r.ID)
			wantCode(t, "TaskRun(run id)", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Runs/SeqFollowsCreationAndJobIDsDiffer", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r1, r2 := newRun(alice.ID, newTask("a")), newRun(alice.ID, newTask("a"))
		j := &kiln.Run{OwnerID: alice.ID, JobID: 42, RunType: kiln.RunTypeJob, Tasks: []*kiln.TaskRun{newTask("a")}}
		createRuns(t, s, r1, r2, j)
		if !(r1.Seq < r2.Seq && r2.Seq < j.Seq) || r1.JobID == r2.JobID || j.JobID != 42 {
			t.Errorf("seqs %d %d %d, job ids %d %d %d", r1.Seq, r2.Seq, j.Seq, r1.JobID, r2.JobID, j.JobID)
		}
	}},
	{"Runs/IdempotencyTokenIsUniquePerOwner", func(t *testing.T, s kiln.Store) {
		us := createUsers(t, s, "alice@example.com", "bob@example.com")
		first := newRun(us[0].ID, newTask("a"))
		first.IdempotencyToken = "same"
		createRuns(t, s, first)
		again := newRun(us[0].ID, newTask("a"))
		again.IdempotencyToken = "same"
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateRun(again) })
		wantCode(t, "CreateRun(same owner, same token)", err, kiln.EConflict)
		other := newRun(us[1].ID, newTask("a"))
		other.IdempotencyToken = "same"
		createRuns(t, s, other, newRun(us[0].ID, newTask("a")), newRun(us[0].ID, newTask("a")))
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.RunByIdempotencyToken(us[0].ID, "same")
			if err != nil || got.ID != first.ID || len(got.Tasks) != 1 {
				t.Errorf("RunByIdempotencyToken: %+v, %v; want run %d", got, err, first.ID)
			}
			_, err = tx.RunByIdempotencyToken(us[0].ID, "other")
			wantCode(t, "RunByIdempotencyToken(unknown)", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Runs/DuplicateTaskKeyIsInvalid", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateRun(newRun(alice.ID, newTask("a"), newTask("a"))) })
		wantCode(t, "CreateRun(duplicate task key)", err, kiln.EInvalid)
	}},
	{"Runs/ListFiltersAndPagesNewestFirst", func(t *testing.T, s kiln.Store) {
		us := createUsers(t, s, "alice@example.com", "bob@example.com")
		a1 := &kiln.Run{OwnerID: us[0].ID, JobID: 7, RunType: kiln.RunTypeJob, Tasks: []*kiln.TaskRun{newTask("a")}}
		b1 := newRun(us[1].ID, newTask("a"))
		a2 := newRun(us[0].ID, newTask("a"))
		createRuns(t, s, a1, b1, a2)
		// Finish a2 by stopping it: it is then completed.
		update(t, s, func(tx kiln.Tx) error { _, err := tx.StopRun(a2.ID, kiln.ResultCanceled, "stop"); return err })
		for _, c := range []struct {
			name string
			f    kiln.RunFilter
			want []int64
		}{
			{"All", kiln.RunFilter{}, []int64{a2.ID, b1.ID, a1.ID}},
			{"Job", kiln.RunFilter{JobID: 7}, []int64{a1.ID}},
			{"Owner", kiln.RunFilter{OwnerID: us[0].ID}, []int64{a2.ID, a1.ID}},
			{"ActiveOnly", kiln.RunFilter{ActiveOnly: true}, []int64{b1.ID, a1.ID}},
			{"CompletedOnly", kiln.RunFilter{CompletedOnly: true}, []int64{a2.ID}},
			{"RunType", kiln.RunFilter{RunType: kiln.RunTypeSubmit}, []int64{a2.ID, b1.ID}},
			{"Limit", kiln.RunFilter{Limit: 1}, []int64{a2.ID}},
			{"Offset", kiln.RunFilter{Offset: 1, Limit: 1}, []int64{b1.ID}},
			{"BeforeSeq", kiln.RunFilter{BeforeSeq: b1.Seq}, []int64{a1.ID}},
			{"StartFrom", kiln.RunFilter{StartFrom: a1.Created}, []int64{a2.ID, b1.ID, a1.ID}},
			{"StartTo", kiln.RunFilter{StartTo: a1.Created}, []int64{}},
		} {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					rs, err := tx.Runs(c.f)
					if err != nil {
						return err
					}
					if got := runIDs(rs); !slices.Equal(got, c.want) {
						t.Errorf("got %v, want %v", got, c.want)
					}
					return nil
				})
			})
		}
		view(t, s, func(tx kiln.Tx) error {
			rs, err := tx.Runs(kiln.RunFilter{WithTasks: true})
			if err != nil {
				return err
			}
			for _, r := range rs {
				if len(r.Tasks) != 1 || r.Tasks[0].RunID != r.ID {
					t.Errorf("WithTasks: run %d has tasks %+v", r.ID, r.Tasks)
				}
			}
			rs, err = tx.Runs(kiln.RunFilter{})
			if err == nil && len(rs) > 0 && len(rs[0].Tasks) != 0 {
				t.Errorf("without WithTasks: tasks were read")
			}
			return err
		})
	}},
	{"Runs/DeleteOnlyFinishedRuns", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		r := newRun(alice.ID, newTask("a"))
		createRuns(t, s, r)
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.DeleteRun(r.ID) })
		wantCode(t, "DeleteRun(active)", err, kiln.EInvalid)
		update(t, s, func(tx kiln.Tx) error { _, err := tx.StopRun(r.ID, kiln.ResultCanceled, "stop"); return err })
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteRun(r.ID) })
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.Run(r.ID)
			wantCode(t, "Run(deleted)", err, kiln.ENotFound)
			_, err = tx.TaskRun(r.Tasks[0].ID)
			wantCode(t, "TaskRun(of deleted run)", err, kiln.ENotFound)
			return nil
		})
		err = s.Update(ctx(t), func(tx kiln.Tx) error { return tx.DeleteRun(r.ID) })
		wantCode(t, "DeleteRun(again)", err, kiln.ENotFound)
	}},
}
