package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// U2M (authorization code with PKCE) limits.
const (
	// CLIClientID is the public OAuth client of the Databricks CLI and
	// SDKs (databricks auth login), the one kiln knows.
	CLIClientID = "databricks-cli"
	// codeLifetime is how long an authorization code may be redeemed.
	codeLifetime = 2 * time.Minute
	// GrantLifetime is how long a U2M grant (its refresh token) lives.
	GrantLifetime = 90 * 24 * time.Hour
	// refreshPrefix starts every refresh token, so scanners can find them.
	refreshPrefix = "doau"
)

// AuthorizeRequest is what /oidc/v1/authorize carries.
type AuthorizeRequest struct {
	ClientID, RedirectURI, Scope, CodeChallenge, CodeChallengeMethod string
}

// CheckAuthorizeRequest validates a request before the user is asked:
// the client must be known and its redirect a loopback address (never an
// open redirect), with PKCE S256. It returns the normalised scopes.
func CheckAuthorizeRequest(a AuthorizeRequest) ([]string, error) {
	if a.ClientID != CLIClientID {
		return nil, kiln.Errorf(kiln.EInvalid, "Unknown OAuth client %q: kiln knows %s.", truncateText(a.ClientID, 64), CLIClientID)
	}
	u, err := url.Parse(a.RedirectURI)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Port() == "" {
		return nil, kiln.Errorf(kiln.EInvalid, "The redirect URI must be a loopback address with a port, such as http://localhost:8020.")
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, kiln.Errorf(kiln.EInvalid, "The redirect URI must be a loopback address with a port, such as http://localhost:8020.")
	}
	if a.CodeChallengeMethod != "S256" || len(a.CodeChallenge) < 43 || len(a.CodeChallenge) > 128 {
		return nil, kiln.Errorf(kiln.EInvalid, "PKCE with code_challenge_method S256 is required.")
	}
	return kiln.NormalizeScopes(strings.Fields(a.Scope))
}

func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Authorize records the signed-in caller's consent to a and returns the
// authorization code to send back to the redirect URI.
func (s *Service) Authorize(ctx context.Context, a AuthorizeRequest) (string, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return "", err
	}
	scopes, err := CheckAuthorizeRequest(a)
	if err != nil {
		return "", err
	}
	code := auth.NewTokenID()
	d := s.index.Key().Digest(code)
	err = s.update(ctx, func(tx kiln.Tx) error {
		now := tx.Now()
		g := &kiln.OAuthGrant{ID: auth.NewTokenID()[:32], PrincipalID: c.Principal.ID, ClientID: a.ClientID, Scopes: scopes,
			RedirectURI: a.RedirectURI, CodeDigest: d[:], CodeChallenge: a.CodeChallenge, CodeExpires: now.Add(codeLifetime),
			Expires: now.Add(GrantLifetime)}
		if err := tx.CreateOAuthGrant(g); err != nil {
			return err
		}
		ev := auditEvent(c, "oauth.authorize", "grant:"+g.ID)
		ev.Detail = map[string]string{"client_id": a.ClientID, "scope": kiln.ScopeString(scopes)}
		return tx.Audit(ev)
	})
	return code, err
}

// errInvalidGrant is every failed code or refresh exchange.
var errInvalidGrant = kiln.Errorf(kiln.EConflict, "The authorization code or refresh token is invalid, expired or already used.")

// UserTokens are the tokens of a code or refresh exchange.
type UserTokens struct {
	AccessToken
	Refresh string
}

// ExchangeCode redeems an authorization code (grant_type
// authorization_code) with its PKCE verifier.
//
// A live code presented with the wrong verifier, client or redirect URI
// is burned: its grant ends, so whoever intercepted the code cannot keep
// guessing, and the rightful client, whose exchange then fails too, starts
// a fresh sign-in (RFC 9700 section 2.1.1 asks that a code be used once).
func (s *Service) ExchangeCode(ctx context.Context, clientID, code, verifier, redirectURI, issuer string) (*UserTokens, error) {
	d := s.index.Key().Digest(code)
	var misused *kiln.OAuthGrant
	tokens, err := s.exchange(ctx, issuer, func(tx kiln.Tx, next []byte) (*kiln.OAuthGrant, error) {
		g, err := tx.OAuthGrantByCode(d[:])
		if err != nil || !tx.Now().Before(g.CodeExpires) {
			return nil, errInvalidGrant
		}
		sum := sha256.Sum256([]byte(verifier))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if g.ClientID != clientID || g.RedirectURI != redirectURI ||
			subtle.ConstantTimeCompare([]byte(want), []byte(g.CodeChallenge)) != 1 {
			misused = g
			return nil, errInvalidGrant
		}
		if err := tx.RedeemOAuthCode(g.ID, d[:], next); err != nil {
			return nil, errInvalidGrant
		}
		// The index learns the grant's access tokens are live.
		return g, tx.Notify(kiln.ChangeOAuth, "grant:"+g.ID)
	})
	if misused != nil {
		s.burnCode(ctx, misused, clientID)
	}
	return tokens, err
}

// AuditOAuthCodeMisuse records an authorization code presented with the
// wrong PKCE verifier, client or redirect URI, which ended its grant.
const AuditOAuthCodeMisuse = "oauth.code_misuse"

