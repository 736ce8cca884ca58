package sqlstore

import (
	"github.com/kiln-dev/kiln"
)

func scopeNotFound(name string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Scope %s does not exist!", name)
}

func secretNotFound(scope, key string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Secret %s does not exist in scope %s.", key, scope)
}

const scopeCols = `id, name, backend_type, creator_id, created_at`

func scanScope(r scanner) (*kiln.SecretScope, error) {
	sc := &kiln.SecretScope{}
	var created int64
	if err := r.Scan(&sc.ID, &sc.Name, &sc.BackendType, &sc.CreatorID, &created); err != nil {
		return nil, err
	}
	sc.Created = kiln.TimeOfMillis(created)
	return sc, nil
}

// CreateSecretScope inserts sc and its ACL. See [kiln.SecretTx].
func (t *tx) CreateSecretScope(sc *kiln.SecretScope) error {
	const op = "create secret scope"
	if err := t.writable(op); err != nil {
		return err
	}
	exists := kiln.Errorf(kiln.EConflict, "Scope %s already exists!", sc.Name)
	id, err := t.newRowID(op, "secret_scopes", sc.ID, exists)
	if err != nil {
		return err
	}
	created := sc.Created
	if created.IsZero() {
		created = t.now
	}
	backend := sc.BackendType
	if backend == "" {
		backend = "DATABRICKS"
	}
	if _, err := t.exec(`INSERT INTO secret_scopes (id, name, backend_type, creator_id, created_at) VALUES (?, ?, ?, ?, ?)`,
		id, sc.Name, backend, sc.CreatorID, kiln.MillisOf(created)); err != nil {
		return t.fail(op, err, nil, exists)
	}
	for _, e := range sc.ACL {
		if _, err := t.exec(`INSERT INTO secret_acls (scope_id, principal, permission) VALUES (?, ?, ?)`,
			id, e.Principal, e.Permission); err != nil {
			return t.fail(op, err, nil, kiln.Errorf(kiln.EConflict, "Principal %s is listed twice in the ACL of scope %s.", e.Principal, sc.Name))
		}
	}
	sc.ID, sc.Created, sc.BackendType = id, created, backend
	return nil
}

// SecretScope returns the named scope with its ACL.
func (t *tx) SecretScope(name string) (*kiln.SecretScope, error) {
	const op = "read secret scope"
	sc, err := scanScope(t.queryRow(`SELECT `+scopeCols+` FROM secret_scopes WHERE name = ?`, name))
	if err != nil {
		return nil, t.fail(op, err, scopeNotFound(name), nil)
	}
	if err := t.fillScopeACLs(op, []*kiln.SecretScope{sc}); err != nil {
		return nil, err
	}
	return sc, nil
}

// SecretScopes returns every scope with its ACL, ordered by name.
func (t *tx) SecretScopes() ([]*kiln.SecretScope, error) {
	const op = "list secret scopes"
	scs, err := collect(t, op, `SELECT `+scopeCols+` FROM secret_scopes ORDER BY name`, scanScope)
	if err != nil {
		return nil, err
	}
	if err := t.fillScopeACLs(op, scs); err != nil {
		return nil, err
	}
	return scs, nil
}

// fillScopeACLs reads the ACLs of scs in one query, each ordered by
// principal.
func (t *tx) fillScopeACLs(op string, scs []*kiln.SecretScope) error {
	if len(scs) == 0 {
		return nil
	}
	byID := make(map[int64]*kiln.SecretScope, len(scs))
	for _, sc := range scs {
		byID[sc.ID] = sc
		sc.ACL = nil
	}
	query := `SELECT scope_id, principal, permission FROM secret_acls ORDER BY scope_id, principal`
	var args []any
	if len(scs) == 1 {
		query = `SELECT scope_id, principal, permission FROM secret_acls WHERE scope_id = ? ORDER BY principal`
		args = append(args, scs[0].ID)
	}
	rows, err := t.query(query, args...)
	if err != nil {
		return internal(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var e kiln.SecretACL
		if err := rows.Scan(&id, &e.Principal, &e.Permission); err != nil {
			return internal(op, err)
		}
		if sc := byID[id]; sc != nil {
			sc.ACL = append(sc.ACL, e)
		}
	}
	if err := rows.Err(); err != nil {
		return internal(op, err)
	}
	return nil
}

// DeleteSecretScope removes the scope; its secrets and ACL go with it
// (ON DELETE CASCADE).
func (t *tx) DeleteSecretScope(name string) error {
	const op = "delete secret scope"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, scopeNotFound(name), `DELETE FROM secret_scopes WHERE name = ?`, name)
}

