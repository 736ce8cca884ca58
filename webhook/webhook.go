// Package webhook delivers the events kiln enqueues (token.created,
// token.revoked, policy.changed, …) to the webhooks admins register: it
// claims due deliveries from the store's queue with a lease, POSTs each
// signed body to its receiver with a bounded number of workers and a
// timeout, and records the outcome, retrying with exponential backoff.
// Requests that cause events only write a row in their own transaction,
// so a receiver that hangs or fails cannot slow them; the lease keeps two
// replicas from sending one delivery at once.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kiln-dev/kiln"
)

// Headers of a delivery.
const (
	// SignatureHeader is "sha256=" and the hex HMAC-SHA256 of the body
	// with the webhook's secret.
	SignatureHeader = "X-Kiln-Signature"
	// EventHeader is the event type.
	EventHeader = "X-Kiln-Event"
	// DeliveryHeader is the delivery's id, unique, the same on every
	// attempt (receivers deduplicate on it).
	DeliveryHeader = "X-Kiln-Delivery"
)

// Results reported to Config.OnResult.
const (
	ResultDelivered = "delivered"
	ResultRetry     = "retry"
	ResultFailed    = "failed"
)

// Sign returns the X-Kiln-Signature value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Config configures a Deliverer. Store and Secret are required; the
// others have the defaults documented.
type Config struct {
	Store kiln.Store
	// Secret returns a webhook's signing secret in clear (the service
	// unseals it).
	Secret func(w *kiln.Webhook) ([]byte, error)
	// Log receives delivery failures (never a secret); nil discards.
	Log *slog.Logger
	// Poll is how often the queue is read; default 250ms.
	Poll time.Duration
	// Timeout bounds one attempt, connection to last byte; default 5s.
	Timeout time.Duration
	// Workers bounds the attempts in flight; default 4.
	Workers int
	// MaxAttempts is how many attempts a delivery gets before it is
	// failed; default 8 (about four minutes of backoff).
	MaxAttempts int
	// Backoff is the wait before attempt n+1 after n failed ones; default
	// 1s·2^(n-1), at most 10 minutes.
	Backoff func(attempts int) time.Duration
	// OnResult, when set, hears each attempt's result (ResultDelivered,
	// ResultRetry or ResultFailed) by event type: the metrics.
	OnResult func(event, result string)
	// Transport replaces the HTTP transport (tests); nil is a private
	// one with Timeout's deadlines.
	Transport http.RoundTripper
	// Retention is how long finished deliveries (and deduplication keys)
	// are kept for the record; default 30 days. They are pruned hourly.
	Retention time.Duration
}

// Deliverer sends deliveries until its Run ends.
type Deliverer struct {
	c      Config
	client *http.Client
	nudge  chan struct{}
}

// maxResponse bounds what is read of a receiver's answer: only its
// status matters.
const maxResponse = 64 << 10

// New returns a Deliverer for c.
func New(c Config) *Deliverer {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.Retention <= 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.Backoff == nil {
		c.Backoff = func(n int) time.Duration {
			return min(time.Second<<min(max(n-1, 0), 20), 10*time.Minute)
		}
	}
	tr := c.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: c.Timeout}).DialContext,
			TLSHandshakeTimeout:   c.Timeout,
			ResponseHeaderTimeout: c.Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
		}
	}
	return &Deliverer{c: c, nudge: make(chan struct{}, 1), client: &http.Client{
		Transport: tr, Timeout: c.Timeout,
		// A receiver's redirect is its answer, not somewhere else to send
		// a signed body to.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Nudge makes Run look at the queue now rather than at its next poll
// (after a write that enqueued deliveries).
func (d *Deliverer) Nudge() {
	select {
	case d.nudge <- struct{}{}:
	default:
	}
}

// job is a claimed delivery with what sending it needs.
type job struct {
	del    *kiln.WebhookDelivery
	url    string
	secret []byte
}

// Run delivers until ctx ends, then waits for the attempts in flight.
func (d *Deliverer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, d.c.Workers)
	done := make(chan struct{}, d.c.Workers)
	tick := time.NewTicker(d.c.Poll)
	defer tick.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		if free := cap(slots) - len(slots); free > 0 {
			jobs, err := d.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				d.c.Log.Warn("claiming webhook deliveries", "err", err)
			}
			for _, j := range jobs {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.attempt(ctx, j)
					<-slots
					select {
					case done <- struct{}{}:
					default:
					}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-d.nudge:
		case <-done:
		case <-prune.C:
			d.Prune(ctx)
		}
	}
}

