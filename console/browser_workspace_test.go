package console_test

// Browser tests of the Workspace browser, run by TestBrowser in its shared
// Chromium.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// upload chooses the file at path in the file field labelled name (a
// file input is a button to assistive technology). The files are set on
// the node the accessibility query found, by its backend id: chromedp's
// element queries wait on a file input forever.
func (tb *btab) upload(name, path string) {
	tb.t.Helper()
	tb.do("choosing a file in "+role("button", name), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// The accessibility tree can lag the load: ask until it has it.
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			res, err := cdp.Call(ctx, t, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
			if err != nil {
				return err
			}
			for _, ax := range res.Nodes {
				if ax.Ignored || ax.BackendDOMNodeID == 0 || !axIs(ax, "button", name) {
					continue
				}
				_, err := cdp.Call(ctx, t, dom.SetFileInputFiles, dom.SetFileInputFilesParams{Files: []string{path}, BackendNodeID: ax.BackendDOMNodeID})
				return err
			}
		}
		return fmt.Errorf("no %s on the page", role("button", name))
	}))
}

// axIs reports whether the accessibility node has the role and name.
func axIs(ax *accessibility.Node, r, name string) bool {
	str := func(v *accessibility.Value) string {
		var s string
		if v == nil || json.Unmarshal(v.Value, &s) != nil {
			return ""
		}
		return s
	}
	return str(ax.Role) == r && str(ax.Name) == name
}

