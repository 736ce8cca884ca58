// Package conformance is the backend-independent test suite of
// [kiln.Store]. Every backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		conformance.RunTests(t, func(t *testing.T) kiln.Store { ... })
//	}
//
// Each subtest gets a fresh, empty store from newStore and checks one
// outcome of the contract documented in store.go, so a failure names the
// broken promise. The suite depends only on the kiln package: what it does
// not check, services must not rely on.
package conformance

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// subtestTimeout bounds each subtest. A store that deadlocks (an Update
// waiting for a connection that never frees, say) then fails with every
// goroutine's stack, naming the subtest, instead of hanging until go test's
// -timeout. Generous because race-instrumented SQLite is slow.
const subtestTimeout = 2 * time.Minute

// test is one subtest: name says the outcome it checks.
type test struct {
	name string
	run  func(t *testing.T, s kiln.Store)
}

// suite lists every subtest, grouped by subject.
func suite() []test {
	return slices.Concat(
		workspaceTests,
		principalTests,
		groupTests,
		entitlementTests,
		tokenTests,
		tokenLifecycleTests,
		settingsTests,
		ipAccessListTests,
		objectACLTests,
		auditTests,
		objectTests,
		secretTests,
		jobTests,
		scheduleTests,
		clusterTests,
		webhookTests,
		oauthTests,
		runTests,
		repairTests,
		queueTests,
		controlTests,
		iterationTests,
		queueReadTests,
		changeTests,
		retentionTests,
		txTests,
		concurrencyTests,
	)
}

// RunTests runs the conformance suite, calling newStore for a fresh, empty
// store in every subtest. newStore should register the store's Close with
// t.Cleanup.
func RunTests(t *testing.T, newStore func(t *testing.T) kiln.Store) {
	for _, tc := range suite() {
		t.Run(tc.name, func(t *testing.T) {
			defer watchdog(t, subtestTimeout)()
			tc.run(t, newStore(t))
		})
	}
}

// watchdog crashes the test binary with all goroutine stacks if the
// subtest has not finished after d (or shortly before go test's own
// deadline, whichever is first). It returns the function that disarms it.
func watchdog(t *testing.T, d time.Duration) (stop func()) {
	if deadline, ok := t.Deadline(); ok {
		d = min(d, time.Until(deadline)-5*time.Second)
	}
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		fmt.Fprintf(os.Stderr, "\nconformance: %s did not finish within %v; deadlock? goroutines:\n\n", name, d)
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
		panic("conformance: " + name + " timed out")
	})
	return func() { timer.Stop() }
}

// t0 is the suite's reference instant: whole milliseconds, UTC, as the
// store returns times.
var t0 = time.UnixMilli(1_750_000_000_000).UTC()

// day0 is midnight UTC on t0's day, the shape of a last-used day.
var day0 = t0.Truncate(24 * time.Hour)

// Generated ids lie in [minID, maxID).
const (
	minID = 1_000_000_000_000_000
	maxID = 1 << 53
)

func update(t *testing.T, s kiln.Store, fn func(kiln.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s kiln.Store, fn func(kiln.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, what string, err error, code kiln.Code) {
	t.Helper()
	if got := kiln.ErrorCode(err); got != code {
		t.Errorf("%s: got error %v (code %q), want code %q", what, err, got, code)
		return
	}
	// ENotFound and EConflict reach API clients: their message must be
	// a real one, not the internal placeholder.
	if code != kiln.EInternal && kiln.ErrorMessage(err) == "Internal error." {
		t.Errorf("%s: got message %q, want a client-safe message", what, kiln.ErrorMessage(err))
	}
}

// user returns an unsaved active user.
func user(name string) *kiln.Principal {
	return &kiln.Principal{Kind: kiln.KindUser, UserName: name, DisplayName: name, Active: true}
}

// createUsers saves users with the given names, in one Update.
func createUsers(t *testing.T, s kiln.Store, names ...string) []*kiln.Principal {
	t.Helper()
	ps := make([]*kiln.Principal, len(names))
	update(t, s, func(tx kiln.Tx) error {
		for i, n := range names {
			ps[i] = user(n)
			if err := tx.CreatePrincipal(ps[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return ps
}

// tokenID is a token id in the real format: 64 lowercase hex characters.
func tokenID(n int) string { return fmt.Sprintf("%064x", n) }

// digestOf is a stand-in for the keyed digest of token id's value.
func digestOf(id string) []byte {
	sum := sha256.Sum256([]byte("value of " + id))
	return sum[:]
}

// newToken returns an unsaved token n owned by owner, created by by at
// t0 plus n seconds (so that creation order is n order).
func newToken(n int, owner, by int64) *kiln.Token {
	id := tokenID(n)
	return &kiln.Token{ID: id, Digest: digestOf(id), OwnerID: owner, CreatedByID: by,
		Comment: fmt.Sprintf("token %d", n), Created: t0.Add(time.Duration(n) * time.Second)}
}

// ms normalises a time to what a store returns: whole milliseconds, UTC,
// zero kept zero.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func normPrincipal(p *kiln.Principal) kiln.Principal {
	c := *p
	c.PasswordChanged, c.Created = ms(c.PasswordChanged), ms(c.Created)
	if len(c.Groups) == 0 {
		c.Groups = nil
	}
	return c
}

func normGroup(g *kiln.Group) kiln.Group {
	c := *g
	c.Created = ms(c.Created)
	if len(c.Members) == 0 {
		c.Members = nil
	}
	return c
}

func normToken(tk *kiln.Token) kiln.Token {
	c := *tk
	c.Created, c.Expires, c.Revoked, c.LastUsedDay = ms(c.Created), ms(c.Expires), ms(c.Revoked), ms(c.LastUsedDay)
	return c
}

// principalIDs, groupIDs and tokenIDs reduce lists to what identifies
// their elements, for comparisons with readable failures.
func principalIDs(ps []*kiln.Principal) []int64 {
	ids := []int64{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func groupIDs(gs []*kiln.Group) []int64 {
	ids := []int64{}
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids
}

// tokenIDs is sorted: the contract fixes no order for Tokens.
func tokenIDs(tks []*kiln.Token) []string {
	ids := []string{}
	for _, tk := range tks {
		ids = append(ids, tk.ID)
	}
	slices.Sort(ids)
	return ids
}

// ctx is for the Store methods outside transactions.
func ctx(t *testing.T) context.Context { return t.Context() }
