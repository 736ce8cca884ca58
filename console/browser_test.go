package console_test

// Browser tests: a real kiln over loopback, driven through real Chromium
// with chromedp, by the labels users see. They need Chromium (Debian's
// chromium package at /usr/bin/chromium, or $KILN_CHROMIUM) and fail, never
// skip, without it: CI installs it.
//
// Screenshots of each step go to $KILN_SCREENSHOT_DIR, by default
// screenshots/console/ at the root of the repository (ignored by git).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/console"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

// chromiumPath finds the browser, failing the test when it is missing.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("KILN_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the console browser tests need Chromium, and there is none at %s (%v). "+
			"Install it with `apt-get update && apt-get install -y chromium`, or set KILN_CHROMIUM to its path.", p, err)
	}
	return p
}

// screenshotDir returns the directory screenshots go to, creating it.
// The default directory belongs to these tests, so old screenshots in it
// are removed first; a directory named in $KILN_SCREENSHOT_DIR is only
// written to.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KILN_SCREENSHOT_DIR")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "screenshots", "console")
		old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		for _, f := range old {
			os.Remove(f)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// browser is one Chromium shared by the subtests; each subtest opens its
// own tabs in their own browser contexts (separate cookie jars).
type browser struct {
	root  context.Context
	env   *env
	shots string
}

func startBrowser(t *testing.T, e *env, chromium string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The machine has no network: without these, Chromium waits on
		// connections to Google services.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(cancelRoot)
	start := time.Now()
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	return &browser{root: root, env: e, shots: screenshotDir(t)}
}

// tab is one browser tab with its own cookies.
type btab struct {
	t   *testing.T
	b   *browser
	ctx context.Context
}

// newTab opens a tab in a fresh browser context; every step in it must end
// within the deadline.
func (b *browser) newTab(t *testing.T) *btab {
	t.Helper()
	return b.newTabWithin(t, 90*time.Second)
}

// newTabWithin opens a tab in a fresh browser context whose steps must
// all end within d.
func (b *browser) newTabWithin(t *testing.T, d time.Duration) *btab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, d)
	t.Cleanup(cancelT)
	return &btab{t: t, b: b, ctx: ctx}
}

func (tb *btab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// byRole selects elements by accessible role and name, as assistive
// technology sees them: the test finds controls by the labels users read,
// and fails if a label or its role changes.
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
			NodeID: n.NodeID, Role: role, AccessibleName: name,
		})
		if err != nil {
			return nil, err
		}
		var ids []cdp.BackendNodeID
		for _, ax := range res.Nodes {
			if !ax.Ignored && ax.BackendDOMNodeID != 0 {
				ids = append(ids, ax.BackendDOMNodeID)
			}
		}
		if len(ids) == 0 {
			return nil, nil
		}
		pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: ids})
		if err != nil {
			return nil, err
		}
		return pushed.NodeIDs, nil
	})
}

// role names an element by role and accessible name, for error messages.
func role(r, name string) string { return r + " " + fmt.Sprintf("%q", name) }

// click clicks the element with the role and accessible name.
func (tb *btab) click(r, name string) {
	tb.t.Helper()
	tb.do("clicking "+role(r, name), chromedp.Click(role(r, name), byRole(r, name)))
}

// fill replaces the value of the field labelled name with text, by
// typing it.
func (tb *btab) fill(r, name, text string) {
	tb.t.Helper()
	tb.do("typing into "+role(r, name),
		chromedp.Clear(role(r, name), byRole(r, name)),
		chromedp.SendKeys(role(r, name), text, byRole(r, name)),
	)
}

// value reads the value of the field labelled name.
func (tb *btab) value(r, name string) string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Value(role(r, name), byRole(r, name)))
	if err != nil {
		tb.t.Fatalf("reading %s: %v", role(r, name), err)
	}
	return v
}

// waitFor waits until an element with the role and name is visible.
func (tb *btab) waitFor(r, name string) {
	tb.t.Helper()
	tb.do("waiting for "+role(r, name), chromedp.WaitVisible(role(r, name), byRole(r, name)))
}

