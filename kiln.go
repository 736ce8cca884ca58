// Package kiln holds the domain of a kiln workspace: its identities, personal
// access tokens, settings, token permissions and audit events, the error type
// every layer speaks, and the storage contract that the SQL store implements.
//
// Implementations live in subpackages named after what they are (sqlstore,
// auth, service, api, cli); they talk to each other only in these terms.
package kiln

import "time"

// Workspace is the single workspace a kiln server serves.
type Workspace struct {
	// ID is the numeric workspace id, reported as X-Databricks-Org-Id and in
	// /.well-known/databricks-config. It stays below 2^53 so JavaScript
	// clients read it exactly.
	ID int64
	// Created is when the store was first initialised.
	Created time.Time
	// KeyFingerprint identifies the token key the store was initialised with
	// (never the key itself), so a server started with a different key can
	// refuse to run instead of rejecting every token.
	KeyFingerprint string
}

// Built-in group names. Both always exist and cannot be renamed or deleted.
const (
	// GroupAdmins holds the workspace administrators.
	GroupAdmins = "admins"
	// GroupUsers holds every user and service principal.
	GroupUsers = "users"
)

// MillisOf returns t as epoch milliseconds, the unit of every time on the
// Databricks wire; the zero time becomes 0.
func MillisOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// TimeOfMillis is the inverse of [MillisOf]: 0 becomes the zero time.
func TimeOfMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
