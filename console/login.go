package console

import (
	"net/http"
	"strings"

	"github.com/kiln-dev/kiln"
)

type loginData struct {
	Email string
	Next  string
	// Error is shown above the form; Notice is a neutral note (session
	// ended, signed out).
	Error  string
	Notice string
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
	c.render(w, r, http.StatusOK, "login", &page{Title: "Sign in", Data: d})
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
		c.render(w, r, http.StatusBadRequest, "login", &page{Title: "Sign in", Data: d})
		return nil
	}
	addr := c.clientAddr(r)
	if c.guard.blocked(addr, email) {
		d.Error = "Too many failed sign-in attempts. Wait a minute, then try again."
		w.Header().Set("Retry-After", "60")
		c.render(w, r, http.StatusTooManyRequests, "login", &page{Title: "Sign in", Data: d})
		return nil
	}
	p, err := c.svc.Login(r.Context(), email, password, addr)
	if kiln.IsCode(err, kiln.EInvalid) {
		c.guard.failed(addr, email)
		d.Error = "Incorrect email or password."
		c.render(w, r, http.StatusUnauthorized, "login", &page{Title: "Sign in", Data: d})
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