// burnCode ends grant g, whose code was just presented wrongly by
// clientID, in a transaction of its own (the failed exchange's rolled
// back).
func (s *Service) burnCode(ctx context.Context, g *kiln.OAuthGrant, clientID string) {
	err := s.update(ctx, func(tx kiln.Tx) error {
		if err := tx.RevokeOAuthGrant(g.ID); kiln.IsCode(err, kiln.EConflict) {
			return nil // revoked meanwhile
		} else if err != nil {
			return err
		}
		p, err := tx.Principal(g.PrincipalID)
		if err != nil {
			return err
		}
		if err := tx.Audit(kiln.AuditEvent{Action: AuditOAuthCodeMisuse, ActorID: p.ID, ActorName: p.UserName, Target: "grant:" + g.ID,
			Detail: map[string]string{"client_id": g.ClientID, "presented_client_id": clientID}}); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeOAuth, "grant:"+g.ID)
	})
	if err != nil {
		s.log.Error("burning an OAuth code presented wrongly", "err", err)
	}
}

// AuditOAuthRefreshReuse records a spent refresh token presented again,
// which ended its grant.
const AuditOAuthRefreshReuse = "oauth.refresh_reuse"

// RefreshTokens exchanges a refresh token for new tokens (grant_type
// refresh_token); the refresh token is replaced, so each is used once. A
// spent one presented again means two parties hold the grant's tokens
// (one of them a thief): the whole grant ends, so the thief's copy dies
// with it and the rightful client must sign in again.
func (s *Service) RefreshTokens(ctx context.Context, clientID, refresh, issuer string) (*UserTokens, error) {
	d := s.index.Key().Digest(refresh)
	tokens, err := s.refresh(ctx, clientID, d[:], issuer)
	if errors.Is(err, errInvalidGrant) {
		s.endReusedGrant(ctx, d[:])
	}
	return tokens, err
}

// RefreshReuseGrace is how soon after its rotation a spent refresh token
// may come back without ending its grant: two commands of one user that
// refreshed at the same moment (parallel CLI calls sharing a token cache)
// are a race, not a theft. The late one is still refused.
const RefreshReuseGrace = 30 * time.Second

// endReusedGrant revokes the live grant that rotated past the refresh
// token with digest d more than RefreshReuseGrace ago, if any, in a
// transaction of its own (the failed exchange's rolled back).
func (s *Service) endReusedGrant(ctx context.Context, d []byte) {
	err := s.update(ctx, func(tx kiln.Tx) error {
		g, spent, err := tx.OAuthGrantBySpentRefresh(d)
		if kiln.IsCode(err, kiln.ENotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if !g.Revoked.IsZero() || s.now().Sub(spent) < RefreshReuseGrace {
			return nil
		}
		if err := tx.RevokeOAuthGrant(g.ID); err != nil {
			return err
		}
		p, err := tx.Principal(g.PrincipalID)
		if err != nil {
			return err
		}
		if err := tx.Audit(kiln.AuditEvent{Action: AuditOAuthRefreshReuse, ActorID: p.ID, ActorName: p.UserName, Target: "grant:" + g.ID,
			Detail: map[string]string{"client_id": g.ClientID}}); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeOAuth, "grant:"+g.ID)
	})
	if err != nil {
		s.log.Error("ending an OAuth grant whose spent refresh token came back", "err", err)
	}
}

func (s *Service) refresh(ctx context.Context, clientID string, d []byte, issuer string) (*UserTokens, error) {
	return s.exchange(ctx, issuer, func(tx kiln.Tx, next []byte) (*kiln.OAuthGrant, error) {
		g, err := tx.OAuthGrantByRefresh(d)
		if err != nil || g.ClientID != clientID || !g.LiveAt(tx.Now()) {
			return nil, errInvalidGrant
		}
		if err := tx.RotateOAuthRefresh(g.ID, d, next); err != nil {
			return nil, errInvalidGrant
		}
		return g, nil
	})
}

// exchange runs one code or refresh exchange: redeem checks what was
// presented and stores next (the digest of a fresh refresh token) on the
// grant, in the same transaction that checks the user is still active.
func (s *Service) exchange(ctx context.Context, issuer string, redeem func(tx kiln.Tx, next []byte) (*kiln.OAuthGrant, error)) (*UserTokens, error) {
	refresh := refreshPrefix + auth.NewTokenID()
	nd := s.index.Key().Digest(refresh)
	var g *kiln.OAuthGrant
	var p *kiln.Principal
	err := s.update(ctx, func(tx kiln.Tx) error {
		var err error
		if g, err = redeem(tx, nd[:]); err != nil {
			return err
		}
		if p, err = tx.Principal(g.PrincipalID); err != nil || !p.Active {
			return errInvalidGrant
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.userTokens(issuer, p, g, refresh)
}

func (s *Service) userTokens(issuer string, p *kiln.Principal, g *kiln.OAuthGrant, refresh string) (*UserTokens, error) {
	now := s.now().UTC()
	exp := now.Add(AccessTokenLifetime)
	if g.Expires.Before(exp) {
		exp = g.Expires
	}
	at, err := s.issue(issuer, p, "grant:"+g.ID, g.ClientID, g.Scopes, now, exp)
	if err != nil {
		return nil, err
	}
	return &UserTokens{AccessToken: *at, Refresh: refresh}, nil
}
