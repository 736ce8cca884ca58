package console

// A job page's schedule and actions: the schedule (a Quartz cron
// expression in a time zone) or periodic trigger with its next run, Pause
// and Resume, Run now, and Run now with different parameters.
//
// The next run shown is the scheduler's own: the tick the store keeps for
// the job (service.JobView.NextFire), which every server's FireSchedules
// compares with its clock, so the page and the scheduler cannot disagree.
// A paused schedule shows the tick Resume would set, by the same timer.
//
// Pause and Resume change only pause_status (SetJobPause, jobs/update's
// save path in one transaction), which needs CAN_MANAGE and re-syncs the
// stored tick in that transaction, so the scheduler follows at its next poll (a
// fraction of a second). Run now goes through the service's run-now path
// (RunNow), which needs CAN_MANAGE_RUN. The page offers each action only
// to who may take it and says in words why not; a forged post is refused
// by the service all the same.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// Form field prefixes of Run now with different parameters: a job
// parameter's new value, or a notebook parameter's (base_parameters of
// a job without job parameters, sent as notebook_params).
const (
	jobParamField      = "job_param."
	notebookParamField = "notebook_param."
)

// zoned is an instant shown in a schedule's time zone and in UTC.
type zoned struct {
	ISO, Local, UTC string
}

func zonedOf(t time.Time, loc *time.Location) zoned {
	if t.IsZero() {
		return zoned{}
	}
	z := zoned{ISO: t.UTC().Format(time.RFC3339), UTC: t.UTC().Format("2006-01-02 15:04:05 UTC")}
	if loc != nil && loc != time.UTC {
		z.Local = t.In(loc).Format("2006-01-02 15:04:05 MST") + " (" + loc.String() + ")"
	}
	return z
}

// scheduleView is what a job page shows of its schedule or trigger.
type scheduleView struct {
	// Cron is set for a schedule, Every for a periodic trigger,
	// Continuous for a continuous job; Other is a trigger kiln does not
	// fire (file arrival, table update).
	Cron, TimeZone string
	Every          string
	Continuous     bool
	Other          bool
	Paused         bool
	// Next is the scheduler's next tick; ResumeNext, when paused, the one
	// Resume would set.
	Next, ResumeNext zoned
	// Action is where Pause or Resume posts; empty when the user may not
	// change the job (Why says so).
	Action, ActionLabel string
	Why                 string
}

// jobTimer reads the schedule or trigger of a job's settings.
type jobTimer struct {
	Schedule *struct {
		Expr        string `json:"quartz_cron_expression"`
		Zone        string `json:"timezone_id"`
		PauseStatus string `json:"pause_status"`
	} `json:"schedule"`
	Trigger *struct {
		PauseStatus string `json:"pause_status"`
		Periodic    *struct {
			Interval int64  `json:"interval"`
			Unit     string `json:"unit"`
		} `json:"periodic"`
	} `json:"trigger"`
	Continuous *struct {
		PauseStatus string `json:"pause_status"`
	} `json:"continuous"`
}

// scheduleOf describes v's schedule for the page; nil when the job has no
// schedule, trigger or continuous setting.
func scheduleOf(v *service.JobView) *scheduleView {
	var jt jobTimer
	json.Unmarshal(v.Job.Settings, &jt)
	s := &scheduleView{}
	var loc *time.Location
	next := v.NextFire
	switch {
	case jt.Schedule != nil:
		s.Cron, s.TimeZone = strings.Join(strings.Fields(jt.Schedule.Expr), " "), jt.Schedule.Zone
		if s.TimeZone == "" {
			s.TimeZone = "UTC"
		}
		loc, _ = time.LoadLocation(s.TimeZone) // the service validated it
		s.Paused = jt.Schedule.PauseStatus == service.PausePaused
	case jt.Continuous != nil:
		// Its stored tick is when the scheduler next checks for a run to
		// start, not a run's time: the page shows none.
		s.Continuous, s.Paused = true, jt.Continuous.PauseStatus == service.PausePaused
		next = time.Time{}
	case jt.Trigger != nil:
		s.Paused = jt.Trigger.PauseStatus == service.PausePaused
		if p := jt.Trigger.Periodic; p != nil {
			unit := strings.ToLower(p.Unit)
			if p.Interval == 1 {
				unit = strings.TrimSuffix(unit, "s")
			}
			s.Every = fmt.Sprintf("Every %d %s", p.Interval, unit)
		} else {
			s.Other = true
		}
	default:
		return nil
	}
	s.Next, s.ResumeNext = zonedOf(next, loc), zonedOf(v.ResumeFire, loc)
	switch {
	case !v.CanManage():
		s.Why = fmt.Sprintf("You hold %s on this job: pausing or resuming its schedule needs Can Manage.", levelWords(v.Level))
	case s.Paused:
		s.Action, s.ActionLabel = jobPath(v.Job.ID)+"/schedule/resume", "Resume"
	default:
		s.Action, s.ActionLabel = jobPath(v.Job.ID)+"/schedule/pause", "Pause"
	}
	return s
}

