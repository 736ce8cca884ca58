package service

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
)

func TestLegacyTaskKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "task",
		"etl":                    "etl",
		"my_dag.group.task-1":    "my_dag_group_task-1",
		"naïve run":              "na_ve_run",
		strings.Repeat("a", 150): strings.Repeat("a", 100),
	} {
		if got := legacyTaskKey(in); got != want {
			t.Errorf("legacyTaskKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRunTasksResolvesParameters(t *testing.T) {
	body := `{"parameters": [{"name": "env", "default": "dev"}, {"name": "day", "default": "d0"}],
		"tasks": [
			{"task_key": "nb", "notebook_task": {"notebook_path": "/a", "base_parameters": {"day": "b", "x": "{{job.parameters.env}}", "keep": "k"}}},
			{"task_key": "py", "depends_on": [{"task_key": "nb"}], "max_retries": 2, "min_retry_interval_millis": 1500, "timeout_seconds": 9,
				"spark_python_task": {"python_file": "/f.py", "parameters": ["--env", "{{job.parameters.env}}", "{{job.run_id}}"]}}]}`
	st, tasks, err := parseSettings([]byte(body), "k")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		p        RunParams
		widgets  string
		args     string
		excluded []string
	}{
		{"Defaults", RunParams{}, `{"day":"d0","env":"dev","keep":"k","x":"dev"}`, `["--env","dev","{{job.run_id}}"]`, nil},
		{"JobParameters", RunParams{JobParameters: map[string]string{"env": "prod"}}, `{"day":"d0","env":"prod","keep":"k","x":"prod"}`, `["--env","prod","{{job.run_id}}"]`, nil},
		{"NotebookParamsWin", RunParams{NotebookParams: map[string]string{"day": "nb", "new": "1"}}, `{"day":"nb","env":"dev","keep":"k","new":"1","x":"dev"}`, `["--env","dev","{{job.run_id}}"]`, nil},
		{"PythonParamsReplace", RunParams{PythonParams: []string{"a"}}, `{"day":"d0","env":"dev","keep":"k","x":"dev"}`, `["a"]`, nil},
		{"Only", RunParams{Only: []string{"py"}}, `{"day":"d0","env":"dev","keep":"k","x":"dev"}`, `["--env","dev","{{job.run_id}}"]`, []string{"nb"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			trs, _ := runTasks(st, tasks, c.p)
			w, _ := json.Marshal(trs[0].Exec.Params)
			a, _ := json.Marshal(trs[1].Exec.Args)
			if string(w) != c.widgets || string(a) != c.args {
				t.Errorf("widgets %s, args %s; want %s, %s", w, a, c.widgets, c.args)
			}
			var excluded []string
			for _, tr := range trs {
				if tr.ResultState == kiln.ResultExcluded {
					excluded = append(excluded, tr.TaskKey)
				}
			}
			if strings.Join(excluded, ",") != strings.Join(c.excluded, ",") {
				t.Errorf("excluded %v, want %v", excluded, c.excluded)
			}
		})
	}
	trs, _ := runTasks(st, tasks, RunParams{})
	py := trs[1]
	if py.MaxRetries != 2 || py.MinRetryInterval.Milliseconds() != 1500 || py.Timeout.Seconds() != 9 ||
		strings.Join(py.DependsOn, ",") != "nb" || py.Exec.Kind != kiln.ExecPythonFile || py.Exec.Path != "/f.py" {
		t.Errorf("python task: %+v", py)
	}
}

func TestLegacySettingsBecomeOneTask(t *testing.T) {
	st, tasks, err := parseSettings([]byte(`{"run_name": "r", "existing_cluster_id": "kiln-local", "max_retries": 1,
		"libraries": [{"pypi": {"package": "x"}}], "notebook_task": {"notebook_path": "/a"}, "timeout_seconds": 60}`), "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].TaskKey != "r" || tasks[0].kind != "notebook_task" || tasks[0].MaxRetries != 1 ||
		tasks[0].ExistingClusterID != kiln.LocalClusterID || formatOf(st) != "SINGLE_TASK" || st.TimeoutSeconds != 60 {
		t.Fatalf("legacy: %+v %+v", st, tasks[0])
	}
	var def map[string]json.RawMessage
	json.Unmarshal(tasks[0].raw, &def)
	if def["libraries"] == nil || def["notebook_task"] == nil || def["timeout_seconds"] != nil {
		t.Errorf("definition: %s", tasks[0].raw)
	}
}

func TestMergeAndRemove(t *testing.T) {
	merged, err := mergeByKey(json.RawMessage(`[{"task_key":"a","x":1},{"task_key":"b"}]`),
		json.RawMessage(`[{"task_key":"a","x":2},{"task_key":"c"}]`), "task_key")
	if err != nil || string(merged) != `[{"task_key":"a","x":2},{"task_key":"b"},{"task_key":"c"}]` {
		t.Fatalf("mergeByKey: %s, %v", merged, err)
	}
	cur := map[string]json.RawMessage{"tasks": merged, "tags": json.RawMessage(`{}`)}
	for _, f := range []string{"tags", "tasks/b"} {
		if err := removeField(cur, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, has := cur["tags"]; has || string(cur["tasks"]) != `[{"task_key":"a","x":2},{"task_key":"c"}]` {
		t.Errorf("after remove: %v", cur)
	}
	if err := removeField(cur, "name/x"); !kiln.IsCode(err, kiln.EInvalid) {
		t.Errorf("removing by key from a non-list: %v", err)
	}
}

func TestGitSourcesAreRefused(t *testing.T) {
	for _, c := range []struct {
		name, body string
		ok         bool
	}{
		{"ExplicitGit", `{"tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "nb", "source": "GIT"}}]}`, false},
		{"DefaultGitWithGitSource", `{"git_source": {"git_url": "https://x"}, "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/nb"}}]}`, false},
		{"WorkspaceDespiteGitSource", `{"git_source": {"git_url": "https://x"}, "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/nb", "source": "WORKSPACE"}}]}`, true},
		{"PythonFileFromGit", `{"git_source": {"git_url": "https://x"}, "tasks": [{"task_key": "a", "spark_python_task": {"python_file": "a.py"}}]}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := parseSettings([]byte(c.body), "k")
			if (err == nil) != c.ok || (err != nil && !strings.Contains(kiln.ErrorMessage(err), "Git")) {
				t.Errorf("got %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// TestWheelTaskArguments: a wheel task's parameters, or its
// named_parameters as --name=value sorted by name, with job parameter
// references resolved; python_params or python_named_params replace
// them; its wheels are its
// libraries' whl paths, in order, other libraries left out.
func TestWheelTaskArguments(t *testing.T) {
	body := `{"parameters": [{"name": "env", "default": "dev"}], "tasks": [
		{"task_key": "pos", "python_wheel_task": {"package_name": "p", "entry_point": "main", "parameters": ["a", "{{job.parameters.env}}"]},
			"libraries": [{"pypi": {"package": "x"}}, {"whl": "/Workspace/Shared/p.whl"}, {"whl": "dbfs:/w/dep.whl"}]},
		{"task_key": "named", "python_wheel_task": {"package_name": "p", "entry_point": "main", "named_parameters": {"z": "1", "env": "{{job.parameters.env}}", "a": "x y"}},
			"libraries": [{"whl": "dbfs:/w/p.whl"}]}]}`
	st, tasks, err := parseSettings([]byte(body), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRunnable(tasks); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		p          RunParams
		pos, named string
	}{
		{"Defaults", RunParams{}, `["a","dev"]`, `["--a=x y","--env=dev","--z=1"]`},
		{"JobParameters", RunParams{JobParameters: map[string]string{"env": "prod"}}, `["a","prod"]`, `["--a=x y","--env=prod","--z=1"]`},
		{"PythonParamsReplace", RunParams{PythonParams: []string{"b"}}, `["b"]`, `["b"]`},
		{"PythonNamedParamsReplace", RunParams{PythonNamedParams: map[string]string{"y": "2", "b": "1"}}, `["--b=1","--y=2"]`, `["--b=1","--y=2"]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			trs, _ := runTasks(st, tasks, c.p)
			pos, _ := json.Marshal(trs[0].Exec.Args)
			named, _ := json.Marshal(trs[1].Exec.Args)
			if string(pos) != c.pos || string(named) != c.named {
				t.Errorf("args %s and %s, want %s and %s", pos, named, c.pos, c.named)
			}
		})
	}
	trs, _ := runTasks(st, tasks, RunParams{})
	e := trs[0].Exec
	if e.Kind != kiln.ExecWheel || e.Package != "p" || e.EntryPoint != "main" || strings.Join(e.Wheels, ",") != "/Workspace/Shared/p.whl,dbfs:/w/dep.whl" ||
		e.ClusterID != kiln.LocalClusterID {
		t.Errorf("wheel task: %+v", e)
	}
}
