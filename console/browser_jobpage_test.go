package console_test

// Browser test of a job's page: its schedule and next run, Pause and
// Resume, Run now with different parameters and the run history chart,
// run by TestBrowser in its shared Chromium. The runs execute real
// notebooks in python3.

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
	"github.com/kiln-dev/kiln/service"
)

// testJobPage: the owner of a scheduled job opens its page and sees the
// schedule with the scheduler's next run in the schedule's time zone and
// in UTC; pauses it by keyboard and sees Paused, resumes it and sees
// Active; changes a parameter in Run now with different parameters, lands
// on the new run's page, which shows the changed parameter and the
// notebook's result with it; and back on the job's page finds a bar per
// run in the run history, the newest reachable by keyboard and leading to
// its run. A viewer sees the schedule but neither Pause nor Run now, and
// reads why.
func testJobPage(t *testing.T, b *browser) {
	e := b.env
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("the job page browser test runs notebooks and needs python3: %v", err)
	}
	june := e.NewUser(t, "june@example.com", false)
	kit := e.NewUser(t, "kit@example.com", false)
	home := "/Users/june@example.com/"
	e.importNotebook(t, june, home+"hello", helloNotebook)
	settings, _ := json.Marshal(map[string]any{"name": "nightly-export",
		"tasks": []any{map[string]any{"task_key": "export", "notebook_task": map[string]any{"notebook_path": home + "hello",
			"base_parameters": map[string]string{"gate": ""}}}},
		"parameters": []any{map[string]any{"name": "day", "default": "2026-01-01"}},
		"schedule":   map[string]any{"quartz_cron_expression": "0 15 2 * * ?", "timezone_id": "America/New_York", "pause_status": "UNPAUSED"},
	})
	job, err := e.Svc().CreateJob(as(june), settings)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc().SetJobPermissions(as(june), job.ID, []kiln.ACLEntry{{UserName: kit.UserName, Level: kiln.LevelCanView}}, false); err != nil {
		t.Fatal(err)
	}
	// A first run for the history; the schedule's checks need not wait
	// for it.
	first, err := e.Svc().RunNow(as(june), service.RunNowParams{JobID: job.ID})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Svc().GetJobView(as(june), job.ID)
	if err != nil || v.NextFire.IsZero() {
		t.Fatalf("the job's next tick: %+v, %v", v, err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	wantLocal := v.NextFire.In(ny).Format("2006-01-02 15:04:05 MST") + " (America/New_York)"
	wantUTC := v.NextFire.UTC().Format("2006-01-02 15:04:05 UTC")

	// A viewer: the schedule, no Pause, no Run now, and why.
	q := b.newTab(t)
	q.signIn("kit@example.com", "user-password-123")
	q.open(console.JobPath(job.ID))
	q.waitTitle("nightly-export · Jobs · kiln")
	q.waitText(wantLocal)
	q.waitText("You hold Can View on this job: pausing or resuming its schedule needs Can Manage.")
	q.waitText("You hold Can View on this job: starting a run needs Can Manage Run.")
	for _, name := range []string{"Pause", "Run now", "Run with these parameters"} {
		if q.present("button", name) {
			t.Errorf("a viewer is offered %s", name)
		}
	}
	q.shot("92-job-viewer")

	p := b.newTab(t)
	p.signIn("june@example.com", "user-password-123")
	p.open(console.JobPath(job.ID))
	p.waitTitle("nightly-export · Jobs · kiln")
	p.waitFor("heading", "Schedule")
	p.waitText("0 15 2 * * ?")
	p.waitText(wantLocal)
	p.waitText(wantUTC)
	status := func() string {
		s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("document.getElementById('schedule-status').textContent.trim()"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := status(); s != "Active" {
		t.Errorf("the schedule reads %q, want Active", s)
	}
	p.waitFor("heading", "Run history")
	if n := p.count("svg.run-chart-svg a.chart-bar[href]"); n != 1 {
		t.Errorf("the run history has %d bars, want 1", n)
	}
	p.shot("92-job-schedule")

	// Pause, by keyboard; then Resume.
	p.tabTo("Pause")
	p.shot("92-job-pause-focus")
	p.keys(kb.Enter)
	p.waitText("The schedule of nightly-export is paused")
	if s := status(); s != "Paused" {
		t.Errorf("after Pause the schedule reads %q", s)
	}
	p.waitText("None while paused.")
	p.waitFor("button", "Resume")
	if st, _, _ := pauseStatusOf(t, e, job.ID); st != "PAUSED" {
		t.Errorf("after Pause the job's pause_status is %q", st)
	}
	p.shot("93-job-paused")
	p.click("button", "Resume")
	p.waitText("The schedule of nightly-export is resumed.")
	if s := status(); s != "Active" {
		t.Errorf("after Resume the schedule reads %q", s)
	}
	p.waitFor("button", "Pause")
	if st, _, _ := pauseStatusOf(t, e, job.ID); st != "UNPAUSED" {
		t.Errorf("after Resume the job's pause_status is %q", st)
	}

	// Run now with different parameters, once the first run is over.
	e.waitRun(t, first.ID, "finished", finished)
	p.waitFor("heading", "Run now with different parameters")
	if got := p.value("textbox", "day"); got != "2026-01-01" {
		t.Errorf("the day field starts at %q, want its default", got)
	}
	p.fill("textbox", "day", "2026-12-25")
	p.shot("94-run-now-parameters")
	p.click("button", "Run with these parameters")
	p.waitText("has started with 1 changed parameter(s).")
	loc, _ := chromedp.Run(p.ctx, chromedp.Location())
	if !strings.Contains(loc, console.JobPath(job.ID)+"/runs/") {
		t.Fatalf("Run with these parameters leads to %s", loc)
	}
	p.waitFor("heading", "Job parameters")
	p.waitText("2026-12-25 (default 2026-01-01)")
	p.waitText(`"day": "2026-12-25"`)
	p.shot("95-run-with-parameters")

	// The run history: two bars, the newest last, by keyboard.
	p.open(console.JobPath(job.ID))
	p.waitTitle("nightly-export · Jobs · kiln")
	p.waitFor("heading", "Run history")
	if n := p.count("svg.run-chart-svg a.chart-bar[href]"); n != 2 {
		t.Errorf("the run history has %d bars, want 2", n)
	}
	newest, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("Array.from(document.querySelectorAll('svg.run-chart-svg a.chart-bar')).pop().getAttribute('aria-label')"))
	if err != nil || !strings.HasPrefix(newest, "Run ") || !strings.Contains(newest, ": Succeeded, ") {
		t.Fatalf("the newest bar is named %q (%v)", newest, err)
	}
	if title, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string]("Array.from(document.querySelectorAll('svg.run-chart-svg a.chart-bar title')).pop().textContent")); title != newest {
		t.Errorf("the newest bar's title is %q, its name %q", title, newest)
	}
	for _, label := range []string{"Succeeded", "Failed", "Canceled or skipped", "Running or waiting"} {
		if !p.truthy(fmt.Sprintf("Array.from(document.querySelectorAll('.run-chart .graph-legend li'), li => li.textContent.trim()).includes(%q)", label)) {
			t.Errorf("the chart's legend has no %q", label)
		}
	}
	p.waitText("The latest 2 runs, oldest first: 2 succeeded.")
	p.tabTo(newest)
	p.shot("96-run-history-focus")
	p.keys(kb.Enter)
	p.waitText(`"day": "2026-12-25"`)
	p.phone(true)
	p.open(console.JobPath(job.ID))
	p.waitTitle("nightly-export · Jobs · kiln")
	p.shot("96-job-phone")
	p.phone(false)

}
