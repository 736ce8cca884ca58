package console_test

// Browser tests of a run's task graph and of paged lists, run by
// TestBrowser in its shared Chromium. The run executes real notebooks in
// python3.

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/console"
	"github.com/kiln-dev/kiln/internal/beacon"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// testTaskGraph opens the page of a five-task run (a diamond whose one
// branch fails, and a task on its own) while its first task waits at a
// gate: the graph has a box per task with its state in words, and an
// arrow per dependency. The gate opens and the graph follows without a
// reload; a box leads to its task's output, by keyboard too.
func testTaskGraph(t *testing.T, b *browser) {
	e := b.env
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("the task graph browser test runs notebooks and needs python3: %v", err)
	}
	gus := e.NewUser(t, "gus@example.com", false)
	home := "/Users/gus@example.com/"
	e.importNotebook(t, gus, home+"hello", helloNotebook)
	e.importNotebook(t, gus, home+"boom", boomNotebook)
	e.importNotebook(t, gus, home+"quiet", "print(\"done\")\n")
	gate := beacon.New(t)
	nb := func(path string) map[string]any { return map[string]any{"notebook_path": home + path} }
	dep := func(keys ...string) []any {
		var out []any
		for _, k := range keys {
			out = append(out, map[string]string{"task_key": k})
		}
		return out
	}
	settings, _ := json.Marshal(map[string]any{"name": "pipeline", "tasks": []any{
		map[string]any{"task_key": "extract", "notebook_task": map[string]any{"notebook_path": home + "hello",
			"base_parameters": map[string]string{"gate": gate.Port(), "day": "2026-03-02"}}},
		map[string]any{"task_key": "clean", "depends_on": dep("extract"), "notebook_task": nb("quiet")},
		map[string]any{"task_key": "check", "depends_on": dep("extract"), "notebook_task": nb("boom")},
		map[string]any{"task_key": "load", "depends_on": dep("clean", "check"), "notebook_task": nb("quiet")},
		map[string]any{"task_key": "audit", "notebook_task": nb("quiet")},
	}})
	job, err := e.Svc().CreateJob(as(gus), settings)
	if err != nil {
		t.Fatal(err)
	}
	p := b.newTab(t)
	p.signIn("gus@example.com", "user-password-123")
	run, err := e.Svc().RunNow(as(gus), service.RunNowParams{JobID: job.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.waitRun(t, run.ID, "extract running", func(r *kiln.Run) bool {
		for _, tk := range r.Tasks {
			if tk.TaskKey == "extract" {
				return tk.LifeCycleState == "RUNNING"
			}
		}
		return false
	})

	p.open(console.RunPath(job.ID, run.ID))
	p.waitTitle("Run " + num(run.ID) + " of pipeline · Jobs · kiln")
	p.waitFor("heading", "Task graph")
	p.waitFor("link", "extract: Running")
	p.waitFor("link", "load: Pending")
	if n := p.count("svg.task-graph a.graph-node"); n != 5 {
		t.Errorf("the graph has %d boxes, want one per task: 5", n)
	}
	if n := p.count("svg.task-graph path.graph-edge[marker-end]"); n != 4 {
		t.Errorf("the graph has %d arrows, want 4", n)
	}
	for _, label := range []string{"Pending", "Running", "Succeeded", "Failed", "Skipped or canceled"} {
		if !p.truthy(fmt.Sprintf("Array.from(document.querySelectorAll('.graph-legend li'), li => li.textContent.trim()).includes(%q)", label)) {
			t.Errorf("the legend has no %q", label)
		}
	}
	p.do("marking the page", chromedp.Evaluate[chromedp.Void]("window.kilnNotReloaded = true"))
	p.shot("89-task-graph-running")

	// The run ends: the graph follows by itself.
	gate.Next(t, 30*time.Second).Send("open")
	want := map[string]string{
		"extract": "extract: Succeeded", "clean": "clean: Succeeded", "check": "check: Failed",
		"load": "load: Upstream failed", "audit": "audit: Succeeded",
	}
	for key, label := range want {
		expr := fmt.Sprintf("(document.querySelector('svg.task-graph a[data-task-key=%q]') || {}).getAttribute && document.querySelector('svg.task-graph a[data-task-key=%q]').getAttribute('aria-label') === %q", key, key, label)
		if err := p.eventually(expr); err != nil {
			t.Errorf("the box of %s never reads %q: %v", key, label, err)
		}
	}
	if ok, _ := chromedp.Run(p.ctx, chromedp.Evaluate[bool]("window.kilnNotReloaded === true")); !ok {
		t.Error("the run's page reloaded instead of updating in place")
	}
	states, err := chromedp.Run(p.ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(Array.from(
		document.querySelectorAll('svg.task-graph a.graph-node'), a => [a.dataset.taskKey, a.dataset.graphState]))`))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(states) != fmt.Sprint(map[string]string{"audit": "succeeded", "check": "failed", "clean": "succeeded", "extract": "succeeded", "load": "skipped"}) {
		t.Errorf("the boxes' colour classes are %v", states)
	}
	if n := p.count("svg.task-graph path.graph-edge"); n != 4 {
		t.Errorf("after the run the graph has %d arrows, want 4", n)
	}
	p.shot("89-task-graph-done")

	// A box leads to its task's output, by keyboard.
	p.tabTo("clean: Succeeded")
	p.shot("89-task-graph-focus")
	p.keys(kb.Enter)
	p.waitFor("heading", "Output of clean")
	if cur := p.count("svg.task-graph a.graph-node[aria-current][data-task-key=clean]"); cur != 1 {
		t.Error("the box of the selected task is not marked current")
	}
	p.shot("89-task-graph-selected")
	p.phone(true)
	p.shot("89-task-graph-phone")
	p.phone(false)
}

// truthy reports whether expr is true now, without waiting.
func (tb *btab) truthy(expr string) bool {
	tb.t.Helper()
	ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](expr))
	return err == nil && ok
}

// count counts the elements matching a CSS selector.
func (tb *btab) count(selector string) int {
	tb.t.Helper()
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", selector)))
	if err != nil {
		tb.t.Fatalf("counting %s: %v", selector, err)
	}
	return n
}

// testPaging walks the Users list past its first page with Next and back
// with Previous, by the links' accessible names, the second by keyboard.
func testPaging(t *testing.T, b *browser) {
	e := b.env
	for i := range 55 {
		e.newUser(t, fmt.Sprintf("paged%02d@example.com", i))
	}
	total, err := countUsers(e)
	if err != nil {
		t.Fatal(err)
	}
	p := b.newTab(t)
	p.signIn(kilntest.AdminEmail, kilntest.AdminPassword)
	p.open("/admin/users")
	p.waitTitle("Users · Admin Console · kiln")
	pages := (total + 49) / 50
	p.waitText(fmt.Sprintf("Page 1 of %d · users 1–50 of %d", pages, total))
	if n := p.count("tbody tr"); n != 50 {
		t.Errorf("page 1 lists %d users, want 50", n)
	}
	if p.present("link", "Previous page of users") {
		t.Error("page 1 offers Previous")
	}
	p.shot("90-users-page-1")
	p.click("link", "Next page of users")
	p.waitText(fmt.Sprintf("Page 2 of %d · users 51–", pages))
	if loc, _ := chromedp.Run(p.ctx, chromedp.Location()); !strings.HasSuffix(loc, "/admin/users?page=2") {
		t.Errorf("Next leads to %s", loc)
	}
	if n := p.count("tbody tr"); n != min(50, total-50) {
		t.Errorf("page 2 lists %d users, want %d", n, min(50, total-50))
	}
	p.shot("91-users-page-2")
	p.do("focusing Previous", chromedp.Focus(role("link", "Previous page of users"), byRole("link", "Previous page of users")))
	p.keys(kb.Enter)
	p.waitText(fmt.Sprintf("Page 1 of %d", pages))
	// An address past the end shows the last page.
	p.open("/admin/users?page=999")
	p.waitText(fmt.Sprintf("Page %d of %d", pages, pages))
}

// countUsers counts the workspace's users.
func countUsers(e *env) (int, error) {
	_, n, err := e.Svc().ListPrincipals(kilntest.Offline(), kiln.PrincipalFilter{Kind: kiln.KindUser, Limit: 1})
	return n, err
}
