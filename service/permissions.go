package service

import (
	"context"
	"strings"

	"github.com/kiln-dev/kiln"
)

// PermissionLevel describes one token permission level.
type PermissionLevel struct {
	Level       string
	Description string
}

// TokenPermissionLevels lists the levels that can be granted on tokens.
func TokenPermissionLevels() []PermissionLevel {
	return []PermissionLevel{
		{kiln.LevelCanUse, "Can create and use personal access tokens"},
		{kiln.LevelCanManage, "Can manage all tokens of the workspace (the admins group only)"},
	}
}

// TokenPermissions returns the direct grants on tokens, with the implied
// admins/CAN_MANAGE entry first (admins only).
func (s *Service) TokenPermissions(ctx context.Context) ([]kiln.ACLEntry, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var acl []kiln.ACLEntry
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		acl, err = tx.TokenACL()
		return err
	})
	return append([]kiln.ACLEntry{{GroupName: kiln.GroupAdmins, Level: kiln.LevelCanManage}}, acl...), err
}

// SetTokenPermissions changes who may use tokens (admins only). With
// replace, entries become the whole list (PUT); otherwise they are merged
// into it, a later entry for the same grantee winning (PATCH). The admins
// group always keeps CAN_MANAGE: an entry granting it that is accepted and
// ignored (Terraform always sends it), any other entry for admins, or
// CAN_MANAGE for anyone else, is refused.
func (s *Service) SetTokenPermissions(ctx context.Context, entries []kiln.ACLEntry, replace bool) ([]kiln.ACLEntry, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var clean []kiln.ACLEntry
	for _, e := range entries {
		if err := checkEntryShape(e); err != nil {
			return nil, err
		}
		if e.GroupName == kiln.GroupAdmins {
			if e.Level != kiln.LevelCanManage {
				return nil, kiln.Errorf(kiln.EInvalid, "Cannot change permissions for group 'admins' to %s: admins always have CAN_MANAGE.", e.Level)
			}
			continue
		}
		switch e.Level {
		case kiln.LevelCanUse:
		case kiln.LevelCanManage:
			return nil, kiln.Errorf(kiln.EInvalid, "CAN_MANAGE on tokens belongs to the admins group only; grant CAN_USE instead.")
		default:
			return nil, kiln.Errorf(kiln.EInvalid, "Permission level %q is not valid for tokens; the level that can be granted is CAN_USE.", e.Level)
		}
		clean = append(clean, e)
	}
	var out []kiln.ACLEntry
	err = s.update(ctx, func(tx kiln.Tx) error {
		for _, e := range clean {
			if err := checkGrantee(tx, e); err != nil {
				return err
			}
		}
		acl := clean
		if !replace {
			cur, err := tx.TokenACL()
			if err != nil {
				return err
			}
			acl = mergeACL(cur, clean)
		}
		if err := tx.SetTokenACL(acl); err != nil {
			return err
		}
		ev := aclAuditEvent(c, "permissions:tokens", acl)
		if err := tx.Audit(ev); err != nil {
			return err
		}
		if err := s.emit(tx, policyEvent("token_permissions", ev.Detail)); err != nil {
			return err
		}
		out = append([]kiln.ACLEntry{{GroupName: kiln.GroupAdmins, Level: kiln.LevelCanManage}}, acl...)
		return tx.Notify(kiln.ChangePermission, "")
	})
	return out, err
}

// aclAuditEvent is the audit event of setting acl on target: each grant
// in the detail, as kind:name = level.
func aclAuditEvent(c *kiln.Caller, target string, acl []kiln.ACLEntry) kiln.AuditEvent {
	ev := auditEvent(c, kiln.AuditPermissionUpdate, target)
	ev.Detail = map[string]string{}
	for _, e := range acl {
		kind, name := e.Subject()
		ev.Detail[kind+":"+name] = e.Level
	}
	return ev
}

func checkGrantee(tx kiln.Tx, e kiln.ACLEntry) error {
	kind, name := e.Subject()
	switch kind {
	case "group":
		if _, err := tx.GroupByName(name); kiln.IsCode(err, kiln.ENotFound) {
			return kiln.Errorf(kiln.EInvalid, "Group %s does not exist.", name)
		} else if err != nil {
			return err
		}
	default:
		want := kiln.KindUser
		if kind == "service_principal" {
			want = kiln.KindServicePrincipal
		}
		p, err := tx.PrincipalByName(name)
		if kiln.IsCode(err, kiln.ENotFound) || (err == nil && p.Kind != want) {
			return kiln.Errorf(kiln.EInvalid, "%s %s does not exist.", strings.ReplaceAll(kind, "_", " "), name)
		}
		return err
	}
	return nil
}

func mergeACL(cur, add []kiln.ACLEntry) []kiln.ACLEntry {
	out := append([]kiln.ACLEntry(nil), cur...)
	for _, e := range add {
		k1, n1 := e.Subject()
		replaced := false
		for i, o := range out {
			if k2, n2 := o.Subject(); k1 == k2 && strings.EqualFold(n1, n2) {
				out[i] = e
				replaced = true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

// renameGrantee rewrites or (with newName "") drops the permission entries
// (token permissions and secret scope grants) naming a principal or group
// that is renamed or deleted, so a later principal of the same name does
// not inherit them.
func renameGrantee(tx kiln.Tx, kind, name, newName string) error {
	// Secret scope grants name users, service principals and groups alike,
	// as their records spell them.
	if err := tx.RenameSecretGrantee(name, newName); err != nil {
		return err
	}
	if err := tx.RenameObjectGrantee(kind, name, newName); err != nil {
		return err
	}
	acl, err := tx.TokenACL()
	if err != nil {
		return err
	}
	var out []kiln.ACLEntry
	changed := false
	for _, e := range acl {
		k, n := e.Subject()
		if k != kind || !strings.EqualFold(n, name) {
			out = append(out, e)
			continue
		}
		changed = true
		if newName == "" {
			continue
		}
		switch kind {
		case "group":
			e.GroupName = newName
		case "user":
			e.UserName = newName
		default:
			e.ServicePrincipalName = newName
		}
		out = append(out, e)
	}
	if !changed {
		return nil
	}
	if err := tx.SetTokenACL(out); err != nil {
		return err
	}
	return tx.Notify(kiln.ChangePermission, "")
}
