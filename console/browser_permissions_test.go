package console_test

// Browser tests of the Permissions pages, run by TestBrowser in its
// shared Chromium.

import (
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// testPermissions walks the Permissions pages as people would: the owner
// of a job opens its Permissions from the job's page, adds a grant by
// keyboard-reachable labelled fields, sees it listed as direct, and
// removes it through the confirmation dialog; then grants on a folder and
// opens a notebook in it, where the grant is listed as inherited from the
// folder and cannot be removed; the grantee sees the same list read-only.
// pia and quinn are this subtest's own users.
func testPermissions(t *testing.T, b *browser) {
	e := b.env
	pia := e.NewUser(t, "pia@example.com", false)
	e.NewUser(t, "quinn@example.com", false)
	home := "/Users/pia@example.com"
	if err := e.Svc().Mkdirs(as(pia), home+"/team"); err != nil {
		t.Fatal(err)
	}
	e.importNotebook(t, pia, home+"/team/daily", `print("daily")`)
	job, err := e.Svc().CreateJob(as(pia), json.RawMessage(`{"name": "team-daily",
		"tasks": [{"task_key": "d", "notebook_task": {"notebook_path": "`+home+`/team/daily"}}]}`))
	if err != nil {
		t.Fatal(err)
	}

	p := b.newTab(t)
	p.signIn("pia@example.com", "user-password-123")

	// 1. The job's Permissions, from the job's page.
	p.open("/jobs/" + num(job.ID))
	p.waitTitle("team-daily · Jobs · kiln")
	p.click("link", "Permissions")
	p.waitTitle("Permissions of team-daily · Jobs · kiln")
	p.waitText("You can manage permissions on this job")
	p.waitText("pia@example.com")
	if p.present("button", "Remove pia@example.com") {
		t.Error("the owner's row offers Remove")
	}

	// 2. Add a grant, reaching the form by keyboard with a visible focus.
	p.tabTo("Name")
	if outline := p.eval("getComputedStyle(document.activeElement).outlineStyle"); outline == "none" || outline == "" {
		t.Errorf("the focused Name field shows no focus outline (outline-style %q)", outline)
	}
	p.fill("textbox", "Name", "quinn@example.com")
	p.do("choosing CAN_MANAGE_RUN", chromedp.SetValue("Permission level", "CAN_MANAGE_RUN", byRole("combobox", "Permission level")))
	p.tabTo("Add")
	p.keys(kb.Enter)
	p.waitText("quinn@example.com now has CAN_MANAGE_RUN.")
	p.waitFor("button", "Remove quinn@example.com")
	p.waitFor("combobox", "Level of quinn@example.com")
	if got := p.value("combobox", "Level of quinn@example.com"); got != "CAN_MANAGE_RUN" {
		t.Errorf("quinn's row shows %q, want CAN_MANAGE_RUN", got)
	}
	p.shot("95-permissions-job")
	p.phone(true)
	p.shot("95-permissions-job-phone")
	p.phone(false)

	// 3. A level of another object type is refused in words.
	p.fill("textbox", "Name", "quinn@example.com")
	p.eval(`(function () { var o = document.createElement("option"); o.value = o.textContent = "CAN_RUN"; document.getElementById("perm-level").append(o); document.getElementById("perm-level").value = "CAN_RUN"; return ""; })()`)
	p.click("button", "Add")
	p.waitText(`Permission level "CAN_RUN" is not valid for jobs`)

	// 4. Remove, through the confirmation dialog.
	p.click("button", "Remove quinn@example.com")
	p.waitFor("dialog", "Remove the grant of quinn@example.com?")
	p.shot("96-permissions-remove")
	p.click("button", "Confirm")
	p.waitText("The grant of quinn@example.com was removed.")
	if p.present("button", "Remove quinn@example.com") {
		t.Error("quinn's grant is still listed after Remove")
	}

	// 5. A grant on a folder, then the notebook in it.
	p.open("/workspace" + home + "/team")
	p.waitTitle("team · Workspace · kiln")
	p.click("link", "Permissions")
	p.waitTitle("Permissions of " + home + "/team · Workspace · kiln")
	p.fill("textbox", "Name", "quinn@example.com")
	p.do("choosing CAN_READ", chromedp.SetValue("Permission level", "CAN_READ", byRole("combobox", "Permission level")))
	p.click("button", "Add")
	p.waitText("quinn@example.com now has CAN_READ.")
	p.open("/workspace" + home + "/team/daily")
	p.waitTitle("daily · Workspace · kiln")
	p.click("link", "Permissions")
	p.waitTitle("Permissions of " + home + "/team/daily · Workspace · kiln")
	p.waitText("Inherited from " + home + "/team")
	p.waitFor("link", home+"/team")
	if p.present("button", "Remove quinn@example.com") || p.present("combobox", "Level of quinn@example.com") {
		t.Error("the inherited grant can be changed on the notebook")
	}
	p.shot("97-permissions-notebook-inherited")
	p.click("link", home+"/team")
	p.waitTitle("team · Workspace · kiln")

	// 6. quinn reads the notebook's permissions, without forms.
	q := b.newTab(t)
	q.signIn("quinn@example.com", "user-password-123")
	q.open("/workspace" + home + "/team/daily")
	q.waitTitle("daily · Workspace · kiln")
	q.click("link", "Permissions")
	q.waitText("You can see these permissions but not change them.")
	q.waitText("Inherited from " + home + "/team")
	if q.present("button", "Add") {
		t.Error("quinn, who may only read, is offered Add")
	}
	q.shot("98-permissions-read-only")
}
