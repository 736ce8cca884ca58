package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"

	"github.com/kiln-dev/kiln"
)

// emit enqueues ev for the webhooks subscribed to its type, in tx: the
// delivery is a row written with the change that caused it, so it is
// never lost when the change commits and never sent when it rolls back,
// and the request does not wait for any receiver.
func (s *Service) emit(tx kiln.Tx, ev kiln.Event) error { return tx.EnqueueEvent(ev) }

// policyEvent is the policy.changed event of a change to what (the
// workspace settings, the token permissions): the changed keys and their
// new values, as the audit event has them.
func policyEvent(what string, changes map[string]string) kiln.Event {
	data := map[string]string{"policy": what}
	for k, v := range changes {
		data[k] = v
	}
	return kiln.Event{Type: kiln.EventPolicyChanged, Data: data}
}

// Webhook secret bounds, in bytes.
const (
	MinWebhookSecret = 16
	MaxWebhookSecret = 256
)

// NewWebhook is what an admin registers.
type NewWebhook struct {
	URL    string
	Events []string
	Secret string
}

// CreateWebhook registers a webhook (admins only). The secret is sealed
// at rest and never returned.
func (s *Service) CreateWebhook(ctx context.Context, p NewWebhook) (*kiln.Webhook, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateWebhook(p); err != nil {
		return nil, err
	}
	if s.secrets == nil {
		return nil, kiln.Errorf(kiln.EInternal, "kiln cannot seal secrets.")
	}
	var b [16]byte
	rand.Read(b[:])
	events := slices.Clone(p.Events)
	slices.Sort(events)
	w := &kiln.Webhook{ID: hex.EncodeToString(b[:]), URL: p.URL, Events: slices.Compact(events), CreatedByName: c.Principal.UserName}
	w.SealedSecret = s.secrets.Seal(kiln.WebhookSecretScope, w.ID, []byte(p.Secret))
	err = s.update(ctx, func(tx kiln.Tx) error {
		if err := tx.CreateWebhook(w); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditWebhookCreate, "webhook:"+w.ID)
		ev.Detail = map[string]string{"url": redactURL(w.URL), "events": strings.Join(w.Events, ",")}
		return tx.Audit(ev)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// validateWebhook checks a registration, with messages that say what to
// send instead.
func validateWebhook(p NewWebhook) error {
	u, err := url.Parse(p.URL)
	switch {
	case strings.TrimSpace(p.URL) == "":
		return kiln.Errorf(kiln.EInvalid, "url is required: the http:// or https:// address that receives the events.")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return kiln.Errorf(kiln.EInvalid, "url must be an absolute http:// or https:// URL, such as https://hooks.example.com/kiln.")
	case u.User != nil:
		return kiln.Errorf(kiln.EInvalid, "url must not carry credentials: the receiver checks X-Kiln-Signature instead.")
	case len(p.URL) > 2048:
		return kiln.Errorf(kiln.EInvalid, "url is too long: at most 2048 characters.")
	}
	if len(p.Events) == 0 {
		return kiln.Errorf(kiln.EInvalid, "events is required: a list of event types among %s.", strings.Join(kiln.EventTypes, ", "))
	}
	for _, e := range p.Events {
		if !slices.Contains(kiln.EventTypes, e) {
			return kiln.Errorf(kiln.EInvalid, "events: %q is not an event type; the types are %s.", e, strings.Join(kiln.EventTypes, ", "))
		}
	}
	if n := len(p.Secret); n < MinWebhookSecret || n > MaxWebhookSecret {
		return kiln.Errorf(kiln.EInvalid, "secret must be %d to %d bytes long (it signs every delivery); it is %d.", MinWebhookSecret, MaxWebhookSecret, n)
	}
	return nil
}

// redactURL drops the query of a URL for the audit log: receivers often
// take a token of theirs there.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// ListWebhooks returns every webhook (admins only), without secrets.
func (s *Service) ListWebhooks(ctx context.Context) ([]*kiln.Webhook, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var ws []*kiln.Webhook
	err := s.view(ctx, func(tx kiln.Tx) (err error) { ws, err = tx.Webhooks(); return err })
	for _, w := range ws {
		w.SealedSecret = nil
	}
	return ws, err
}

// DeleteWebhook removes a webhook and its deliveries (admins only).
func (s *Service) DeleteWebhook(ctx context.Context, id string) error {
	c, err := requireAdmin(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx kiln.Tx) error {
		if err := tx.DeleteWebhook(id); err != nil {
			return err
		}
		return tx.Audit(auditEvent(c, kiln.AuditWebhookDelete, "webhook:"+id))
	})
}

// WebhookDeliveries returns the newest deliveries of a webhook, or of
// every webhook for id "" (admins only).
func (s *Service) WebhookDeliveries(ctx context.Context, id string, limit int) ([]*kiln.WebhookDelivery, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var ds []*kiln.WebhookDelivery
	err := s.view(ctx, func(tx kiln.Tx) error {
		if id != "" {
			if _, err := tx.Webhook(id); err != nil {
				return err
			}
		}
		var err error
		ds, err = tx.WebhookDeliveries(kiln.WebhookDeliveryFilter{WebhookID: id, Limit: limit})
		return err
	})
	return ds, err
}

// WebhookSecret opens a webhook's signing secret, for the deliverer.
func (s *Service) WebhookSecret(w *kiln.Webhook) ([]byte, error) {
	if s.secrets == nil {
		return nil, kiln.Errorf(kiln.EInternal, "kiln cannot open secrets.")
	}
	return s.secrets.Open(kiln.WebhookSecretScope, w.ID, w.SealedSecret)
}
