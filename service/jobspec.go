package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// This file reads Databricks JobSettings and SubmitRun bodies: it
// validates them and turns them into the tasks of a run. Settings arrive
// as JSON whose numbers and booleans the API has already canonicalised
// (Airflow sends "3600" for 3600), and are stored as given, so that
// fields kiln does not interpret round-trip.

// Bounds, as Databricks documents them (tasks: kiln's own cap).
const (
	maxTasks            = 1000
	maxRunNameBytes     = 4096
	maxIdempotencyToken = 64
	maxLegacyParamsJSON = 10000
	maxTaskKeyLen       = 100
)

// taskTypes are the task fields of a Task, the runnable ones first.
var taskTypes = []string{"notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task",
	"spark_submit_task", "pipeline_task", "sql_task", "dbt_task", "run_job_task", "condition_task",
	"for_each_task", "clean_rooms_notebook_task", "dashboard_task", "power_bi_task", "gen_ai_compute_task"}

// runnable says which task types kiln executes.
var runnable = map[string]bool{"notebook_task": true, "spark_python_task": true, "python_wheel_task": true,
	"condition_task": true, "run_job_task": true, "for_each_task": true}

// settings is the part of JobSettings (and of a SubmitRun body) kiln
// interprets.
type settings struct {
	Name              string             `json:"name"`
	RunName           string             `json:"run_name"`
	Tasks             []json.RawMessage  `json:"tasks"`
	JobClusters       []jobCluster       `json:"job_clusters"`
	Parameters        []jobParameter     `json:"parameters"`
	TimeoutSeconds    int64              `json:"timeout_seconds"`
	MaxConcurrentRuns *int64             `json:"max_concurrent_runs"`
	GitSource         json.RawMessage    `json:"git_source"`
	Schedule          *scheduleSetting   `json:"schedule"`
	Trigger           *triggerSetting    `json:"trigger"`
	Continuous        *continuousSetting `json:"continuous"`
	Queue             *queueSetting      `json:"queue"`
	// The legacy single-task form keeps one task's fields at the top.
	legacy json.RawMessage
}

// queueSetting is JobSettings.queue.
type queueSetting struct {
	Enabled bool `json:"enabled"`
}

type jobCluster struct {
	Key string `json:"job_cluster_key"`
}

type jobParameter struct {
	Name    string `json:"name"`
	Default string `json:"default"`
}

// task is the part of a Task kiln interprets.
type task struct {
	TaskKey           string          `json:"task_key"`
	DependsOn         []dependency    `json:"depends_on"`
	RunIf             string          `json:"run_if"`
	NotebookTask      *notebookTask   `json:"notebook_task"`
	SparkPythonTask   *pythonTask     `json:"spark_python_task"`
	PythonWheelTask   *wheelTask      `json:"python_wheel_task"`
	Libraries         []library       `json:"libraries"`
	ConditionTask     *conditionTask  `json:"condition_task"`
	RunJobTask        *runJobTask     `json:"run_job_task"`
	ForEachTask       *forEachTask    `json:"for_each_task"`
	ExistingClusterID string          `json:"existing_cluster_id"`
	JobClusterKey     string          `json:"job_cluster_key"`
	NewCluster        json.RawMessage `json:"new_cluster"`
	TimeoutSeconds    int64           `json:"timeout_seconds"`
	MaxRetries        int64           `json:"max_retries"`
	MinRetryInterval  int64           `json:"min_retry_interval_millis"`
	RetryOnTimeout    bool            `json:"retry_on_timeout"`

	kind string          // the task type field set
	raw  json.RawMessage // as given, for rendering
}

type dependency struct {
	TaskKey string `json:"task_key"`
	// Outcome, on a dependency on a condition task, is the outcome
	// ("true" or "false") the condition must reach for the task to run.
	Outcome string `json:"outcome"`
}

// conditionTask is a Databricks ConditionTask: left op right, evaluated by
// the server. The operands are pointers so that a missing one is told
// apart from an empty string.
type conditionTask struct {
	Op    string  `json:"op"`
	Left  *string `json:"left"`
	Right *string `json:"right"`
}

