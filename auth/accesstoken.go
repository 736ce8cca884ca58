package auth

import (
	"errors"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AccessClaims are what an OAuth access token says: whose it is, under
// which credential it was issued, and what it may reach. kiln issues
// access tokens as JWTs signed with HS256 under a key derived from the
// token key, so checking one needs no database read; the credential it
// names must still be live in the index, so deleting a secret or
// deactivating the principal ends the token on the next request.
type AccessClaims struct {
	// Subject is the principal's user name (a service principal's
	// application id), as Databricks puts it in sub.
	Subject     string `json:"sub"`
	PrincipalID int64  `json:"kiln_pid"`
	// Credential names what the token was issued under: "secret:<id>"
	// (client_credentials) or "grant:<id>" (authorization code).
	Credential string `json:"kiln_cred"`
	ClientID   string `json:"client_id"`
	// Scope is the granted scopes, space-separated, as in the token
	// response ("all-apis" for unrestricted).
	Scope   string    `json:"scope"`
	Issued  time.Time `json:"-"`
	Expires time.Time `json:"-"`
}

// accessKeyLabel derives the signing key of access tokens from the token
// key: a key of its own, so no digest kiln computes elsewhere can serve
// as a signature.
const accessKeyLabel = "kiln oauth access token signing key v1"

// ErrBadAccessToken is any access token that does not verify: malformed,
// or signed with another key.
var ErrBadAccessToken = errors.New("auth: invalid access token")

func (k *Key) accessKey() []byte {
	d := k.Digest(accessKeyLabel)
	return d[:]
}

// MintAccessToken signs c as a JWT from issuer.
func (k *Key) MintAccessToken(issuer string, c AccessClaims) (string, error) {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: k.accessKey()},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return "", err
	}
	std := jwt.Claims{
		Issuer: issuer, Subject: c.Subject, Audience: jwt.Audience{c.ClientID}, ID: NewTokenID()[:32],
		IssuedAt: jwt.NewNumericDate(c.Issued), NotBefore: jwt.NewNumericDate(c.Issued), Expiry: jwt.NewNumericDate(c.Expires),
	}
	return jwt.Signed(sig).Claims(std).Claims(c).Serialize()
}

// LooksLikeJWT reports whether a bearer value has a JWT's shape (three
// dot-separated parts starting with a JSON header), so that it is checked
// as an access token rather than a personal access token.
func LooksLikeJWT(v string) bool {
	return strings.HasPrefix(v, "eyJ") && strings.Count(v, ".") == 2 && len(v) < 8192
}

// ParseAccessToken verifies value's signature and returns its claims.
// The issuer is not compared: it is the URL the token was requested at,
// which differs behind proxies, and only this key signs kiln's tokens.
// Expiry is the caller's to check (the index's clock).
func (k *Key) ParseAccessToken(value string) (AccessClaims, error) {
	tok, err := jwt.ParseSigned(value, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return AccessClaims{}, ErrBadAccessToken
	}
	var std jwt.Claims
	var c AccessClaims
	if err := tok.Claims(k.accessKey(), &std, &c); err != nil {
		return AccessClaims{}, ErrBadAccessToken
	}
	if std.Expiry == nil || std.IssuedAt == nil || c.Credential == "" {
		return AccessClaims{}, ErrBadAccessToken
	}
	c.Issued, c.Expires = std.IssuedAt.Time(), std.Expiry.Time()
	return c, nil
}
