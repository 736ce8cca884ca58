package service

import (
	"context"
	"strconv"

	"github.com/kiln-dev/kiln"
)

// Workspace object permissions (notebooks, directories, files) follow
// Databricks' levels, CAN_READ < CAN_RUN < CAN_EDIT < CAN_MANAGE, and
// inherit down the tree: a grant on a directory holds for everything
// below it, and answers show it as inherited from that directory. They
// add to the path rules (workspace_objects.go: /Shared and one's home are
// one's own, the rest of the tree is readable, other homes are closed):
// CAN_READ opens an object to reading, CAN_RUN also to running it in a
// task, CAN_EDIT to importing over it or creating below it, CAN_MANAGE to
// deleting it and changing its permissions.

// workspaceObjectTypes maps the Permissions API's object types of the
// workspace tree to the objects they name.
var workspaceObjectTypes = map[string]kiln.ObjectType{
	"directories": kiln.ObjectDirectory,
	"notebooks":   kiln.ObjectNotebook,
	"files":       kiln.ObjectFile,
}

// Workspace object levels, weakest first.
const (
	LevelCanRead = "CAN_READ"
	LevelCanRun  = "CAN_RUN"
	LevelCanEdit = "CAN_EDIT"
)

// objectRanks maps the levels that can be granted on workspace objects to
// their ranks.
var objectRanks = map[string]int{LevelCanRead: 1, LevelCanRun: 2, LevelCanEdit: 3, kiln.LevelCanManage: 4}

// WorkspaceObjectPermissionLevels lists the levels of notebooks,
// directories and files, for permissionLevels.
func WorkspaceObjectPermissionLevels() []PermissionLevel {
	return []PermissionLevel{
		{LevelCanRead, "Can view"},
		{LevelCanRun, "Can view and run"},
		{LevelCanEdit, "Can view, run and edit"},
		{kiln.LevelCanManage, "Can view, run, edit and change permissions"},
	}
}

// singularType is how answers name each type of workspace object.
var singularType = map[string]string{"directories": "directory", "notebooks": "notebook", "files": "file"}

// objectTypeOf is the Permissions API's object type of a workspace object.
func objectTypeOf(t kiln.ObjectType) string {
	for k, v := range workspaceObjectTypes {
		if v == t {
			return k
		}
	}
	return ""
}

// ObjectPermissionsRef names the object an answer is about, in the API's
// terms: ObjectID "/directories/123", ObjectType "directory".
type ObjectPermissionsRef struct {
	ObjectID, ObjectType string
}

// workspaceObjectFor reads the object of objectType with id, which the
// caller may read; a missing object, one of another type or one the
// caller may not read is ENotFound, as Databricks answers.
func workspaceObjectFor(tx kiln.Tx, c *kiln.Caller, objectType, id string) (*kiln.WorkspaceObject, error) {
	want, ok := workspaceObjectTypes[objectType]
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || n < 0 {
		return nil, kiln.Errorf(kiln.EInvalid, "%.40q is not a valid %s id.", id, objectType)
	}
	missing := kiln.Errorf(kiln.ENotFound, "%s %s does not exist.", objectType, id)
	o, err := tx.StatObjectByID(n)
	if kiln.IsCode(err, kiln.ENotFound) || (err == nil && o.Type != want) {
		return nil, missing
	}
	if err != nil {
		return nil, err
	}
	if rank, err := grantedOnPath(tx, c, o.Path); err != nil {
		return nil, err
	} else if !canReadPath(c, o.Path) && rank == 0 {
		return nil, missing
	}
	return o, nil
}

// objectPermissions lists an object's permissions: the admins (CAN_MANAGE,
// inherited from the root), each ancestor directory's grants, the root's
// included (inherited from it), and the object's own grants.
func objectPermissions(tx kiln.Tx, o *kiln.WorkspaceObject) ([]Permission, ObjectPermissionsRef, error) {
	typ := objectTypeOf(o.Type)
	ref := ObjectPermissionsRef{ObjectID: "/" + typ + "/" + strconv.FormatInt(o.ID, 10), ObjectType: singularType[typ]}
	out := []Permission{{ACLEntry: kiln.ACLEntry{GroupName: kiln.GroupAdmins, Level: kiln.LevelCanManage}, Inherited: true, InheritedFrom: []string{"/directories/"}}}
	// The root's grants hold below it too (grantedOnPath counts them).
	for _, anc := range append([]string{"/"}, kiln.PathPrefixes(o.Path)...) {
		if anc == o.Path {
			continue
		}
		d, err := tx.StatObject(anc)
		if kiln.IsCode(err, kiln.ENotFound) {
			continue
		}
		if err != nil {
			return nil, ref, err
		}
		from := "/directories/" + strconv.FormatInt(d.ID, 10)
		acl, err := tx.ObjectACL("directories", strconv.FormatInt(d.ID, 10))
		if err != nil {
			return nil, ref, err
		}
		for _, e := range acl {
			out = append(out, Permission{ACLEntry: e, Inherited: true, InheritedFrom: []string{from}})
		}
	}
	acl, err := tx.ObjectACL(typ, strconv.FormatInt(o.ID, 10))
	if err != nil {
		return nil, ref, err
	}
	for _, e := range acl {
		out = append(out, Permission{ACLEntry: e})
	}
	return out, ref, nil
}

