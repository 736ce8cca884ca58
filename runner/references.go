package runner

import (
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
