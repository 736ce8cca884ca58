package server

import "github.com/kiln-dev/kiln/webhook"

// newDeliverer builds the webhook deliverer over the store, opening
// secrets through the service. Every replica runs one: the store's
// leases let each delivery go out from one of them at a time.
func newDeliverer(p *Parts) *webhook.Deliverer {
	c := webhook.Config{Store: p.Store, Secret: p.Service.WebhookSecret, Log: p.Log}
	if p.Metrics != nil {
		c.OnResult = p.Metrics.WebhookDelivery
	}
	if p.Config.Webhook != nil {
		p.Config.Webhook(&c)
	}
	return webhook.New(c)
}
