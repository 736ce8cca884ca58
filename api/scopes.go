package api

import (
	"net/http"
	"strings"

	"github.com/kiln-dev/kiln"
)

// scopeAreas maps path prefixes to the API scope that reaches them,
// longest prefix first where two overlap. A path no prefix matches (the
// caller's own identity, telemetry) is open to every scope, as /Me is on
// Databricks.
var scopeAreas = []struct{ prefix, area string }{
	{"/api/2.0/permissions/", kiln.ScopeAccessManagement},
	{"/api/2.0/token/", kiln.ScopeAuthentication},
	{"/api/2.0/token-management/", kiln.ScopeAuthentication},
	{"/api/2.0/preview/token-management/", kiln.ScopeAuthentication},
	{"/api/2.0/accounts/servicePrincipals/", kiln.ScopeAuthentication},
	{"/api/kiln/v1/tokens/", kiln.ScopeAuthentication},
	{"/api/kiln/v1/token-management/", kiln.ScopeAuthentication},
	{"/api/2.0/workspace-conf", kiln.ScopeSettings},
	{"/api/2.0/preview/workspace-conf", kiln.ScopeSettings},
	{"/api/2.0/ip-access-lists", kiln.ScopeSettings},
	{"/api/kiln/v1/webhooks", kiln.ScopeSettings},
	{"/api/kiln/v1/policy/", kiln.ScopeSettings},
	{"/api/kiln/v1/audit", kiln.ScopeAudit},
	{scimPrefix, kiln.ScopeSCIM},
	{"/api/2.0/workspace/", kiln.ScopeWorkspace},
	{"/api/2.0/workspace-files/", kiln.ScopeWorkspace},
	{"/api/2.0/secrets/", kiln.ScopeSecrets},
	{"/api/2.0/dbfs/", kiln.ScopeFiles},
	{"/api/2.0/jobs/", kiln.ScopeJobs},
	{"/api/2.1/jobs/", kiln.ScopeJobs},
	{"/api/2.2/jobs/", kiln.ScopeJobs},
	{"/api/2.0/clusters/", kiln.ScopeClusters},
	{"/api/2.1/clusters/", kiln.ScopeClusters},
	{"/api/2.0/instance-pools/", kiln.ScopeClusters},
	{"/api/2.1/instance-pools/", kiln.ScopeClusters},
	{"/api/2.0/policies/", kiln.ScopeClusters},
	{"/api/2.1/policies/", kiln.ScopeClusters},
}

// scopeArea returns the scope a route pattern ("METHOD /path") belongs to,
// or "" for routes every scope may call.
func scopeArea(pattern string) string {
	_, path, _ := strings.Cut(pattern, " ")
	if path == scimPrefix+"Me" {
		return ""
	}
	for _, a := range scopeAreas {
		if strings.HasPrefix(path, a.prefix) {
			return a.area
		}
	}
	return ""
}

// outOfScope is the answer to a token whose scopes do not reach the
// route. Databricks' exact wording is not published; this names what is
// missing, so the fix (a token with that scope) is obvious.
func outOfScope(area string) error {
	return kiln.Errorf(kiln.EPermission, "Provided access token does not have the required scope: %s.", area)
}

// inScope reports whether the caller's scopes reach area with r's method.
func inScope(c *kiln.Caller, area string, r *http.Request) bool {
	return kiln.ScopesAllow(c.Scopes, area, r.Method)
}
