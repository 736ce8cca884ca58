package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestNotebookRun: dbutils.notebook.run runs another notebook with its
// arguments as widgets and returns its exit value; its failures, a
// timeout, a missing notebook and a notebook that runs itself reach the
// caller as exceptions.
func TestNotebookRun(t *testing.T) {
	e, tok := jobsEnv(t)
	call(t, e, tok, "POST", "/api/2.0/workspace/mkdirs", map[string]any{"path": "/Shared/nbrun"})
	importNotebook(t, e, tok, "/Shared/nbrun/child", "dbutils.widgets.text('n', '1')\nprint('child ran')\ndbutils.notebook.exit(str(2 * int(dbutils.widgets.get('n'))))\n")
	importNotebook(t, e, tok, "/Shared/nbrun/quiet", "x = 1\n")
	importNotebook(t, e, tok, "/Shared/nbrun/boom", "1 / 0\n")
	importNotebook(t, e, tok, "/Shared/nbrun/slow", "import time\ntime.sleep(30)\n")
	importNotebook(t, e, tok, "/Shared/nbrun/self", "dbutils.notebook.run('./self', 0)\n")
	catch := func(call string) string {
		return fmt.Sprintf("try:\n    %s\n    dbutils.notebook.exit('no exception')\nexcept Exception as e:\n    dbutils.notebook.exit('%%s: %%s' %% (type(e).__name__, e))\n", call)
	}
	for _, c := range []struct {
		name, parent, want string
	}{
		{"ValueAndArguments", "r = dbutils.notebook.run('./child', 60, {'n': 21})\ndbutils.notebook.exit('got ' + r)\n", "got 42"},
		{"AbsolutePathAndDefaults", "dbutils.notebook.exit('got ' + dbutils.notebook.run('/Shared/nbrun/child', 0))\n", "got 2"},
		{"NoExitIsEmpty", "dbutils.notebook.exit('got [%s]' % dbutils.notebook.run('quiet', 10))\n", "got []"},
		{"NamespacesApart", "n = 'parent'\ndbutils.notebook.run('./child', 10, {'n': 1})\ndbutils.notebook.exit(n + ' ' + dbutils.widgets.get('n'))\n", "parent p"},
		{"ChildFailure", catch("dbutils.notebook.run('./boom', 10)"), "ZeroDivisionError: division by zero"},
		{"Timeout", catch("dbutils.notebook.run('./slow', 1)"), "NotebookRunTimeout: dbutils.notebook.run: ./slow ran longer than 1 seconds"},
		{"Missing", catch("dbutils.notebook.run('./nope', 10)"), "Exception: Notebook /Shared/nbrun/nope does not exist."},
		{"RunsItself", catch("dbutils.notebook.run('./self', 0)"), "RuntimeError: dbutils.notebook.run is nested more than 8 deep"},
	} {
		t.Run(c.name, func(t *testing.T) {
			importNotebook(t, e, tok, "/Shared/nbrun/parent-"+c.name, c.parent)
			body := fmt.Sprintf(`{"run_name": "nbrun", "tasks": [{"task_key": "p", "notebook_task": {"notebook_path": "/Shared/nbrun/parent-%s", "base_parameters": {"n": "p"}}}]}`, c.name)
			runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", body), "run_id")
			run := pollRun(t, e, tok, "2.1", runID, time.Minute)
			task := tasksOf(t, run)[0]
			out := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, task, "run_id")), nil)
			nb, _ := out["notebook_output"].(map[string]any)
			if stateOf(run) != "TERMINATED/SUCCESS" || nb["result"] != c.want {
				t.Fatalf("run %s, result %v, error %v; want result %q", stateOf(run), nb["result"], out["error"], c.want)
			}
			if logs, _ := out["logs"].(string); strings.HasPrefix(c.name, "Value") && !strings.Contains(logs, "child ran") {
				t.Errorf("the child's output is not in the task's logs: %q", logs)
			}
		})
	}
}
