package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/console"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// grantJob grants level on job to p, as the job's owner.
func grantJob(t *testing.T, e *env, owner *kiln.Principal, job int64, p *kiln.Principal, level string) {
	t.Helper()
	if _, err := e.Svc().SetJobPermissions(as(owner), job, []kiln.ACLEntry{{UserName: p.UserName, Level: level}}, false); err != nil {
		t.Fatal(err)
	}
}

// pauseStatus reads the job's schedule.pause_status from its settings.
func pauseStatusOf(t *testing.T, e *env, job int64) (status, expr, zone string) {
	t.Helper()
	j, err := e.Svc().GetJob(kilntest.Offline(), job)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Schedule struct {
			Expr  string `json:"quartz_cron_expression"`
			Zone  string `json:"timezone_id"`
			Pause string `json:"pause_status"`
		} `json:"schedule"`
	}
	if err := json.Unmarshal(j.Settings, &s); err != nil {
		t.Fatal(err)
	}
	return s.Schedule.Pause, s.Schedule.Expr, s.Schedule.Zone
}

// TestJobSchedule: a job's page shows its schedule and the scheduler's
// next tick, at a fixed clock, in the schedule's time zone (across the
// spring DST change of Europe/Paris) and in UTC; its owner pauses and
// resumes it through jobs/update, and the stored tick follows; a viewer
// sees the schedule without Pause, and its forged posts (and a manager of
// runs', and a cross-site one) are refused in words.
func TestJobSchedule(t *testing.T) {
	clock := kilntest.NewClock()
	clock.Advance(time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC).Sub(clock.Now()))
	e := startEnv(t, kilntest.WithClock(clock))
	ana := e.newUser(t, "ana@example.com")
	bo := e.newUser(t, "bo@example.com")
	cy := e.newUser(t, "cy@example.com")
	anaCk, boCk, cyCk := e.sessionFor(ana), e.sessionFor(bo), e.sessionFor(cy)
	settings, _ := json.Marshal(map[string]any{"name": "morning", "tasks": []any{map[string]any{"task_key": "t",
		"notebook_task": map[string]any{"notebook_path": "/Users/ana@example.com/nb"}}},
		"schedule": map[string]any{"quartz_cron_expression": "0  30 9 * * ?", "timezone_id": "Europe/Paris", "pause_status": "UNPAUSED"}})
	job, err := e.Svc().CreateJob(as(ana), settings)
	if err != nil {
		t.Fatal(err)
	}
	grantJob(t, e, ana, job.ID, bo, kiln.LevelCanView)
	grantJob(t, e, ana, job.ID, cy, kiln.LevelCanManageRun)
	path := console.JobPath(job.ID)
	// 09:30 on 29 March is after the change to summer time: CEST, UTC+2.
	next := time.Date(2026, 3, 29, 7, 30, 0, 0, time.UTC)
	nextLocal := "2026-03-29 09:30:00 CEST (Europe/Paris)"
	nextUTC := "2026-03-29 07:30:00 UTC"
	v, err := e.Svc().GetJobView(as(ana), job.ID)
	if err != nil || !v.NextFire.Equal(next) || v.Level != kiln.LevelIsOwner {
		t.Fatalf("GetJobView: %+v, %v", v, err)
	}

	page := e.get(t, path, anaCk)
	mustContain(t, page.Body, `<h2 id="schedule-title">Schedule</h2>`, "<code>0 30 9 * * ?</code>", "<dd>Europe/Paris</dd>",
		`<span class="badge badge-ok">Active</span>`, `<time datetime="2026-03-29T07:30:00Z">`+nextLocal+`</time>`, nextUTC,
		`<form method="post" action="`+path+`/schedule/pause"`, ">Pause</button>")

	// A viewer sees the schedule, no Pause and no Run now, and why.
	page = e.get(t, path, boCk)
	mustContain(t, page.Body, nextLocal, nextUTC,
		"You hold Can View on this job: pausing or resuming its schedule needs Can Manage.",
		"You hold Can View on this job: starting a run needs Can Manage Run.")
	mustNotContain(t, page.Body, "/schedule/pause", ">Run now<")
	// A manager of runs may run it but not pause it.
	page = e.get(t, path, cyCk)
	mustContain(t, page.Body, "You hold Can Manage Run on this job: pausing or resuming its schedule needs Can Manage.", ">Run now</button>")
	mustNotContain(t, page.Body, "/schedule/pause")

	for _, c := range []struct {
		name    string
		ck      *http.Cookie
		path    string
		headers []string
		status  int
		words   string
	}{
		{"viewer", boCk, path + "/schedule/pause", nil, http.StatusForbidden, "bo@example.com does not have Manage permissions on Job"},
		{"run manager", cyCk, path + "/schedule/pause", nil, http.StatusForbidden, "cy@example.com does not have Manage permissions on Job"},
		{"cross-site", anaCk, path + "/schedule/pause", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, ""},
		{"unknown change", anaCk, path + "/schedule/stop", nil, http.StatusNotFound, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.request(t, http.MethodPost, c.path, url.Values{}, c.ck, c.headers...)
			if r.Status != c.status {
				t.Errorf("POST %s: %d, want %d", c.path, r.Status, c.status)
			}
			if c.words != "" {
				mustContain(t, r.Body, c.words)
			}
			if st, _, _ := pauseStatusOf(t, e, job.ID); st != "UNPAUSED" {
				t.Errorf("pause_status is %s after a refused post", st)
			}
		})
	}

	// Pause: pause_status changes, the expression and zone stay, the
	// scheduler has no tick any more, and the page says what Resume does.
	r := e.post(t, path+"/schedule/pause", nil, anaCk)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != path+"#schedule-title" {
		t.Fatalf("Pause: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if st, expr, zone := pauseStatusOf(t, e, job.ID); st != "PAUSED" || expr != "0  30 9 * * ?" || zone != "Europe/Paris" {
		t.Errorf("after Pause: %s %q %s", st, expr, zone)
	}
	if v, err := e.Svc().GetJobView(as(ana), job.ID); err != nil || !v.NextFire.IsZero() || !v.ResumeFire.Equal(next) {
		t.Errorf("after Pause: next %v, on resume %v, %v", v.NextFire, v.ResumeFire, err)
	}
	page = e.getWith(t, path, anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "The schedule of morning is paused: it starts no runs until it is resumed.",
		`<span class="badge badge-warn">Paused</span>`, "None while paused.", "Resuming now would schedule it at", nextUTC, ">Resume</button>")
	r = e.post(t, path+"/schedule/pause", nil, anaCk)
	page = e.getWith(t, path, anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "The schedule of morning is already paused. Nothing was changed.")

	// Resume: the scheduler's tick is back, the same as before.
	r = e.post(t, path+"/schedule/resume", nil, anaCk)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("Resume: %d", r.Status)
	}
	if st, _, _ := pauseStatusOf(t, e, job.ID); st != "UNPAUSED" {
		t.Errorf("after Resume: %s", st)
	}
	if v, err := e.Svc().GetJobView(as(ana), job.ID); err != nil || !v.NextFire.Equal(next) {
		t.Errorf("after Resume: next %v, %v", v.NextFire, err)
	}
	page = e.getWith(t, path, anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "The schedule of morning is resumed.", nextLocal, ">Pause</button>")

	// A periodic trigger, and a job with neither.
	settings, _ = json.Marshal(map[string]any{"name": "hourly", "tasks": []any{map[string]any{"task_key": "t",
		"notebook_task": map[string]any{"notebook_path": "/Users/ana@example.com/nb"}}},
		"trigger": map[string]any{"periodic": map[string]any{"interval": 2, "unit": "HOURS"}}})
	hourly, err := e.Svc().CreateJob(as(ana), settings)
	if err != nil {
		t.Fatal(err)
	}
	page = e.get(t, console.JobPath(hourly.ID), anaCk)
	mustContain(t, page.Body, "<dd>Every 2 hours</dd>", `<time datetime="2026-03-28T14:00:00Z">2026-03-28 14:00:00 UTC</time>`)
	r = e.post(t, console.JobPath(hourly.ID)+"/schedule/pause", nil, anaCk)
	page = e.getWith(t, console.JobPath(hourly.ID), anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "The trigger of hourly is paused", "None while paused.")
	// A continuous job: no next time (a run starts when the last ends),
	// and Resume sets continuous.pause_status.
	settings, _ = json.Marshal(map[string]any{"name": "always", "tasks": []any{map[string]any{"task_key": "t",
		"notebook_task": map[string]any{"notebook_path": "/Users/ana@example.com/nb"}}},
		"continuous": map[string]any{"pause_status": "PAUSED"}})
	always, err := e.Svc().CreateJob(as(ana), settings)
	if err != nil {
		t.Fatal(err)
	}
	page = e.get(t, console.JobPath(always.ID), anaCk)
	mustContain(t, page.Body, "<dd>Continuous</dd>", "None while paused.", ">Resume</button>")
	r = e.post(t, console.JobPath(always.ID)+"/schedule/resume", nil, anaCk)
	page = e.getWith(t, console.JobPath(always.ID), anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "The continuous run of always is resumed.", "A new run starts as soon as the last one ends", ">Pause</button>")
	if j, err := e.Svc().GetJob(kilntest.Offline(), always.ID); err != nil || !strings.Contains(string(j.Settings), `"continuous":{"pause_status":"UNPAUSED"}`) {
		t.Errorf("after Resume the continuous job's settings are %s (%v)", j.Settings, err)
	}
	if r := e.post(t, console.JobPath(always.ID)+"/schedule/pause", nil, anaCk); r.Status != http.StatusSeeOther {
		t.Errorf("pausing the continuous job: %d", r.Status)
	}

	settings, _ = json.Marshal(map[string]any{"name": "manual", "tasks": []any{map[string]any{"task_key": "t",
		"notebook_task": map[string]any{"notebook_path": "/Users/ana@example.com/nb"}}}})
	manual, err := e.Svc().CreateJob(as(ana), settings)
	if err != nil {
		t.Fatal(err)
	}
	mustNotContain(t, e.get(t, console.JobPath(manual.ID), anaCk).Body, `id="schedule-title"`)
	r = e.post(t, console.JobPath(manual.ID)+"/schedule/pause", nil, anaCk)
	page = e.getWith(t, console.JobPath(manual.ID), anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "Job manual has no schedule, trigger or continuous setting to pause or resume. Nothing was changed.")
}

