package service

import (
	"context"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// The permissions of one object as a person sees them (the console's
// Permissions page): the rows the Permissions API answers, each told
// apart as the owner, an inherited level or a direct grant, with where an
// inherited one comes from, the levels that can be granted on the object
// and whether the caller may change them. Each is read and checked by the
// same functions as the API's calls (jobFor, workspaceObjectFor,
// canManageObject, clusterRank), so the page shows and allows exactly what
// the API does; granting is the API's PATCH (the Set…Permissions calls).

// Sources of a PermissionRow.
const (
	// SourceOwner is a job's owner (IS_OWNER) or a cluster's creator
	// (CAN_MANAGE): held by being that principal, not by a grant.
	SourceOwner = "owner"
	// SourceAdmins is the admins group's CAN_MANAGE on every object.
	SourceAdmins = "admins"
	// SourceInherited is a grant on a folder above a workspace object.
	SourceInherited = "inherited"
	// SourceDirect is a grant on the object itself, which its managers
	// may change or remove.
	SourceDirect = "direct"
)

// PermissionRow is one row of an object's permissions.
type PermissionRow struct {
	Permission
	// Source is SourceOwner, SourceAdmins, SourceInherited or SourceDirect.
	Source string
	// FromPath is the workspace path of the folder a SourceInherited
	// grant is on.
	FromPath string
}

// ObjectPermissionsView is one object's permissions for its page.
type ObjectPermissionsView struct {
	// ObjectType is the Permissions API's: "jobs", "clusters",
	// "notebooks", "directories" or "files"; ObjectID its id there.
	ObjectType, ObjectID string
	// Name is the job's or the cluster's name, or the workspace object's
	// path.
	Name string
	// Path is a workspace object's path ("" for jobs and clusters).
	Path string
	Rows []PermissionRow
	// Levels are those that can be granted on the object, weakest first.
	Levels []PermissionLevel
	// CanManage says whether the caller may change the grants.
	CanManage bool
}

// PermissionObjectTypes are the object types PermissionsView reads.
var PermissionObjectTypes = []string{kiln.ObjectTypeJobs, kiln.ObjectTypeClusters, "notebooks", "directories", "files"}

// PermissionsView returns the permissions of the object of objectType
// (one of PermissionObjectTypes) with id, which the caller may see: a
// job it holds a level on, a workspace object it may read, any cluster.
// An object it may not see is the API's answer: not found.
func (s *Service) PermissionsView(ctx context.Context, objectType, id string) (*ObjectPermissionsView, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	v := &ObjectPermissionsView{ObjectType: objectType, ObjectID: id}
	err = s.view(ctx, func(tx kiln.Tx) error {
		switch objectType {
		case kiln.ObjectTypeJobs:
			return jobPermissionsView(tx, c, id, v)
		case kiln.ObjectTypeClusters:
			return clusterPermissionsView(tx, c, id, v)
		}
		return objectPermissionsView(tx, c, id, v)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// parseJobID reads a job id of the Permissions API's path.
func parseJobID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, kiln.Errorf(kiln.EInvalid, "Job id %.40q is not a valid id.", id)
	}
	return n, nil
}

func jobPermissionsView(tx kiln.Tx, c *kiln.Caller, id string, v *ObjectPermissionsView) error {
	n, err := parseJobID(id)
	if err != nil {
		return err
	}
	j, err := jobFor(tx, c, n, rankView)
	if err != nil {
		return err
	}
	rank, err := jobRank(tx, c, j)
	if err != nil {
		return err
	}
	ps, err := jobPermissions(tx, j)
	if err != nil {
		return err
	}
	v.Name, v.CanManage, v.Levels = j.Name, rank >= rankManage, JobPermissionLevels()
	v.Rows = ownedRows(tx, ps, j.CreatorID)
	return nil
}

func clusterPermissionsView(tx kiln.Tx, c *kiln.Caller, id string, v *ObjectPermissionsView) error {
	cl, err := tx.Cluster(id)
	if err != nil {
		return clusterMissing(err, id)
	}
	rank, err := clusterRank(tx, c, cl)
	if err != nil {
		return err
	}
	ps, err := clusterPermissions(tx, cl)
	if err != nil {
		return err
	}
	v.Name, v.CanManage, v.Levels = cl.Name, rank >= rankClusterManage, ClusterPermissionLevels()
	v.Rows = ownedRows(tx, ps, cl.CreatorID)
	return nil
}

// ownedRows marks the rows of ownedObjectPermissions: the owner first
// when that principal still exists, the admins, then the grants.
func ownedRows(tx kiln.Tx, ps []Permission, ownerID int64) []PermissionRow {
	_, err := tx.Principal(ownerID)
	owner := err == nil // ownedObjectPermissions left the owner out otherwise
	rows := make([]PermissionRow, len(ps))
	for i, p := range ps {
		rows[i] = PermissionRow{Permission: p, Source: SourceDirect}
		switch {
		case p.Inherited:
			rows[i].Source = SourceAdmins
		case i == 0 && owner:
			rows[i].Source = SourceOwner
		}
	}
	return rows
}

func objectPermissionsView(tx kiln.Tx, c *kiln.Caller, id string, v *ObjectPermissionsView) error {
	o, err := workspaceObjectFor(tx, c, v.ObjectType, id)
	if err != nil {
		return err
	}
	ps, _, err := objectPermissions(tx, o)
	if err != nil {
		return err
	}
	if v.CanManage, err = canManageObject(tx, c, o); err != nil {
		return err
	}
	v.Name, v.Path, v.Levels = o.Path, o.Path, WorkspaceObjectPermissionLevels()
	for _, p := range ps {
		row := PermissionRow{Permission: p, Source: SourceDirect}
		if p.Inherited {
			row.Source = SourceAdmins
			if from, ok := strings.CutPrefix(p.InheritedFrom[0], "/directories/"); ok && from != "" {
				row.Source = SourceInherited
				n, _ := strconv.ParseInt(from, 10, 64)
				if d, err := tx.StatObjectByID(n); err == nil {
					row.FromPath = d.Path
				} else if !kiln.IsCode(err, kiln.ENotFound) {
					return err
				}
			}
		}
		v.Rows = append(v.Rows, row)
	}
	return nil
}

// RevokePermission removes the direct grant to the grantee of kind
// ("user", "group" or "service_principal") and name on the object of
// objectType with id, which the caller must manage, as PUT with the
// other grants would; levels held as owner, as an admin or through a
// folder are not grants on the object and stay. A grantee without a
// direct grant is refused in words.
func (s *Service) RevokePermission(ctx context.Context, objectType, id, kind, name string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx kiln.Tx) error {
		oid, target, what, err := managedObject(tx, c, objectType, id)
		if err != nil {
			return err
		}
		acl, err := tx.ObjectACL(objectType, oid)
		if err != nil {
			return err
		}
		var keep []kiln.ACLEntry
		for _, e := range acl {
			if k, n := e.Subject(); k == kind && strings.EqualFold(n, name) {
				continue
			}
			keep = append(keep, e)
		}
		if len(keep) == len(acl) {
			return kiln.Errorf(kiln.EInvalid, "%s %.256s has no direct grant on %s: a level held as owner, as an admin or through a folder is changed where it comes from.",
				strings.ReplaceAll(kind, "_", " "), name, what)
		}
		if err := tx.SetObjectACL(objectType, oid, keep); err != nil {
			return err
		}
		return tx.Audit(aclAuditEvent(c, target, keep))
	})
}