// present reports whether a visible element with the role and name is on
// the current page, without waiting. (The accessibility query also
// reports elements that are not rendered, such as a hidden button, so
// each match is checked with checkVisibility.)
func (tb *btab) present(r, name string) bool {
	tb.t.Helper()
	var found bool
	err := chromedp.Do(tb.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// The query starts at the document object. DOM.getDocument would
		// do too, but it resets the node ids chromedp holds.
		doc, err := chromedp.Evaluate[*runtime.RemoteObject]("document")(ctx, t)
		if err != nil {
			return err
		}
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
			ObjectID: doc.ObjectID, Role: r, AccessibleName: name,
		})
		if err != nil {
			return err
		}
		for _, ax := range res.Nodes {
			if ax.Ignored || ax.BackendDOMNodeID == 0 {
				continue
			}
			el, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: ax.BackendDOMNodeID})
			if err != nil {
				return err
			}
			vis, err := cdp.Call(ctx, t, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
				FunctionDeclaration: "function () { return this.checkVisibility(); }",
				ObjectID:            el.Object.ObjectID, ReturnByValue: new(true),
			})
			if err != nil {
				return err
			}
			found = found || string(vis.Result.Value) == "true"
		}
		return nil
	}))
	if err != nil {
		tb.t.Fatalf("looking for %s: %v", role(r, name), err)
	}
	return found
}

// eventually evaluates expr until it is true. Errors while a navigation
// replaces the page are expected and retried.
func (tb *btab) eventually(expr string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return nil
		}
		if tb.ctx.Err() != nil {
			return tb.ctx.Err()
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("timed out")
			}
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitTitle waits until the page title is want: the way to know a
// navigation finished.
func (tb *btab) waitTitle(want string) {
	tb.t.Helper()
	if err := tb.eventually(fmt.Sprintf("document.readyState === 'complete' && document.title === %q", want)); err != nil {
		title, _ := chromedp.Run(tb.ctx, chromedp.Title())
		loc, _ := chromedp.Run(tb.ctx, chromedp.Location())
		tb.t.Fatalf("waiting for the page %q: %v (the page is %q at %s)", want, err, title, loc)
	}
}

// waitText waits until the page shows text.
func (tb *btab) waitText(text string) {
	tb.t.Helper()
	if err := tb.eventually(fmt.Sprintf("document.readyState === 'complete' && !!document.body && document.body.innerText.includes(%q)", text)); err != nil {
		body, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		tb.t.Fatalf("waiting for the text %q: %v; the page reads:\n%s", text, err, body)
	}
}

// html is the page's markup.
func (tb *btab) html() string {
	tb.t.Helper()
	h, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if err != nil {
		tb.t.Fatal(err)
	}
	return h
}

func (tb *btab) text() string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string]("document.body.innerText"))
	if err != nil {
		tb.t.Fatal(err)
	}
	return s
}

func (tb *btab) open(path string) {
	tb.t.Helper()
	tb.do("opening "+path, chromedp.Navigate(tb.b.env.URL+path))
}

// shot saves a screenshot of the whole page as name.png.
func (tb *btab) shot(name string) {
	tb.t.Helper()
	// Let dialogs finish their short opening animation.
	time.Sleep(150 * time.Millisecond)
	// A modal dialog's backdrop covers the viewport only: capture just the
	// viewport then, and the whole page otherwise.
	capture := chromedp.FullScreenshot(100)
	if modal, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[bool]("!!document.querySelector('dialog:modal')")); modal {
		capture = chromedp.CaptureScreenshot()
	}
	buf, err := chromedp.Run(tb.ctx, capture)
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(tb.b.shots, name+".png"), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// phone resizes the viewport to a phone's, or back to a laptop's.
func (tb *btab) phone(on bool) {
	tb.t.Helper()
	if on {
		tb.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	} else {
		tb.do("laptop viewport", chromedp.EmulateViewport(1280, 860))
	}
}

