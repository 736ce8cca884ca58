package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/service"
)

// principalRow is one user or service principal with the actions on it.
type principalRow struct {
	*kiln.Principal
	Admin bool
	// Self marks the signed-in admin's own row.
	Self bool
	// Actions are direct (Confirm == false) or confirmed changes.
	Actions []principalAction
}

type principalAction struct {
	C       confirmation
	Confirm bool
}

type usersData struct {
	Users []principalRow
	Pager *pager
	Form  addUserForm
	// Created is set only in the response to Add user when kiln generated
	// the password: the one time it is shown.
	Created *createdUser
}

type addUserForm struct {
	Email       string
	DisplayName string
	Admin       bool
	Error       string
}

type createdUser struct {
	Email    string
	Password string
	// Reset is true when the password was reset, not set at creation.
	Reset bool
}

type spData struct {
	SPs   []principalRow
	Pager *pager
	Name  string
	Error string
}

// principalPath is where a principal's pages live.
func principalPath(kind kiln.PrincipalKind, id int64) string {
	base := "/admin/users/"
	if kind == kiln.KindServicePrincipal {
		base = "/admin/service-principals/"
	}
	return base + strconv.FormatInt(id, 10)
}

func listPath(kind kiln.PrincipalKind) string {
	if kind == kiln.KindServicePrincipal {
		return "/admin/service-principals"
	}
	return "/admin/users"
}

func principalName(p *kiln.Principal) string {
	if p.Kind == kiln.KindServicePrincipal && p.DisplayName != "" {
		return p.DisplayName
	}
	return p.UserName
}

// principalChange describes one change to a principal: its confirmation
// (also used for direct buttons: then only Label and Action matter), the
// update to apply and the message after it.
func principalChange(p *kiln.Principal, change string, adminsGroup int64) (principalAction, service.PrincipalChange, string, bool) {
	base := principalPath(p.Kind, p.ID)
	back := listPath(p.Kind)
	name := principalName(p)
	a := principalAction{C: confirmation{Action: base + "/" + change, Back: back}}
	cf := &a.C
	var ch service.PrincipalChange
	var done string
	switch change {
	case "make-admin":
		if p.Kind != kiln.KindUser {
			return a, ch, "", false
		}
		cf.Label, cf.Title = "Make admin", "Make "+name+" an admin?"
		cf.Text = name + " will be able to change every workspace setting, manage users and revoke any token."
		ch.JoinGroups = []int64{adminsGroup}
		done = name + " is now an admin."
	case "remove-admin":
		if p.Kind != kiln.KindUser {
			return a, ch, "", false
		}
		cf.Label, cf.Title, a.Confirm, cf.Danger = "Remove admin", "Remove admin rights from "+name+"?", true, true
		cf.Text = name + " will no longer be able to open Admin Console. Their tokens keep working if they may use tokens."
		ch.LeaveGroups = []int64{adminsGroup}
		done = name + " is no longer an admin."
	case "deactivate":
		cf.Label, cf.Title, a.Confirm, cf.Danger = "Deactivate", "Deactivate "+name+"?", true, true
		cf.Text = name + " can no longer sign in, and every token they own stops working at once. You can activate them again later."
		f := false
		ch.Update.Active = &f
		done = name + " is deactivated."
	case "activate":
		cf.Label, cf.Title = "Activate", "Activate "+name+"?"
		cf.Text = name + " can sign in again, and their tokens that have not expired work again."
		t := true
		ch.Update.Active = &t
		done = name + " is active again."
	default:
		return a, ch, "", false
	}
	return a, ch, done, true
}

// rowActions lists the buttons of a principal's row.
func rowActions(p *kiln.Principal, admin bool) []principalAction {
	var changes []string
	if p.Kind == kiln.KindUser {
		if admin {
			changes = append(changes, "remove-admin")
		} else if p.Active {
			changes = append(changes, "make-admin")
		}
	}
	if p.Active {
		changes = append(changes, "deactivate")
	} else {
		changes = append(changes, "activate")
	}
	var out []principalAction
	for _, ch := range changes {
		a, _, _, _ := principalChange(p, ch, 0)
		out = append(out, a)
	}
	return out
}

func (c *Console) adminsGroupID(r *http.Request) (int64, error) {
	gs, _, err := c.svc.ListGroups(r.Context(), kiln.GroupFilter{DisplayName: kiln.GroupAdmins})
	if err != nil {
		return 0, err
	}
	if len(gs) == 0 {
		return 0, kiln.Internal(errString("the admins group is missing"))
	}
	return gs[0].ID, nil
}

