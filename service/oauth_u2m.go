package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
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
func (s *Service) ExchangeCode(ctx context.Context, clientID, code, verifier, redirectURI, issuer string) (*UserTokens, error) {
	d := s.index.Key().Digest(code)
	return s.exchange(ctx, issuer, func(tx kiln.Tx, next []byte) (*kiln.OAuthGrant, error) {
		g, err := tx.OAuthGrantByCode(d[:])
		if err != nil {
			return nil, errInvalidGrant
		}
		sum := sha256.Sum256([]byte(verifier))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if g.ClientID != clientID || g.RedirectURI != redirectURI || !tx.Now().Before(g.CodeExpires) ||
			subtle.ConstantTimeCompare([]byte(want), []byte(g.CodeChallenge)) != 1 {
			return nil, errInvalidGrant
		}
		if err := tx.RedeemOAuthCode(g.ID, d[:], next); err != nil {
			return nil, errInvalidGrant
		}
		// The index learns the grant's access tokens are live.
		return g, tx.Notify(kiln.ChangeOAuth, "grant:"+g.ID)
	})
}

// RefreshTokens exchanges a refresh token for new tokens (grant_type
// refresh_token); the refresh token is replaced, so each is used once.
func (s *Service) RefreshTokens(ctx context.Context, clientID, refresh, issuer string) (*UserTokens, error) {
	d := s.index.Key().Digest(refresh)
	return s.exchange(ctx, issuer, func(tx kiln.Tx, next []byte) (*kiln.OAuthGrant, error) {
		g, err := tx.OAuthGrantByRefresh(d[:])
		if err != nil || g.ClientID != clientID || !g.LiveAt(tx.Now()) {
			return nil, errInvalidGrant
		}
		if err := tx.RotateOAuthRefresh(g.ID, d[:], next); err != nil {
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
