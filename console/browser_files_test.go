package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/kiln-dev/kiln/kilntest"
)

// testSecrets walks the Secrets pages in a real browser: a user creates a
// scope, saves a secret in a password field, grants a teammate READ; the
// teammate sees the key without a value and without any control beyond
// reading; the owner revokes the grant, deletes the secret and the scope,
// each after its confirmation.
func testSecrets(t *testing.T, b *browser) {
	e := b.env
	e.NewUser(t, "sec-owner@example.com", false)
	e.NewUser(t, "sec-mate@example.com", false)
	const value = "browser-VALUE-4c1d-never-shown"

	o := b.newTab(t)
	o.signIn("sec-owner@example.com", "user-password-123")
	o.click("link", "Secrets")
	o.waitTitle("Secrets · kiln")
	o.waitText("No secret scopes you may read.")
	o.fill("textbox", "Scope name", "payments")
	o.click("button", "Create scope")
	o.waitTitle("payments · Secrets · kiln")
	o.waitText("Scope payments was created.")
	o.fill("textbox", "Key", "stripe-key")
	o.fill("textbox", "Value", value)
	if typ, _ := chromedp.Run(o.ctx, chromedp.Evaluate[string]("document.getElementById('secret-value').type")); typ != "password" {
		t.Errorf("the Value field is of type %q, want password", typ)
	}
	o.shot("95-secrets-save")
	o.click("button", "Save secret")
	o.waitText("Secret stripe-key was saved.")
	o.fill("textbox", "User, group or service principal", "sec-mate@example.com")
	o.do("choosing READ", chromedp.SetValue("Permission", "READ", byRole("combobox", "Permission")))
	o.click("button", "Grant")
	o.waitText("sec-mate@example.com now has READ on payments.")
	o.waitFor("button", "Revoke sec-mate@example.com")
	o.shot("96-secrets-scope")
	if strings.Contains(o.html(), value) {
		t.Fatal("the scope page carries the secret's value")
	}

	// The teammate: the key, no value, no controls.
	m := b.newTab(t)
	m.signIn("sec-mate@example.com", "user-password-123")
	m.open("/secrets")
	m.waitTitle("Secrets · kiln")
	m.click("link", "payments")
	m.waitTitle("payments · Secrets · kiln")
	m.waitText("stripe-key")
	for _, c := range [][2]string{{"button", "Save secret"}, {"button", "Grant"}, {"button", "Delete scope"}, {"button", "Delete stripe-key"}, {"button", "Revoke sec-mate@example.com"}} {
		if m.present(c[0], c[1]) {
			t.Errorf("a READ user sees %s", role(c[0], c[1]))
		}
	}
	m.shot("97-secrets-reader")
	if strings.Contains(m.html(), value) {
		t.Fatal("the reader's page carries the secret's value")
	}

	// Revoke, delete the secret and the scope, each confirmed.
	o.click("button", "Revoke sec-mate@example.com")
	o.waitFor("dialog", "Revoke access of sec-mate@example.com?")
	o.shot("98-secrets-revoke")
	o.click("button", "Confirm")
	o.waitText("The grant of sec-mate@example.com on payments was revoked.")
	o.click("button", "Delete stripe-key")
	o.waitFor("dialog", "Delete secret stripe-key?")
	o.click("button", "Confirm")
	o.waitText("Secret stripe-key was deleted.")
	o.click("button", "Delete scope")
	o.waitFor("dialog", "Delete scope payments?")
	o.click("button", "Confirm")
	o.waitTitle("Secrets · kiln")
	o.waitText("Scope payments was deleted.")
	m.open("/secrets")
	m.waitTitle("Secrets · kiln")
	if strings.Contains(m.text(), "payments") {
		t.Error("the teammate still sees the deleted scope")
	}
}

