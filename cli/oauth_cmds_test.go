package cli_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/cli"
)

// TestOAuthSecretCommands drives kiln service-principals secrets and
// kiln tokens create --scope through the binary, then buys an access
// token with the printed secret.
func TestOAuthSecretCommands(t *testing.T) {
	f := newFixture(t)
	f.configure(t, "DEFAULT", f.admin)
	r := check{name: "create sp", args: []string{"service-principals", "create", "--display-name", "m2m", "-o", "json"}, json: true}.run(t, f.home)
	var sp struct {
		ID            string `json:"id"`
		ApplicationID string `json:"applicationId"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sp); err != nil || sp.ID == "" {
		t.Fatalf("service principal: %v %q", err, r.stdout)
	}
	r = check{name: "secret create", args: []string{"service-principals", "secrets", "create", sp.ID, "--lifetime", "30d"},
		stderr: []string{"Created OAuth secret", "which expires"}}.run(t, f.home)
	secret := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(secret, "dose") {
		t.Fatalf("secrets create printed %q, want the secret alone", r.stdout)
	}
	r = check{name: "secret list", args: []string{"service-principals", "secrets", "list", sp.ID}, stdout: []string{"ACTIVE", "SECRET HASH"}}.run(t, f.home)
	if strings.Contains(r.stdout, secret) {
		t.Fatal("the list shows the secret")
	}
	id := strings.Fields(strings.Split(r.stdout, "\n")[1])[0]

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"all-apis"}}
	req, _ := http.NewRequest("POST", f.url+"/oidc/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sp.ApplicationID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("token with the CLI's secret: %v %v", resp, err)
	}
	resp.Body.Close()

	runChecks(t, f.home, []check{
		{name: "secret delete", args: []string{"service-principals", "secrets", "delete", sp.ID, id}, stderr: []string{"Deleted OAuth secret"}},
		{name: "secret delete twice", args: []string{"service-principals", "secrets", "delete", sp.ID, id}, code: cli.ExitNotFound},
		{name: "secret bad lifetime", args: []string{"service-principals", "secrets", "create", sp.ID, "--lifetime", "soon"}, code: cli.ExitUsage},
		{name: "scoped token", args: []string{"tokens", "create", "--comment", "jobs only", "--scope", "jobs:read", "-o", "json"}, json: true,
			stdout: []string{`"scopes": [`, `"jobs:read"`}},
		{name: "unknown scope", args: []string{"tokens", "create", "--scope", "everything"}, code: 1, stderr: []string{"Unknown scope"}},
	})
}
