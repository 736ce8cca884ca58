package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

const adminSection = "Admin Console"

// accessControlData is the Access Control tab: the PAT switch, lifetimes
// and who may use tokens.
type accessControlData struct {
	Policy service.TokenPolicy
	Switch confirmation

	MaxDays        string
	DefaultDays    string
	InactivityDays string
	LifetimeError  string
	LimitDays      int

	ACL        []aclRow
	GrantKind  string
	GrantName  string
	GrantError string
	Users      []*kiln.Principal
	SPs        []*kiln.Principal
	Groups     []*kiln.Group

	// How this server confines job tasks.
	Sandbox      string
	SandboxOff   bool
	SandboxError string
}

type aclRow struct {
	Kind string // "User", "Group", "Service principal"
	Name string
	// Display is a service principal's display name, shown next to its
	// application id.
	Display string
	Level   string
	Remove  *confirmation // nil for the admins group, which cannot lose CAN_MANAGE
}

var kindLabels = map[string]string{"user": "User", "group": "Group", "service_principal": "Service principal"}

func tokensSwitch(enabled bool) confirmation {
	if enabled {
		return confirmation{
			Label: "Disable", Title: "Disable personal access tokens?", Danger: true,
			Action: "/admin/access-control/tokens/disable", Back: "/admin/access-control",
			Text: "Every existing token stops working at once and nobody can generate new ones, until tokens are enabled again. Tokens are not revoked.",
		}
	}
	return confirmation{
		Label: "Enable", Title: "Enable personal access tokens?",
		Action: "/admin/access-control/tokens/enable", Back: "/admin/access-control",
		Text: "Users, groups and service principals with the CAN_USE permission can then generate personal access tokens and use them with the REST API.",
	}
}