// conditionOps are the operators of a condition task.
var conditionOps = []string{kiln.OpEqualTo, kiln.OpGreaterThan, kiln.OpGreaterThanOrEqual, kiln.OpLessThan,
	kiln.OpLessThanOrEqual, kiln.OpNotEqual}

// runJobTask is a Databricks RunJobTask. kiln passes job_parameters; the
// legacy per-task-type parameters are refused (see checkTaskBody).
type runJobTask struct {
	JobID         int64             `json:"job_id"`
	JobParameters map[string]string `json:"job_parameters"`
	legacyParams  []string
}

// forEachTask is a Databricks ForEachTask: the nested task, run once per
// element of inputs (a JSON array, or a reference to one), concurrency at
// a time.
type forEachTask struct {
	Inputs      string          `json:"inputs"`
	Concurrency *int64          `json:"concurrency"`
	Task        json.RawMessage `json:"task"`
	nested      *task
}

// runJobLegacyParams are the RunJobTask fields of the legacy parameter
// styles, which kiln does not pass on.
var runJobLegacyParams = []string{"notebook_params", "python_params", "jar_params", "python_named_params",
	"spark_submit_params", "sql_params", "dbt_commands", "pipeline_params"}

type notebookTask struct {
	NotebookPath   string            `json:"notebook_path"`
	BaseParameters map[string]string `json:"base_parameters"`
	Source         string            `json:"source"`
}

type pythonTask struct {
	PythonFile string   `json:"python_file"`
	Parameters []string `json:"parameters"`
	Source     string   `json:"source"`
}

// wheelTask is a Databricks PythonWheelTask: the entry point of a package
// that the task's libraries (whl) hold, with positional or named
// parameters.
type wheelTask struct {
	PackageName     string            `json:"package_name"`
	EntryPoint      string            `json:"entry_point"`
	Parameters      []string          `json:"parameters"`
	NamedParameters map[string]string `json:"named_parameters"`
}

// library is the part of a Databricks Library kiln reads: a wheel's path.
// The other kinds (pypi, jar, maven, requirements, …) are kept in the
// definition and not installed: kiln has no network to fetch them from.
type library struct {
	Whl string `json:"whl"`
}

// maxWheels bounds the wheels one task installs.
const maxWheels = 100

// parseSettings decodes and checks settings JSON. It accepts both the
// multi-task form (tasks[]) and the legacy single-task form (a task type
// at the top level), which it turns into one task keyed legacyKey.
func parseSettings(b []byte, legacyKey string) (*settings, []*task, error) {
	var s settings
	if err := strictUnmarshal(b, &s, "settings"); err != nil {
		return nil, nil, err
	}
	if len(s.Tasks) > maxTasks {
		return nil, nil, kiln.Errorf(kiln.EInvalid, "A job can have at most %d tasks.", maxTasks)
	}
	if s.TimeoutSeconds < 0 {
		return nil, nil, kiln.Errorf(kiln.EInvalid, "timeout_seconds must not be negative.")
	}
	if s.MaxConcurrentRuns != nil && (*s.MaxConcurrentRuns < 0 || *s.MaxConcurrentRuns > 1000) {
		return nil, nil, kiln.Errorf(kiln.EInvalid, "max_concurrent_runs must be between 0 and 1000.")
	}
	var tasks []*task
	if len(s.Tasks) == 0 {
		var top map[string]json.RawMessage
		json.Unmarshal(b, &top)
		if kind := taskKind(top); kind != "" {
			t, err := legacyTask(top, legacyKey)
			if err != nil {
				return nil, nil, err
			}
			s.legacy = t.raw
			tasks = append(tasks, t)
		}
	}
	for i, raw := range s.Tasks {
		t, err := parseTask(raw, fmt.Sprintf("tasks[%d]", i))
		if err != nil {
			return nil, nil, err
		}
		tasks = append(tasks, t)
	}
	if err := checkTasks(&s, tasks); err != nil {
		return nil, nil, err
	}
	return &s, tasks, nil
}

// strictUnmarshal decodes JSON, turning type errors into EInvalid messages
// that name the field.
func strictUnmarshal(b []byte, v any, what string) error {
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field != "" {
		return kiln.Errorf(kiln.EInvalid, "Invalid value for %s: expected %s.", typ.Field, typ.Type.String())
	}
	return kiln.Errorf(kiln.EInvalid, "The %s are not valid JSON of the expected shape.", what)
}

