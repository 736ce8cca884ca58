package kiln

import (
	"context"
	"errors"
	"time"
)

// Store is the storage contract. Both backends of package sqlstore,
// SQLite and PostgreSQL, implement it and pass the conformance suite in
// sqlstore/conformance; services never see which backend they run on.
//
// Reads and writes happen inside transactions: View runs fn in a read-only
// snapshot, Update runs fn in a read-write transaction that commits when fn
// returns nil and rolls back otherwise, so a change, its audit event and its
// change notice are written together or not at all.
//
// Errors: methods return *[Error] with ENotFound for a missing object and
// EConflict for a uniqueness violation; anything else is EInternal.
type Store interface {
	View(ctx context.Context, fn func(Tx) error) error
	Update(ctx context.Context, fn func(Tx) error) error

	// Changes returns the change notices with a sequence number above
	// after, oldest first, at most limit of them. Servers poll it to drop
	// cached state that another process (kiln admin, another replica)
	// changed. When notices above after were pruned, the error wraps
	// ErrChangesPruned (test it with errors.Is).
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// LastChange returns the highest change sequence number, 0 if none
	// (once every notice was pruned, the highest one pruned).
	LastChange(ctx context.Context) (int64, error)
	// PruneChanges deletes the change notices recorded before before and
	// returns how many it deleted. A poller whose position lies in the
	// pruned range then gets ErrChangesPruned from Changes: it missed
	// notices and must reload everything it caches.
	PruneChanges(ctx context.Context, before time.Time) (int64, error)

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	Close() error
}

// Tx is one transaction. Write methods fail in a View.
type Tx interface {
	WorkspaceTx
	PrincipalTx
	GroupTx
	TokenTx
	SettingsTx
	PermissionTx
	IPAccessListTx
	ObjectACLTx
	AuditTx
	ObjectTx
	SecretTx
	JobTx
	ScheduleTx
	RunTx
	ClusterTx
	WebhookTx
	OAuthTx

	// Now is the transaction's clock, truncated to milliseconds: every
	// timestamp written by one transaction is the same instant.
	Now() time.Time
	// Notify records a change notice, committed with the transaction.
	Notify(kind ChangeKind, ref string) error
}

// WorkspaceTx reads and initialises the workspace row.
type WorkspaceTx interface {
	// Workspace returns the workspace, or ENotFound before initialisation.
	Workspace() (Workspace, error)
	// CreateWorkspace initialises the store; EConflict if it already is.
	CreateWorkspace(w Workspace) error
}

// PrincipalTx manages users and service principals.
type PrincipalTx interface {
	// CreatePrincipal inserts p; a zero p.ID is assigned. EConflict when the
	// user name is taken.
	CreatePrincipal(p *Principal) error
	Principal(id int64) (*Principal, error)
	// PrincipalByName looks up by user name, case-insensitively.
	PrincipalByName(userName string) (*Principal, error)
	// Principals returns the page the filter selects and the total number
	// of principals matching it.
	Principals(f PrincipalFilter) ([]*Principal, int, error)
	UpdatePrincipal(id int64, u PrincipalUpdate) error
	// SetPrincipalEntitlements replaces the principal's direct
	// entitlements (CreatePrincipal stores p.Entitlements); ENotFound if
	// it does not exist.
	SetPrincipalEntitlements(id int64, entitlements []string) error
	// DeletePrincipal removes the principal, its memberships and its tokens.
	DeletePrincipal(id int64) error
}

// GroupTx manages groups and membership.
type GroupTx interface {
	// CreateGroup inserts g (members included); EConflict on a taken name.
	CreateGroup(g *Group) error
	Group(id int64) (*Group, error)
	GroupByName(name string) (*Group, error)
	Groups(f GroupFilter) ([]*Group, int, error)
	RenameGroup(id int64, name string) error
	// SetGroupEntitlements replaces what the group gives its members
	// (CreateGroup stores g.Entitlements); ENotFound if it does not exist.
	SetGroupEntitlements(id int64, entitlements []string) error
	DeleteGroup(id int64) error
	// AddMember is a no-op when already a member; ENotFound for a missing
	// group or principal.
	AddMember(groupID, principalID int64) error
	// RemoveMember is a no-op when not a member.
	RemoveMember(groupID, principalID int64) error
}

