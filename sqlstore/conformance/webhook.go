package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

func newWebhook(id string, events ...string) *kiln.Webhook {
	return &kiln.Webhook{ID: id, URL: "https://hooks.example.com/" + id, Events: events,
		SealedSecret: []byte("sealed\x00" + id), CreatedByName: "admin@example.com"}
}

// deliveriesOf returns the webhook's deliveries, newest first.
func deliveriesOf(t *testing.T, s kiln.Store, webhookID string) []*kiln.WebhookDelivery {
	t.Helper()
	var ds []*kiln.WebhookDelivery
	view(t, s, func(tx kiln.Tx) error {
		var err error
		ds, err = tx.WebhookDeliveries(kiln.WebhookDeliveryFilter{WebhookID: webhookID})
		return err
	})
	return ds
}

// claimDeliveries claims up to limit deliveries due at now, leased for a minute.
func claimDeliveries(t *testing.T, s kiln.Store, now time.Time, limit int) []*kiln.WebhookDelivery {
	t.Helper()
	var ds []*kiln.WebhookDelivery
	update(t, s, func(tx kiln.Tx) error {
		var err error
		ds, err = tx.ClaimDeliveries(now, now.Add(time.Minute), limit)
		return err
	})
	return ds
}

func deliveryIDs(ds []*kiln.WebhookDelivery) []string {
	ids := []string{}
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func finishDelivery(t *testing.T, s kiln.Store, id string, o kiln.DeliveryOutcome) {
	t.Helper()
	update(t, s, func(tx kiln.Tx) error { return tx.FinishDelivery(id, o) })
}

var webhookTests = []test{
	{"Webhooks/CreateRoundTripsAndListsOldestFirst", func(t *testing.T, s kiln.Store) {
		var now time.Time
		for i, id := range []string{"c", "a", "b"} {
			w := newWebhook(id, kiln.EventTokenCreated, kiln.EventPolicyChanged)
			if i > 0 {
				w.Created = t0.Add(time.Duration(i) * time.Second)
			}
			update(t, s, func(tx kiln.Tx) error {
				if i == 0 {
					now = tx.Now()
					w.Created = time.Time{}
				}
				return tx.CreateWebhook(w)
			})
			if i == 0 && !w.Created.Equal(now) {
				t.Errorf("Created written back: %v, want %v", w.Created, now)
			}
		}
		view(t, s, func(tx kiln.Tx) error {
			ws, err := tx.Webhooks()
			var ids []string
			for _, w := range ws {
				ids = append(ids, w.ID)
			}
			if err != nil || !slices.Equal(ids, []string{"a", "b", "c"}) {
				t.Errorf("Webhooks: got %v, %v, want [a b c] (c was created now, after t0)", ids, err)
			}
			got, err := tx.Webhook("a")
			want := newWebhook("a", kiln.EventTokenCreated, kiln.EventPolicyChanged)
			if err != nil || got.URL != want.URL || !slices.Equal(got.Events, want.Events) ||
				!bytes.Equal(got.SealedSecret, want.SealedSecret) || got.CreatedByName != want.CreatedByName || !got.Created.Equal(t0.Add(time.Second)) {
				t.Errorf("Webhook(a): got %+v, %v", got, err)
			}
			_, err = tx.Webhook("nope")
			wantCode(t, "Webhook of a missing id", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Webhooks/DuplicateIDConflictsAndMissingDeleteIsNotFound", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error { return tx.CreateWebhook(newWebhook("a", kiln.EventTokenCreated)) })
		update(t, s, func(tx kiln.Tx) error {
			wantCode(t, "second CreateWebhook", tx.CreateWebhook(newWebhook("a", kiln.EventTokenRevoked)), kiln.EConflict)
			wantCode(t, "DeleteWebhook of a missing id", tx.DeleteWebhook("nope"), kiln.ENotFound)
			return nil
		})
	}},
	{"Webhooks/EnqueueWritesOneDeliveryPerSubscribedWebhook", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			for _, w := range []*kiln.Webhook{newWebhook("a", kiln.EventTokenCreated, kiln.EventTokenRevoked),
				newWebhook("b", kiln.EventTokenRevoked), newWebhook("c", kiln.EventPolicyChanged)} {
				if err := tx.CreateWebhook(w); err != nil {
					return err
				}
			}
			return nil
		})
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			return tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenRevoked, Data: map[string]string{"token_id": "t1"}})
		})
		for _, c := range []struct {
			webhook string
			want    int
		}{{"a", 1}, {"b", 1}, {"c", 0}} {
			ds := deliveriesOf(t, s, c.webhook)
			if len(ds) != c.want {
				t.Fatalf("webhook %s: %d deliveries, want %d", c.webhook, len(ds), c.want)
			}
			for _, d := range ds {
				var body kiln.DeliveryBody
				if err := json.Unmarshal(d.Body, &body); err != nil {
					t.Fatalf("body %q: %v", d.Body, err)
				}
				if d.WebhookID != c.webhook || d.Event != kiln.EventTokenRevoked || d.State != kiln.DeliveryPending || d.Attempts != 0 ||
					!d.NextAttempt.Equal(now) || !d.Created.Equal(now) || !d.Delivered.IsZero() {
					t.Errorf("delivery: got %+v", d)
				}
				if body.DeliveryID != d.ID || body.Event != d.Event || body.Data["token_id"] != "t1" {
					t.Errorf("body %s does not match delivery %s", d.Body, d.ID)
				}
			}
		}
		if a, b := deliveriesOf(t, s, "a"), deliveriesOf(t, s, "b"); a[0].ID == b[0].ID {
			t.Errorf("two deliveries share the id %s", a[0].ID)
		}
	}},
	{"Webhooks/EnqueueWithASeenKeyIsANoOp", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error { return tx.CreateWebhook(newWebhook("a", kiln.EventTokenExpiring)) })
		ev := kiln.Event{Type: kiln.EventTokenExpiring, Key: "token.expiring:t1:7"}
		for range 3 {
			update(t, s, func(tx kiln.Tx) error { return tx.EnqueueEvent(ev) })
		}
		update(t, s, func(tx kiln.Tx) error {
			// Twice in one transaction, and once without a key: no dedupe.
			if err := tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenExpiring, Key: "token.expiring:t1:1"}); err != nil {
				return err
			}
			if err := tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenExpiring, Key: "token.expiring:t1:1"}); err != nil {
				return err
			}
			return tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenExpiring})
		})
		if ds := deliveriesOf(t, s, "a"); len(ds) != 3 {
			t.Errorf("%d deliveries, want 3 (one per distinct key, one without)", len(ds))
		}
	}},
	{"Webhooks/ClaimLeasesSoASecondClaimGetsNothing", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateWebhook(newWebhook("a", kiln.EventTokenCreated)); err != nil {
				return err
			}
			for range 3 {
				if err := tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenCreated}); err != nil {
					return err
				}
			}
			return nil
		})
		now := time.Now().Add(time.Second)
		first := claimDeliveries(t, s, now, 2)
		second := claimDeliveries(t, s, now, 10)
		if len(first) != 2 || len(second) != 1 || slices.Contains(deliveryIDs(first), second[0].ID) {
			t.Fatalf("claims: first %v, second %v; want 2 then the third", deliveryIDs(first), deliveryIDs(second))
		}
		if again := claimDeliveries(t, s, now, 10); len(again) != 0 {
			t.Errorf("claim while leased: got %v, want none", deliveryIDs(again))
		}
		// Once the lease runs out (the claimer died), another may claim.
		if after := claimDeliveries(t, s, now.Add(2*time.Minute), 10); len(after) != 3 {
			t.Errorf("claim after the leases: got %d, want 3", len(after))
		}
	}},
	{"Webhooks/ClaimSkipsNotYetDue", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateWebhook(newWebhook("a", kiln.EventTokenCreated)); err != nil {
				return err
			}
			return tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenCreated})
		})
		if ds := claimDeliveries(t, s, t0, 10); len(ds) != 0 {
			t.Errorf("claim before the delivery was made: got %v, want none", deliveryIDs(ds))
		}
		// DueAt selects exactly what a claim would take, in a read.
		due := func(at time.Time) int {
			var ds []*kiln.WebhookDelivery
			view(t, s, func(tx kiln.Tx) (err error) {
				ds, err = tx.WebhookDeliveries(kiln.WebhookDeliveryFilter{DueAt: at, Limit: 10})
				return err
			})
			return len(ds)
		}
		later := time.Now().Add(time.Second)
		if n := due(t0); n != 0 {
			t.Errorf("due before it was made: %d, want 0", n)
		}
		if n := due(later); n != 1 {
			t.Errorf("due once made: %d, want 1", n)
		}
		claimDeliveries(t, s, later, 10)
		if n := due(later); n != 0 {
			t.Errorf("due while leased: %d, want 0", n)
		}
	}},
	{"Webhooks/FinishRetriesDeliversAndFails", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateWebhook(newWebhook("a", kiln.EventTokenCreated)); err != nil {
				return err
			}
			for range 2 {
				if err := tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenCreated}); err != nil {
					return err
				}
			}
			return nil
		})
		now := time.Now().Add(time.Second)
		ds := claimDeliveries(t, s, now, 10)
		if len(ds) != 2 {
			t.Fatalf("claimed %d, want 2", len(ds))
		}
		ok, bad := ds[0].ID, ds[1].ID
		retry := ms(now.Add(10 * time.Second))
		finishDelivery(t, s, ok, kiln.DeliveryOutcome{Status: 500, Error: "HTTP 500", Retry: retry})
		finishDelivery(t, s, bad, kiln.DeliveryOutcome{Error: "connection refused", Retry: retry})
		if got := claimDeliveries(t, s, now, 10); len(got) != 0 {
			t.Errorf("claim before the retry is due: got %v", deliveryIDs(got))
		}
		if got := claimDeliveries(t, s, retry, 10); len(got) != 2 {
			t.Fatalf("claim when the retry is due: got %d, want 2", len(got))
		}
		var at time.Time
		update(t, s, func(tx kiln.Tx) error {
			at = tx.Now()
			return tx.FinishDelivery(ok, kiln.DeliveryOutcome{Delivered: true, Status: 204})
		})
		finishDelivery(t, s, bad, kiln.DeliveryOutcome{Status: 0, Error: "timeout"})
		// A late finish of a finished delivery (another replica's, after
		// its lease ran out) changes nothing.
		finishDelivery(t, s, ok, kiln.DeliveryOutcome{Status: 500, Error: "late", Retry: retry})
		byID := map[string]*kiln.WebhookDelivery{}
		for _, d := range deliveriesOf(t, s, "a") {
			byID[d.ID] = d
		}
		if d := byID[ok]; d.State != kiln.DeliveryDelivered || d.Attempts != 2 || d.LastStatus != 204 || d.LastError != "" || !d.Delivered.Equal(at) {
			t.Errorf("delivered: got %+v", d)
		}
		if d := byID[bad]; d.State != kiln.DeliveryFailed || d.Attempts != 2 || d.LastStatus != 0 || d.LastError != "timeout" || !d.Delivered.IsZero() {
			t.Errorf("failed: got %+v", d)
		}
		if got := claimDeliveries(t, s, retry.Add(time.Hour), 10); len(got) != 0 {
			t.Errorf("finished deliveries claimed again: %v", deliveryIDs(got))
		}
		update(t, s, func(tx kiln.Tx) error {
			wantCode(t, "FinishDelivery of a missing id", tx.FinishDelivery("nope", kiln.DeliveryOutcome{Delivered: true}), kiln.ENotFound)
			return nil
		})
	}},
	{"Webhooks/DeliveriesNewestFirstLimitedAndGoWithTheirWebhook", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			for _, id := range []string{"a", "b"} {
				if err := tx.CreateWebhook(newWebhook(id, kiln.EventPolicyChanged)); err != nil {
					return err
				}
			}
			return nil
		})
		for i := range 3 {
			update(t, s, func(tx kiln.Tx) error {
				return tx.EnqueueEvent(kiln.Event{Type: kiln.EventPolicyChanged, Data: map[string]string{"n": fmt.Sprint(i)}})
			})
		}
		ds := deliveriesOf(t, s, "a")
		var ns []string
		for _, d := range ds {
			var body kiln.DeliveryBody
			json.Unmarshal(d.Body, &body)
			ns = append(ns, body.Data["n"])
		}
		if !slices.Equal(ns, []string{"2", "1", "0"}) {
			t.Errorf("deliveries of a: got %v, want newest first [2 1 0]", ns)
		}
		view(t, s, func(tx kiln.Tx) error {
			all, err := tx.WebhookDeliveries(kiln.WebhookDeliveryFilter{})
			if err != nil || len(all) != 6 {
				t.Errorf("every webhook's deliveries: got %d, %v, want 6", len(all), err)
			}
			two, err := tx.WebhookDeliveries(kiln.WebhookDeliveryFilter{WebhookID: "a", Limit: 2})
			if err != nil || len(two) != 2 || two[0].ID != ds[0].ID {
				t.Errorf("limit 2: got %v, %v", deliveryIDs(two), err)
			}
			return nil
		})
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteWebhook("a") })
		if ds := deliveriesOf(t, s, "a"); len(ds) != 0 {
			t.Errorf("deliveries of a deleted webhook: %d, want none", len(ds))
		}
		if ds := deliveriesOf(t, s, "b"); len(ds) != 3 {
			t.Errorf("deliveries of b after deleting a: %d, want 3", len(ds))
		}
	}},
	{"Webhooks/PruneKeepsPendingAndRecent", func(t *testing.T, s kiln.Store) {
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateWebhook(newWebhook("a", kiln.EventTokenCreated)); err != nil {
				return err
			}
			for _, key := range []string{"k1", "k2", "k3"} {
				if err := tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenCreated, Key: key}); err != nil {
					return err
				}
			}
			return nil
		})
		now := time.Now().Add(time.Second)
		ds := claimDeliveries(t, s, now, 10)
		finishDelivery(t, s, ds[0].ID, kiln.DeliveryOutcome{Delivered: true, Status: 200})
		finishDelivery(t, s, ds[1].ID, kiln.DeliveryOutcome{Status: 500, Error: "x"}) // failed
		var n int
		update(t, s, func(tx kiln.Tx) (err error) { n, err = tx.PruneWebhooks(t0); return err })
		if n != 0 || len(deliveriesOf(t, s, "a")) != 3 {
			t.Errorf("prune before everything: %d rows, %d deliveries left; want 0 and 3", n, len(deliveriesOf(t, s, "a")))
		}
		update(t, s, func(tx kiln.Tx) (err error) { n, err = tx.PruneWebhooks(now.Add(time.Minute)); return err })
		left := deliveriesOf(t, s, "a")
		if n != 5 || len(left) != 1 || left[0].ID != ds[2].ID {
			t.Errorf("prune after everything: %d rows (want 2 deliveries + 3 keys), left %v (want the pending %s)", n, deliveryIDs(left), ds[2].ID)
		}
		// The keys went too: the same key enqueues again.
		update(t, s, func(tx kiln.Tx) error { return tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenCreated, Key: "k1"}) })
		if got := len(deliveriesOf(t, s, "a")); got != 2 {
			t.Errorf("a pruned key enqueued %d deliveries in all, want 2", got)
		}
	}},
	{"Webhooks/WritesFailInAView", func(t *testing.T, s kiln.Store) {
		view(t, s, func(tx kiln.Tx) error {
			wantCode(t, "EnqueueEvent in a View", tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenCreated}), kiln.EInternal)
			_, err := tx.ClaimDeliveries(t0, t0, 1)
			wantCode(t, "ClaimDeliveries in a View", err, kiln.EInternal)
			return nil
		})
	}},
}
