package compat

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/common/types/fieldmask"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// uuidRE matches a service principal's application id.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestTokenManagement covers the admin token API (TokenManagement): list
// with and without the creator filters, get, update, delete (which must
// stop the token working), and on-behalf-of tokens for a service
// principal, used for real.
func TestTokenManagement(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	admin := env.adminClient(t)
	bob, bobMinted := env.createUser(t, "bob@example.com")
	bobClient := env.client(t, bobMinted)

	// Tokens bob creates himself, through the SDK, have him as creator.
	bobTok, err := bobClient.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "bob via sdk", LifetimeSeconds: 3600})
	must(t, err, "bob: Tokens.Create")
	adminTok, err := admin.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "admin via sdk", LifetimeSeconds: 3600})
	must(t, err, "admin: Tokens.Create")
	bobID, adminID := bobTok.TokenInfo.TokenId, adminTok.TokenInfo.TokenId

	t.Run("List/all", func(t *testing.T) {
		all, err := admin.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
		must(t, err, "ListAll")
		byID := map[string]settings.TokenInfo{}
		for _, ti := range all {
			byID[ti.TokenId] = ti
		}
		b, ok := byID[bobID]
		if !ok {
			t.Fatalf("bob's token %s missing from %d tokens", bobID, len(all))
		}
		if b.OwnerId != bob.ID || b.CreatedById != bob.ID || b.CreatedByUsername != "bob@example.com" {
			t.Errorf("bob's token: owner %d created_by %d/%q, want %d/%d/bob@example.com", b.OwnerId, b.CreatedById, b.CreatedByUsername, bob.ID, bob.ID)
		}
		if b.WorkspaceId != env.WorkspaceID {
			t.Errorf("workspace_id = %d, want %d", b.WorkspaceId, env.WorkspaceID)
		}
		if b.Comment != "bob via sdk" || b.ExpiryTime != bobTok.TokenInfo.ExpiryTime || b.CreationTime != bobTok.TokenInfo.CreationTime {
			t.Errorf("bob's token = %+v, want the comment and times it was created with (%+v)", b, bobTok.TokenInfo)
		}
		if _, ok := byID[adminID]; !ok {
			t.Errorf("admin's token %s missing", adminID)
		}
	})

	t.Run("List/filters", func(t *testing.T) {
		cases := []struct {
			name    string
			req     settings.ListTokenManagementRequest
			want    []string // token ids that must be listed
			notWant []string // token ids that must not be listed
			creator int64    // every listed token's created_by_id, or 0
			empty   bool
		}{
			{"created_by_id bob", settings.ListTokenManagementRequest{CreatedById: bob.ID}, []string{bobID}, []string{adminID}, bob.ID, false},
			{"created_by_id admin", settings.ListTokenManagementRequest{CreatedById: env.Admin.ID}, []string{adminID}, []string{bobID}, env.Admin.ID, false},
			{"created_by_username bob", settings.ListTokenManagementRequest{CreatedByUsername: "bob@example.com"}, []string{bobID}, []string{adminID}, bob.ID, false},
			{"created_by_username other case", settings.ListTokenManagementRequest{CreatedByUsername: "BOB@example.com"}, []string{bobID}, []string{adminID}, bob.ID, false},
			{"created_by_username unknown", settings.ListTokenManagementRequest{CreatedByUsername: "nobody@example.com"}, nil, []string{bobID, adminID}, 0, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				list, err := admin.TokenManagement.ListAll(ctx, tc.req)
				must(t, err, "ListAll")
				var ids []string
				for _, ti := range list {
					ids = append(ids, ti.TokenId)
					if tc.creator != 0 && ti.CreatedById != tc.creator {
						t.Errorf("token %s created by %d listed, want only creator %d", ti.TokenId, ti.CreatedById, tc.creator)
					}
				}
				for _, id := range tc.want {
					if !slices.Contains(ids, id) {
						t.Errorf("token %s missing", id)
					}
				}
				for _, id := range tc.notWant {
					if slices.Contains(ids, id) {
						t.Errorf("token %s listed, want it filtered out", id)
					}
				}
				if tc.empty && len(list) != 0 {
					t.Errorf("got %d tokens, want none", len(list))
				}
			})
		}
	})

	t.Run("Get", func(t *testing.T) {
		got, err := admin.TokenManagement.GetByTokenId(ctx, bobID)
		must(t, err, "GetByTokenId")
		ti := got.TokenInfo
		if ti == nil {
			t.Fatal("token_info missing: Get answers {\"token_info\": {...}}")
		}
		if ti.TokenId != bobID || ti.OwnerId != bob.ID || ti.CreatedByUsername != "bob@example.com" || ti.Comment != "bob via sdk" {
			t.Errorf("Get = %+v, want bob's token", ti)
		}
		if ti.WorkspaceId != env.WorkspaceID {
			t.Errorf("workspace_id = %d, want %d", ti.WorkspaceId, env.WorkspaceID)
		}
		if ti.LastUsedDay != 0 {
			t.Errorf("last_used_day = %d for a token never used, want it absent", ti.LastUsedDay)
		}
	})

	t.Run("last_used_day of a used token", func(t *testing.T) {
		// bob's client authenticates with the token the harness minted for
		// him (not created by bob himself); last_used_day is the UTC day of
		// its last use, ±1 day.
		all, err := admin.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
		must(t, err, "ListAll")
		today := time.Now().UTC().Truncate(24 * time.Hour).UnixMilli()
		n := 0
		for _, m := range all {
			if m.OwnerId != bob.ID || m.TokenId == bobID {
				continue
			}
			n++
			if !millisNear(m.LastUsedDay, today, 24*time.Hour) {
				t.Errorf("last_used_day = %d, want about %d (today)", m.LastUsedDay, today)
			}
		}
		if n != 1 {
			t.Errorf("found %d used tokens of bob's, want 1", n)
		}
	})

	t.Run("UpdateTokenManagement", func(t *testing.T) {
		got, err := admin.TokenManagement.UpdateTokenManagement(ctx, settings.UpdateTokenManagementRequest{
			TokenId:    bobID,
			Token:      settings.TokenInfo{Comment: "renamed by admin"},
			UpdateMask: *fieldmask.New([]string{"comment"}),
		})
		must(t, err, "UpdateTokenManagement")
		if got.TokenId != bobID || got.Comment != "renamed by admin" || got.OwnerId != bob.ID {
			t.Errorf("UpdateTokenManagement = %+v, want bob's token with the new comment", got)
		}
		again, err := admin.TokenManagement.GetByTokenId(ctx, bobID)
		must(t, err, "GetByTokenId")
		if again.TokenInfo.Comment != "renamed by admin" {
			t.Errorf("after update, comment = %q", again.TokenInfo.Comment)
		}
	})

	t.Run("Delete revokes", func(t *testing.T) {
		victim, err := bobClient.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "to be revoked", LifetimeSeconds: 3600})
		must(t, err, "bob: Create")
		victimClient := env.client(t, victim.TokenValue)
		_, err = victimClient.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "Me with the token before revocation")

		must(t, admin.TokenManagement.DeleteByTokenId(ctx, victim.TokenInfo.TokenId), "DeleteByTokenId")

		apiErr := env.expectAPIError(t, func() error {
			_, err := victimClient.CurrentUser.Me(ctx, iam.MeRequest{})
			return err
		})
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
		apiErr = env.expectAPIError(t, func() error {
			_, err := admin.TokenManagement.GetByTokenId(ctx, victim.TokenInfo.TokenId)
			return err
		})
		expectIs(t, apiErr, databricks.ErrNotFound)
		if !apierr.IsMissing(apiErr) {
			t.Errorf("Get of a revoked token: IsMissing = false")
		}
		// bob's other tokens are untouched.
		_, err = bobClient.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "bob's other token after revoking one")
	})

	t.Run("CreateOboToken for a service principal", func(t *testing.T) {
		sp, err := admin.ServicePrincipals.Create(ctx, iam.ServicePrincipal{DisplayName: "ci-bot"})
		must(t, err, "ServicePrincipals.Create")
		if !uuidRE.MatchString(sp.ApplicationId) {
			t.Fatalf("applicationId = %q, want a generated UUID", sp.ApplicationId)
		}
		before := time.Now().UnixMilli()
		obo, err := admin.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{
			ApplicationId: sp.ApplicationId, LifetimeSeconds: 3600, Comment: "obo for ci-bot",
		})
		must(t, err, "CreateOboToken")
		ti := obo.TokenInfo
		if obo.TokenValue == "" || ti == nil || !tokenIDRE.MatchString(ti.TokenId) {
			t.Fatalf("CreateOboToken = %+v, want a value and token_info", obo)
		}
		if idString(ti.OwnerId) != sp.Id {
			t.Errorf("owner_id = %d, want the service principal %s", ti.OwnerId, sp.Id)
		}
		if ti.CreatedById != env.Admin.ID || ti.CreatedByUsername != adminEmail {
			t.Errorf("created_by = %d/%q, want the calling admin %d/%s", ti.CreatedById, ti.CreatedByUsername, env.Admin.ID, adminEmail)
		}
		if ti.Comment != "obo for ci-bot" || !millisNear(ti.ExpiryTime-ti.CreationTime, 3600*1000, time.Second) || !millisNear(ti.CreationTime, before, time.Minute) {
			t.Errorf("token_info = %+v, want the comment, a one-hour lifetime and a creation time of now", ti)
		}

		spClient := env.client(t, obo.TokenValue)
		me, err := spClient.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "Me with the OBO token")
		if me.Id != sp.Id {
			t.Errorf("Me.id = %q, want the service principal %s", me.Id, sp.Id)
		}
		// Terraform's databricks_current_user and the CLI read userName; for a
		// service principal it is the application id (a UUID), which is also
		// how Terraform tells a service principal from a user.
		if me.UserName != sp.ApplicationId {
			t.Errorf("Me.userName = %q for a service principal, want its application id %q", me.UserName, sp.ApplicationId)
		}
		id, err := spClient.CurrentWorkspaceID(ctx)
		must(t, err, "CurrentWorkspaceID with the OBO token")
		if id != env.WorkspaceID {
			t.Errorf("CurrentWorkspaceID = %d, want %d", id, env.WorkspaceID)
		}
		own, err := spClient.Tokens.ListAll(ctx)
		must(t, err, "the service principal lists its tokens")
		if len(own) != 1 || own[0].TokenId != ti.TokenId {
			t.Errorf("the service principal's tokens = %+v, want just the OBO token", own)
		}
		got, err := admin.TokenManagement.GetByTokenId(ctx, ti.TokenId)
		must(t, err, "Get of the OBO token")
		if got.TokenInfo.OwnerId != ti.OwnerId || got.TokenInfo.CreatedById != env.Admin.ID {
			t.Errorf("Get = %+v, want owner %d and creator %d", got.TokenInfo, ti.OwnerId, env.Admin.ID)
		}
		byAdmin, err := admin.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{CreatedById: env.Admin.ID})
		must(t, err, "ListAll by creator")
		if !slices.ContainsFunc(byAdmin, func(x settings.TokenInfo) bool { return x.TokenId == ti.TokenId }) {
			t.Errorf("OBO token not listed under its creator, the admin")
		}
	})

	t.Run("CreateOboToken errors", func(t *testing.T) {
		cases := []struct {
			name   string
			client *databricks.WorkspaceClient
			appID  string
			want   error
		}{
			{"unknown application id", admin, "00000000-0000-4000-8000-000000000000", databricks.ErrNotFound},
			{"a user's name is not a service principal", admin, "bob@example.com", databricks.ErrNotFound},
			{"non-admin caller", bobClient, "00000000-0000-4000-8000-000000000000", databricks.ErrPermissionDenied},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				apiErr := env.expectAPIError(t, func() error {
					_, err := tc.client.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: tc.appID, LifetimeSeconds: 600})
					return err
				})
				expectIs(t, apiErr, tc.want)
			})
		}
	})
}
