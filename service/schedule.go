package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // timezone_id must not depend on the host's zoneinfo

	"github.com/reugn/go-quartz/quartz"

	"github.com/kiln-dev/kiln"
)

// A job fires runs on its own from one of three settings, as on
// Databricks: schedule ({quartz_cron_expression, timezone_id,
// pause_status}), trigger.periodic ({interval, unit}, with
// trigger.pause_status), or continuous ({pause_status}: always one run
// going, see fireContinuous). The
// service compiles the setting into a timer and keeps, in the store, the
// job's next tick (kiln.JobSchedule), in the transaction that saves the
// settings. Every server polls the due ticks (FireSchedules); one claims a
// tick by moving the job's next tick forward with a compare and swap
// (AdvanceJobSchedule) in the transaction that queues the tick's run,
// which also carries the tick as its ScheduledTime (unique per job), so a
// tick fires exactly once however many replicas race for it, and a crash
// before the commit leaves the tick to the next poll.

// Audit actions of scheduled runs.
const (
	AuditRunScheduled = "jobs.runTriggered"
	AuditRunSkipped   = "jobs.scheduledRunSkipped"
)

// Pause states of a schedule or trigger.
const (
	PauseUnpaused = "UNPAUSED"
	PausePaused   = "PAUSED"
)

// ScheduleMisfire is how late a tick may fire and still be its own run.
// Ticks later than that (the server, or every replica, was down) are
// missed: however many there are, one run is queued for them at once and
// the schedule goes on from the next tick after now, as Databricks does
// after an outage (it never backfills).
const ScheduleMisfire = 5 * time.Second

// dueBatch bounds the schedules one poll fires.
const dueBatch = 100

// scheduleSetting is JobSettings.schedule (CronSchedule).
type scheduleSetting struct {
	QuartzCronExpression string `json:"quartz_cron_expression"`
	TimezoneID           string `json:"timezone_id"`
	PauseStatus          string `json:"pause_status"`
}

// triggerSetting is JobSettings.trigger (TriggerSettings); kiln fires
// only its periodic form.
type triggerSetting struct {
	PauseStatus string           `json:"pause_status"`
	Periodic    *periodicSetting `json:"periodic"`
}

// continuousSetting is JobSettings.continuous (Continuous).
type continuousSetting struct {
	PauseStatus   string `json:"pause_status"`
	TaskRetryMode string `json:"task_retry_mode"`
}

// periodicSetting is TriggerSettings.periodic.
type periodicSetting struct {
	Interval int64  `json:"interval"`
	Unit     string `json:"unit"`
}

// periodicUnits are the units of trigger.periodic.
var periodicUnits = map[string]time.Duration{"HOURS": time.Hour, "DAYS": 24 * time.Hour, "WEEKS": 7 * 24 * time.Hour}

// timer is a compiled schedule or periodic trigger.
type timer struct {
	// spec describes it canonically; a job whose spec did not change
	// keeps its next tick when its settings are saved.
	spec string
	// Exactly one of cron, every and continuous is set.
	cron       *quartz.CronTrigger
	every      time.Duration
	continuous bool
	// dayOfMonth is the cron expression's day of month when it is one
	// plain number (0 otherwise), and loc its time zone: a tick on another
	// day is go-quartz rolling a day the month lacks into the next month.
	dayOfMonth int
	loc        *time.Location
}

// continuousSpec is the spec of every continuous timer.
const continuousSpec = "continuous"

