package kiln

import "time"

// Token is a personal access token as stored: never its secret value, only
// a keyed digest of it.
type Token struct {
	// ID is 64 lowercase hex characters, random and public, not derived
	// from the secret.
	ID string
	// Digest is HMAC-SHA256(server key, value). Unique.
	Digest []byte
	// OwnerID is the principal the token acts as.
	OwnerID int64
	// CreatedByID is who minted it: the owner, or an admin for an
	// on-behalf-of token.
	CreatedByID int64
	Comment     string
	Created     time.Time
	// Expires is zero for a token that never expires.
	Expires time.Time
	// Revoked is zero while the token is not revoked.
	Revoked   time.Time
	RevokedBy int64
	// LastUsedDay is the UTC day of the last use, or zero if never used.
	LastUsedDay time.Time
	// ValueSHA256 is the plain SHA-256 of the value, so that a value found
	// in a paste can be traced through the audit log without kiln keeping
	// the value (the value has 128 random bits, so the hash reveals
	// nothing). Nil for tokens minted before kiln recorded it.
	ValueSHA256 []byte
	// RotatedTo is the id of the token that replaced this one, and
	// RotatedAt when; both zero for a token never rotated. A rotated token
	// keeps working until its (shortened) Expires.
	RotatedTo string
	RotatedAt time.Time
	// Scopes restrict the API areas the token reaches ([ScopesAllow]);
	// nil is unrestricted.
	Scopes []string

	// Owner and CreatedBy user names, filled by list and get reads.
	OwnerName     string
	CreatedByName string
}

// ExpiredAt reports whether the token has expired at time now.
func (t *Token) ExpiredAt(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// TokenAddress is a source address a token was used from: kiln keeps the
// last few distinct ones of each token ([MaxTokenAddresses]).
type TokenAddress struct {
	Addr      string
	FirstSeen time.Time
	LastSeen  time.Time
}

// TokenAddressUse is one observed use of a token from an address, as the
// token index batches them for the store.
type TokenAddressUse struct {
	TokenID string
	Addr    string
	At      time.Time
}

// TokenFilter selects tokens. Zero fields do not filter.
type TokenFilter struct {
	OwnerID     int64
	CreatedByID int64
	// CreatedByName matches the creator's user name, case-insensitively.
	CreatedByName string
	// Live excludes revoked tokens and tokens expired at LiveAt.
	Live   bool
	LiveAt time.Time
}

// Token policy limits.
const (
	// MaxTokensPerUser is the per-principal quota of live tokens, as on
	// Databricks.
	MaxTokensPerUser = 600
	// MaxCommentLength bounds a token comment, in bytes.
	MaxCommentLength = 512
	// MaxTokenAddresses is how many distinct source addresses kiln keeps
	// per token, the most recently seen.
	MaxTokenAddresses = 5
)
