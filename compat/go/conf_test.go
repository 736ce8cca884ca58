package compat

import (
	"context"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// TestWorkspaceConf covers WorkspaceConf.GetStatus and SetStatus: values
// are strings kept verbatim, unknown keys give the exact message
// Terraform parses, and the PAT switch really switches tokens off and on.
func TestWorkspaceConf(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)

	get := func(t *testing.T, keys string) map[string]string {
		t.Helper()
		got, err := w.WorkspaceConf.GetStatus(ctx, settings.GetStatusRequest{Keys: keys})
		must(t, err, "GetStatus "+keys)
		if got == nil {
			t.Fatalf("GetStatus %s: nil map", keys)
		}
		return *got
	}

	t.Run("GetStatus returns exactly the requested keys", func(t *testing.T) {
		got := get(t, "enableTokensConfig,maxTokenLifetimeDays")
		want := map[string]string{"enableTokensConfig": "true", "maxTokenLifetimeDays": "730"}
		if len(got) != len(want) {
			t.Errorf("GetStatus = %v, want exactly %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
	})

	t.Run("SetStatus round trip", func(t *testing.T) {
		cases := []struct {
			name string
			set  settings.WorkspaceConf
			key  string
			want string
		}{
			{"number as string", settings.WorkspaceConf{"maxTokenLifetimeDays": "30"}, "maxTokenLifetimeDays", "30"},
			{"verbatim casing, as Terraform expects", settings.WorkspaceConf{"enableTokensConfig": "TRue"}, "enableTokensConfig", "TRue"},
			{"back to lower case", settings.WorkspaceConf{"enableTokensConfig": "true"}, "enableTokensConfig", "true"},
			{"another number", settings.WorkspaceConf{"maxTokenLifetimeDays": "730"}, "maxTokenLifetimeDays", "730"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				must(t, w.WorkspaceConf.SetStatus(ctx, tc.set), "SetStatus")
				if got := get(t, tc.key)[tc.key]; got != tc.want {
					t.Errorf("%s = %q after SetStatus(%v), want %q", tc.key, got, tc.set, tc.want)
				}
			})
		}
		// "TRue" still means on: the admin's client kept working above.
	})

	t.Run("unknown keys", func(t *testing.T) {
		cases := []struct {
			name string
			call func() error
		}{
			{"GetStatus badKey", func() error {
				_, err := w.WorkspaceConf.GetStatus(ctx, settings.GetStatusRequest{Keys: "badKey"})
				return err
			}},
			{"GetStatus known,badKey", func() error {
				_, err := w.WorkspaceConf.GetStatus(ctx, settings.GetStatusRequest{Keys: "enableTokensConfig,badKey"})
				return err
			}},
			{"SetStatus badKey", func() error {
				return w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"badKey": "true"})
			}},
			{"SetStatus known and badKey", func() error {
				return w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"badKey": "true", "maxTokenLifetimeDays": "10"})
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				apiErr := env.expectAPIError(t, tc.call)
				expectIs(t, apiErr, databricks.ErrBadRequest)
				if apiErr.Message != `Invalid keys: ["badKey"]` {
					t.Errorf("message = %q, want %q", apiErr.Message, `Invalid keys: ["badKey"]`)
				}
			})
		}
		// Nothing of a refused SetStatus was applied.
		if got := get(t, "maxTokenLifetimeDays")["maxTokenLifetimeDays"]; got != "730" {
			t.Errorf("maxTokenLifetimeDays = %q after a refused SetStatus, want it unchanged (730)", got)
		}
	})

	t.Run("disallowed value", func(t *testing.T) {
		apiErr := env.expectAPIError(t, func() error {
			return w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"maxTokenLifetimeDays": "false"})
		})
		expectIs(t, apiErr, databricks.ErrBadRequest)
		if want := `Some values are not allowed: {"maxTokenLifetimeDays":"false"}`; !strings.HasPrefix(apiErr.Message, want) {
			t.Errorf("message = %q, want it to start with %q", apiErr.Message, want)
		}
	})

	t.Run("non-admin is refused", func(t *testing.T) {
		_, tok := env.createUser(t, "carol@example.com")
		carol := env.client(t, tok)
		for name, call := range map[string]func() error{
			"GetStatus": func() error {
				_, err := carol.WorkspaceConf.GetStatus(ctx, settings.GetStatusRequest{Keys: "enableTokensConfig"})
				return err
			},
			"SetStatus": func() error {
				return carol.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"maxTokenLifetimeDays": "1"})
			},
		} {
			t.Run(name, func(t *testing.T) {
				expectIs(t, env.expectAPIError(t, call), databricks.ErrPermissionDenied)
			})
		}
	})

	t.Run("enableTokensConfig=false switches tokens off", func(t *testing.T) {
		must(t, w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"enableTokensConfig": "false"}), "SetStatus off")
		apiErr := env.expectAPIError(t, func() error {
			_, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
			return err
		})
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
		// The admin's own token is now refused too, so switch back offline;
		// existing tokens work again.
		env.setConf(t, map[string]string{"enableTokensConfig": "true"})
		_, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "Me after tokens were switched back on")
	})
}
