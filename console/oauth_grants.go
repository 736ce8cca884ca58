package console

import (
	"net/http"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// User Settings, Apps tab: the apps signed in as the user through OAuth
// (databricks auth login, an SDK's U2M flow), each of which the user can
// sign out.

const appsPath = "/settings/apps"

type appRow struct {
	ID, Client, RedirectURI string
	Scopes                  []string
	Created, Expires        time.Time
	Revoke                  confirmation
}

type appsData struct {
	Apps []appRow
	// Host is this workspace's URL, for the databricks auth login hint.
	Host string
}

// revokeAppConfirmation asks before signing out the app of grant g.
func revokeAppConfirmation(g *kiln.OAuthGrant) confirmation {
	return confirmation{Label: "Revoke", Title: "Revoke access?", Action: appsPath + "/" + g.ID + "/revoke", Back: appsPath, Danger: true,
		Text: "Sign " + clientName(g.ClientID) + " out? Its access ends at once; it must sign in again with databricks auth login."}
}

// workspaceURL is the base URL, or the scheme and host this request
// used (shown to the one who sent it, so a made-up Host misleads nobody).
func (c *Console) workspaceURL(r *http.Request) string {
	if c.base != nil {
		return c.base.String()
	}
	if c.secureRequest(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// clientName is how the console names an OAuth client.
func clientName(id string) string {
	if id == service.CLIClientID {
		return "Databricks CLI and SDKs"
	}
	return id
}

func (c *Console) appsPage(w http.ResponseWriter, r *http.Request) error {
	gs, err := c.svc.OAuthGrants(r.Context())
	if err != nil {
		return err
	}
	d := appsData{Host: c.workspaceURL(r)}
	for _, g := range gs {
		d.Apps = append(d.Apps, appRow{
			ID: g.ID, Client: clientName(g.ClientID), RedirectURI: g.RedirectURI, Scopes: g.Scopes, Created: g.Created, Expires: g.Expires,
			Revoke: revokeAppConfirmation(g),
		})
	}
	c.render(w, r, http.StatusOK, "apps", &page{Title: "Apps", Section: "User Settings", Tab: appsPath, Data: d})
	return nil
}

func (c *Console) confirmRevokeApp(w http.ResponseWriter, r *http.Request) error {
	gs, err := c.svc.OAuthGrants(r.Context())
	if err != nil {
		return err
	}
	for _, g := range gs {
		if g.ID == r.PathValue("id") {
			c.showConfirmation(w, r, "User Settings", appsPath, revokeAppConfirmation(g))
			return nil
		}
	}
	c.redirectWith(w, r, appsPath, "error", "This app's access does not exist or has already ended.")
	return nil
}

func (c *Console) revokeApp(w http.ResponseWriter, r *http.Request) error {
	err := c.svc.RevokeOAuthGrant(r.Context(), r.PathValue("id"))
	if kiln.IsCode(err, kiln.ENotFound) {
		c.redirectWith(w, r, appsPath, "error", kiln.ErrorMessage(err))
		return nil
	} else if err != nil {
		return err
	}
	c.redirectWith(w, r, appsPath, "ok", "The app has been signed out.")
	return nil
}
