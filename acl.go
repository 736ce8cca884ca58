package kiln

// Token permission levels.
const (
	// LevelCanUse lets a principal create and use its own tokens.
	LevelCanUse = "CAN_USE"
	// LevelCanManage is held by the admins group only and cannot be granted.
	LevelCanManage = "CAN_MANAGE"
)

// ACLEntry grants a permission level on tokens to one principal or group.
// Exactly one of UserName, GroupName and ServicePrincipalName is set.
type ACLEntry struct {
	UserName             string
	GroupName            string
	ServicePrincipalName string
	Level                string
}

// NewACLEntry is the entry granting level to the grantee of that kind
// ("user", "group" or "service_principal") and name, the inverse of
// Subject; ok is false for another kind.
func NewACLEntry(kind, name, level string) (e ACLEntry, ok bool) {
	e.Level = level
	switch kind {
	case "user":
		e.UserName = name
	case "group":
		e.GroupName = name
	case "service_principal":
		e.ServicePrincipalName = name
	default:
		return e, false
	}
	return e, true
}

// Subject returns the kind and name of the entry's grantee.
func (e ACLEntry) Subject() (kind, name string) {
	switch {
	case e.UserName != "":
		return "user", e.UserName
	case e.GroupName != "":
		return "group", e.GroupName
	default:
		return "service_principal", e.ServicePrincipalName
	}
}
