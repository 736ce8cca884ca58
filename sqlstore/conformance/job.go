package conformance

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// newJob returns an unsaved job.
func newJob(name string, creator int64) *kiln.Job {
	return &kiln.Job{Name: name, CreatorID: creator, Settings: []byte(fmt.Sprintf(`{"name":%q}`, name))}
}

// createJobs saves jobs in order, created a second apart from t0 (unless
// set), so that creation order is argument order.
func createJobs(t *testing.T, s kiln.Store, jobs ...*kiln.Job) {
	t.Helper()
	update(t, s, func(tx kiln.Tx) error {
		for i, j := range jobs {
			if j.Created.IsZero() {
				j.Created = t0.Add(time.Duration(i) * time.Second)
			}
			if err := tx.CreateJob(j); err != nil {
				return err
			}
		}
		return nil
	})
}

func jobIDs(js []*kiln.Job) []int64 {
	ids := []int64{}
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	return ids
}

var jobTests = []test{
	{"Jobs/CreateAssignsIDAndReadsBack", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		j := newJob("nightly", alice.ID)
		var now time.Time
		update(t, s, func(tx kiln.Tx) error { now = tx.Now(); return tx.CreateJob(j) })
		if j.ID < minID || j.ID >= maxID || !j.Created.Equal(now) {
			t.Fatalf("created job: id %d, created %v (want an id in range, created %v)", j.ID, j.Created, now)
		}
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Job(j.ID)
			if err != nil {
				return err
			}
			if got.Name != "nightly" || got.CreatorID != alice.ID || got.CreatorName != alice.UserName ||
				string(got.Settings) != string(j.Settings) || !got.Created.Equal(now) {
				t.Errorf("Job: got %+v", got)
			}
			_, err = tx.Job(j.ID + 1)
			wantCode(t, "Job(missing)", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Jobs/ListFiltersInCreationOrder", func(t *testing.T, s kiln.Store) {
		us := createUsers(t, s, "alice@example.com", "bob@example.com")
		a1, b1, a2 := newJob("etl", us[0].ID), newJob("etl", us[1].ID), newJob("report", us[0].ID)
		createJobs(t, s, a1, b1, a2)
		for _, c := range []struct {
			name string
			f    kiln.JobFilter
			want []int64
		}{
			{"All", kiln.JobFilter{}, []int64{a1.ID, b1.ID, a2.ID}},
			{"Name", kiln.JobFilter{Name: "etl"}, []int64{a1.ID, b1.ID}},
			{"NameIsExact", kiln.JobFilter{Name: "et"}, []int64{}},
			{"Creator", kiln.JobFilter{CreatorID: us[0].ID}, []int64{a1.ID, a2.ID}},
			{"Both", kiln.JobFilter{Name: "etl", CreatorID: us[1].ID}, []int64{b1.ID}},
			{"Limit", kiln.JobFilter{Limit: 2}, []int64{a1.ID, b1.ID}},
			{"Offset", kiln.JobFilter{Offset: 1, Limit: 1}, []int64{b1.ID}},
			{"AfterKey", kiln.JobFilter{AfterCreated: a1.Created, AfterID: a1.ID}, []int64{b1.ID, a2.ID}},
			{"AfterLast", kiln.JobFilter{AfterCreated: a2.Created, AfterID: a2.ID}, []int64{}},
		} {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					js, err := tx.Jobs(c.f)
					if err != nil {
						return err
					}
					if got := jobIDs(js); !slices.Equal(got, c.want) {
						t.Errorf("got %v, want %v", got, c.want)
					}
					return nil
				})
			})
		}
	}},
	{"Jobs/UpdateReplacesNameAndSettings", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		j := newJob("old", alice.ID)
		createJobs(t, s, j)
		update(t, s, func(tx kiln.Tx) error {
			return tx.UpdateJob(&kiln.Job{ID: j.ID, Name: "new", Settings: []byte(`{"name":"new"}`)})
		})
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Job(j.ID)
			if err != nil {
				return err
			}
			if got.Name != "new" || string(got.Settings) != `{"name":"new"}` || got.CreatorID != alice.ID || !got.Created.Equal(j.Created) {
				t.Errorf("after update: %+v", got)
			}
			return nil
		})
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.UpdateJob(&kiln.Job{ID: j.ID + 1, Name: "x"}) })
		wantCode(t, "UpdateJob(missing)", err, kiln.ENotFound)
	}},
	{"Jobs/DeleteRemovesOnlyThatJob", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		j1, j2 := newJob("one", alice.ID), newJob("two", alice.ID)
		createJobs(t, s, j1, j2)
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteJob(j1.ID) })
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.DeleteJob(j1.ID) })
		wantCode(t, "DeleteJob(again)", err, kiln.ENotFound)
		view(t, s, func(tx kiln.Tx) error {
			js, err := tx.Jobs(kiln.JobFilter{})
			if err != nil {
				return err
			}
			if got := jobIDs(js); !slices.Equal(got, []int64{j2.ID}) {
				t.Errorf("after delete: %v, want [%d]", got, j2.ID)
			}
			return nil
		})
	}},
}
