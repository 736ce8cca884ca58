package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/console"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// repairEvents counts the runs/repair events of the audit log.
func (e *env) repairEvents(t *testing.T) int {
	t.Helper()
	evs, err := e.Svc().ListAudit(kilntest.Offline(), kiln.AuditFilter{Action: service.AuditRunRepair})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestRepairRunWithoutScripts: Repair run, as a browser without scripts
// uses it: the button leads to a confirmation page whose form posts the
// repair with the latest repair id the page showed; a stale id (someone
// repaired meanwhile), a run without failed tasks, a cross-site post and
// another user are refused without changing anything.
func TestRepairRunWithoutScripts(t *testing.T) {
	e := startJobsEnv(t)
	ana := e.newUser(t, "ana@example.com")
	bo := e.newUser(t, "bo@example.com")
	anaCk, boCk := e.sessionFor(ana), e.sessionFor(bo)
	home := "/Users/ana@example.com/"
	e.importNotebook(t, ana, home+"hello", helloNotebook)
	e.importNotebook(t, ana, home+"boom", boomNotebook)
	settings, _ := json.Marshal(map[string]any{"name": "nightly", "tasks": []any{
		map[string]any{"task_key": "prepare", "notebook_task": map[string]any{"notebook_path": home + "hello", "base_parameters": map[string]string{"gate": "", "day": "1"}}},
		map[string]any{"task_key": "crunch", "depends_on": []any{map[string]string{"task_key": "prepare"}}, "notebook_task": map[string]any{"notebook_path": home + "boom"}},
	}})
	job, err := e.Svc().CreateJob(as(ana), settings)
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.Svc().RunNow(as(ana), service.RunNowParams{JobID: job.ID})
	if err != nil {
		t.Fatal(err)
	}
	failed := e.waitRun(t, run.ID, "finished", finished)
	if failed.ResultState != kiln.ResultFailed {
		t.Fatalf("the run ended %s/%s, want FAILED", failed.LifeCycleState, failed.ResultState)
	}
	path := console.RunPath(job.ID, run.ID)

	r := e.get(t, path, anaCk)
	mustContain(t, r.Body, `<form method="get" action="`+path+`/repair" class="inline" data-confirm-title="Repair run?"`,
		`<input type="hidden" name="latest_repair_id" value="0">`, ">Repair run<", "(crunch)")
	r = e.get(t, path+"/repair?latest_repair_id=0", anaCk)
	if r.Status != http.StatusOK {
		t.Fatalf("the Repair run page: %d", r.Status)
	}
	mustContain(t, r.Body, "<title>Repair run? · Jobs · kiln</title>", `<h1 id="confirm-title">Repair run?</h1>`,
		`<form method="post" action="`+path+`/repair?latest_repair_id=0" class="actions">`, ">Confirm<", ">Back to the run<")

	refusals := []struct {
		name, path string
		ck         *http.Cookie
		headers    []string
		status     int
	}{
		{"another user", path + "/repair?latest_repair_id=0", boCk, nil, http.StatusNotFound},
		{"cross-site", path + "/repair?latest_repair_id=0", anaCk, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"a damaged form", path + "/repair?latest_repair_id=x", anaCk, nil, http.StatusBadRequest},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			if r := e.request(t, http.MethodPost, c.path, url.Values{}, c.ck, c.headers...); r.Status != c.status {
				t.Errorf("POST %s: %d, want %d", c.path, r.Status, c.status)
			}
		})
	}
	if n := e.repairEvents(t); n != 0 {
		t.Fatalf("refused repairs wrote %d audit events", n)
	}

	// Confirm repairs: crunch runs again, prepare keeps its result.
	r = e.post(t, path+"/repair?latest_repair_id=0", nil, anaCk)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != path {
		t.Fatalf("Confirm: %d to %q", r.Status, r.Header.Get("Location"))
	}
	page := e.getWith(t, path, anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "Run "+num(run.ID)+" is being repaired")
	again := e.waitRun(t, run.ID, "repaired", finished)
	if again.ResultState != kiln.ResultFailed || again.Tasks[0].ID != failed.Tasks[0].ID || again.Tasks[1].ID == failed.Tasks[1].ID {
		t.Fatalf("after the repair: %s, task ids %d %d (were %d %d)", again.ResultState, again.Tasks[0].ID, again.Tasks[1].ID, failed.Tasks[0].ID, failed.Tasks[1].ID)
	}
	if n := e.repairEvents(t); n != 1 {
		t.Errorf("Repair run wrote %d audit events, want 1", n)
	}

	// The page that still says 0 is stale now: refused, with why.
	r = e.post(t, path+"/repair?latest_repair_id=0", nil, anaCk)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("a stale repair: %d", r.Status)
	}
	page = e.getWith(t, path, anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "Run "+num(run.ID)+" was repaired by someone else in the meantime. Nothing was changed")
	v, err := e.Svc().GetRun(kilntest.Offline(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page.Body, `<input type="hidden" name="latest_repair_id" value="`+num(v.LatestRepairID())+`">`)
	if n := e.repairEvents(t); n != 1 || len(v.Repairs) != 2 {
		t.Errorf("the stale repair: %d audit events, %d history items", n, len(v.Repairs))
	}

	// A successful run offers no repair, and a forged post is refused.
	ok, err := e.Svc().SubmitRun(as(ana), json.RawMessage(`{"run_name": "fine", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "`+home+`hello", "base_parameters": {"gate": "", "day": "2"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ok = e.waitRun(t, ok.ID, "finished", finished)
	okPath := console.RunPath(ok.JobID, ok.ID)
	mustNotContain(t, e.get(t, okPath, anaCk).Body, ">Repair run<")
	r = e.post(t, okPath+"/repair?latest_repair_id=0", nil, anaCk)
	page = e.getWith(t, okPath, anaCk, cookieNamed(r.Header, console.FlashCookie))
	mustContain(t, page.Body, "Run "+num(ok.ID)+" has no failed tasks, so there is nothing to repair. Nothing was changed.")
}
