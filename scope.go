package kiln

import (
	"slices"
	"strings"
)

// Scopes restrict which API areas a token may call, on top of what its
// owner may do: a scope never grants a right. The names are Databricks'
// API scope names; a scope followed by ":read" allows only that area's
// reads (GET and HEAD). A token without scopes (and an OAuth token
// granted all-apis) reaches every area.
const (
	ScopeAllAPIs          = "all-apis"
	ScopeAuthentication   = "authentication"    // tokens, token management, OAuth secrets
	ScopeAccessManagement = "access-management" // permissions of objects and of tokens
	ScopeSettings         = "settings"          // workspace-conf, IP access lists, webhooks
	ScopeSCIM             = "scim"              // users, service principals, groups
	ScopeWorkspace        = "workspace"         // notebooks, files, directories
	ScopeSecrets          = "secrets"           // secret scopes, secrets, secret ACLs
	ScopeFiles            = "files"             // DBFS
	ScopeJobs             = "jobs"              // jobs and runs
	ScopeClusters         = "clusters"          // clusters, pools, policies, node types
	ScopeSQL              = "sql"               // SQL warehouses and queries (kiln serves none)
	ScopeAudit            = "audit"             // kiln's audit log
	// ScopeOfflineAccess asks the token endpoint for a refresh token; it
	// restricts nothing.
	ScopeOfflineAccess = "offline_access"
	// ScopeReadSuffix narrows a scope to reads: "jobs:read".
	ScopeReadSuffix = ":read"
)

// APIScopes are the area scopes kiln knows, in the order it lists them.
var APIScopes = []string{
	ScopeAuthentication, ScopeAccessManagement, ScopeSettings, ScopeSCIM, ScopeWorkspace,
	ScopeSecrets, ScopeFiles, ScopeJobs, ScopeClusters, ScopeSQL, ScopeAudit,
}

// NormalizeScopes validates requested scopes and returns them sorted and
// deduplicated; OpenID Connect names (openid, profile, email) and
// offline_access are dropped, since they restrict nothing. nil (or a list
// containing all-apis) means unrestricted. An unknown name is EInvalid,
// naming it.
func NormalizeScopes(scopes []string) ([]string, error) {
	var out []string
	all := false
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		switch s {
		case "", ScopeOfflineAccess, "openid", "profile", "email":
			continue
		case ScopeAllAPIs:
			all = true
			continue
		}
		if !slices.Contains(APIScopes, strings.TrimSuffix(s, ScopeReadSuffix)) {
			return nil, Errorf(EInvalid, "Unknown scope %q. Known scopes: %s, and each of them with %s; or %s.",
				s, strings.Join(APIScopes, ", "), ScopeReadSuffix, ScopeAllAPIs)
		}
		out = append(out, s)
	}
	if all {
		return nil, nil
	}
	slices.Sort(out)
	out = slices.Compact(out)
	// A full scope makes its :read variant redundant.
	return slices.DeleteFunc(out, func(s string) bool {
		base, read := strings.CutSuffix(s, ScopeReadSuffix)
		return read && slices.Contains(out, base)
	}), nil
}

// ScopesAllow reports whether a token with scopes (nil: unrestricted) may
// call area with a request of that method. An empty area is allowed to
// every token (the caller's own identity, telemetry).
func ScopesAllow(scopes []string, area, method string) bool {
	if scopes == nil || area == "" {
		return true
	}
	for _, s := range scopes {
		base, read := strings.CutSuffix(s, ScopeReadSuffix)
		if base == area && (!read || method == "GET" || method == "HEAD") {
			return true
		}
	}
	return false
}

// ScopesWithin reports whether every scope of want is allowed by have: a
// token may mint only tokens no wider than itself. nil is unrestricted.
func ScopesWithin(want, have []string) bool {
	if have == nil {
		return true
	}
	if want == nil {
		return false
	}
	for _, w := range want {
		base, read := strings.CutSuffix(w, ScopeReadSuffix)
		if !slices.Contains(have, w) && !(read && slices.Contains(have, base)) {
			return false
		}
	}
	return true
}

// ScopeString renders scopes as OAuth does, space-separated; nil is
// all-apis.
func ScopeString(scopes []string) string {
	if scopes == nil {
		return ScopeAllAPIs
	}
	return strings.Join(scopes, " ")
}