func (c *Console) accessControlData(r *http.Request) (*accessControlData, error) {
	ctx := r.Context()
	policy, err := c.svc.TokenPolicy(ctx)
	if err != nil {
		return nil, err
	}
	conf, err := c.svc.GetConf(ctx, []string{kiln.ConfMaxTokenLifetimeDays, kiln.ConfDefaultTokenLifetimeDays, kiln.ConfTokenInactivityDays})
	if err != nil {
		return nil, err
	}
	d := &accessControlData{
		Policy: policy, Switch: tokensSwitch(policy.Enabled), LimitDays: service.MaxLifetimeDaysLimit,
		MaxDays: strconv.Itoa(policy.MaxLifetimeDays), DefaultDays: conf[kiln.ConfDefaultTokenLifetimeDays],
		InactivityDays: conf[kiln.ConfTokenInactivityDays],
		GrantKind:      "group",
	}
	if strings.TrimSpace(d.DefaultDays) == "" {
		d.DefaultDays = kiln.ConfDefaults[kiln.ConfDefaultTokenLifetimeDays]
	}
	if d.Users, _, err = c.svc.ListPrincipals(ctx, kiln.PrincipalFilter{Kind: kiln.KindUser}); err != nil {
		return nil, err
	}
	if d.SPs, _, err = c.svc.ListPrincipals(ctx, kiln.PrincipalFilter{Kind: kiln.KindServicePrincipal}); err != nil {
		return nil, err
	}
	if d.Groups, _, err = c.svc.ListGroups(ctx, kiln.GroupFilter{}); err != nil {
		return nil, err
	}
	spNames := map[string]string{}
	for _, sp := range d.SPs {
		spNames[strings.ToLower(sp.UserName)] = sp.DisplayName
	}
	acl, err := c.svc.TokenPermissions(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range acl {
		kind, name := e.Subject()
		row := aclRow{Kind: kindLabels[kind], Name: name, Level: e.Level}
		if kind == "service_principal" {
			row.Display = spNames[strings.ToLower(name)]
		}
		if !(kind == "group" && name == kiln.GroupAdmins) {
			row.Remove = &confirmation{
				Label: "Remove", Title: "Remove permission?", Danger: true,
				Action: "/admin/access-control/permissions/remove", Back: "/admin/access-control",
				Fields: []field{{"kind", kind}, {"name", name}},
				Text:   fmt.Sprintf("Remove %s from the principals who can use tokens? Unless another grant covers them, their tokens stop working at once.", strings.ToLower(kindLabels[kind])+" "+name),
			}
		}
		d.ACL = append(d.ACL, row)
	}
	if compute, err := c.svc.LocalCluster(ctx); err == nil {
		d.Sandbox, d.SandboxOff = compute.Sandbox, compute.SandboxOff
		if compute.SandboxError != nil {
			d.SandboxError = compute.SandboxError.Error()
		}
	}
	return d, nil
}

func (c *Console) renderAccessControl(w http.ResponseWriter, r *http.Request, status int, d *accessControlData) {
	c.render(w, r, status, "access_control", &page{Title: "Access Control", Section: adminSection, Tab: "/admin/access-control", Data: d})
}

func (c *Console) accessControlPage(w http.ResponseWriter, r *http.Request) error {
	d, err := c.accessControlData(r)
	if err != nil {
		return err
	}
	c.renderAccessControl(w, r, http.StatusOK, d)
	return nil
}

func (c *Console) confirmTokensSwitch(w http.ResponseWriter, r *http.Request) error {
	switch r.PathValue("change") {
	case "enable":
		c.showConfirmation(w, r, adminSection, "/admin/access-control", tokensSwitch(false))
	case "disable":
		c.showConfirmation(w, r, adminSection, "/admin/access-control", tokensSwitch(true))
	default:
		return errNoSuchPage
	}
	return nil
}

// switchTokens turns personal access tokens on or off for the workspace.
func (c *Console) switchTokens(w http.ResponseWriter, r *http.Request) error {
	var value, msg string
	switch r.PathValue("change") {
	case "enable":
		value, msg = "true", "Personal access tokens are enabled."
	case "disable":
		value, msg = "false", "Personal access tokens are disabled. Existing tokens stop working until they are enabled again."
	default:
		return errNoSuchPage
	}
	if err := c.svc.SetConf(r.Context(), map[string]string{kiln.ConfEnableTokens: value}); err != nil {
		return err
	}
	c.redirectWith(w, r, "/admin/access-control", "ok", msg)
	return nil
}

// setLifetime sets the maximum and default lifetime of new tokens.
// policyPreview is the page that lists the tokens a lifetime or
// inactivity change would end, before Confirm.
type policyPreview struct {
	Ends []service.TokenEnd
	// Fields repost the form with confirmed=1.
	Fields []field
}

// setLifetime saves the token lifetimes and the inactivity limit. A
// change that would end tokens is first shown as a preview listing them
// (the same computation the change then applies), and saved only on
// Confirm.
func (c *Console) setLifetime(w http.ResponseWriter, r *http.Request) error {
	maxS := strings.TrimSpace(r.PostFormValue("max_days"))
	defS := strings.TrimSpace(r.PostFormValue("default_days"))
	idleS := strings.TrimSpace(r.PostFormValue("inactivity_days"))
	limit := service.MaxLifetimeDaysLimit
	maxN, errMax := strconv.Atoi(maxS)
	defN, errDef := strconv.Atoi(defS)
	idleN, errIdle := 0, error(nil)
	if idleS != "" { // absent: unchanged
		idleN, errIdle = strconv.Atoi(idleS)
	}
	var problem string
	switch {
	case errMax != nil || maxN < 0 || maxN > limit:
		problem = fmt.Sprintf("Maximum lifetime (days) must be a whole number from 1 to %d, or 0 for no maximum.", limit)
	case errDef != nil || defN < 1 || defN > limit:
		problem = fmt.Sprintf("Default lifetime (days) must be a whole number from 1 to %d.", limit)
	case maxN > 0 && defN > maxN:
		problem = "Default lifetime (days) cannot be longer than the maximum lifetime."
	case errIdle != nil || idleN < 0 || idleN > 3650:
		problem = "Revoke unused tokens after (days) must be a whole number from 1 to 3650, or 0 to never revoke them."
	}
	if problem == "" {
		kv := map[string]string{
			kiln.ConfMaxTokenLifetimeDays: strconv.Itoa(maxN), kiln.ConfDefaultTokenLifetimeDays: strconv.Itoa(defN),
		}
		if idleS != "" {
			kv[kiln.ConfTokenInactivityDays] = strconv.Itoa(idleN)
		}
		err := c.applyPolicy(w, r, kv)
		if err == nil || !kiln.IsCode(err, kiln.EInvalid) {
			return err
		}
		problem = kiln.ErrorMessage(err)
	}
	d, err := c.accessControlData(r)
	if err != nil {
		return err
	}
	d.MaxDays, d.DefaultDays, d.InactivityDays, d.LifetimeError = truncate(maxS, 32), truncate(defS, 32), truncate(idleS, 32), problem
	c.renderAccessControl(w, r, http.StatusBadRequest, d)
	return nil
}

// applyPolicy saves kv, unless it ends tokens and the admin has not yet
// confirmed: then it shows the preview of those tokens, whose Confirm
// posts the same values again with confirmed=1.
func (c *Console) applyPolicy(w http.ResponseWriter, r *http.Request, kv map[string]string) error {
	if r.PostFormValue("confirmed") != "1" {
		ends, err := c.svc.PreviewPolicy(r.Context(), kv)
		if err != nil {
			return err
		}
		if len(ends) > 0 {
			fields := []field{{"confirmed", "1"}}
			for _, k := range []struct{ form, conf string }{
				{"max_days", kiln.ConfMaxTokenLifetimeDays}, {"default_days", kiln.ConfDefaultTokenLifetimeDays}, {"inactivity_days", kiln.ConfTokenInactivityDays},
			} {
				if v, ok := kv[k.conf]; ok {
					fields = append(fields, field{k.form, v})
				}
			}
			c.render(w, r, http.StatusOK, "policy_preview", &page{Title: "Confirm token policy", Section: adminSection, Tab: "/admin/access-control",
				Data: policyPreview{Ends: ends, Fields: fields}})
			return nil
		}
	}
	if err := c.svc.SetConf(r.Context(), kv); err != nil {
		return err
	}
	c.redirectWith(w, r, "/admin/access-control", "ok", "Token lifetimes saved.")
	return nil
}

// grantPermission gives CAN_USE to a user, group or service principal.
func (c *Console) grantPermission(w http.ResponseWriter, r *http.Request) error {
	kind := r.PostFormValue("kind")
	name := strings.TrimSpace(r.PostFormValue("name"))
	problem := ""
	e, ok := kiln.NewACLEntry(kind, name, kiln.LevelCanUse)
	switch {
	case !ok:
		problem = "Choose whether the permission is for a user, a group or a service principal."
	case name == "":
		problem = "Enter the name of the " + strings.ToLower(kindLabels[kind]) + " to give CAN_USE."
	case len(name) > 256:
		problem = "That name is too long."
	}
	if problem == "" {
		_, err := c.svc.SetTokenPermissions(r.Context(), []kiln.ACLEntry{e}, false)
		if err == nil {
			c.redirectWith(w, r, "/admin/access-control", "ok", fmt.Sprintf("%s %s can now use personal access tokens.", kindLabels[kind], name))
			return nil
		}
		if !kiln.IsCode(err, kiln.EInvalid) {
			return err
		}
		problem = kiln.ErrorMessage(err)
	}
	d, err := c.accessControlData(r)
	if err != nil {
		return err
	}
	if ok {
		d.GrantKind = kind
	}
	d.GrantName, d.GrantError = truncate(name, 256), problem
	c.renderAccessControl(w, r, http.StatusBadRequest, d)
	return nil
}

func (c *Console) confirmRemovePermission(w http.ResponseWriter, r *http.Request) error {
	d, err := c.accessControlData(r)
	if err != nil {
		return err
	}
	kind, name := r.FormValue("kind"), r.FormValue("name")
	for _, row := range d.ACL {
		if row.Remove != nil && row.Kind == kindLabels[kind] && row.Name == name {
			c.showConfirmation(w, r, adminSection, "/admin/access-control", *row.Remove)
			return nil
		}
	}
	return kiln.Errorf(kiln.ENotFound, "There is no such permission.")
}

// removePermission takes a grant away by writing the list without it.
func (c *Console) removePermission(w http.ResponseWriter, r *http.Request) error {
	kind, name := r.FormValue("kind"), r.FormValue("name")
	acl, err := c.svc.TokenPermissions(r.Context())
	if err != nil {
		return err
	}
	var keep []kiln.ACLEntry
	found := false
	for _, e := range acl {
		k, n := e.Subject()
		if k == kind && n == name && !(k == "group" && n == kiln.GroupAdmins) {
			found = true
			continue
		}
		keep = append(keep, e)
	}
	if !found {
		c.redirectWith(w, r, "/admin/access-control", "error", "That permission was already removed.")
		return nil
	}
	if _, err := c.svc.SetTokenPermissions(r.Context(), keep, true); err != nil {
		return err
	}
	c.redirectWith(w, r, "/admin/access-control", "ok", fmt.Sprintf("%s %s no longer has CAN_USE.", kindLabels[kind], name))
	return nil
}
