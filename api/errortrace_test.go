package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestErrorTraceShowsOnlyUserCode checks that a failed task's error_trace
// (and its logs) name the user's own frames and none of kiln's: the
// runtime shim that runs every task, and the runpy frames that start a
// Python file, are files the user never wrote.
func TestErrorTraceShowsOnlyUserCode(t *testing.T) {
	e, tok := jobsEnv(t)
	importNotebook(t, e, tok, "/Shared/widget", "def day():\n    return dbutils.widgets.get(\"day\")\n\nday()\n")
	importNotebook(t, e, tok, "/Shared/chained", "def parse():\n    try:\n        int(\"x\")\n    except ValueError as e:\n        raise RuntimeError(\"bad config\") from e\n\nparse()\n")
	call(t, e, tok, "POST", "/api/2.0/dbfs/put", map[string]any{"path": "/jobs/boom.py", "overwrite": true,
		"contents": b64("def load():\n    return 1 / 0\n\nload()\n")})
	for _, c := range []struct {
		name, body string
		error      string
		want       []string // in the trace, in order
	}{
		{"ShimRaisesForTheUser", `{"run_name": "w", "notebook_task": {"notebook_path": "/Shared/widget"}}`,
			"InputWidgetNotDefined: No input widget named day is defined",
			[]string{"Traceback (most recent call last):", "cell 1>", "in day", "InputWidgetNotDefined: No input widget named day"}},
		{"ChainedException", `{"run_name": "c", "notebook_task": {"notebook_path": "/Shared/chained"}}`,
			"RuntimeError: bad config",
			[]string{"in parse", "ValueError: invalid literal", "direct cause", "in parse", "RuntimeError: bad config"}},
		{"PythonFileStartedByRunpy", `{"run_name": "p", "spark_python_task": {"python_file": "dbfs:/jobs/boom.py"}}`,
			"ZeroDivisionError: division by zero",
			[]string{"Traceback (most recent call last):", "boom.py\", line 4, in <module>", "in load", "ZeroDivisionError"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			runID := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", c.body), "run_id")
			run := pollRun(t, e, tok, "2.1", runID, 60*time.Second)
			if stateOf(run) != "TERMINATED/FAILED" {
				t.Fatalf("run: %s", asJSON(run))
			}
			out := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, tasksOf(t, run)[0], "run_id")), nil)
			trace, _ := out["error_trace"].(string)
			logs, _ := out["logs"].(string)
			if out["error"] != c.error {
				t.Errorf("error %q, want %q", out["error"], c.error)
			}
			rest := trace
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error_trace lacks %q (in order %q):\n%s", w, c.want, trace)
				}
				rest = rest[i+len(w):]
			}
			for _, where := range []struct{ name, text string }{{"error_trace", trace}, {"logs", logs}} {
				for _, own := range []string{"kiln_runtime", "runpy", "exec(code, names)"} {
					if strings.Contains(where.text, own) {
						t.Errorf("%s shows kiln's own frame %q:\n%s", where.name, own, where.text)
					}
				}
			}
		})
	}
}
