package api

// scimPrefix is where Databricks serves workspace SCIM.
const scimPrefix = "/api/2.0/preview/scim/v2/"

// routes is the route table of the API surface.
func (s *Server) routes() {
	s.public(fallbackPattern, s.notFound)
	s.public("GET /healthz", s.healthz)
	s.public("GET /readyz", s.readyz)
	s.public("GET /.well-known/databricks-config", s.hostMetadata)
	s.authed("POST /telemetry-ext", s.telemetry)

	// Personal access tokens.
	s.authed("POST /api/2.0/token/create", s.createToken)
	s.authed("GET /api/2.0/token/list", s.listOwnTokens)
	s.authed("POST /api/2.0/token/delete", s.revokeOwnToken)
	s.authed("PATCH /api/2.0/token/{id}", s.updateOwnToken)

	// Token management, also under the legacy /preview prefix.
	for _, p := range []string{"/api/2.0/token-management", "/api/2.0/preview/token-management"} {
		s.authed("GET "+p+"/tokens", s.listTokens)
		s.authed("GET "+p+"/tokens/{id}", s.getToken)
		s.authed("DELETE "+p+"/tokens/{id}", s.revokeToken)
		s.authed("PATCH "+p+"/tokens/{id}", s.updateToken)
		s.authed("POST "+p+"/on-behalf-of/tokens", s.createOBOToken)
	}

	// Who may use tokens.
	s.authed("GET /api/2.0/permissions/authorization/tokens", s.getTokenPermissions)
	s.authed("PUT /api/2.0/permissions/authorization/tokens", s.setTokenPermissions)
	s.authed("PATCH /api/2.0/permissions/authorization/tokens", s.updateTokenPermissions)
	s.authed("GET /api/2.0/permissions/authorization/tokens/permissionLevels", s.tokenPermissionLevels)

	// Workspace settings, also under the legacy /preview prefix.
	for _, p := range []string{"/api/2.0/workspace-conf", "/api/2.0/preview/workspace-conf"} {
		s.authed("GET "+p, s.getConf)
		s.authed("PATCH "+p, s.setConf)
	}

	// Identities.
	s.authed("GET "+scimPrefix+"Me", s.me)
	for _, k := range scimKinds {
		s.authed("GET "+scimPrefix+k.resource, s.scimList(k))
		s.authed("POST "+scimPrefix+k.resource, s.scimCreate(k))
		s.authed("GET "+scimPrefix+k.resource+"/{id}", s.scimGet(k))
		s.authed("PUT "+scimPrefix+k.resource+"/{id}", s.scimReplace(k))
		s.authed("PATCH "+scimPrefix+k.resource+"/{id}", s.scimPatch(k))
		s.authed("DELETE "+scimPrefix+k.resource+"/{id}", s.scimDelete(k))
	}

	s.workspaceRoutes() // Workspace, Secrets and DBFS (workspace.go)
	s.jobsRoutes()      // Jobs, runs, and the clusters verbs of connection checks (jobs.go)

	// kiln's own API, outside the Databricks paths.
	s.authed("GET /api/kiln/v1/audit", s.listAudit)
	s.authed("GET /api/kiln/v1/token/current", s.currentToken)
}
