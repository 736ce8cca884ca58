package auth

import (
	"encoding/base64"
	"errors"
	"strings"
)

// ErrNoCredential means the request carried no Authorization header, or
// one of a scheme kiln does not accept.
var ErrNoCredential = errors.New("no credential")

// ErrBadCredential means an Authorization header of an accepted scheme
// could not be decoded.
var ErrBadCredential = errors.New("malformed credential")

// Credential is what a request presented in its Authorization header.
type Credential struct {
	// Token is the presented token value, not yet checked.
	Token string
	// User is the Basic user name ("token", or the owner's user name);
	// empty for Bearer.
	User string
}

// ParseAuthorization extracts a token from an Authorization header value:
// "Bearer <token>", or "Basic base64(user:token)" where user is "token" or
// the token owner's user name (the Databricks .netrc convention). Scheme
// names are case-insensitive. It returns ErrNoCredential for an empty header
// or another scheme and ErrBadCredential for an undecodable one.
func ParseAuthorization(header string) (Credential, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return Credential{}, ErrNoCredential
	}
	scheme, rest, _ := strings.Cut(header, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if rest == "" || strings.ContainsAny(rest, " \t") {
			return Credential{}, ErrBadCredential
		}
		return Credential{Token: rest}, nil
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return Credential{}, ErrBadCredential
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok || user == "" || pass == "" {
			return Credential{}, ErrBadCredential
		}
		return Credential{Token: pass, User: user}, nil
	default:
		return Credential{}, ErrNoCredential
	}
}
