package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/cli"
)

// TestTokenLifecycleCommands drives kiln tokens rotate, the expiry
// warning and kiln token-management lookup through the binary.
func TestTokenLifecycleCommands(t *testing.T) {
	f := newFixture(t)
	week := 7 * 24 * time.Hour
	short := f.mint(t, janeEmail, &week, "nightly")
	f.configure(t, "DEFAULT", short)
	f.configure(t, "admin", f.admin)

	// A token within the 14-day warning window: every command warns, once,
	// on stderr, and stdout stays clean.
	r := check{name: "warning", args: []string{"current-user", "me"}, stdout: []string{janeEmail},
		stderr: []string{`Warning: the token of profile "DEFAULT" expires in 7 days`, "kiln tokens rotate current"}}.run(t, f.home)
	if strings.Count(r.stderr, "Warning:") != 1 {
		t.Errorf("warned more than once:\n%v", r)
	}
	check{name: "admin token has no warning", args: []string{"current-user", "me", "-p", "admin"}, stdout: []string{adminEmail}}.run(t, f.home)
	if r := run(t, f.home, nil, "", "current-user", "me", "-p", "admin"); strings.Contains(r.stderr, "Warning") {
		t.Errorf("a 90-day token was warned about:\n%v", r)
	}

	// Rotate the profile's own token; stdout is the new value alone.
	r = check{name: "rotate current", args: []string{"tokens", "rotate", "current", "--grace", "1h"},
		stderr: []string{"Rotated token", `("nightly")`, "The old token works until", "(in 1 hour): replace it everywhere before then."}}.run(t, f.home)
	newValue := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(newValue, "dapi") || newValue == short {
		t.Fatalf("rotate printed %q, want a new token value", r.stdout)
	}
	check{name: "old token in grace still works", args: []string{"tokens", "list"}, stdout: []string{"nightly", "in 1 hour (rotated)"}}.run(t, f.home)
	runChecks(t, f.home, []check{
		{name: "rotate twice", args: []string{"tokens", "rotate", "current"}, code: 1, stderr: []string{"already rotated"}},
		{name: "bad grace", args: []string{"tokens", "rotate", "current", "--grace", "soon"}, code: cli.ExitUsage, stderr: []string{"--grace"}},
	})

	// The new token is used once, then its address recorded.
	check{name: "new token works", args: []string{"current-user", "me"}, env: map[string]string{"DATABRICKS_HOST": f.url, "DATABRICKS_TOKEN": newValue},
		stdout: []string{janeEmail}}.run(t, f.home)
	if err := f.srv.Index.FlushLastUsed(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Lookup of the new value, from stdin, then with --revoke.
	check{name: "lookup", args: []string{"token-management", "lookup", "-p", "admin"}, stdin: newValue + "\n",
		stdout: []string{janeEmail, "live", "nightly", "127.0.0.1"}, stderr: []string{"The token is live"}}.run(t, f.home)
	check{name: "lookup revoke", args: []string{"token-management", "lookup", "--revoke", "-p", "admin", "-o", "json"}, stdin: newValue,
		stdout: []string{`"revoked_now": true`}, json: true}.run(t, f.home)
	runChecks(t, f.home, []check{
		{name: "lookup empty stdin", args: []string{"token-management", "lookup", "-p", "admin"}, code: cli.ExitUsage, stderr: []string{"standard input is empty"}},
		{name: "lookup as non-admin", args: []string{"token-management", "lookup"}, stdin: newValue, code: cli.ExitPermission},
	})
}
