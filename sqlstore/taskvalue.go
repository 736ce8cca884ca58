package sqlstore

import "github.com/kiln-dev/kiln"

// SetTaskValue stores a task value for owner's running attempt.
func (t *tx) SetTaskValue(taskID int64, owner, name string, value []byte) error {
	const op = "set task value"
	if err := t.writable(op); err != nil {
		return err
	}
	leased, err := t.exists(`SELECT 1 FROM task_runs WHERE id = ? AND lease_owner = ? AND state = 'RUNNING'`, taskID, owner)
	if err != nil {
		return internal(op, err)
	}
	if !leased {
		return leaseLost(taskID)
	}
	var others int
	if err := t.queryRow(`SELECT COUNT(*) FROM task_values WHERE task_run_id = ? AND name <> ?`, taskID, name).Scan(&others); err != nil {
		return internal(op, err)
	}
	if others >= kiln.MaxTaskValues {
		return kiln.Errorf(kiln.EInvalid, "A task can set at most %d task values.", kiln.MaxTaskValues)
	}
	if _, err := t.exec(`DELETE FROM task_values WHERE task_run_id = ? AND name = ?`, taskID, name); err != nil {
		return internal(op, err)
	}
	if _, err := t.exec(`INSERT INTO task_values (task_run_id, name, value) VALUES (?, ?, ?)`, taskID, name, string(value)); err != nil {
		return t.fail(op, err, nil, nil)
	}
	return nil
}

// TaskValue returns the value a task set under name.
func (t *tx) TaskValue(taskID int64, name string) ([]byte, error) {
	const op = "read task value"
	var v string
	err := t.queryRow(`SELECT value FROM task_values WHERE task_run_id = ? AND name = ?`, taskID, name).Scan(&v)
	if err != nil {
		return nil, t.fail(op, err, kiln.Errorf(kiln.ENotFound, "Task run %d has no task value %s.", taskID, name), nil)
	}
	return []byte(v), nil
}
