package service

import (
	"context"
	"strconv"

	"github.com/kiln-dev/kiln"
)

// Job permissions follow Databricks: CAN_VIEW sees a job, its settings and
// its runs; CAN_MANAGE_RUN also starts and cancels runs; CAN_MANAGE also
// edits and deletes the job and its permissions; IS_OWNER is the job's
// owner (its creator, whom its runs run as) and holds everything. Admins
// hold CAN_MANAGE on every job, inherited. A caller holds the highest
// level granted to it, to any of its groups or to "users". A job the
// caller holds no level on does not exist for it ("Job N does not
// exist."), as before permissions existed; one it sees but may not change
// is EPermission.

// Job permission ranks: a caller's rank on a job is the highest granted.
const (
	rankNone = iota
	rankView
	rankManageRun
	rankManage
	rankOwner
)

// jobRanks maps the levels that can be granted on jobs to their ranks.
var jobRanks = map[string]int{
	kiln.LevelCanView: rankView, kiln.LevelCanManageRun: rankManageRun,
	kiln.LevelCanManage: rankManage, kiln.LevelIsOwner: rankOwner,
}

// levelNames are the words of refusals, by rank.
var levelNames = map[int]string{rankView: "View", rankManageRun: "Manage Run", rankManage: "Manage"}

// JobPermissionLevels lists the levels of a job's permissions, for
// permissionLevels.
func JobPermissionLevels() []PermissionLevel {
	return []PermissionLevel{
		{kiln.LevelCanView, "Can view job"},
		{kiln.LevelCanManageRun, "Can view job and manage its runs"},
		{kiln.LevelIsOwner, "Is the owner of the job; runs run as the owner"},
		{kiln.LevelCanManage, "Can manage the job and its permissions"},
	}
}

// jobObjectID is a job's id in the object ACL store.
func jobObjectID(id int64) string { return strconv.FormatInt(id, 10) }

// jobRank returns the caller's rank on the job.
func jobRank(tx kiln.Tx, c *kiln.Caller, j *kiln.Job) (int, error) {
	if c.Principal.ID == j.CreatorID {
		return rankOwner, nil
	}
	if isAdmin(c) {
		return rankManage, nil
	}
	acl, err := tx.ObjectACL(kiln.ObjectTypeJobs, jobObjectID(j.ID))
	if err != nil {
		return rankNone, err
	}
	return grantedRank(acl, kiln.Grantees(c.Principal), jobRanks), nil
}

// grantedRank is the highest rank acl grants to any of who.
func grantedRank(acl []kiln.ACLEntry, who []kiln.Grantee, ranks map[string]int) int {
	best := rankNone
	for _, e := range acl {
		kind, name := e.Subject()
		for _, g := range who {
			if g.Kind == kind && g.Name == name {
				best = max(best, ranks[e.Level])
			}
		}
	}
	return best
}

