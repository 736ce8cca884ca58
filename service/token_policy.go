package service

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// Why a policy ends a token (TokenEnd.Reason).
const (
	// EndExpiry: the token's own expiry (its lifetime, or a rotation's
	// grace period).
	EndExpiry = "expiry"
	// EndMaxLifetime: maxTokenLifetimeDays caps its lifetime.
	EndMaxLifetime = "max_lifetime"
	// EndInactivity: kilnTokenInactivityDays revokes it, unused.
	EndInactivity = "inactivity"
	// EndIPAccessList: every address it was used from is outside the IP
	// access lists.
	EndIPAccessList = "ip_access_list"
)

// tokenPolicyKeys are the workspace-conf keys a change of which can end
// tokens, so that it can be previewed.
var tokenPolicyKeys = []string{kiln.ConfMaxTokenLifetimeDays, kiln.ConfTokenInactivityDays, kiln.ConfEnableIPAccessLists}

func init() {
	confValidators[kiln.ConfTokenInactivityDays] = daysValidator(kiln.ConfTokenInactivityDays, 0, 3650, "or 0 to never revoke unused tokens")
	confValidators[kiln.ConfTokenExpiryWarningDays] = daysValidator(kiln.ConfTokenExpiryWarningDays, 0, 365, "or 0 for no warning")
	confValidators[kiln.ConfMaxRotationGraceDays] = daysValidator(kiln.ConfMaxRotationGraceDays, 0, 90, "or 0 to end a rotated token at once")
}

func daysValidator(key string, lo, hi int, zero string) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%s must be a whole number of days from 1 to %d, %s", key, hi, zero)
		}
		return nil
	}
}

// TokenEnd is when and why a token stops working.
type TokenEnd struct {
	Token  *kiln.Token
	Reason string
	// At is when; for a policy preview, not before the preview's time
	// (a token the change ends at once ends now).
	At time.Time
}

// lastActive is when t was last known active: its creation or the end of
// its last day of use (a day-granular record, so never early).
func lastActive(t *kiln.Token, lastUsedDay time.Time) time.Time {
	if d := maxTime(t.LastUsedDay, lastUsedDay); !d.IsZero() && d.Add(24*time.Hour).After(t.Created) {
		return d.Add(24 * time.Hour)
	}
	return t.Created
}

// maxTime returns the later time (time.Time has no ordered max).
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tokenEnd is when t stops working under settings, and why: its expiry,
// maxTokenLifetimeDays counted from its creation, or the inactivity
// deadline. Zero At means never.
func tokenEnd(t *kiln.Token, lastUsedDay time.Time, settings map[string]string) TokenEnd {
	end := TokenEnd{Token: t, Reason: EndExpiry, At: t.Expires}
	earlier := func(at time.Time, reason string) {
		if end.At.IsZero() || at.Before(end.At) {
			end.At, end.Reason = at, reason
		}
	}
	if capDays := confInt(settings, kiln.ConfMaxTokenLifetimeDays); capDays > 0 {
		earlier(t.Created.Add(time.Duration(capDays)*24*time.Hour), EndMaxLifetime)
	}
	if days := confInt(settings, kiln.ConfTokenInactivityDays); days > 0 {
		earlier(lastActive(t, lastUsedDay).Add(time.Duration(days)*24*time.Hour), EndInactivity)
	}
	return end
}