// taskKind returns the task type field set in a task object, "" if none.
func taskKind(obj map[string]json.RawMessage) string {
	for _, k := range taskTypes {
		if v, ok := obj[k]; ok && string(v) != "null" {
			return k
		}
	}
	return ""
}

func parseTask(raw json.RawMessage, where string) (*task, error) {
	var t task
	if err := strictUnmarshal(raw, &t, where); err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	json.Unmarshal(raw, &obj)
	t.kind, t.raw = taskKind(obj), raw
	if t.RunJobTask != nil {
		var fields map[string]json.RawMessage
		json.Unmarshal(obj["run_job_task"], &fields)
		for _, f := range runJobLegacyParams {
			if v, ok := fields[f]; ok && string(v) != "null" {
				t.RunJobTask.legacyParams = append(t.RunJobTask.legacyParams, f)
			}
		}
	}
	if fe := t.ForEachTask; fe != nil && len(fe.Task) > 0 && string(fe.Task) != "null" {
		nested, err := parseTask(fe.Task, "for_each_task.task fields")
		if err != nil {
			return nil, err
		}
		fe.nested = nested
	}
	return &t, nil
}

// legacyTaskFields are the top-level fields of the legacy single-task
// form that belong to its task.
var legacyTaskFields = []string{"existing_cluster_id", "new_cluster", "libraries", "max_retries",
	"min_retry_interval_millis", "retry_on_timeout"}

// legacyTask builds the one task of a legacy single-task body.
func legacyTask(top map[string]json.RawMessage, key string) (*task, error) {
	obj := map[string]json.RawMessage{}
	kind := taskKind(top)
	obj[kind] = top[kind]
	for _, f := range legacyTaskFields {
		if v, ok := top[f]; ok {
			obj[f] = v
		}
	}
	k, _ := json.Marshal(key)
	obj["task_key"] = k
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, kiln.Internal(err)
	}
	return parseTask(raw, "the task")
}

// legacyTaskKey is the task_key kiln gives the one task of a run
// submitted in the legacy single-task form (Databricks does not document
// its choice): the run name, or the job name, made a valid task key
// (characters outside letters, digits, - and _ become _, at most 100),
// else "task". Airflow's submit operator names runs after its task_id, so
// the task key is recognisable in runs/get.
func legacyTaskKey(name string) string {
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= maxTaskKeyLen {
			break
		}
		if taskKeyRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "task"
	}
	return b.String()
}

// taskKeyRune says whether r may appear in a task_key: ASCII letters,
// digits, '-' and '_'.
func taskKeyRune(r rune) bool {
	return r == '-' || r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
}

