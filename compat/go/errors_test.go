package compat

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/common/types/fieldmask"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// TestErrorClasses checks that kiln's errors land in the SDK's error
// classes (errors.Is with the databricks.Err* sentinels), which is what
// Terraform and user programs branch on, and that no permanent error is
// one the SDK would retry.
func TestErrorClasses(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	admin := env.adminClient(t)
	_, bobToken := env.createUser(t, "bob@example.com")
	bob := env.client(t, bobToken)
	const missingID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	cases := []struct {
		name string
		call func() error
		// want are the sentinels errors.Is must match.
		want []error
		// status is the expected HTTP status.
		status int
		// message, when set, must appear in the error message.
		message string
	}{
		{
			name: "non-admin TokenManagement.List",
			call: func() error {
				_, err := bob.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
				return err
			},
			want: []error{databricks.ErrPermissionDenied}, status: 403,
		},
		{
			name: "non-admin TokenManagement.Get",
			call: func() error { _, err := bob.TokenManagement.GetByTokenId(ctx, missingID); return err },
			want: []error{databricks.ErrPermissionDenied}, status: 403,
		},
		{
			name: "TokenManagement.Get of a missing id",
			call: func() error { _, err := admin.TokenManagement.GetByTokenId(ctx, missingID); return err },
			want: []error{databricks.ErrNotFound, databricks.ErrResourceDoesNotExist}, status: 404,
		},
		{
			name: "TokenManagement.Get of a malformed id",
			call: func() error { _, err := admin.TokenManagement.GetByTokenId(ctx, "not-a-token-id"); return err },
			want: []error{databricks.ErrNotFound}, status: 404,
		},
		{
			name: "TokenManagement.Delete of a missing id",
			call: func() error { return admin.TokenManagement.DeleteByTokenId(ctx, missingID) },
			want: []error{databricks.ErrNotFound}, status: 404,
		},
		{
			name: "TokenManagement.Update of a missing id",
			call: func() error {
				_, err := admin.TokenManagement.UpdateTokenManagement(ctx, settings.UpdateTokenManagementRequest{
					TokenId: missingID, Token: settings.TokenInfo{Comment: "x"}, UpdateMask: *fieldmask.New([]string{"comment"}),
				})
				return err
			},
			want: []error{databricks.ErrNotFound}, status: 404,
		},
		{
			name: "TokenManagement.Update of a field that cannot change",
			call: func() error {
				_, err := admin.TokenManagement.UpdateTokenManagement(ctx, settings.UpdateTokenManagementRequest{
					TokenId: missingID, Token: settings.TokenInfo{OwnerId: 1}, UpdateMask: *fieldmask.New([]string{"owner_id"}),
				})
				return err
			},
			want: []error{databricks.ErrBadRequest}, status: 400,
		},
		{
			name: "Tokens.Delete of a missing id",
			call: func() error { return admin.Tokens.DeleteByTokenId(ctx, missingID) },
			want: []error{databricks.ErrNotFound, databricks.ErrResourceDoesNotExist}, status: 404,
		},
		{
			name: "Tokens.Create above maxTokenLifetimeDays (730)",
			call: func() error {
				_, err := admin.Tokens.Create(ctx, settings.CreateTokenRequest{LifetimeSeconds: 731 * 24 * 3600})
				return err
			},
			want: []error{databricks.ErrBadRequest, databricks.ErrInvalidParameterValue}, status: 400,
			message: "730 days",
		},
		{
			name: "Tokens.Create with a negative lifetime",
			call: func() error {
				_, err := admin.Tokens.Create(ctx, settings.CreateTokenRequest{LifetimeSeconds: -1})
				return err
			},
			want: []error{databricks.ErrBadRequest}, status: 400,
		},
		{
			name: "Users.Get of a missing id",
			call: func() error { _, err := admin.Users.GetById(ctx, "999999999"); return err },
			want: []error{databricks.ErrNotFound}, status: 404,
		},
		{
			name: "Groups.Get of a missing id",
			call: func() error { _, err := admin.Groups.GetById(ctx, "999999999"); return err },
			want: []error{databricks.ErrNotFound}, status: 404,
		},
		{
			name: "non-admin Users.Create",
			call: func() error {
				_, err := bob.Users.Create(ctx, iam.User{UserName: "eve@example.com"})
				return err
			},
			want: []error{databricks.ErrPermissionDenied}, status: 403,
		},
		{
			name: "unknown token",
			call: func() error {
				_, err := env.client(t, "dapi0123456789abcdef0123456789abcdef").CurrentUser.Me(ctx, iam.MeRequest{})
				return err
			},
			want: []error{databricks.ErrPermissionDenied}, status: 403, message: "Invalid access token.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			apiErr := env.expectAPIError(t, tc.call)
			expectIs(t, apiErr, tc.want...)
			if apiErr.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", apiErr.StatusCode, tc.status)
			}
			if tc.message != "" && !strings.Contains(apiErr.Message, tc.message) {
				t.Errorf("message = %q, want it to contain %q", apiErr.Message, tc.message)
			}
			if apiErr.IsRetriable(ctx) {
				t.Errorf("the SDK considers this permanent error retriable: %v", apiErr)
			}
			if errors404(tc.want) != apierr.IsMissing(apiErr) {
				t.Errorf("apierr.IsMissing = %v, want %v", apierr.IsMissing(apiErr), errors404(tc.want))
			}
		})
	}

	t.Run("lifetime above a lowered cap names the cap", func(t *testing.T) {
		must(t, admin.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"maxTokenLifetimeDays": "30"}), "SetStatus")
		apiErr := env.expectAPIError(t, func() error {
			_, err := admin.Tokens.Create(ctx, settings.CreateTokenRequest{LifetimeSeconds: 31 * 24 * 3600})
			return err
		})
		expectIs(t, apiErr, databricks.ErrBadRequest)
		for _, part := range []string{"30 days", "maxTokenLifetimeDays"} {
			if !strings.Contains(apiErr.Message, part) {
				t.Errorf("message = %q, want it to name the cap (%q)", apiErr.Message, part)
			}
		}
		// The same cap applies to on-behalf-of tokens.
		sp, err := admin.ServicePrincipals.Create(ctx, iam.ServicePrincipal{DisplayName: "capped"})
		must(t, err, "ServicePrincipals.Create")
		apiErr = env.expectAPIError(t, func() error {
			_, err := admin.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: sp.ApplicationId, LifetimeSeconds: 31 * 24 * 3600})
			return err
		})
		expectIs(t, apiErr, databricks.ErrBadRequest)

		// At the cap is fine, and the default lifetime shrinks to the cap.
		at, err := admin.Tokens.Create(ctx, settings.CreateTokenRequest{LifetimeSeconds: 30 * 24 * 3600})
		must(t, err, "Create at the cap")
		if d := at.TokenInfo.ExpiryTime - at.TokenInfo.CreationTime; d != 30*dayMillis {
			t.Errorf("lifetime at the cap = %dms, want %dms", d, 30*dayMillis)
		}
		def, err := admin.Tokens.Create(ctx, settings.CreateTokenRequest{})
		must(t, err, "Create with the default lifetime")
		if d := def.TokenInfo.ExpiryTime - def.TokenInfo.CreationTime; d != 30*dayMillis {
			t.Errorf("default lifetime under a 30-day cap = %dms, want %dms", d, 30*dayMillis)
		}
	})
}

// errors404 reports whether the expected sentinels are of the not-found
// family.
func errors404(want []error) bool {
	for _, w := range want {
		if errors.Is(w, databricks.ErrNotFound) {
			return true
		}
	}
	return false
}
