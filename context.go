package kiln

import (
	"context"
	"time"
)

type contextKey int

const principalKey contextKey = iota

// Caller is the authenticated principal of a request, and how it proved it.
type Caller struct {
	Principal *Principal
	// TokenID is set when the caller used a personal access token.
	TokenID string
	// Method is "pat", "oauth", "session" or "offline" (kiln admin on the
	// data dir).
	Method string
	// TokenExpires is when the token ends, zero if never (or no token).
	TokenExpires time.Time
	// Scopes restrict the API areas the request may reach ([ScopesAllow]);
	// nil is unrestricted (console sessions, unscoped tokens).
	Scopes []string
	// OAuthClient is the OAuth client id of an OAuth access token (the
	// service principal's application id, or databricks-cli); empty
	// otherwise.
	OAuthClient string
}

// NewContextWithCaller returns a copy of ctx carrying c.
func NewContextWithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, principalKey, c)
}

// CallerFromContext returns the caller in ctx, or nil.
func CallerFromContext(ctx context.Context) *Caller {
	c, _ := ctx.Value(principalKey).(*Caller)
	return c
}