// after returns the first tick strictly after from, in the sequence of
// ticks that holds tick (periodic ticks are a grid from it; cron ticks
// ignore it); false when there is none (a cron expression whose years
// are past).
func (t *timer) after(tick, from time.Time) (time.Time, bool) {
	if t.every > 0 {
		if from.Before(tick) {
			return tick, true
		}
		n := from.Sub(tick)/t.every + 1
		return tick.Add(n * t.every), true
	}
	prev := from
	for range 1000 {
		n, err := t.cron.NextFireTime(prev.UnixNano())
		if err != nil || n <= 0 {
			return time.Time{}, false
		}
		next := time.Unix(0, n).UTC()
		prev = next
		// go-quartz can roll a day a month lacks into the next month (31
		// April as 1 May, 30 February as 1 March); such a time is no tick
		// of the expression. It shows as a day other than the one the
		// expression names or, for a list or range of days, as not finding
		// the time again from just before it.
		if t.dayOfMonth > 0 && next.In(t.loc).Day() != t.dayOfMonth {
			continue
		}
		if again, err := t.cron.NextFireTime(next.Add(-time.Second).UnixNano()); err == nil && again == n {
			return next, true
		}
	}
	return time.Time{}, false
}

// first returns the first tick of a timer set at now: the next cron tick,
// or one interval from now.
func (t *timer) first(now time.Time) (time.Time, bool) {
	if t.continuous {
		return now.Truncate(time.Millisecond), true // a run at once
	}
	if t.every > 0 {
		return now.Add(t.every).Truncate(time.Millisecond), true
	}
	return t.after(time.Time{}, now)
}

// fireAt decides what a server does with the due tick next at now: the
// tick the run is queued for and the tick after it (ok false: none, the
// schedule ends). A tick at most ScheduleMisfire late is its own run and
// the next is the tick after it (which may be due already: a server that
// fell a little behind catches up tick by tick). A later tick is missed:
// its run stands for every tick missed since, and the next tick is the
// first after now.
func (t *timer) fireAt(next, now time.Time) (after time.Time, ok bool) {
	if now.Sub(next) <= ScheduleMisfire {
		return t.after(next, next)
	}
	return t.after(next, now)
}

// parseTimer compiles the schedule or periodic trigger of settings: nil
// when they have neither, or it is paused. EInvalid, with a message
// naming the field, for a bad expression, time zone, pause status,
// interval or unit.
func parseTimer(s *settings) (*timer, error) {
	if s.Schedule != nil && s.Trigger != nil && s.Trigger.Periodic != nil {
		return nil, kiln.Errorf(kiln.EInvalid, "A job has either a schedule or a periodic trigger, not both.")
	}
	if c := s.Continuous; c != nil {
		if s.Schedule != nil || s.Trigger != nil {
			return nil, kiln.Errorf(kiln.EInvalid, "A continuous job cannot also have a schedule or a trigger.")
		}
		if s.MaxConcurrentRuns != nil && *s.MaxConcurrentRuns > 1 {
			return nil, kiln.Errorf(kiln.EInvalid, "A continuous job has one run at a time: max_concurrent_runs must be 1, not %d.", *s.MaxConcurrentRuns)
		}
		switch c.TaskRetryMode {
		case "", "NEVER", "ON_FAILURE":
		default:
			return nil, kiln.Errorf(kiln.EInvalid, "continuous.task_retry_mode must be NEVER or ON_FAILURE, not %q.", c.TaskRetryMode)
		}
		paused, err := pauseStatus("continuous", c.PauseStatus)
		if err != nil || paused {
			return nil, err
		}
		return &timer{spec: continuousSpec, continuous: true}, nil
	}
	if sc := s.Schedule; sc != nil {
		paused, err := pauseStatus("schedule", sc.PauseStatus)
		if err != nil {
			return nil, err
		}
		t, err := parseCron(sc.QuartzCronExpression, sc.TimezoneID)
		if err != nil || paused {
			return nil, err
		}
		return t, nil
	}
	if tr := s.Trigger; tr != nil {
		paused, err := pauseStatus("trigger", tr.PauseStatus)
		if err != nil {
			return nil, err
		}
		if tr.Periodic == nil {
			return nil, nil // file arrival, table update: kiln has no such events
		}
		unit, ok := periodicUnits[tr.Periodic.Unit]
		if !ok {
			return nil, kiln.Errorf(kiln.EInvalid, "trigger.periodic.unit must be HOURS, DAYS or WEEKS, not %q.", tr.Periodic.Unit)
		}
		if tr.Periodic.Interval < 1 || tr.Periodic.Interval > 10000 {
			return nil, kiln.Errorf(kiln.EInvalid, "trigger.periodic.interval must be between 1 and 10000, not %d.", tr.Periodic.Interval)
		}
		if paused {
			return nil, nil
		}
		return &timer{spec: fmt.Sprintf("every %d %s", tr.Periodic.Interval, tr.Periodic.Unit),
			every: time.Duration(tr.Periodic.Interval) * unit}, nil
	}
	return nil, nil
}

