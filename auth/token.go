package auth

import (
	"crypto/rand"
	"encoding/hex"
)

// TokenPrefix starts every token value. It is Databricks' prefix, so secret
// scanners that already look for leaked Databricks tokens find kiln's too.
const TokenPrefix = "dapi"

// tokenHexLen is the number of hex characters after the prefix (128 bits).
const tokenHexLen = 32

// NewTokenValue returns a fresh token value: "dapi" and 32 lowercase hex
// characters from crypto/rand.
func NewTokenValue() string {
	var b [tokenHexLen / 2]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return TokenPrefix + hex.EncodeToString(b[:])
}

// NewTokenID returns a fresh public token id: 64 lowercase hex characters,
// random and unrelated to the secret.
func NewTokenID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WellFormed reports whether v has the shape of a kiln token: "dapi", 32
// lowercase hex characters, and optionally "-" and one digit (the suffix
// Azure Databricks tokens carry). Anything else is refused before any
// lookup.
func WellFormed(v string) bool {
	n := len(TokenPrefix) + tokenHexLen
	switch {
	case len(v) == n:
	case len(v) == n+2 && v[n] == '-' && v[n+1] >= '0' && v[n+1] <= '9':
	default:
		return false
	}
	if v[:len(TokenPrefix)] != TokenPrefix {
		return false
	}
	for i := len(TokenPrefix); i < n; i++ {
		c := v[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidTokenID reports whether id has the shape of a token id.
func ValidTokenID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
