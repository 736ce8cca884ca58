package kiln

// Object types of the Permissions API, as Databricks spells them in
// /api/2.0/permissions/{object_type}/{object_id}.
const (
	ObjectTypeJobs     = "jobs"
	ObjectTypeClusters = "clusters"
)

// Job permission levels, weakest first: each includes what the weaker
// ones allow. IS_OWNER is the job's owner (its creator, whom it runs as);
// it cannot be granted besides, only moved to another principal.
const (
	LevelCanView      = "CAN_VIEW"
	LevelCanManageRun = "CAN_MANAGE_RUN"
	LevelIsOwner      = "IS_OWNER"
)

// Grantee names one principal or group an object ACL grants to, as its
// record spells it: Kind is "user", "group" or "service_principal".
type Grantee struct {
	Kind, Name string
}

// Grantees returns who p is for access control: itself and each group it
// belongs to, "users" included (every principal is in it).
func Grantees(p *Principal) []Grantee {
	kind := "user"
	if p.Kind == KindServicePrincipal {
		kind = "service_principal"
	}
	out := []Grantee{{Kind: kind, Name: p.UserName}, {Kind: "group", Name: GroupUsers}}
	for _, g := range p.Groups {
		if g.Name != GroupUsers {
			out = append(out, Grantee{Kind: "group", Name: g.Name})
		}
	}
	return out
}

// ObjectACLTx stores the access control lists of objects of the
// Permissions API (jobs, …): grants of a level on one object to
// principals and groups. Object ids are the API's strings.
type ObjectACLTx interface {
	// ObjectACL returns the grants on one object, in no particular order;
	// none is an empty list, not an error.
	ObjectACL(objectType, objectID string) ([]ACLEntry, error)
	// SetObjectACL replaces the grants on one object; an empty list
	// removes them all.
	SetObjectACL(objectType, objectID string, entries []ACLEntry) error
	// RenameObjectGrantee rewrites every grant to the grantee of that kind
	// and name (case-insensitively) to newName, or drops them when newName
	// is empty (the principal or group was deleted).
	RenameObjectGrantee(kind, name, newName string) error
}