// keys types keys into whatever has the focus.
func (tb *btab) keys(keys string) {
	tb.t.Helper()
	tb.do("pressing keys", chromedp.KeyEvent(keys))
}

// focused describes the focused element the way a user would name it.
func (tb *btab) focused() string {
	tb.t.Helper()
	name, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`(function (el) {
		if (!el) { return ""; }
		var label = el.getAttribute("aria-label") || (el.labels && el.labels[0] && el.labels[0].textContent) || el.textContent || "";
		return label.trim();
	})(document.activeElement)`))
	if err != nil {
		tb.t.Fatal(err)
	}
	return name
}

// tabTo presses Tab until the element named name has the focus.
func (tb *btab) tabTo(name string) {
	tb.t.Helper()
	var seen []string
	for range 40 {
		tb.keys(kb.Tab)
		got := tb.focused()
		if got == name {
			return
		}
		seen = append(seen, got)
	}
	tb.t.Fatalf("Tab never reaches %q; it goes through %q", name, seen)
}

// signIn signs in through the login page and waits for User Settings.
func (tb *btab) signIn(email, password string) {
	tb.t.Helper()
	tb.open("/login")
	tb.waitTitle("Sign in · kiln")
	tb.fill("textbox", "Email", email)
	tb.fill("textbox", "Password", password)
	tb.click("button", "Sign in")
	tb.waitTitle("Access Tokens · User Settings · kiln")
}

// openAccountMenu opens the account menu in the top right.
func (tb *btab) openAccountMenu() {
	tb.t.Helper()
	tb.click("button", "Account")
	tb.waitFor("link", "User Settings")
}

var tokenPattern = regexp.MustCompile(`^dapi[0-9a-f]{32}$`)

func TestBrowser(t *testing.T) {
	start := time.Now()
	chromium := chromiumPath(t)
	// A DBFS quota, for the DBFS page's Storage card.
	e := startEnv(t, kilntest.WithConfig(func(c *server.Config) { c.DBFSQuotaPerUser = 64 << 20 }))
	b := startBrowser(t, e, chromium)
	t.Logf("screenshots: %s", b.shots)

	t.Run("TokenFlow", func(t *testing.T) { testTokenFlow(t, b) })
	t.Run("NonAdminNeverSeesAdminConsole", func(t *testing.T) { testNonAdmin(t, b) })
	t.Run("TokensDisabled", func(t *testing.T) { testTokensDisabled(t, b) })
	t.Run("ExpiredSession", func(t *testing.T) { testExpiredSession(t, b) })
	t.Run("CrossSiteFormPostRefused", func(t *testing.T) { testCrossSitePost(t, b) })
	t.Run("AdminTokensAndAuditLog", func(t *testing.T) { testAdminTokens(t, b) })
	t.Run("KeyboardOnly", func(t *testing.T) { testKeyboard(t, b) })
	t.Run("WithoutScripts", func(t *testing.T) { testWithoutScripts(t, b) })
	t.Run("Jobs", func(t *testing.T) { testJobs(t, b) })
	t.Run("TaskGraph", func(t *testing.T) { testTaskGraph(t, b) })
	t.Run("RepairRun", func(t *testing.T) { testRepairRun(t, b) })
	t.Run("JobPage", func(t *testing.T) { testJobPage(t, b) })
	t.Run("Webhooks", func(t *testing.T) { testWebhooks(t, b) })
	t.Run("Secrets", func(t *testing.T) { testSecrets(t, b) })
	t.Run("DBFS", func(t *testing.T) { testDBFS(t, b) })
	t.Run("TokenLifecycle", func(t *testing.T) { testTokenLifecycle(t, b) })
	t.Run("Workspace", func(t *testing.T) { testWorkspace(t, b) })
	t.Run("Permissions", func(t *testing.T) { testPermissions(t, b) })
	t.Run("Compute", func(t *testing.T) { testCompute(t, b) })
	// Last: it adds more users than a page holds.
	t.Run("Paging", func(t *testing.T) { testPaging(t, b) })
	t.Logf("browser tests took %v", time.Since(start).Round(time.Millisecond))
}

