package console

import (
	"net/http"
	"net/url"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// consentData is the OAuth consent page: which client asks for what, and
// where the answer goes.
type consentData struct {
	Req      service.AuthorizeRequest
	State    string
	Scopes   string
	Redirect string // the redirect URI's host, for the user to check
}

func authorizeRequestOf(v url.Values) service.AuthorizeRequest {
	return service.AuthorizeRequest{ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), Scope: v.Get("scope"),
		CodeChallenge: v.Get("code_challenge"), CodeChallengeMethod: v.Get("code_challenge_method")}
}

// authorizePage is GET /oidc/v1/authorize for a signed-in user (sign-in
// comes first, through requireUser): a request that fails validation is
// an error page here, never a redirect, so kiln never sends anyone to an
// address it has not checked.
func (c *Console) authorizePage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	a := authorizeRequestOf(q)
	if q.Get("response_type") != "code" {
		return kiln.Errorf(kiln.EInvalid, "response_type must be code.")
	}
	scopes, err := service.CheckAuthorizeRequest(a)
	if err != nil {
		return err
	}
	u, _ := url.Parse(a.RedirectURI)
	w.Header().Set("Content-Security-Policy", loopbackFormCSP)
	c.render(w, r, http.StatusOK, "authorize", &page{Title: "Authorize " + a.ClientID, Data: consentData{
		Req: a, State: q.Get("state"), Scopes: kiln.ScopeString(scopes), Redirect: u.Host}})
	return nil
}

// authorize is the user's answer: Allow sends an authorization code to
// the client's loopback listener, Deny sends access_denied.
func (c *Console) authorize(w http.ResponseWriter, r *http.Request) error {
	a := authorizeRequestOf(r.PostForm)
	if _, err := service.CheckAuthorizeRequest(a); err != nil {
		return err
	}
	back, _ := url.Parse(a.RedirectURI)
	q := back.Query()
	if s := r.PostFormValue("state"); s != "" {
		q.Set("state", s)
	}
	if r.PostFormValue("decision") != "allow" {
		q.Set("error", "access_denied")
	} else {
		code, err := c.svc.Authorize(r.Context(), a)
		if err != nil {
			return err
		}
		q.Set("code", code)
	}
	back.RawQuery = q.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
	return nil
}
