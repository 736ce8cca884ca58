package service

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/kiln-dev/kiln"
)

// ListAudit returns audit events matching f, newest first (admins only).
func (s *Service) ListAudit(ctx context.Context, f kiln.AuditFilter) ([]kiln.AuditEvent, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var evs []kiln.AuditEvent
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		evs, err = tx.AuditEvents(f)
		return err
	})
	return evs, err
}

// Denials coalesces refused token checks into audit events. A request must
// never cost a database write (a flood of bad tokens would otherwise turn
// into a flood of inserts), so denials are counted in memory per client
// address, reason and token, and written every flush as one event each
// with its count.
//
// Denials is safe for concurrent use.
type Denials struct {
	store kiln.Store
	log   *slog.Logger

	mu      sync.Mutex
	pending map[denialKey]*kiln.AuditEvent
	dropped int

	observe func(reason string)
}

// SetObserver makes Record also call fn with each denial's reason (the
// metrics). Call before use.
func (d *Denials) SetObserver(fn func(reason string)) { d.observe = fn }

type denialKey struct{ addr, reason, tokenID string }

// maxPendingDenials bounds memory between flushes; past it, denials are
// only counted.
const maxPendingDenials = 10000

// NewDenials returns an empty aggregator writing to store.
func NewDenials(store kiln.Store, log *slog.Logger) *Denials {
	return &Denials{store: store, log: log, pending: map[denialKey]*kiln.AuditEvent{}}
}

// Record notes one refused check. tokenID and ownerID are set when the
// token is known.
func (d *Denials) Record(addr, reason, tokenID string, ownerID int64) {
	if d.observe != nil {
		d.observe(reason)
	}
	k := denialKey{addr, reason, tokenID}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ev := d.pending[k]; ev != nil {
		ev.Count++
		return
	}
	if len(d.pending) >= maxPendingDenials {
		d.dropped++
		return
	}
	ev := &kiln.AuditEvent{
		Time: time.Now(), Action: kiln.AuditTokenDenied, ActorID: ownerID, RemoteAddr: addr,
		Detail: map[string]string{"reason": reason}, Count: 1,
	}
	if tokenID != "" {
		ev.Target = "token:" + tokenID
	}
	d.pending[k] = ev
}

// Flush writes the pending events in one transaction.
func (d *Denials) Flush(ctx context.Context) error {
	d.mu.Lock()
	pending, dropped := d.pending, d.dropped
	d.pending, d.dropped = map[denialKey]*kiln.AuditEvent{}, 0
	d.mu.Unlock()
	if len(pending) == 0 && dropped == 0 {
		return nil
	}
	return d.store.Update(ctx, func(tx kiln.Tx) error {
		for _, ev := range pending {
			if err := tx.Audit(*ev); err != nil {
				return err
			}
		}
		if dropped > 0 {
			return tx.Audit(kiln.AuditEvent{
				Action: kiln.AuditTokenDenied, ActorName: "kiln", Count: dropped,
				Detail: map[string]string{"reason": "too many distinct denials to record individually: " + strconv.Itoa(dropped)},
			})
		}
		return nil
	})
}

// Run flushes every interval until ctx ends, then once more.
func (d *Denials) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := d.Flush(fctx); err != nil {
				d.log.Warn("flushing denied-token audit events", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := d.Flush(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("flushing denied-token audit events", "err", err)
			}
		}
	}
}
