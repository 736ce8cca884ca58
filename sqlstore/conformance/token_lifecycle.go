package conformance

import (
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// tokenLifecycleTests cover rotation, expiry changes, lookup by the
// value's SHA-256 and source addresses.
var tokenLifecycleTests = []test{
	{"TokenLifecycle/RotateOnceAndOnlyLive", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		old, revoked := newToken(1, p.ID, p.ID), newToken(2, p.ID, p.ID)
		old.Expires = t0.Add(90 * 24 * time.Hour)
		update(t, s, func(tx kiln.Tx) error {
			for _, tk := range []*kiln.Token{old, revoked, newToken(3, p.ID, p.ID)} {
				if err := tx.CreateToken(tk); err != nil {
					return err
				}
			}
			return tx.RevokeToken(revoked.ID, p.ID)
		})
		grace := t0.Add(time.Hour)
		var at time.Time
		update(t, s, func(tx kiln.Tx) error { at = tx.Now(); return tx.RotateToken(old.ID, tokenID(3), grace) })
		for _, c := range []struct {
			name, id string
		}{{"AlreadyRotated", old.ID}, {"Revoked", revoked.ID}, {"Missing", tokenID(9)}} {
			err := s.Update(t.Context(), func(tx kiln.Tx) error { return tx.RotateToken(c.id, tokenID(3), grace) })
			wantCode(t, c.name, err, kiln.ENotFound)
		}
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Token(old.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.RotatedTo != tokenID(3) || !got.RotatedAt.Equal(at) || !got.Expires.Equal(grace) {
				t.Errorf("rotated token: to %q at %v expires %v, want %q at %v expires %v", got.RotatedTo, got.RotatedAt, got.Expires, tokenID(3), at, grace)
			}
			return nil
		})
	}},
	{"TokenLifecycle/SetExpiryOfLiveTokensOnly", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		live, revoked := newToken(1, p.ID, p.ID), newToken(2, p.ID, p.ID)
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateToken(live); err != nil {
				return err
			}
			if err := tx.CreateToken(revoked); err != nil {
				return err
			}
			return tx.RevokeToken(revoked.ID, 0)
		})
		at := t0.Add(48 * time.Hour)
		update(t, s, func(tx kiln.Tx) error { return tx.SetTokenExpiry(live.ID, at) })
		err := s.Update(t.Context(), func(tx kiln.Tx) error { return tx.SetTokenExpiry(revoked.ID, at) })
		wantCode(t, "revoked", err, kiln.ENotFound)
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.Token(live.ID)
			if err == nil && !got.Expires.Equal(at) {
				t.Errorf("Expires = %v, want %v", got.Expires, at)
			}
			return err
		})
	}},
	{"TokenLifecycle/FindBySHA256AndTraceAudit", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		sum := sha256.Sum256([]byte("dapi-value-1"))
		other := sha256.Sum256([]byte("dapi-value-2"))
		a, b := newToken(1, p.ID, p.ID), newToken(2, p.ID, p.ID)
		a.ValueSHA256, b.ValueSHA256 = sum[:], other[:]
		update(t, s, func(tx kiln.Tx) error {
			for _, tk := range []*kiln.Token{a, b, newToken(3, p.ID, p.ID)} { // token 3 has no hash
				if err := tx.CreateToken(tk); err != nil {
					return err
				}
			}
			for _, target := range []string{"token:" + a.ID, "token:" + b.ID, "token:" + a.ID} {
				if err := tx.Audit(kiln.AuditEvent{Time: t0, Action: kiln.AuditTokenCreate, Target: target}); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.TokenBySHA256(sum[:])
			if err != nil || got.ID != a.ID || !slices.Equal(got.ValueSHA256, sum[:]) {
				t.Errorf("TokenBySHA256 = %v, %v; want token %s", got, err, a.ID)
			}
			none := sha256.Sum256([]byte("nobody"))
			_, err = tx.TokenBySHA256(none[:])
			wantCode(t, "unknown sum", err, kiln.ENotFound)
			evs, err := tx.AuditEvents(kiln.AuditFilter{TokenSHA256: sum[:]})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 2 || evs[0].Target != "token:"+a.ID || evs[1].Target != "token:"+a.ID {
				t.Errorf("audit by sha256: got %+v, want the 2 events of token %s", evs, a.ID)
			}
			evs, err = tx.AuditEvents(kiln.AuditFilter{TokenSHA256: none[:]})
			if err != nil || len(evs) != 0 {
				t.Errorf("audit by unknown sha256: got %d events, %v; want none", len(evs), err)
			}
			return nil
		})
	}},
	{"TokenLifecycle/AddressesNewOnceKeepRecentFew", func(t *testing.T, s kiln.Store) {
		p := createUsers(t, s, "alice@example.com")[0]
		tk := newToken(1, p.ID, p.ID)
		update(t, s, func(tx kiln.Tx) error { return tx.CreateToken(tk) })
		use := func(addr string, minutes int) kiln.TokenAddressUse {
			return kiln.TokenAddressUse{TokenID: tk.ID, Addr: addr, At: t0.Add(time.Duration(minutes) * time.Minute)}
		}
		record := func(uses ...kiln.TokenAddressUse) (fresh []kiln.TokenAddressUse) {
			update(t, s, func(tx kiln.Tx) (err error) { fresh, err = tx.RecordTokenAddresses(uses); return err })
			return fresh
		}
		fresh := record(use("10.0.0.1", 1), use("10.0.0.2", 2), use("10.0.0.1", 3),
			kiln.TokenAddressUse{TokenID: tokenID(9), Addr: "10.0.0.9", At: t0})
		if len(fresh) != 2 || fresh[0].Addr != "10.0.0.1" || fresh[1].Addr != "10.0.0.2" {
			t.Errorf("first batch: new = %+v, want 10.0.0.1 and 10.0.0.2 (a missing token ignored)", fresh)
		}
		if fresh := record(use("10.0.0.2", 4)); len(fresh) != 0 {
			t.Errorf("known address reported new: %+v", fresh)
		}
		record(use("10.0.0.3", 5), use("10.0.0.4", 6), use("10.0.0.5", 7), use("10.0.0.6", 8))
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.TokenAddresses(tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			var addrs []string
			for _, a := range got {
				addrs = append(addrs, a.Addr)
			}
			want := []string{"10.0.0.6", "10.0.0.5", "10.0.0.4", "10.0.0.3", "10.0.0.2"}
			if !slices.Equal(addrs, want) {
				t.Errorf("addresses = %v, want the %d most recent %v", addrs, kiln.MaxTokenAddresses, want)
			}
			if len(got) > 0 && (!got[4].FirstSeen.Equal(t0.Add(2*time.Minute)) || !got[4].LastSeen.Equal(t0.Add(4*time.Minute))) {
				t.Errorf("10.0.0.2 seen %v..%v, want %v..%v", got[4].FirstSeen, got[4].LastSeen, t0.Add(2*time.Minute), t0.Add(4*time.Minute))
			}
			return nil
		})
		// The least recently seen address was evicted: it is new again.
		if fresh := record(use("10.0.0.1", 9)); len(fresh) != 1 {
			t.Errorf("evicted address: new = %+v, want it reported again", fresh)
		}
	}},
}
