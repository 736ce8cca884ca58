package runner

import (
	"context"
	"encoding/json"

	"github.com/kiln-dev/kiln"
)

// maxTaskValueJSON bounds the JSON of one task value, as Databricks does.
const maxTaskValueJSON = 48 << 10

// maxTaskValueKey bounds the name of a task value.
const maxTaskValueKey = 128

// taskValueRequest is a dbutils.jobs.taskValues call from the shim: set
// stores Value (JSON) under Key for this task; get reads what the task
// TaskKey of the same run set under Key.
type taskValueRequest struct {
	Op      string          `json:"op"`
	TaskKey string          `json:"task_key"`
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value_json"`
}

// answerTaskValue answers one dbutils.jobs.taskValues call of task, an
// attempt this runner holds the lease of: a set is refused once the lease
// is lost, so an attempt that was given up cannot write over its retry's
// values. A get of a key not set answers {"missing": true}: the shim
// returns the caller's default or raises, as Databricks does.
func (r *Runner) answerTaskValue(ctx context.Context, run *kiln.Run, task *kiln.TaskRun, line []byte) []byte {
	var req taskValueRequest
	if json.Unmarshal(line, &req) != nil {
		return errorLine(kiln.Errorf(kiln.EInvalid, "kiln could not read the dbutils.jobs.taskValues call."))
	}
	if req.Key == "" || len(req.Key) > maxTaskValueKey {
		return errorLine(kiln.Errorf(kiln.EInvalid, "A task value's key must have 1 to %d characters.", maxTaskValueKey))
	}
	switch req.Op {
	case "set":
		if len(req.Value) > maxTaskValueJSON || !json.Valid(req.Value) {
			return errorLine(kiln.Errorf(kiln.EInvalid, "The value of task value %s must be JSON of at most %d bytes.", req.Key, maxTaskValueJSON))
		}
		err := r.store.Update(ctx, func(tx kiln.Tx) error { return tx.SetTaskValue(task.ID, r.owner, req.Key, req.Value) })
		if err != nil {
			return errorLine(err)
		}
		return []byte(`{"ok": true}` + "\n")
	case "get":
		var from *kiln.TaskRun
		for _, t := range run.Tasks {
			if t.TaskKey == req.TaskKey {
				from = t
			}
		}
		if from == nil {
			return errorLine(kiln.Errorf(kiln.EInvalid, "This run has no task %s.", req.TaskKey))
		}
		var v []byte
		err := r.store.View(ctx, func(tx kiln.Tx) (err error) { v, err = tx.TaskValue(from.ID, req.Key); return err })
		if kiln.IsCode(err, kiln.ENotFound) {
			return []byte(`{"missing": true}` + "\n")
		} else if err != nil {
			return errorLine(err)
		}
		b, _ := json.Marshal(map[string]json.RawMessage{"value_json": v})
		return append(b, '\n')
	}
	return errorLine(kiln.Errorf(kiln.EInvalid, "dbutils.jobs.taskValues.%s is not supported by kiln.", req.Op))
}