// pauseStatus reads a pause_status ("" is UNPAUSED).
func pauseStatus(field, v string) (paused bool, err error) {
	switch v {
	case "", PauseUnpaused:
		return false, nil
	case PausePaused:
		return true, nil
	}
	return false, kiln.Errorf(kiln.EInvalid, "%s.pause_status must be UNPAUSED or PAUSED, not %q.", field, v)
}

// parseCron compiles a Quartz cron expression (seconds, minutes, hours,
// day of month, month, day of week, optional year) in a time zone (""
// is UTC).
func parseCron(expr, zone string) (*timer, error) {
	expr = strings.Join(strings.Fields(expr), " ")
	if expr == "" {
		return nil, kiln.Errorf(kiln.EInvalid, "schedule.quartz_cron_expression is required.")
	}
	if zone == "" {
		zone = "UTC"
	}
	loc, err := loadZone(zone)
	if err != nil {
		return nil, err
	}
	bad := func(why string) error {
		return kiln.Errorf(kiln.EInvalid, "Invalid Quartz cron expression %q in schedule.quartz_cron_expression: %s.", expr, why)
	}
	fields := strings.Fields(expr)
	if len(fields) != 6 && len(fields) != 7 {
		return nil, bad(fmt.Sprintf("it has %d fields, Quartz wants 6 or 7 (seconds minutes hours day-of-month month day-of-week [year])", len(fields)))
	}
	// Quartz refuses a day of month and a day of week together: one of
	// them must be '?'. go-quartz would take both.
	if (fields[3] == "?") == (fields[5] == "?") {
		return nil, bad("exactly one of day-of-month and day-of-week must be '?'")
	}
	ct, err := quartz.NewCronTriggerWithLoc(expr, loc)
	if err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "parse cron expression: ")
		return nil, bad(msg)
	}
	t := &timer{spec: "cron " + expr + " " + loc.String(), cron: ct, loc: loc}
	if d, err := strconv.Atoi(fields[3]); err == nil {
		t.dayOfMonth = d
	}
	// A day no month of the expression has (30 February) never comes:
	// refused, as Quartz refuses a trigger that will never fire, rather
	// than saved as a schedule that is silently dead. (From 1970, so that
	// a schedule whose years are past is still accepted, as before.)
	if _, ok := t.after(time.Time{}, time.Unix(0, 0)); !ok && t.dayOfMonth > 0 {
		return nil, bad(fmt.Sprintf("day %d of month %s never occurs, so the schedule would never fire", t.dayOfMonth, fields[4]))
	}
	return t, nil
}

// loadZone loads a Java time zone id from the IANA database.
func loadZone(zone string) (*time.Location, error) {
	if zone == "Local" || strings.HasPrefix(zone, "/") || strings.Contains(zone, "..") {
		return nil, kiln.Errorf(kiln.EInvalid, "Unknown time zone %q in schedule.timezone_id.", zone)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, kiln.Errorf(kiln.EInvalid, "Unknown time zone %q in schedule.timezone_id: use an IANA time zone id such as UTC or Europe/Paris.", zone)
	}
	return loc, nil
}

