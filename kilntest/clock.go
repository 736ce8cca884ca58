package kilntest

import (
	"sync"
	"time"

	"github.com/kiln-dev/kiln/server"
)

// Clock is a settable clock for server.Config.Clock: it starts at the real
// time and moves only when told, so tests can age tokens by days.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at the current time.
func NewClock() *Clock { return &Clock{now: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// WithClock runs the server's token index and service on c.
func WithClock(c *Clock) Option {
	return func(cfg *server.Config) { cfg.Clock = c.Now }
}