// TestRunNowWithParameters: Run now with different parameters sends the
// changed job parameters as run-now's job_parameters (a notebook job
// without job parameters: its agreed base parameters as notebook_params)
// and leads to the run, whose page shows them; refusals change nothing.
// The job's page then charts its runs, each bar a link to its run.
func TestRunNowWithParameters(t *testing.T) {
	e := startJobsEnv(t)
	ana := e.newUser(t, "ana@example.com")
	bo := e.newUser(t, "bo@example.com")
	anaCk, boCk := e.sessionFor(ana), e.sessionFor(bo)
	home := "/Users/ana@example.com/"
	e.importNotebook(t, ana, home+"hello", helloNotebook)
	settings, _ := json.Marshal(map[string]any{"name": "report", "tasks": []any{map[string]any{"task_key": "t",
		"notebook_task": map[string]any{"notebook_path": home + "hello", "base_parameters": map[string]string{"gate": ""}}}},
		"parameters": []any{map[string]any{"name": "day", "default": "2026-01-01"}, map[string]any{"name": "who", "default": "<team>"}}})
	job, err := e.Svc().CreateJob(as(ana), settings)
	if err != nil {
		t.Fatal(err)
	}
	grantJob(t, e, ana, job.ID, bo, kiln.LevelCanView)
	path := console.JobPath(job.ID)

	page := e.get(t, path, anaCk)
	mustContain(t, page.Body, `<h3 id="run-params-title">Run now with different parameters</h3>`,
		`<label for="job-param-0">day</label>`, `name="job_param.day" value="2026-01-01"`,
		`name="job_param.who" value="&lt;team&gt;"`, ">Run now</button>", ">Run with these parameters</button>")

	runs := func() int {
		p, err := e.Svc().ListRuns(as(ana), service.RunListParams{JobID: job.ID, Limit: 25})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Runs)
	}
	for _, c := range []struct {
		name   string
		ck     *http.Cookie
		form   url.Values
		hdr    []string
		status int
		words  string
	}{
		{"viewer", boCk, url.Values{"job_param.day": {"x"}}, nil, http.StatusForbidden, "bo@example.com does not have Manage Run permissions on Job"},
		{"unknown parameter", anaCk, url.Values{"job_param.month": {"x"}}, nil, http.StatusBadRequest, `has no parameter &#34;month&#34; any more`},
		{"cross-site", anaCk, url.Values{}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.request(t, http.MethodPost, path+"/run-now", c.form, c.ck, c.hdr...)
			if r.Status != c.status {
				t.Errorf("%d, want %d", r.Status, c.status)
			}
			if c.words != "" {
				mustContain(t, r.Body, c.words)
			}
		})
	}
	if n := runs(); n != 0 {
		t.Fatalf("refused posts started %d runs", n)
	}

	r := e.post(t, path+"/run-now", url.Values{"job_param.day": {"2026-12-25"}, "job_param.who": {"<team>"}}, anaCk)
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), path+"/runs/") {
		t.Fatalf("Run with these parameters: %d to %q", r.Status, r.Header.Get("Location"))
	}
	list, err := e.Svc().ListRuns(as(ana), service.RunListParams{JobID: job.ID, Limit: 25})
	if err != nil || len(list.Runs) != 1 {
		t.Fatalf("runs: %v, %v", list, err)
	}
	run := list.Runs[0]
	if r.Header.Get("Location") != console.RunPath(job.ID, run.ID) {
		t.Errorf("led to %s, not run %d", r.Header.Get("Location"), run.ID)
	}
	got := map[string]service.JobParameterValue{}
	for _, p := range service.ParseRunSpec(run).JobParameters {
		got[p.Name] = p
	}
	if got["day"].Value != "2026-12-25" || got["day"].Default != "2026-01-01" || got["who"].Value != "<team>" {
		t.Errorf("the run's job_parameters: %+v", got)
	}
	done := e.waitRun(t, run.ID, "finished", finished)
	page = e.getWith(t, r.Header.Get("Location"), anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "Run "+num(run.ID)+" of report has started with 1 changed parameter(s).",
		"<code>2026-12-25</code> <span class=\"muted\">(default <code>2026-01-01</code>)</span>")
	if done.ResultState != kiln.ResultSuccess {
		t.Errorf("the run ended %s/%s", done.LifeCycleState, done.ResultState)
	}

	// Plain Run now: the defaults.
	r = e.post(t, path+"/run-now", nil, anaCk)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("Run now: %d", r.Status)
	}
	list, _ = e.Svc().ListRuns(as(ana), service.RunListParams{JobID: job.ID, Limit: 25})
	if jp := service.ParseRunSpec(list.Runs[0]).JobParameters; len(jp) != 2 || jp[0].Value != jp[0].Default || jp[1].Value != jp[1].Default {
		t.Errorf("Run now's job_parameters: %+v", jp)
	}
	second := e.waitRun(t, list.Runs[0].ID, "finished", finished)

	// The run history: one bar per run, oldest first, each a link.
	page = e.get(t, path, boCk)
	mustContain(t, page.Body, `<h3 id="chart-title">Run history</h3>`,
		`<a class="chart-bar chart-succeeded" href="`+console.RunPath(job.ID, run.ID)+`" aria-label="Run `+num(run.ID)+`: Succeeded, `,
		`<title>Run `+num(second.ID)+`: Succeeded, `, `<rect class="chart-hit" x="84" y="12" width="14" height="96"/>`,
		"The latest 2 runs, oldest first: 2 succeeded.")
	if i, j := strings.Index(page.Body, `data-run-id="`+num(run.ID)+`"`), strings.Index(page.Body, `data-run-id="`+num(second.ID)+`"`); i < 0 || j < i {
		t.Errorf("bars of runs %d and %d at %d and %d: not oldest first", run.ID, second.ID, i, j)
	}

	// A notebook job without job parameters: the base parameters its
	// notebook tasks agree on, as notebook_params.
	settings, _ = json.Marshal(map[string]any{"name": "legacy", "tasks": []any{
		map[string]any{"task_key": "a", "notebook_task": map[string]any{"notebook_path": home + "hello", "base_parameters": map[string]string{"gate": "", "day": "1", "greeting": "hi"}}},
		map[string]any{"task_key": "b", "notebook_task": map[string]any{"notebook_path": home + "hello", "base_parameters": map[string]string{"gate": "", "day": "2", "greeting": "hi"}}},
	}})
	legacy, err := e.Svc().CreateJob(as(ana), settings)
	if err != nil {
		t.Fatal(err)
	}
	page = e.get(t, console.JobPath(legacy.ID), anaCk)
	mustContain(t, page.Body, `name="notebook_param.gate" value=""`, `name="notebook_param.greeting" value="hi"`)
	mustNotContain(t, page.Body, `name="notebook_param.day"`)
	r = e.post(t, console.JobPath(legacy.ID)+"/run-now", url.Values{"notebook_param.gate": {""}, "notebook_param.extra": {"x"}}, anaCk)
	if r.Status != http.StatusBadRequest {
		t.Errorf("an unknown notebook parameter: %d", r.Status)
	}
	r = e.post(t, console.JobPath(legacy.ID)+"/run-now", url.Values{"notebook_param.gate": {""}, "notebook_param.greeting": {"hello"}}, anaCk)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("legacy Run now: %d", r.Status)
	}
	list, _ = e.Svc().ListRuns(as(ana), service.RunListParams{JobID: legacy.ID, Limit: 25})
	if op := service.ParseRunSpec(list.Runs[0]).OverridingParameters; len(list.Runs) != 1 || op == nil ||
		len(op.NotebookParams) != 1 || op.NotebookParams["greeting"] != "hello" {
		t.Errorf("the run's notebook_params: %+v (only the changed one is wanted)", op)
	}
	e.waitRun(t, list.Runs[0].ID, "finished", finished)
}

