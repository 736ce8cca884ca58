package service

import (
	"context"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// DefaultRotationGrace is how long a rotated token keeps working when the
// caller names no grace period (bounded by kilnMaxTokenRotationGraceDays).
const DefaultRotationGrace = 24 * time.Hour

// systemCaller acts for kiln itself (the inactivity sweep): audit events
// name actor 0, "kiln".
var systemCaller = &kiln.Caller{Principal: &kiln.Principal{UserName: "kiln", Active: true}, Method: "system"}

// RotateToken replaces token id with a new token of the same owner,
// comment and lifetime, and lets the old one work for grace more (nil: the
// default, DefaultRotationGrace, capped by the workspace maximum; zero:
// it ends now). The caller's own tokens only, or any token for admins.
// A revoked, expired or already rotated token cannot be rotated.
func (s *Service) RotateToken(ctx context.Context, id string, grace *time.Duration) (*NewToken, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if c.Method == "offline" {
		return nil, kiln.Errorf(kiln.EInvalid, "Offline administration cannot rotate tokens: the new value must reach its owner. Rotate through the API or the console.")
	}
	if !auth.ValidTokenID(id) {
		return nil, tokenNotFound(id)
	}
	if grace != nil && *grace < 0 {
		return nil, kiln.Errorf(kiln.EInvalid, "grace_seconds must be zero or a positive number of seconds.")
	}
	value := auth.NewTokenValue()
	var tok, replaced *kiln.Token
	err = s.update(ctx, func(tx kiln.Tx) error {
		old, err := tx.Token(id)
		if kiln.IsCode(err, kiln.ENotFound) || (err == nil && !isAdmin(c) && old.OwnerID != c.Principal.ID) {
			return tokenNotFound(id)
		}
		if err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		switch {
		case !old.Revoked.IsZero():
			return kiln.Errorf(kiln.EInvalid, "Token %s is revoked, and a revoked token cannot be rotated. Create a new token instead.", id)
		case old.ExpiredAt(now):
			return kiln.Errorf(kiln.EInvalid, "Token %s expired at %s, and an expired token cannot be rotated. Create a new token instead.", id, old.Expires.UTC().Format(time.RFC3339))
		case old.RotatedTo != "":
			return kiln.Errorf(kiln.EInvalid, "Token %s was already rotated to %s; rotate that token instead.", id, old.RotatedTo)
		}
		settings, err := tx.Settings()
		if err != nil {
			return err
		}
		maxGrace := time.Duration(confInt(settings, kiln.ConfMaxRotationGraceDays)) * 24 * time.Hour
		g := min(DefaultRotationGrace, maxGrace)
		if grace != nil {
			if *grace > maxGrace {
				return kiln.Errorf(kiln.EInvalid, "grace_seconds of %d exceeds the maximum of %s set by %s.", int64(grace.Seconds()), humanDays(maxGrace), kiln.ConfMaxRotationGraceDays)
			}
			g = *grace
		}
		owner, err := tx.Principal(old.OwnerID)
		if err != nil {
			return err
		}
		// The same lifetime as the old token, within today's cap.
		lifetime := old.Expires.Sub(old.Created)
		if capDays := confInt(settings, kiln.ConfMaxTokenLifetimeDays); capDays > 0 {
			lifetime = min(lifetime, time.Duration(capDays)*24*time.Hour)
		}
		if old.Expires.IsZero() || lifetime <= 0 {
			if lifetime, err = tokenLifetime(settings, nil); err != nil {
				return err
			}
		}
		if tok, err = s.mintIn(tx, c, owner, settings, value, lifetime, old.Comment, old.Scopes); err != nil {
			return err
		}
		end := now.Add(g)
		if !old.Expires.IsZero() && old.Expires.Before(end) {
			end = old.Expires
		}
		if err := tx.RotateToken(id, tok.ID, end); err != nil {
			return err
		}
		old.Expires, old.RotatedTo, old.RotatedAt = end, tok.ID, now
		replaced = old
		ev := auditEvent(c, kiln.AuditTokenRotate, "token:"+id)
		ev.Detail = map[string]string{"owner": old.OwnerName, "successor": tok.ID, "grace_until": end.Format(time.RFC3339)}
		if err := tx.Audit(ev); err != nil {
			return err
		}
		if err := s.emit(tx, tokenEvent(kiln.EventTokenRotated, old, "", map[string]string{"successor": tok.ID})); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeToken, id)
	})
	if err != nil {
		return nil, err
	}
	return &NewToken{Value: value, Info: tok, Replaced: replaced}, nil
}