// PutSecretACL creates or replaces one grant on a scope.
func (t *tx) PutSecretACL(scope string, e kiln.SecretACL) error {
	const op = "put secret ACL"
	if err := t.writable(op); err != nil {
		return err
	}
	id, err := t.scopeID(op, scope)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO secret_acls (scope_id, principal, permission) VALUES (?, ?, ?)
		ON CONFLICT (scope_id, principal) DO UPDATE SET permission = excluded.permission`,
		id, e.Principal, e.Permission); err != nil {
		return internal(op, err)
	}
	return nil
}

// DeleteSecretACL removes one grant on a scope.
func (t *tx) DeleteSecretACL(scope, principal string) error {
	const op = "delete secret ACL"
	if err := t.writable(op); err != nil {
		return err
	}
	id, err := t.scopeID(op, scope)
	if err != nil {
		return err
	}
	return t.execOne(op, aclNotFound(scope, principal),
		`DELETE FROM secret_acls WHERE scope_id = ? AND principal = ?`, id, principal)
}

func aclNotFound(scope, principal string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Principal %s has no ACL on scope %s.", principal, scope)
}

// RenameSecretGrantee rewrites or drops every scope's grant to principal.
func (t *tx) RenameSecretGrantee(principal, newPrincipal string) error {
	const op = "rename secret grantee"
	if err := t.writable(op); err != nil {
		return err
	}
	if principal == newPrincipal {
		return nil
	}
	// Grants that would collide with an existing grant to the new name go
	// first, so the UPDATE cannot violate the primary key; with no new
	// name this drops them all.
	drop := `DELETE FROM secret_acls WHERE principal = ?`
	args := []any{principal}
	if newPrincipal != "" {
		drop += ` AND scope_id IN (SELECT scope_id FROM secret_acls WHERE principal = ?)`
		args = append(args, newPrincipal)
	}
	if _, err := t.exec(drop, args...); err != nil {
		return internal(op, err)
	}
	if newPrincipal == "" {
		return nil
	}
	if _, err := t.exec(`UPDATE secret_acls SET principal = ? WHERE principal = ?`, newPrincipal, principal); err != nil {
		return internal(op, err)
	}
	return nil
}

// scopeID returns the id of the named scope, or ENotFound.
func (t *tx) scopeID(op, name string) (int64, error) {
	var id int64
	if err := t.queryRow(`SELECT id FROM secret_scopes WHERE name = ?`, name).Scan(&id); err != nil {
		return 0, t.fail(op, err, scopeNotFound(name), nil)
	}
	return id, nil
}

// PutSecret creates or replaces a sealed secret value.
func (t *tx) PutSecret(scope, key string, sealed []byte) error {
	const op = "put secret"
	if err := t.writable(op); err != nil {
		return err
	}
	id, err := t.scopeID(op, scope)
	if err != nil {
		return err
	}
	// An upsert that both SQLite and PostgreSQL speak.
	if _, err := t.exec(`INSERT INTO secrets (scope_id, key, value, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (scope_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		id, key, nonNil(sealed), t.now.UnixMilli()); err != nil {
		return internal(op, err)
	}
	return nil
}

// Secret returns one secret with its sealed value.
func (t *tx) Secret(scope, key string) (*kiln.Secret, error) {
	const op = "read secret"
	id, err := t.scopeID(op, scope)
	if err != nil {
		return nil, err
	}
	s := &kiln.Secret{Scope: scope, Key: key}
	var updated int64
	if err := t.queryRow(`SELECT value, updated_at FROM secrets WHERE scope_id = ? AND key = ?`, id, key).
		Scan(&s.Value, &updated); err != nil {
		return nil, t.fail(op, err, secretNotFound(scope, key), nil)
	}
	s.Updated = kiln.TimeOfMillis(updated)
	return s, nil
}

// Secrets lists a scope's secrets without values.
func (t *tx) Secrets(scope string) ([]*kiln.Secret, error) {
	const op = "list secrets"
	id, err := t.scopeID(op, scope)
	if err != nil {
		return nil, err
	}
	return collect(t, op, `SELECT key, updated_at FROM secrets WHERE scope_id = ? ORDER BY key`, func(r scanner) (*kiln.Secret, error) {
		s := &kiln.Secret{Scope: scope}
		var updated int64
		err := r.Scan(&s.Key, &updated)
		s.Updated = kiln.TimeOfMillis(updated)
		return s, err
	}, id)
}

// DeleteSecret removes one secret.
func (t *tx) DeleteSecret(scope, key string) error {
	const op = "delete secret"
	if err := t.writable(op); err != nil {
		return err
	}
	id, err := t.scopeID(op, scope)
	if err != nil {
		return err
	}
	return t.execOne(op, secretNotFound(scope, key), `DELETE FROM secrets WHERE scope_id = ? AND key = ?`, id, key)
}

// SecretsKeyFingerprint returns the recorded fingerprint, or ENotFound.
func (t *tx) SecretsKeyFingerprint() (string, error) {
	var fp string
	if err := t.queryRow(`SELECT fingerprint FROM secrets_key`).Scan(&fp); err != nil {
		return "", t.fail("read secrets key fingerprint", err,
			kiln.Errorf(kiln.ENotFound, "No secrets key fingerprint is recorded."), nil)
	}
	return fp, nil
}

// SetSecretsKeyFingerprint records fp once; EConflict afterwards.
func (t *tx) SetSecretsKeyFingerprint(fp string) error {
	const op = "record secrets key fingerprint"
	if err := t.writable(op); err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO secrets_key (singleton, fingerprint) VALUES (1, ?)`, fp); err != nil {
		return t.fail(op, err, nil, kiln.Errorf(kiln.EConflict, "A secrets key fingerprint is already recorded."))
	}
	return nil
}