// syncSchedule makes the store's schedule of j follow its settings, in
// the transaction that saved them: none when they have no (unpaused)
// schedule; otherwise the next tick after now, unless the schedule is
// the one already kept (a settings change elsewhere keeps its tick).
func (s *Service) syncSchedule(tx kiln.Tx, j *kiln.Job, now time.Time) error {
	st, _, err := parseSettings(j.Settings, legacyTaskKey(j.Name))
	if err != nil {
		return err
	}
	t, err := parseTimer(st)
	if err != nil {
		return err
	}
	if t == nil {
		return tx.DeleteJobSchedule(j.ID)
	}
	cur, err := tx.JobSchedule(j.ID)
	if err == nil && cur.Spec == t.spec {
		return nil
	}
	if err != nil && !kiln.IsCode(err, kiln.ENotFound) {
		return err
	}
	next, ok := t.first(now)
	if !ok {
		return tx.DeleteJobSchedule(j.ID)
	}
	return tx.SetJobSchedule(kiln.JobSchedule{JobID: j.ID, Spec: t.spec, NextFire: next})
}

// AdoptSchedules gives a firing state to every job whose settings have
// an active schedule, periodic trigger or continuous setting and no
// state in the store (saved by a kiln older than schedules, or written
// around the service), and returns how many it adopted. States kept
// already are left alone, so every replica may call it at start.
func (s *Service) AdoptSchedules(ctx context.Context) (int, error) {
	adopted := 0
	after := kiln.JobFilter{Limit: 500}
	for {
		var jobs []*kiln.Job
		if err := s.view(ctx, func(tx kiln.Tx) (err error) { jobs, err = tx.Jobs(after); return err }); err != nil {
			return adopted, err
		}
		for _, j := range jobs {
			st, _, err := parseSettings(j.Settings, legacyTaskKey(j.Name))
			if err != nil || (st.Schedule == nil && st.Trigger == nil && st.Continuous == nil) {
				continue // a job kiln cannot read fires nothing
			}
			err = s.store.Update(ctx, func(tx kiln.Tx) error {
				if _, err := tx.JobSchedule(j.ID); !kiln.IsCode(err, kiln.ENotFound) {
					return err // kept already, or the read failed
				}
				if err := s.syncSchedule(tx, j, tx.Now()); err != nil {
					return err
				}
				_, err := tx.JobSchedule(j.ID)
				if err == nil {
					adopted++
				} else if kiln.IsCode(err, kiln.ENotFound) {
					err = nil // paused, or a schedule that ended
				}
				return err
			})
			if err != nil && !kiln.IsCode(err, kiln.EInvalid) {
				return adopted, err
			}
		}
		if len(jobs) < after.Limit {
			return adopted, nil
		}
		last := jobs[len(jobs)-1]
		after.AfterCreated, after.AfterID = last.Created, last.ID
	}
}

// FireSchedules queues the runs of the ticks due now (the service's
// clock), each exactly once across every server sharing the store, and
// returns how many it queued. A server that finds nothing due only reads.
// Every server calls it a few times a second.
func (s *Service) FireSchedules(ctx context.Context) (int, error) {
	now := s.now()
	var due []*kiln.JobSchedule
	if err := s.view(ctx, func(tx kiln.Tx) (err error) {
		due, err = tx.DueSchedules(now, dueBatch)
		return err
	}); err != nil {
		return 0, err
	}
	fired := 0
	var firstErr error
	for _, d := range due {
		ok, err := s.fireSchedule(ctx, d, now)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if ok {
			fired++
		}
	}
	if fired > 0 {
		s.wake()
	}
	return fired, firstErr
}