// jobFor reads a job the caller holds at least need on: a job it holds
// nothing on does not exist for it; one it holds less on is EPermission.
func jobFor(tx kiln.Tx, c *kiln.Caller, id int64, need int) (*kiln.Job, error) {
	j, err := tx.Job(id)
	if kiln.IsCode(err, kiln.ENotFound) {
		return nil, jobNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	rank, err := jobRank(tx, c, j)
	if err != nil {
		return nil, err
	}
	switch {
	case rank == rankNone:
		return nil, jobNotFound(id)
	case rank < need:
		return nil, kiln.Errorf(kiln.EPermission, "%s does not have %s permissions on Job %d.", c.Principal.UserName, levelNames[need], id)
	}
	return j, nil
}

// Permission is one entry of an object's permissions as the Permissions
// API shows them: a grant, or a level held by inheritance (InheritedFrom
// names the objects it comes from, such as "/jobs/" for the admins').
type Permission struct {
	kiln.ACLEntry
	Inherited     bool
	InheritedFrom []string
}

// JobPermissions returns a job's permissions: its owner (IS_OWNER), the
// admins group (CAN_MANAGE, inherited from /jobs/), and the grants. Any
// caller who sees the job may read them.
func (s *Service) JobPermissions(ctx context.Context, id int64) ([]Permission, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var out []Permission
	err = s.view(ctx, func(tx kiln.Tx) error {
		j, err := jobFor(tx, c, id, rankView)
		if err != nil {
			return err
		}
		out, err = jobPermissions(tx, j)
		return err
	})
	return out, err
}

// jobPermissions lists a job's owner, the admins and its grants.
func jobPermissions(tx kiln.Tx, j *kiln.Job) ([]Permission, error) {
	return ownedObjectPermissions(tx, j.CreatorID, kiln.LevelIsOwner, kiln.ObjectTypeJobs, jobObjectID(j.ID))
}

// ownedObjectPermissions lists an object's owner (or creator) with
// ownerLevel, unless that principal is gone; the admins with CAN_MANAGE,
// inherited from the type's root ("/jobs/", "/clusters/"); and the grants
// on the object.
func ownedObjectPermissions(tx kiln.Tx, ownerID int64, ownerLevel, objectType, oid string) ([]Permission, error) {
	var out []Permission
	if owner, err := tx.Principal(ownerID); err == nil {
		kind := "user"
		if owner.Kind == kiln.KindServicePrincipal {
			kind = "service_principal"
		}
		e, _ := kiln.NewACLEntry(kind, owner.UserName, ownerLevel)
		out = append(out, Permission{ACLEntry: e})
	} else if !kiln.IsCode(err, kiln.ENotFound) {
		return nil, err
	}
	out = append(out, Permission{ACLEntry: kiln.ACLEntry{GroupName: kiln.GroupAdmins, Level: kiln.LevelCanManage},
		Inherited: true, InheritedFrom: []string{"/" + objectType + "/"}})
	acl, err := tx.ObjectACL(objectType, oid)
	if err != nil {
		return nil, err
	}
	for _, e := range acl {
		out = append(out, Permission{ACLEntry: e})
	}
	return out, nil
}

// SetJobPermissions changes a job's grants (CAN_MANAGE on the job). With
// replace (PUT) entries become the whole list of grants; otherwise (PATCH)
// they are merged in. The owner and the admins are not grants: an entry
// naming the current owner with IS_OWNER, or the admins group with
// CAN_MANAGE, is accepted and changes nothing (Terraform and bundles send
// both); IS_OWNER for anyone else is refused, as kiln does not move a
// job's ownership.
func (s *Service) SetJobPermissions(ctx context.Context, id int64, entries []kiln.ACLEntry, replace bool) ([]Permission, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var out []Permission
	err = s.update(ctx, func(tx kiln.Tx) error {
		j, err := jobFor(tx, c, id, rankManage)
		if err != nil {
			return err
		}
		owner, err := tx.Principal(j.CreatorID)
		if err != nil && !kiln.IsCode(err, kiln.ENotFound) {
			return err
		}
		spec := grantSpec{objectType: kiln.ObjectTypeJobs, ranks: jobRanks, levels: "CAN_VIEW, CAN_MANAGE_RUN, CAN_MANAGE or IS_OWNER",
			notGrant: func(e kiln.ACLEntry) (bool, error) {
				if e.Level != kiln.LevelIsOwner {
					return false, nil
				}
				if kind, name := e.Subject(); owner == nil || name != owner.UserName || kind == "group" {
					return false, kiln.Errorf(kiln.EInvalid, "%s cannot be the owner of job %d: kiln keeps a job's owner (its creator, %s), so IS_OWNER may only name that principal; set the job's run_as to run it as another principal.", name, id, j.CreatorName)
				}
				return true, nil
			}}
		if err := writeGrants(tx, c, spec, jobObjectID(id), "permissions:"+jobTarget(id), entries, replace); err != nil {
			return err
		}
		out, err = jobPermissions(tx, j)
		return err
	})
	return out, err
}

// grantSpec says which levels can be granted on one type of object.
type grantSpec struct {
	objectType string         // the Permissions API's: "jobs", "clusters", "notebooks", …
	ranks      map[string]int // the levels that can be granted, by rank
	levels     string         // those levels, for refusals
	// notGrant, when set, accepts entries that are not grants (a job's
	// owner): true skips the entry, an error refuses the request.
	notGrant func(kiln.ACLEntry) (bool, error)
}

// writeGrants validates entries and writes them as the grants on the
// object oid of spec's type: with replace the whole list, otherwise
// merged into it, a later entry for the same grantee winning; audited as
// target. An entry giving the admins CAN_MANAGE is accepted and skipped:
// they always hold it (Terraform and bundles send it).
func writeGrants(tx kiln.Tx, c *kiln.Caller, spec grantSpec, oid, target string, entries []kiln.ACLEntry, replace bool) error {
	var grants []kiln.ACLEntry
	for _, e := range entries {
		if err := checkEntryShape(e); err != nil {
			return err
		}
		if spec.notGrant != nil {
			if skip, err := spec.notGrant(e); err != nil {
				return err
			} else if skip {
				continue
			}
		}
		kind, name := e.Subject()
		switch {
		case spec.ranks[e.Level] == rankNone:
			return kiln.Errorf(kiln.EInvalid, "Permission level %q is not valid for %s; use %s.", e.Level, spec.objectType, spec.levels)
		case kind == "group" && name == kiln.GroupAdmins:
			if e.Level != kiln.LevelCanManage {
				return kiln.Errorf(kiln.EInvalid, "Cannot change permissions for group 'admins' to %s: admins always have CAN_MANAGE.", e.Level)
			}
			continue
		}
		if err := checkGrantee(tx, e); err != nil {
			return err
		}
		grants = append(grants, e)
	}
	if !replace {
		cur, err := tx.ObjectACL(spec.objectType, oid)
		if err != nil {
			return err
		}
		grants = mergeACL(cur, grants)
	}
	if err := tx.SetObjectACL(spec.objectType, oid, grants); err != nil {
		return err
	}
	return tx.Audit(aclAuditEvent(c, target, grants))
}

// checkEntryShape refuses an entry that names no grantee or several.
func checkEntryShape(e kiln.ACLEntry) error {
	n := 0
	for _, v := range []string{e.UserName, e.GroupName, e.ServicePrincipalName} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return kiln.Errorf(kiln.EInvalid, "Each access control entry names exactly one of user_name, group_name and service_principal_name.")
	}
	return nil
}
