package kiln

import "time"

// Audit actions.
const (
	AuditTokenCreate = "token.create"
	AuditTokenRevoke = "token.revoke"
	AuditTokenUpdate = "token.update"
	AuditTokenDenied = "token.denied"
	// AuditTokenRotate names the old token; its detail names the successor.
	AuditTokenRotate = "token.rotate"
	// AuditTokenNewAddress is the first use of a token from an address.
	AuditTokenNewAddress = "token.new_address"
	// AuditTokenLookup is an admin's lookup of a token by its value.
	AuditTokenLookup = "token.lookup"
	// AuditTokenExpiryShortened is a policy change ending a token sooner.
	AuditTokenExpiryShortened = "token.expiry_shortened"
	AuditConfUpdate           = "conf.update"
	AuditPermissionUpdate     = "permission.update"
	AuditPrincipalCreate      = "principal.create"
	AuditPrincipalUpdate      = "principal.update"
	AuditPrincipalDelete      = "principal.delete"
	AuditGroupCreate          = "group.create"
	AuditGroupUpdate          = "group.update"
	AuditGroupDelete          = "group.delete"
	AuditLogin                = "login"
	AuditLoginFailed          = "login.failed"
	AuditWorkspaceInit        = "workspace.init"
)

// AuditEvent records something that happened, by whom. It never carries a
// secret: tokens appear by id only.
type AuditEvent struct {
	ID     int64
	Time   time.Time
	Action string
	// ActorID and ActorName identify who did it; 0 and "kiln" for the
	// server itself or offline administration ("kiln admin").
	ActorID   int64
	ActorName string
	// Target names what it was done to, e.g. "token:<id>" or "user:<name>".
	Target     string
	RemoteAddr string
	// Detail carries extra facts, e.g. the reason a token was denied.
	Detail map[string]string
	// Count is how many identical events this row stands for: denied
	// requests are coalesced so that a flood writes a few rows, not one per
	// request.
	Count int
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	Action    string
	ActorName string
	Since     time.Time
	Until     time.Time
	// TokenSHA256 selects the events about the token whose value has this
	// SHA-256 (32 bytes): what a leaked value found in a paste was used for.
	TokenSHA256 []byte
	// BeforeID pages backwards: only events with a smaller id.
	BeforeID int64
	Limit    int
}