// eval evaluates the JavaScript expr, which must yield a string.
func (tb *btab) eval(expr string) string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// testWorkspace walks the Workspace browser as a user: Workspace from the
// header by keyboard, the tree down to their home, New folder, Import of a
// notebook, its page (Markdown rendered, a <script> in it inert, code as
// text), which another user can neither list, open nor download; Rename
// or move, Delete with its confirmation; the other user's home is closed
// to the first in words. Then the same Delete without scripts. wes and
// zed are this subtest's own users.
func testWorkspace(t *testing.T, b *browser) {
	e := b.env
	e.NewUser(t, "wes@example.com", false)
	e.NewUser(t, "zed@example.com", false)
	if err := e.Svc().Mkdirs(as(e.admin), "/Users/zed@example.com/private"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	nbFile := filepath.Join(dir, "daily.py")
	src := "# Databricks notebook source\n# MAGIC %md\n# MAGIC # Daily report\n# MAGIC Counts **rows** per day.\n# MAGIC <script>window.kilnPwned = true</script>\n" +
		"\n# COMMAND ----------\n\n# DBTITLE 1,Count\nrows = spark.range(10)  # <b>not bold</b>\nprint(rows.count())\n"
	if err := os.WriteFile(nbFile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}

	p := b.newTab(t)
	p.signIn("wes@example.com", "user-password-123")

	// 1. Workspace, from the header, by keyboard; then the tree.
	p.tabTo("Workspace")
	p.keys(kb.Enter)
	p.waitTitle("Workspace · kiln")
	p.waitFor("navigation", "Workspace tree")
	p.waitFor("link", "Shared")
	p.shot("90-workspace-root")
	p.click("link", "Users")
	p.waitTitle("Users · Workspace · kiln")
	if !p.present("link", "wes@example.com") || p.present("link", "zed@example.com") {
		t.Error("/Users does not list exactly wes's own home folder for wes")
	}
	p.click("link", "wes@example.com")
	p.waitTitle("wes@example.com · Workspace · kiln")
	p.waitText("This folder is empty")

	// 2. New folder.
	p.fill("textbox", "Folder name", "etl")
	p.click("button", "Create folder")
	p.waitText("The folder etl was created.")
	p.click("link", "etl")
	p.waitTitle("etl · Workspace · kiln")

	// 3. Import a notebook.
	p.upload("File", nbFile)
	p.click("button", "Import")
	p.waitText("daily.py was imported.")
	p.waitFor("link", "daily")
	p.waitFor("link", "Download daily")
	p.shot("91-workspace-folder")
	p.phone(true)
	p.shot("91-workspace-folder-phone")
	p.phone(false)

	// 4. The notebook's page.
	p.click("link", "daily")
	p.waitTitle("daily · Workspace · kiln")
	p.waitFor("heading", "Daily report")
	p.waitFor("heading", "Count")
	p.waitText("rows = spark.range(10)  # <b>not bold</b>")
	p.waitFor("link", "Download source")
	p.waitFor("link", "Download as Jupyter")
	if bold := p.eval("document.querySelector('.md strong') ? document.querySelector('.md strong').textContent : ''"); bold != "rows" {
		t.Errorf("the Markdown's **rows** is shown as %q in bold, not rows", bold)
	}
	if pwned := p.eval("String(window.kilnPwned === true || !!document.querySelector('script:not([src]), .md script, .md [onerror], .md iframe'))"); pwned != "false" {
		t.Error("the script in the notebook's Markdown ran or is in the page")
	}
	if mono := p.eval("getComputedStyle(document.querySelector('pre.code')).fontFamily"); !strings.Contains(mono, "monospace") {
		t.Errorf("code cells are set in %q, not monospace", mono)
	}
	p.shot("92-workspace-notebook")

	// 5. Another user can neither list nor open it.
	z := b.newTab(t)
	z.signIn("zed@example.com", "user-password-123")
	z.open("/workspace/Users")
	z.waitTitle("Users · Workspace · kiln")
	if !z.present("link", "zed@example.com") || z.present("link", "wes@example.com") {
		t.Error("/Users does not list exactly zed's own home folder for zed")
	}
	z.open("/workspace/Users/wes@example.com/etl/daily")
	z.waitTitle("Not allowed · kiln")
	z.waitText("You do not have permission to read /Users/wes@example.com/etl/daily.")
	if strings.Contains(z.text(), "Daily report") {
		t.Error("zed's refusal page shows wes's notebook")
	}
	z.open("/workspace/Users/wes@example.com/etl/daily?export=SOURCE")
	z.waitTitle("Not allowed · kiln")

	// 6. Rename or move.
	p.click("link", "Rename or move")
	p.waitTitle("Rename or move daily · Workspace · kiln")
	p.fill("textbox", "New name or path", "report")
	p.shot("93-workspace-rename")
	p.click("button", "Move")
	p.waitTitle("report · Workspace · kiln")
	p.waitText("was moved to /Users/wes@example.com/etl/report.")

	// 7. Delete, confirmed in the dialog.
	p.click("button", "Delete report?")
	p.waitFor("dialog", "Delete report?")
	p.shot("94-workspace-delete-confirmation")
	p.click("button", "Confirm")
	p.waitTitle("etl · Workspace · kiln")
	p.waitText("The notebook report was deleted.")
	if e.exists(t, "/Users/wes@example.com/etl/report") {
		t.Error("the notebook is still there after Delete")
	}

	// 8. Another user's home is closed, in words.
	p.open("/workspace/Users/zed@example.com/private")
	p.waitTitle("Not allowed · kiln")
	p.waitText("You do not have permission to read /Users/zed@example.com/private.")
	p.shot("95-workspace-not-allowed")

	// 9. Without scripts, Delete is a confirmation page.
	q := b.newTab(t)
	if _, err := chromedp.Call(q.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	q.signIn("wes@example.com", "user-password-123")
	q.open("/workspace/Users/wes@example.com")
	q.waitTitle("wes@example.com · Workspace · kiln")
	q.click("button", "Delete etl?")
	q.waitTitle("Delete etl? · Workspace · kiln")
	q.waitText("Delete the folder /Users/wes@example.com/etl and everything in it?")
	q.shot("96-workspace-no-scripts-delete-page")
	q.click("button", "Confirm")
	q.waitTitle("wes@example.com · Workspace · kiln")
	q.waitText("The folder etl was deleted.")
}
