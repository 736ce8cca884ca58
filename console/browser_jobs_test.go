package console_test

// Browser tests of the Jobs pages, run by TestBrowser in its shared
// Chromium. The runs execute real notebooks in python3.

import (
	"encoding/json"
	"github.com/kiln-dev/kiln/console"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/beacon"
	"github.com/kiln-dev/kiln/service"
)

// testJobs walks the Jobs pages: a user opens Jobs from the header with
// the keyboard, follows a run of a notebook to its page and watches it end
// in SUCCESS, with its result and logs, without reloading the page; then
// cancels a long-running notebook with Cancel run and Confirm and sees it
// end CANCELED. Another user gets a "not found" page for that run.
func testJobs(t *testing.T, b *browser) {
	e := b.env
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("the Jobs browser test runs notebooks and needs python3: %v", err)
	}
	rae := e.NewUser(t, "rae@example.com", false)
	e.NewUser(t, "sol@example.com", false)
	home := "/Users/rae@example.com/"
	e.importNotebook(t, rae, home+"hello", helloNotebook)
	e.importNotebook(t, rae, home+"sleepy", sleepyNotebook)
	// The run waits at its gate until the test has its page open.
	gate := beacon.New(t)
	settings, _ := json.Marshal(map[string]any{"name": "daily-report", "tasks": []any{map[string]any{
		"task_key": "report", "notebook_task": map[string]any{"notebook_path": home + "hello", "base_parameters": map[string]string{"gate": gate.Port()}},
	}}})
	job, err := e.Svc().CreateJob(as(rae), settings)
	if err != nil {
		t.Fatal(err)
	}

	p := b.newTab(t)
	p.signIn("rae@example.com", "user-password-123")
	run, err := e.Svc().RunNow(as(rae), service.RunNowParams{JobID: job.ID, RunParams: service.RunParams{NotebookParams: map[string]string{"day": "2026-03-01"}}})
	if err != nil {
		t.Fatal(err)
	}
	runLink := "Run " + num(run.ID)

	// 1. Jobs, from the header, by keyboard.
	p.tabTo("Jobs")
	p.keys(kb.Enter)
	p.waitTitle("Jobs · kiln")
	p.waitFor("link", "daily-report")
	p.waitFor("link", runLink)
	p.shot("80-jobs")
	p.phone(true)
	p.shot("80-jobs-phone")
	p.phone(false)

	// 2. The run's page, while the run waits at its gate.
	p.click("link", runLink)
	p.waitTitle(runLink + " of daily-report · Jobs · kiln")
	p.waitText("RUNNING")
	p.waitText("While the run is active, this page updates itself every 3 seconds.")
	if !p.present("button", "Cancel run") {
		t.Error("an active run's page has no Cancel run")
	}
	p.do("marking the page", chromedp.Evaluate[chromedp.Void]("window.kilnNotReloaded = true"))
	p.shot("81-run-running")

	// 3. The run ends: the page follows by itself.
	gate.Next(t, 30*time.Second).Send("open")
	p.waitText("SUCCESS")
	p.waitText(`{"answer": 42, "day": "2026-03-01"}`)
	p.waitText("hello from kiln <script>alert(1)</script>") // shown as text, not run
	if ok, _ := chromedp.Run(p.ctx, chromedp.Evaluate[bool]("window.kilnNotReloaded === true")); !ok {
		t.Error("the run's page reloaded instead of updating in place")
	}
	if msg, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string]("document.getElementById('run-live-status').textContent")); msg != "The run is now TERMINATED, SUCCESS." {
		t.Errorf("the live status says %q", msg)
	}
	if p.present("button", "Cancel run") {
		t.Error("a finished run's page still offers Cancel run")
	}
	if hidden, _ := chromedp.Run(p.ctx, chromedp.Evaluate[bool]("document.querySelector('[data-refresh-note]').hidden")); !hidden {
		t.Error("a finished run's page still says it updates itself")
	}
	p.waitFor("link", "Download logs")
	p.shot("82-run-success")
	p.phone(true)
	p.shot("82-run-success-phone")
	p.phone(false)

	// 4. A long-running notebook, canceled.
	long := e.submitRun(t, rae, `{"run_name": "nightly-sleep", "tasks": [{"task_key": "nap", "notebook_task": {"notebook_path": "`+home+`sleepy"}}]}`)
	e.waitRun(t, long.ID, "running", running)
	longLink := "Run " + num(long.ID)
	p.do("clicking Jobs in the header", chromedp.Click(chromedp.CSS(".topnav a")))
	p.waitTitle("Jobs · kiln")
	p.waitFor("link", longLink)
	p.shot("83-jobs-with-active-run")
	p.click("link", longLink)
	p.waitTitle(longLink + " of nightly-sleep · Jobs · kiln")
	p.waitText("RUNNING")
	p.shot("84-long-run-running")
	p.tabTo("Cancel run")
	p.keys(kb.Enter)
	p.waitFor("dialog", "Cancel run?")
	p.shot("85-cancel-confirmation")
	p.click("button", "Confirm")
	p.waitText("Run " + num(long.ID) + " is being canceled")
	p.waitText("CANCELED")
	p.shot("86-run-canceled")
	if p.present("button", "Cancel run") {
		t.Error("a canceled run's page still offers Cancel run")
	}
	if r := e.waitRun(t, long.ID, "finished", finished); r.ResultState != kiln.ResultCanceled {
		t.Errorf("the run ended %s/%s, want CANCELED", r.LifeCycleState, r.ResultState)
	}

	// 5. Another user: no jobs, and the run does not exist for them.
	sol := b.newTab(t)
	sol.signIn("sol@example.com", "user-password-123")
	sol.do("clicking Jobs in the header", chromedp.Click(chromedp.CSS(".topnav a")))
	sol.waitTitle("Jobs · kiln")
	sol.waitText("You have no jobs.")
	sol.waitText("There are no runs yet.")
	sol.shot("87-jobs-empty")
	sol.open(console.RunPath(long.JobID, long.ID))
	sol.waitTitle("Page not found · kiln")
	sol.waitText("Run " + num(long.ID) + " does not exist, or you do not have permission to see it.")
	sol.shot("88-other-users-run")
}