// policyEffects lists the live tokens that settings `after` end for
// certain sooner than `before` does, with when (not before now) and why: a
// lower lifetime cap ends a token at a fixed time, a lower inactivity
// limit only those already unused for longer (one merely brought closer
// to the limit lives on if used, and is warned before it ends), and
// switching on IP access lists those used only from addresses the lists
// refuse. The preview shows it; SetConf applies it in the same
// transaction, so a change ends exactly the tokens its preview listed.
func (s *Service) policyEffects(tx kiln.Tx, before, after map[string]string, now time.Time) ([]TokenEnd, error) {
	toks, err := tx.Tokens(kiln.TokenFilter{Live: true, LiveAt: now})
	if err != nil {
		return nil, err
	}
	var rules *auth.IPRules
	if !auth.IPAccessListsEnabledIn(before) && auth.IPAccessListsEnabledIn(after) {
		lists, err := tx.IPAccessLists()
		if err != nil {
			return nil, err
		}
		rules = auth.CompileIPRules(lists)
	}
	var out []TokenEnd
	for _, t := range toks {
		used := s.index.LastUsedDay(t.ID)
		was, will := tokenEnd(t, used, before), tokenEnd(t, used, after)
		sooner := !will.At.IsZero() && (was.At.IsZero() || will.At.Before(was.At))
		if sooner && (will.Reason != EndInactivity || !will.At.After(now)) {
			will.At = maxTime(will.At, now)
			out = append(out, will)
			continue
		}
		if rules != nil {
			addrs, err := tx.TokenAddresses(t.ID)
			if err != nil {
				return nil, err
			}
			if len(addrs) > 0 && !slices.ContainsFunc(addrs, func(a kiln.TokenAddress) bool { return rules.Admits(a.Addr) }) {
				out = append(out, TokenEnd{Token: t, Reason: EndIPAccessList, At: now})
			}
		}
	}
	return out, nil
}

// PreviewPolicy returns the tokens that setting the workspace-conf values
// kv would end, and when and why, without changing anything (admins only).
// The values are validated as SetConf validates them.
func (s *Service) PreviewPolicy(ctx context.Context, kv map[string]string) ([]TokenEnd, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := validateConf(kv); err != nil {
		return nil, err
	}
	var out []TokenEnd
	err := s.view(ctx, func(tx kiln.Tx) error {
		before, err := tx.Settings()
		if err != nil {
			return err
		}
		out, err = s.policyEffects(tx, before, withConf(before, kv), s.now())
		return err
	})
	return out, err
}

// withConf returns stored with kv applied ("" resets a key).
func withConf(stored, kv map[string]string) map[string]string {
	after := maps.Clone(stored)
	if after == nil {
		after = map[string]string{}
	}
	for k, v := range kv {
		if v == "" {
			delete(after, k)
		} else {
			after[k] = v
		}
	}
	return after
}

// touchesTokenPolicy reports whether kv sets a key that can end tokens.
func touchesTokenPolicy(kv map[string]string) bool {
	return slices.ContainsFunc(tokenPolicyKeys, func(k string) bool { _, ok := kv[k]; return ok })
}

// applyPolicy ends, in tx, the tokens that moving from settings before to
// after ends: a lower lifetime cap shortens their expiry (expiring at once
// those past it), a lower inactivity limit revokes those unused for
// longer. Each is audited with its reason. IP access lists end no token
// here: they refuse the requests.
func (s *Service) applyPolicy(tx kiln.Tx, c *kiln.Caller, before, after map[string]string, now time.Time) error {
	effects, err := s.policyEffects(tx, before, after, now)
	if err != nil {
		return err
	}
	for _, e := range effects {
		switch e.Reason {
		case EndMaxLifetime:
			if err := tx.SetTokenExpiry(e.Token.ID, e.At); err != nil {
				return err
			}
			ev := auditEvent(c, kiln.AuditTokenExpiryShortened, "token:"+e.Token.ID)
			ev.Detail = map[string]string{"owner": e.Token.OwnerName, "reason": e.Reason, "expires": e.At.Format(time.RFC3339)}
			if err := tx.Audit(ev); err != nil {
				return err
			}
			if err := tx.Notify(kiln.ChangeToken, e.Token.ID); err != nil {
				return err
			}
		case EndInactivity:
			if err := s.revokeIn(tx, c, e.Token, inactivityReason(after)); err != nil {
				return err
			}
		}
	}
	return nil
}

func inactivityReason(settings map[string]string) string {
	return fmt.Sprintf("unused for %d days (%s)", confInt(settings, kiln.ConfTokenInactivityDays), kiln.ConfTokenInactivityDays)
}

// expiryWarnings are the days before a token's end at which webhooks hear
// token.expiring, smallest first.
var expiryWarnings = []int{1, 7, 14}

