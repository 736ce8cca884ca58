package service

import (
	"context"
	"time"

	"github.com/kiln-dev/kiln"
)

// JobView is a job as the console's job page shows it: the job, what the
// caller may do with it, and when its schedule fires next. It exists so
// that the page offers only the actions the service would allow, and
// shows the scheduler's own next tick rather than one computed apart.
type JobView struct {
	Job *kiln.Job
	// Level is the caller's permission level on the job: CAN_VIEW,
	// CAN_MANAGE_RUN, CAN_MANAGE (admins) or IS_OWNER.
	Level string
	// NextFire is the tick the scheduler fires next, as the store keeps it
	// (the very value FireSchedules compares with its clock); zero when
	// the job has no active schedule or periodic trigger.
	NextFire time.Time
	// ResumeFire, for a paused schedule or periodic trigger, is the first
	// tick it would have if resumed now (zero otherwise): what Resume
	// would make NextFire.
	ResumeFire time.Time
}

// CanManageRun reports whether the caller may start and cancel the job's
// runs (run-now).
func (v *JobView) CanManageRun() bool { return jobRanks[v.Level] >= rankManageRun }

// CanManage reports whether the caller may change the job's settings
// (jobs/update), its schedule's pause status included.
func (v *JobView) CanManage() bool { return jobRanks[v.Level] >= rankManage }

// rankLevels name the ranks as permission levels.
var rankLevels = map[int]string{
	rankView: kiln.LevelCanView, rankManageRun: kiln.LevelCanManageRun,
	rankManage: kiln.LevelCanManage, rankOwner: kiln.LevelIsOwner,
}

// GetJobView returns a job the caller may see, with the caller's level on
// it and its schedule's next tick, read in one transaction. A job the
// caller may not see does not exist, as for GetJob.
func (s *Service) GetJobView(ctx context.Context, id int64) (*JobView, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	v := &JobView{}
	err = s.view(ctx, func(tx kiln.Tx) error {
		j, err := jobFor(tx, c, id, rankView)
		if err != nil {
			return err
		}
		rank, err := jobRank(tx, c, j)
		if err != nil {
			return err
		}
		*v = JobView{Job: j, Level: rankLevels[rank]}
		sched, err := tx.JobSchedule(id)
		switch {
		case err == nil:
			v.NextFire = sched.NextFire
		case !kiln.IsCode(err, kiln.ENotFound):
			return err
		}
		v.ResumeFire = resumeFire(j, s.now())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// resumeFire is the first tick a paused schedule or periodic trigger of j
// would have if it were resumed at now, by the scheduler's own timer
// (the one syncSchedule would set); zero when j has no paused one.
func resumeFire(j *kiln.Job, now time.Time) time.Time {
	st, _, err := parseSettings(j.Settings, legacyTaskKey(j.Name))
	if err != nil {
		return time.Time{}
	}
	resumed := *st
	switch {
	case st.Schedule != nil && st.Schedule.PauseStatus == PausePaused:
		sc := *st.Schedule
		sc.PauseStatus = PauseUnpaused
		resumed.Schedule = &sc
	case st.Schedule == nil && st.Trigger != nil && st.Trigger.PauseStatus == PausePaused:
		tr := *st.Trigger
		tr.PauseStatus = PauseUnpaused
		resumed.Trigger = &tr
	default:
		return time.Time{}
	}
	t, err := parseTimer(&resumed)
	if err != nil || t == nil {
		return time.Time{}
	}
	next, ok := t.first(now)
	if !ok {
		return time.Time{}
	}
	return next
}
