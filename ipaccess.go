package kiln

import (
	"context"
	"time"
)

// IP access list types, as the Databricks IP Access Lists API names them.
const (
	// IPAllow lists addresses that may reach the workspace: once any
	// enabled allow list exists, an address must match one.
	IPAllow = "ALLOW"
	// IPBlock lists addresses refused even when an allow list matches.
	IPBlock = "BLOCK"
)

// IPAccessList is one named list of addresses (single IPs such as
// 192.0.2.1 and CIDRs such as 198.51.100.0/24) that the workspace allows
// or blocks while the workspace setting enableIpAccessLists is "true".
type IPAccessList struct {
	// ID is the list_id, a random UUID.
	ID    string
	Label string
	// ListType is IPAllow or IPBlock.
	ListType string
	// Addresses are stored as the caller sent them (the service checks
	// each parses).
	Addresses []string
	Enabled   bool
	Created   time.Time
	CreatedBy int64
	Updated   time.Time
	UpdatedBy int64
}

// Audit actions of the IP Access Lists API.
const (
	AuditIPAccessListCreate  = "ip_access_list.create"
	AuditIPAccessListUpdate  = "ip_access_list.update"
	AuditIPAccessListReplace = "ip_access_list.replace"
	AuditIPAccessListDelete  = "ip_access_list.delete"
)

// ChangeIPAccessList is the change notice of an IP access list write; Ref
// is the list id.
const ChangeIPAccessList ChangeKind = "ip_access_list"

// IPAccessListTx stores IP access lists.
type IPAccessListTx interface {
	// CreateIPAccessList inserts l; zero Created and Updated become the
	// transaction time, written back. EConflict if the id exists.
	CreateIPAccessList(l *IPAccessList) error
	// IPAccessList returns the list with id, or ENotFound.
	IPAccessList(id string) (*IPAccessList, error)
	// IPAccessLists returns every list, oldest first (ties by id).
	IPAccessLists() ([]*IPAccessList, error)
	// UpdateIPAccessList replaces the label, type, addresses, enabled flag
	// and updated fields of the list with l.ID (a zero l.Updated becomes
	// the transaction time, written back); ENotFound if there is none.
	UpdateIPAccessList(l *IPAccessList) error
	// DeleteIPAccessList removes the list; ENotFound if there is none.
	DeleteIPAccessList(id string) error
}

type clientAddrKey struct{}

// NewContextWithClientAddr returns a copy of ctx carrying the client's
// address (after trusted proxies), which the service needs to refuse a
// change that would lock the caller out.
func NewContextWithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddrFromContext returns the client address in ctx, or "" (offline
// administration, which no IP access list governs).
func ClientAddrFromContext(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}

// Workspace settings kiln honours beyond the token ones in settings.go;
// their defaults are the service's (service.ConfDefault).
const (
	// ConfEnableIPAccessLists enforces the IP access lists ("true").
	ConfEnableIPAccessLists = "enableIpAccessLists"
	// ConfEnableExportNotebook allows exporting notebooks ("true", the
	// default); "false" refuses workspace export of notebooks.
	ConfEnableExportNotebook = "enableExportNotebook"
	// ConfEnableResultsDownloading allows downloading notebook results
	// ("true", the default).
	ConfEnableResultsDownloading = "enableResultsDownloading"
)
