package compat

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// TestClientConfiguration checks that kiln works with the ways people
// actually configure the SDK (and so the CLI and Terraform): the default
// credential chain, environment variables, a .databrickscfg profile,
// Basic authentication with a PAT as the password, and a host URL that
// carries the workspace id.
func TestClientConfiguration(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	wsID := idString(env.WorkspaceID)

	cases := []struct {
		name string
		// setup prepares the environment and returns the explicit config.
		setup    func(t *testing.T) *databricks.Config
		authType string
	}{
		{"explicit host and token, default credential chain", func(t *testing.T) *databricks.Config {
			return &databricks.Config{Host: env.URL, Token: env.AdminToken}
		}, "pat"},
		{"DATABRICKS_HOST and DATABRICKS_TOKEN", func(t *testing.T) *databricks.Config {
			t.Setenv("DATABRICKS_HOST", env.URL)
			t.Setenv("DATABRICKS_TOKEN", env.AdminToken)
			return &databricks.Config{}
		}, "pat"},
		{"DATABRICKS_AUTH_TYPE=pat", func(t *testing.T) *databricks.Config {
			t.Setenv("DATABRICKS_HOST", env.URL)
			t.Setenv("DATABRICKS_TOKEN", env.AdminToken)
			t.Setenv("DATABRICKS_AUTH_TYPE", "pat")
			return &databricks.Config{}
		}, "pat"},
		{"DEFAULT profile of DATABRICKS_CONFIG_FILE", func(t *testing.T) *databricks.Config {
			writeConfigFile(t, env.ConfigFile, fmt.Sprintf("[DEFAULT]\nhost  = %s\ntoken = %s\n", env.URL, env.AdminToken))
			return &databricks.Config{}
		}, "pat"},
		{"named profile of DATABRICKS_CONFIG_FILE", func(t *testing.T) *databricks.Config {
			writeConfigFile(t, env.ConfigFile, fmt.Sprintf("[DEFAULT]\nhost = http://127.0.0.1:1\ntoken = wrong\n\n[kiln]\nhost  = %s\ntoken = %s\n", env.URL, env.AdminToken))
			return &databricks.Config{Profile: "kiln"}
		}, "pat"},
		{"host with ?o=<workspace id>", func(t *testing.T) *databricks.Config {
			return &databricks.Config{Host: env.URL + "/?o=" + wsID, Token: env.AdminToken}
		}, "pat"},
		{"Basic auth, user token, PAT as password", func(t *testing.T) *databricks.Config {
			return &databricks.Config{Host: env.URL, Username: "token", Password: env.AdminToken, Credentials: config.BasicCredentials{}}
		}, "basic"},
		{"Basic auth, owner's userName, PAT as password", func(t *testing.T) *databricks.Config {
			return &databricks.Config{Host: env.URL, Username: adminEmail, Password: env.AdminToken, Credentials: config.BasicCredentials{}}
		}, "basic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := env.clientFrom(t, tc.setup(t))
			me, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
			must(t, err, "Me")
			if me.UserName != adminEmail {
				t.Errorf("Me = %q, want %q", me.UserName, adminEmail)
			}
			if w.Config.AuthType != tc.authType {
				t.Errorf("AuthType = %q, want %q", w.Config.AuthType, tc.authType)
			}
			if w.Config.WorkspaceID != wsID {
				t.Errorf("WorkspaceID = %q, want %q", w.Config.WorkspaceID, wsID)
			}
			id, err := w.CurrentWorkspaceID(ctx)
			must(t, err, "CurrentWorkspaceID")
			if id != env.WorkspaceID {
				t.Errorf("CurrentWorkspaceID = %d, want %d", id, env.WorkspaceID)
			}
		})
	}

	t.Run("Basic auth with another user's name is refused", func(t *testing.T) {
		env.createUser(t, "bob@example.com")
		w := env.clientFrom(t, &databricks.Config{Host: env.URL, Username: "bob@example.com", Password: env.AdminToken, Credentials: config.BasicCredentials{}})
		apiErr := env.expectAPIError(t, func() error { _, err := w.CurrentUser.Me(ctx, iam.MeRequest{}); return err })
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
	})
}

// writeConfigFile replaces the sealed .databrickscfg for one test and
// empties it again afterwards.
func writeConfigFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(path, nil, 0o600) })
}