// testRepairRun: a run whose middle task failed offers Repair run on its
// page; once the notebook is fixed, Repair run and Confirm run the failed
// task and its dependent again (new task runs) while the first task keeps
// its result, and the run ends SUCCESS with Repair run no longer offered.
func testRepairRun(t *testing.T, b *browser) {
	e := b.env
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("the repair browser test runs notebooks and needs python3: %v", err)
	}
	rhea := e.NewUser(t, "rhea@example.com", false)
	home := "/Users/rhea@example.com/"
	e.importNotebook(t, rhea, home+"ok", "dbutils.notebook.exit('ok')\n")
	e.importNotebook(t, rhea, home+"load", boomNotebook)
	settings, _ := json.Marshal(map[string]any{"name": "etl", "tasks": []any{
		map[string]any{"task_key": "extract", "notebook_task": map[string]any{"notebook_path": home + "ok"}},
		map[string]any{"task_key": "load", "depends_on": []any{map[string]string{"task_key": "extract"}}, "notebook_task": map[string]any{"notebook_path": home + "load"}},
		map[string]any{"task_key": "report", "depends_on": []any{map[string]string{"task_key": "load"}}, "notebook_task": map[string]any{"notebook_path": home + "ok"}},
	}})
	job, err := e.Svc().CreateJob(as(rhea), settings)
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.Svc().RunNow(as(rhea), service.RunNowParams{JobID: job.ID})
	if err != nil {
		t.Fatal(err)
	}
	before := e.waitRun(t, run.ID, "finished", finished)
	if before.ResultState != kiln.ResultFailed {
		t.Fatalf("the run ended %s/%s, want FAILED", before.LifeCycleState, before.ResultState)
	}

	p := b.newTab(t)
	p.signIn("rhea@example.com", "user-password-123")
	p.open(console.RunPath(job.ID, run.ID))
	p.waitTitle("Run " + num(run.ID) + " of etl · Jobs · kiln")
	p.waitText("FAILED")
	if !p.present("button", "Repair run") {
		t.Fatal("a failed run's page has no Repair run")
	}
	if p.present("button", "Cancel run") {
		t.Error("a failed run's page offers Cancel run")
	}
	p.shot("89-failed-run")

	// The fix, then the repair by keyboard, confirmed in the dialog.
	e.importNotebook(t, rhea, home+"load", "dbutils.notebook.exit('loaded')\n")
	p.tabTo("Repair run")
	p.keys(kb.Enter)
	p.waitFor("dialog", "Repair run?")
	p.waitText("(load, report)")
	p.shot("90-repair-confirmation")
	p.click("button", "Confirm")
	p.waitText("Run " + num(run.ID) + " is being repaired")
	after := e.waitRun(t, run.ID, "finished", finished)
	if after.ResultState != kiln.ResultSuccess {
		t.Fatalf("the repaired run ended %s/%s: %s", after.LifeCycleState, after.ResultState, after.StateMessage)
	}
	for i, key := range []string{"extract", "load", "report"} {
		if kept := after.Tasks[i].ID == before.Tasks[i].ID; kept != (key == "extract") {
			t.Errorf("task %s: id %d before, %d after the repair", key, before.Tasks[i].ID, after.Tasks[i].ID)
		}
	}
	p.open(console.RunPath(job.ID, run.ID))
	p.waitTitle("Run " + num(run.ID) + " of etl · Jobs · kiln")
	if st, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string]("document.querySelector('.run-state').textContent")); !strings.Contains(st, "SUCCESS") {
		t.Errorf("the repaired run's page shows %q", st)
	}
	p.shot("91-run-repaired")
	if p.present("button", "Repair run") {
		t.Error("a repaired, successful run's page still offers Repair run")
	}
}
