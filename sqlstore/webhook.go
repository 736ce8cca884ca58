package sqlstore

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/kiln-dev/kiln"
)

func webhookNotFound(id string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Webhook %s does not exist.", id)
}

const webhookCols = `id, url, events, secret, created_by, created_at`

func scanWebhook(r scanner) (*kiln.Webhook, error) {
	w := &kiln.Webhook{}
	var events string
	var created int64
	if err := r.Scan(&w.ID, &w.URL, &events, &w.SealedSecret, &w.CreatedByName, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, err
	}
	w.Created = kiln.TimeOfMillis(created)
	return w, nil
}

// CreateWebhook inserts w. See [kiln.WebhookTx].
func (t *tx) CreateWebhook(w *kiln.Webhook) error {
	const op = "create webhook"
	if err := t.writable(op); err != nil {
		return err
	}
	created := w.Created
	if created.IsZero() {
		created = t.now
	}
	if _, err := t.exec(`INSERT INTO webhooks (`+webhookCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		w.ID, w.URL, addressesJSON(w.Events), w.SealedSecret, w.CreatedByName, kiln.MillisOf(created)); err != nil {
		return t.fail(op, err, nil, kiln.Errorf(kiln.EConflict, "Webhook %s already exists.", w.ID))
	}
	w.Created = created
	return nil
}

// Webhooks returns every webhook, oldest first.
func (t *tx) Webhooks() ([]*kiln.Webhook, error) {
	return collect(t, "list webhooks", `SELECT `+webhookCols+` FROM webhooks ORDER BY created_at, id`, scanWebhook)
}

// Webhook returns the webhook with id.
func (t *tx) Webhook(id string) (*kiln.Webhook, error) {
	w, err := scanWebhook(t.queryRow(`SELECT `+webhookCols+` FROM webhooks WHERE id = ?`, id))
	if err != nil {
		return nil, t.fail("read webhook", err, webhookNotFound(id), nil)
	}
	return w, nil
}

// DeleteWebhook removes the webhook; its deliveries go by the foreign
// key's cascade.
func (t *tx) DeleteWebhook(id string) error {
	const op = "delete webhook"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, webhookNotFound(id), `DELETE FROM webhooks WHERE id = ?`, id)
}

// EnqueueEvent writes ev's deliveries. See [kiln.WebhookTx].
func (t *tx) EnqueueEvent(ev kiln.Event) error {
	const op = "enqueue webhook event"
	if err := t.writable(op); err != nil {
		return err
	}
	if ev.Key != "" {
		res, err := t.exec(`INSERT INTO webhook_event_keys (key, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, ev.Key, t.now.UnixMilli())
		if err != nil {
			return t.fail(op, err, nil, nil)
		}
		if n, err := res.RowsAffected(); err != nil {
			return t.fail(op, err, nil, nil)
		} else if n == 0 {
			return nil // enqueued before
		}
	}
	ws, err := t.Webhooks()
	if err != nil {
		return err
	}
	for _, w := range ws {
		if !w.Subscribes(ev.Type) {
			continue
		}
		d := ev.NewDelivery(w.ID, t.now)
		if _, err := t.exec(`INSERT INTO webhook_deliveries (id, webhook_id, event, body, state, next_attempt, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.WebhookID, d.Event, d.Body, d.State, d.NextAttempt.UnixMilli(), d.Created.UnixMilli()); err != nil {
			return t.fail(op, err, nil, nil)
		}
	}
	return nil
}

const deliveryCols = `id, webhook_id, event, body, state, attempts, next_attempt, last_status, last_error, created_at, delivered_at`

func scanDelivery(r scanner) (*kiln.WebhookDelivery, error) {
	d := &kiln.WebhookDelivery{}
	var next, created int64
	var delivered sql.NullInt64
	if err := r.Scan(&d.ID, &d.WebhookID, &d.Event, &d.Body, &d.State, &d.Attempts, &next,
		&d.LastStatus, &d.LastError, &created, &delivered); err != nil {
		return nil, err
	}
	d.NextAttempt, d.Created, d.Delivered = kiln.TimeOfMillis(next), kiln.TimeOfMillis(created), timeOfNull(delivered)
	return d, nil
}

// deliveries runs a SELECT of deliveryCols and scans every row.
func (t *tx) deliveries(op, query string, args ...any) ([]*kiln.WebhookDelivery, error) {
	return collect(t, op, query, scanDelivery, args...)
}

// ClaimDeliveries leases due deliveries. Updates run one at a time on
// every dialect (see queue.go), so the SELECT and the lease's UPDATE see
// no concurrent claim in between.
func (t *tx) ClaimDeliveries(now, leaseUntil time.Time, limit int) ([]*kiln.WebhookDelivery, error) {
	const op = "claim webhook deliveries"
	if err := t.writable(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []*kiln.WebhookDelivery{}, nil
	}
	ds, err := t.deliveries(op, `SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE state = 'pending' AND next_attempt <= ? AND lease_until <= ?
		ORDER BY next_attempt, seq LIMIT ?`, now.UnixMilli(), now.UnixMilli(), limit)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if _, err := t.exec(`UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?`, leaseUntil.UnixMilli(), d.ID); err != nil {
			return nil, t.fail(op, err, nil, nil)
		}
	}
	return ds, nil
}

