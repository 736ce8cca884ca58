package conformance

import (
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// scheduledRun returns an unsaved run of job jobID for the tick at.
func scheduledRun(owner, jobID int64, at time.Time) *kiln.Run {
	return &kiln.Run{OwnerID: owner, JobID: jobID, RunName: "nightly", RunType: kiln.RunTypeJob, Spec: []byte(`{}`),
		Tasks: []*kiln.TaskRun{newTask("main")}, ScheduledTime: at}
}

func readSchedule(t *testing.T, s kiln.Store, jobID int64) (*kiln.JobSchedule, error) {
	t.Helper()
	var js *kiln.JobSchedule
	err := s.View(ctx(t), func(tx kiln.Tx) (err error) { js, err = tx.JobSchedule(jobID); return err })
	return js, err
}

var scheduleTests = []test{
	{"Schedules/SetReadsBackAndReplaces", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		j := newJob("nightly", alice.ID)
		createJobs(t, s, j)
		if _, err := readSchedule(t, s, j.ID); !kiln.IsCode(err, kiln.ENotFound) {
			t.Fatalf("JobSchedule before any: %v, want ENotFound", err)
		}
		update(t, s, func(tx kiln.Tx) error {
			return tx.SetJobSchedule(kiln.JobSchedule{JobID: j.ID, Spec: "cron * * * * * ? UTC", NextFire: t0})
		})
		got, err := readSchedule(t, s, j.ID)
		if err != nil || got.JobID != j.ID || got.Spec != "cron * * * * * ? UTC" || !got.NextFire.Equal(t0) {
			t.Fatalf("JobSchedule = %+v, %v", got, err)
		}
		update(t, s, func(tx kiln.Tx) error {
			return tx.SetJobSchedule(kiln.JobSchedule{JobID: j.ID, Spec: "every 1 HOURS", NextFire: t0.Add(time.Hour)})
		})
		if got, err := readSchedule(t, s, j.ID); err != nil || got.Spec != "every 1 HOURS" || !got.NextFire.Equal(t0.Add(time.Hour)) {
			t.Fatalf("JobSchedule after replace = %+v, %v", got, err)
		}
		err = s.Update(ctx(t), func(tx kiln.Tx) error {
			return tx.SetJobSchedule(kiln.JobSchedule{JobID: j.ID + 1, Spec: "x", NextFire: t0})
		})
		wantCode(t, "SetJobSchedule(missing job)", err, kiln.ENotFound)
	}},
	{"Schedules/DeleteAndDeleteJobRemove", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		a, b := newJob("a", alice.ID), newJob("b", alice.ID)
		createJobs(t, s, a, b)
		update(t, s, func(tx kiln.Tx) error {
			for _, j := range []*kiln.Job{a, b} {
				if err := tx.SetJobSchedule(kiln.JobSchedule{JobID: j.ID, Spec: "s", NextFire: t0}); err != nil {
					return err
				}
			}
			return nil
		})
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.DeleteJobSchedule(a.ID); err != nil {
				return err
			}
			if err := tx.DeleteJobSchedule(a.ID); err != nil { // none: no error
				return err
			}
			return tx.DeleteJob(b.ID)
		})
		for _, j := range []*kiln.Job{a, b} {
			if _, err := readSchedule(t, s, j.ID); !kiln.IsCode(err, kiln.ENotFound) {
				t.Errorf("JobSchedule(%s) after delete: %v, want ENotFound", j.Name, err)
			}
		}
	}},
	{"Schedules/DueListsEarliestFirstUpToNow", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		a, b, c := newJob("a", alice.ID), newJob("b", alice.ID), newJob("c", alice.ID)
		createJobs(t, s, a, b, c)
		update(t, s, func(tx kiln.Tx) error {
			for j, at := range map[*kiln.Job]time.Time{a: t0.Add(2 * time.Second), b: t0, c: t0.Add(time.Minute)} {
				if err := tx.SetJobSchedule(kiln.JobSchedule{JobID: j.ID, Spec: j.Name, NextFire: at}); err != nil {
					return err
				}
			}
			return nil
		})
		for _, tc := range []struct {
			now   time.Time
			limit int
			want  []int64
		}{
			{t0.Add(-time.Millisecond), 0, nil},
			{t0, 0, []int64{b.ID}},
			{t0.Add(2 * time.Second), 0, []int64{b.ID, a.ID}},
			{t0.Add(time.Hour), 0, []int64{b.ID, a.ID, c.ID}},
			{t0.Add(time.Hour), 2, []int64{b.ID, a.ID}},
		} {
			var got []int64
			view(t, s, func(tx kiln.Tx) error {
				due, err := tx.DueSchedules(tc.now, tc.limit)
				for _, d := range due {
					got = append(got, d.JobID)
				}
				return err
			})
			if len(got) != len(tc.want) || (len(got) > 0 && !equalIDs(got, tc.want)) {
				t.Errorf("DueSchedules(t0%+v, %d) = %v, want %v", tc.now.Sub(t0), tc.limit, got, tc.want)
			}
		}
	}},
	{"Schedules/AdvanceIsCompareAndSwap", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		j := newJob("nightly", alice.ID)
		createJobs(t, s, j)
		update(t, s, func(tx kiln.Tx) error {
			return tx.SetJobSchedule(kiln.JobSchedule{JobID: j.ID, Spec: "s", NextFire: t0})
		})
		advance := func(from, to time.Time) (moved bool) {
			update(t, s, func(tx kiln.Tx) (err error) { moved, err = tx.AdvanceJobSchedule(j.ID, from, to); return err })
			return moved
		}
		if !advance(t0, t0.Add(time.Second)) {
			t.Fatal("Advance from the current tick did not move it")
		}
		if advance(t0, t0.Add(2*time.Second)) {
			t.Fatal("Advance from a spent tick moved it")
		}
		if got, _ := readSchedule(t, s, j.ID); got == nil || !got.NextFire.Equal(t0.Add(time.Second)) {
			t.Fatalf("NextFire = %+v, want t0+1s", got)
		}
		if advance(t0, time.Time{}) {
			t.Fatal("Advance to zero from a spent tick removed it")
		}
		if !advance(t0.Add(time.Second), time.Time{}) {
			t.Fatal("Advance to zero from the current tick did not remove it")
		}
		if _, err := readSchedule(t, s, j.ID); !kiln.IsCode(err, kiln.ENotFound) {
			t.Fatalf("JobSchedule after the last tick: %v, want ENotFound", err)
		}
		if advance(t0.Add(time.Second), t0.Add(2*time.Second)) {
			t.Fatal("Advance of a removed schedule moved it")
		}
	}},
	{"Schedules/OneRunPerScheduledTime", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		j := newJob("nightly", alice.ID)
		createJobs(t, s, j)
		first := scheduledRun(alice.ID, j.ID, t0)
		createRuns(t, s, first, scheduledRun(alice.ID, j.ID, t0.Add(time.Second)))
		if got := readRun(t, s, first.ID); !got.ScheduledTime.Equal(t0) || got.Trigger() != kiln.TriggerPeriodic {
			t.Errorf("run read back: scheduled %v, trigger %s", got.ScheduledTime, got.Trigger())
		}
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateRun(scheduledRun(alice.ID, j.ID, t0)) })
		wantCode(t, "CreateRun(same job, same scheduled time)", err, kiln.EConflict)
		// Runs someone asked for have no scheduled time and never clash.
		manual := func() *kiln.Run {
			r := scheduledRun(alice.ID, j.ID, time.Time{})
			return r
		}
		m1, m2 := manual(), manual()
		createRuns(t, s, m1, m2)
		if got := readRun(t, s, m1.ID); !got.ScheduledTime.IsZero() || got.Trigger() != kiln.TriggerOneTime {
			t.Errorf("manual run: scheduled %v, trigger %s", got.ScheduledTime, got.Trigger())
		}
		// Another job may have a run at the same time.
		other := newJob("other", alice.ID)
		createJobs(t, s, other)
		createRuns(t, s, scheduledRun(alice.ID, other.ID, t0))
	}},
	{"Schedules/RacingFirersFireEachTickOnce", func(t *testing.T, s kiln.Store) {
		const firers, ticks = 4, 10
		alice := createUsers(t, s, "alice@example.com")[0]
		j := newJob("nightly", alice.ID)
		createJobs(t, s, j)
		update(t, s, func(tx kiln.Tx) error {
			return tx.SetJobSchedule(kiln.JobSchedule{JobID: j.ID, Spec: "s", NextFire: t0})
		})
		var mu sync.Mutex
		fired := map[time.Time]int{}
		var wg sync.WaitGroup
		for range firers {
			wg.Go(func() {
				for {
					var at time.Time
					done := false
					err := s.Update(ctx(t), func(tx kiln.Tx) error {
						at, done = time.Time{}, false
						due, err := tx.DueSchedules(t0.Add(ticks*time.Second), 1)
						if err != nil || len(due) == 0 {
							done = true
							return err
						}
						d := due[0]
						moved, err := tx.AdvanceJobSchedule(j.ID, d.NextFire, d.NextFire.Add(time.Second))
						if err != nil || !moved {
							return err
						}
						at = d.NextFire
						return tx.CreateRun(scheduledRun(alice.ID, j.ID, at))
					})
					if err != nil {
						t.Errorf("firer: %v", err)
						return
					}
					if done {
						return
					}
					if !at.IsZero() {
						mu.Lock()
						fired[at]++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if len(fired) != ticks+1 {
			t.Errorf("fired %d ticks, want %d", len(fired), ticks+1)
		}
		for at, n := range fired {
			if n != 1 {
				t.Errorf("tick t0%+v fired %d times", at.Sub(t0), n)
			}
		}
		var runs []*kiln.Run
		view(t, s, func(tx kiln.Tx) (err error) { runs, err = tx.Runs(kiln.RunFilter{JobID: j.ID}); return err })
		if len(runs) != ticks+1 {
			t.Errorf("%d runs, want %d", len(runs), ticks+1)
		}
	}},
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