// fireSchedule fires the due tick d.NextFire of one job, if no other
// server did meanwhile, and reports whether it queued a run.
func (s *Service) fireSchedule(ctx context.Context, d *kiln.JobSchedule, now time.Time) (bool, error) {
	queued := false
	err := s.store.Update(ctx, func(tx kiln.Tx) error {
		queued = false
		j, err := tx.Job(d.JobID)
		if kiln.IsCode(err, kiln.ENotFound) {
			return nil // deleted, and its schedule with it
		} else if err != nil {
			return err
		}
		st, _, err := parseSettings(j.Settings, legacyTaskKey(j.Name))
		if err != nil {
			return err
		}
		t, err := parseTimer(st)
		if kiln.IsCode(err, kiln.EInvalid) {
			// Saved by an older kiln that took it (30 February): it
			// never fires, so its firing state goes rather than fail
			// every tick.
			s.log.Warn("schedule dropped: kiln no longer accepts it", "job_id", j.ID, "reason", kiln.ErrorMessage(err))
			return tx.DeleteJobSchedule(j.ID)
		} else if err != nil {
			return err
		}
		if t == nil || t.spec != d.Spec {
			// Changed since the poll read it: follow the settings.
			return s.syncSchedule(tx, j, now)
		}
		if t.continuous {
			var err error
			queued, err = s.fireContinuous(tx, j, st, d.NextFire, now)
			return err
		}
		next, ok := t.fireAt(d.NextFire, now)
		if !ok {
			next = time.Time{} // the last tick: the schedule ends
		}
		moved, err := tx.AdvanceJobSchedule(j.ID, d.NextFire, next)
		if err != nil || !moved {
			return err // another server fired it
		}
		run, skipped, err := s.scheduledRun(tx, j, st, d.NextFire)
		if err != nil {
			return err
		}
		if skipped != "" {
			s.log.Warn("scheduled run skipped", "job_id", j.ID, "scheduled_time", d.NextFire, "reason", skipped)
			return tx.Audit(kiln.AuditEvent{Action: AuditRunSkipped, ActorName: "kiln", Target: jobTarget(j.ID),
				Detail: map[string]string{"scheduled_time": d.NextFire.UTC().Format(time.RFC3339Nano), "reason": skipped}})
		}
		queued = true
		return tx.Audit(kiln.AuditEvent{Action: AuditRunScheduled, ActorID: run.OwnerID, ActorName: run.OwnerName, Target: runTarget(run.ID),
			Detail: map[string]string{"job_id": strconv.FormatInt(j.ID, 10), "scheduled_time": d.NextFire.UTC().Format(time.RFC3339Nano)}})
	})
	return queued, err
}

// scheduledRun queues the run of j for the tick at, as run-now would for
// the job's owner or run_as, with trigger PERIODIC. When no run can be
// queued for a reason that the next tick may not have (the job has no
// runnable task, its owner has too many runs waiting, it is at
// max_concurrent_runs with queueing off, the tick already has a run) it
// queues none and says why: the tick is spent either way, as on
// Databricks.
func (s *Service) scheduledRun(tx kiln.Tx, j *kiln.Job, st *settings, at time.Time) (*kiln.Run, string, error) {
	// A tick that would be skipped leaves no run record, only its audit
	// event: a per-second schedule of a busy job must not fill the run
	// list with SKIPPED runs.
	if skip, err := skipsRun(tx, j.ID, st); err != nil || skip != "" {
		return nil, skip, err
	}
	run, err := s.queueJobRun(tx, j, RunParams{}, "", at)
	if err != nil {
		var ke *kiln.Error
		if errors.As(err, &ke) && (ke.Code == kiln.EInvalid || ke.Code == kiln.EThrottled || ke.Code == kiln.EConflict ||
			ke.Code == kiln.EPermission || ke.Code == kiln.ENotFound) {
			return nil, ke.Message, nil
		}
		return nil, "", err
	}
	return run, "", nil
}

