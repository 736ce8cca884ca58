package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
)

// scheduledJob is a one-notebook job with the given schedule (nil: none).
func scheduledJob(name string, schedule map[string]any) map[string]any {
	job := map[string]any{
		"name":                name,
		"max_concurrent_runs": 1000,
		"tasks": []any{map[string]any{"task_key": "main",
			"notebook_task": map[string]any{"notebook_path": "/Shared/tick"}}},
	}
	if schedule != nil {
		job["schedule"] = schedule
	}
	return job
}

func everySecond(pause string) map[string]any {
	return map[string]any{"quartz_cron_expression": "* * * * * ?", "timezone_id": "UTC", "pause_status": pause}
}

// jobRuns lists every run of job, newest first, through runs/list pages.
func jobRuns(t *testing.T, e *kilntest.Env, tok string, job int64) []map[string]any {
	t.Helper()
	var all []map[string]any
	token := ""
	for {
		q := fmt.Sprintf("/api/2.2/jobs/runs/list?job_id=%d&limit=25", job)
		if token != "" {
			q += "&page_token=" + url.QueryEscape(token)
		}
		page := call(t, e, tok, "GET", q, nil)
		runs, _ := page["runs"].([]any)
		for _, r := range runs {
			all = append(all, r.(map[string]any))
		}
		token, _ = page["next_page_token"].(string)
		if token == "" {
			return all
		}
	}
}

func countRuns(t *testing.T, e *kilntest.Env, tok string, job int64) int {
	return len(jobRuns(t, e, tok, job))
}

func TestScheduleValidation(t *testing.T) {
	e := kilntest.Start(t)
	tok := e.AdminToken(t)
	job := int64(call(t, e, tok, "POST", "/api/2.1/jobs/create", scheduledJob("valid", everySecond("UNPAUSED")))["job_id"].(float64))
	for _, c := range []struct {
		name, path string
		body       map[string]any
		want       string
	}{
		{"CreateBadExpression", "/api/2.1/jobs/create",
			scheduledJob("x", map[string]any{"quartz_cron_expression": "0 12 * * *", "timezone_id": "UTC"}), "Invalid Quartz cron expression"},
		{"CreateBadField", "/api/2.1/jobs/create",
			scheduledJob("x", map[string]any{"quartz_cron_expression": "0 0 25 * * ?", "timezone_id": "UTC"}), "Invalid Quartz cron expression"},
		{"CreateUnknownZone", "/api/2.1/jobs/create",
			scheduledJob("x", map[string]any{"quartz_cron_expression": "0 0 12 * * ?", "timezone_id": "Europe/Atlantis"}), "Unknown time zone"},
		{"CreateBadPause", "/api/2.1/jobs/create",
			scheduledJob("x", map[string]any{"quartz_cron_expression": "0 0 12 * * ?", "timezone_id": "UTC", "pause_status": "OFF"}), "pause_status"},
		{"ResetBadExpression", "/api/2.1/jobs/reset", map[string]any{"job_id": job,
			"new_settings": scheduledJob("x", map[string]any{"quartz_cron_expression": "nope", "timezone_id": "UTC"})}, "Invalid Quartz cron expression"},
		{"UpdateUnknownZone", "/api/2.1/jobs/update", map[string]any{"job_id": job,
			"new_settings": map[string]any{"schedule": map[string]any{"quartz_cron_expression": "0 0 12 * * ?", "timezone_id": "Nowhere/Else"}}}, "Unknown time zone"},
		{"UpdateBadPeriodicUnit", "/api/2.1/jobs/update", map[string]any{"job_id": job, "fields_to_remove": []string{"schedule"},
			"new_settings": map[string]any{"trigger": map[string]any{"periodic": map[string]any{"interval": 1, "unit": "SECONDS"}}}}, "HOURS, DAYS or WEEKS"},
		{"UpdateScheduleAndPeriodic", "/api/2.1/jobs/update", map[string]any{"job_id": job,
			"new_settings": map[string]any{"trigger": map[string]any{"periodic": map[string]any{"interval": 1, "unit": "HOURS"}}}}, "not both"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(t, "POST", c.path, tok, c.body)
			if r.Status != 400 || !strings.Contains(string(r.Body), `"INVALID_PARAMETER_VALUE"`) || !strings.Contains(string(r.Body), c.want) {
				t.Fatalf("%d %s; want 400 INVALID_PARAMETER_VALUE mentioning %q", r.Status, r.Body, c.want)
			}
		})
	}
	// The refused changes left the job's schedule as it was.
	got := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", job), nil)
	if s, _ := got["settings"].(map[string]any)["schedule"].(map[string]any); s["quartz_cron_expression"] != "* * * * * ?" {
		t.Errorf("schedule after refused changes: %v", s)
	}
	// Paused: nothing fires.
	call(t, e, tok, "POST", "/api/2.1/jobs/reset", map[string]any{"job_id": job, "new_settings": scheduledJob("valid", everySecond("PAUSED"))})
}

