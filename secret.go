package kiln

import "time"

// Secret scope permission levels, as the Databricks Secrets API names
// them. Each includes the ones before it.
const (
	// SecretRead lists a scope's keys and lets the scope's tasks read values.
	SecretRead = "READ"
	// SecretWrite also puts and deletes secrets.
	SecretWrite = "WRITE"
	// SecretManage also changes the scope's ACL and deletes the scope.
	SecretManage = "MANAGE"
)

// SecretScope is a named set of secrets with its access control list.
type SecretScope struct {
	// ID is numeric, below 2^53; the API names scopes, never ids.
	ID int64
	// Name is unique, compared exactly.
	Name string
	// BackendType is "DATABRICKS", the only backend kiln has.
	BackendType string
	CreatorID   int64
	Created     time.Time
	// ACL grants permissions on the scope. Stores fill it on every read.
	ACL []SecretACL
}

// SecretACL grants a permission on a scope to a principal or group, named
// as the Databricks API names them: a user name, a service principal's
// application id, or a group name ("users" for everyone).
type SecretACL struct {
	Principal  string
	Permission string // SecretRead, SecretWrite or SecretManage
}

// Secret is one secret. Value is sealed (encrypted by the service before
// it reaches the store), never plaintext; lists leave it nil.
type Secret struct {
	Scope   string
	Key     string
	Value   []byte
	Updated time.Time
}

// Audit actions of the Secrets API. Values never appear in audit events.
const (
	AuditSecretScopeCreate = "secrets.scope.create"
	AuditSecretScopeDelete = "secrets.scope.delete"
	AuditSecretPut         = "secrets.put"
	AuditSecretDelete      = "secrets.delete"
	AuditSecretACLPut      = "secrets.acl.put"
	AuditSecretACLDelete   = "secrets.acl.delete"
)

// SecretTx stores secret scopes, sealed secret values and scope ACLs, and
// the fingerprint of the key values are sealed with.
type SecretTx interface {
	// CreateSecretScope inserts sc with its ACL; a zero sc.ID is assigned
	// and a zero sc.Created becomes the transaction time, both written
	// back. EConflict if the name is taken.
	CreateSecretScope(sc *SecretScope) error
	// SecretScope returns the named scope with its ACL, or ENotFound.
	SecretScope(name string) (*SecretScope, error)
	// SecretScopes returns every scope with its ACL, ordered by name.
	SecretScopes() ([]*SecretScope, error)
	// DeleteSecretScope removes the named scope, its secrets and its ACL;
	// ENotFound if it does not exist.
	DeleteSecretScope(name string) error

	// PutSecret creates or replaces the secret key in the named scope with
	// the sealed value, updated at the transaction time. ENotFound if the
	// scope does not exist.
	PutSecret(scope, key string, sealed []byte) error
	// Secret returns the secret with its sealed value; ENotFound if the
	// scope or the key does not exist.
	Secret(scope, key string) (*Secret, error)
	// Secrets returns the scope's secrets without values, ordered by key;
	// ENotFound if the scope does not exist.
	Secrets(scope string) ([]*Secret, error)
	// DeleteSecret removes a secret; ENotFound if the scope or the key
	// does not exist.
	DeleteSecret(scope, key string) error

	// PutSecretACL grants e.Permission on the named scope to e.Principal,
	// replacing the principal's previous grant there. ENotFound if the
	// scope does not exist. The store does not check that the principal
	// exists: the service does, and names it as the principal's record
	// spells it.
	PutSecretACL(scope string, e SecretACL) error
	// DeleteSecretACL removes principal's grant on the named scope;
	// ENotFound if the scope does not exist or holds no grant to principal
	// (matched exactly).
	DeleteSecretACL(scope, principal string) error
	// RenameSecretGrantee rewrites every scope's grant to principal
	// (matched exactly) as a grant to newPrincipal, or drops those grants
	// when newPrincipal is "", so that a principal or group created later
	// under the old name does not inherit them. Where a scope already
	// grants newPrincipal, that grant stays and the renamed one is dropped.
	RenameSecretGrantee(principal, newPrincipal string) error

	// SecretsKeyFingerprint returns the fingerprint recorded by
	// SetSecretsKeyFingerprint, or ENotFound before it.
	SecretsKeyFingerprint() (string, error)
	// SetSecretsKeyFingerprint records the fingerprint of the key sealing
	// secret values; EConflict if one is already recorded.
	SetSecretsKeyFingerprint(fp string) error
}
