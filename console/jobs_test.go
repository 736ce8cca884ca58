package console_test

// Server-side tests of the Jobs pages, over loopback against a real kiln
// whose runner executes real python3 (no browser). They fail, never skip,
// without python3.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/kiln-dev/kiln/console"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"
)

// Notebooks the tests run. hello prints markup (the page must escape it)
// and returns a result, once the file its gate parameter names exists
// (when it names one: a test holds the run until it is ready to watch it
// end); sleepy runs until it is canceled; boom fails; loud prints more
// than a page shows.
const (
	helloNotebook = `import json, os, time
print("hello from kiln <script>alert(1)</script>")
gate = dbutils.widgets.get("gate")
if gate:
    # A beacon port: wait until the test opens the gate.
    import socket
    s = socket.create_connection(("127.0.0.1", int(gate)))
    s.sendall(b"waiting\n")
    f = s.makefile()
    f.readline()
    f.readline()
dbutils.notebook.exit(json.dumps({"answer": 42, "day": dbutils.widgets.get("day")}))
`
	sleepyNotebook = `import time
for i in range(2400):
    print("tick", i, flush=True)
    time.sleep(0.25)
`
	boomNotebook = `def check(x):
    raise ValueError("bad <b>input</b>: " + x)
check("42")
`
	loudNotebook = `for i in range(4000):
    print("line %05d " % i + "x" * 70)
print("THE LAST LINE")
`
)

// startJobsEnv starts kiln with an executor tuned for tests (short polls
// and grace periods; a 15 s lease, which a loaded machine cannot let lapse
// by a late renewal).
func startJobsEnv(t *testing.T) *env {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("the Jobs tests run notebooks and need python3: %v", err)
	}
	return startEnv(t, kilntest.WithConfig(func(c *server.Config) {
		c.ShutdownTimeout = 3 * time.Second
		c.Runner = func(rc *runner.Config) {
			rc.PollInterval, rc.SweepInterval, rc.KillGrace, rc.LeaseTTL = 50*time.Millisecond, 200*time.Millisecond, 500*time.Millisecond, 15*time.Second
		}
	}))
}

// as is a context acting as p signed in to the console.
func as(p *kiln.Principal) context.Context {
	return kiln.NewContextWithCaller(context.Background(), &kiln.Caller{Principal: p, Method: "session"})
}

// importNotebook imports a Python notebook as owner.
func (e *env) importNotebook(t *testing.T, owner *kiln.Principal, path, src string) {
	t.Helper()
	err := e.Svc().ImportObject(as(owner), service.ImportParams{Path: path, Language: "PYTHON", Overwrite: true,
		Content: []byte("# Databricks notebook source\n" + src)})
	if err != nil {
		t.Fatalf("importing %s: %v", path, err)
	}
}

// submitRun submits a one-time run as owner (jobs/runs/submit).
func (e *env) submitRun(t *testing.T, owner *kiln.Principal, body string) *kiln.Run {
	t.Helper()
	run, err := e.Svc().SubmitRun(as(owner), json.RawMessage(body))
	if err != nil {
		t.Fatalf("submitting %s: %v", body, err)
	}
	return run
}

