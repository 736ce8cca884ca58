package sqlstore

import (
	"strings"

	"github.com/kiln-dev/kiln"
)

// jobSelect reads jobs with their creator's user name ("" once the creator
// is deleted).
const jobSelect = `SELECT j.id, j.name, j.creator_id, COALESCE(p.user_name, ''), j.settings, j.created_at
	FROM jobs j LEFT JOIN principals p ON p.id = j.creator_id`

// jobNotFound is the store's missing-job error. The service words the
// API's answer itself (Databricks answers 400 for it).
func jobNotFound(id int64) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Job %d does not exist.", id)
}

func scanJob(r scanner) (*kiln.Job, error) {
	j := &kiln.Job{}
	var settings string
	var created int64
	if err := r.Scan(&j.ID, &j.Name, &j.CreatorID, &j.CreatorName, &settings, &created); err != nil {
		return nil, err
	}
	j.Settings, j.Created = []byte(settings), kiln.TimeOfMillis(created)
	return j, nil
}

// CreateJob inserts j. A zero j.ID gets a random id and a zero j.Created
// the transaction time; both are written back. EConflict if the given id
// is taken.
func (t *tx) CreateJob(j *kiln.Job) error {
	const op = "create job"
	if err := t.writable(op); err != nil {
		return err
	}
	id, err := t.newRowID(op, "jobs", j.ID, kiln.Errorf(kiln.EConflict, "Job %d already exists.", j.ID))
	if err != nil {
		return err
	}
	created := j.Created
	if created.IsZero() {
		created = t.now
	}
	if _, err := t.exec(`INSERT INTO jobs (id, name, creator_id, settings, created_at) VALUES (?, ?, ?, ?, ?)`,
		id, j.Name, j.CreatorID, string(j.Settings), kiln.MillisOf(created)); err != nil {
		return t.fail(op, err, nil, kiln.Errorf(kiln.EConflict, "Job %d already exists.", id))
	}
	j.ID, j.Created = id, created
	return nil
}

// Job returns the job with the given id, or ENotFound.
func (t *tx) Job(id int64) (*kiln.Job, error) {
	j, err := scanJob(t.queryRow(jobSelect+` WHERE j.id = ?`, id))
	if err != nil {
		return nil, t.fail("read job", err, jobNotFound(id), nil)
	}
	return j, nil
}

// Jobs returns the jobs f selects in (created, id) order.
func (t *tx) Jobs(f kiln.JobFilter) ([]*kiln.Job, error) {
	const op = "list jobs"
	var conds []string
	var args []any
	if f.Name != "" {
		conds, args = append(conds, "j.name = ?"), append(args, f.Name)
	}
	if f.CreatorID != 0 {
		c := "j.creator_id = ?"
		args = append(args, f.CreatorID)
		if len(f.GrantedTo) > 0 {
			var or []string
			for _, g := range f.GrantedTo {
				or = append(or, "(a.principal_kind = ? AND a.principal = ?)")
				args = append(args, g.Kind, g.Name)
			}
			c = "(" + c + " OR EXISTS (SELECT 1 FROM object_acls a WHERE a.object_type = 'jobs' AND a.object_id = CAST(j.id AS TEXT) AND (" +
				strings.Join(or, " OR ") + ")))"
		}
		conds = append(conds, c)
	}
	if f.AfterID != 0 || !f.AfterCreated.IsZero() {
		c := kiln.MillisOf(f.AfterCreated)
		conds = append(conds, "(j.created_at > ? OR (j.created_at = ? AND j.id > ?))")
		args = append(args, c, c, f.AfterID)
	}
	args = append(args, pageLimit(f.Limit), max(f.Offset, 0))
	rows, err := t.query(jobSelect+whereClause(conds)+` ORDER BY j.created_at, j.id LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var js []*kiln.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, internal(op, err)
		}
		js = append(js, j)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return js, nil
}

// UpdateJob replaces the name and settings of job j.ID; ENotFound if it
// does not exist.
func (t *tx) UpdateJob(j *kiln.Job) error {
	const op = "update job"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, jobNotFound(j.ID), `UPDATE jobs SET name = ?, settings = ? WHERE id = ?`,
		j.Name, string(j.Settings), j.ID)
}

// DeleteJob removes the job; its runs stay. ENotFound if it does not exist.
func (t *tx) DeleteJob(id int64) error {
	const op = "delete job"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, jobNotFound(id), `DELETE FROM jobs WHERE id = ?`, id)
}