// errString is an error that is just its message.
type errString string

// Error returns the message.
func (e errString) Error() string { return string(e) }

// principalRows lists the page of users or service principals the query
// asks for (paging.go), through the store's limit and offset, the path
// SCIM's startIndex and count take too.
func (c *Console) principalRows(r *http.Request, kind kiln.PrincipalKind) ([]principalRow, *pager, error) {
	pr := readPage(r.URL.Query())
	f := kiln.PrincipalFilter{Kind: kind, Offset: pr.Offset(), Limit: pr.Size}
	ps, total, err := c.svc.ListPrincipals(r.Context(), f)
	if err != nil {
		return nil, nil, err
	}
	if pr.clamp(total) {
		// Past the end: the last page.
		f.Offset = pr.Offset()
		if ps, total, err = c.svc.ListPrincipals(r.Context(), f); err != nil {
			return nil, nil, err
		}
	}
	me := currentUser(r)
	rows := make([]principalRow, 0, len(ps))
	for _, p := range ps {
		admin := p.InGroup(kiln.GroupAdmins)
		rows = append(rows, principalRow{Principal: p, Admin: admin, Self: p.ID == me.ID, Actions: rowActions(p, admin)})
	}
	what := "users"
	if kind == kiln.KindServicePrincipal {
		what = "service principals"
	}
	return rows, newPager(what, listPath(kind), nil, pr, total, len(rows)), nil
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, status int, d *usersData) error {
	rows, pg, err := c.principalRows(r, kiln.KindUser)
	if err != nil {
		return err
	}
	d.Users, d.Pager = rows, pg
	c.render(w, r, status, "users", &page{Title: "Users", Section: adminSection, Tab: "/admin/users", Data: d})
	return nil
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request) error {
	return c.renderUsers(w, r, http.StatusOK, &usersData{})
}

// addUser creates a user with the password the admin typed or, when the
// field is left empty, a generated one shown once in this response.
func (c *Console) addUser(w http.ResponseWriter, r *http.Request) error {
	f := addUserForm{
		Email:       strings.TrimSpace(r.PostFormValue("email")),
		DisplayName: strings.TrimSpace(r.PostFormValue("display_name")),
		Admin:       r.PostFormValue("admin") != "",
	}
	password := r.PostFormValue("password")
	generated := password == ""
	if generated {
		password = auth.NewPassword()
	}
	switch {
	case f.Email == "":
		f.Error = "Enter the new user's email address."
	case !generated && auth.CheckPasswordPolicy(password) != nil:
		f.Error = "Password: " + auth.CheckPasswordPolicy(password).Error() + ". Or leave it empty to generate one."
	}
	if f.Error == "" {
		p, err := c.svc.CreatePrincipal(r.Context(), service.NewPrincipal{
			Kind: kiln.KindUser, UserName: f.Email, DisplayName: f.DisplayName, Password: password, Admin: f.Admin,
		})
		switch {
		case err == nil && generated:
			return c.renderUsers(w, r, http.StatusOK, &usersData{Created: &createdUser{Email: p.UserName, Password: password}})
		case err == nil:
			c.redirectWith(w, r, "/admin/users", "ok", "User "+p.UserName+" was added. They can sign in with the password you set.")
			return nil
		case kiln.IsCode(err, kiln.EConflict):
			f.Error = "A user or service principal named " + f.Email + " already exists."
		case kiln.IsCode(err, kiln.EInvalid):
			f.Error = kiln.ErrorMessage(err)
		default:
			return err
		}
	}
	f.Email, f.DisplayName = truncate(f.Email, 256), truncate(f.DisplayName, 256)
	return c.renderUsers(w, r, http.StatusBadRequest, &usersData{Form: f})
}

// principalFromPath reads the principal named by the {id} of the path.
func (c *Console) principalFromPath(r *http.Request, kind kiln.PrincipalKind) (*kiln.Principal, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, kiln.Errorf(kiln.ENotFound, "There is no such %s.", kindNoun(kind))
	}
	return c.svc.GetPrincipal(r.Context(), kind, id)
}

func kindNoun(kind kiln.PrincipalKind) string {
	if kind == kiln.KindServicePrincipal {
		return "service principal"
	}
	return "user"
}