// Prune deletes the finished deliveries and deduplication keys older than
// the retention; Run calls it hourly.
func (d *Deliverer) Prune(ctx context.Context) {
	err := d.c.Store.Update(ctx, func(tx kiln.Tx) error {
		_, err := tx.PruneWebhooks(tx.Now().Add(-d.c.Retention))
		return err
	})
	if err != nil && ctx.Err() == nil {
		d.c.Log.Warn("pruning webhook deliveries", "err", err)
	}
}

// claim leases up to n due deliveries, with their webhook's URL and
// secret. A delivery whose secret cannot be opened is failed at once.
func (d *Deliverer) claim(ctx context.Context, n int) ([]job, error) {
	// Look first in a read: an idle queue must not take the store's
	// write lock four times a second.
	var due []*kiln.WebhookDelivery
	err := d.c.Store.View(ctx, func(tx kiln.Tx) (err error) {
		// The store's clock, which stamped the deliveries.
		due, err = tx.WebhookDeliveries(kiln.WebhookDeliveryFilter{DueAt: tx.Now(), Limit: 1})
		return err
	})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	var jobs []job
	var broken []string
	err = d.c.Store.Update(ctx, func(tx kiln.Tx) error {
		now := tx.Now()
		// The lease outlasts one attempt, so a crash mid-attempt only
		// delays the delivery until it runs out.
		ds, err := tx.ClaimDeliveries(now, now.Add(2*d.c.Timeout+time.Second), n)
		if err != nil {
			return err
		}
		hooks := map[string]*kiln.Webhook{}
		jobs, broken = jobs[:0], broken[:0]
		for _, del := range ds {
			w, ok := hooks[del.WebhookID]
			if !ok {
				if w, err = tx.Webhook(del.WebhookID); err != nil {
					return err
				}
				hooks[del.WebhookID] = w
			}
			secret, err := d.c.Secret(w)
			if err != nil {
				d.c.Log.Error("opening a webhook's secret", "webhook", w.ID, "err", err)
				broken = append(broken, del.ID)
				continue
			}
			jobs = append(jobs, job{del: del, url: w.URL, secret: secret})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range broken {
		d.finish(ctx, id, "", kiln.DeliveryOutcome{Error: "kiln could not open the webhook's secret"}, 0)
	}
	return jobs, nil
}

// attempt sends one delivery and records how it went.
func (d *Deliverer) attempt(ctx context.Context, j job) {
	status, err := d.send(ctx, j)
	o := kiln.DeliveryOutcome{Status: status, Delivered: err == nil}
	if err != nil {
		o.Error = err.Error()
		if ctx.Err() != nil {
			// Shutting down: leave it leased; it is retried when the
			// lease runs out, here or on another replica.
			return
		}
	}
	var backoff time.Duration
	if err != nil && j.del.Attempts+1 < d.c.MaxAttempts {
		backoff = d.c.Backoff(j.del.Attempts + 1)
	}
	d.finish(ctx, j.del.ID, j.del.Event, o, backoff)
}

// send POSTs the delivery and returns the receiver's status; an error
// for anything but 2xx.
func (d *Deliverer) send(ctx context.Context, j job) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(j.del.Body))
	if err != nil {
		return 0, fmt.Errorf("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kiln-webhook")
	req.Header.Set(EventHeader, j.del.Event)
	req.Header.Set(DeliveryHeader, j.del.ID)
	req.Header.Set(SignatureHeader, Sign(j.secret, j.del.Body))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("no answer: %s", transportReason(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// transportReason says why a request got no answer without echoing the
// URL (which may carry a token of the receiver's).
func transportReason(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.As(err, new(*net.OpError)):
		return "connection failed"
	}
	return "request failed"
}

// finish records an outcome, to be retried retryAfter from now (by the
// store's clock) when that is above zero, and reports it.
func (d *Deliverer) finish(ctx context.Context, id, event string, o kiln.DeliveryOutcome, retryAfter time.Duration) {
	// Recorded even while shutting down: the attempt happened.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := d.c.Store.Update(fctx, func(tx kiln.Tx) error {
		if retryAfter > 0 {
			o.Retry = tx.Now().Add(retryAfter) // by the clock due times are read with
		}
		return tx.FinishDelivery(id, o)
	})
	if err != nil {
		d.c.Log.Warn("recording a webhook delivery", "delivery", id, "err", err)
	}
	if d.c.OnResult != nil && event != "" {
		result := ResultDelivered
		switch {
		case o.Delivered:
		case o.Retry.IsZero():
			result = ResultFailed
		default:
			result = ResultRetry
		}
		d.c.OnResult(event, result)
	}
	if !o.Delivered {
		d.c.Log.Info("webhook delivery failed", "delivery", id, "event", event, "status", strconv.Itoa(o.Status), "reason", o.Error, "retry", !o.Retry.IsZero())
	}
}
