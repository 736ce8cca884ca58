package service

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// Secrets (Secrets API 2.0).
//
// Values are sealed (auth.SecretBox: AES-256-GCM, bound to scope and key)
// before they reach the store, under a key that lives outside the
// database (secrets.key in the data directory, or KILN_SECRETS_KEY): a
// stolen database alone reveals no secret.
//
// No API caller ever reads a value back: secrets/get is not served, and
// values reach only task runs, through SecretForRun.
//
// Permissions are per scope, with Databricks' levels READ < WRITE <
// MANAGE. The creator gets MANAGE; initial_manage_principal "users" gives
// MANAGE to every user instead of the creator alone. Admins hold MANAGE on
// every scope. READ lists keys (and lets the principal's task runs read
// values), WRITE puts and deletes secrets, MANAGE changes the scope's ACL
// and deletes the scope. A grant names a user, a service principal (by
// application id) or a group, whose members it covers ("users" covers
// everyone); a principal holds the highest level granted to it or to any
// of its groups. Any caller may list scope names, as on Databricks.

// Bounds, as Databricks documents them.
const (
	MaxSecretScopes     = 1000
	MaxSecretsPerScope  = 1000
	MaxSecretValueBytes = 128 << 10
)

// InitSecrets records box's fingerprint in an store that has none, and
// refuses a store initialised with another key: every sealed value would
// fail to open. It works on any kiln.Store, so every backend shares it.
func InitSecrets(ctx context.Context, store kiln.Store, box *auth.SecretBox) error {
	check := func(tx kiln.Tx) (bool, error) {
		fp, err := tx.SecretsKeyFingerprint()
		if kiln.IsCode(err, kiln.ENotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if fp != box.Fingerprint() {
			return true, kiln.Errorf(kiln.EInvalid,
				"the secrets key (fingerprint %s) is not the one this store's secrets were sealed with (fingerprint %s): no secret would open; start kiln with the original secrets.key or KILN_SECRETS_KEY",
				box.Fingerprint(), fp)
		}
		return true, nil
	}
	recorded := false
	err := store.View(ctx, func(tx kiln.Tx) error {
		var err error
		recorded, err = check(tx)
		return err
	})
	if err != nil || recorded {
		return err
	}
	return store.Update(ctx, func(tx kiln.Tx) error {
		// Another process may have recorded one meanwhile.
		if recorded, err := check(tx); err != nil || recorded {
			return err
		}
		return tx.SetSecretsKeyFingerprint(box.Fingerprint())
	})
}

var (
	scopeNameRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,128}$`)
	secretKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)
)

func validateScopeName(name string) error {
	if !scopeNameRE.MatchString(name) {
		return kiln.Errorf(kiln.EInvalid, "Scope name %.140q is invalid: use 1 to 128 letters, digits, dashes, underscores, periods and @.", name)
	}
	return nil
}

func validateSecretKey(key string) error {
	if !secretKeyRE.MatchString(key) {
		return kiln.Errorf(kiln.EInvalid, "Secret key %.140q is invalid: use 1 to 128 letters, digits, dashes, underscores and periods.", key)
	}
	return nil
}

// secretLevel ranks permission levels; 0 is none.
func secretLevel(perm string) int {
	switch perm {
	case kiln.SecretRead:
		return 1
	case kiln.SecretWrite:
		return 2
	case kiln.SecretManage:
		return 3
	}
	return 0
}

// scopePermission returns the level p holds on sc: MANAGE for admins,
// else the highest grant to p's user name, to a group p is in, or to
// users (every principal).
func scopePermission(p *kiln.Principal, admin bool, sc *kiln.SecretScope) int {
	if admin {
		return secretLevel(kiln.SecretManage)
	}
	best := 0
	for _, e := range sc.ACL {
		if strings.EqualFold(e.Principal, p.UserName) || e.Principal == kiln.GroupUsers || p.InGroup(e.Principal) {
			best = max(best, secretLevel(e.Permission))
		}
	}
	return best
}

// requireScope loads the scope and checks that c holds perm on it.
func requireScope(tx kiln.Tx, c *kiln.Caller, name, perm string) (*kiln.SecretScope, error) {
	if name == "" {
		return nil, kiln.Errorf(kiln.EInvalid, "scope is required.")
	}
	sc, err := tx.SecretScope(name)
	if err != nil {
		return nil, err
	}
	if scopePermission(c.Principal, isAdmin(c), sc) < secretLevel(perm) {
		return nil, kiln.Errorf(kiln.EPermission, "User %s does not have %s permission on scope %s.", c.Principal.UserName, perm, name)
	}
	return sc, nil
}

// CreateSecretScope creates a scope managed by the caller, or by every
// user with initialManagePrincipal "users". backendType may be empty or
// DATABRICKS; Azure Key Vault scopes are refused.
func (s *Service) CreateSecretScope(ctx context.Context, name, initialManagePrincipal, backendType string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	if err := validateScopeName(name); err != nil {
		return err
	}
	switch backendType {
	case "", "DATABRICKS":
	case "AZURE_KEYVAULT":
		return kiln.Errorf(kiln.EInvalid, "Azure Key Vault-backed scopes are not supported by kiln: omit scope_backend_type.")
	default:
		return kiln.Errorf(kiln.EInvalid, "Invalid scope_backend_type %.40q: expected DATABRICKS.", backendType)
	}
	sc := &kiln.SecretScope{Name: name, BackendType: "DATABRICKS", CreatorID: c.Principal.ID}
	switch initialManagePrincipal {
	case "":
	case kiln.GroupUsers:
		sc.ACL = append(sc.ACL, kiln.SecretACL{Principal: kiln.GroupUsers, Permission: kiln.SecretManage})
	default:
		return kiln.Errorf(kiln.EInvalid, "initial_manage_principal must be \"users\" or omitted, got %.140q.", initialManagePrincipal)
	}
	if c.Method != "offline" && c.Principal.UserName != "" {
		sc.ACL = append(sc.ACL, kiln.SecretACL{Principal: c.Principal.UserName, Permission: kiln.SecretManage})
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		all, err := tx.SecretScopes()
		if err != nil {
			return err
		}
		if len(all) >= MaxSecretScopes {
			return kiln.Errorf(kiln.EQuota, "The workspace has %d secret scopes, the most allowed.", MaxSecretScopes)
		}
		if err := tx.CreateSecretScope(sc); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditSecretScopeCreate, "secret_scope:"+name)
		if initialManagePrincipal != "" {
			ev.Detail = map[string]string{"initial_manage_principal": initialManagePrincipal}
		}
		return tx.Audit(ev)
	})
}

// ListSecretScopes returns every scope, ordered by name.
func (s *Service) ListSecretScopes(ctx context.Context) ([]*kiln.SecretScope, error) {
	if _, err := callerOf(ctx); err != nil {
		return nil, err
	}
	var scs []*kiln.SecretScope
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		scs, err = tx.SecretScopes()
		return err
	})
	return scs, err
}

// DeleteSecretScope deletes a scope and its secrets (MANAGE).
func (s *Service) DeleteSecretScope(ctx context.Context, name string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		if _, err := requireScope(tx, c, name, kiln.SecretManage); err != nil {
			return err
		}
		if err := tx.DeleteSecretScope(name); err != nil {
			return err
		}
		return tx.Audit(auditEvent(c, kiln.AuditSecretScopeDelete, "secret_scope:"+name))
	})
}

// PutSecretParams is a secret to store: exactly one of StringValue and
// BytesValue is set (BytesValue already decoded from base64).
type PutSecretParams struct {
	Scope, Key  string
	StringValue *string
	BytesValue  []byte
}

// PutSecret creates or replaces a secret (WRITE). The value is sealed
// before it reaches the store and never logged or audited.
func (s *Service) PutSecret(ctx context.Context, p PutSecretParams) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	if s.secrets == nil {
		return kiln.Internal(errors.New("service: no secret box configured"))
	}
	if err := validateSecretKey(p.Key); err != nil {
		return err
	}
	var value []byte
	switch {
	case p.StringValue != nil && p.BytesValue != nil:
		return kiln.Errorf(kiln.EInvalid, "Set either string_value or bytes_value, not both.")
	case p.StringValue != nil:
		if !utf8.ValidString(*p.StringValue) {
			return kiln.Errorf(kiln.EInvalid, "string_value must be valid UTF-8; send binary values as bytes_value.")
		}
		value = []byte(*p.StringValue)
	case p.BytesValue != nil:
		value = p.BytesValue
	default:
		return kiln.Errorf(kiln.EInvalid, "A value is required: set string_value or bytes_value.")
	}
	if len(value) > MaxSecretValueBytes {
		return kiln.Errorf(kiln.EInvalid, "The secret value is %d bytes; the limit is %d.", len(value), MaxSecretValueBytes)
	}
	sealed := s.secrets.Seal(p.Scope, p.Key, value)
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		if _, err := requireScope(tx, c, p.Scope, kiln.SecretWrite); err != nil {
			return err
		}
		list, err := tx.Secrets(p.Scope)
		if err != nil {
			return err
		}
		if len(list) >= MaxSecretsPerScope && !hasKey(list, p.Key) {
			return kiln.Errorf(kiln.EQuota, "Scope %s has %d secrets, the most allowed.", p.Scope, MaxSecretsPerScope)
		}
		if err := tx.PutSecret(p.Scope, p.Key, sealed); err != nil {
			return err
		}
		return tx.Audit(auditEvent(c, kiln.AuditSecretPut, "secret:"+p.Scope+"/"+p.Key))
	})
}

func hasKey(list []*kiln.Secret, key string) bool {
	for _, s := range list {
		if s.Key == key {
			return true
		}
	}
	return false
}

// ListSecrets returns the scope's keys and update times, never values
// (READ).
func (s *Service) ListSecrets(ctx context.Context, scope string) ([]*kiln.Secret, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var list []*kiln.Secret
	err = s.view(ctx, func(tx kiln.Tx) error {
		if _, err := requireScope(tx, c, scope, kiln.SecretRead); err != nil {
			return err
		}
		list, err = tx.Secrets(scope)
		return err
	})
	for _, sec := range list {
		sec.Value = nil
	}
	return list, err
}

// DeleteSecret deletes one secret (WRITE).
func (s *Service) DeleteSecret(ctx context.Context, scope, key string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		if _, err := requireScope(tx, c, scope, kiln.SecretWrite); err != nil {
			return err
		}
		if err := tx.DeleteSecret(scope, key); err != nil {
			return err
		}
		return tx.Audit(auditEvent(c, kiln.AuditSecretDelete, "secret:"+scope+"/"+key))
	})
}

// SecretForRun returns the plaintext value of scope/key for a task run
// owned by ownerID, who must be active and hold READ on the scope (admins
// always do). It is the only way a value leaves kiln: the runner calls it
// for dbutils.secrets.get inside a task. It needs no caller in ctx.
// Errors: ENotFound for a missing owner, scope or key; EPermission.
func (s *Service) SecretForRun(ctx context.Context, ownerID int64, scope, key string) ([]byte, error) {
	if s.secrets == nil {
		return nil, kiln.Internal(errors.New("service: no secret box configured"))
	}
	var sealed []byte
	err := s.view(ctx, func(tx kiln.Tx) error {
		owner, err := tx.Principal(ownerID)
		if err != nil {
			return err
		}
		if !owner.Active {
			return kiln.Errorf(kiln.EPermission, "User %s is deactivated.", owner.UserName)
		}
		if _, err := requireScope(tx, &kiln.Caller{Principal: owner, Method: "run"}, scope, kiln.SecretRead); err != nil {
			return err
		}
		sec, err := tx.Secret(scope, key)
		if err != nil {
			return err
		}
		sealed = sec.Value
		return nil
	})
	if err != nil {
		return nil, err
	}
	v, err := s.secrets.Open(scope, key, sealed)
	if err != nil {
		return nil, kiln.Internal(err)
	}
	return v, nil
}

// resolveGrantee names an existing user, service principal (application
// id) or group as its record spells it, so that grants match however the
// caller cased a user name; EInvalid when there is none. User names are
// tried first: they are e-mail addresses or UUIDs, which a group name
// rarely is.
func resolveGrantee(tx kiln.Tx, name string) (string, error) {
	if name == "" {
		return "", kiln.Errorf(kiln.EInvalid, "principal is required: a user name, a group name or a service principal's application id.")
	}
	p, err := tx.PrincipalByName(name)
	if err == nil {
		return p.UserName, nil
	}
	if !kiln.IsCode(err, kiln.ENotFound) {
		return "", err
	}
	g, err := tx.GroupByName(name)
	if err == nil {
		return g.DisplayName, nil
	}
	if !kiln.IsCode(err, kiln.ENotFound) {
		return "", err
	}
	return "", kiln.Errorf(kiln.EInvalid, "Principal %.140q does not exist: name a user, a group or a service principal's application id.", name)
}

// PutSecretACL grants permission (READ, WRITE or MANAGE) on scope to
// principal, replacing the principal's earlier grant there (MANAGE).
// Errors: ENotFound for a missing scope; EInvalid for an unknown
// permission or principal; EPermission.
func (s *Service) PutSecretACL(ctx context.Context, scope, principal, permission string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	if secretLevel(permission) == 0 {
		return kiln.Errorf(kiln.EInvalid, "Invalid permission %.40q: expected READ, WRITE or MANAGE.", permission)
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		if _, err := requireScope(tx, c, scope, kiln.SecretManage); err != nil {
			return err
		}
		name, err := resolveGrantee(tx, principal)
		if err != nil {
			return err
		}
		if err := tx.PutSecretACL(scope, kiln.SecretACL{Principal: name, Permission: permission}); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditSecretACLPut, "secret_scope:"+scope)
		ev.Detail = map[string]string{"principal": name, "permission": permission}
		return tx.Audit(ev)
	})
}

// DeleteSecretACL removes principal's grant on scope (MANAGE). Errors:
// ENotFound for a missing scope or grant; EInvalid without a principal;
// EPermission.
func (s *Service) DeleteSecretACL(ctx context.Context, scope, principal string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		if _, err := requireScope(tx, c, scope, kiln.SecretManage); err != nil {
			return err
		}
		name, err := grantName(tx, principal)
		if err != nil {
			return err
		}
		if err := tx.DeleteSecretACL(scope, name); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditSecretACLDelete, "secret_scope:"+scope)
		ev.Detail = map[string]string{"principal": name}
		return tx.Audit(ev)
	})
}

// grantName is the name a grant to principal is stored under: as its
// record spells it when it exists, else as given (a grant cannot outlive
// its principal, but looking one up must still answer "no such grant").
func grantName(tx kiln.Tx, principal string) (string, error) {
	name, err := resolveGrantee(tx, principal)
	if kiln.IsCode(err, kiln.EInvalid) && principal != "" {
		return principal, nil
	}
	return name, err
}

// GetSecretACL returns principal's own grant on scope (MANAGE); group
// grants that also cover the principal are not merged in, as on
// Databricks. Errors: ENotFound for a missing scope or grant; EInvalid
// without a principal; EPermission.
func (s *Service) GetSecretACL(ctx context.Context, scope, principal string) (kiln.SecretACL, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return kiln.SecretACL{}, err
	}
	var out kiln.SecretACL
	err = s.view(ctx, func(tx kiln.Tx) error {
		sc, err := requireScope(tx, c, scope, kiln.SecretManage)
		if err != nil {
			return err
		}
		name, err := grantName(tx, principal)
		if err != nil {
			return err
		}
		for _, e := range sc.ACL {
			if e.Principal == name {
				out = e
				return nil
			}
		}
		return kiln.Errorf(kiln.ENotFound, "Principal %s has no ACL on scope %s.", name, scope)
	})
	return out, err
}

// ListSecretACLs returns scope's grants, ordered by principal (MANAGE).
// The creator's MANAGE grant is one of them; admins' implicit MANAGE is
// not. Errors: ENotFound for a missing scope; EPermission.
func (s *Service) ListSecretACLs(ctx context.Context, scope string) ([]kiln.SecretACL, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var out []kiln.SecretACL
	err = s.view(ctx, func(tx kiln.Tx) error {
		sc, err := requireScope(tx, c, scope, kiln.SecretManage)
		if err != nil {
			return err
		}
		out = sc.ACL
		return nil
	})
	return out, err
}

// SecretScopeAccess is a scope with the caller's permission on it.
type SecretScopeAccess struct {
	// Scope is the scope; its ACL is left empty unless Permission is
	// MANAGE, the level that may read it.
	Scope *kiln.SecretScope
	// Permission is the caller's level: READ, WRITE or MANAGE.
	Permission string
}

// ReadableSecretScopes returns the scopes the caller holds at least READ
// on (every scope, for admins), ordered by name, each with the caller's
// level: what the console lists. The API's scope list names every scope
// instead, as on Databricks.
func (s *Service) ReadableSecretScopes(ctx context.Context) ([]SecretScopeAccess, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var out []SecretScopeAccess
	err = s.view(ctx, func(tx kiln.Tx) error {
		all, err := tx.SecretScopes()
		if err != nil {
			return err
		}
		admin := isAdmin(c)
		for _, sc := range all {
			level := scopePermission(c.Principal, admin, sc)
			if level == 0 {
				continue
			}
			if level < secretLevel(kiln.SecretManage) {
				sc.ACL = nil
			}
			out = append(out, SecretScopeAccess{Scope: sc, Permission: levelName(level)})
		}
		return nil
	})
	return out, err
}

// SecretScopePermission returns the caller's level on scope (READ, WRITE
// or MANAGE), or "" when the caller holds none. Errors: ENotFound for a
// missing scope; EInvalid without a name.
func (s *Service) SecretScopePermission(ctx context.Context, scope string) (string, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return "", err
	}
	if scope == "" {
		return "", kiln.Errorf(kiln.EInvalid, "scope is required.")
	}
	var level int
	err = s.view(ctx, func(tx kiln.Tx) error {
		sc, err := tx.SecretScope(scope)
		if err != nil {
			return err
		}
		level = scopePermission(c.Principal, isAdmin(c), sc)
		return nil
	})
	return levelName(level), err
}

// levelName is the permission name of a secretLevel rank; "" for none.
func levelName(level int) string {
	switch level {
	case 1:
		return kiln.SecretRead
	case 2:
		return kiln.SecretWrite
	case 3:
		return kiln.SecretManage
	}
	return ""
}