// testTokenFlow walks the whole flow of the issue: an admin signs in,
// enables tokens on Access Control, sets the maximum lifetime, adds a
// user and a service principal and lets the service principal use tokens;
// the user signs in, generates a token, copies it from the page, uses it
// against the REST API, and revokes it in the console, after which the API
// refuses it.
func testTokenFlow(t *testing.T, b *browser) {
	e := b.env
	admin := b.newTab(t)

	// 1. Sign in.
	admin.open("/login")
	admin.waitTitle("Sign in · kiln")
	admin.shot("01-sign-in")
	admin.fill("textbox", "Email", kilntest.AdminEmail)
	admin.fill("textbox", "Password", kilntest.AdminPassword)
	admin.click("button", "Sign in")
	admin.waitTitle("Access Tokens · User Settings · kiln")
	admin.waitText("Personal access tokens are disabled for this workspace.")

	// 2. The account menu.
	admin.openAccountMenu()
	admin.waitFor("link", "Admin Console")
	if !admin.present("button", "Log out") {
		t.Error("the account menu has no Log out")
	}
	admin.shot("02-account-menu")
	admin.click("link", "Admin Console")

	// 3. Access Control: Personal Access Tokens, Enable, Confirm.
	admin.waitTitle("Access Control · Admin Console · kiln")
	admin.click("link", "Access Control")
	admin.waitTitle("Access Control · Admin Console · kiln")
	admin.waitFor("heading", "Personal Access Tokens")
	admin.waitText("Disabled")
	// The operator sees how job tasks are confined.
	admin.waitFor("heading", "Job task sandbox")
	admin.waitText("Landlock ABI")
	admin.shot("03-access-control-disabled")
	admin.click("button", "Enable")
	admin.waitFor("dialog", "Enable personal access tokens?")
	admin.shot("04-enable-confirmation")
	admin.click("button", "Confirm")
	admin.waitText("Personal access tokens are enabled.")
	admin.waitFor("button", "Disable")
	admin.shot("05-access-control-enabled")
	admin.phone(true)
	admin.shot("05-access-control-enabled-phone")
	admin.phone(false)

	// The maximum token lifetime.
	admin.fill("spinbutton", "Maximum lifetime (days)", "365")
	admin.click("button", "Save")
	admin.waitText("Token lifetimes saved.")
	if got := admin.value("spinbutton", "Maximum lifetime (days)"); got != "365" {
		t.Errorf("Maximum lifetime (days) reads %q after saving 365", got)
	}

	// Users: add one with a password the admin sets.
	admin.click("link", "Users")
	admin.waitTitle("Users · Admin Console · kiln")
	admin.fill("textbox", "Email", "jane@example.com")
	admin.fill("textbox", "Display name", "Jane Doe")
	admin.fill("textbox", "Initial password", "jane-password-123")
	admin.click("button", "Add user")
	admin.waitText("User jane@example.com was added.")
	admin.shot("06-users")
	admin.phone(true)
	admin.shot("06-users-phone")
	admin.phone(false)

	// Service Principals: add one, then let it use tokens (CAN_USE).
	admin.click("link", "Service Principals")
	admin.waitTitle("Service Principals · Admin Console · kiln")
	admin.fill("textbox", "Display name", "nightly-etl")
	admin.click("button", "Add service principal")
	admin.waitText("Service principal nightly-etl was added")
	sps, _, err := e.Svc().ListPrincipals(kilntest.Offline(), kiln.PrincipalFilter{Kind: kiln.KindServicePrincipal})
	if err != nil || len(sps) != 1 {
		t.Fatalf("service principals after adding one: %v, %v", sps, err)
	}
	admin.shot("07-service-principals")
	admin.click("link", "Access Control")
	admin.waitTitle("Access Control · Admin Console · kiln")
	admin.do("choosing Service principal", chromedp.SetValue("Type", "service_principal", byRole("combobox", "Type")))
	admin.fill("combobox", "Name", sps[0].UserName)
	admin.click("button", "Add")
	admin.waitText("Service principal " + sps[0].UserName + " can now use personal access tokens.")
	admin.shot("08-token-permissions")
	acl, err := e.Svc().TokenPermissions(kilntest.Offline())
	if err != nil {
		t.Fatal(err)
	}
	if !hasGrant(acl, kiln.ACLEntry{ServicePrincipalName: sps[0].UserName, Level: kiln.LevelCanUse}) {
		t.Errorf("the service principal has no CAN_USE after Add: %+v", acl)
	}

	// Log out.
	admin.openAccountMenu()
	admin.click("button", "Log out")
	admin.waitTitle("Sign in · kiln")
	admin.waitText("You have signed out.")

	// 4. The new user generates a token.
	jane := b.newTab(t)
	jane.signIn("jane@example.com", "jane-password-123")
	jane.openAccountMenu()
	if jane.present("link", "Admin Console") {
		t.Error("a user who is not an admin sees Admin Console in the account menu")
	}
	jane.do("closing the menu", chromedp.KeyEvent(kb.Escape))
	jane.shot("09-user-settings-empty")
	jane.click("button", "Generate New Token")
	jane.waitFor("dialog", "Generate New Token")
	if got := jane.value("spinbutton", "Lifetime (days)"); got != "90" {
		t.Errorf("Lifetime (days) is prefilled with %q, want the workspace default 90", got)
	}
	jane.fill("textbox", "Comment", "nightly export")
	jane.shot("10-generate-new-token")
	jane.click("button", "Generate")
	jane.waitText("Your token has been created successfully.")
	jane.waitFor("button", "Copy")
	jane.waitFor("button", "Done")
	jane.shot("11-token-created")
	token := jane.value("textbox", "Token")
	if !tokenPattern.MatchString(token) {
		t.Fatalf("the page shows %q, which is not a token", token)
	}
	if loc, _ := chromedp.Run(jane.ctx, chromedp.Location()); strings.Contains(loc, token) {
		t.Errorf("the token is in the URL %s", loc)
	}
	jane.click("button", "Copy")
	// "Copied to the clipboard.", or the copy-by-hand hint where the
	// browser refuses clipboard access.
	if err := jane.eventually("document.querySelector('[data-copy-status]').textContent !== ''"); err != nil {
		t.Errorf("Copy says nothing: %v", err)
	}
	if msg, err := chromedp.Run(jane.ctx, chromedp.Evaluate[string]("document.querySelector('[data-copy-status]').textContent")); err == nil {
		t.Logf("Copy: %s", msg)
	}

	// The token works against the REST API.
	resp := e.Do(t, http.MethodGet, "/api/2.0/token/list", token, nil)
	if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), "nightly export") {
		t.Fatalf("GET /api/2.0/token/list with the new token: %d %s", resp.Status, resp.Body)
	}

	// Done closes it for good.
	jane.click("button", "Done")
	jane.waitTitle("Access Tokens · User Settings · kiln")
	jane.waitFor("cell", "nightly export")
	if strings.Contains(jane.html(), token) {
		t.Error("the token value is still in the page after Done")
	}
	// Back must not bring the value back (Done replaced the history entry
	// of the Generate response). NavigateBack waits for a load event, which
	// a page restored from the back/forward cache never fires.
	jane.do("going back", chromedp.Evaluate[chromedp.Void]("history.back()"))
	if err := jane.eventually("document.readyState === 'complete' && location.pathname === '/settings'"); err != nil {
		t.Fatalf("going back: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(jane.html(), token) {
		t.Error("Back after Done shows the token value again")
	}
	jane.open("/settings")
	jane.waitTitle("Access Tokens · User Settings · kiln")
	text := jane.text()
	for _, col := range []string{"COMMENT", "CREATED", "EXPIRES", "LAST USED"} {
		if !strings.Contains(strings.ToUpper(text), col) {
			t.Errorf("the token list has no %s column", col)
		}
	}
	jane.shot("12-token-list")
	jane.phone(true)
	jane.shot("13-token-list-phone")
	jane.phone(false)

	// Revoke with a confirmation; the API then refuses the token.
	jane.click("button", "Revoke")
	jane.waitFor("dialog", "Revoke token?")
	jane.shot("14-revoke-confirmation")
	jane.click("button", "Confirm")
	jane.waitText("The token has been revoked.")
	jane.waitText("You have no access tokens.")
	jane.shot("15-token-revoked")
	resp = e.Do(t, http.MethodGet, "/api/2.0/token/list", token, nil)
	if resp.Status != http.StatusForbidden {
		t.Errorf("the revoked token still gets %d from the API: %s", resp.Status, resp.Body)
	}
}