// TestPauseResumeReachesScheduler: Resume and Pause from the console act
// on the running scheduler at once: a per-second schedule resumed fires
// within seconds, and paused fires no more.
func TestPauseResumeReachesScheduler(t *testing.T) {
	e := startEnv(t)
	ana := e.newUser(t, "ana@example.com")
	anaCk := e.sessionFor(ana)
	settings, _ := json.Marshal(map[string]any{"name": "ticker", "max_concurrent_runs": 1000, "tasks": []any{map[string]any{"task_key": "t",
		"notebook_task": map[string]any{"notebook_path": "/Users/ana@example.com/missing"}}},
		"schedule": map[string]any{"quartz_cron_expression": "* * * * * ?", "timezone_id": "UTC", "pause_status": "PAUSED"}})
	job, err := e.Svc().CreateJob(as(ana), settings)
	if err != nil {
		t.Fatal(err)
	}
	scheduled := func() int {
		p, err := e.Svc().ListRuns(as(ana), service.RunListParams{JobID: job.ID, Limit: 25})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range p.Runs {
			if r.Trigger() == kiln.TriggerPeriodic {
				n++
			}
		}
		return n
	}
	time.Sleep(1500 * time.Millisecond)
	if n := scheduled(); n != 0 {
		t.Fatalf("a paused schedule fired %d runs", n)
	}
	path := console.JobPath(job.ID)
	if r := e.post(t, path+"/schedule/resume", nil, anaCk); r.Status != http.StatusSeeOther {
		t.Fatalf("Resume: %d", r.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for scheduled() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the resumed schedule fired no run in 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := e.post(t, path+"/schedule/pause", nil, anaCk); r.Status != http.StatusSeeOther {
		t.Fatalf("Pause: %d", r.Status)
	}
	// A tick claimed just before the pause may still land; then none.
	time.Sleep(500 * time.Millisecond)
	before := scheduled()
	time.Sleep(2500 * time.Millisecond)
	if after := scheduled(); after != before {
		t.Errorf("the paused schedule fired %d more runs", after-before)
	}
}
