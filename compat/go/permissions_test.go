package compat

import (
	"context"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// canManage is the admins' level; the SDK's enum only names CAN_USE.
const canManage = settings.TokenPermissionLevel("CAN_MANAGE")

// levelOf returns the permission level the ACL grants the named grantee
// (kind is "user", "group" or "service_principal"), or "".
func levelOf(acl []settings.TokenAccessControlResponse, kind, name string) settings.TokenPermissionLevel {
	for _, e := range acl {
		var n string
		switch kind {
		case "user":
			n = e.UserName
		case "group":
			n = e.GroupName
		default:
			n = e.ServicePrincipalName
		}
		if n == name && len(e.AllPermissions) > 0 {
			return e.AllPermissions[0].PermissionLevel
		}
	}
	return ""
}

// TestTokenPermissions covers who may use tokens: the token permission
// API (get, set, update, levels) and its effect on real requests.
func TestTokenPermissions(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	_, bobToken := env.createUser(t, "bob@example.com")
	_, carolToken := env.createUser(t, "carol@example.com")
	bob, carol := env.client(t, bobToken), env.client(t, carolToken)

	t.Run("GetPermissions", func(t *testing.T) {
		p, err := w.TokenManagement.GetPermissions(ctx)
		must(t, err, "GetPermissions")
		if p.ObjectId != "/authorization/tokens" || p.ObjectType != "tokens" {
			t.Errorf("object = %q/%q, want /authorization/tokens / tokens", p.ObjectId, p.ObjectType)
		}
		if got := levelOf(p.AccessControlList, "group", "admins"); got != canManage {
			t.Errorf("admins level = %q, want CAN_MANAGE (acl %+v)", got, p.AccessControlList)
		}
		if got := levelOf(p.AccessControlList, "group", "users"); got != settings.TokenPermissionLevelCanUse {
			t.Errorf("users level = %q, want CAN_USE", got)
		}
	})

	t.Run("GetPermissionLevels", func(t *testing.T) {
		lv, err := w.TokenManagement.GetPermissionLevels(ctx)
		must(t, err, "GetPermissionLevels")
		found := false
		for _, l := range lv.PermissionLevels {
			if l.PermissionLevel == settings.TokenPermissionLevelCanUse {
				found = l.Description != ""
			}
		}
		if !found {
			t.Errorf("levels = %+v, want CAN_USE with a description", lv.PermissionLevels)
		}
	})

	t.Run("UpdatePermissions grants CAN_USE to a user", func(t *testing.T) {
		p, err := w.TokenManagement.UpdatePermissions(ctx, settings.TokenPermissionsRequest{
			AccessControlList: []settings.TokenAccessControlRequest{{UserName: "bob@example.com", PermissionLevel: settings.TokenPermissionLevelCanUse}},
		})
		must(t, err, "UpdatePermissions")
		if got := levelOf(p.AccessControlList, "user", "bob@example.com"); got != settings.TokenPermissionLevelCanUse {
			t.Errorf("bob's level = %q, want CAN_USE (acl %+v)", got, p.AccessControlList)
		}
		if got := levelOf(p.AccessControlList, "group", "users"); got != settings.TokenPermissionLevelCanUse {
			t.Errorf("users level after PATCH = %q, want CAN_USE kept (PATCH merges)", got)
		}
		again, err := w.TokenManagement.GetPermissions(ctx)
		must(t, err, "GetPermissions")
		if got := levelOf(again.AccessControlList, "user", "bob@example.com"); got != settings.TokenPermissionLevelCanUse {
			t.Errorf("bob's level on re-read = %q, want CAN_USE", got)
		}
	})

	t.Run("SetPermissions without users revokes the others' tokens", func(t *testing.T) {
		// Terraform always sends admins/CAN_MANAGE in a PUT.
		p, err := w.TokenManagement.SetPermissions(ctx, settings.TokenPermissionsRequest{
			AccessControlList: []settings.TokenAccessControlRequest{
				{GroupName: "admins", PermissionLevel: canManage},
				{UserName: "bob@example.com", PermissionLevel: settings.TokenPermissionLevelCanUse},
			},
		})
		must(t, err, "SetPermissions")
		if got := levelOf(p.AccessControlList, "group", "users"); got != "" {
			t.Errorf("users level after PUT = %q, want none (PUT replaces)", got)
		}
		if got := levelOf(p.AccessControlList, "group", "admins"); got != canManage {
			t.Errorf("admins level after PUT = %q, want CAN_MANAGE", got)
		}

		apiErr := env.expectAPIError(t, func() error {
			_, err := carol.CurrentUser.Me(ctx, iam.MeRequest{})
			return err
		})
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
		if apiErr.StatusCode != 403 {
			t.Errorf("carol without CAN_USE: status %d, want 403", apiErr.StatusCode)
		}
		_, err = bob.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "bob, granted CAN_USE directly")
		_, err = w.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "admins always may use tokens")

		// Restoring the grant revives carol's existing token.
		_, err = w.TokenManagement.UpdatePermissions(ctx, settings.TokenPermissionsRequest{
			AccessControlList: []settings.TokenAccessControlRequest{{GroupName: "users", PermissionLevel: settings.TokenPermissionLevelCanUse}},
		})
		must(t, err, "UpdatePermissions users CAN_USE")
		_, err = carol.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "carol after users regained CAN_USE")
	})

	t.Run("refused changes", func(t *testing.T) {
		cases := []struct {
			name string
			acl  []settings.TokenAccessControlRequest
		}{
			{"CAN_MANAGE for users", []settings.TokenAccessControlRequest{{GroupName: "users", PermissionLevel: canManage}}},
			{"admins lowered to CAN_USE", []settings.TokenAccessControlRequest{{GroupName: "admins", PermissionLevel: settings.TokenPermissionLevelCanUse}}},
			{"unknown user", []settings.TokenAccessControlRequest{{UserName: "nobody@example.com", PermissionLevel: settings.TokenPermissionLevelCanUse}}},
			{"unknown level", []settings.TokenAccessControlRequest{{UserName: "bob@example.com", PermissionLevel: "CAN_FLY"}}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				apiErr := env.expectAPIError(t, func() error {
					_, err := w.TokenManagement.UpdatePermissions(ctx, settings.TokenPermissionsRequest{AccessControlList: tc.acl})
					return err
				})
				expectIs(t, apiErr, databricks.ErrBadRequest)
			})
		}
	})

	t.Run("non-admin cannot read or change permissions", func(t *testing.T) {
		for name, call := range map[string]func() error{
			"GetPermissions": func() error { _, err := bob.TokenManagement.GetPermissions(ctx); return err },
			"GetPermissionLevels": func() error {
				_, err := bob.TokenManagement.GetPermissionLevels(ctx)
				return err
			},
			"UpdatePermissions": func() error {
				_, err := bob.TokenManagement.UpdatePermissions(ctx, settings.TokenPermissionsRequest{
					AccessControlList: []settings.TokenAccessControlRequest{{UserName: "carol@example.com", PermissionLevel: settings.TokenPermissionLevelCanUse}},
				})
				return err
			},
		} {
			t.Run(name, func(t *testing.T) {
				expectIs(t, env.expectAPIError(t, call), databricks.ErrPermissionDenied)
			})
		}
	})
}
