package console

// The Permissions pages: who holds which level on a job, a notebook, a
// folder, a file or a cluster, at /permissions/{type}/{id}, the Permissions
// API's own object type and id (an id, not a path, so the address stays
// the same when a notebook moves). Each row says where its level comes
// from: the owner, the admins group, a grant on a folder above (linked,
// since it is changed there) or a direct grant on the object, which its
// managers may change or remove here. The page says whether the viewer may
// change anything, and offers the forms only then; a forged post is
// refused by the service all the same.
//
// Reading is the service's PermissionsView, which checks and reads with
// the API's own functions; Add (and a row's Change) is the API's PATCH of
// one entry, Remove its RevokePermission, so every rule, level check and
// refusal is the API's, in its words.

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/service"
)

func init() {
	// Registered here rather than in render.go's list, so that this page
	// is one file's change.
	pageNames = append(pageNames, "permissions")
}

// permissionsPath is the address of an object's Permissions page.
func permissionsPath(objectType, id string) string {
	return "/permissions/" + objectType + "/" + url.PathEscape(id)
}

// objectPermissionsPath is the Permissions page of a workspace object.
func objectPermissionsPath(o *kiln.WorkspaceObject) string {
	typ := map[kiln.ObjectType]string{kiln.ObjectDirectory: "directories", kiln.ObjectNotebook: "notebooks", kiln.ObjectFile: "files"}[o.Type]
	if typ == "" {
		return ""
	}
	return permissionsPath(typ, strconv.FormatInt(o.ID, 10))
}

// permKinds are the kinds of grantee, as ACL entries name them, with the
// words the page uses.
var permKinds = []field{{"user", "User"}, {"group", "Group"}, {"service_principal", "Service principal"}}

func kindLabel(kind string) string {
	for _, k := range permKinds {
		if k.Name == kind {
			return k.Value
		}
	}
	return kind
}

// permRow is one row of the page.
type permRow struct {
	Kind, KindLabel, Name, Level string
	// Source is a service.Source…; From and FromURL name and link the
	// folder an inherited grant is on.
	Source, From, FromURL string
	// Change is the row's own level select (direct grants, for managers);
	// Remove its confirmation.
	Change bool
	Remove *confirmation
}

// permData is the page. Grant… are what the Add form shows after a
// refusal: what was typed, and why.
type permData struct {
	Type, ID, Noun, Name string
	// Object is the object's own page; Back its label.
	Object, Back string
	Self         string
	Rows         []permRow
	Levels       []service.PermissionLevel
	Kinds        []field
	CanManage    bool
	WhoManages   string

	GrantKind, GrantName, GrantLevel, GrantError string
}

// objectNoun names each object type in words, and section is the part of
// the console it belongs to.
var objectNoun = map[string]string{
	kiln.ObjectTypeJobs: "job", kiln.ObjectTypeClusters: "cluster",
	"notebooks": "notebook", "directories": "folder", "files": "file",
}

// permTarget reads {type} and {id}: a type the page knows (any other is
// no page) and an id the service checks.
func permTarget(r *http.Request) (string, string, error) {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if !slices.Contains(service.PermissionObjectTypes, typ) || id == "" || len(id) > 128 {
		return "", "", errNoSuchPage
	}
	return typ, id, nil
}

// objectLink is the console page of the object and the words of the link.
func objectLink(v *service.ObjectPermissionsView) (string, string, string) {
	switch v.ObjectType {
	case kiln.ObjectTypeJobs:
		return "/jobs/" + url.PathEscape(v.ObjectID), "Back to the job", jobsSection
	case kiln.ObjectTypeClusters:
		return "/compute/" + url.PathEscape(v.ObjectID), "Back to the cluster", "Compute"
	}
	return workspaceURL(v.Path), "Back to the " + objectNoun[v.ObjectType], workspaceSection
}

func (c *Console) permissionsPage(w http.ResponseWriter, r *http.Request) error {
	return c.renderPermissions(w, r, &permData{}, http.StatusOK)
}