// checkTasks validates tasks against each other and the settings.
func checkTasks(s *settings, tasks []*task) error {
	keys := map[string]*task{}
	clusters := map[string]bool{}
	for _, c := range s.JobClusters {
		clusters[c.Key] = true
	}
	for _, t := range tasks {
		if t.TaskKey == "" {
			return kiln.Errorf(kiln.EInvalid, "Missing required field: task_key.")
		}
		if len(t.TaskKey) > maxTaskKeyLen || strings.IndexFunc(t.TaskKey, func(r rune) bool { return !taskKeyRune(r) }) >= 0 {
			return kiln.Errorf(kiln.EInvalid, "Invalid task_key %q: use letters, digits, '-' and '_', at most %d characters.", t.TaskKey, maxTaskKeyLen)
		}
		if keys[t.TaskKey] != nil {
			return kiln.Errorf(kiln.EInvalid, "Task key %s is used more than once.", t.TaskKey)
		}
		keys[t.TaskKey] = t
		if t.kind == "" {
			return kiln.Errorf(kiln.EInvalid, "Task %s has nothing to run: set notebook_task or spark_python_task.", t.TaskKey)
		}
		if t.JobClusterKey != "" && !clusters[t.JobClusterKey] {
			return kiln.Errorf(kiln.EInvalid, "Task %s uses job cluster %s, which job_clusters does not define.", t.TaskKey, t.JobClusterKey)
		}
		if t.TimeoutSeconds < 0 || t.MaxRetries < -1 || t.MinRetryInterval < 0 {
			return kiln.Errorf(kiln.EInvalid, "Task %s: timeout_seconds and min_retry_interval_millis must not be negative, max_retries not below -1.", t.TaskKey)
		}
		switch t.RunIf {
		case "", kiln.RunIfAllSuccess, kiln.RunIfAllDone, kiln.RunIfNoneFailed, kiln.RunIfAtLeastOneSuccess, kiln.RunIfAllFailed, kiln.RunIfAtLeastOneFailed:
		default:
			return kiln.Errorf(kiln.EInvalid, "Task %s: run_if %q is not one of ALL_SUCCESS, ALL_DONE, NONE_FAILED, AT_LEAST_ONE_SUCCESS, ALL_FAILED, AT_LEAST_ONE_FAILED.", t.TaskKey, t.RunIf)
		}
		if err := checkTaskBody(t, hasGitSource(s)); err != nil {
			return err
		}
	}
	for _, t := range tasks {
		for _, d := range t.DependsOn {
			dep := keys[d.TaskKey]
			if dep == nil {
				return kiln.Errorf(kiln.EInvalid, "Task %s depends on %s, which is not a task of this job.", t.TaskKey, d.TaskKey)
			}
			switch {
			case d.Outcome == "":
			case dep.kind != "condition_task":
				return kiln.Errorf(kiln.EInvalid, "Task %s: depends_on %s names an outcome, but only a dependency on a condition_task can.", t.TaskKey, d.TaskKey)
			case d.Outcome != kiln.OutcomeTrue && d.Outcome != kiln.OutcomeFalse:
				return kiln.Errorf(kiln.EInvalid, "Task %s: the outcome of depends_on %s is %q; use \"true\" or \"false\".", t.TaskKey, d.TaskKey, d.Outcome)
			}
		}
	}
	return checkCycles(tasks)
}

// hasGitSource reports whether the settings name a Git repository, which
// makes GIT the default source of notebooks and files.
func hasGitSource(s *settings) bool {
	return len(s.GitSource) > 0 && string(s.GitSource) != "null"
}

// checkTaskBody checks the fields of the runnable task types. With a
// git_source, a task without source reads from Git, which kiln cannot.
func checkTaskBody(t *task, git bool) error {
	switch t.kind {
	case "notebook_task":
		nb := t.NotebookTask
		if nb.NotebookPath == "" {
			return kiln.Errorf(kiln.EInvalid, "Task %s: notebook_task.notebook_path is required.", t.TaskKey)
		}
		if nb.Source == "GIT" || (git && nb.Source == "") {
			return kiln.Errorf(kiln.EInvalid, "Task %s: kiln cannot run notebooks from Git (source GIT): import the notebook into the workspace.", t.TaskKey)
		}
		if _, err := kiln.CleanObjectPath(nb.NotebookPath); err != nil {
			return kiln.Errorf(kiln.EInvalid, "Task %s: notebook_path: %s", t.TaskKey, kiln.ErrorMessage(err))
		}
	case "condition_task":
		c := t.ConditionTask
		if !slices.Contains(conditionOps, c.Op) {
			if c.Op == "" {
				return kiln.Errorf(kiln.EInvalid, "Task %s: condition_task.op is required: one of %s.", t.TaskKey, strings.Join(conditionOps, ", "))
			}
			return kiln.Errorf(kiln.EInvalid, "Task %s: condition_task.op %q is not one of %s.", t.TaskKey, c.Op, strings.Join(conditionOps, ", "))
		}
		if c.Left == nil || c.Right == nil {
			return kiln.Errorf(kiln.EInvalid, "Task %s: condition_task.left and condition_task.right are required.", t.TaskKey)
		}
		if t.MaxRetries != 0 {
			return kiln.Errorf(kiln.EInvalid, "Task %s: a condition_task cannot be retried (max_retries).", t.TaskKey)
		}
	case "run_job_task":
		rj := t.RunJobTask
		if rj.JobID <= 0 {
			return kiln.Errorf(kiln.EInvalid, "Task %s: run_job_task.job_id is required.", t.TaskKey)
		}
		if len(rj.legacyParams) > 0 {
			return kiln.Errorf(kiln.EInvalid, "Task %s: kiln's run_job_task passes job_parameters only, not %s.", t.TaskKey, strings.Join(rj.legacyParams, ", "))
		}
	case "python_wheel_task":
		w := t.PythonWheelTask
		if w.PackageName == "" || w.EntryPoint == "" {
			return kiln.Errorf(kiln.EInvalid, "Task %s: python_wheel_task.package_name and python_wheel_task.entry_point are required.", t.TaskKey)
		}
		if len(w.Parameters) > 0 && len(w.NamedParameters) > 0 {
			return kiln.Errorf(kiln.EInvalid, "Task %s: python_wheel_task takes parameters or named_parameters, not both.", t.TaskKey)
		}
	case "for_each_task":
		return checkForEachTask(t, git)
	case "spark_python_task":
		if t.SparkPythonTask.PythonFile == "" {
			return kiln.Errorf(kiln.EInvalid, "Task %s: spark_python_task.python_file is required.", t.TaskKey)
		}
		if t.SparkPythonTask.Source == "GIT" || (git && t.SparkPythonTask.Source == "") {
			return kiln.Errorf(kiln.EInvalid, "Task %s: kiln cannot run Python files from Git (source GIT).", t.TaskKey)
		}
	}
	return nil
}

