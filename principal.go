package kiln

import (
	"strconv"
	"time"
)

// PrincipalKind says whether a principal is a person or a machine identity.
type PrincipalKind string

// The principal kinds.
const (
	KindUser             PrincipalKind = "user"
	KindServicePrincipal PrincipalKind = "service_principal"
)

// Principal is a user or a service principal: anything that can own a token.
type Principal struct {
	// ID is numeric, below 2^53; SCIM renders it as a decimal string.
	ID   int64
	Kind PrincipalKind
	// UserName is the e-mail address of a user, or the application id (a
	// UUID) of a service principal. It is unique, case-insensitively.
	UserName    string
	DisplayName string
	GivenName   string
	FamilyName  string
	ExternalID  string
	Active      bool
	// PasswordHash is an argon2id PHC string, or "" when the principal cannot
	// sign in with a password (service principals, users without one yet).
	PasswordHash string
	// PasswordChanged is when the password last changed; console sessions
	// older than it are void.
	PasswordChanged time.Time
	Created         time.Time
	// Groups lists the groups the principal belongs to directly. Stores fill
	// it on every read.
	Groups []GroupRef
	// Entitlements are the principal's direct entitlements, sorted (what
	// its groups give is not included). Stores fill it on every read.
	Entitlements []string
}

// IDString renders the id as SCIM does.
func (p *Principal) IDString() string { return strconv.FormatInt(p.ID, 10) }

// InGroup reports whether the principal is a direct member of the named group.
func (p *Principal) InGroup(name string) bool {
	for _, g := range p.Groups {
		if g.Name == name {
			return true
		}
	}
	return false
}

// IsAdmin reports whether the principal is an active workspace admin.
func (p *Principal) IsAdmin() bool { return p.Active && p.InGroup(GroupAdmins) }

// GroupRef names a group a principal belongs to.
type GroupRef struct {
	ID   int64
	Name string
}

// Group is a workspace-local group of principals.
type Group struct {
	ID          int64
	DisplayName string
	// Builtin marks admins and users, which cannot be renamed or deleted.
	Builtin bool
	Created time.Time
	// Members lists the member principals. Stores fill it on every read.
	Members []Member
	// Entitlements are what the group gives its members, sorted. Stores
	// fill it on every read.
	Entitlements []string
}

// The entitlements of Databricks' workspace SCIM API. The users and
// admins groups give workspace-access and databricks-sql-access.
const (
	EntitlementWorkspaceAccess    = "workspace-access"
	EntitlementSQLAccess          = "databricks-sql-access"
	EntitlementClusterCreate      = "allow-cluster-create"
	EntitlementInstancePoolCreate = "allow-instance-pool-create"
	EntitlementWorkspaceConsume   = "workspace-consume"
)

// Entitlements lists every entitlement, in the order Databricks' clients
// list them.
var Entitlements = []string{
	EntitlementClusterCreate, EntitlementInstancePoolCreate, EntitlementSQLAccess,
	EntitlementWorkspaceAccess, EntitlementWorkspaceConsume,
}

// BuiltinGroupEntitlements are what the built-in groups give their
// members in a new workspace, as on Databricks.
var BuiltinGroupEntitlements = []string{EntitlementSQLAccess, EntitlementWorkspaceAccess}

// Member is one member of a group.
type Member struct {
	ID       int64
	Kind     PrincipalKind
	UserName string
	Display  string
}

// PrincipalFilter selects principals. Zero fields do not filter.
type PrincipalFilter struct {
	Kind PrincipalKind
	// UserName matches exactly, case-insensitively.
	UserName string
	// DisplayName matches exactly.
	DisplayName string
	// Offset and Limit page the result, ordered by id; Limit 0 means all.
	Offset, Limit int
}

// GroupFilter selects groups.
type GroupFilter struct {
	DisplayName   string
	Offset, Limit int
}

// PrincipalUpdate lists the fields to change; nil fields stay as they are.
type PrincipalUpdate struct {
	DisplayName  *string
	GivenName    *string
	FamilyName   *string
	ExternalID   *string
	Active       *bool
	PasswordHash *string
}