// paramInput is one field of Run now with different parameters.
type paramInput struct {
	ID, Field, Name, Default string
}

// runNowForm is a job page's Run now and Run now with different
// parameters; Why, when set, says why the user may not run the job.
type runNowForm struct {
	Action string
	// JobParams are the job's parameters; NotebookParams, for a job
	// without them, the notebook tasks' base_parameters that every
	// notebook task defining them agrees on.
	JobParams, NotebookParams []paramInput
	Why                       string
}

// runnableParams reads the parameters a run may override: the job's
// parameters with their defaults, and the notebook base_parameters whose
// value is the same in every notebook task that sets them (one value for
// notebook_params can then stand for all of them).
func runnableParams(settings []byte) (job []field, notebook []field) {
	var s struct {
		Parameters []struct {
			Name    string          `json:"name"`
			Default json.RawMessage `json:"default"`
		} `json:"parameters"`
		Tasks        []map[string]json.RawMessage `json:"tasks"`
		NotebookTask json.RawMessage              `json:"notebook_task"`
	}
	json.Unmarshal(settings, &s)
	for _, p := range s.Parameters {
		job = append(job, field{p.Name, jsonText(p.Default)})
	}
	nbs := []json.RawMessage{s.NotebookTask}
	for _, t := range s.Tasks {
		nbs = append(nbs, t["notebook_task"])
	}
	values := map[string]string{}
	mixed := map[string]bool{}
	for _, raw := range nbs {
		var nb struct {
			BaseParameters map[string]string `json:"base_parameters"`
		}
		if len(raw) == 0 || json.Unmarshal(raw, &nb) != nil {
			continue
		}
		for k, v := range nb.BaseParameters {
			if have, ok := values[k]; ok && have != v {
				mixed[k] = true
			}
			values[k] = v
		}
	}
	for k, v := range values {
		if !mixed[k] {
			notebook = append(notebook, field{k, v})
		}
	}
	sort.Slice(notebook, func(i, j int) bool { return notebook[i].Name < notebook[j].Name })
	return job, notebook
}

// runNowOf builds the Run now forms of v.
func runNowOf(v *service.JobView) *runNowForm {
	f := &runNowForm{Action: jobPath(v.Job.ID) + "/run-now"}
	if !v.CanManageRun() {
		f.Why = fmt.Sprintf("You hold %s on this job: starting a run needs Can Manage Run.", levelWords(v.Level))
		return f
	}
	job, notebook := runnableParams(v.Job.Settings)
	for i, p := range job {
		f.JobParams = append(f.JobParams, paramInput{ID: fmt.Sprintf("job-param-%d", i), Field: jobParamField + p.Name, Name: p.Name, Default: p.Value})
	}
	if len(job) == 0 {
		for i, p := range notebook {
			f.NotebookParams = append(f.NotebookParams, paramInput{ID: fmt.Sprintf("notebook-param-%d", i), Field: notebookParamField + p.Name, Name: p.Name, Default: p.Value})
		}
	}
	return f
}

// jobGone reports whether err is the service's answer for a job that
// does not exist (any more) for the caller.
func jobGone(err error, id int64) bool {
	var ke *kiln.Error
	return errors.As(err, &ke) && ke.Code == kiln.EInvalid && ke.Message == fmt.Sprintf("Job %d does not exist.", id)
}