func (c *Console) confirmPrincipalChange(kind kiln.PrincipalKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := c.principalFromPath(r, kind)
		if err != nil {
			return err
		}
		a, _, _, ok := principalChange(p, r.PathValue("change"), 0)
		if !ok {
			return errNoSuchPage
		}
		c.showConfirmation(w, r, adminSection, listPath(kind), a.C)
		return nil
	}
}

func (c *Console) changePrincipal(kind kiln.PrincipalKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := c.principalFromPath(r, kind)
		if err != nil {
			return err
		}
		admins, err := c.adminsGroupID(r)
		if err != nil {
			return err
		}
		_, ch, done, ok := principalChange(p, r.PathValue("change"), admins)
		if !ok {
			return errNoSuchPage
		}
		if _, err := c.svc.UpdatePrincipal(r.Context(), kind, p.ID, ch); err != nil {
			if kiln.IsCode(err, kiln.EInvalid) {
				c.redirectWith(w, r, listPath(kind), "error", kiln.ErrorMessage(err))
				return nil
			}
			return err
		}
		c.redirectWith(w, r, listPath(kind), "ok", done)
		return nil
	}
}

type userPasswordData struct {
	User  *kiln.Principal
	Error string
}

// userPasswordPage lets an admin set or reset a user's password.
func (c *Console) userPasswordPage(w http.ResponseWriter, r *http.Request) error {
	p, err := c.principalFromPath(r, kiln.KindUser)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "user_password", &page{Title: "Set password", Section: adminSection, Tab: "/admin/users", Data: userPasswordData{User: p}})
	return nil
}

func (c *Console) setUserPassword(w http.ResponseWriter, r *http.Request) error {
	p, err := c.principalFromPath(r, kiln.KindUser)
	if err != nil {
		return err
	}
	password := r.PostFormValue("password")
	generated := password == ""
	if generated {
		password = auth.NewPassword()
	} else if err := auth.CheckPasswordPolicy(password); err != nil {
		c.render(w, r, http.StatusBadRequest, "user_password", &page{Title: "Set password", Section: adminSection, Tab: "/admin/users",
			Data: userPasswordData{User: p, Error: "Password: " + err.Error() + ". Or leave it empty to generate one."}})
		return nil
	}
	if err := c.svc.SetPassword(r.Context(), p.ID, password); err != nil {
		return err
	}
	if currentUser(r).ID == p.ID {
		// Keep the admin who reset their own password signed in here.
		now := c.now()
		c.setSession(w, r, session{UserID: p.ID, Issued: now, Active: now})
	}
	if generated {
		return c.renderUsers(w, r, http.StatusOK, &usersData{Created: &createdUser{Email: p.UserName, Password: password, Reset: true}})
	}
	c.redirectWith(w, r, "/admin/users", "ok", "The password of "+p.UserName+" was changed, and their sessions were signed out.")
	return nil
}

func (c *Console) renderSPs(w http.ResponseWriter, r *http.Request, status int, d *spData) error {
	rows, pg, err := c.principalRows(r, kiln.KindServicePrincipal)
	if err != nil {
		return err
	}
	d.SPs, d.Pager = rows, pg
	c.render(w, r, status, "service_principals", &page{Title: "Service Principals", Section: adminSection, Tab: "/admin/service-principals", Data: d})
	return nil
}

func (c *Console) servicePrincipalsPage(w http.ResponseWriter, r *http.Request) error {
	return c.renderSPs(w, r, http.StatusOK, &spData{})
}

// addServicePrincipal creates a service principal; kiln assigns its
// application id.
func (c *Console) addServicePrincipal(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimSpace(r.PostFormValue("display_name"))
	d := &spData{Name: truncate(name, 256)}
	if name == "" {
		d.Error = "Enter a display name for the service principal, such as the name of the job that will use it."
		return c.renderSPs(w, r, http.StatusBadRequest, d)
	}
	p, err := c.svc.CreatePrincipal(r.Context(), service.NewPrincipal{Kind: kiln.KindServicePrincipal, DisplayName: name})
	if kiln.IsCode(err, kiln.EInvalid) || kiln.IsCode(err, kiln.EConflict) {
		d.Error = kiln.ErrorMessage(err)
		return c.renderSPs(w, r, http.StatusBadRequest, d)
	}
	if err != nil {
		return err
	}
	c.redirectWith(w, r, "/admin/service-principals", "ok", "Service principal "+name+" was added with application ID "+p.UserName+".")
	return nil
}