func hasGrant(acl []kiln.ACLEntry, want kiln.ACLEntry) bool {
	for _, e := range acl {
		if e == want {
			return true
		}
	}
	return false
}

// testNonAdmin checks that a user who is not an admin never sees Admin
// Console: not in the menu, not by typing its address.
func testNonAdmin(t *testing.T, b *browser) {
	b.env.NewUser(t, "sam@example.com", false)
	sam := b.newTab(t)
	sam.signIn("sam@example.com", "user-password-123")
	sam.openAccountMenu()
	if sam.present("link", "Admin Console") {
		t.Error("Admin Console is in the account menu of a user who is not an admin")
	}
	if !sam.present("button", "Log out") {
		t.Error("the account menu has no Log out")
	}
	sam.shot("20-non-admin-menu")
	for _, path := range []string{"/admin", "/admin/access-control", "/admin/users", "/admin/tokens", "/admin/audit"} {
		sam.open(path)
		sam.waitTitle("Not allowed · kiln")
		if text := sam.text(); strings.Contains(text, "Admin Console") || !strings.Contains(text, "Only workspace admins can open this page.") {
			t.Errorf("%s shows a user who is not an admin:\n%s", path, text)
		}
	}
	sam.shot("21-non-admin-refused")
}

// testTokensDisabled checks what User Settings says while tokens are off:
// plain words, no Generate New Token, and for an admin a link to Access
// Control.
func testTokensDisabled(t *testing.T, b *browser) {
	e := b.env
	e.SetConf(t, map[string]string{kiln.ConfEnableTokens: "false"})
	t.Cleanup(func() { e.SetConf(t, map[string]string{kiln.ConfEnableTokens: "true"}) })

	e.NewUser(t, "lee@example.com", false)
	lee := b.newTab(t)
	lee.signIn("lee@example.com", "user-password-123")
	lee.waitText("Personal access tokens are disabled for this workspace.")
	lee.waitText("Ask a workspace admin to enable them.")
	if lee.present("button", "Generate New Token") {
		t.Error("Generate New Token is offered while tokens are disabled")
	}
	if lee.present("link", "Access Control") {
		t.Error("a user who is not an admin gets a link to Access Control")
	}
	lee.shot("30-tokens-disabled-user")
	// The form's own address refuses too.
	lee.open("/settings/tokens/new")
	lee.waitTitle("Access Tokens · User Settings · kiln")

	admin := b.newTab(t)
	admin.signIn(kilntest.AdminEmail, kilntest.AdminPassword)
	admin.waitText("Personal access tokens are disabled for this workspace.")
	if admin.present("button", "Generate New Token") {
		t.Error("Generate New Token is offered to an admin while tokens are disabled")
	}
	admin.shot("31-tokens-disabled-admin")
	admin.click("link", "Access Control")
	admin.waitTitle("Access Control · Admin Console · kiln")
	admin.waitFor("button", "Enable")
}

