package kiln

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Webhook event types: what a webhook subscribes to, sent as the
// X-Kiln-Event header and the body's "event".
const (
	// EventTokenCreated: a personal access token was minted.
	EventTokenCreated = "token.created"
	// EventTokenRotated: a token was replaced by a new one.
	EventTokenRotated = "token.rotated"
	// EventTokenRevoked: a token was revoked.
	EventTokenRevoked = "token.revoked"
	// EventTokenExpiring: a token expires in 14, 7 or 1 days.
	EventTokenExpiring = "token.expiring"
	// EventTokenExpired: a token reached its expiry.
	EventTokenExpired = "token.expired"
	// EventTokenNewAddress: a token was used from an address it was not
	// used from before.
	EventTokenNewAddress = "token.new_address"
	// EventPolicyChanged: workspace settings or the token permission list
	// changed.
	EventPolicyChanged = "policy.changed"
)

// EventTypes lists every event type, for validation.
var EventTypes = []string{
	EventTokenCreated, EventTokenRotated, EventTokenRevoked, EventTokenExpiring,
	EventTokenExpired, EventTokenNewAddress, EventPolicyChanged,
}

// Webhook delivery states.
const (
	// DeliveryPending is a delivery not yet acknowledged, due at
	// NextAttempt.
	DeliveryPending = "pending"
	// DeliveryDelivered is a delivery the receiver answered with 2xx.
	DeliveryDelivered = "delivered"
	// DeliveryFailed is a delivery given up after its last attempt.
	DeliveryFailed = "failed"
)

// Audit actions of the webhooks API.
const (
	AuditWebhookCreate = "webhook.create"
	AuditWebhookDelete = "webhook.delete"
)

// WebhookSecretScope is the scope a webhook's secret is sealed under
// (auth.SecretBox), its key being the webhook id. A colon cannot appear in
// a secret scope's name, so no secret's seal opens as a webhook's.
const WebhookSecretScope = "kiln:webhook"

// Event is something that happened, to be delivered to every webhook
// subscribed to its type.
type Event struct {
	// Type is one of EventTypes.
	Type string
	// Key deduplicates: a second EnqueueEvent with the same non-empty Key
	// is a no-op, whichever process makes it (e.g.
	// "token.expiring:<token id>:7", which every replica's sweep finds).
	Key string
	// Data is the body's "data" object. Never a secret or token value.
	Data map[string]string
}

// Webhook is an HTTP endpoint that receives events.
type Webhook struct {
	// ID is random, 32 lowercase hex characters.
	ID  string
	URL string
	// Events are the subscribed event types.
	Events []string
	// SealedSecret is the signing secret sealed with the service's
	// SecretBox (WebhookSecretScope, ID); never the clear secret.
	SealedSecret  []byte
	CreatedByName string
	Created       time.Time
}

// Subscribes reports whether w receives events of type typ.
func (w *Webhook) Subscribes(typ string) bool {
	for _, e := range w.Events {
		if e == typ {
			return true
		}
	}
	return false
}

// WebhookDelivery is one event on its way to one webhook.
type WebhookDelivery struct {
	// ID is random, 32 lowercase hex characters, sent as X-Kiln-Delivery
	// and in the body.
	ID        string
	WebhookID string
	// Event is the event type.
	Event string
	// Body is the exact JSON body, fixed at enqueue so that every attempt
	// sends and signs the same bytes.
	Body []byte
	// State is DeliveryPending, DeliveryDelivered or DeliveryFailed.
	State    string
	Attempts int
	// NextAttempt is when a pending delivery is due.
	NextAttempt time.Time
	// LastStatus is the HTTP status of the last attempt, 0 if it got no
	// answer.
	LastStatus int
	// LastError says why the last attempt failed, "" if it did not.
	LastError string
	Created   time.Time
	// Delivered is zero until the delivery succeeds.
	Delivered time.Time
}

// DeliveryBody is the JSON body of an event's delivery.
type DeliveryBody struct {
	DeliveryID string            `json:"delivery_id"`
	Event      string            `json:"event"`
	CreatedAt  string            `json:"created_at"`
	Data       map[string]string `json:"data"`
}

// NewDelivery returns ev's pending delivery to webhook webhookID at time
// now: a new random id and the body that names it.
func (ev Event) NewDelivery(webhookID string, now time.Time) *WebhookDelivery {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand does not fail on supported platforms
	id := hex.EncodeToString(b[:])
	data := ev.Data
	if data == nil {
		data = map[string]string{}
	}
	body, _ := json.Marshal(DeliveryBody{DeliveryID: id, Event: ev.Type, CreatedAt: now.UTC().Format(time.RFC3339), Data: data}) // strings always marshal
	return &WebhookDelivery{ID: id, WebhookID: webhookID, Event: ev.Type, Body: body, State: DeliveryPending,
		NextAttempt: now, Created: now}
}

// DeliveryOutcome is the result of one delivery attempt.
type DeliveryOutcome struct {
	// Delivered: the receiver answered 2xx.
	Delivered bool
	// Status is the HTTP status, 0 without an answer.
	Status int
	// Error says why the attempt failed ("" when delivered).
	Error string
	// Retry is when to try again; zero (and not Delivered) gives up: the
	// delivery becomes DeliveryFailed.
	Retry time.Time
}

// WebhookDeliveryFilter selects deliveries.
type WebhookDeliveryFilter struct {
	// WebhookID selects one webhook's; "" every webhook's.
	WebhookID string
	// DueAt, when set, selects only the pending, unleased deliveries due
	// at that time (what a claim would take), so a poller can look in a
	// read-only transaction before claiming in a write one.
	DueAt time.Time
	// Limit bounds the answer; 0 is 100.
	Limit int
}

// WebhookTx stores webhooks and their delivery queue.
type WebhookTx interface {
	// CreateWebhook inserts w; a zero Created becomes the transaction
	// time, written back. EConflict if the id exists.
	CreateWebhook(w *Webhook) error
	// Webhooks returns every webhook, oldest first.
	Webhooks() ([]*Webhook, error)
	// Webhook returns the webhook with id, or ENotFound.
	Webhook(id string) (*Webhook, error)
	// DeleteWebhook removes the webhook and its deliveries; ENotFound if
	// there is none.
	DeleteWebhook(id string) error
	// EnqueueEvent writes one pending delivery (ev.NewDelivery) for every
	// webhook subscribed to ev.Type, in this transaction. With a non-empty
	// ev.Key it is a no-op when an event with that key was enqueued
	// before, by any process.
	EnqueueEvent(ev Event) error
	// ClaimDeliveries leases to the caller until leaseUntil, and returns,
	// up to limit pending deliveries due at now whose lease (if any) has
	// run out, the earliest due first. Claims happen in write
	// transactions, so two processes never hold one delivery at once.
	ClaimDeliveries(now, leaseUntil time.Time, limit int) ([]*WebhookDelivery, error)
	// FinishDelivery records an attempt of a pending delivery (attempts
	// counted, lease released): delivered at the transaction time, due
	// again at o.Retry, or failed. A delivery no longer pending (finished
	// by another process) is left alone; ENotFound if there is none.
	FinishDelivery(id string, o DeliveryOutcome) error
	// WebhookDeliveries returns the deliveries the filter selects, newest
	// first.
	WebhookDeliveries(f WebhookDeliveryFilter) ([]*WebhookDelivery, error)
	// PruneWebhooks deletes the finished (delivered or failed) deliveries
	// and the deduplication keys created before before, and returns how
	// many rows went. Pending deliveries stay, however old.
	PruneWebhooks(before time.Time) (int, error)
}
