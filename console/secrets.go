package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/service"
)

// The Secrets pages: the scopes a user may read, each scope's keys (never
// a value: the service's list leaves them out, and a value typed into
// Save secret is posted once and never written back into a page) and,
// for those who hold MANAGE, its ACL. Every action is the Secrets API's
// service call with the signed-in user as the caller, so the rules are
// the API's: READ lists keys, WRITE puts and deletes secrets, MANAGE
// changes the ACL and deletes the scope. The page offers only the
// controls the user's level allows; a forged post is refused by the
// service (403) all the same.

const secretsSection = "Secrets"

// secretsData is the Secrets page: the readable scopes and the Create
// scope form with what was typed and what was wrong.
type secretsData struct {
	Scopes []service.SecretScopeAccess
	Name   string
	Users  bool
	Error  string
}

func (c *Console) secretsPage(w http.ResponseWriter, r *http.Request) error {
	return c.renderSecrets(w, r, &secretsData{}, http.StatusOK)
}

func (c *Console) renderSecrets(w http.ResponseWriter, r *http.Request, d *secretsData, status int) error {
	scopes, err := c.svc.ReadableSecretScopes(r.Context())
	if err != nil {
		return err
	}
	d.Scopes = scopes
	c.render(w, r, status, "secrets", &page{Title: secretsSection, Section: secretsSection, Data: d})
	return nil
}

// scopePath is the address of a scope's page.
func scopePath(scope string) string { return "/secrets/" + url.PathEscape(scope) }

func (c *Console) createSecretScope(w http.ResponseWriter, r *http.Request) error {
	d := &secretsData{Name: truncate(strings.TrimSpace(r.PostFormValue("scope")), 256), Users: r.PostFormValue("manage_users") == "1"}
	initial := ""
	if d.Users {
		initial = kiln.GroupUsers
	}
	err := c.svc.CreateSecretScope(r.Context(), d.Name, initial, "")
	switch code := kiln.ErrorCode(err); {
	case err == nil:
		c.redirectWith(w, r, scopePath(d.Name), "ok", "Scope "+d.Name+" was created.")
		return nil
	case code == kiln.EInvalid || code == kiln.EConflict || code == kiln.EQuota:
		d.Error = kiln.ErrorMessage(err)
		return c.renderSecrets(w, r, d, api.ErrorStatus(w.Header(), err))
	}
	return err
}

// scopeData is one scope's page. Key, Grantee and Permission are what
// was typed into the forms when one was refused (never a value).
type scopeData struct {
	Scope      string
	Permission string
	CanWrite   bool
	CanManage  bool
	Keys       []secretRow
	ACL        []scopeGrantRow
	Delete     confirmation

	Key, KeyError                  string
	Grantee, GrantPerm, GrantError string
	Levels                         []string
}

type secretRow struct {
	*kiln.Secret
	Delete confirmation
}

type scopeGrantRow struct {
	kiln.SecretACL
	Revoke confirmation
}

func deleteScopeConfirmation(scope string) confirmation {
	return confirmation{
		Label: "Delete scope", Title: "Delete scope " + scope + "?", Action: scopePath(scope) + "/delete", Back: scopePath(scope), Danger: true,
		Text: "Delete the scope " + scope + " and every secret in it? Jobs that read them fail from now on. This cannot be undone.",
	}
}

func deleteSecretConfirmation(scope, key string) confirmation {
	return confirmation{
		Label: "Delete", Name: "Delete " + key, Title: "Delete secret " + key + "?",
		Action: scopePath(scope) + "/secrets/" + url.PathEscape(key) + "/delete", Back: scopePath(scope), Danger: true,
		Text: "Delete the secret " + key + " from " + scope + "? Jobs that read it fail from now on.",
	}
}

func revokeACLConfirmation(scope, principal string) confirmation {
	return confirmation{
		Label: "Revoke", Name: "Revoke " + principal, Title: "Revoke access of " + principal + "?",
		Action: scopePath(scope) + "/acls/revoke", Fields: []field{{"principal", principal}}, Back: scopePath(scope), Danger: true,
		Text: "Remove the grant of " + principal + " on " + scope + "? Access through groups stays.",
	}
}

func (c *Console) scopePage(w http.ResponseWriter, r *http.Request) error {
	return c.renderScope(w, r, &scopeData{}, http.StatusOK)
}

// renderScope renders a scope's page for the caller's level; a caller
// without READ gets the service's refusal.
func (c *Console) renderScope(w http.ResponseWriter, r *http.Request, d *scopeData, status int) error {
	ctx := r.Context()
	d.Scope = r.PathValue("scope")
	keys, err := c.svc.ListSecrets(ctx, d.Scope)
	if err != nil {
		return err
	}
	if d.Permission, err = c.svc.SecretScopePermission(ctx, d.Scope); err != nil {
		return err
	}
	d.CanWrite = d.Permission == kiln.SecretWrite || d.Permission == kiln.SecretManage
	d.CanManage = d.Permission == kiln.SecretManage
	for _, k := range keys {
		d.Keys = append(d.Keys, secretRow{Secret: k, Delete: deleteSecretConfirmation(d.Scope, k.Key)})
	}
	if d.CanManage {
		acl, err := c.svc.ListSecretACLs(ctx, d.Scope)
		if err != nil {
			return err
		}
		for _, a := range acl {
			d.ACL = append(d.ACL, scopeGrantRow{SecretACL: a, Revoke: revokeACLConfirmation(d.Scope, a.Principal)})
		}
		d.Delete = deleteScopeConfirmation(d.Scope)
	}
	d.Levels = []string{kiln.SecretRead, kiln.SecretWrite, kiln.SecretManage}
	if d.GrantPerm == "" {
		d.GrantPerm = kiln.SecretRead
	}
	c.render(w, r, status, "secrets_scope", &page{Title: d.Scope, Section: secretsSection, Data: d})
	return nil
}

