package console_test

import (
	"slices"
	"testing"

	"github.com/kiln-dev/kiln/service"
)

// TestBrowserSSO signs in through a real OpenID Connect provider in
// Chromium: the console's "Sign in with …" button, the provider's own
// login page, and back into kiln with the provider's groups applied.
// Password sign-in is turned off, so the page offers no password form.
func TestBrowserSSO(t *testing.T) {
	chromium := chromiumPath(t)
	e := startSSO(t, service.SSOPolicy{CreateUsers: true, SyncGroups: true, GroupMap: map[string]string{"kiln-admins": "admins"}},
		service.PasswordLoginNone)
	b := startBrowser(t, e.env, chromium)
	tb := b.newTab(t)

	tb.open("/admin/users")
	tb.waitTitle("Sign in · kiln")
	if tb.present("textbox", "Password") {
		t.Fatal("password sign-in is off, yet the page offers a password field")
	}
	tb.waitText("Password sign-in is turned off in this workspace.")
	tb.shot("sso-sign-in")
	tb.click("link", "Sign in with Test IdP")

	// The provider's login page, by its own labels.
	tb.waitTitle("Login")
	tb.fill("textbox", "Username:", "alice@example.com")
	tb.fill("textbox", "Password:", "alice-at-the-idp")
	tb.click("button", "Login")

	// Back in kiln, on the page first asked for: the provider's
	// kiln-admins group made Alice a workspace admin.
	tb.waitTitle("Users · Admin Console · kiln")
	tb.waitText("alice@example.com")
	tb.shot("sso-signed-in-admin")
	if got := e.groupsOf(t, "alice@example.com"); !slices.Equal(got, []string{"admins", "data-eng"}) {
		t.Errorf("groups %v; want admins and data-eng", got)
	}

	// Signing out ends the kiln session only; signing in again goes
	// through the provider, which remembers nothing in this example.
	tb.openAccountMenu()
	tb.click("button", "Log out")
	tb.waitTitle("Sign in · kiln")
	tb.click("link", "Sign in with Test IdP")
	tb.waitTitle("Login")
}