// Token states a lookup reports.
const (
	TokenLive    = "live"
	TokenRevoked = "revoked"
	TokenExpired = "expired"
)

// TokenLookup is what an admin learns about a token from its value.
type TokenLookup struct {
	Token *kiln.Token
	// State is TokenLive, TokenRevoked or TokenExpired, after the lookup
	// (a token the lookup revoked is TokenRevoked).
	State string
	// RevokedNow is true when this lookup revoked it.
	RevokedNow bool
	// Addresses are the source addresses it was used from, most recently
	// seen first.
	Addresses []kiln.TokenAddress
}

// LookupToken finds the token whose value is value (admins only), for
// leak response: who owns it, what it is, where it was used from, whether
// it is live; with revoke, a live token is revoked in the same
// transaction. The value is digested, never stored or logged; the lookup
// is audited by token id.
func (s *Service) LookupToken(ctx context.Context, value string, revoke bool) (*TokenLookup, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, kiln.Errorf(kiln.EInvalid, "token_value is required.")
	}
	if !auth.WellFormed(value) {
		return nil, kiln.Errorf(kiln.EInvalid, "token_value is not a kiln token: kiln tokens are dapi followed by 32 hexadecimal characters.")
	}
	digest := s.index.Key().Digest(value)
	var out TokenLookup
	err = s.update(ctx, func(tx kiln.Tx) error {
		t, err := tx.TokenByDigest(digest[:])
		if kiln.IsCode(err, kiln.ENotFound) {
			return kiln.Errorf(kiln.ENotFound, "No token of this workspace has this value (it may have been deleted with its owner).")
		}
		if err != nil {
			return err
		}
		now := s.now()
		out.Token, out.State = t, tokenState(t, now)
		if revoke && out.State == TokenLive {
			if err := s.revokeIn(tx, c, t, "revoked by lookup"); err != nil {
				return err
			}
			t.Revoked, t.RevokedBy = now, c.Principal.ID
			out.State, out.RevokedNow = TokenRevoked, true
		}
		if out.Addresses, err = tx.TokenAddresses(t.ID); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditTokenLookup, "token:"+t.ID)
		ev.Detail = map[string]string{"owner": t.OwnerName, "state": out.State}
		if out.RevokedNow {
			ev.Detail["revoked"] = "true"
		}
		return tx.Audit(ev)
	})
	if err != nil {
		return nil, err
	}
	if d := s.index.LastUsedDay(out.Token.ID); d.After(out.Token.LastUsedDay) {
		out.Token.LastUsedDay = d
	}
	return &out, nil
}

func tokenState(t *kiln.Token, now time.Time) string {
	switch {
	case !t.Revoked.IsZero():
		return TokenRevoked
	case t.ExpiredAt(now):
		return TokenExpired
	}
	return TokenLive
}

// NoteNewAddress records, in the token index's flush transaction, the
// first use of a token from an address: an audit event (actor: the
// token's owner) and a webhook event. The server hands it to
// auth.Index.SetNewAddressHook.
func (s *Service) NoteNewAddress(tx kiln.Tx, u kiln.TokenAddressUse) error {
	t, err := tx.Token(u.TokenID)
	if kiln.IsCode(err, kiln.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.Audit(kiln.AuditEvent{
		Time: u.At, Action: kiln.AuditTokenNewAddress, ActorID: t.OwnerID, ActorName: t.OwnerName,
		Target: "token:" + t.ID, RemoteAddr: u.Addr, Detail: map[string]string{"address": u.Addr},
	}); err != nil {
		return err
	}
	return s.emit(tx, tokenEvent(kiln.EventTokenNewAddress, t, "token.new_address:"+t.ID+":"+u.Addr, map[string]string{"address": u.Addr}))
}

// TokenAddresses returns the source addresses one of the caller's tokens
// (any token, for admins) was used from, most recently seen first.
func (s *Service) TokenAddresses(ctx context.Context, id string) ([]kiln.TokenAddress, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if !auth.ValidTokenID(id) {
		return nil, tokenNotFound(id)
	}
	var out []kiln.TokenAddress
	err = s.view(ctx, func(tx kiln.Tx) error {
		t, err := tx.Token(id)
		if kiln.IsCode(err, kiln.ENotFound) || (err == nil && !isAdmin(c) && t.OwnerID != c.Principal.ID) {
			return tokenNotFound(id)
		}
		if err != nil {
			return err
		}
		out, err = tx.TokenAddresses(id)
		return err
	})
	return out, err
}