// grantedOnPath returns the highest rank that grants on the object at p,
// or on a directory above it (the root included), give c; 0 for none. p
// itself need not exist (an import or mkdirs creates it).
func grantedOnPath(tx kiln.Tx, c *kiln.Caller, p string) (int, error) {
	who := kiln.Grantees(c.Principal)
	best := 0
	for _, q := range append([]string{"/"}, kiln.PathPrefixes(p)...) {
		o, err := tx.StatObject(q)
		if kiln.IsCode(err, kiln.ENotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		acl, err := tx.ObjectACL(objectTypeOf(o.Type), strconv.FormatInt(o.ID, 10))
		if err != nil {
			return 0, err
		}
		best = max(best, grantedRank(acl, who, objectRanks))
	}
	return best, nil
}

// mayAccess says whether c may act on the object at clean path p with the
// rank need (objectRanks): by the path rules (read for CAN_READ and
// CAN_RUN, write for more), or by a grant on it or above it.
func (s *Service) mayAccess(ctx context.Context, tx kiln.Tx, c *kiln.Caller, p string, need int) (bool, error) {
	if (need <= objectRanks[LevelCanRun] && canReadPath(c, p)) || canWritePath(c, p) {
		return true, nil
	}
	if tx != nil {
		rank, err := grantedOnPath(tx, c, p)
		return rank >= need, err
	}
	ok := false
	err := s.view(ctx, func(tx kiln.Tx) error {
		rank, err := grantedOnPath(tx, c, p)
		ok = rank >= need
		return err
	})
	return ok, err
}

// canManageObject says whether c manages o: by the path rules, or by a
// CAN_MANAGE grant on it or on a directory above it.
func canManageObject(tx kiln.Tx, c *kiln.Caller, o *kiln.WorkspaceObject) (bool, error) {
	if canWritePath(c, o.Path) {
		return true, nil
	}
	rank, err := grantedOnPath(tx, c, o.Path)
	return rank >= objectRanks[kiln.LevelCanManage], err
}

// WorkspaceObjectPermissions returns the permissions of a notebook,
// directory or file (objectType "notebooks", "directories", "files") the
// caller may read.
func (s *Service) WorkspaceObjectPermissions(ctx context.Context, objectType, id string) ([]Permission, ObjectPermissionsRef, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, ObjectPermissionsRef{}, err
	}
	var (
		out []Permission
		ref ObjectPermissionsRef
	)
	err = s.view(ctx, func(tx kiln.Tx) error {
		o, err := workspaceObjectFor(tx, c, objectType, id)
		if err != nil {
			return err
		}
		out, ref, err = objectPermissions(tx, o)
		return err
	})
	return out, ref, err
}

// SetWorkspaceObjectPermissions changes the grants on a notebook,
// directory or file the caller manages: with replace (PUT) entries become
// the whole list, otherwise (PATCH) they are merged in. An entry giving
// the admins CAN_MANAGE is accepted and changes nothing (they always hold
// it).
func (s *Service) SetWorkspaceObjectPermissions(ctx context.Context, objectType, id string, entries []kiln.ACLEntry, replace bool) ([]Permission, ObjectPermissionsRef, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, ObjectPermissionsRef{}, err
	}
	var (
		out []Permission
		ref ObjectPermissionsRef
	)
	err = s.update(ctx, func(tx kiln.Tx) error {
		o, err := workspaceObjectFor(tx, c, objectType, id)
		if err != nil {
			return err
		}
		if ok, err := canManageObject(tx, c, o); err != nil {
			return err
		} else if !ok {
			return kiln.Errorf(kiln.EPermission, "%s does not have Manage permissions on %s.", c.Principal.UserName, o.Path)
		}
		spec := grantSpec{objectType: objectType, ranks: objectRanks, levels: "CAN_READ, CAN_RUN, CAN_EDIT or CAN_MANAGE"}
		if err := writeGrants(tx, c, spec, strconv.FormatInt(o.ID, 10), "permissions:"+objectType+":"+o.Path, entries, replace); err != nil {
			return err
		}
		out, ref, err = objectPermissions(tx, o)
		return err
	})
	return out, ref, err
}