// TokenTx manages personal access tokens.
type TokenTx interface {
	// CreateToken inserts t; EConflict if the id or digest exists.
	CreateToken(t *Token) error
	Token(id string) (*Token, error)
	// TokenByDigest finds a token by the keyed digest of its value.
	TokenByDigest(digest []byte) (*Token, error)
	Tokens(f TokenFilter) ([]*Token, error)
	// CountLiveTokens counts the owner's tokens neither revoked nor expired at now.
	CountLiveTokens(ownerID int64, now time.Time) (int, error)
	UpdateTokenComment(id, comment string) error
	// RevokeToken marks the token revoked at the transaction time;
	// ENotFound if it does not exist or is already revoked.
	RevokeToken(id string, by int64) error
	// TouchTokens records last-used days, only moving them forward.
	TouchTokens(days map[string]time.Time) error
	// RotateToken marks token id rotated to successor at the transaction
	// time and moves its expiry to expires; ENotFound if it does not
	// exist, is revoked or was already rotated, so that of two concurrent
	// rotations exactly one wins.
	RotateToken(id, successor string, expires time.Time) error
	// SetTokenExpiry moves the expiry of a token that is not revoked;
	// ENotFound otherwise.
	SetTokenExpiry(id string, expires time.Time) error
	// TokenBySHA256 finds a token by the plain SHA-256 of its value.
	TokenBySHA256(sum []byte) (*Token, error)
	// RecordTokenAddresses records uses of tokens from source addresses,
	// keeping the MaxTokenAddresses most recently seen per token, and
	// returns the uses whose address the token had not been seen from
	// (ignoring tokens that no longer exist).
	RecordTokenAddresses(uses []TokenAddressUse) ([]TokenAddressUse, error)
	// TokenAddresses returns the addresses the token was seen from, most
	// recently seen first.
	TokenAddresses(id string) ([]TokenAddress, error)
}

// SettingsTx reads and writes workspace-conf values.
type SettingsTx interface {
	// Settings returns every stored key and value (defaults not included).
	Settings() (map[string]string, error)
	SetSettings(kv map[string]string) error
}

// PermissionTx reads and writes the token permission list.
type PermissionTx interface {
	TokenACL() ([]ACLEntry, error)
	// SetTokenACL replaces the whole list.
	SetTokenACL(entries []ACLEntry) error
}

// AuditTx appends and reads audit events.
type AuditTx interface {
	// Audit appends ev; zero Time is the transaction time, zero Count is 1.
	Audit(ev AuditEvent) error
	AuditEvents(f AuditFilter) ([]AuditEvent, error)
}

// ChangeKind says what a change notice is about.
type ChangeKind string

// The change kinds. Ref is the token id, principal id or group id; empty
// for settings and permissions, which change as a whole.
const (
	ChangeToken      ChangeKind = "token"
	ChangePrincipal  ChangeKind = "principal"
	ChangeGroup      ChangeKind = "group"
	ChangeSettings   ChangeKind = "settings"
	ChangePermission ChangeKind = "permission"
	// ChangeOAuth is an OAuth secret or grant; Ref is "secret:<id>" or
	// "grant:<id>".
	ChangeOAuth ChangeKind = "oauth"
)

// ErrChangesPruned is what Store.Changes wraps when notices after the
// position asked for were pruned: the poller must reload its whole state
// and go on from LastChange.
var ErrChangesPruned = errors.New("kiln: change notices were pruned past this position")

// Change is one change notice.
type Change struct {
	Seq  int64
	Kind ChangeKind
	Ref  string
	Time time.Time
}