func (c *Console) renderPermissions(w http.ResponseWriter, r *http.Request, d *permData, status int) error {
	typ, id, err := permTarget(r)
	if err != nil {
		return err
	}
	v, err := c.svc.PermissionsView(r.Context(), typ, id)
	if err != nil {
		return permissionsError(typ, id, err)
	}
	var section string
	d.Type, d.ID, d.Noun, d.Name, d.Self = typ, id, objectNoun[typ], v.Name, permissionsPath(typ, id)
	d.Object, d.Back, section = objectLink(v)
	d.CanManage, d.Kinds, d.WhoManages = v.CanManage, permKinds, whoManages(typ)
	if d.Name == "" {
		d.Name = d.Noun + " " + id
	}
	for _, l := range v.Levels {
		if l.Level != kiln.LevelIsOwner { // held by the owner, never granted
			d.Levels = append(d.Levels, l)
		}
	}
	if d.GrantKind == "" {
		d.GrantKind = "user"
	}
	if d.GrantLevel == "" && len(d.Levels) > 0 {
		d.GrantLevel = d.Levels[0].Level
	}
	for _, p := range v.Rows {
		kind, name := p.Subject()
		row := permRow{Kind: kind, KindLabel: kindLabel(kind), Name: name, Level: p.Level, Source: p.Source, From: p.FromPath}
		if p.FromPath != "" {
			row.FromURL = workspaceURL(p.FromPath)
		}
		if p.Source == service.SourceDirect && d.CanManage {
			row.Change = true
			row.Remove = removeGrantConfirmation(d, kind, name)
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, r, status, "permissions", &page{Title: "Permissions of " + d.Name, Section: section, Data: d})
	return nil
}

// permissionsError puts a job the caller cannot see in the console's
// words (the API's is a 400 for Databricks' sake).
func permissionsError(typ, id string, err error) error {
	if typ == kiln.ObjectTypeJobs && kiln.IsCode(err, kiln.EInvalid) {
		return kiln.Errorf(kiln.ENotFound, "Job %.40s does not exist, or you do not have permission to see it.", id)
	}
	return err
}

// whoManages says in words who may change the permissions of an object
// of type typ, by the service's rules.
func whoManages(typ string) string {
	switch typ {
	case kiln.ObjectTypeJobs:
		return "Only the job's owner, workspace admins and those with CAN_MANAGE on it can change them."
	case kiln.ObjectTypeClusters:
		return "Only the cluster's creator, workspace admins and those with CAN_MANAGE on it can change them."
	}
	return "Only workspace admins, the user whose home folder holds it (anyone, in Shared) and those with CAN_MANAGE on it or on a folder above it can change them."
}

func removeGrantConfirmation(d *permData, kind, name string) *confirmation {
	return &confirmation{
		Label: "Remove", Name: "Remove " + name, Title: "Remove the grant of " + name + "?",
		Text:   "Remove the direct grant of " + name + " on the " + d.Noun + " " + d.Name + "? Levels held through groups or folders stay.",
		Action: d.Self + "/remove", Fields: []field{{"kind", kind}, {"name", name}}, Back: d.Self, Danger: true,
	}
}

// grantObjectPermission is Add (and a row's Change): the API's PATCH of one
// entry, which replaces that grantee's earlier grant on the object.
func (c *Console) grantObjectPermission(w http.ResponseWriter, r *http.Request) error {
	typ, id, err := permTarget(r)
	if err != nil {
		return err
	}
	kind := truncate(r.PostFormValue("kind"), 32)
	name := truncate(strings.TrimSpace(r.PostFormValue("name")), 256)
	level := truncate(strings.TrimSpace(r.PostFormValue("level")), 32)
	e, ok := kiln.NewACLEntry(kind, name, level)
	switch {
	case !ok:
		err = kiln.Errorf(kiln.EInvalid, "Choose whether to grant to a user, a group or a service principal.")
	case name == "":
		err = kiln.Errorf(kiln.EInvalid, "Enter the name of the %s to grant to.", strings.ToLower(kindLabel(kind)))
	case level == "":
		err = kiln.Errorf(kiln.EInvalid, "Choose a permission level.")
	default:
		err = c.setGrant(r, typ, id, e)
	}
	switch {
	case err == nil:
		c.redirectWith(w, r, permissionsPath(typ, id), "ok", name+" now has "+level+".")
		return nil
	case refusedInput(err):
		d := &permData{GrantKind: kind, GrantName: name, GrantLevel: level, GrantError: kiln.ErrorMessage(err)}
		return c.renderPermissions(w, r, d, api.ErrorStatus(w.Header(), err))
	}
	return permissionsError(typ, id, err)
}

// setGrant is the Permissions API's PATCH of the one entry e.
func (c *Console) setGrant(r *http.Request, typ, id string, e kiln.ACLEntry) error {
	ctx := r.Context()
	entries := []kiln.ACLEntry{e}
	switch typ {
	case kiln.ObjectTypeJobs:
		n, err := pathID(r, "id")
		if err != nil {
			return err
		}
		_, err = c.svc.SetJobPermissions(ctx, n, entries, false)
		return err
	case kiln.ObjectTypeClusters:
		_, err := c.svc.SetClusterPermissions(ctx, id, entries, false)
		return err
	}
	_, _, err := c.svc.SetWorkspaceObjectPermissions(ctx, typ, id, entries, false)
	return err
}

// removeTarget reads whose grant Remove names.
func removeTarget(r *http.Request) (string, string, error) {
	q := r.URL.Query()
	kind, name := q.Get("kind"), q.Get("name")
	if _, ok := kiln.NewACLEntry(kind, name, ""); !ok || name == "" {
		return "", "", kiln.Errorf(kiln.EInvalid, "Choose whose grant to remove from the Permissions page.")
	}
	return kind, name, nil
}

// grantTarget reads the object (path) and the grantee (query) of a
// Remove.
func grantTarget(r *http.Request) (typ, id, kind, name string, err error) {
	if typ, id, err = permTarget(r); err == nil {
		kind, name, err = removeTarget(r)
	}
	return typ, id, kind, name, err
}

func (c *Console) confirmRemoveGrant(w http.ResponseWriter, r *http.Request) error {
	typ, id, kind, name, err := grantTarget(r)
	if err != nil {
		return err
	}
	v, err := c.svc.PermissionsView(r.Context(), typ, id)
	if err != nil {
		return permissionsError(typ, id, err)
	}
	if !v.CanManage {
		// Nobody is asked to confirm what would be refused.
		return kiln.Errorf(kiln.EPermission, "You cannot change the permissions of this %s. %s", objectNoun[typ], whoManages(typ))
	}
	d := &permData{Type: typ, ID: id, Noun: objectNoun[typ], Name: v.Name, Self: permissionsPath(typ, id)}
	_, _, section := objectLink(v)
	c.showConfirmation(w, r, section, "", *removeGrantConfirmation(d, kind, name))
	return nil
}

func (c *Console) removeGrant(w http.ResponseWriter, r *http.Request) error {
	typ, id, kind, name, err := grantTarget(r)
	if err != nil {
		return err
	}
	if err := c.svc.RevokePermission(r.Context(), typ, id, kind, name); err != nil {
		return err
	}
	c.redirectWith(w, r, permissionsPath(typ, id), "ok", "The grant of "+name+" was removed.")
	return nil
}
