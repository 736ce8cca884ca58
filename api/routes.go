package api

// scimPrefix is where Databricks serves workspace SCIM.
const scimPrefix = "/api/2.0/preview/scim/v2/"

// jobsVersions are the Jobs API versions kiln serves: every verb under
// each, as clients use all three (the legacy CLI 2.0, Airflow 2.1 and
// 2.2, the SDKs 2.2).
var jobsVersions = []string{"2.0", "2.1", "2.2"}

// computeVersions are the versions of the clusters, instance pools and
// policies verbs.
var computeVersions = []string{"2.0", "2.1"}

// routes is the API's one route table, grouped by Databricks service.
// public routes need no credential; authed ones a valid token (or a
// console session); authedLimit ones take uploads, with their own body
// limit. A request no pattern matches gets notFound: 405 with Allow when
// the path exists for another method, else a JSON 404. The server mounts
// this handler at /api/, /.well-known/ and /telemetry-ext; health probes
// and the console are the server's (server/handler.go).
func (s *Server) routes() {
	s.public(fallbackPattern, s.notFound)

	// Discovery and telemetry: the SDKs' host metadata, the CLI's usage
	// reports (accepted and dropped).
	s.public("GET /.well-known/databricks-config", s.hostMetadata)
	s.authed("POST /telemetry-ext", s.telemetry)

	// OAuth: the authorization server's discovery document and token
	// endpoint (oauth.go), and service principals' OAuth secrets at the
	// workspace path of the SDKs' ServicePrincipalSecretsProxy.
	s.public("GET /oidc/.well-known/oauth-authorization-server", s.oauthMetadata)
	s.public("POST /oidc/v1/token", s.oauthToken)
	sp := "/api/2.0/accounts/servicePrincipals/{sp}/credentials/secrets"
	s.authed("POST "+sp, s.createOAuthSecret)
	s.authed("GET "+sp, s.listOAuthSecrets)
	s.authed("DELETE "+sp+"/{secret}", s.deleteOAuthSecret)

	// Tokens: a caller's own personal access tokens (tokens.go).
	s.authed("POST /api/2.0/token/create", s.createToken)
	s.authed("GET /api/2.0/token/list", s.listOwnTokens)
	s.authed("POST /api/2.0/token/delete", s.revokeOwnToken)
	s.authed("PATCH /api/2.0/token/{id}", s.updateOwnToken)

	// Token management: every token, for admins (tokens.go); also under
	// the legacy /preview prefix.
	for _, p := range []string{"/api/2.0/token-management", "/api/2.0/preview/token-management"} {
		s.authed("GET "+p+"/tokens", s.listTokens)
		s.authed("GET "+p+"/tokens/{id}", s.getToken)
		s.authed("DELETE "+p+"/tokens/{id}", s.revokeToken)
		s.authed("PATCH "+p+"/tokens/{id}", s.updateToken)
		s.authed("POST "+p+"/on-behalf-of/tokens", s.createOBOToken)
	}

	// Permissions: who may use tokens, and object permissions
	// (permissions.go).
	s.authed("GET /api/2.0/permissions/authorization/tokens", s.getTokenPermissions)
	s.authed("PUT /api/2.0/permissions/authorization/tokens", s.setTokenPermissions)
	s.authed("PATCH /api/2.0/permissions/authorization/tokens", s.updateTokenPermissions)
	s.authed("GET /api/2.0/permissions/authorization/tokens/permissionLevels", s.tokenPermissionLevels)
	// Permissions of jobs (CAN_VIEW, CAN_MANAGE_RUN, CAN_MANAGE, IS_OWNER).
	s.authed("GET /api/2.0/permissions/jobs/{id}", s.getJobPermissions)
	s.authed("PUT /api/2.0/permissions/jobs/{id}", s.changeJobPermissions(true))
	s.authed("PATCH /api/2.0/permissions/jobs/{id}", s.changeJobPermissions(false))
	s.authed("GET /api/2.0/permissions/jobs/{id}/permissionLevels", s.jobPermissionLevels)
	// Permissions of clusters (CAN_ATTACH_TO, CAN_RESTART, CAN_MANAGE).
	s.authed("GET /api/2.0/permissions/clusters/{id}", s.getClusterPermissions)
	s.authed("PUT /api/2.0/permissions/clusters/{id}", s.changeClusterPermissions(true))
	s.authed("PATCH /api/2.0/permissions/clusters/{id}", s.changeClusterPermissions(false))
	s.authed("GET /api/2.0/permissions/clusters/{id}/permissionLevels", s.clusterPermissionLevels)
	// Instance pools and cluster policies: kiln has none, so every id
	// names nothing (permissions.go).
	for _, t := range []string{"instance-pools", "cluster-policies"} {
		for _, m := range []string{"GET", "PUT", "PATCH"} {
			s.authed(m+" /api/2.0/permissions/"+t+"/{id}", s.noSuchObject(t))
		}
		s.authed("GET /api/2.0/permissions/"+t+"/{id}/permissionLevels", s.noSuchObject(t))
	}
	// Permissions of notebooks, directories and workspace files (CAN_READ,
	// CAN_RUN, CAN_EDIT, CAN_MANAGE; inherited down the tree).
	for _, t := range []string{"notebooks", "directories", "files"} {
		p := "/api/2.0/permissions/" + t + "/{id}"
		s.authed("GET "+p, s.getObjectPermissions(t))
		s.authed("PUT "+p, s.changeObjectPermissions(t, true))
		s.authed("PATCH "+p, s.changeObjectPermissions(t, false))
		s.authed("GET "+p+"/permissionLevels", s.objectPermissionLevels(t))
	}

	// Workspace settings (conf.go); also under the legacy /preview prefix.
	for _, p := range []string{"/api/2.0/workspace-conf", "/api/2.0/preview/workspace-conf"} {
		s.authed("GET "+p, s.getConf)
		s.authed("PATCH "+p, s.setConf)
	}

	// IP access lists, enforced by the server's root handler while
	// enableIpAccessLists is "true" (ipaccess.go).
	s.authed("POST /api/2.0/ip-access-lists", s.createIPAccessList)
	s.authed("GET /api/2.0/ip-access-lists", s.listIPAccessLists)
	s.authed("GET /api/2.0/ip-access-lists/{id}", s.getIPAccessList)
	s.authed("PATCH /api/2.0/ip-access-lists/{id}", s.updateIPAccessList)
	s.authed("PUT /api/2.0/ip-access-lists/{id}", s.replaceIPAccessList)
	s.authed("DELETE /api/2.0/ip-access-lists/{id}", s.deleteIPAccessList)

	// SCIM identities: users, service principals, groups (scim.go).
	s.authed("GET "+scimPrefix+"Me", s.me)
	for _, k := range scimKinds {
		s.authed("GET "+scimPrefix+k.resource, s.scimList(k))
		s.authed("POST "+scimPrefix+k.resource, s.scimCreate(k))
		s.authed("GET "+scimPrefix+k.resource+"/{id}", s.scimGet(k))
		s.authed("PUT "+scimPrefix+k.resource+"/{id}", s.scimReplace(k))
		s.authed("PATCH "+scimPrefix+k.resource+"/{id}", s.scimPatch(k))
		s.authed("DELETE "+scimPrefix+k.resource+"/{id}", s.scimDelete(k))
	}

	// Workspace: notebooks, files and directories (workspace.go).
	s.authedLimit("POST /api/2.0/workspace/import", importBodyLimit, s.importObject)
	s.authed("GET /api/2.0/workspace/export", s.exportObject)
	s.authed("GET /api/2.0/workspace/list", s.listObjects)
	s.authed("GET /api/2.0/workspace/get-status", s.objectStatus)
	s.authed("POST /api/2.0/workspace/mkdirs", s.mkdirs)
	s.authed("POST /api/2.0/workspace/delete", s.deleteObject)
	// The CLI's file upload (bundle deploy, import-dir): raw bytes.
	s.authedLimit("POST "+importFilePrefix+"{path...}", importFileBodyLimit, s.importFile)

	// Secrets: scopes, secrets and their ACLs (secrets.go).
	s.authed("POST /api/2.0/secrets/scopes/create", s.createSecretScope)
	s.authed("GET /api/2.0/secrets/scopes/list", s.listSecretScopes)
	s.authed("POST /api/2.0/secrets/scopes/delete", s.deleteSecretScope)
	s.authed("POST /api/2.0/secrets/put", s.putSecret)
	s.authed("GET /api/2.0/secrets/list", s.listSecrets)
	s.authed("POST /api/2.0/secrets/delete", s.deleteSecret)
	s.authed("GET /api/2.0/secrets/get", s.getSecret)
	s.authed("POST /api/2.0/secrets/acls/put", s.putSecretACL)
	s.authed("POST /api/2.0/secrets/acls/delete", s.deleteSecretACL)
	s.authed("GET /api/2.0/secrets/acls/get", s.getSecretACL)
	s.authed("GET /api/2.0/secrets/acls/list", s.listSecretACLs)

	// DBFS (dbfs.go).
	s.authedLimit("POST /api/2.0/dbfs/put", dbfsMultipartLimit+1<<20, s.dbfsPut)
	s.authed("POST /api/2.0/dbfs/create", s.dbfsCreate)
	s.authedLimit("POST /api/2.0/dbfs/add-block", blockBodyLimit, s.dbfsAddBlock)
	s.authed("POST /api/2.0/dbfs/close", s.dbfsClose)
	s.authed("GET /api/2.0/dbfs/read", s.dbfsRead)
	s.authed("GET /api/2.0/dbfs/list", s.dbfsList)
	s.authed("GET /api/2.0/dbfs/get-status", s.dbfsStatus)
	s.authed("POST /api/2.0/dbfs/mkdirs", s.dbfsMkdirs)
	s.authed("POST /api/2.0/dbfs/delete", s.dbfsDelete)
	s.authed("POST /api/2.0/dbfs/move", s.dbfsMove)

	// Jobs and runs, every verb under each version (jobs.go, runs.go).
	for _, v := range jobsVersions {
		p := "/api/" + v + "/jobs/"
		s.authed("POST "+p+"create", s.createJob)
		s.authed("GET "+p+"list", s.listJobs(v))
		s.authed("GET "+p+"get", s.getJob)
		s.authed("POST "+p+"reset", s.resetJob)
		s.authed("POST "+p+"update", s.updateJob)
		s.authed("POST "+p+"delete", s.deleteJob)
		s.authed("POST "+p+"run-now", s.runNow)
		s.authed("POST "+p+"runs/submit", s.submitRun)
		s.authed("GET "+p+"runs/get", s.getRun(v))
		s.authed("GET "+p+"runs/get-output", s.getRunOutput(v))
		s.authed("GET "+p+"runs/list", s.listRuns(v))
		s.authed("POST "+p+"runs/cancel", s.cancelRun)
		s.authed("POST "+p+"runs/cancel-all", s.cancelAllRuns)
		s.authed("POST "+p+"runs/delete", s.deleteRun)
		s.authed("POST "+p+"runs/repair", s.repairRun)
	}

	// Compute: clusters (named configurations of the local executor, and
	// the fixed local one), runtimes and node types, and the read-only
	// verbs that orchestrators call on connection checks (clusters.go).
	for _, v := range computeVersions {
		p := "/api/" + v + "/"
		s.authed("GET "+p+"clusters/list", s.listClusters)
		s.authed("GET "+p+"clusters/get", s.getCluster)
		s.authed("POST "+p+"clusters/create", s.createCluster)
		s.authed("POST "+p+"clusters/edit", clusterBodyVerb(s.svc.EditCluster))
		s.authed("POST "+p+"clusters/resize", clusterBodyVerb(s.svc.ResizeCluster))
		s.authed("POST "+p+"clusters/start", clusterVerb(s.svc.StartCluster))
		s.authed("POST "+p+"clusters/restart", clusterVerb(s.svc.RestartCluster))
		s.authed("POST "+p+"clusters/delete", clusterVerb(s.svc.TerminateCluster))
		s.authed("POST "+p+"clusters/permanent-delete", clusterVerb(s.svc.PermanentDeleteCluster))
		s.authed("POST "+p+"clusters/pin", s.pinCluster(true))
		s.authed("POST "+p+"clusters/unpin", s.pinCluster(false))
		s.authed("POST "+p+"clusters/events", s.clusterEvents)
		s.authed("GET "+p+"clusters/spark-versions", s.sparkVersions)
		s.authed("GET "+p+"clusters/list-node-types", s.listNodeTypes)
		s.authed("GET "+p+"instance-pools/list", s.listInstancePools)
		s.authed("GET "+p+"policies/clusters/list", s.listPolicies)
	}

	// kiln's own API, outside the Databricks paths: the audit log, and
	// what the presented token is (for the CLI's auth describe).
	s.authed("GET /api/kiln/v1/audit", s.listAudit)
	s.authed("GET /api/kiln/v1/token/current", s.currentToken)
	// Token lifecycle beyond Databricks' API (token_lifecycle.go):
	// rotation with a grace period, where a token was used from, leak
	// lookup by value, and the preview of a policy change.
	s.authed("POST /api/kiln/v1/tokens/{id}/rotate", s.rotateToken)
	s.authed("GET /api/kiln/v1/tokens/{id}/addresses", s.tokenAddresses)
	s.authed("POST /api/kiln/v1/token-management/lookup", s.lookupToken)
	s.authed("POST /api/kiln/v1/policy/preview", s.previewPolicy)
	// Webhooks (admins): signed deliveries of token and policy events
	// (webhooks.go; package webhook sends them).
	s.authed("POST /api/kiln/v1/webhooks", s.createWebhook)
	s.authed("GET /api/kiln/v1/webhooks", s.listWebhooks)
	s.authed("DELETE /api/kiln/v1/webhooks/{id}", s.deleteWebhook)
	s.authed("GET /api/kiln/v1/webhooks/{id}/deliveries", s.listDeliveries)
}
