package auth_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/service"
	"github.com/kiln-dev/kiln/sqlstore"
)

type fixture struct {
	store *sqlstore.Store
	index *auth.Index
	svc   *service.Service
	ctx   context.Context
	now   time.Time
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(tb.TempDir(), "kiln.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	key, _ := auth.ParseKey("0000000000000000000000000000000000000000000000000000000000000001")
	if _, err := service.Bootstrap(ctx, st, service.BootstrapParams{AdminEmail: "admin@example.com", AdminPassword: "admin-password-123", KeyFingerprint: key.Fingerprint()}); err != nil {
		tb.Fatal(err)
	}
	ix := auth.NewIndex(st, key, slog.New(slog.DiscardHandler))
	f := &fixture{store: st, index: ix, ctx: kiln.NewContextWithCaller(ctx, service.OfflineCaller()), now: time.Now()}
	ix.SetClock(func() time.Time { return f.now })
	if err := ix.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	f.svc = service.New(service.Deps{Store: st, Index: ix, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now }})
	if err := f.svc.SetConf(f.ctx, map[string]string{kiln.ConfEnableTokens: "true"}); err != nil {
		tb.Fatal(err)
	}
	return f
}

func (f *fixture) token(tb testing.TB, user string, lifetime time.Duration) *service.NewToken {
	tb.Helper()
	p := service.CreateTokenParams{}
	if lifetime > 0 {
		p.Lifetime = &lifetime
	}
	nt, err := f.svc.CreateTokenFor(f.ctx, user, p)
	if err != nil {
		tb.Fatal(err)
	}
	return nt
}

func TestIndexCheckReasons(t *testing.T) {
	f := newFixture(t)
	valid := f.token(t, "admin@example.com", 0)
	short := f.token(t, "admin@example.com", time.Hour)
	revoked := f.token(t, "admin@example.com", 0)
	if err := f.svc.RevokeToken(f.ctx, revoked.Info.ID); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(2 * time.Hour)
	tests := []struct {
		name, value, reason, tokenID string
	}{
		{"Valid", valid.Value, "", ""},
		{"Malformed", "dapiXYZ", auth.ReasonMalformed, ""},
		{"Unknown", auth.NewTokenValue(), auth.ReasonUnknown, ""},
		{"Revoked", revoked.Value, auth.ReasonRevoked, revoked.Info.ID},
		{"Expired", short.Value, auth.ReasonExpired, short.Info.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, d := f.index.Check(tt.value)
			if d.Reason != tt.reason || d.TokenID != tt.tokenID {
				t.Fatalf("denial: got %+v, want reason %q token %q", d, tt.reason, tt.tokenID)
			}
			if (c != nil) != (tt.reason == "") {
				t.Fatalf("caller %v with reason %q", c, d.Reason)
			}
			if c != nil && (c.Principal.UserName != "admin@example.com" || c.TokenID != valid.Info.ID || c.Method != "pat") {
				t.Fatalf("caller: %+v", c)
			}
		})
	}
	// Disabling applies to the next check; enabling restores.
	f.svc.SetConf(f.ctx, map[string]string{kiln.ConfEnableTokens: "false"})
	if _, d := f.index.Check(valid.Value); d.Reason != auth.ReasonDisabled {
		t.Fatalf("while disabled: %+v", d)
	}
	f.svc.SetConf(f.ctx, map[string]string{kiln.ConfEnableTokens: "true"})
	if c, _ := f.index.Check(valid.Value); c == nil {
		t.Fatal("not restored after enabling")
	}
}

func TestIndexSeesChangesFromAnotherProcess(t *testing.T) {
	f := newFixture(t)
	// A second index over the same store stands for another process.
	key := f.index.Key()
	other := auth.NewIndex(f.store, key, slog.New(slog.DiscardHandler))
	if err := other.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	nt := f.token(t, "admin@example.com", 0)
	if c, _ := other.Check(nt.Value); c != nil {
		t.Fatal("the other index knew the token before refreshing")
	}
	if err := other.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, d := other.Check(nt.Value); c == nil {
		t.Fatalf("after refresh: %+v", d)
	}
	if err := f.svc.RevokeToken(f.ctx, nt.Info.ID); err != nil {
		t.Fatal(err)
	}
	other.Refresh(context.Background())
	if _, d := other.Check(nt.Value); d.Reason != auth.ReasonRevoked {
		t.Fatalf("after revoke and refresh: %+v", d)
	}
}