// testDBFS walks the DBFS browser: a new folder, an upload into it, the
// listing with its breadcrumbs, Download (fetched through the link, with
// the page's session), and Delete after its confirmation.
func testDBFS(t *testing.T, b *browser) {
	e := b.env
	e.NewUser(t, "dbfs-user@example.com", false)
	local := filepath.Join(t.TempDir(), "train.py")
	const script = "print('training')\n"
	if err := os.WriteFile(local, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}

	u := b.newTab(t)
	u.signIn("dbfs-user@example.com", "user-password-123")
	u.click("link", "DBFS")
	u.waitTitle("DBFS · kiln")
	u.fill("textbox", "Folder name", "jobs")
	u.click("button", "Create folder")
	u.waitText("Folder jobs was created.")
	u.click("link", "jobs/")
	u.waitTitle("/jobs · DBFS · kiln")
	u.chooseFile("File", local)
	u.shot("99-dbfs-upload")
	u.click("button", "Upload")
	u.waitText("train.py was uploaded.")
	u.waitFor("link", "Download train.py")
	u.waitText("18 B")
	u.shot("99-dbfs-listing")
	got, err := chromedp.Run(u.ctx, chromedp.Evaluate[string](
		`fetch(document.querySelector('a[aria-label="Download train.py"]').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || got != script {
		t.Errorf("downloading train.py: %q, %v", got, err)
	}
	if fi, err := e.Svc().DBFSStatus(kilntest.Offline(), "/jobs/train.py"); err != nil || fi.Size != int64(len(script)) {
		t.Errorf("the uploaded file: %+v, %v", fi, err)
	}
	u.waitText("18 B of your 64.0 MB quota")
	u.waitFor("meter", "Your DBFS quota used")

	// A large upload shows its progress: the network is slowed to 1 MiB/s
	// so that a 3 MiB file takes seconds.
	big := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(big, make([]byte, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	u.do("slowing uploads", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{DownloadThroughput: -1, UploadThroughput: 1 << 20}}})
		return err
	}))
	u.chooseFile("File", big)
	u.click("button", "Upload")
	u.waitFor("progressbar", "Upload progress")
	if err := u.eventually(`(() => { const p = document.getElementById('upload-progress'); return !!p && p.value > 0 && p.value < 100 &&
		document.body.innerText.includes('Uploading… ' + p.value + '%'); })()`); err != nil {
		t.Fatalf("the upload's progress was never shown part way: %v", err)
	}
	u.shot("99-dbfs-progress")
	u.waitText("data.bin was uploaded.")
	u.waitFor("link", "Download data.bin")
	u.waitText("3.0 MB of your 64.0 MB quota")
	if title, _ := chromedp.Run(u.ctx, chromedp.Evaluate[string]("document.title")); title != "/jobs · DBFS · kiln" {
		t.Errorf("after the upload the page is titled %q", title)
	}
	u.do("restoring the network", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{}})
		return err
	}))

	// The breadcrumbs lead back up; Delete asks first.
	u.click("link", "DBFS")
	u.waitTitle("DBFS · kiln")
	u.click("button", "Delete jobs")
	u.waitFor("dialog", "Delete jobs?")
	u.shot("99-dbfs-delete")
	u.click("button", "Confirm")
	u.waitText("jobs was deleted.")
	u.waitText("This folder is empty.")
}

// chooseFile puts file into the file field labelled name, as choosing it
// in the browser's file dialog does. The field is found by its role and
// label in the page's accessibility tree (Chromium names a file field a
// button). The full tree is read: Accessibility.queryAXTree, which byRole
// uses, does not find file fields.
func (tb *btab) chooseFile(name, file string) {
	tb.t.Helper()
	tb.do("choosing "+file+" in "+role("button", name), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		if err != nil {
			return err
		}
		for _, ax := range res.Nodes {
			if ax.Ignored || ax.BackendDOMNodeID == 0 || ax.Role == nil || ax.Name == nil {
				continue
			}
			if string(ax.Role.Value) == `"button"` && string(ax.Name.Value) == fmt.Sprintf("%q", name) {
				_, err := cdp.Call(ctx, t, dom.SetFileInputFiles, dom.SetFileInputFilesParams{Files: []string{file}, BackendNodeID: ax.BackendDOMNodeID})
				return err
			}
		}
		return fmt.Errorf("no %s on the page", role("button", name))
	}))
}
