package console_test

// Browser test of the Compute pages, run by TestBrowser in its shared
// Chromium.

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kiln-dev/kiln/service"
)

// waitUpdated waits, without reloading, until a visible element with the
// role and name is on the page: a cluster's passing states end on the
// server's sweep, and the page must update itself to show them.
func (tb *btab) waitUpdated(r, name string) {
	tb.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !tb.present(r, name); {
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s never appeared without a reload; the page reads:\n%s", role(r, name), tb.text())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testCompute creates a cluster through the Clusters API as cora, opens
// Compute from the header by keyboard, terminates the cluster through the
// confirm dialog and sees its state change, then starts it again, and
// restarts it with scripts off through the confirmation page. A user
// it is shared with (CAN_ATTACH_TO) sees it without buttons; one it is
// not shared with does not see it. cora, otto and pia are this subtest's
// own users.
func testCompute(t *testing.T, b *browser) {
	e := b.env
	e.EnableTokens(t)
	e.NewUser(t, "cora@example.com", false)
	e.NewUser(t, "otto@example.com", false)
	e.NewUser(t, "pim@example.com", false)
	tok := e.Token(t, "cora@example.com", 0)
	res := e.Do(t, "POST", "/api/2.1/clusters/create", tok, map[string]any{
		"cluster_name": "nightly-etl", "spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "num_workers": 1})
	id, _ := res.JSON(t)["cluster_id"].(string)
	if res.Status != 200 || id == "" {
		t.Fatalf("clusters/create: %d %s", res.Status, res.Body)
	}
	if r := e.Do(t, "PATCH", "/api/2.0/permissions/clusters/"+id, tok, map[string]any{
		"access_control_list": []map[string]string{{"user_name": "otto@example.com", "permission_level": service.LevelCanAttachTo}}}); r.Status != 200 {
		t.Fatalf("sharing the cluster: %d %s", r.Status, r.Body)
	}

	p := b.newTab(t)
	p.signIn("cora@example.com", "user-password-123")

	// 1. Compute, from the header, by keyboard, with a visible focus.
	p.tabTo("Compute")
	if outline := p.eval("getComputedStyle(document.activeElement).outlineStyle"); outline == "none" {
		t.Error("the focused Compute link shows no outline")
	}
	p.keys(kb.Enter)
	p.waitTitle("Compute · kiln")
	p.waitFor("table", "Clusters, this server's executor first, then oldest first")
	p.waitFor("link", "kiln (this server)")
	p.waitFor("link", "nightly-etl")
	p.shot("compute-01-list")
	p.phone(true)
	p.shot("compute-02-list-phone")
	p.phone(false)

	// 2. The cluster's page, once it runs.
	p.click("link", "nightly-etl")
	p.waitTitle("nightly-etl · Compute · kiln")
	p.waitUpdated("button", "Restart")
	if !strings.Contains(p.text(), id) || !p.present("button", "Terminate") || p.present("button", "Start") {
		t.Errorf("the running cluster's page lacks its id or Terminate, or offers Start:\n%s", p.text())
	}
	p.shot("compute-03-cluster-running")

	// 3. Terminate, confirmed in the dialog, by keyboard.
	p.tabTo("Terminate")
	if outline := p.eval("getComputedStyle(document.activeElement).outlineStyle"); outline == "none" {
		t.Error("the focused Terminate button shows no outline")
	}
	p.keys(kb.Enter)
	p.waitFor("dialog", "Terminate cluster nightly-etl?")
	p.shot("compute-04-terminate-confirmation")
	p.click("button", "Confirm")
	p.waitText("Cluster " + id + " is terminating.")
	after := p.eval("document.getElementById('cluster-state').textContent")
	if after != "Terminating" && after != "Terminated" {
		t.Errorf("after Terminate the state reads %q", after)
	}
	p.waitUpdated("button", "Start")
	if state := p.eval("document.getElementById('cluster-state').textContent"); state != "Terminated" {
		t.Errorf("with Start offered the state reads %q", state)
	}
	// The page read Terminating (the state lasts a second at least, and
	// the page loaded at once), so the update that showed Terminated was
	// a live one, and announced.
	if msg := p.eval("document.getElementById('cluster-live-status').textContent"); after == "Terminating" && msg != "The cluster is now Terminated." {
		t.Errorf("the change to Terminated was announced as %q", msg)
	}
	if p.present("button", "Terminate") || p.present("button", "Restart") {
		t.Error("a terminated cluster offers Terminate or Restart")
	}
	p.shot("compute-05-cluster-terminated")

	// 4. Start it again.
	p.click("button", "Start")
	p.waitText("Cluster " + id + " is starting.")
	// Restart is offered to a running cluster only (Terminate already to
	// a pending one).
	p.waitUpdated("button", "Restart")
	if state := p.eval("document.getElementById('cluster-state').textContent"); state != "Running" {
		t.Errorf("after Start the state reads %q", state)
	}
	p.shot("compute-06-cluster-started")

	// 5. Without scripts, Restart asks on a page of its own.
	n := b.newTab(t)
	if _, err := chromedp.Call(n.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	n.signIn("cora@example.com", "user-password-123")
	n.open("/compute/" + id)
	n.waitTitle("nightly-etl · Compute · kiln")
	n.click("button", "Restart")
	n.waitTitle("Restart cluster nightly-etl? · Compute · kiln")
	n.shot("compute-07-no-scripts-restart-page")
	n.click("button", "Confirm")
	n.waitTitle("nightly-etl · Compute · kiln")
	n.waitText("Cluster " + id + " is restarting.")
	if state := n.eval("document.getElementById('cluster-state').textContent"); state != "Restarting" && state != "Running" {
		t.Errorf("after Restart the state reads %q", state)
	}

	// 6. otto may attach to it: no buttons, the reason in words.
	o := b.newTab(t)
	o.signIn("otto@example.com", "user-password-123")
	o.open("/compute")
	o.waitTitle("Compute · kiln")
	o.click("link", "nightly-etl")
	o.waitTitle("nightly-etl · Compute · kiln")
	o.waitText("Your permission, Can Attach To, lets you run tasks on this cluster.")
	for _, name := range []string{"Start", "Restart", "Terminate"} {
		if o.present("button", name) {
			t.Errorf("otto, who may only attach, is offered %s", name)
		}
	}
	o.shot("compute-08-attach-only")

	// 7. pia holds nothing on it: not listed, and closed in words.
	q := b.newTab(t)
	q.signIn("pim@example.com", "user-password-123")
	q.open("/compute")
	q.waitTitle("Compute · kiln")
	q.waitText("No clusters you may attach to.")
	if q.present("link", "nightly-etl") {
		t.Error("pia's Compute page lists a cluster not shared with her")
	}
	q.open("/compute/" + id)
	q.waitTitle("Not allowed · kiln")
	q.waitText("User pim@example.com does not have Attach permission on cluster " + id)
	q.shot("compute-09-not-allowed")
}
