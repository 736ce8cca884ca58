package api

import (
	"net/http"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// webhookRequest is the body of POST /api/kiln/v1/webhooks.
type webhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret"`
}

// webhookJSON is a webhook as the API shows it: never its secret.
type webhookJSON struct {
	WebhookID   string   `json:"webhook_id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	CreatedBy   string   `json:"created_by"`
	CreatedTime int64    `json:"created_time"`
}

func webhookOf(w *kiln.Webhook) webhookJSON {
	return webhookJSON{w.ID, w.URL, w.Events, w.CreatedByName, kiln.MillisOf(w.Created)}
}

// deliveryJSON is one delivery's state.
type deliveryJSON struct {
	DeliveryID    string `json:"delivery_id"`
	WebhookID     string `json:"webhook_id"`
	Event         string `json:"event"`
	State         string `json:"state"`
	Attempts      int    `json:"attempts"`
	LastStatus    int    `json:"last_status,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	CreatedTime   int64  `json:"created_time"`
	NextAttempt   int64  `json:"next_attempt_time,omitempty"`
	DeliveredTime int64  `json:"delivered_time,omitempty"`
}

func deliveriesJSON(ds []*kiln.WebhookDelivery) []deliveryJSON {
	out := make([]deliveryJSON, 0, len(ds))
	for _, d := range ds {
		j := deliveryJSON{d.ID, d.WebhookID, d.Event, d.State, d.Attempts, d.LastStatus, d.LastError,
			kiln.MillisOf(d.Created), 0, kiln.MillisOf(d.Delivered)}
		if d.State == kiln.DeliveryPending {
			j.NextAttempt = kiln.MillisOf(d.NextAttempt)
		}
		out = append(out, j)
	}
	return out
}

// createWebhook serves POST /api/kiln/v1/webhooks (admins).
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var req webhookRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	hook, err := s.svc.CreateWebhook(r.Context(), service.NewWebhook{URL: req.URL, Events: req.Events, Secret: req.Secret})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookOf(hook))
	return nil
}

// listWebhooks serves GET /api/kiln/v1/webhooks (admins).
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := s.svc.ListWebhooks(r.Context())
	if err != nil {
		return err
	}
	out := make([]webhookJSON, 0, len(hooks))
	for _, h := range hooks {
		out = append(out, webhookOf(h))
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
	return nil
}

// deleteWebhook serves DELETE /api/kiln/v1/webhooks/{id} (admins).
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

// listDeliveries serves GET /api/kiln/v1/webhooks/{id}/deliveries
// (admins): the newest deliveries, at most limit (default 100, ≤ 1000).
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r)
	if err != nil {
		return err
	}
	limit, err := p.limit()
	if err != nil {
		return err
	}
	ds, err := s.svc.WebhookDeliveries(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": deliveriesJSON(ds)})
	return nil
}