// refusedInput reports whether err is the caller's input being refused,
// which the page shows next to the form rather than as an error page.
func refusedInput(err error) bool {
	switch kiln.ErrorCode(err) {
	case kiln.EInvalid, kiln.EConflict, kiln.EQuota:
		return true
	}
	return false
}

// putSecret is Save secret: a string value, from a password field. The
// value is never put back into the page, even when it is refused.
func (c *Console) putSecret(w http.ResponseWriter, r *http.Request) error {
	scope := r.PathValue("scope")
	key := truncate(strings.TrimSpace(r.PostFormValue("key")), 256)
	value := r.PostFormValue("value")
	var err error
	if value == "" {
		err = kiln.Errorf(kiln.EInvalid, "Enter the secret's value.")
	} else {
		err = c.svc.PutSecret(r.Context(), service.PutSecretParams{Scope: scope, Key: key, StringValue: &value})
	}
	switch {
	case err == nil:
		c.redirectWith(w, r, scopePath(scope), "ok", "Secret "+key+" was saved.")
		return nil
	case refusedInput(err):
		return c.renderScope(w, r, &scopeData{Key: key, KeyError: kiln.ErrorMessage(err)}, api.ErrorStatus(w.Header(), err))
	}
	return err
}

func (c *Console) confirmDeleteSecret(w http.ResponseWriter, r *http.Request) error {
	scope, key := r.PathValue("scope"), r.PathValue("key")
	if err := c.requireSecretLevel(r, scope, kiln.SecretWrite); err != nil {
		return err
	}
	c.showConfirmation(w, r, secretsSection, "", deleteSecretConfirmation(scope, key))
	return nil
}

func (c *Console) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	scope, key := r.PathValue("scope"), r.PathValue("key")
	if err := c.svc.DeleteSecret(r.Context(), scope, key); err != nil {
		return err
	}
	c.redirectWith(w, r, scopePath(scope), "ok", "Secret "+key+" was deleted.")
	return nil
}

func (c *Console) confirmDeleteScope(w http.ResponseWriter, r *http.Request) error {
	scope := r.PathValue("scope")
	if err := c.requireSecretLevel(r, scope, kiln.SecretManage); err != nil {
		return err
	}
	c.showConfirmation(w, r, secretsSection, "", deleteScopeConfirmation(scope))
	return nil
}

func (c *Console) deleteSecretScope(w http.ResponseWriter, r *http.Request) error {
	scope := r.PathValue("scope")
	if err := c.svc.DeleteSecretScope(r.Context(), scope); err != nil {
		return err
	}
	c.redirectWith(w, r, "/secrets", "ok", "Scope "+scope+" was deleted.")
	return nil
}

// grantSecretACL is Grant: a level for a user, service principal or
// group, replacing its earlier grant on the scope.
func (c *Console) grantSecretACL(w http.ResponseWriter, r *http.Request) error {
	scope := r.PathValue("scope")
	who := truncate(strings.TrimSpace(r.PostFormValue("principal")), 256)
	perm := truncate(r.PostFormValue("permission"), 16)
	err := c.svc.PutSecretACL(r.Context(), scope, who, perm)
	switch {
	case err == nil:
		c.redirectWith(w, r, scopePath(scope), "ok", who+" now has "+perm+" on "+scope+".")
		return nil
	case refusedInput(err):
		return c.renderScope(w, r, &scopeData{Grantee: who, GrantPerm: perm, GrantError: kiln.ErrorMessage(err)}, api.ErrorStatus(w.Header(), err))
	}
	return err
}

func (c *Console) confirmRevokeSecretACL(w http.ResponseWriter, r *http.Request) error {
	scope := r.PathValue("scope")
	if err := c.requireSecretLevel(r, scope, kiln.SecretManage); err != nil {
		return err
	}
	who := r.URL.Query().Get("principal")
	if who == "" {
		return kiln.Errorf(kiln.EInvalid, "Choose whose access to revoke from the scope's page.")
	}
	c.showConfirmation(w, r, secretsSection, "", revokeACLConfirmation(scope, who))
	return nil
}

func (c *Console) revokeSecretACL(w http.ResponseWriter, r *http.Request) error {
	scope, who := r.PathValue("scope"), r.URL.Query().Get("principal")
	if err := c.svc.DeleteSecretACL(r.Context(), scope, who); err != nil {
		return err
	}
	c.redirectWith(w, r, scopePath(scope), "ok", "The grant of "+who+" on "+scope+" was revoked.")
	return nil
}

// requireSecretLevel refuses a confirmation page to a caller below level
// on scope, in the service's words, so that nobody is asked to confirm
// what would be refused.
func (c *Console) requireSecretLevel(r *http.Request, scope, level string) error {
	have, err := c.svc.SecretScopePermission(r.Context(), scope)
	if err != nil {
		return err
	}
	rank := map[string]int{kiln.SecretRead: 1, kiln.SecretWrite: 2, kiln.SecretManage: 3}
	if rank[have] < rank[level] {
		return kiln.Errorf(kiln.EPermission, "You do not have %s permission on scope %s.", level, scope)
	}
	return nil
}
