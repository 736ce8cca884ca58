package conformance

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

var auditTests = []test{
	{"Audit/AppendFillsTimeCountAndID", func(t *testing.T, s kiln.Store) {
		ev := kiln.AuditEvent{Action: kiln.AuditTokenCreate, ActorID: 7, ActorName: "alice@example.com",
			Target: "token:" + tokenID(1), RemoteAddr: "192.0.2.1", Detail: map[string]string{"comment": "ci", "lifetime": "90d"}}
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			return tx.Audit(ev)
		})
		view(t, s, func(tx kiln.Tx) error {
			evs, err := tx.AuditEvents(kiln.AuditFilter{})
			if err != nil || len(evs) != 1 {
				t.Fatalf("AuditEvents: got %d, %v, want 1 event", len(evs), err)
			}
			got := evs[0]
			if got.ID <= 0 || !got.Time.Equal(now) || got.Count != 1 {
				t.Errorf("got id %d time %v count %d, want id > 0 time %v count 1", got.ID, got.Time, got.Count, now)
			}
			if got.Action != ev.Action || got.ActorID != ev.ActorID || got.ActorName != ev.ActorName ||
				got.Target != ev.Target || got.RemoteAddr != ev.RemoteAddr || !maps.Equal(got.Detail, ev.Detail) {
				t.Errorf("got %+v, want %+v", got, ev)
			}
			return nil
		})
	}},
	{"Audit/KeepsGivenTimeAndCount", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			return tx.Audit(kiln.AuditEvent{Time: t0, Action: kiln.AuditTokenDenied, ActorName: "kiln", Count: 42})
		})
		view(t, s, func(tx kiln.Tx) error {
			evs, err := tx.AuditEvents(kiln.AuditFilter{})
			if err != nil || len(evs) != 1 {
				t.Fatalf("AuditEvents: got %d, %v, want 1 event", len(evs), err)
			}
			if !evs[0].Time.Equal(t0) || evs[0].Count != 42 {
				t.Errorf("got time %v count %d, want %v 42", evs[0].Time, evs[0].Count, t0)
			}
			return nil
		})
	}},
	{"Audit/FiltersSelectNewestFirst", func(t *testing.T, s kiln.Store) {
		// Appended in time order; targets name them.
		events := []kiln.AuditEvent{
			{Time: t0, Action: kiln.AuditLogin, ActorName: "alice", Target: "e1"},
			{Time: t0.Add(1 * time.Minute), Action: kiln.AuditTokenCreate, ActorName: "alice", Target: "e2"},
			{Time: t0.Add(2 * time.Minute), Action: kiln.AuditTokenCreate, ActorName: "bob", Target: "e3"},
			{Time: t0.Add(3 * time.Minute), Action: kiln.AuditTokenRevoke, ActorName: "alice", Target: "e4"},
			{Time: t0.Add(4 * time.Minute), Action: kiln.AuditTokenCreate, ActorName: "alice", Target: "e5"},
		}
		update(t, s, func(tx kiln.Tx) error {
			for _, ev := range events {
				if err := tx.Audit(ev); err != nil {
					return err
				}
			}
			return nil
		})
		for _, c := range []struct {
			name string
			f    kiln.AuditFilter
			want []string
		}{
			{"All", kiln.AuditFilter{}, []string{"e5", "e4", "e3", "e2", "e1"}},
			{"ByAction", kiln.AuditFilter{Action: kiln.AuditTokenCreate}, []string{"e5", "e3", "e2"}},
			{"ByActor", kiln.AuditFilter{ActorName: "alice"}, []string{"e5", "e4", "e2", "e1"}},
			{"ByActionAndActor", kiln.AuditFilter{Action: kiln.AuditTokenCreate, ActorName: "bob"}, []string{"e3"}},
			{"SinceIsInclusive", kiln.AuditFilter{Since: t0.Add(3 * time.Minute)}, []string{"e5", "e4"}},
			{"UntilIsExclusive", kiln.AuditFilter{Until: t0.Add(2 * time.Minute)}, []string{"e2", "e1"}},
			{"Window", kiln.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(4 * time.Minute)}, []string{"e4", "e3", "e2"}},
			{"Limit", kiln.AuditFilter{Limit: 2}, []string{"e5", "e4"}},
			{"NoMatch", kiln.AuditFilter{Action: kiln.AuditLoginFailed}, []string{}},
		} {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					evs, err := tx.AuditEvents(c.f)
					if err != nil {
						t.Fatalf("AuditEvents: %v", err)
					}
					if got := targets(evs); !slices.Equal(got, c.want) {
						t.Errorf("got %v, want %v", got, c.want)
					}
					return nil
				})
			})
		}
	}},
	{"Audit/BeforeIDPagesBackwards", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			for _, target := range []string{"e1", "e2", "e3", "e4", "e5"} {
				if err := tx.Audit(kiln.AuditEvent{Action: kiln.AuditLogin, Target: target}); err != nil {
					return err
				}
			}
			return nil
		})
		var pages [][]string
		before := int64(0)
		for range 5 {
			var evs []kiln.AuditEvent
			view(t, s, func(tx kiln.Tx) error {
				var err error
				evs, err = tx.AuditEvents(kiln.AuditFilter{BeforeID: before, Limit: 2})
				return err
			})
			if len(evs) == 0 {
				break
			}
			pages = append(pages, targets(evs))
			before = evs[len(evs)-1].ID
		}
		want := [][]string{{"e5", "e4"}, {"e3", "e2"}, {"e1"}}
		if !slices.EqualFunc(pages, want, slices.Equal) {
			t.Errorf("pages: got %v, want %v", pages, want)
		}
	}},
	{"Audit/LimitDefaultsTo100AndCapsAt1000", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			for range 1001 {
				if err := tx.Audit(kiln.AuditEvent{Action: kiln.AuditTokenDenied}); err != nil {
					return err
				}
			}
			return nil
		})
		for _, c := range []struct {
			name  string
			limit int
			want  int
		}{
			{"Default", 0, 100},
			{"Negative", -1, 100},
			{"Given", 250, 250},
			{"Max", 1000, 1000},
			{"Capped", 5000, 1000},
		} {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(tx kiln.Tx) error {
					evs, err := tx.AuditEvents(kiln.AuditFilter{Limit: c.limit})
					if err != nil {
						t.Fatalf("AuditEvents: %v", err)
					}
					if len(evs) != c.want {
						t.Errorf("got %d events, want %d", len(evs), c.want)
					}
					return nil
				})
			})
		}
	}},
}

func targets(evs []kiln.AuditEvent) []string {
	out := []string{}
	for _, ev := range evs {
		out = append(out, ev.Target)
	}
	return out
}
