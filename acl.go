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
