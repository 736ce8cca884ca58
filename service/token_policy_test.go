package service

import (
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// TestTokenEnd checks when and why a token ends under a policy: the
// earliest of its expiry, its creation plus the lifetime cap, and the end
// of its last day of use plus the inactivity limit (never early).
func TestTokenEnd(t *testing.T) {
	const day = 24 * time.Hour
	t0 := time.Date(2026, 6, 1, 15, 30, 0, 0, time.UTC)
	midnight := t0.Truncate(day)
	tok := func(expires time.Duration, lastUsed time.Time) *kiln.Token {
		return &kiln.Token{ID: "t", Created: t0, Expires: t0.Add(expires), LastUsedDay: lastUsed}
	}
	conf := func(capDays, idleDays string) map[string]string {
		return map[string]string{kiln.ConfMaxTokenLifetimeDays: capDays, kiln.ConfTokenInactivityDays: idleDays}
	}
	for _, c := range []struct {
		name     string
		tok      *kiln.Token
		memUsed  time.Time // the index's in-memory last use
		settings map[string]string
		want     time.Time
		reason   string
	}{
		{"ExpiryFirst", tok(10*day, time.Time{}), time.Time{}, conf("730", "90"), t0.Add(10 * day), EndExpiry},
		{"CapFromCreation", tok(100*day, time.Time{}), time.Time{}, conf("30", "0"), t0.Add(30 * day), EndMaxLifetime},
		{"NoCapNoInactivity", tok(100*day, time.Time{}), time.Time{}, conf("0", "0"), t0.Add(100 * day), EndExpiry},
		{"NeverUsedCountsFromCreation", tok(365*day, time.Time{}), time.Time{}, conf("0", "90"), t0.Add(90 * day), EndInactivity},
		{"LastUseDayCountsToItsEnd", tok(365*day, midnight.Add(10*day)), time.Time{}, conf("0", "90"), midnight.Add(101 * day), EndInactivity},
		{"InMemoryUseNewerThanStored", tok(365*day, midnight.Add(10*day)), midnight.Add(20 * day), conf("0", "90"), midnight.Add(111 * day), EndInactivity},
		{"StoredUseNewerThanInMemory", tok(365*day, midnight.Add(20*day)), midnight.Add(10 * day), conf("0", "90"), midnight.Add(111 * day), EndInactivity},
		{"UsedOnCreationDayNotEarly", tok(365*day, midnight), time.Time{}, conf("0", "1"), midnight.Add(2 * day), EndInactivity},
		{"DefaultsWhenUnset", tok(365*day, time.Time{}), time.Time{}, map[string]string{}, t0.Add(90 * day), EndInactivity},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := tokenEnd(c.tok, c.memUsed, c.settings)
			if !got.At.Equal(c.want) || got.Reason != c.reason {
				t.Errorf("tokenEnd = %v (%s), want %v (%s)", got.At, got.Reason, c.want, c.reason)
			}
		})
	}
}