// waitRun polls the run until cond holds.
func (e *env) waitRun(t *testing.T, id int64, what string, cond func(*kiln.Run) bool) *kiln.Run {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, err := e.Svc().GetRun(kilntest.Offline(), id)
		if err != nil {
			t.Fatalf("reading run %d: %v", id, err)
		}
		if cond(v.Run) {
			return v.Run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d is %s/%s, still not %s", id, v.Run.LifeCycleState, v.Run.ResultState, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func finished(r *kiln.Run) bool { return !r.Active() }
func running(r *kiln.Run) bool  { return r.LifeCycleState == kiln.LifeCycleRunning }

// cancelEvents counts the runs/cancel events of the audit log.
func (e *env) cancelEvents(t *testing.T) int {
	t.Helper()
	evs, err := e.Svc().ListAudit(kilntest.Offline(), kiln.AuditFilter{Action: service.AuditRunCancel})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func num(n int64) string { return strconv.FormatInt(n, 10) }

func TestJobsPages(t *testing.T) {
	e := startJobsEnv(t)
	ana := e.newUser(t, "ana@example.com")
	bo := e.newUser(t, "bo@example.com")
	anaCk, boCk, adminCk := e.sessionFor(ana), e.sessionFor(bo), e.sessionFor(e.admin)
	home := "/Users/ana@example.com/"
	for name, src := range map[string]string{"hello": helloNotebook, "sleepy": sleepyNotebook, "boom": boomNotebook, "loud": loudNotebook} {
		e.importNotebook(t, ana, home+name, src)
	}

	// A saved job run with run-now and parameters, a failing one-time run
	// and a loud one.
	job, err := e.Svc().CreateJob(as(ana), json.RawMessage(`{"name": "daily-report", "parameters": [{"name": "env", "default": "dev"}],
		"tasks": [{"task_key": "report", "notebook_task": {"notebook_path": "`+home+`hello", "base_parameters": {"gate": "", "day": "2026-01-01"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	good, err := e.Svc().RunNow(as(ana), service.RunNowParams{JobID: job.ID, RunParams: service.RunParams{JobParameters: map[string]string{"env": "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	bad := e.submitRun(t, ana, `{"run_name": "boom-once", "tasks": [{"task_key": "explode", "notebook_task": {"notebook_path": "`+home+`boom"}}]}`)
	loud := e.submitRun(t, ana, `{"run_name": "loud-once", "notebook_task": {"notebook_path": "`+home+`loud"}}`)
	good = e.waitRun(t, good.ID, "finished", finished)
	bad = e.waitRun(t, bad.ID, "finished", finished)
	loud = e.waitRun(t, loud.ID, "finished", finished)
	if good.ResultState != kiln.ResultSuccess || bad.ResultState != kiln.ResultFailed || loud.ResultState != kiln.ResultSuccess {
		t.Fatalf("runs ended %s, %s and %s: %s / %s", good.ResultState, bad.ResultState, loud.ResultState, good.StateMessage, bad.StateMessage)
	}
	goodPath := console.RunPath(job.ID, good.ID)

	t.Run("JobsPageListsOwnJobsAndRuns", func(t *testing.T) {
		r := e.get(t, "/jobs", anaCk)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /jobs: %d", r.Status)
		}
		mustContain(t, r.Body, "<title>Jobs · kiln</title>", `<a href="/jobs" aria-current="page">Jobs</a>`,
			">daily-report<", `href="`+console.JobPath(job.ID)+`"`, `href="`+goodPath+`"`, ">Run "+num(good.ID)+"<", ">Run "+num(bad.ID)+"<",
			"boom-once", "(one-time run)", `badge badge-ok">SUCCESS<`, `badge badge-fail">FAILED<`, `badge badge-off">TERMINATED<`,
			"Your jobs, and the runs that run as you.")
		mustNotContain(t, r.Body, ">Run as<")
	})

	t.Run("AdminsSeeEveryone", func(t *testing.T) {
		r := e.get(t, "/jobs", adminCk)
		mustContain(t, r.Body, ">daily-report<", ">Run "+num(good.ID)+"<", ">Run as<", "ana@example.com", "Every job and run of the workspace")
		r = e.get(t, goodPath, adminCk)
		if r.Status != http.StatusOK {
			t.Fatalf("an admin opening ana's run: %d", r.Status)
		}
	})

	t.Run("OtherUsersJobsAndRunsAreNotShown", func(t *testing.T) {
		r := e.get(t, "/jobs", boCk)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /jobs: %d", r.Status)
		}
		mustContain(t, r.Body, "You have no jobs.", "There are no runs yet.")
		mustNotContain(t, r.Body, "daily-report", "boom-once", "Run "+num(good.ID))
		missing := e.get(t, console.RunPath(job.ID, 999999), boCk)
		for _, path := range []string{goodPath, console.RunPath(bad.JobID, bad.ID), goodPath + "/logs?task=" + num(good.Tasks[0].ID), goodPath + "/cancel"} {
			r := e.get(t, path, boCk)
			if r.Status != http.StatusNotFound {
				t.Errorf("bo opening ana's %s: %d, want 404", path, r.Status)
			}
			mustNotContain(t, r.Body, "daily-report", "boom-once", "answer", "hello from kiln")
		}
		r = e.get(t, goodPath, boCk)
		mustContain(t, r.Body, "<title>Page not found · kiln</title>", "Run "+num(good.ID)+" does not exist, or you do not have permission to see it.")
		// Word for word the page of a run that does not exist.
		if strings.Replace(r.Body, num(good.ID), "N", -1) != strings.Replace(missing.Body, "999999", "N", -1) {
			t.Error("another user's run is not shown exactly like a missing one")
		}
		r = e.get(t, console.JobPath(job.ID), boCk)
		if r.Status != http.StatusNotFound || !strings.Contains(r.Body, "Job "+num(job.ID)+" does not exist, or you do not have permission to see it.") {
			t.Errorf("bo opening ana's job: %d", r.Status)
		}
	})

	t.Run("MissingRunIsA404Page", func(t *testing.T) {
		for path, msg := range map[string]string{
			"/jobs/1/runs/999999":                  "Run 999999 does not exist, or you do not have permission to see it.",
			console.RunPath(job.ID+1000, good.ID):  "Run " + num(good.ID) + " does not exist, or you do not have permission to see it.",
			"/jobs/x/runs/1":                       "There is no page at this address.",
			"/jobs/1/runs/-1":                      "There is no page at this address.",
			"/jobs/1/runs/99999999999999999999":    "There is no page at this address.",
			"/jobs/999999":                         "Job 999999 does not exist, or you do not have permission to see it.",
			goodPath + "?task=1":                   "Run " + num(good.ID) + " has no task run 1.",
			goodPath + "/logs?task=" + num(bad.ID): "has no such task run",
		} {
			r := e.get(t, path, anaCk)
			if r.Status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, r.Status)
			}
			mustContain(t, r.Body, "<title>Page not found · kiln</title>", msg, `href="/jobs"`)
		}
	})

	t.Run("RunPage", func(t *testing.T) {
		r := e.get(t, goodPath+"?o=12345", anaCk)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", goodPath, r.Status)
		}
		mustContain(t, r.Body, "<title>Run "+num(good.ID)+" of daily-report · Jobs · kiln</title>", `<h1 class="name">daily-report</h1>`,
			`badge badge-ok">SUCCESS<`, `data-active="false"`, `<a href="`+console.JobPath(job.ID)+`">daily-report</a>`, "Run as", "ana@example.com",
			"Job parameters", "<code>env</code>", "<code>prod</code>", "(default <code>dev</code>)", // the run's job parameters
			"<code>day</code>", "<code>2026-01-01</code>", // the task's widgets
			"Output of", `id="result-title">Result<`, `{&#34;answer&#34;: 42, &#34;day&#34;: &#34;2026-01-01&#34;}`,
			"hello from kiln &lt;script&gt;alert(1)&lt;/script&gt;", ">Download logs<", `id="refresh-link" href="`+goodPath+`"`)
		mustNotContain(t, r.Body, "<script>alert(1)</script>", ">Cancel run<", "Truncated")
		// The API's run_page_url is this page.
		v, err := e.Svc().GetRun(as(ana), good.ID)
		if err != nil {
			t.Fatal(err)
		}
		resp := e.Do(t, http.MethodGet, "/api/2.1/jobs/runs/get?run_id="+num(good.ID), e.AdminToken(t), nil)
		var got struct {
			RunPageURL string `json:"run_page_url"`
			Tasks      []struct {
				RunPageURL string `json:"run_page_url"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal(resp.Body, &got); err != nil || !strings.HasPrefix(got.RunPageURL, e.URL+goodPath+"?o=") {
			t.Fatalf("run_page_url %q (%v), want %s%s?o=…", got.RunPageURL, err, e.URL, goodPath)
		}
		page := e.get(t, strings.TrimPrefix(got.RunPageURL, e.URL), anaCk)
		if page.Status != http.StatusOK || !strings.Contains(page.Body, "daily-report") {
			t.Errorf("the run_page_url: %d", page.Status)
		}
		// A task's run_page_url leads to its run's page with the task
		// selected.
		task := v.Run.Tasks[0]
		r = e.get(t, strings.TrimPrefix(got.Tasks[0].RunPageURL, e.URL), anaCk)
		if want := goodPath + "?task=" + num(task.ID); r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("a task's run_page_url: %d to %q, want %s", r.Status, r.Header.Get("Location"), want)
		}
		r = e.get(t, goodPath+"?task="+num(task.ID), anaCk)
		mustContain(t, r.Body, `aria-current="true">report</a>`, `id="refresh-link" href="`+goodPath+`?task=`+num(task.ID)+`"`)
	})

	t.Run("FailedRunShowsErrorAndTrace", func(t *testing.T) {
		r := e.get(t, console.RunPath(bad.JobID, bad.ID), anaCk)
		if r.Status != http.StatusOK {
			t.Fatalf("GET the failed run: %d", r.Status)
		}
		mustContain(t, r.Body, `badge badge-fail">FAILED<`, "One-time run", ">Error<", ">Error trace<",
			"ValueError: bad &lt;b&gt;input&lt;/b&gt;: 42", "in check", kiln.MsgTaskFailed,
			">No result.<")
		mustNotContain(t, r.Body, "<b>input</b>", `<a href="`+console.JobPath(bad.JobID)+`">`)
		// The one-time job's page shows the run.
		r = e.get(t, console.JobPath(bad.JobID), anaCk)
		if r.Status != http.StatusOK {
			t.Fatalf("the one-time job's page: %d", r.Status)
		}
		mustContain(t, r.Body, "<title>boom-once · Jobs · kiln</title>", "has no saved settings", ">Run "+num(bad.ID)+"<")
	})

	t.Run("LogsAreBounded", func(t *testing.T) {
		path := console.RunPath(loud.JobID, loud.ID)
		r := e.get(t, path, anaCk)
		if r.Status != http.StatusOK {
			t.Fatalf("GET the loud run: %d", r.Status)
		}
		mustContain(t, r.Body, "THE LAST LINE", "Showing the last 128.0 KiB of", "Download logs for all of them.")
		mustNotContain(t, r.Body, "line 00000 ")
		if len(r.Body) > console.LogsShown+64<<10 {
			t.Errorf("the page is %d bytes: the logs are not bounded", len(r.Body))
		}
		dl := e.get(t, path+"/logs?task="+num(loud.Tasks[0].ID), anaCk)
		if dl.Status != http.StatusOK || !strings.HasPrefix(dl.Header.Get("Content-Type"), "text/plain") ||
			!strings.Contains(dl.Header.Get("Content-Disposition"), "attachment") || dl.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("Download logs: %d %v", dl.Status, dl.Header)
		}
		if !strings.Contains(dl.Body, "line 00000 ") || !strings.Contains(dl.Body, "THE LAST LINE") {
			t.Errorf("the downloaded logs are not all the stored logs (%d bytes)", len(dl.Body))
		}
		// enableResultsDownloading=false withholds the download, not the page.
		e.SetConf(t, map[string]string{kiln.ConfEnableResultsDownloading: "false"})
		if dl := e.get(t, path+"/logs?task="+num(loud.Tasks[0].ID), anaCk); dl.Status != http.StatusForbidden || strings.Contains(dl.Body, "THE LAST LINE") {
			t.Errorf("Download logs with enableResultsDownloading=false: %d", dl.Status)
		}
		if r := e.get(t, path, anaCk); r.Status != http.StatusOK {
			t.Errorf("the run page with enableResultsDownloading=false: %d", r.Status)
		}
		e.SetConf(t, map[string]string{kiln.ConfEnableResultsDownloading: "true"})
	})

	t.Run("JobPage", func(t *testing.T) {
		r := e.get(t, console.JobPath(job.ID), anaCk)
		if r.Status != http.StatusOK {
			t.Fatalf("GET the job: %d", r.Status)
		}
		mustContain(t, r.Body, "<title>daily-report · Jobs · kiln</title>", "Job details", "<code>report</code>", "Notebook",
			"<code>"+home+"hello</code>", "<code>env</code>", "<code>dev</code>", ">Run "+num(good.ID)+"<")
		mustNotContain(t, r.Body, ">Run "+num(bad.ID)+"<")
	})

	t.Run("CancelFinishedRunIsRefused", func(t *testing.T) {
		before := e.cancelEvents(t)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := e.get(t, goodPath+"/cancel", anaCk)
			if method == http.MethodPost {
				r = e.post(t, goodPath+"/cancel", nil, anaCk)
			}
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != goodPath {
				t.Fatalf("%s cancel of a finished run: %d to %q", method, r.Status, r.Header.Get("Location"))
			}
			fl := cookieNamed(r.Header, console.FlashCookie)
			page := e.getWith(t, goodPath, anaCk, fl)
			mustContain(t, page.Body, `<div class="flash flash-error" role="alert">Run `+num(good.ID)+
				` has already finished (TERMINATED, SUCCESS), so it cannot be canceled. Nothing was changed.</div>`)
		}
		after := e.waitRun(t, good.ID, "finished", finished)
		if after.ResultState != kiln.ResultSuccess || after.StateMessage != good.StateMessage || !after.Ended.Equal(good.Ended) {
			t.Errorf("canceling a finished run changed it: %+v", after)
		}
		if n := e.cancelEvents(t); n != before {
			t.Errorf("canceling a finished run wrote %d audit events", n-before)
		}
	})

	t.Run("CancelWithoutScripts", func(t *testing.T) {
		long := e.submitRun(t, ana, `{"run_name": "sleepy-once", "tasks": [{"task_key": "nap", "notebook_task": {"notebook_path": "`+home+`sleepy"}}]}`)
		long = e.waitRun(t, long.ID, "running", running)
		path := console.RunPath(long.JobID, long.ID)

		// Another user can neither see nor cancel it.
		if r := e.post(t, path+"/cancel", nil, boCk); r.Status != http.StatusNotFound {
			t.Errorf("bo canceling ana's run: %d, want 404", r.Status)
		}
		time.Sleep(300 * time.Millisecond)
		if v := e.waitRun(t, long.ID, "running", func(*kiln.Run) bool { return true }); v.LifeCycleState != kiln.LifeCycleRunning {
			t.Fatalf("bo's refused cancel changed the run: %s", v.LifeCycleState)
		}

		r := e.get(t, path, anaCk)
		mustContain(t, r.Body, `badge badge-run">RUNNING<`, `data-active="true"`, `data-refresh-seconds="3"`,
			`<form method="get" action="`+path+`/cancel" class="inline" data-confirm-title="Cancel run?"`, ">Cancel run<",
			"The task is running.", "so far", "data-refresh-note hidden")
		// The button leads, without scripts, to a page with a form.
		r = e.get(t, path+"/cancel", anaCk)
		if r.Status != http.StatusOK {
			t.Fatalf("the Cancel run page: %d", r.Status)
		}
		mustContain(t, r.Body, "<title>Cancel run? · Jobs · kiln</title>", `<h1 id="confirm-title">Cancel run?</h1>`,
			`<form method="post" action="`+path+`/cancel" class="actions">`, ">Confirm<", ">Back to the run<")
		before := e.cancelEvents(t)
		r = e.post(t, path+"/cancel", nil, anaCk)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != path {
			t.Fatalf("Confirm: %d to %q", r.Status, r.Header.Get("Location"))
		}
		page := e.getWith(t, path, anaCk, cookieNamed(r.Header, console.FlashCookie))
		mustContain(t, page.Body, "Run "+num(long.ID)+" is being canceled")
		done := e.waitRun(t, long.ID, "canceled", finished)
		if done.ResultState != kiln.ResultCanceled {
			t.Errorf("the canceled run ended %s/%s", done.LifeCycleState, done.ResultState)
		}
		if n := e.cancelEvents(t); n != before+1 {
			t.Errorf("Cancel run wrote %d audit events, want 1", n-before)
		}
		page = e.get(t, path, anaCk)
		mustContain(t, page.Body, `badge badge-warn">CANCELED<`, `data-active="false"`, "tick 0")
		mustNotContain(t, page.Body, ">Cancel run<")
	})

	t.Run("EveryJobsPageRenders", func(t *testing.T) {
		for _, path := range []string{"/jobs", "/jobs?show=active", "/jobs?show=completed", console.JobPath(job.ID), goodPath, console.RunPath(bad.JobID, bad.ID)} {
			r := e.get(t, path, anaCk)
			if r.Status != http.StatusOK {
				t.Errorf("GET %s: %d", path, r.Status)
				continue
			}
			mustContain(t, r.Body, `aria-label="Account"`, `<nav class="topnav" aria-label="Main">`, "jobs.css", "jobs.js", "<h1")
			if got := r.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") {
				t.Errorf("GET %s: Content-Security-Policy %q", path, got)
			}
			if strings.Count(r.Body, "<h1") != 1 {
				t.Errorf("GET %s has %d h1 headings", path, strings.Count(r.Body, "<h1"))
			}
		}
		// Every other page has the Jobs link too, not marked current.
		r := e.get(t, "/settings", anaCk)
		mustContain(t, r.Body, `<a href="/jobs">Jobs</a>`)
		// Signed out, the Jobs pages lead to sign-in and back.
		r = e.get(t, goodPath, nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?next="+strings.ReplaceAll(goodPath, "/", "%2F") {
			t.Errorf("a signed-out visitor: %d to %q", r.Status, r.Header.Get("Location"))
		}
		// The active filter lists only active runs.
		r = e.get(t, "/jobs?show=active", anaCk)
		mustContain(t, r.Body, "No runs are active.", `aria-current="page">Active<`)
	})
}