func TestScheduleFiresPauseUnpauseUpdate(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/tick", "print('tick')\n")
	job := int64(call(t, e, tok, "POST", "/api/2.1/jobs/create", scheduledJob("ticker", everySecond("UNPAUSED")))["job_id"].(float64))

	// About one run per second.
	time.Sleep(4500 * time.Millisecond)
	runs := jobRuns(t, e, tok, job)
	if n := len(runs); n < 3 || n > 6 {
		t.Fatalf("%d runs in 4.5 s of a per-second schedule, want about 4", n)
	}
	seconds := map[int64]bool{}
	for _, r := range runs {
		if r["trigger"] != "PERIODIC" || r["run_type"] != "JOB_RUN" || r["creator_user_name"] != kilntest.AdminEmail {
			t.Errorf("scheduled run: trigger %v, run_type %v, creator %v", r["trigger"], r["run_type"], r["creator_user_name"])
		}
		s := int64(r["start_time"].(float64)) / 1000
		if seconds[s] {
			t.Errorf("two runs queued in second %d", s)
		}
		seconds[s] = true
	}

	// Paused at once: no run is queued after the update answered.
	call(t, e, tok, "POST", "/api/2.1/jobs/update", map[string]any{"job_id": job,
		"new_settings": map[string]any{"schedule": everySecond("PAUSED")}})
	paused := countRuns(t, e, tok, job)
	time.Sleep(2500 * time.Millisecond)
	if n := countRuns(t, e, tok, job); n != paused {
		t.Fatalf("%d runs queued while paused", n-paused)
	}

	// Unpaused: it fires again.
	call(t, e, tok, "POST", "/api/2.1/jobs/update", map[string]any{"job_id": job,
		"new_settings": map[string]any{"schedule": everySecond("UNPAUSED")}})
	time.Sleep(3200 * time.Millisecond)
	resumed := countRuns(t, e, tok, job) - paused
	if resumed < 2 || resumed > 5 {
		t.Fatalf("%d runs in 3.2 s after unpausing, want about 3", resumed)
	}

	// A new expression applies at once: every 3 s is at most 2 runs in 4 s.
	call(t, e, tok, "POST", "/api/2.1/jobs/update", map[string]any{"job_id": job,
		"new_settings": map[string]any{"schedule": map[string]any{"quartz_cron_expression": "0/3 * * * * ?", "timezone_id": "Europe/Paris"}}})
	before := countRuns(t, e, tok, job)
	time.Sleep(4 * time.Second)
	runs = jobRuns(t, e, tok, job)
	if n := len(runs) - before; n < 1 || n > 2 {
		t.Fatalf("%d runs in 4 s of an every-3-seconds schedule", n)
	}
	for _, r := range runs[:len(runs)-before] {
		if s := int64(r["start_time"].(float64)) / 1000; s%3 != 0 {
			t.Errorf("a run of 0/3 * * * * ? queued at second %d", s%60)
		}
	}

	// run-now still says ONE_TIME.
	id := int64(call(t, e, tok, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": job})["run_id"].(float64))
	if r := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", id), nil); r["trigger"] != "ONE_TIME" {
		t.Errorf("run-now trigger %v", r["trigger"])
	}

	// A deleted job fires no more.
	call(t, e, tok, "POST", "/api/2.1/jobs/update", map[string]any{"job_id": job,
		"new_settings": map[string]any{"schedule": everySecond("UNPAUSED")}})
	call(t, e, tok, "POST", "/api/2.1/jobs/delete", map[string]any{"job_id": job})
	gone := countRuns(t, e, tok, job)
	time.Sleep(1500 * time.Millisecond)
	if n := countRuns(t, e, tok, job); n != gone {
		t.Fatalf("%d runs queued after the job was deleted", n-gone)
	}
}

// TestScheduleCatchUpAfterDowntime drives the service's clock: ticks
// missed for longer than the misfire threshold (the server was down, or
// stopped) are one run, then the schedule goes on.
func TestScheduleCatchUpAfterDowntime(t *testing.T) {
	clock := kilntest.NewClock()
	e, tok := jobsEnv(t, kilntest.WithClock(clock))
	importNotebook(t, e, tok, "/Shared/tick", "print('tick')\n")
	job := int64(call(t, e, tok, "POST", "/api/2.1/jobs/create", scheduledJob("minutely",
		map[string]any{"quartz_cron_expression": "0 * * * * ?", "timezone_id": "UTC"}))["job_id"].(float64))
	settle := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for countRuns(t, e, tok, job) < want && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Second) // a few more polls: nothing else fires
		if n := countRuns(t, e, tok, job); n != want {
			t.Fatalf("%s: %d runs, want %d", what, n, want)
		}
	}
	settle(0, "before the first tick")
	clock.Advance(10 * time.Minute) // ten ticks missed
	settle(1, "after ten missed ticks")
	clock.Advance(time.Minute) // the next tick
	settle(2, "after the next tick")
	clock.Advance(2 * time.Second) // no tick
	settle(2, "two seconds later")
	for _, r := range jobRuns(t, e, tok, job) {
		if r["trigger"] != "PERIODIC" {
			t.Errorf("trigger %v", r["trigger"])
		}
	}
}