// visibleJob reads the job the path names, as the user.
func (c *Console) visibleJob(r *http.Request) (*kiln.Job, error) {
	id, err := pathID(r, "job")
	if err != nil {
		return nil, err
	}
	j, err := c.svc.GetJob(r.Context(), id)
	if kiln.IsCode(err, kiln.EInvalid) {
		return nil, jobMissing(id)
	}
	return j, err
}

// runJobNow starts a run of the job (run-now), with the parameters the
// form changed from their defaults, and leads to the run's page. A field
// naming a parameter the job does not have (its settings changed since
// the page was read) is refused, not ignored.
func (c *Console) runJobNow(w http.ResponseWriter, r *http.Request) error {
	j, err := c.visibleJob(r)
	if err != nil {
		return err
	}
	job, notebook := runnableParams(j.Settings)
	defaults := func(fs []field) map[string]string {
		m := map[string]string{}
		for _, f := range fs {
			m[f.Name] = f.Value
		}
		return m
	}
	jobDefaults, nbDefaults := defaults(job), defaults(notebook)
	var p service.RunParams
	for key, vals := range r.PostForm {
		val := ""
		if len(vals) > 0 {
			val = vals[0]
		}
		var name string
		var known map[string]string
		var into *map[string]string
		switch {
		case strings.HasPrefix(key, jobParamField):
			name, known, into = strings.TrimPrefix(key, jobParamField), jobDefaults, &p.JobParameters
		case strings.HasPrefix(key, notebookParamField) && len(job) == 0:
			name, known, into = strings.TrimPrefix(key, notebookParamField), nbDefaults, &p.NotebookParams
		default:
			continue
		}
		def, ok := known[name]
		if !ok {
			return kiln.Errorf(kiln.EInvalid, "Job %d has no parameter %q any more: reload the job's page and try again. No run was started.", j.ID, truncate(name, 64))
		}
		if val == def {
			continue
		}
		if *into == nil {
			*into = map[string]string{}
		}
		(*into)[name] = val
	}
	run, err := c.svc.RunNow(r.Context(), service.RunNowParams{JobID: j.ID, RunParams: p})
	if jobGone(err, j.ID) {
		return jobMissing(j.ID) // deleted in between
	}
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Run %d of %s has started.", run.ID, j.Name)
	if n := len(p.JobParameters) + len(p.NotebookParams); n > 0 {
		msg = fmt.Sprintf("Run %d of %s has started with %d changed parameter(s).", run.ID, j.Name, n)
	}
	c.redirectWith(w, r, runPath(j.ID, run.ID), "ok", msg)
	return nil
}

// timerNouns name the settings that fire runs, for messages.
var timerNouns = map[string]string{"schedule": "schedule", "trigger": "trigger", "continuous": "continuous run"}

// setSchedulePause pauses or resumes the job's schedule (or trigger, or
// continuous setting) with the service's SetJobPause, which changes only
// its pause_status in one transaction, with jobs/update's checks.
func (c *Console) setSchedulePause(w http.ResponseWriter, r *http.Request) error {
	j, err := c.visibleJob(r)
	if err != nil {
		return err
	}
	var want string
	switch r.PathValue("change") {
	case "pause":
		want = service.PausePaused
	case "resume":
		want = service.PauseUnpaused
	default:
		return errNoSuchPage
	}
	back := jobPath(j.ID) + "#schedule-title"
	key, changed, err := c.svc.SetJobPause(r.Context(), j.ID, want == service.PausePaused)
	if err != nil {
		if jobGone(err, j.ID) {
			return jobMissing(j.ID) // deleted in between
		}
		return err
	}
	if key == "" {
		c.redirectWith(w, r, back, "error", fmt.Sprintf("Job %s has no schedule, trigger or continuous setting to pause or resume. Nothing was changed.", j.Name))
		return nil
	}
	if !changed {
		state := "running"
		if want == service.PausePaused {
			state = "paused"
		}
		c.redirectWith(w, r, back, "error", fmt.Sprintf("The %s of %s is already %s. Nothing was changed.", timerNouns[key], j.Name, state))
		return nil
	}
	msg := fmt.Sprintf("The %s of %s is paused: it starts no runs until it is resumed.", timerNouns[key], j.Name)
	if want == service.PauseUnpaused {
		msg = fmt.Sprintf("The %s of %s is resumed.", timerNouns[key], j.Name)
	}
	c.redirectWith(w, r, back, "ok", msg)
	return nil
}