func TestRunsListPaging(t *testing.T) {
	e := startJobsEnv(t)
	ana := e.newUser(t, "ana@example.com")
	// Runs of a notebook that does not exist fail at once, without python.
	var last *kiln.Run
	for i := range console.JobsPageSize + 2 {
		last = e.submitRun(t, ana, fmt.Sprintf(`{"run_name": "r%02d", "notebook_task": {"notebook_path": "/Users/ana@example.com/nope"}}`, i))
	}
	e.waitRun(t, last.ID, "finished", finished)
	ck := e.sessionFor(ana)
	r := e.get(t, "/jobs", ck)
	name := func(n string) string { return `class="name">` + n + ` <span class="muted">(one-time run)` }
	mustContain(t, r.Body, name("r26"), "Older runs", "Run "+num(last.ID))
	mustNotContain(t, r.Body, name("r00"), name("r01"))
	i := strings.Index(r.Body, `<p class="pager"><a href="`)
	href := r.Body[i+len(`<p class="pager"><a href="`):]
	href = strings.ReplaceAll(href[:strings.IndexByte(href, '"')], "&amp;", "&")
	r = e.get(t, href, ck)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d", href, r.Status)
	}
	mustContain(t, r.Body, name("r00"), name("r01"))
	mustNotContain(t, r.Body, name("r26"), "Older runs")
	if r := e.get(t, "/jobs?runs_page=bogus", ck); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "Invalid page_token.") {
		t.Errorf("a bad page token: %d", r.Status)
	}
}