// checkForEachTask checks a for_each_task and its nested task. Inputs
// without a reference must be a JSON array already; a nested for_each is
// refused, as on Databricks.
func checkForEachTask(t *task, git bool) error {
	fe := t.ForEachTask
	if strings.TrimSpace(fe.Inputs) == "" {
		return kiln.Errorf(kiln.EInvalid, "Task %s: for_each_task.inputs is required: a JSON array, or a reference to one.", t.TaskKey)
	}
	if !strings.Contains(fe.Inputs, "{{") {
		var elems []json.RawMessage
		if err := json.Unmarshal([]byte(fe.Inputs), &elems); err != nil || elems == nil {
			return kiln.Errorf(kiln.EInvalid, "Task %s: for_each_task.inputs is not a JSON array.", t.TaskKey)
		}
		if len(elems) > kiln.MaxForEachInputs {
			return kiln.Errorf(kiln.EInvalid, "Task %s: for_each_task.inputs holds %d elements; at most %d are allowed.", t.TaskKey, len(elems), kiln.MaxForEachInputs)
		}
	}
	if c := fe.Concurrency; c != nil && (*c < 1 || *c > kiln.MaxForEachConcurrency) {
		return kiln.Errorf(kiln.EInvalid, "Task %s: for_each_task.concurrency must be between 1 and %d.", t.TaskKey, kiln.MaxForEachConcurrency)
	}
	if t.MaxRetries != 0 {
		return kiln.Errorf(kiln.EInvalid, "Task %s: a for_each_task is not retried itself (max_retries): set max_retries on its nested task, which applies to each iteration.", t.TaskKey)
	}
	n := fe.nested
	switch {
	case n == nil:
		return kiln.Errorf(kiln.EInvalid, "Task %s: for_each_task.task is required: the task to run for each input.", t.TaskKey)
	case n.kind == "for_each_task":
		return kiln.Errorf(kiln.EInvalid, "Task %s: the nested task of a for_each_task cannot be another for_each_task.", t.TaskKey)
	case n.kind == "":
		return kiln.Errorf(kiln.EInvalid, "Task %s: the nested task of its for_each_task has nothing to run.", t.TaskKey)
	case len(n.DependsOn) > 0:
		return kiln.Errorf(kiln.EInvalid, "Task %s: the nested task of a for_each_task cannot have depends_on.", t.TaskKey)
	case n.TimeoutSeconds < 0 || n.MaxRetries < -1 || n.MinRetryInterval < 0:
		return kiln.Errorf(kiln.EInvalid, "Task %s: the nested task's timeout_seconds and min_retry_interval_millis must not be negative, max_retries not below -1.", t.TaskKey)
	}
	if n.TaskKey == "" {
		n.TaskKey = t.TaskKey
	}
	if err := checkTaskBody(n, git); err != nil {
		return err
	}
	return nil
}

