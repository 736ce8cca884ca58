package console

import (
	"net/http"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// webhooksData is the Webhooks tab: the webhooks, their recent
// deliveries, and the add form with what was typed and what was wrong.
type webhooksData struct {
	Hooks      []webhookRow
	Deliveries []*kiln.WebhookDelivery
	EventTypes []string
	URL        string
	Events     map[string]bool
	Error      string
}

type webhookRow struct {
	*kiln.Webhook
	Delete confirmation
}

func deleteWebhookConfirmation(w *kiln.Webhook) confirmation {
	return confirmation{
		Label: "Delete", Title: "Delete webhook?", Action: "/admin/webhooks/" + w.ID + "/delete", Back: "/admin/webhooks", Danger: true,
		Text: "Delete the webhook to " + w.URL + "? It receives no more events, and its pending deliveries are dropped.",
	}
}

// webhooksPage is Admin Console, Webhooks.
func (c *Console) webhooksPage(w http.ResponseWriter, r *http.Request) error {
	return c.renderWebhooks(w, r, &webhooksData{Events: map[string]bool{}}, http.StatusOK)
}

func (c *Console) renderWebhooks(w http.ResponseWriter, r *http.Request, d *webhooksData, status int) error {
	hooks, err := c.svc.ListWebhooks(r.Context())
	if err != nil {
		return err
	}
	for _, h := range hooks {
		d.Hooks = append(d.Hooks, webhookRow{Webhook: h, Delete: deleteWebhookConfirmation(h)})
	}
	if d.Deliveries, err = c.svc.WebhookDeliveries(r.Context(), "", 50); err != nil {
		return err
	}
	d.EventTypes = kiln.EventTypes
	c.render(w, r, status, "webhooks", &page{Title: "Webhooks", Section: adminSection, Tab: "/admin/webhooks", Data: d})
	return nil
}

// addWebhook registers a webhook from the form. The secret is never put
// back into the page, even when the form is refused.
func (c *Console) addWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return kiln.Errorf(kiln.EInvalid, "The form could not be read.")
	}
	d := &webhooksData{URL: truncate(strings.TrimSpace(r.PostFormValue("url")), 2048), Events: map[string]bool{}}
	for _, e := range r.PostForm["events"] {
		d.Events[e] = true
	}
	_, err := c.svc.CreateWebhook(r.Context(), service.NewWebhook{URL: d.URL, Events: r.PostForm["events"], Secret: r.PostFormValue("secret")})
	switch {
	case err == nil:
		c.redirectWith(w, r, "/admin/webhooks", "ok", "Webhook added. Events are delivered to "+d.URL+".")
		return nil
	case kiln.IsCode(err, kiln.EInvalid):
		d.Error = kiln.ErrorMessage(err)
		return c.renderWebhooks(w, r, d, http.StatusBadRequest)
	}
	return err
}

func (c *Console) confirmDeleteWebhook(w http.ResponseWriter, r *http.Request) error {
	hooks, err := c.svc.ListWebhooks(r.Context())
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if h.ID == r.PathValue("id") {
			c.showConfirmation(w, r, adminSection, "/admin/webhooks", deleteWebhookConfirmation(h))
			return nil
		}
	}
	return kiln.Errorf(kiln.ENotFound, "This webhook does not exist.")
}

func (c *Console) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := c.svc.DeleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		if kiln.IsCode(err, kiln.ENotFound) {
			c.redirectWith(w, r, "/admin/webhooks", "error", "This webhook does not exist.")
			return nil
		}
		return err
	}
	c.redirectWith(w, r, "/admin/webhooks", "ok", "The webhook has been deleted.")
	return nil
}