// SweepTokens enforces the inactivity policy and announces tokens that
// expire soon (token.expiring at 14, 7 and 1 days before they end) or
// just expired (token.expired). Every replica sweeps: revocation is
// exclusive in the store and events are deduplicated by key, so sweeping
// twice changes nothing; a sweep with nothing to do only reads.
func (s *Service) SweepTokens(ctx context.Context) error {
	now := s.now().UTC().Truncate(time.Millisecond)
	var (
		settings map[string]string
		toks     []*kiln.Token
	)
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		if settings, err = tx.Settings(); err != nil {
			return err
		}
		// Live tokens, and those that expired in the last week (for
		// token.expired; older ones were announced or predate kiln's
		// announcing them).
		toks, err = tx.Tokens(kiln.TokenFilter{Live: true, LiveAt: now.Add(-7 * 24 * time.Hour)})
		return err
	})
	if err != nil {
		return err
	}
	var (
		revoke []*kiln.Token
		events []kiln.Event
	)
	for _, t := range toks {
		end := tokenEnd(t, s.index.LastUsedDay(t.ID), settings)
		switch {
		case end.Reason == EndInactivity && !now.Before(end.At) && !t.ExpiredAt(now):
			revoke = append(revoke, t)
		case t.RotatedTo != "":
			// It ends on purpose, at the end of its grace period: its
			// successor is the one to announce.
		case t.ExpiredAt(now):
			events = append(events, tokenEvent(kiln.EventTokenExpired, t, "token.expired:"+t.ID, nil))
		case !end.At.IsZero():
			for _, days := range expiryWarnings {
				if end.At.Sub(now) <= time.Duration(days)*24*time.Hour {
					key := fmt.Sprintf("token.expiring:%s:%d:%d", t.ID, days, end.At.Unix())
					events = append(events, tokenEvent(kiln.EventTokenExpiring, t, key, map[string]string{
						"ends": end.At.UTC().Format(time.RFC3339), "reason": end.Reason, "days": strconv.Itoa(days),
					}))
					break
				}
			}
		}
	}
	events = s.unannounced(events)
	if len(revoke) == 0 && len(events) == 0 {
		return nil
	}
	err = s.update(ctx, func(tx kiln.Tx) error {
		for _, t := range revoke {
			err := s.revokeIn(tx, systemCaller, t, inactivityReason(settings))
			if kiln.IsCode(err, kiln.ENotFound) {
				continue // revoked meanwhile, by someone or another replica
			}
			if err != nil {
				return err
			}
		}
		for _, ev := range events {
			if err := s.emit(tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.announced(events)
	}
	return err
}

// unannounced drops the events this process already handed to the store
// (the store deduplicates too, across replicas; this spares it the
// writes of every sweep).
func (s *Service) unannounced(evs []kiln.Event) []kiln.Event {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	return slices.DeleteFunc(evs, func(ev kiln.Event) bool { return s.sweepSeen[ev.Key] })
}

func (s *Service) announced(evs []kiln.Event) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	if s.sweepSeen == nil || len(s.sweepSeen) > 100000 {
		s.sweepSeen = map[string]bool{}
	}
	for _, ev := range evs {
		s.sweepSeen[ev.Key] = true
	}
}

// EndingTokens returns the caller's live tokens that end within the
// workspace's warning window (kilnTokenExpiryWarningDays), soonest first,
// with why: the console's banner. Rotated tokens are left out: they end
// on purpose, and their successor is listed if it ends soon too.
func (s *Service) EndingTokens(ctx context.Context) ([]TokenEnd, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []TokenEnd
	err = s.view(ctx, func(tx kiln.Tx) error {
		settings, err := tx.Settings()
		if err != nil {
			return err
		}
		toks, err := tx.Tokens(kiln.TokenFilter{OwnerID: c.Principal.ID, Live: true, LiveAt: now})
		if err != nil {
			return err
		}
		window := auth.ExpiryWarningIn(settings)
		for _, t := range toks {
			if t.RotatedTo != "" {
				continue
			}
			if end := tokenEnd(t, s.index.LastUsedDay(t.ID), settings); !end.At.IsZero() && end.At.Sub(now) <= window {
				out = append(out, end)
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b TokenEnd) int { return a.At.Compare(b.At) })
	return out, err
}