// testExpiredSession checks that an idle session ends: the next click
// lands on sign-in with a note, and signing in returns to the page.
func testExpiredSession(t *testing.T, b *browser) {
	e := b.env
	e.NewUser(t, "kim@example.com", false)
	kim := b.newTab(t)
	kim.signIn("kim@example.com", "user-password-123")
	kim.click("link", "Password")
	kim.waitTitle("Password · User Settings · kiln")

	e.clock.Advance(console.IdleTimeout + time.Minute)
	kim.click("link", "Access Tokens")
	kim.waitTitle("Sign in · kiln")
	kim.waitText("Your session has expired. Sign in again to continue.")
	kim.shot("40-session-expired")

	kim.fill("textbox", "Email", "kim@example.com")
	kim.fill("textbox", "Password", "user-password-123")
	kim.click("button", "Sign in")
	kim.waitTitle("Access Tokens · User Settings · kiln")
}

// testCrossSitePost checks that a form on another origin cannot make a
// signed-in user's browser generate a token. The attacker's page is served
// from 127.0.0.1 on another port (same site, another origin: the browser
// sends the SameSite=Lax cookie along, so only the cross-origin check
// stands in the way) and from localhost (another site).
func testCrossSitePost(t *testing.T, b *browser) {
	e := b.env
	e.EnableTokens(t)
	e.NewUser(t, "max@example.com", false)
	victim := b.newTab(t)
	victim.signIn("max@example.com", "user-password-123")

	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Win a prize</title>
<form method="post" action="%s/settings/tokens"><input name="comment" value="forged"><input name="lifetime_days" value="30"></form>
<script>document.forms[0].submit()</script>`, e.URL)
	}))
	t.Cleanup(attacker.Close)
	port := attacker.URL[strings.LastIndex(attacker.URL, ":")+1:]

	for i, origin := range []string{"http://127.0.0.1:" + port, "http://localhost:" + port} {
		victim.do("opening the attacker's page", chromedp.Navigate(origin+"/"))
		victim.waitTitle("Request refused · kiln")
		victim.waitText("This form was sent from another site, so kiln refused it and changed nothing.")
		if i == 0 {
			victim.shot("50-cross-site-post-refused")
		}
	}
	for _, tok := range e.liveTokens(t) {
		if tok.Comment == "forged" {
			t.Fatalf("a cross-site form post created a token: %+v", tok)
		}
	}
	// The session itself still works.
	victim.open("/settings")
	victim.waitTitle("Access Tokens · User Settings · kiln")
}

// testKeyboard walks the token flow with the keyboard only: every control
// is reachable with Tab, opens with Enter and closes with Escape.
func testKeyboard(t *testing.T, b *browser) {
	e := b.env
	e.EnableTokens(t)
	e.NewUser(t, "kay@example.com", false)
	k := b.newTab(t)
	k.open("/login")
	k.waitTitle("Sign in · kiln")
	if got := k.focused(); got != "Email" {
		t.Errorf("the sign-in page starts with the focus on %q, want Email", got)
	}
	k.keys("kay@example.com")
	k.keys(kb.Tab)
	k.keys("user-password-123")
	k.keys(kb.Enter)
	k.waitTitle("Access Tokens · User Settings · kiln")

	k.tabTo("Account")
	k.keys(kb.Enter)
	k.waitFor("link", "User Settings")
	k.keys(kb.Tab)
	if got := k.focused(); got != "User Settings" {
		t.Errorf("Tab after opening the account menu goes to %q, want User Settings", got)
	}
	k.keys(kb.Escape)
	k.do("waiting for the menu to close", chromedp.WaitNotVisible(chromedp.CSS("#account-menu")))

	k.tabTo("Generate New Token")
	k.keys(kb.Enter)
	k.waitFor("dialog", "Generate New Token")
	if got := k.focused(); got != "Comment" {
		t.Errorf("the Generate New Token dialog opens with the focus on %q, want Comment", got)
	}
	k.keys(kb.Escape)
	k.do("waiting for the dialog to close", chromedp.WaitNotVisible(chromedp.CSS("#generate-dialog")))
	k.tabTo("Generate New Token")
	k.keys(kb.Enter)
	k.waitFor("dialog", "Generate New Token")
	k.keys("typed, not clicked")
	k.keys(kb.Enter)
	k.waitText("Your token has been created successfully.")
	k.tabTo("Done")
	k.keys(kb.Enter)
	k.waitTitle("Access Tokens · User Settings · kiln")
	k.waitFor("cell", "typed, not clicked")
}

// testWithoutScripts walks generate, Done and revoke with JavaScript
// switched off: every dialog has a page of its own.
func testWithoutScripts(t *testing.T, b *browser) {
	e := b.env
	e.EnableTokens(t)
	e.NewUser(t, "nojs@example.com", false)
	p := b.newTab(t)
	if _, err := chromedp.Call(p.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	p.signIn("nojs@example.com", "user-password-123")
	p.click("button", "Generate New Token")
	p.waitTitle("Generate New Token · User Settings · kiln")
	p.fill("textbox", "Comment", "no scripts")
	p.click("button", "Generate")
	p.waitText("Your token has been created successfully.")
	p.shot("60-no-scripts-token-created")
	token := p.value("textbox", "Token")
	if !tokenPattern.MatchString(token) {
		t.Fatalf("the page shows %q, which is not a token", token)
	}
	if p.present("button", "Copy") {
		t.Error("Copy is offered without scripts, where it cannot work")
	}
	p.click("button", "Done")
	if err := p.eventually("document.readyState === 'complete' && !document.getElementById('token-created')"); err != nil {
		t.Fatalf("Done: %v", err)
	}
	if strings.Contains(p.html(), token) {
		t.Error("the token value is still in the page after Done")
	}
	p.click("button", "Revoke")
	p.waitTitle("Revoke token? · User Settings · kiln")
	p.shot("61-no-scripts-revoke-page")
	p.click("button", "Confirm")
	p.waitText("The token has been revoked.")
	if resp := e.Do(t, http.MethodGet, "/api/2.0/token/list", token, nil); resp.Status != http.StatusForbidden {
		t.Errorf("the revoked token gets %d from the API", resp.Status)
	}
}

// testAdminTokens uses the Tokens tab (every token of the workspace,
// filtered by owner, revoked by an admin) and the Audit Log.
func testAdminTokens(t *testing.T, b *browser) {
	e := b.env
	e.EnableTokens(t)
	e.NewUser(t, "ops@example.com", false)
	victim := e.NewToken(t, "ops@example.com", 3*24*time.Hour)
	e.NewToken(t, kilntest.AdminEmail, 0)

	admin := b.newTab(t)
	admin.signIn(kilntest.AdminEmail, kilntest.AdminPassword)
	admin.open("/admin/tokens")
	admin.waitTitle("Tokens · Admin Console · kiln")
	admin.waitText("Expires soon")
	admin.shot("70-admin-tokens")
	admin.fill("combobox", "Owner", "ops@example.com")
	admin.click("button", "Filter")
	admin.waitText("Show all")
	if n, _ := chromedp.Run(admin.ctx, chromedp.Evaluate[int]("document.querySelectorAll('tbody tr').length")); n != 1 {
		t.Errorf("the owner filter shows %d tokens, want the 1 of ops@example.com", n)
	}
	admin.click("button", "Revoke")
	admin.waitFor("dialog", "Revoke token?")
	admin.click("button", "Confirm")
	admin.waitText("The token has been revoked.")
	if resp := e.Do(t, http.MethodGet, "/api/2.0/token/list", victim.Value, nil); resp.Status != http.StatusForbidden {
		t.Errorf("a token revoked on the Tokens tab gets %d from the API", resp.Status)
	}

	admin.click("link", "Audit Log")
	admin.waitTitle("Audit Log · Admin Console · kiln")
	admin.do("choosing an event", chromedp.SetValue("Event", "token.revoke", byRole("combobox", "Event")))
	admin.fill("textbox", "Actor", kilntest.AdminEmail)
	admin.click("button", "Filter")
	admin.waitText("Clear")
	admin.waitText("token:" + victim.Info.ID[:12])
	admin.shot("71-audit-log")
}