// FinishDelivery records an attempt's outcome. See [kiln.WebhookTx].
func (t *tx) FinishDelivery(id string, o kiln.DeliveryOutcome) error {
	const op = "finish webhook delivery"
	if err := t.writable(op); err != nil {
		return err
	}
	notFound := kiln.Errorf(kiln.ENotFound, "Webhook delivery %s does not exist.", id)
	var state string
	if err := t.queryRow(`SELECT state FROM webhook_deliveries WHERE id = ?`, id).Scan(&state); err != nil {
		return t.fail(op, err, notFound, nil)
	}
	if state != kiln.DeliveryPending {
		return nil
	}
	var delivered any
	next := int64(0)
	switch {
	case o.Delivered:
		state, delivered, o.Error = kiln.DeliveryDelivered, t.now.UnixMilli(), ""
	case o.Retry.IsZero():
		state = kiln.DeliveryFailed
	default:
		next = o.Retry.UnixMilli()
	}
	if next == 0 {
		// Finished: next_attempt keeps its last value.
		return t.execOne(op, notFound, `UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, lease_until = 0,
			last_status = ?, last_error = ?, delivered_at = ? WHERE id = ?`, state, o.Status, o.Error, delivered, id)
	}
	return t.execOne(op, notFound, `UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = 0,
		next_attempt = ?, last_status = ?, last_error = ? WHERE id = ?`, next, o.Status, o.Error, id)
}

// WebhookDeliveries returns deliveries, newest first.
func (t *tx) WebhookDeliveries(f kiln.WebhookDeliveryFilter) ([]*kiln.WebhookDelivery, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var conds []string
	var args []any
	if f.WebhookID != "" {
		conds, args = append(conds, `webhook_id = ?`), append(args, f.WebhookID)
	}
	if !f.DueAt.IsZero() {
		at := f.DueAt.UnixMilli()
		conds, args = append(conds, `state = 'pending' AND next_attempt <= ? AND lease_until <= ?`), append(args, at, at)
	}
	return t.deliveries("list webhook deliveries", `SELECT `+deliveryCols+` FROM webhook_deliveries`+whereClause(conds)+
		` ORDER BY seq DESC LIMIT ?`, append(args, limit)...)
}

// PruneWebhooks deletes finished deliveries and deduplication keys older
// than before. See [kiln.WebhookTx].
func (t *tx) PruneWebhooks(before time.Time) (int, error) {
	const op = "prune webhook deliveries"
	if err := t.writable(op); err != nil {
		return 0, err
	}
	n := 0
	for _, q := range []string{
		`DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < ?`,
		`DELETE FROM webhook_event_keys WHERE created_at < ?`,
	} {
		res, err := t.exec(q, before.UnixMilli())
		if err != nil {
			return 0, internal(op, err)
		}
		m, _ := res.RowsAffected()
		n += int(m)
	}
	return n, nil
}
