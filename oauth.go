package kiln

import "time"

// OAuthSecret is a service principal's OAuth client secret, as stored:
// never the secret, only a keyed digest of it. The service principal's
// application id is the client id; the secret and the id together buy
// access tokens at the token endpoint (client_credentials).
type OAuthSecret struct {
	// ID is public and random (32 hex characters).
	ID          string
	PrincipalID int64
	// Digest is HMAC-SHA256(server key, secret). Unique.
	Digest []byte
	// SecretHash is the hex SHA-256 of the secret, as Databricks shows it
	// (secret_hash): it identifies a leaked secret without revealing it.
	SecretHash string
	Created    time.Time
	Updated    time.Time
	// Expires is zero for a secret that never expires.
	Expires time.Time
}

// ExpiredAt reports whether the secret has expired at now.
func (s *OAuthSecret) ExpiredAt(now time.Time) bool {
	return !s.Expires.IsZero() && !now.Before(s.Expires)
}

// OAuthGrant is one person's consent to an OAuth client (U2M): first an
// authorization code, then, once the code is redeemed, a refresh token.
// Only keyed digests of the code and the refresh token are stored. Access
// tokens issued under the grant end when the grant is revoked.
type OAuthGrant struct {
	// ID is public and random (32 hex characters).
	ID          string
	PrincipalID int64
	// ClientID is the OAuth client the user consented to (databricks-cli).
	ClientID string
	// Scopes are what the user granted, normalised ([NormalizeScopes]).
	Scopes      []string
	RedirectURI string
	// CodeDigest is the digest of the unredeemed authorization code; nil
	// once redeemed. CodeChallenge is its PKCE S256 challenge and
	// CodeExpires when the code stops being redeemable.
	CodeDigest    []byte
	CodeChallenge string
	CodeExpires   time.Time
	// RefreshDigest is the digest of the current refresh token; nil until
	// the code is redeemed, and each refresh replaces it.
	RefreshDigest []byte
	Created       time.Time
	// Expires is when the grant (its refresh token) ends.
	Expires time.Time
	// Revoked is zero while the grant is not revoked.
	Revoked time.Time
}

// LiveAt reports whether the grant is neither revoked nor expired at now.
func (g *OAuthGrant) LiveAt(now time.Time) bool {
	return g.Revoked.IsZero() && now.Before(g.Expires)
}

// OAuthTx manages OAuth client secrets and grants.
type OAuthTx interface {
	// CreateOAuthSecret inserts s; a zero Created becomes the transaction
	// time. ENotFound if the principal does not exist.
	CreateOAuthSecret(s *OAuthSecret) error
	// OAuthSecrets returns the secrets of principal id (every secret when
	// id is 0), oldest first.
	OAuthSecrets(principalID int64) ([]*OAuthSecret, error)
	// OAuthSecretByDigest returns the secret with that digest, or ENotFound.
	OAuthSecretByDigest(digest []byte) (*OAuthSecret, error)
	// DeleteOAuthSecret removes secret id of principal principalID, or
	// ENotFound.
	DeleteOAuthSecret(principalID int64, id string) error

	// CreateOAuthGrant inserts g; a zero Created becomes the transaction
	// time. ENotFound if the principal does not exist.
	CreateOAuthGrant(g *OAuthGrant) error
	// OAuthGrant returns grant id, or ENotFound.
	OAuthGrant(id string) (*OAuthGrant, error)
	// OAuthGrantByCode returns the grant whose unredeemed code has that
	// digest, or ENotFound.
	OAuthGrantByCode(codeDigest []byte) (*OAuthGrant, error)
	// OAuthGrantByRefresh returns the grant whose current refresh token
	// has that digest, or ENotFound.
	OAuthGrantByRefresh(refreshDigest []byte) (*OAuthGrant, error)
	// RedeemOAuthCode replaces grant id's code (which must still have
	// codeDigest) with the refresh token refreshDigest. Exclusive: of two
	// redemptions of one code exactly one succeeds; the other gets
	// EConflict.
	RedeemOAuthCode(id string, codeDigest, refreshDigest []byte) error
	// RotateOAuthRefresh replaces grant id's refresh token, which must
	// still be oldDigest, with newDigest, and records oldDigest as spent
	// (OAuthGrantBySpentRefresh); EConflict if it no longer is.
	RotateOAuthRefresh(id string, oldDigest, newDigest []byte) error
	// OAuthGrantBySpentRefresh returns the grant that rotated past the
	// refresh token with that digest and when, or ENotFound: a spent
	// token presented again means a copy is loose.
	OAuthGrantBySpentRefresh(refreshDigest []byte) (*OAuthGrant, time.Time, error)
	// RevokeOAuthGrant marks grant id revoked at the transaction time;
	// ENotFound if it does not exist, EConflict if already revoked.
	RevokeOAuthGrant(id string) error
	// OAuthGrants returns principal id's grants (every grant when id is
	// 0) that are redeemed, not revoked and not expired at now, oldest
	// first.
	OAuthGrants(principalID int64, now time.Time) ([]*OAuthGrant, error)
	// PruneOAuthGrants deletes grants whose code was never redeemed and
	// expired before cutoff, and grants revoked or expired before cutoff;
	// it returns how many it deleted.
	PruneOAuthGrants(cutoff time.Time) (int, error)
}
