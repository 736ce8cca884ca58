package compat

import (
	"context"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/oauth2"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// TestOAuthM2M drives the SDK's oauth-m2m authentication against kiln:
// an admin creates a service principal and its secret through the SDK's
// ServicePrincipalSecretsProxy, then a client configured with only the
// host, the client id and the secret discovers the token endpoint
// (/oidc/.well-known/oauth-authorization-server), gets an access token
// and calls the API as the service principal. Deleting the secret, or
// deactivating the principal, makes the next call fail with the SDK's
// permission error, though the SDK still holds a cached access token.
func TestOAuthM2M(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	admin := env.adminClient(t)
	sp, err := admin.ServicePrincipals.Create(ctx, iam.ServicePrincipal{DisplayName: "airflow"})
	must(t, err, "ServicePrincipals.Create")

	m2m := func(t *testing.T, secret string) *databricks.WorkspaceClient {
		return env.clientFrom(t, &databricks.Config{Host: env.URL, ClientID: sp.ApplicationId, ClientSecret: secret,
			Credentials: config.M2mCredentials{}})
	}
	newSecret := func(t *testing.T) *oauth2.CreateServicePrincipalSecretResponse {
		s, err := admin.ServicePrincipalSecretsProxy.Create(ctx, oauth2.CreateServicePrincipalSecretRequest{
			ServicePrincipalId: sp.Id, Lifetime: "86400s"})
		must(t, err, "ServicePrincipalSecretsProxy.Create")
		if s.Secret == "" || s.Status != "ACTIVE" || s.ExpireTime == "" {
			t.Fatalf("created secret: %+v", s)
		}
		return s
	}

	t.Run("the secret deleted", func(t *testing.T) {
		s := newSecret(t)
		w := m2m(t, s.Secret)
		if w.Config.AuthType != "oauth-m2m" {
			t.Fatalf("auth type %q, want oauth-m2m", w.Config.AuthType)
		}
		me, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "CurrentUser.Me")
		if me.UserName != sp.ApplicationId {
			t.Errorf("Me is %q, want the service principal %q", me.UserName, sp.ApplicationId)
		}
		_, err = w.Jobs.ListAll(ctx, jobs.ListJobsRequest{})
		must(t, err, "Jobs.ListAll")
		// The access token is a Bearer token the SDK caches; a PAT
		// switch-off does not touch it.
		must(t, admin.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"enableTokensConfig": "false"}), "disable PATs")
		_, err = w.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "CurrentUser.Me with PATs off")
		env.setConf(t, map[string]string{"enableTokensConfig": "true"})

		list, err := admin.ServicePrincipalSecretsProxy.ListAll(ctx, oauth2.ListServicePrincipalSecretsRequest{ServicePrincipalId: sp.Id})
		must(t, err, "ServicePrincipalSecretsProxy.ListAll")
		if len(list) != 1 || list[0].Id != s.Id || list[0].SecretHash != s.SecretHash {
			t.Errorf("listed secrets %+v, want the one created", list)
		}
		must(t, admin.ServicePrincipalSecretsProxy.Delete(ctx, oauth2.DeleteServicePrincipalSecretRequest{
			ServicePrincipalId: sp.Id, SecretId: s.Id}), "ServicePrincipalSecretsProxy.Delete")
		apiErr := env.expectAPIError(t, func() error { _, err := w.CurrentUser.Me(ctx, iam.MeRequest{}); return err })
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
	})

	t.Run("the principal deactivated", func(t *testing.T) {
		s := newSecret(t)
		w := m2m(t, s.Secret)
		_, err := w.Jobs.ListAll(ctx, jobs.ListJobsRequest{})
		must(t, err, "Jobs.ListAll")
		must(t, admin.ServicePrincipals.Patch(ctx, iam.PartialUpdate{Id: sp.Id, Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
			Operations: []iam.Patch{{Op: iam.PatchOpReplace, Path: "active", Value: false}}}), "deactivate")
		apiErr := env.expectAPIError(t, func() error { _, err := w.Jobs.ListAll(ctx, jobs.ListJobsRequest{}); return err })
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
	})

	t.Run("a wrong secret", func(t *testing.T) {
		w := m2m(t, "dose"+strings.Repeat("0", 64))
		env.rec.beginExpected()
		_, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
		env.rec.endExpected()
		if err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Errorf("a wrong secret: %v, want the token endpoint's invalid_client", err)
		}
	})
}