// checkCycles refuses dependencies that loop.
func checkCycles(tasks []*task) error {
	deps := map[string][]string{}
	for _, t := range tasks {
		for _, d := range t.DependsOn {
			deps[t.TaskKey] = append(deps[t.TaskKey], d.TaskKey)
		}
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(k string) error
	visit = func(k string) error {
		switch state[k] {
		case onPath:
			i := slices.Index(path, k)
			return kiln.Errorf(kiln.EInvalid, "The tasks' dependencies form a cycle: %s -> %s.", strings.Join(path[i:], " -> "), k)
		case done:
			return nil
		}
		state[k] = onPath
		path = append(path, k)
		for _, d := range deps[k] {
			if err := visit(d); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[k] = done
		return nil
	}
	for _, t := range tasks {
		if err := visit(t.TaskKey); err != nil {
			return err
		}
	}
	return nil
}

// checkRunnable refuses tasks kiln cannot execute, before a run exists.
func checkRunnable(tasks []*task) error {
	if len(tasks) == 0 {
		return kiln.Errorf(kiln.EInvalid, "The run has no tasks: set tasks, or notebook_task or spark_python_task.")
	}
	for _, t := range tasks {
		if !runnable[t.kind] {
			return kiln.Errorf(kiln.EInvalid, "Task %s is a %s, which kiln cannot run: kiln runs notebook_task, spark_python_task, python_wheel_task, condition_task, run_job_task and for_each_task.", t.TaskKey, t.kind)
		}
		if fe := t.ForEachTask; fe != nil && fe.nested != nil && !runnable[fe.nested.kind] {
			return kiln.Errorf(kiln.EInvalid, "Task %s: its for_each_task runs a %s, which kiln cannot run.", t.TaskKey, fe.nested.kind)
		}
		if t.kind == "python_wheel_task" {
			if err := checkWheels(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkWheels refuses a wheel task kiln cannot install: it needs its
// wheels among its libraries (whl), each a workspace path or dbfs:/…,
// which kiln reads as the run's principal. Checked when a run is made,
// not when a job is saved: a job Terraform manages may install its wheel
// some other way (environments) and still be kept.
func checkWheels(t *task) error {
	wheels := t.wheels()
	switch {
	case len(wheels) == 0:
		return kiln.Errorf(kiln.EInvalid, "Task %s: a python_wheel_task needs its wheel in the task's libraries, as {\"whl\": \"/Workspace/…/x.whl\"} or {\"whl\": \"dbfs:/…/x.whl\"}.", t.TaskKey)
	case len(wheels) > maxWheels:
		return kiln.Errorf(kiln.EInvalid, "Task %s: a task installs at most %d wheels.", t.TaskKey, maxWheels)
	}
	for _, w := range wheels {
		lower := strings.ToLower(w)
		switch {
		case strings.HasPrefix(lower, "dbfs:/"):
			if _, err := cleanFile(w); err != nil {
				return kiln.Errorf(kiln.EInvalid, "Task %s: wheel %s: %s", t.TaskKey, w, kiln.ErrorMessage(err))
			}
		case !strings.HasPrefix(w, "/"):
			return kiln.Errorf(kiln.EInvalid, "Task %s: kiln cannot install the wheel %s: give a workspace path (/Workspace/…) or dbfs:/….", t.TaskKey, w)
		default:
			if _, err := kiln.CleanObjectPath(w); err != nil {
				return kiln.Errorf(kiln.EInvalid, "Task %s: wheel %s: %s", t.TaskKey, w, kiln.ErrorMessage(err))
			}
		}
	}
	return nil
}

// wheels are the whl paths of the task's libraries, in order.
func (t *task) wheels() []string {
	var out []string
	for _, l := range t.Libraries {
		if l.Whl != "" {
			out = append(out, l.Whl)
		}
	}
	return out
}

func clusterNotFound(id string) *kiln.Error {
	return kiln.Errorf(kiln.EInvalid, "Cluster %s does not exist.", id)
}

// RunParams are the parameters of one run-now (all optional).
type RunParams struct {
	NotebookParams map[string]string
	PythonParams   []string
	// PythonNamedParams replace the named_parameters (and parameters) of
	// the run's wheel tasks, as --name=value.
	PythonNamedParams map[string]string
	// JobParameters override the job's parameters' defaults.
	JobParameters map[string]string
	// Only runs just these tasks; the others are EXCLUDED.
	Only []string
	// parent is the run_job_task that asks for the run, if one does.
	parent *runParent
	// trigger is what queues the run when it is not what its scheduled
	// time alone says (kiln.TriggerContinuous); "" otherwise.
	trigger string
}

// overriding is what of p a run records as its overriding_parameters (the
// task-type parameters, not job_parameters), or nil when p has none.
func (p RunParams) overriding() *OverridingParameters {
	if p.NotebookParams == nil && p.PythonParams == nil && p.PythonNamedParams == nil {
		return nil
	}
	return &OverridingParameters{NotebookParams: p.NotebookParams, PythonParams: p.PythonParams,
		PythonNamedParams: p.PythonNamedParams}
}

// runParent is the run_job_task a run is queued for.
type runParent struct {
	taskRunID int64
	depth     int
}

// JobParameterValue is a job parameter as a run resolved it.
type JobParameterValue struct {
	Name    string `json:"name"`
	Default string `json:"default"`
	Value   string `json:"value"`
}

// runTasks builds the task runs of a run from validated settings and
// run-now parameters: notebook widgets are base_parameters, overridden
// by job parameters, overridden by notebook_params; a Python file's
// arguments are its parameters, or python_params when given.
// {{job.parameters.<name>}} references are resolved here; the ones
// naming run ids are the runner's to resolve.
func runTasks(s *settings, tasks []*task, p RunParams) ([]*kiln.TaskRun, []JobParameterValue) {
	params := resolveJobParameters(s.Parameters, p.JobParameters)
	refs := map[string]string{}
	for _, jp := range params {
		refs["job.parameters."+jp.Name] = jp.Value
	}
	only := map[string]bool{}
	for _, k := range p.Only {
		only[k] = true
	}
	// A continuous job retries its tasks only with task_retry_mode
	// ON_FAILURE (the default is NEVER): otherwise the job's next run is
	// the retry.
	noRetries := s.Continuous != nil && s.Continuous.TaskRetryMode != "ON_FAILURE"
	var out []*kiln.TaskRun
	for _, t := range tasks {
		tr := &kiln.TaskRun{
			TaskKey: t.TaskKey, RunIf: t.RunIf, Definition: t.raw,
			Timeout:    time.Duration(t.TimeoutSeconds) * time.Second,
			MaxRetries: int(t.MaxRetries), MinRetryInterval: time.Duration(t.MinRetryInterval) * time.Millisecond,
			RetryOnTimeout: t.RetryOnTimeout,
		}
		if noRetries {
			tr.MaxRetries = 0
		}
		for _, d := range t.DependsOn {
			tr.DependsOn = append(tr.DependsOn, d.TaskKey)
			if d.Outcome != "" {
				if tr.DependsOnOutcome == nil {
					tr.DependsOnOutcome = map[string]string{}
				}
				tr.DependsOnOutcome[d.TaskKey] = d.Outcome
			}
		}
		tr.Exec = taskExec(t, params, refs, p)
		out = append(out, tr)
	}
	if len(only) > 0 {
		excludeTasks(out, only)
	}
	return out, params
}

// wheelArgs are a wheel task's command line: its parameters, or its
// named_parameters as --name=value, sorted by name so that a run's
// arguments do not depend on map order.
func wheelArgs(w *wheelTask) []string {
	if len(w.NamedParameters) == 0 {
		return w.Parameters
	}
	names := make([]string, 0, len(w.NamedParameters))
	for k := range w.NamedParameters {
		names = append(names, k)
	}
	sort.Strings(names)
	args := make([]string, len(names))
	for i, k := range names {
		args[i] = "--" + k + "=" + w.NamedParameters[k]
	}
	return args
}

// taskExec is what a task runs, with job parameters resolved.
func taskExec(t *task, params []JobParameterValue, refs map[string]string, p RunParams) kiln.TaskExec {
	var e kiln.TaskExec
	switch t.kind {
	case "condition_task":
		c := t.ConditionTask
		e = kiln.TaskExec{Kind: kiln.ExecCondition, Op: c.Op,
			Args: []string{substituteJobParams(*c.Left, refs), substituteJobParams(*c.Right, refs)}}
	case "run_job_task":
		params := make(map[string]string, len(t.RunJobTask.JobParameters))
		for k, v := range t.RunJobTask.JobParameters {
			params[k] = substituteJobParams(v, refs)
		}
		e = kiln.TaskExec{Kind: kiln.ExecRunJob, JobID: t.RunJobTask.JobID, Params: params}
	case "for_each_task":
		fe, n := t.ForEachTask, t.ForEachTask.nested
		conc := 1
		if fe.Concurrency != nil {
			conc = int(*fe.Concurrency)
		}
		e = kiln.TaskExec{Kind: kiln.ExecForEach, Inputs: substituteJobParams(fe.Inputs, refs), Concurrency: conc,
			Nested: &kiln.NestedTask{Exec: taskExec(n, params, refs, p), Definition: n.raw,
				TimeoutMS: n.TimeoutSeconds * 1000, MaxRetries: int(n.MaxRetries),
				MinRetryIntervalMS: n.MinRetryInterval, RetryOnTimeout: n.RetryOnTimeout}}
	case "notebook_task":
		widgets := map[string]string{}
		for k, v := range t.NotebookTask.BaseParameters {
			widgets[k] = substituteJobParams(v, refs)
		}
		for _, jp := range params {
			widgets[jp.Name] = jp.Value
		}
		for k, v := range p.NotebookParams {
			widgets[k] = v
		}
		e = kiln.TaskExec{Kind: kiln.ExecNotebook, Path: t.NotebookTask.NotebookPath, Params: widgets}
	case "spark_python_task":
		args := t.SparkPythonTask.Parameters
		if p.PythonParams != nil {
			args = p.PythonParams
		}
		resolved := make([]string, len(args))
		for i, a := range args {
			resolved[i] = substituteJobParams(a, refs)
		}
		e = kiln.TaskExec{Kind: kiln.ExecPythonFile, Path: t.SparkPythonTask.PythonFile, Args: resolved}
	case "python_wheel_task":
		w := t.PythonWheelTask
		args := wheelArgs(w)
		switch {
		case p.PythonNamedParams != nil:
			args = wheelArgs(&wheelTask{NamedParameters: p.PythonNamedParams})
		case p.PythonParams != nil:
			args = p.PythonParams
		}
		resolved := make([]string, len(args))
		for i, a := range args {
			resolved[i] = substituteJobParams(a, refs)
		}
		e = kiln.TaskExec{Kind: kiln.ExecWheel, Path: w.PackageName, Package: w.PackageName,
			EntryPoint: w.EntryPoint, Wheels: t.wheels(), Args: resolved}
	}
	// Control tasks run in the server itself, on no cluster.
	if !e.Control() {
		e.ClusterID = t.ExistingClusterID
		if e.ClusterID == "" {
			e.ClusterID = kiln.LocalClusterID
		}
	}
	return e
}

// excludeTasks marks the tasks outside only (run-now's "only") as
// EXCLUDED: the run starts with them done, and their dependents run as if
// they had succeeded.
func excludeTasks(tasks []*kiln.TaskRun, only map[string]bool) {
	for _, t := range tasks {
		if !only[t.TaskKey] {
			t.ResultState = kiln.ResultExcluded
		}
	}
}

func resolveJobParameters(defs []jobParameter, given map[string]string) []JobParameterValue {
	var out []JobParameterValue
	seen := map[string]bool{}
	for _, d := range defs {
		v := d.Default
		if g, ok := given[d.Name]; ok {
			v = g
		}
		out = append(out, JobParameterValue{Name: d.Name, Default: d.Default, Value: v})
		seen[d.Name] = true
	}
	var extra []string
	for k := range given {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		out = append(out, JobParameterValue{Name: k, Value: given[k]})
	}
	return out
}

var jobParamRE = regexp.MustCompile(`\{\{\s*(job\.parameters\.[A-Za-z0-9_.\-]+)\s*\}\}`)

func substituteJobParams(s string, refs map[string]string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return jobParamRE.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := refs[jobParamRE.FindStringSubmatch(m)[1]]; ok {
			return v
		}
		return m
	})
}
