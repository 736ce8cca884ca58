package conformance

import (
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// newCluster returns an unsaved PENDING cluster created at t0+offset.
func newCluster(id string, creator int64, offset time.Duration) *kiln.Cluster {
	return &kiln.Cluster{ID: id, Name: "c-" + id, CreatorID: creator, Spec: []byte(`{"spark_version":"15.4.x-scala2.12"}`),
		State: kiln.ClusterPending, Created: t0.Add(offset)}
}

func eventTypes(es []kiln.ClusterEvent) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

var clusterTests = []test{
	{"Clusters/CreateReadsBackEveryField", func(t *testing.T, s kiln.Store) {
		alice := createUsers(t, s, "alice@example.com")[0]
		c := newCluster("0101-000000-aaaaaaaa", alice.ID, 0)
		c.StateMessage, c.Pinned, c.AutoterminationMinutes = "Starting", true, 60
		c.Started, c.Terminated, c.LastActivity = t0.Add(time.Second), t0.Add(2*time.Second), t0.Add(3*time.Second)
		c.TerminationReason = []byte(`{"code":"USER_REQUEST"}`)
		update(t, s, func(tx kiln.Tx) error { return tx.CreateCluster(c) })
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Cluster(c.ID)
			if err != nil {
				return err
			}
			if got.Name != c.Name || got.CreatorID != alice.ID || got.CreatorName != alice.UserName ||
				string(got.Spec) != string(c.Spec) || got.State != kiln.ClusterPending || got.StateMessage != "Starting" ||
				string(got.TerminationReason) != string(c.TerminationReason) || !got.Pinned || got.AutoterminationMinutes != 60 ||
				!got.Created.Equal(t0) || !got.StateSince.Equal(t0) || !got.Started.Equal(c.Started) ||
				!got.Terminated.Equal(c.Terminated) || !got.LastActivity.Equal(c.LastActivity) {
				t.Errorf("Cluster: got %+v, want %+v", got, c)
			}
			if _, err := tx.Cluster("0101-000000-missing0"); !kiln.IsCode(err, kiln.ENotFound) {
				t.Errorf("missing cluster: got %v, want ENotFound", err)
			}
			return nil
		})
	}},
	{"Clusters/NeverTimesReadAsZero", func(t *testing.T, s kiln.Store) {
		c := newCluster("0101-000000-bbbbbbbb", 1, 0)
		update(t, s, func(tx kiln.Tx) error { return tx.CreateCluster(c) })
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Cluster(c.ID)
			if err != nil {
				return err
			}
			if !got.Started.IsZero() || !got.Terminated.IsZero() || !got.LastActivity.IsZero() || got.TerminationReason != nil {
				t.Errorf("never-set fields: %+v", got)
			}
			return nil
		})
	}},
	{"Clusters/DuplicateIDConflicts", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error { return tx.CreateCluster(newCluster("0101-000000-cccccccc", 1, 0)) })
		err := s.Update(t.Context(), func(tx kiln.Tx) error { return tx.CreateCluster(newCluster("0101-000000-cccccccc", 1, 0)) })
		if !kiln.IsCode(err, kiln.EConflict) {
			t.Errorf("duplicate id: got %v, want EConflict", err)
		}
	}},
	{"Clusters/ListOldestFirst", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			for i, id := range []string{"0101-000000-zzzzzzzz", "0101-000000-yyyyyyyy", "0101-000000-xxxxxxxx"} {
				if err := tx.CreateCluster(newCluster(id, 1, time.Duration(i)*time.Second)); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, s, func(tx kiln.Tx) error {
			cs, err := tx.Clusters()
			if err != nil {
				return err
			}
			var ids []string
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			if !slices.Equal(ids, []string{"0101-000000-zzzzzzzz", "0101-000000-yyyyyyyy", "0101-000000-xxxxxxxx"}) {
				t.Errorf("Clusters: %v", ids)
			}
			return nil
		})
	}},
	{"Clusters/UpdateReplacesStateAndSpec", func(t *testing.T, s kiln.Store) {
		c := newCluster("0101-000000-dddddddd", 1, 0)
		update(t, s, func(tx kiln.Tx) error { return tx.CreateCluster(c) })
		c.Name, c.Spec, c.State, c.StateSince = "renamed", []byte(`{"num_workers":2}`), kiln.ClusterTerminated, t0.Add(time.Minute)
		c.TerminationReason, c.Terminated = []byte(`{"code":"INACTIVITY"}`), t0.Add(time.Minute)
		update(t, s, func(tx kiln.Tx) error { return tx.UpdateCluster(c) })
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Cluster(c.ID)
			if err != nil {
				return err
			}
			if got.Name != "renamed" || string(got.Spec) != `{"num_workers":2}` || got.State != kiln.ClusterTerminated ||
				!got.StateSince.Equal(c.StateSince) || !got.Terminated.Equal(c.Terminated) || !got.Created.Equal(t0) ||
				string(got.TerminationReason) != `{"code":"INACTIVITY"}` {
				t.Errorf("after update: %+v", got)
			}
			return nil
		})
		err := s.Update(t.Context(), func(tx kiln.Tx) error { return tx.UpdateCluster(newCluster("0101-000000-missing0", 1, 0)) })
		if !kiln.IsCode(err, kiln.ENotFound) {
			t.Errorf("update of a missing cluster: got %v, want ENotFound", err)
		}
	}},
	{"Clusters/EventsFilterOrderPageAndCount", func(t *testing.T, s kiln.Store) {
		id := "0101-000000-eeeeeeee"
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateCluster(newCluster(id, 1, 0)); err != nil {
				return err
			}
			var last int64
			for i, ty := range []string{"CREATING", "RUNNING", "RESTARTING", "RUNNING", "TERMINATING"} {
				e := &kiln.ClusterEvent{ClusterID: id, Time: t0.Add(time.Duration(i) * time.Second), Type: ty, Details: []byte(`{"i":1}`)}
				if err := tx.AddClusterEvent(e); err != nil {
					return err
				}
				if e.Seq <= last {
					t.Errorf("event seq %d after %d", e.Seq, last)
				}
				last = e.Seq
			}
			return nil
		})
		view(t, s, func(tx kiln.Tx) error {
			for _, c := range []struct {
				name  string
				f     kiln.ClusterEventFilter
				want  []string
				total int
			}{
				{"All", kiln.ClusterEventFilter{ClusterID: id}, []string{"CREATING", "RUNNING", "RESTARTING", "RUNNING", "TERMINATING"}, 5},
				{"Descending", kiln.ClusterEventFilter{ClusterID: id, Descending: true, Limit: 2}, []string{"TERMINATING", "RUNNING"}, 5},
				{"Offset", kiln.ClusterEventFilter{ClusterID: id, Offset: 3}, []string{"RUNNING", "TERMINATING"}, 5},
				{"Types", kiln.ClusterEventFilter{ClusterID: id, Types: []string{"RUNNING", "CREATING"}}, []string{"CREATING", "RUNNING", "RUNNING"}, 3},
				{"TimeRangeInclusive", kiln.ClusterEventFilter{ClusterID: id, Start: t0.Add(time.Second), End: t0.Add(2 * time.Second)}, []string{"RUNNING", "RESTARTING"}, 2},
				{"OtherCluster", kiln.ClusterEventFilter{ClusterID: "0101-000000-other000"}, []string{}, 0},
			} {
				es, total, err := tx.ClusterEvents(c.f)
				if err != nil {
					return err
				}
				if got := eventTypes(es); !slices.Equal(got, c.want) || total != c.total {
					t.Errorf("%s: got %v (total %d), want %v (total %d)", c.name, got, total, c.want, c.total)
				}
			}
			es, _, _ := tx.ClusterEvents(kiln.ClusterEventFilter{ClusterID: id, Limit: 1})
			if len(es) != 1 || es[0].ClusterID != id || !es[0].Time.Equal(t0) || string(es[0].Details) != `{"i":1}` {
				t.Errorf("first event: %+v", es)
			}
			return nil
		})
	}},
	{"Clusters/EventOfMissingClusterNotFound", func(t *testing.T, s kiln.Store) {
		err := s.Update(t.Context(), func(tx kiln.Tx) error {
			return tx.AddClusterEvent(&kiln.ClusterEvent{ClusterID: "0101-000000-missing0", Type: "CREATING"})
		})
		if !kiln.IsCode(err, kiln.ENotFound) {
			t.Errorf("event of a missing cluster: got %v, want ENotFound", err)
		}
	}},
	{"Clusters/DeleteTakesEvents", func(t *testing.T, s kiln.Store) {
		id := "0101-000000-ffffffff"
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateCluster(newCluster(id, 1, 0)); err != nil {
				return err
			}
			return tx.AddClusterEvent(&kiln.ClusterEvent{ClusterID: id, Type: "CREATING"})
		})
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteCluster(id) })
		view(t, s, func(tx kiln.Tx) error {
			if _, err := tx.Cluster(id); !kiln.IsCode(err, kiln.ENotFound) {
				t.Errorf("deleted cluster: got %v, want ENotFound", err)
			}
			if es, total, err := tx.ClusterEvents(kiln.ClusterEventFilter{ClusterID: id}); err != nil || len(es) != 0 || total != 0 {
				t.Errorf("events of a deleted cluster: %v, %d, %v", es, total, err)
			}
			return nil
		})
		err := s.Update(t.Context(), func(tx kiln.Tx) error { return tx.DeleteCluster(id) })
		if !kiln.IsCode(err, kiln.ENotFound) {
			t.Errorf("second delete: got %v, want ENotFound", err)
		}
	}},
}
