package console

import (
	"net/http"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

type loginData struct {
	Email string
	Next  string
	// Error is shown above the form; Notice is a neutral note (session
	// ended, signed out).
	Error  string
	Notice string
	// SSOLabel, when set, offers single sign-on ("Sign in with …");
	// Password shows the password form, AdminsOnly labels it as the
	// admins' break-glass way in.
	SSOLabel   string
	Password   bool
	AdminsOnly bool
}

// renderLogin renders the sign-in page with d, filling in what the
// configuration offers.
func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	if c.sso != nil {
		d.SSOLabel = c.ssoLabel
	}
	d.Password = c.passwordLogin != service.PasswordLoginNone
	d.AdminsOnly = c.passwordLogin == service.PasswordLoginAdmins
	c.render(w, r, status, "login", &page{Title: "Sign in", Data: d})
}

// loginPage shows the sign-in form, or sends a signed-in user on.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) error {
	next := localPath(r.URL.Query().Get("next"))
	if _, state := c.sessionUser(w, r); state == sessionValid {
		http.Redirect(w, r, orDefault(next), http.StatusSeeOther)
		return nil
	}
	d := loginData{Next: next}
	if r.URL.Query().Get("ended") != "" {
		d.Notice = "Your session has expired. Sign in again to continue."
	}
	c.renderLogin(w, r, http.StatusOK, d)
	return nil
}

func orDefault(next string) string {
	if next == "" {
		return "/settings"
	}
	return next
}

// login checks the email and password. Every failure reads the same
// ("Incorrect email or password."), whether the email exists or not, and
// repeated failures are throttled per address and per email.
func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	d := loginData{Email: email, Next: localPath(r.PostFormValue("next"))}
	if len(d.Email) > 256 {
		d.Email = ""
	}
	if email == "" || password == "" {
		d.Error = "Enter your email and password."
		c.renderLogin(w, r, http.StatusBadRequest, d)
		return nil
	}
	addr := c.clientAddr(r)
	if c.guard.blocked(addr, email) {
		d.Error = "Too many failed sign-in attempts. Wait a minute, then try again."
		w.Header().Set("Retry-After", "60")
		c.renderLogin(w, r, http.StatusTooManyRequests, d)
		return nil
	}
	p, err := c.svc.Login(r.Context(), email, password, addr, c.passwordLogin)
	if kiln.IsCode(err, kiln.EInvalid) {
		c.guard.failed(addr, email)
		d.Error = "Incorrect email or password."
		c.renderLogin(w, r, http.StatusUnauthorized, d)
		return nil
	}
	if kiln.IsCode(err, kiln.EPermission) {
		d.Error = kiln.ErrorMessage(err)
		if c.sso != nil {
			d.Error += " Sign in with " + c.ssoLabel + "."
		}
		c.renderLogin(w, r, http.StatusForbidden, d)
		return nil
	}
	if err != nil {
		return err
	}
	now := c.now()
	c.setSession(w, r, session{UserID: p.ID, Issued: now, Active: now})
	http.Redirect(w, r, orDefault(d.Next), http.StatusSeeOther)
	return nil
}

// logout clears the session cookie. It is a POST (behind cross-origin
// protection), so another site cannot sign a user out with a link or an
// image.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	c.clearSession(w, r)
	c.redirectWith(w, r, "/login", "ok", "You have signed out.")
	return nil
}
