package console

import (
	"net/http"
	"strconv"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// spSecretsData is the OAuth secrets page of one service principal.
type spSecretsData struct {
	SP      *kiln.Principal
	Secrets []*kiln.OAuthSecret
	// Created is the secret just generated, shown once.
	Created *service.NewOAuthSecret
	Error   string
}

// spOf resolves the {id} of a service principal's page.
func (c *Console) spOf(r *http.Request) (*kiln.Principal, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, kiln.Errorf(kiln.ENotFound, "No such service principal.")
	}
	p, err := c.svc.GetPrincipal(r.Context(), kiln.KindServicePrincipal, id)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (c *Console) renderSPSecrets(w http.ResponseWriter, r *http.Request, status int, d *spSecretsData) error {
	secs, err := c.svc.OAuthSecrets(r.Context(), d.SP.IDString())
	if err != nil {
		return err
	}
	d.Secrets = secs
	c.render(w, r, status, "sp_secrets", &page{Title: "OAuth secrets of " + d.SP.DisplayName, Section: adminSection, Tab: "/admin/service-principals", Data: d})
	return nil
}

// spSecretsPage lists a service principal's OAuth secrets.
func (c *Console) spSecretsPage(w http.ResponseWriter, r *http.Request) error {
	sp, err := c.spOf(r)
	if err != nil {
		return err
	}
	return c.renderSPSecrets(w, r, http.StatusOK, &spSecretsData{SP: sp})
}

// createSPSecret generates a secret and shows it once.
func (c *Console) createSPSecret(w http.ResponseWriter, r *http.Request) error {
	sp, err := c.spOf(r)
	if err != nil {
		return err
	}
	d := &spSecretsData{SP: sp}
	lifetime, err := service.ParseLifetime(r.PostFormValue("lifetime"))
	if r.PostFormValue("lifetime") == "" {
		lifetime, err = service.DefaultSecretLifetime, nil
	}
	if err == nil && lifetime > service.DefaultSecretLifetime {
		err = kiln.Errorf(kiln.EInvalid, "A secret lives at most 730 days.")
	}
	if err != nil {
		d.Error = "Lifetime: " + kiln.ErrorMessage(err)
		return c.renderSPSecrets(w, r, http.StatusBadRequest, d)
	}
	ns, err := c.svc.CreateOAuthSecret(r.Context(), sp.IDString(), lifetime)
	if kiln.IsCode(err, kiln.EQuota) {
		d.Error = kiln.ErrorMessage(err)
		return c.renderSPSecrets(w, r, http.StatusBadRequest, d)
	}
	if err != nil {
		return err
	}
	d.Created = ns
	return c.renderSPSecrets(w, r, http.StatusOK, d)
}

// deleteSPSecret deletes a secret; its access tokens end at once.
func (c *Console) deleteSPSecret(w http.ResponseWriter, r *http.Request) error {
	sp, err := c.spOf(r)
	if err != nil {
		return err
	}
	if err := c.svc.DeleteOAuthSecret(r.Context(), sp.IDString(), r.PathValue("secret")); err != nil {
		return err
	}
	c.redirectWith(w, r, "/admin/service-principals/"+sp.IDString()+"/secrets", "ok", "The secret was deleted; access tokens bought with it no longer work.")
	return nil
}
