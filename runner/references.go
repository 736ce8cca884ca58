package runner

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// references are the dynamic value references a task's parameters may
// hold ({{job.run_id}} and friends) whose values exist only once the run
// does. Job parameters ({{job.parameters.x}}) are resolved by the service
// when the run is created.
func references(run *kiln.Run, task *kiln.TaskRun) map[string]string {
	runID, taskID := strconv.FormatInt(run.ID, 10), strconv.FormatInt(task.ID, 10)
	return map[string]string{
		"job.id":                  strconv.FormatInt(run.JobID, 10),
		"job.run_id":              runID,
		"task.run_id":             taskID,
		"task.name":               task.TaskKey,
		"task.execution_count":    strconv.Itoa(task.Attempt + 1),
		"job.start_time.iso_date": run.Started.UTC().Format("2006-01-02"),
		// The legacy spellings.
		"job_id":        strconv.FormatInt(run.JobID, 10),
		"run_id":        taskID,
		"parent_run_id": runID,
		"task_key":      task.TaskKey,
	}
}

var referenceRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}`)

// substitute replaces the references in s that refs knows; others stay.
func substitute(s string, refs map[string]string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return referenceRE.ReplaceAllStringFunc(s, func(m string) string {
		key := referenceRE.FindStringSubmatch(m)[1]
		if v, ok := refs[key]; ok {
			return v
		}
		return m
	})
}

// taskValueRefRE matches a reference to a task value:
// {{tasks.<task_key>.values.<name>}}.
var taskValueRefRE = regexp.MustCompile(`^tasks\.([A-Za-z0-9_\-]+)\.values\.([A-Za-z0-9_\-]+)$`)

// addTaskValueRefs adds to refs the task values that task's parameters
// reference ({{tasks.<key>.values.<name>}}), read from the store once the
// tasks before it have set them: a string value as itself, any other as
// its JSON. A value not set stays unresolved, as Databricks leaves it.
func (r *Runner) addTaskValueRefs(ctx context.Context, run *kiln.Run, task *kiln.TaskRun, refs map[string]string) {
	texts := append([]string(nil), task.Exec.Args...)
	for _, v := range task.Exec.Params {
		texts = append(texts, v)
	}
	ids := make(map[string]int64, len(run.Tasks))
	for _, t := range run.Tasks {
		ids[t.TaskKey] = t.ID
	}
	for _, text := range texts {
		for _, m := range referenceRE.FindAllStringSubmatch(text, -1) {
			ref := taskValueRefRE.FindStringSubmatch(m[1])
			if ref == nil || ids[ref[1]] == 0 {
				continue
			}
			if _, done := refs[m[1]]; done {
				continue
			}
			var v []byte
			err := r.store.View(ctx, func(tx kiln.Tx) (err error) { v, err = tx.TaskValue(ids[ref[1]], ref[2]); return err })
			if err != nil {
				continue
			}
			var str string
			if json.Unmarshal(v, &str) == nil {
				refs[m[1]] = str
			} else {
				refs[m[1]] = string(v)
			}
		}
	}
}
