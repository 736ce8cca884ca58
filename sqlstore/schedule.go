package sqlstore

import (
	"time"

	"github.com/kiln-dev/kiln"
)

func scheduleNotFound(jobID int64) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Job %d has no schedule.", jobID)
}

func scanSchedule(r scanner) (*kiln.JobSchedule, error) {
	s := &kiln.JobSchedule{}
	var next int64
	if err := r.Scan(&s.JobID, &s.Spec, &next); err != nil {
		return nil, err
	}
	s.NextFire = kiln.TimeOfMillis(next)
	return s, nil
}

// SetJobSchedule creates or replaces the schedule of job s.JobID;
// ENotFound if the job does not exist.
func (t *tx) SetJobSchedule(s kiln.JobSchedule) error {
	const op = "set job schedule"
	if err := t.writable(op); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO job_schedules (job_id, spec, next_fire) VALUES (?, ?, ?)
		ON CONFLICT (job_id) DO UPDATE SET spec = excluded.spec, next_fire = excluded.next_fire`,
		s.JobID, s.Spec, kiln.MillisOf(s.NextFire))
	if err != nil {
		return t.fail(op, err, jobNotFound(s.JobID), nil)
	}
	return nil
}

// DeleteJobSchedule removes the job's schedule, if it has one.
func (t *tx) DeleteJobSchedule(jobID int64) error {
	const op = "delete job schedule"
	if err := t.writable(op); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM job_schedules WHERE job_id = ?`, jobID); err != nil {
		return t.fail(op, err, nil, nil)
	}
	return nil
}

// JobSchedule returns the job's schedule, or ENotFound.
func (t *tx) JobSchedule(jobID int64) (*kiln.JobSchedule, error) {
	s, err := scanSchedule(t.queryRow(`SELECT job_id, spec, next_fire FROM job_schedules WHERE job_id = ?`, jobID))
	if err != nil {
		return nil, t.fail("read job schedule", err, scheduleNotFound(jobID), nil)
	}
	return s, nil
}

// DueSchedules returns the schedules due at now, earliest first.
func (t *tx) DueSchedules(now time.Time, limit int) ([]*kiln.JobSchedule, error) {
	const op = "list due schedules"
	return collect(t, op, `SELECT job_id, spec, next_fire FROM job_schedules WHERE next_fire <= ?
		ORDER BY next_fire, job_id LIMIT ?`, scanSchedule, kiln.MillisOf(now), pageLimit(limit))
}

// AdvanceJobSchedule moves next_fire from from to to if it is still from;
// a zero to removes the schedule if it is still at from.
func (t *tx) AdvanceJobSchedule(jobID int64, from, to time.Time) (bool, error) {
	const op = "advance job schedule"
	if err := t.writable(op); err != nil {
		return false, err
	}
	q, args := `UPDATE job_schedules SET next_fire = ? WHERE job_id = ? AND next_fire = ?`, []any{kiln.MillisOf(to), jobID, kiln.MillisOf(from)}
	if to.IsZero() {
		q, args = `DELETE FROM job_schedules WHERE job_id = ? AND next_fire = ?`, []any{jobID, kiln.MillisOf(from)}
	}
	res, err := t.exec(q, args...)
	if err != nil {
		return false, t.fail(op, err, nil, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, t.fail(op, err, nil, nil)
	}
	return n == 1, nil
}