// TestAdoptSchedules: a job whose settings have a schedule but whose
// firing state the store lacks (saved by a kiln older than schedules) is
// adopted once, at start, and fires; a kept state is left alone.
func TestAdoptSchedules(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/tick", "print('tick')\n")
	job := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create", scheduledJob("old", everySecond("UNPAUSED"))), "job_id")
	other := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create", scheduledJob("kept", map[string]any{
		"quartz_cron_expression": "0 0 0 1 1 ? 2099", "timezone_id": "UTC"})), "job_id")
	if err := e.Srv.Store.Update(t.Context(), func(tx kiln.Tx) error { return tx.DeleteJobSchedule(job) }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a tick that fired meanwhile has its run by now
	before := countRuns(t, e, tok, job)
	time.Sleep(1500 * time.Millisecond)
	if n := countRuns(t, e, tok, job); n != before {
		t.Fatalf("%d runs of a job without a firing state", n-before)
	}
	var kept *kiln.JobSchedule
	if err := e.Srv.Store.View(t.Context(), func(tx kiln.Tx) (err error) { kept, err = tx.JobSchedule(other); return err }); err != nil {
		t.Fatal(err)
	}
	n, err := e.Svc().AdoptSchedules(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("AdoptSchedules: %d, %v; want 1", n, err)
	}
	kilntest.Eventually(t, 10*time.Second, "the adopted schedule to fire", func() bool { return countRuns(t, e, tok, job) > before })
	if err := e.Srv.Store.View(t.Context(), func(tx kiln.Tx) error {
		got, err := tx.JobSchedule(other)
		if err == nil && (got.Spec != kept.Spec || !got.NextFire.Equal(kept.NextFire)) {
			t.Errorf("kept schedule changed: %+v, was %+v", got, kept)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Svc().AdoptSchedules(t.Context()); err != nil || n != 0 {
		t.Errorf("AdoptSchedules again: %d, %v; want 0", n, err)
	}
}

// TestSetJobPause: pausing and resuming change only pause_status of the
// job's schedule, trigger or continuous setting; a second identical call
// changes nothing; a job with none of them has nothing to pause.
func TestSetJobPause(t *testing.T) {
	e := kilntest.Start(t)
	tok := e.AdminToken(t)
	admin, err := e.Svc().PrincipalByName(kilntest.Offline(), kilntest.AdminEmail)
	if err != nil {
		t.Fatal(err)
	}
	ctx := kiln.NewContextWithCaller(t.Context(), &kiln.Caller{Principal: admin, Method: "session"})
	cron := map[string]any{"quartz_cron_expression": "0 15 3 * * ?", "timezone_id": "Europe/Paris"}
	for _, tc := range []struct {
		name, setting string
		value         map[string]any
	}{
		{"Schedule", "schedule", cron},
		{"Trigger", "trigger", map[string]any{"periodic": map[string]any{"interval": 4, "unit": "HOURS"}}},
		{"Continuous", "continuous", map[string]any{"pause_status": "PAUSED"}},
		{"None", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := scheduledJob(tc.name, nil)
			delete(job, "max_concurrent_runs") // a continuous job has one run at a time
			if tc.setting != "" {
				job[tc.setting] = tc.value
			}
			id := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create", job), "job_id")
			for _, step := range []struct {
				paused  bool
				changed bool
			}{{true, tc.setting != "continuous"}, {true, false}, {false, true}} {
				setting, changed, err := e.Svc().SetJobPause(ctx, id, step.paused)
				if err != nil || setting != tc.setting || changed != (step.changed && tc.setting != "") {
					t.Fatalf("SetJobPause(%v) = %q, %v, %v; want %q, %v", step.paused, setting, changed, err, tc.setting, step.changed)
				}
				if tc.setting == "" {
					continue
				}
				got := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", id), nil)["settings"].(map[string]any)[tc.setting].(map[string]any)
				want := map[bool]string{true: "PAUSED", false: "UNPAUSED"}[step.paused]
				if got["pause_status"] != want {
					t.Errorf("after SetJobPause(%v): %v", step.paused, got)
				}
				for k, v := range tc.value {
					if k != "pause_status" && fmt.Sprint(got[k]) != fmt.Sprint(v) {
						t.Errorf("%s.%s changed: %v, was %v", tc.setting, k, got[k], v)
					}
				}
			}
		})
	}
}

// TestScheduleThatNeverFiresSavedByAnOlderKiln: a job whose stored
// schedule kiln now refuses (30 February, which an older kiln took) loses
// its firing state at its next tick, rather than failing every tick.
func TestScheduleThatNeverFiresSavedByAnOlderKiln(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/tick", "print('tick')\n")
	// A schedule of 2099, so nothing fires before the settings change.
	job := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/create", scheduledJob("old", map[string]any{
		"quartz_cron_expression": "0 0 0 1 1 ? 2099", "timezone_id": "UTC"})), "job_id")
	dead := scheduledJob("old", map[string]any{"quartz_cron_expression": "0 0 0 30 2 ?", "timezone_id": "UTC"})
	if r := e.Do(t, "POST", "/api/2.1/jobs/create", tok, dead); r.Status != 400 || !strings.Contains(string(r.Body), "never fire") {
		t.Fatalf("creating a job of 30 February: %d %s, want a 400 saying it never fires", r.Status, r.Body)
	}
	// As an older kiln saved it: the settings changed, the firing state
	// due now.
	settings, err := json.Marshal(dead)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Srv.Store.Update(t.Context(), func(tx kiln.Tx) error {
		j, err := tx.Job(job)
		if err != nil {
			return err
		}
		j.Settings = settings
		if err := tx.UpdateJob(j); err != nil {
			return err
		}
		st, err := tx.JobSchedule(job)
		if err != nil {
			return err
		}
		st.NextFire = tx.Now()
		return tx.SetJobSchedule(*st)
	}); err != nil {
		t.Fatal(err)
	}
	kilntest.Eventually(t, 10*time.Second, "the dead schedule's firing state to go", func() bool {
		err := e.Srv.Store.View(t.Context(), func(tx kiln.Tx) error { _, err := tx.JobSchedule(job); return err })
		return kiln.IsCode(err, kiln.ENotFound)
	})
	if n := countRuns(t, e, tok, job); n != 0 {
		t.Errorf("%d runs of a schedule that never fires", n)
	}
}