// Continuous jobs keep one run going: when none is active a new one is
// queued (trigger CONTINUOUS), within about ContinuousRecheck of the last
// one ending, or of a cancel, which is how a continuous job takes up new
// settings, as on Databricks. Failures in a row back off exponentially:
// after ContinuousFailureThreshold of them the next run waits
// ContinuousBackoff, doubling with each further failure up to
// ContinuousMaxBackoff; a run that does not fail ends the backoff. Pausing
// stops new runs (the active one goes on); run-now still works.
const (
	ContinuousRecheck          = time.Second
	ContinuousFailureThreshold = 3
	ContinuousBackoff          = 10 * time.Second
	ContinuousMaxBackoff       = 10 * time.Minute
)

// continuousBackoff is how long after the last run ended a continuous job
// with that many failed runs in a row waits before its next run.
func continuousBackoff(failures int) time.Duration {
	if failures < ContinuousFailureThreshold {
		return 0
	}
	d := ContinuousBackoff
	for range failures - ContinuousFailureThreshold {
		if d *= 2; d >= ContinuousMaxBackoff {
			return ContinuousMaxBackoff
		}
	}
	return d
}

// failedInARow counts how many of runs (newest first, all finished) failed
// before the newest one that did not.
func failedInARow(runs []*kiln.Run) int {
	n := 0
	for _, r := range runs {
		switch r.ResultState {
		case kiln.ResultFailed, kiln.ResultTimedOut:
			n++
		default:
			return n
		}
	}
	return n
}

// fireContinuous handles the due check at tick of continuous job j: with
// a run active, or the backoff not over, it only moves the check on;
// otherwise it queues the next run, once across servers (the check's
// compare and swap, and the tick as the run's ScheduledTime), and reports
// that it did.
func (s *Service) fireContinuous(tx kiln.Tx, j *kiln.Job, st *settings, tick, now time.Time) (bool, error) {
	next := now.Add(ContinuousRecheck).Truncate(time.Millisecond)
	if !next.After(tick) {
		next = tick.Add(time.Millisecond)
	}
	recent, err := tx.Runs(kiln.RunFilter{JobID: j.ID, Limit: ContinuousFailureThreshold + 16})
	if err != nil {
		return false, err
	}
	if len(recent) > 0 && !kiln.IsTerminal(recent[0].LifeCycleState) {
		_, err := tx.AdvanceJobSchedule(j.ID, tick, next) // still going
		return false, err
	}
	if len(recent) > 0 {
		if until := recent[0].Ended.Add(continuousBackoff(failedInARow(recent))); now.Before(until) {
			_, err := tx.AdvanceJobSchedule(j.ID, tick, until.Truncate(time.Millisecond).Add(time.Millisecond))
			return false, err
		}
	}
	moved, err := tx.AdvanceJobSchedule(j.ID, tick, next)
	if err != nil || !moved {
		return false, err // another server got there first
	}
	run, err := s.queueJobRun(tx, j, RunParams{trigger: kiln.TriggerContinuous}, "", tick)
	if err != nil {
		var ke *kiln.Error
		if errors.As(err, &ke) && ke.Code != kiln.EInternal {
			// The job cannot run as it stands (its owner is gone, too
			// many runs wait): say so, and try again after a backoff.
			s.log.Warn("continuous run not queued", "job_id", j.ID, "reason", ke.Message)
			if _, err := tx.AdvanceJobSchedule(j.ID, next, now.Add(ContinuousBackoff).Truncate(time.Millisecond)); err != nil {
				return false, err
			}
			return false, tx.Audit(kiln.AuditEvent{Action: AuditRunSkipped, ActorName: "kiln", Target: jobTarget(j.ID),
				Detail: map[string]string{"scheduled_time": tick.UTC().Format(time.RFC3339Nano), "reason": ke.Message}})
		}
		return false, err
	}
	return true, tx.Audit(kiln.AuditEvent{Action: AuditRunScheduled, ActorID: run.OwnerID, ActorName: run.OwnerName, Target: runTarget(run.ID),
		Detail: map[string]string{"job_id": strconv.FormatInt(j.ID, 10), "trigger": kiln.TriggerContinuous}})
}
