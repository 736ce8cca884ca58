package auth

import (
	"sync"
	"time"
)

// Throttle slows down clients that keep failing authentication. Each client
// address has a bucket of Burst failures that refills at Rate per second;
// a failure with an empty bucket is refused with a transient 429 instead of
// the usual 403. Successes are never throttled, so a valid token holder
// behind the same address is never locked out: the check runs first and
// only failures consume the budget.
//
// Memory is bounded: at most maxClients addresses are tracked, and full
// buckets (clients that stopped failing) are forgotten first.
//
// A Throttle is safe for concurrent use.
type Throttle struct {
	Rate  float64
	Burst float64
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

const maxClients = 1 << 16

// NewThrottle returns a throttle allowing burst failures per address,
// refilled at rate per second.
func NewThrottle(rate, burst float64) *Throttle {
	return &Throttle{Rate: rate, Burst: burst, now: time.Now, clients: map[string]*bucket{}}
}

// Fail records a failed attempt from addr and reports whether it is still
// within budget (false: answer 429). A throttle with a zero burst is off.
func (t *Throttle) Fail(addr string) bool {
	if t.Burst <= 0 {
		return true
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.clients[addr]
	if b == nil {
		if len(t.clients) >= maxClients {
			t.evict(now)
		}
		b = &bucket{tokens: t.Burst, at: now}
		t.clients[addr] = b
	}
	b.tokens = min(t.Burst, b.tokens+now.Sub(b.at).Seconds()*t.Rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// RetryAfter is how long a throttled client should wait for one attempt.
func (t *Throttle) RetryAfter() time.Duration {
	if t.Rate <= 0 {
		return time.Minute
	}
	return time.Duration(float64(time.Second) / t.Rate)
}

// evict forgets refilled buckets, or half of all when none has refilled.
func (t *Throttle) evict(now time.Time) {
	for a, b := range t.clients {
		if b.tokens+now.Sub(b.at).Seconds()*t.Rate >= t.Burst {
			delete(t.clients, a)
		}
	}
	for a := range t.clients {
		if len(t.clients) < maxClients/2 {
			break
		}
		delete(t.clients, a)
	}
}
