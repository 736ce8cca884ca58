package auth

import (
	"context"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// Reasons an access token check fails, beside the PAT ones.
const (
	ReasonCredentialGone = "oauth credential deleted or revoked"
)

// oauthCred is a live OAuth credential as the index holds it: a service
// principal's secret or a redeemed grant.
type oauthCred struct {
	principalID int64
	expires     time.Time // zero: never
}

// accessEntry is a verified access token, cached by its value so that
// each token's signature is checked once, not on every request. Unlike
// personal access tokens, whose values kiln never keeps, access tokens
// are cached by value: anyone who can read this process's memory holds
// the signing key, which mints any access token, so a keyed digest would
// protect nothing and would cost an HMAC over the whole JWT per request.
type accessEntry struct {
	claims AccessClaims
	scopes []string
}

// maxAccessCache bounds the verified-token cache; when full it is
// cleared (tokens live an hour, so it refills with the ones in use).
const maxAccessCache = 20000

// loadOAuth reads every live OAuth credential.
func (ix *Index) loadOAuth(ctx context.Context) error {
	var (
		secrets []*kiln.OAuthSecret
		grants  []*kiln.OAuthGrant
	)
	now := ix.now()
	err := ix.store.View(ctx, func(tx kiln.Tx) error {
		var err error
		if secrets, err = tx.OAuthSecrets(0); err != nil {
			return err
		}
		grants, err = tx.OAuthGrants(0, now)
		return err
	})
	if err != nil {
		return err
	}
	creds := make(map[string]oauthCred, len(secrets)+len(grants))
	for _, s := range secrets {
		creds["secret:"+s.ID] = oauthCred{principalID: s.PrincipalID, expires: s.Expires}
	}
	for _, g := range grants {
		creds["grant:"+g.ID] = oauthCred{principalID: g.PrincipalID, expires: g.Expires}
	}
	ix.mu.Lock()
	ix.oauthCreds = creds
	ix.mu.Unlock()
	return nil
}

// CheckAccessToken authenticates an OAuth access token: its signature
// (once per token, then from a cache), its expiry, the
// credential it was issued under (still live in the index) and its
// principal (active). No database read. enableTokensConfig and the token
// permission govern personal access tokens only, as on Databricks.
func (ix *Index) CheckAccessToken(value string) (*kiln.Caller, Denial) {
	ix.accessMu.RLock()
	e := ix.access[value]
	ix.accessMu.RUnlock()
	if e == nil {
		c, err := ix.key.ParseAccessToken(value)
		if err != nil {
			return nil, Denial{Reason: ReasonMalformed}
		}
		e = &accessEntry{claims: c}
		if c.Scope != kiln.ScopeAllAPIs {
			e.scopes = strings.Fields(c.Scope)
		}
		ix.accessMu.Lock()
		if len(ix.access) >= maxAccessCache || ix.access == nil {
			ix.access = make(map[string]*accessEntry)
		}
		ix.access[value] = e
		ix.accessMu.Unlock()
	}
	now := ix.now()
	if !now.Before(e.claims.Expires) {
		return nil, Denial{Reason: ReasonExpired, OwnerID: e.claims.PrincipalID}
	}
	ix.mu.RLock()
	cred, live := ix.oauthCreds[e.claims.Credential]
	ps := ix.principals[e.claims.PrincipalID]
	ix.mu.RUnlock()
	switch {
	case !live || cred.principalID != e.claims.PrincipalID || (!cred.expires.IsZero() && !now.Before(cred.expires)):
		return nil, Denial{Reason: ReasonCredentialGone, OwnerID: e.claims.PrincipalID}
	case ps == nil || !ps.p.Active:
		return nil, Denial{Reason: ReasonOwnerInactive, OwnerID: e.claims.PrincipalID}
	}
	return &kiln.Caller{Principal: ps.p, Method: "oauth", TokenExpires: e.claims.Expires,
		Scopes: e.scopes, OAuthClient: e.claims.ClientID}, Denial{}
}
