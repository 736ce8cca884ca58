package auth_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/internal/pgtest"
	"github.com/kiln-dev/kiln/service"
	"github.com/kiln-dev/kiln/sqlstore"
)

// otherReplica returns a second loaded index over f's store: another
// replica, which learns of f's writes only by refreshing.
func otherReplica(t *testing.T, f *fixture, missEvery time.Duration) *auth.Index {
	t.Helper()
	other := auth.NewIndex(f.store, f.index.Key(), slog.New(slog.DiscardHandler))
	other.SetMissRefresh(missEvery)
	if err := other.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return other
}

// TestIndexMissRefresh: with miss refresh on, a token created through
// another replica a moment ago is known at its first use, before any poll
// or notice; with it off, it is unknown until the next refresh.
func TestIndexMissRefresh(t *testing.T) {
	for _, c := range []struct {
		name      string
		missEvery time.Duration
		wantKnown bool
	}{
		{"Off", 0, false},
		{"On", time.Millisecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			other := otherReplica(t, f, c.missEvery)
			nt := f.token(t, "admin@example.com", 0)
			caller, denial := other.Check(nt.Value)
			if got := caller != nil; got != c.wantKnown {
				t.Errorf("first use through the other replica: known %v (%+v), want %v", got, denial, c.wantKnown)
			}
			// A principal created elsewhere is found the same way.
			p, err := f.svc.CreatePrincipal(f.ctx, service.NewPrincipal{Kind: kiln.KindUser, UserName: "new@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := other.Principal(p.ID); (got != nil) != c.wantKnown {
				t.Errorf("Principal of a user created elsewhere: got %v, want known %v", got, c.wantKnown)
			}
		})
	}
}

// TestIndexMissRefreshCoalescesAFlood: many concurrent unknown tokens,
// while another process keeps committing, cost a bounded number of store
// reads, not one each.
func TestIndexMissRefreshCoalescesAFlood(t *testing.T) {
	const every = 20 * time.Millisecond
	f := newFixture(t)
	other := otherReplica(t, f, every)
	// Commits the other index does not hear of, so that its misses must
	// refresh (SQLite's commit stamp would otherwise spare them).
	write := func(ctx context.Context) error {
		return f.store.Update(ctx, func(tx kiln.Tx) error { return tx.SetSettings(map[string]string{"x": time.Now().String()}) })
	}
	if err := write(context.Background()); err != nil {
		t.Fatal(err)
	}
	writing, stopWriting := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for writing.Err() == nil {
			write(writing)
			time.Sleep(2 * time.Millisecond)
		}
	})
	defer func() { stopWriting(); wg.Wait() }()
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for range 25 {
				if c, d := other.Check(auth.NewTokenValue()); c != nil || d.Reason != auth.ReasonUnknown {
					t.Errorf("bad token: got %v, %+v, want unknown", c, d)
					return
				}
			}
		})
	}
	stopWriting()
	wg.Wait()
	elapsed := time.Since(start)
	got := other.MissRefreshes()
	// One refresh per interval at most, plus the one that starts at once.
	if limit := int64(elapsed/every) + 2; got > limit {
		t.Errorf("400 unknown tokens in %v caused %d refreshes, want at most %d (one per %v)", elapsed, got, limit, every)
	}
	if got == 0 {
		t.Error("no miss refresh ran")
	}
	t.Logf("400 unknown tokens from 16 clients: %d refreshes in %v", got, elapsed)
}

// TestIndexMissWithoutCommitsReadsNothing: on SQLite, while nothing was
// committed since the index last refreshed, unknown tokens are refused at
// once, without a refresh or a wait; the first miss after another
// process's commit refreshes once and finds what it committed.
func TestIndexMissWithoutCommitsReadsNothing(t *testing.T) {
	f := newFixture(t)
	other := otherReplica(t, f, time.Hour) // a refresh would be an hour away
	start := time.Now()
	for range 1000 {
		if c, d := other.Check(auth.NewTokenValue()); c != nil || d.Reason != auth.ReasonUnknown {
			t.Fatalf("bad token: got %v, %+v, want unknown", c, d)
		}
	}
	if took := time.Since(start); other.MissRefreshes() != 0 || took > 5*time.Second {
		t.Fatalf("1000 unknown tokens with nothing committed: %d refreshes in %v, want none and no waiting", other.MissRefreshes(), took)
	}
	nt := f.token(t, "admin@example.com", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The refresh is spaced an hour after the last one, which never
		// ran: the first one starts at once.
		if c, d := other.Check(nt.Value); c == nil {
			t.Errorf("a token committed by another process: %+v, want it known at first use", d)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the first miss after a commit did not refresh")
	}
	if got := other.MissRefreshes(); got != 1 {
		t.Errorf("miss refreshes after one commit: %d, want 1", got)
	}
}

// TestIndexRunFollowsNotices: on PostgreSQL, Run applies another
// replica's revocation as soon as it is announced (LISTEN/NOTIFY), long
// before the poll, here set to an hour so that it cannot be what applies
// it.
func TestIndexRunFollowsNotices(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	open := func() *sqlstore.Store {
		st, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st1, st2 := open(), open()
	key, _ := auth.ParseKey("0000000000000000000000000000000000000000000000000000000000000001")
	if _, err := service.Bootstrap(ctx, st1, service.BootstrapParams{AdminEmail: "admin@example.com", AdminPassword: "admin-password-123", KeyFingerprint: key.Fingerprint()}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ix1, ix2 := auth.NewIndex(st1, key, log), auth.NewIndex(st2, key, log)
	for _, ix := range []*auth.Index{ix1, ix2} {
		if err := ix.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { ix2.Run(runCtx, time.Hour, time.Hour) })
	defer func() { stop(); wg.Wait() }()

	offline := kiln.NewContextWithCaller(ctx, service.OfflineCaller())
	svc1 := service.New(service.Deps{Store: st1, Index: ix1, Log: log})
	if err := svc1.SetConf(offline, map[string]string{kiln.ConfEnableTokens: "true"}); err != nil {
		t.Fatal(err)
	}
	nt, err := svc1.CreateTokenFor(offline, "admin@example.com", service.CreateTokenParams{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s: not within 5s, with the poll an hour away", what)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}
	took := waitFor("the new token works on the other replica", func() bool { c, _ := ix2.Check(nt.Value); return c != nil })
	t.Logf("created token known to the other replica after %v", took)
	if err := svc1.RevokeToken(offline, nt.Info.ID); err != nil {
		t.Fatal(err)
	}
	took = waitFor("the revoked token is refused on the other replica", func() bool {
		_, d := ix2.Check(nt.Value)
		return d.Reason == auth.ReasonRevoked
	})
	if took > time.Second {
		t.Errorf("revocation took %v to reach the other replica, want well under a second", took)
	}
	t.Logf("revocation reached the other replica after %v", took)
}
