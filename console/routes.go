package console

import (
	"net/http"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/metrics"
)

// routes is the console's one route table, grouped by area. Paths a
// signed-out visitor may see use public; the rest use user (any
// signed-in user) or admin (workspace admins). The server mounts the
// console at / (server/handler.go), below the API's paths.
func (c *Console) routes() http.Handler { return c.routeTable(nil) }

// routeTable builds the route table; when seen is not nil, every pattern
// is also appended to it, so that the accessibility audit
// (browser_a11y_test.go) can check that it visits every page.
func (c *Console) routeTable(seen *[]string) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.Handler) {
		if seen != nil {
			*seen = append(*seen, pattern)
		}
		mux.Handle(pattern, metrics.Route(pattern, h))
	}
	public := func(pattern string, h handlerFunc) { handle(pattern, c.adapt(h)) }
	user := func(pattern string, h handlerFunc) { handle(pattern, c.requireUser(c.adapt(h))) }
	admin := func(pattern string, h handlerFunc) { handle(pattern, c.requireUser(c.requireAdmin(c.adapt(h)))) }

	// Sign-in, the home page and the embedded static files (login.go).
	public("/", c.notFound)
	public("GET /{$}", c.home)
	public("GET /static/{name}", c.serveStatic)
	public("GET /login", c.loginPage)
	public("POST /login", c.login)
	public("POST /logout", c.logout)
	public("GET /login/sso", c.ssoStart)
	public("GET "+SSOCallbackPath, c.ssoCallback)

	// User Settings (settings.go): a user's own tokens and password.
	user("GET /settings", c.settingsPage)
	user("GET /settings/tokens/new", c.newTokenPage)
	user("POST /settings/tokens", c.createToken)
	user("GET /settings/tokens/{id}/revoke", c.confirmRevokeOwnToken)
	user("POST /settings/tokens/{id}/revoke", c.revokeOwnToken)
	user("GET /settings/tokens/{id}/rotate", c.confirmRotateOwnToken)
	user("POST /settings/tokens/{id}/rotate", c.rotateOwnToken)
	// OAuth consent for databricks auth login (oauth_authorize.go); the
	// server mounts this path on the console, the rest of /oidc/ on the API.
	user("GET /oidc/v1/authorize", c.authorizePage)
	user("POST /oidc/v1/authorize", c.authorize)
	// Apps signed in as the user through OAuth (oauth_grants.go).
	user("GET "+appsPath, c.appsPage)
	user("GET "+appsPath+"/{id}/revoke", c.confirmRevokeApp)
	user("POST "+appsPath+"/{id}/revoke", c.revokeApp)
	user("GET /settings/password", c.passwordPage)
	user("POST /settings/password", c.changePassword)

	// Admin Console (admin.go, principals.go): workspace admins only.
	admin("GET /admin", func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, "/admin/access-control", http.StatusSeeOther)
		return nil
	})
	admin("GET /admin/access-control", c.accessControlPage)
	admin("GET /admin/access-control/tokens/{change}", c.confirmTokensSwitch)
	admin("POST /admin/access-control/tokens/{change}", c.switchTokens)
	admin("POST /admin/access-control/lifetime", c.setLifetime)
	admin("POST /admin/access-control/permissions", c.grantPermission)
	admin("GET /admin/access-control/permissions/remove", c.confirmRemovePermission)
	admin("POST /admin/access-control/permissions/remove", c.removePermission)

	admin("GET /admin/users", c.usersPage)
	admin("POST /admin/users", c.addUser)
	admin("GET /admin/users/{id}/password", c.userPasswordPage)
	admin("POST /admin/users/{id}/password", c.setUserPassword)
	admin("GET /admin/users/{id}/{change}", c.confirmPrincipalChange(kiln.KindUser))
	admin("POST /admin/users/{id}/{change}", c.changePrincipal(kiln.KindUser))

	admin("GET /admin/service-principals", c.servicePrincipalsPage)
	admin("POST /admin/service-principals", c.addServicePrincipal)
	admin("GET /admin/service-principals/{id}/secrets", c.spSecretsPage)
	admin("POST /admin/service-principals/{id}/secrets", c.createSPSecret)
	admin("POST /admin/service-principals/{id}/secrets/{secret}/delete", c.deleteSPSecret)
	admin("GET /admin/service-principals/{id}/{change}", c.confirmPrincipalChange(kiln.KindServicePrincipal))
	admin("POST /admin/service-principals/{id}/{change}", c.changePrincipal(kiln.KindServicePrincipal))

	admin("GET /admin/tokens", c.tokensPage)
	admin("POST /admin/tokens/lookup", c.lookupToken)
	admin("GET /admin/tokens/{id}/revoke", c.confirmRevokeToken)
	admin("POST /admin/tokens/{id}/revoke", c.revokeToken)

	admin("GET /admin/webhooks", c.webhooksPage)
	admin("POST /admin/webhooks", c.addWebhook)
	admin("GET /admin/webhooks/{id}/delete", c.confirmDeleteWebhook)
	admin("POST /admin/webhooks/{id}/delete", c.deleteWebhook)

	admin("GET /admin/audit", c.auditPage)

	// Jobs (jobs.go, jobactions.go): every signed-in user may open them;
	// the service decides what each one sees and may do.
	user("GET /jobs", c.jobsPage)
	user("GET /jobs/{job}", c.jobPage)
	user("POST /jobs/{job}/run-now", c.runJobNow)
	user("POST /jobs/{job}/schedule/{change}", c.setSchedulePause)
	user("GET /jobs/{job}/runs/{run}", c.runPage)
	user("GET /jobs/{job}/runs/{run}/logs", c.runLogs)
	user("GET /jobs/{job}/runs/{run}/cancel", c.confirmCancelRun)
	user("POST /jobs/{job}/runs/{run}/cancel", c.cancelRun)
	user("GET /jobs/{job}/runs/{run}/repair", c.confirmRepairRun)
	user("POST /jobs/{job}/runs/{run}/repair", c.repairRun)

	// Permissions (permissions.go): an object's grants, at the Permissions
	// API's object type and id; the service decides who may see and
	// change them.
	user("GET /permissions/{type}/{id}", c.permissionsPage)
	user("POST /permissions/{type}/{id}", c.grantObjectPermission)
	user("GET /permissions/{type}/{id}/remove", c.confirmRemoveGrant)
	user("POST /permissions/{type}/{id}/remove", c.removeGrant)
	// Compute (compute.go): the local executor and the clusters the user
	// may attach to; the service decides who may start, restart and
	// terminate.
	user("GET /compute", c.computePage)
	user("GET /compute/{id}", c.clusterPage)
	user("POST /compute/{id}/start", c.clusterVerb(c.svc.StartCluster, "Cluster %s is starting."))
	user("GET /compute/{id}/restart", c.confirmClusterVerb(false))
	user("POST /compute/{id}/restart", c.clusterVerb(c.svc.RestartCluster, "Cluster %s is restarting."))
	user("GET /compute/{id}/terminate", c.confirmClusterVerb(true))
	user("POST /compute/{id}/terminate", c.clusterVerb(c.svc.TerminateCluster, "Cluster %s is terminating."))

	// Secrets (secrets.go): the service decides what each user may see
	// and change, by the scope's ACL.
	user("GET /secrets", c.secretsPage)
	user("POST /secrets", c.createSecretScope)
	user("GET /secrets/{scope}", c.scopePage)
	user("GET /secrets/{scope}/delete", c.confirmDeleteScope)
	user("POST /secrets/{scope}/delete", c.deleteSecretScope)
	user("POST /secrets/{scope}/secrets", c.putSecret)
	user("GET /secrets/{scope}/secrets/{key}/delete", c.confirmDeleteSecret)
	user("POST /secrets/{scope}/secrets/{key}/delete", c.deleteSecret)
	user("POST /secrets/{scope}/acls", c.grantSecretACL)
	user("GET /secrets/{scope}/acls/revoke", c.confirmRevokeSecretACL)
	user("POST /secrets/{scope}/acls/revoke", c.revokeSecretACL)

	// DBFS (dbfs.go): every signed-in user, as in the API. Upload streams
	// its multipart body under its own bound (adaptUpload).
	user("GET /dbfs", c.dbfsPage)
	user("GET /dbfs/download", c.dbfsDownload)
	user("POST /dbfs/mkdirs", c.dbfsMkdirs)
	user("GET /dbfs/delete", c.confirmDBFSDelete)
	user("POST /dbfs/delete", c.dbfsDelete)
	handle("POST /dbfs/upload", c.requireUser(c.adaptUpload(c.dbfsUpload)))
	// Workspace (workspace_browser.go): the tree at /workspace/<path>, an
	// object's actions at its own address with ?op= (Import is multipart,
	// so its posts bypass adapt's form limit); the service decides what
	// each user may read and change.
	user("GET /workspace", c.workspacePage)
	user("GET /workspace/{path...}", c.workspacePage)
	handle("POST /workspace", c.requireUser(c.workspacePost()))
	handle("POST /workspace/{path...}", c.requireUser(c.workspacePost()))
	return mux
}