// BenchmarkCheck measures the per-request token check. "cached" is the
// in-memory index every request uses; "uncached" is the store lookup by
// digest that a cold index would need, for comparison.
func BenchmarkCheck(b *testing.B) {
	f := newFixture(b)
	valid := f.token(b, "admin@example.com", 0)
	revoked := f.token(b, "admin@example.com", 0)
	f.svc.RevokeToken(f.ctx, revoked.Info.ID)
	// An index that holds more than one token: 500 others.
	for range 500 {
		f.token(b, "admin@example.com", 0)
	}
	unknown := auth.NewTokenValue()
	run := func(name, value string, wantOK bool) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, _ := f.index.Check(value)
				if (c != nil) != wantOK {
					b.Fatal("unexpected result")
				}
			}
		})
	}
	run("valid/cached", valid.Value, true)
	b.Run("valid/cached/from-known-address", func(b *testing.B) {
		// The API's path: the source address is one the token was seen
		// from, so noting it costs a few comparisons and no allocation.
		b.ReportAllocs()
		f.index.CheckFrom(valid.Value, "192.0.2.1")
		for b.Loop() {
			if c, _ := f.index.CheckFrom(valid.Value, "192.0.2.1"); c == nil {
				b.Fatal("refused")
			}
		}
	})
	run("unknown", unknown, false)
	run("revoked", revoked.Value, false)
	run("malformed", "dapi-not-a-token", false)
	b.Run("valid/uncached", func(b *testing.B) {
		b.ReportAllocs()
		key := f.index.Key()
		for b.Loop() {
			d := key.Digest(valid.Value)
			err := f.store.View(context.Background(), func(tx kiln.Tx) error {
				t, err := tx.TokenByDigest(d[:])
				if err == nil {
					_, err = tx.Principal(t.OwnerID)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel/valid/cached", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if c, _ := f.index.Check(valid.Value); c == nil {
					b.Fatal("refused")
				}
			}
		})
	})
}

// TestIndexReloadsWhenItsChangesWerePruned: a process that fell behind the
// change notices the store keeps (a replica stopped past the retention)
// cannot know what it missed, so it reads everything afresh, and a token
// revoked meanwhile stops working there too.
func TestIndexReloadsWhenItsChangesWerePruned(t *testing.T) {
	f := newFixture(t)
	kept := f.token(t, "admin@example.com", 0)
	revoked := f.token(t, "admin@example.com", 0)
	other := auth.NewIndex(f.store, f.index.Key(), slog.New(slog.DiscardHandler))
	if err := other.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	// While the other process is away: a revocation, a new token, and
	// the notices of both pruned.
	if err := f.svc.RevokeToken(f.ctx, revoked.Info.ID); err != nil {
		t.Fatal(err)
	}
	created := f.token(t, "admin@example.com", 0)
	if _, err := f.store.PruneChanges(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := other.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh behind the pruned notices: %v", err)
	}
	if got := other.FullReloads(); got != 1 {
		t.Errorf("FullReloads: got %d, want 1", got)
	}
	for _, tt := range []struct {
		name  string
		value string
		ok    bool
	}{{"Kept", kept.Value, true}, {"RevokedMeanwhile", revoked.Value, false}, {"CreatedMeanwhile", created.Value, true}} {
		if c, d := other.Check(tt.value); (c != nil) != tt.ok {
			t.Errorf("%s: caller %v, denial %+v", tt.name, c, d)
		}
	}
	// Back in step: the next notice is applied as usual, without a reload.
	later := f.token(t, "admin@example.com", 0)
	if err := other.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, _ := other.Check(later.Value); c == nil || other.FullReloads() != 1 {
		t.Errorf("after catching up: caller %v, full reloads %d", c, other.FullReloads())
	}
}
