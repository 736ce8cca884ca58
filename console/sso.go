package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/sso"
)

// Single sign-on through the company's OpenID Connect provider: GET
// /login/sso starts an attempt and sends the browser to the provider;
// the provider sends it back to GET /login/sso/callback, which finishes
// it (package sso checks the protocol, the service decides who the person
// is in kiln).

// SSOCallbackPath is the callback to register with the identity provider,
// under the public base URL.
const SSOCallbackPath = "/login/sso/callback"

// ssoCookie carries the attempt from the redirect to the callback. Its
// path keeps it off every other request.
const (
	ssoCookie     = "kiln_sso"
	ssoCookiePath = "/login/sso"
	// ssoAttemptTTL bounds how long a person may spend at the provider.
	ssoAttemptTTL = 10 * time.Minute
)

// ssoAttempt is what the cookie holds: the attempt, where to go after,
// and when it lapses.
type ssoAttempt struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Redirect string `json:"r"`
	Next     string `json:"x,omitempty"`
	Expires  int64  `json:"e"`
}

func (c *Console) encodeAttempt(a ssoAttempt) string {
	b, _ := json.Marshal(a)
	return c.sealer.seal("sso", base64.RawURLEncoding.EncodeToString(b))
}

// decodeAttempt returns the sealed attempt if its MAC is valid, it parses
// and it has not lapsed at now.
func (c *Console) decodeAttempt(value string, now time.Time) (ssoAttempt, bool) {
	payload, ok := c.sealer.open("sso", value)
	if !ok {
		return ssoAttempt{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ssoAttempt{}, false
	}
	var a ssoAttempt
	if err := json.Unmarshal(b, &a); err != nil || a.State == "" || a.Verifier == "" || now.Unix() > a.Expires {
		return ssoAttempt{}, false
	}
	a.Next = localPath(a.Next)
	return a, true
}

func (c *Console) setAttemptCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: ssoCookie, Value: value, Path: ssoCookiePath, MaxAge: maxAge,
		// Lax: the provider's redirect back is a top-level GET
		// navigation from its site, which Lax cookies go with.
		HttpOnly: true, Secure: c.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

// ssoStart begins a sign-in at the identity provider.
func (c *Console) ssoStart(w http.ResponseWriter, r *http.Request) error {
	if c.sso == nil {
		return c.notFound(w, r)
	}
	next := localPath(r.URL.Query().Get("next"))
	if _, state := c.sessionUser(w, r); state == sessionValid {
		http.Redirect(w, r, orDefault(next), http.StatusSeeOther)
		return nil
	}
	// The attempt cookie must be set on the host the provider sends the
	// browser back to; a visitor who came by another name (localhost for
	// 127.0.0.1) is first sent to the public one, once: behind a proxy
	// that rewrites Host the name never matches, and a second hop would
	// loop.
	if !strings.EqualFold(r.Host, c.base.Host) && r.URL.Query().Get("moved") == "" {
		http.Redirect(w, r, c.base.JoinPath(ssoCookiePath).String()+"?"+url.Values{"next": {next}, "moved": {"1"}}.Encode(), http.StatusSeeOther)
		return nil
	}
	a := sso.NewAttempt(c.base.JoinPath(SSOCallbackPath).String())
	to, err := c.sso.AuthURL(r.Context(), a)
	if err != nil {
		c.log.Warn("single sign-on: discovery failed", "issuer", c.sso.Issuer(), "err", err)
		c.renderLogin(w, r, http.StatusBadGateway, loginData{Next: next,
			Error: "The identity provider could not be reached. Try again in a moment."})
		return nil
	}
	c.setAttemptCookie(w, r, c.encodeAttempt(ssoAttempt{
		State: a.State, Nonce: a.Nonce, Verifier: a.Verifier, Redirect: a.RedirectURL, Next: next,
		Expires: c.now().Add(ssoAttemptTTL).Unix(),
	}), int(ssoAttemptTTL.Seconds()))
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// ssoCallback finishes a sign-in the provider sent back.
func (c *Console) ssoCallback(w http.ResponseWriter, r *http.Request) error {
	if c.sso == nil {
		return c.notFound(w, r)
	}
	q := r.URL.Query()
	var a ssoAttempt
	ok := false
	if ck, err := r.Cookie(ssoCookie); err == nil {
		a, ok = c.decodeAttempt(ck.Value, c.now())
	}
	// One attempt, one callback: a replayed callback URL finds no cookie.
	c.setAttemptCookie(w, r, "", -1)
	if e := q.Get("error"); e != "" {
		msg := "The identity provider did not sign you in (" + truncate(e, 64) + ")"
		if d := q.Get("error_description"); d != "" {
			msg += ": " + truncate(d, 200)
		}
		c.renderLogin(w, r, http.StatusForbidden, loginData{Next: a.Next, Error: msg + "."})
		return nil
	}
	if !ok {
		c.renderLogin(w, r, http.StatusBadRequest, loginData{
			Error: "That sign-in took too long, or did not start in this browser. Try again."})
		return nil
	}
	id, err := c.sso.Finish(r.Context(), sso.Attempt{State: a.State, Nonce: a.Nonce, Verifier: a.Verifier, RedirectURL: a.Redirect},
		q.Get("state"), q.Get("code"))
	var serr *sso.Error
	if errors.As(err, &serr) {
		c.log.Warn("single sign-on failed", "issuer", c.sso.Issuer(), "err", err)
		c.renderLogin(w, r, http.StatusForbidden, loginData{Next: a.Next, Error: "Single sign-on failed: " + serr.Reason + "."})
		return nil
	} else if err != nil {
		return err
	}
	p, err := c.svc.LoginExternal(r.Context(), id, c.ssoPolicy, c.clientAddr(r))
	if kiln.IsCode(err, kiln.EPermission) {
		c.renderLogin(w, r, http.StatusForbidden, loginData{Next: a.Next, Error: kiln.ErrorMessage(err)})
		return nil
	} else if err != nil {
		return err
	}
	now := c.now()
	c.setSession(w, r, session{UserID: p.ID, Issued: now, Active: now})
	http.Redirect(w, r, orDefault(a.Next), http.StatusSeeOther)
	return nil
}
