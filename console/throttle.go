package console

import (
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/auth"
)

// loginGuard slows down password guessing. Failed sign-ins (and failed
// current-password checks) count against two budgets, one per client
// address and one per email. When either runs out, further attempts are
// refused before the password is checked, so a guesser costs no argon2
// work, until the budget has refilled enough for one more try.
//
// The per-email budget stops a guesser who spreads attempts over many
// addresses, at a price: someone who knows an email can keep that user
// from signing in by failing on purpose. The budget is generous (see
// newLoginGuard) and refills, so the lock-out lasts only as long as the
// attack, and admins can still act for the user; the address budget keeps
// one attacker from doing it cheaply.
//
// Addresses are the TCP peer: behind a reverse proxy all clients share the
// proxy's address, which makes the address budget stricter, never looser.
// X-Forwarded-For is ignored on purpose: clients can forge it.
//
// A loginGuard is safe for concurrent use.
type loginGuard struct {
	byAddr *auth.Throttle
	byUser *auth.Throttle
	now    func() time.Time

	mu    sync.Mutex
	until map[string]time.Time // key -> attempts refused until
}

// maxLockouts bounds the memory of refused keys; expired entries go first.
const maxLockouts = 1 << 14

func newLoginGuard(now func() time.Time) *loginGuard {
	return &loginGuard{
		// 10 failures at once per address, then one every 6 seconds.
		byAddr: auth.NewThrottle(1.0/6, 10),
		// 20 failures at once per email, then one every 15 seconds.
		byUser: auth.NewThrottle(1.0/15, 20),
		now:    now,
		until:  map[string]time.Time{},
	}
}

func addrKey(addr string) string  { return "a:" + addr }
func userKey(email string) string { return "u:" + strings.ToLower(strings.TrimSpace(email)) }

// blocked reports whether an attempt from addr for email must be refused
// without checking the password.
func (g *loginGuard) blocked(addr, email string) bool {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range []string{addrKey(addr), userKey(email)} {
		if t, ok := g.until[k]; ok {
			if now.Before(t) {
				return true
			}
			delete(g.until, k)
		}
	}
	return false
}

// failed records a failed attempt.
func (g *loginGuard) failed(addr, email string) {
	now := g.now()
	addrOK := g.byAddr.Fail(addrKey(addr))
	userOK := g.byUser.Fail(userKey(email))
	if addrOK && userOK {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.until) >= maxLockouts {
		for k, t := range g.until {
			if !now.Before(t) {
				delete(g.until, k)
			}
		}
		if len(g.until) >= maxLockouts {
			clear(g.until)
		}
	}
	if !addrOK {
		g.until[addrKey(addr)] = now.Add(g.byAddr.RetryAfter())
	}
	if !userOK {
		g.until[userKey(email)] = now.Add(g.byUser.RetryAfter())
	}
}