// managedObject checks that c manages the object of objectType with id,
// by the rules of the Set…Permissions calls, and returns its id in the
// object ACL store, its audit target and its name for refusals.
func managedObject(tx kiln.Tx, c *kiln.Caller, objectType, id string) (oid, target, what string, err error) {
	switch objectType {
	case kiln.ObjectTypeJobs:
		n, err := parseJobID(id)
		if err != nil {
			return "", "", "", err
		}
		if _, err := jobFor(tx, c, n, rankManage); err != nil {
			return "", "", "", err
		}
		return jobObjectID(n), "permissions:" + jobTarget(n), "job " + id, nil
	case kiln.ObjectTypeClusters:
		if err := localClusterFixed(id); err != nil {
			return "", "", "", err
		}
		cl, err := tx.Cluster(id)
		if err != nil {
			return "", "", "", clusterMissing(err, id)
		}
		if err := checkClusterRank(tx, c, cl, rankClusterManage); err != nil {
			return "", "", "", err
		}
		return cl.ID, "permissions:" + clusterTarget(cl.ID), "cluster " + id, nil
	}
	o, err := workspaceObjectFor(tx, c, objectType, id)
	if err != nil {
		return "", "", "", err
	}
	if ok, err := canManageObject(tx, c, o); err != nil {
		return "", "", "", err
	} else if !ok {
		return "", "", "", kiln.Errorf(kiln.EPermission, "%s does not have Manage permissions on %s.", c.Principal.UserName, o.Path)
	}
	return strconv.FormatInt(o.ID, 10), "permissions:" + objectType + ":" + o.Path, o.Path, nil
}
