package compat

import (
	"context"
	"slices"
	"testing"

	"github.com/databricks/databricks-sdk-go/common/environment"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// TestHostMetadata checks the SDK's unauthenticated discovery call,
// GET /.well-known/databricks-config, which every client makes while it
// resolves its configuration. The SDK only logs a failure there, so the
// test looks at the recorded exchange and at what the SDK took from it.
func TestHostMetadata(t *testing.T) {
	env := startKiln(t)
	w := env.adminClient(t)
	wsID := idString(env.WorkspaceID)

	t.Run("discovery call succeeds unauthenticated", func(t *testing.T) {
		calls := env.rec.find("GET", "/.well-known/databricks-config")
		if len(calls) != 1 {
			t.Fatalf("discovery calls = %d, want exactly 1 (no retries): %v", len(calls), calls)
		}
		if calls[0].Status != 200 {
			t.Errorf("discovery status = %d, want 200", calls[0].Status)
		}
		if calls[0].Authorized {
			t.Errorf("discovery call carried an Authorization header; the SDK sends it unauthenticated")
		}
	})

	t.Run("config resolved from metadata", func(t *testing.T) {
		cfg := w.Config
		if cfg.WorkspaceID != wsID {
			t.Errorf("Config.WorkspaceID = %q, want %q (from host metadata)", cfg.WorkspaceID, wsID)
		}
		if cfg.Cloud != environment.CloudAWS {
			t.Errorf("Config.Cloud = %q, want %q", cfg.Cloud, environment.CloudAWS)
		}
		if got := cfg.HostType(); got != config.WorkspaceHost {
			t.Errorf("HostType() = %q, want %q", got, config.WorkspaceHost)
		}
		if got := cfg.ConfigType(); got != config.WorkspaceConfig {
			t.Errorf("ConfigType() = %q, want %q", got, config.WorkspaceConfig)
		}
		if want := env.URL + "/oidc/.well-known/oauth-authorization-server"; cfg.DiscoveryURL != want {
			t.Errorf("DiscoveryURL = %q, want %q", cfg.DiscoveryURL, want)
		}
		if cfg.AuthType != "pat" {
			t.Errorf("AuthType = %q, want pat", cfg.AuthType)
		}
	})

	t.Run("API calls carry the workspace routing header", func(t *testing.T) {
		_, err := w.CurrentUser.Me(context.Background(), iam.MeRequest{})
		must(t, err, "Me")
		calls := env.rec.find("GET", "/api/2.0/preview/scim/v2/Me")
		if len(calls) == 0 {
			t.Fatal("no /Me request recorded")
		}
		last := calls[len(calls)-1]
		if last.WorkspaceHeader != wsID {
			t.Errorf("X-Databricks-Workspace-Id = %q, want %q", last.WorkspaceHeader, wsID)
		}
		if !last.Authorized {
			t.Errorf("/Me carried no Authorization header")
		}
	})
}

// TestCurrentUser covers CurrentUser.Me and CurrentWorkspaceID, the first
// calls of the CLI (auth describe, current-user me) and of Terraform.
func TestCurrentUser(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	admin := env.adminClient(t)
	bob, bobToken := env.createUser(t, "bob@example.com")
	bobClient := env.client(t, bobToken)

	cases := []struct {
		name       string
		me         iam.CurrentUserInterface
		userName   string
		id         int64
		wantGroups []string
		notGroups  []string
	}{
		{"admin", admin.CurrentUser, adminEmail, env.Admin.ID, []string{"admins", "users"}, nil},
		{"non-admin", bobClient.CurrentUser, "bob@example.com", bob.ID, []string{"users"}, []string{"admins"}},
	}
	for _, tc := range cases {
		t.Run("Me/"+tc.name, func(t *testing.T) {
			me, err := tc.me.Me(ctx, iam.MeRequest{})
			must(t, err, "Me")
			if me.UserName != tc.userName {
				t.Errorf("userName = %q, want %q", me.UserName, tc.userName)
			}
			if me.Id != idString(tc.id) {
				t.Errorf("id = %q, want %q", me.Id, idString(tc.id))
			}
			if !me.Active {
				t.Errorf("active = false, want true")
			}
			groups := groupNames(me.Groups)
			for _, g := range tc.wantGroups {
				if !slices.Contains(groups, g) {
					t.Errorf("groups = %v, want %q among them", groups, g)
				}
			}
			for _, g := range tc.notGroups {
				if slices.Contains(groups, g) {
					t.Errorf("groups = %v, want no %q", groups, g)
				}
			}
			for _, g := range me.Groups {
				if g.Value == "" || g.Ref != "Groups/"+g.Value {
					t.Errorf("group %+v: want a value (id) and $ref Groups/<id>", g)
				}
			}
			if len(me.Emails) == 0 || me.Emails[0].Value != tc.userName || !me.Emails[0].Primary {
				t.Errorf("emails = %+v, want the primary %s", me.Emails, tc.userName)
			}
			if !slices.Contains(me.Schemas, iam.UserSchemaUrnIetfParamsScimSchemasCore20User) {
				t.Errorf("schemas = %v, want the core User schema", me.Schemas)
			}
		})
	}

	t.Run("Me/attribute projection", func(t *testing.T) {
		tests := []struct {
			name    string
			req     iam.MeRequest
			check   func(*iam.User) bool
			explain string
		}{
			{"excludedAttributes=entitlements", iam.MeRequest{ExcludedAttributes: "entitlements"},
				func(u *iam.User) bool { return len(u.Entitlements) == 0 && u.UserName == adminEmail && u.Id != "" },
				"entitlements dropped, userName and id kept"},
			{"attributes=userName", iam.MeRequest{Attributes: "userName"},
				func(u *iam.User) bool { return u.UserName == adminEmail && u.Id != "" && len(u.Groups) == 0 },
				"only userName (and id) returned"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				me, err := admin.CurrentUser.Me(ctx, tc.req)
				must(t, err, "Me")
				if !tc.check(me) {
					t.Errorf("Me(%+v) = %+v, want %s", tc.req, me, tc.explain)
				}
			})
		}
	})

	t.Run("CurrentWorkspaceID", func(t *testing.T) {
		for name, w := range map[string]interface {
			CurrentWorkspaceID(context.Context) (int64, error)
		}{"admin": admin, "non-admin": bobClient} {
			id, err := w.CurrentWorkspaceID(ctx)
			must(t, err, name+": CurrentWorkspaceID (reads X-Databricks-Org-Id)")
			if id != env.WorkspaceID {
				t.Errorf("%s: CurrentWorkspaceID = %d, want %d", name, id, env.WorkspaceID)
			}
		}
	})
}

// groupNames returns the display names of SCIM group references.
func groupNames(refs []iam.ComplexValue) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Display)
	}
	return out
}
