package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kiln-dev/kiln/kilntest"
)

// testTokenLifecycle walks what a user and an admin see of the token
// lifecycle in a real browser: the banner of tokens that end soon, Rotate
// (the new value shown once, the old token still working), and the
// Access Control preview of the tokens a lower maximum lifetime ends,
// listed before Confirm. It runs last: it lowers the workspace's cap.
func testTokenLifecycle(t *testing.T, b *browser) {
	e := b.env
	e.EnableTokens(t)
	e.SetConf(t, map[string]string{"maxTokenLifetimeDays": "730"})
	e.NewUser(t, "rotor@example.com", true)
	soon := e.NewToken(t, "rotor@example.com", 3*24*time.Hour)
	later := e.NewToken(t, "rotor@example.com", 300*24*time.Hour)

	u := b.newTab(t)
	u.signIn("rotor@example.com", "user-password-123")
	u.open("/jobs")
	// The banner is on every page, naming only the token that ends soon.
	u.waitText("One of your tokens ends soon.")
	u.shot("80-ending-banner")
	if n, _ := chromedp.Run(u.ctx, chromedp.Evaluate[int]("document.querySelectorAll('.ending-tokens li').length")); n != 1 {
		t.Errorf("the banner lists %d tokens, want 1", n)
	}
	u.click("button", "Rotate")
	u.waitFor("dialog", "Rotate token?")
	u.click("button", "Confirm")
	u.waitText("Your token has been rotated.")
	u.shot("81-token-rotated")
	value := u.value("textbox", "Token")
	if !tokenPattern.MatchString(value) || value == soon.Value {
		t.Fatalf("the page shows %q, not a new token", value)
	}
	for name, tok := range map[string]string{"new": value, "old, in its grace period": soon.Value} {
		if r := e.Do(t, http.MethodGet, "/api/2.0/token/list", tok, nil); r.Status != http.StatusOK {
			t.Errorf("the %s token gets %d", name, r.Status)
		}
	}
	u.click("button", "Done")
	u.waitTitle("Access Tokens · User Settings · kiln")
	if strings.Contains(u.html(), value) {
		t.Error("the rotated token's value is still in the page after Done")
	}
	u.waitText("Rotated")

	// Access Control: a 30-day maximum ends the 300-day token (and any
	// older than 30 days); the preview lists it before anything changes.
	u.open("/admin/access-control")
	u.waitTitle("Access Control · Admin Console · kiln")
	u.fill("spinbutton", "Maximum lifetime (days)", "30")
	u.fill("spinbutton", "Default lifetime (days)", "30")
	u.click("button", "Save")
	u.waitTitle("Confirm token policy · Admin Console · kiln")
	u.waitText("Older than the maximum lifetime")
	u.waitText("rotor@example.com")
	u.shot("82-policy-preview")
	if r := e.Do(t, http.MethodGet, "/api/2.0/token-management/tokens/"+later.Info.ID, value, nil); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), fmt.Sprint(later.Info.Expires.UnixMilli())) {
		t.Errorf("the preview changed the 300-day token: %d %s", r.Status, r.Body)
	}
	u.click("button", "Confirm")
	u.waitText("Token lifetimes saved.")
	want := later.Info.Created.Add(30 * 24 * time.Hour).UnixMilli()
	if r := e.Do(t, http.MethodGet, "/api/2.0/token-management/tokens/"+later.Info.ID, value, nil); !strings.Contains(string(r.Body), fmt.Sprint(want)) {
		t.Errorf("after Confirm the 300-day token should end 30 days after its creation (%d): %s", want, r.Body)
	}

	// Leak response on the Tokens tab: a value that is not a token is
	// refused clearly; the new token's value, pasted, is found and revoked.
	u.open("/admin/tokens")
	u.waitTitle("Tokens · Admin Console · kiln")
	u.fill("textbox", "Token value", "hunter2")
	u.click("button", "Look up")
	u.waitText("token_value is not a kiln token")
	u.fill("textbox", "Token value", value)
	u.click("checkbox", "Revoke it if it still works")
	u.click("button", "Look up")
	u.waitText("Revoked now")
	u.waitText("rotor@example.com")
	u.shot("83-token-lookup")
	if strings.Contains(u.html(), value) {
		t.Error("the looked-up value is echoed in the page")
	}
	if r := e.Do(t, http.MethodGet, "/api/2.0/token/list", value, nil); r.Status != http.StatusForbidden {
		t.Errorf("a token revoked by the lookup gets %d, want 403", r.Status)
	}
	e.SetConf(t, map[string]string{"maxTokenLifetimeDays": "", "defaultTokenLifetimeDays": ""})
}

// testWebhooks adds a webhook on the Admin Console's Webhooks tab (a
// refused secret first), then sees a delivery to a receiver on loopback
// listed as delivered.
func testWebhooks(t *testing.T, b *browser) {
	e := b.env
	e.EnableTokens(t)
	got := make(chan string, 10)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Kiln-Event")
	}))
	defer rc.Close()

	admin := b.newTab(t)
	admin.signIn(kilntest.AdminEmail, kilntest.AdminPassword)
	admin.open("/admin/webhooks")
	admin.waitTitle("Webhooks · Admin Console · kiln")
	admin.waitText("No webhooks yet.")
	admin.fill("textbox", "URL", rc.URL+"/hook")
	admin.click("checkbox", "token.created")
	admin.fill("textbox", "Secret", "short")
	// The browser's own minlength check would stop the form; the server's
	// message is what this checks.
	admin.do("dropping minlength", chromedp.Evaluate[chromedp.Void]("document.getElementById('hook-secret').removeAttribute('minlength')"))
	admin.click("button", "Add webhook")
	admin.waitText("secret must be 16 to 256 bytes long")
	if strings.Contains(admin.html(), `value="short"`) {
		t.Error("a refused secret is put back into the page")
	}
	admin.click("checkbox", "token.revoked")
	admin.fill("textbox", "Secret", "a-long-enough-secret-123")
	admin.click("button", "Add webhook")
	admin.waitText("Webhook added.")

	e.NewToken(t, kilntest.AdminEmail, 0)
	select {
	case ev := <-got:
		if ev != "token.created" {
			t.Errorf("the receiver got %q, want token.created", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery reached the receiver")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		admin.open("/admin/webhooks")
		admin.waitTitle("Webhooks · Admin Console · kiln")
		if strings.Contains(admin.text(), "Delivered") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	admin.waitText("Delivered")
	admin.shot("84-webhooks")
	admin.click("button", "Delete")
	admin.waitFor("dialog", "Delete webhook?")
	admin.click("button", "Confirm")
	admin.waitText("The webhook has been deleted.")
}
