package console

// The Jobs pages: the signed-in user's jobs and recent runs (an admin's:
// everyone's), a job with its schedule, Run now and its runs (the actions
// in jobactions.go, the run history chart in jobchart.go), and a run at
// the address the Jobs API gives as its run_page_url,
// /jobs/<job>/runs/<run>, with its state, parameters, task graph
// (taskgraph.go), tasks, output and logs, and Cancel run.
//
// Every read and the cancel go through the service with the signed-in user
// as the caller, so the console shows exactly what the API would: a run of
// someone else does not exist for a user who is not an admin. The service
// answers a missing or invisible run as Databricks does (EInvalid, HTTP
// 400); the console shows both as the same 404 page, which does not say
// which of the two it is.
//
// The logs shown are the ones the store keeps for each attempt, the logs of
// runs/get-output: the runner publishes them every few seconds while the
// attempt runs and once more when it ends, with the secret values the task
// read redacted, so any replica can show them. An attempt's output.log under
// the data directory is not shown: it is not redacted, and with a shared
// store the attempt may be running on another replica.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

const (
	jobsSection = "Jobs"
	// jobsPageSize is how many jobs and runs one page lists (runs/list
	// allows at most 25).
	jobsPageSize = 25

	// Display bounds of the outputs in a run's page. The store keeps up to
	// 5 MiB of result and 512 KiB of logs per task; the page shows the
	// start of the result and the end of the logs and the error trace, and
	// says how much it left out. Download logs has all the stored logs.
	resultShown = 64 << 10
	traceShown  = 64 << 10
	logsShown   = 128 << 10
	errorShown  = 8 << 10

	// refreshSeconds is how often, with scripts, the page of an active run
	// updates itself.
	refreshSeconds = 3
)

func jobPath(jobID int64) string { return "/jobs/" + strconv.FormatInt(jobID, 10) }

func runPath(jobID, runID int64) string {
	return jobPath(jobID) + "/runs/" + strconv.FormatInt(runID, 10)
}

// pathID reads a numeric path segment: digits only, positive, below 2^53
// as every kiln id is. Anything else names no page.
func pathID(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	if s == "" || len(s) > 16 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errNoSuchPage
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errNoSuchPage
	}
	return id, nil
}

// runMissing is the answer for a run that does not exist and for one the
// user may not see: the same words, so the page reveals nothing.
func runMissing(id int64) error {
	return kiln.Errorf(kiln.ENotFound, "Run %d does not exist, or you do not have permission to see it.", id)
}

func jobMissing(id int64) error {
	return kiln.Errorf(kiln.ENotFound, "Job %d does not exist, or you do not have permission to see it.", id)
}

// stateView is a life cycle state and a result as colour-coded badges.
type stateView struct {
	LifeCycle, LifeClass string
	// Result is set once the life cycle is final.
	Result, ResultClass string
	Message             string
	Active              bool
}

func stateOf(lifeCycle, result, message string) stateView {
	if lifeCycle == "" {
		lifeCycle = kiln.LifeCyclePending
	}
	s := stateView{LifeCycle: lifeCycle, LifeClass: lifeCycleClass(lifeCycle), Message: message, Active: !kiln.IsTerminal(lifeCycle)}
	if !s.Active && result != "" {
		s.Result, s.ResultClass = result, resultClass(result)
	}
	return s
}

func lifeCycleClass(lc string) string {
	switch lc {
	case kiln.LifeCycleRunning, kiln.LifeCycleTerminating:
		return "badge-run"
	case kiln.LifeCycleWaitingForRetry:
		return "badge-warn"
	case kiln.LifeCycleInternalErr:
		return "badge-fail"
	}
	return "badge-off"
}

func resultClass(result string) string {
	switch result {
	case kiln.ResultSuccess:
		return "badge-ok"
	case kiln.ResultFailed, kiln.ResultTimedOut, kiln.ResultUpstream:
		return "badge-fail"
	case kiln.ResultCanceled, kiln.ResultUpstreamCanceled:
		return "badge-warn"
	}
	return "badge-off"
}

// Text is the state in words: "RUNNING", "TERMINATED, SUCCESS".
func (s stateView) Text() string {
	if s.Result != "" {
		return s.LifeCycle + ", " + s.Result
	}
	return s.LifeCycle
}

// stamp is an instant as a page shows it, to the second, in UTC.
type stamp struct {
	ISO, Text string
	// Empty is what stands in for a zero instant.
	Empty string
}

func stampOf(t time.Time, empty string) stamp {
	if t.IsZero() {
		return stamp{Empty: empty}
	}
	u := t.UTC()
	return stamp{ISO: u.Format(time.RFC3339), Text: u.Format("2006-01-02 15:04:05 UTC")}
}

// span is the time from one instant to another, or to now while the
// second is zero; "" when the first is zero.
func span(from, to, now time.Time) string {
	if from.IsZero() {
		return ""
	}
	if to.IsZero() {
		to = now
	}
	return humanDuration(to.Sub(from))
}

// humanDuration renders d the way run lists do: 850ms, 42s, 3m 05s,
// 2h 10m, 3d 4h.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	d = d.Round(time.Second)
	h, m, s := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", s)
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", m, s)
	case h < 48:
		return fmt.Sprintf("%dh %02dm", h, m)
	}
	return fmt.Sprintf("%dd %dh", h/24, h%24)
}

// runRow is one run in a list.
type runRow struct {
	ID      int64
	Path    string
	Name    string
	JobPath string
	// OneTime marks a run of runs/submit, which has no saved job.
	OneTime  bool
	Owner    string
	State    stateView
	Started  stamp
	Duration string
}

func newRunRow(r *kiln.Run, now time.Time) runRow {
	row := runRow{
		ID: r.ID, Path: runPath(r.JobID, r.ID), Name: r.RunName, JobPath: jobPath(r.JobID),
		OneTime: r.RunType == kiln.RunTypeSubmit, Owner: r.OwnerName,
		State:   stateOf(r.LifeCycleState, r.ResultState, r.StateMessage),
		Started: stampOf(r.Created, "—"), Duration: span(r.Created, r.Ended, now),
	}
	if row.Name == "" {
		row.Name = service.DefaultJobName
	}
	return row
}

// jobRow is one saved job in a list.
type jobRow struct {
	ID      int64
	Path    string
	Name    string
	Creator string
	Created stamp
}

// filterLink is one of the run filters (All, Active, Completed).
type filterLink struct {
	Label, URL string
	Current    bool
}

type jobsData struct {
	// Admin says the lists hold everyone's jobs and runs.
	Admin bool
	Jobs  []jobRow
	// MoreJobs and OlderRuns link to the next page of each list.
	MoreJobs  string
	Show      string
	Filters   []filterLink
	Runs      []runRow
	OlderRuns string
}

// runFilters are the values of the Jobs page's show parameter.
var runFilters = []struct{ Value, Label string }{{"", "All runs"}, {"active", "Active"}, {"completed", "Completed"}}

// jobsPage lists the jobs and recent runs the user may see.
func (c *Console) jobsPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ctx := r.Context()
	d := &jobsData{Admin: currentUser(r).IsAdmin(), Show: q.Get("show")}
	known := false
	for _, f := range runFilters {
		known = known || f.Value == d.Show
	}
	if !known {
		d.Show = ""
	}
	jobs, err := c.svc.ListJobs(ctx, service.JobListParams{Limit: jobsPageSize, PageToken: truncate(q.Get("jobs_page"), 256)})
	if err != nil {
		return err
	}
	for _, j := range jobs.Jobs {
		d.Jobs = append(d.Jobs, jobRow{ID: j.ID, Path: jobPath(j.ID), Name: j.Name, Creator: j.CreatorName, Created: stampOf(j.Created, "—")})
	}
	runs, err := c.svc.ListRuns(ctx, service.RunListParams{
		Limit: jobsPageSize, PageToken: truncate(q.Get("runs_page"), 256),
		ActiveOnly: d.Show == "active", CompletedOnly: d.Show == "completed",
	})
	if err != nil {
		return err
	}
	now := c.now()
	for _, run := range runs.Runs {
		d.Runs = append(d.Runs, newRunRow(run, now))
	}
	// Each list pages on its own; the other keeps its place.
	link := func(set map[string]string) string {
		v := url.Values{}
		for _, k := range []string{"show", "jobs_page", "runs_page"} {
			if x := q.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		for k, x := range set {
			if x == "" {
				v.Del(k)
			} else {
				v.Set(k, x)
			}
		}
		if len(v) == 0 {
			return "/jobs"
		}
		return "/jobs?" + v.Encode()
	}
	if jobs.NextPageToken != "" {
		d.MoreJobs = link(map[string]string{"jobs_page": jobs.NextPageToken})
	}
	if runs.NextPageToken != "" {
		d.OlderRuns = link(map[string]string{"runs_page": runs.NextPageToken}) + "#runs-title"
	}
	for _, f := range runFilters {
		d.Filters = append(d.Filters, filterLink{Label: f.Label, Current: f.Value == d.Show,
			URL: link(map[string]string{"show": f.Value, "runs_page": ""}) + "#runs-title"})
	}
	c.render(w, r, http.StatusOK, "jobs", &page{Title: "Jobs", Section: jobsSection, Data: d})
	return nil
}

// jobTask is one task of a job's settings.
type jobTask struct {
	Key, Kind, Path string
	DependsOn       []string
}

type jobData struct {
	Crumbs []field
	ID     int64
	Name   string
	// Saved is false for a job id that names no saved job: the one-time
	// job of a submitted run, or a job deleted since its runs.
	Saved     bool
	OneTime   bool
	Creator   string
	Created   stamp
	Tasks     []jobTask
	Params    []field
	Admin     bool
	Runs      []runRow
	OlderRuns string
	// Schedule is the job's schedule or trigger (nil: none); RunNow its
	// run actions (nil for a job that is not saved), both jobactions.go.
	Schedule *scheduleView
	RunNow   *runNowForm
	// Chart draws the latest runs' durations (jobchart.go).
	Chart       runChart
	ChartLegend []chartLegendEntry
}

// taskKinds name the task types, runnable ones first.
var taskKinds = []struct{ Field, Label, Path string }{
	{"notebook_task", "Notebook", "notebook_path"},
	{"spark_python_task", "Python file", "python_file"},
	{"python_wheel_task", "Python wheel", "package_name"},
	{"spark_jar_task", "JAR", "main_class_name"},
	{"spark_submit_task", "Spark submit", ""},
	{"pipeline_task", "Pipeline", "pipeline_id"},
	{"sql_task", "SQL", ""},
	{"dbt_task", "dbt", ""},
	{"run_job_task", "Run job", "job_id"},
	{"condition_task", "Condition", ""},
	{"for_each_task", "For each", ""},
}

// describeTask reads a task object's type and what it runs.
func describeTask(m map[string]json.RawMessage) (kind, path string, ok bool) {
	for _, k := range taskKinds {
		raw, has := m[k.Field]
		if !has || string(raw) == "null" {
			continue
		}
		if k.Path != "" {
			var inner map[string]json.RawMessage
			json.Unmarshal(raw, &inner)
			path = jsonText(inner[k.Path])
		}
		return k.Label, path, true
	}
	return "", "", false
}

// jsonText renders a JSON value for a page: a string as is, anything else
// as JSON.
func jsonText(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}

// jobSettings reads what a job page shows of a job's settings: its tasks
// (the legacy single-task form has one, keyed by the job name) and its
// parameters with their defaults.
func jobSettings(settings []byte, name string) ([]jobTask, []field) {
	var s struct {
		Tasks      []map[string]json.RawMessage `json:"tasks"`
		Parameters []struct {
			Name    string          `json:"name"`
			Default json.RawMessage `json:"default"`
		} `json:"parameters"`
	}
	json.Unmarshal(settings, &s)
	var tasks []jobTask
	for _, m := range s.Tasks {
		t := jobTask{Key: jsonText(m["task_key"])}
		t.Kind, t.Path, _ = describeTask(m)
		var deps []struct {
			TaskKey string `json:"task_key"`
		}
		json.Unmarshal(m["depends_on"], &deps)
		for _, d := range deps {
			t.DependsOn = append(t.DependsOn, d.TaskKey)
		}
		tasks = append(tasks, t)
	}
	if len(s.Tasks) == 0 {
		var top map[string]json.RawMessage
		json.Unmarshal(settings, &top)
		if kind, path, ok := describeTask(top); ok {
			tasks = append(tasks, jobTask{Key: name, Kind: kind, Path: path})
		}
	}
	var params []field
	for _, p := range s.Parameters {
		params = append(params, field{p.Name, jsonText(p.Default)})
	}
	return tasks, params
}

// jobPage shows a job and its runs. A job id that names no saved job but
// has runs the user may see (a submitted run's one-time job, a deleted
// job) shows those runs.
func (c *Console) jobPage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "job")
	if err != nil {
		return err
	}
	ctx := r.Context()
	d := &jobData{ID: id, Admin: currentUser(r).IsAdmin(), ChartLegend: chartLegend}
	v, err := c.svc.GetJobView(ctx, id)
	switch {
	case err == nil:
		j := v.Job
		d.Saved, d.Name, d.Creator, d.Created = true, j.Name, j.CreatorName, stampOf(j.Created, "—")
		d.Tasks, d.Params = jobSettings(j.Settings, j.Name)
		d.Schedule, d.RunNow = scheduleOf(v), runNowOf(v)
	case kiln.IsCode(err, kiln.EInvalid):
		// Missing or invisible; its runs may still be there.
	default:
		return err
	}
	token := truncate(r.URL.Query().Get("runs_page"), 256)
	runs, err := c.svc.ListRuns(ctx, service.RunListParams{JobID: id, Limit: jobsPageSize, PageToken: token})
	if err != nil {
		return err
	}
	if !d.Saved && len(runs.Runs) == 0 && token == "" {
		return jobMissing(id)
	}
	now := c.now()
	for _, run := range runs.Runs {
		d.Runs = append(d.Runs, newRunRow(run, now))
	}
	// The chart shows the latest runs whichever page the list is at.
	latest := runs.Runs
	if token != "" {
		first, err := c.svc.ListRuns(ctx, service.RunListParams{JobID: id, Limit: chartRuns})
		if err != nil {
			return err
		}
		latest = first.Runs
	}
	d.Chart = layoutRunChart(latest, now)
	if !d.Saved && len(runs.Runs) > 0 {
		d.OneTime = runs.Runs[0].RunType == kiln.RunTypeSubmit
		d.Name = runs.Runs[0].RunName
	}
	if d.Name == "" {
		d.Name = fmt.Sprintf("Job %d", id)
	}
	d.Crumbs = []field{{d.Name, ""}}
	if runs.NextPageToken != "" {
		d.OlderRuns = jobPath(id) + "?" + url.Values{"runs_page": {runs.NextPageToken}}.Encode() + "#runs-title"
	}
	c.render(w, r, http.StatusOK, "job", &page{Title: d.Name, Section: jobsSection, Data: d})
	return nil
}

// clip is a bounded piece of a long text.
type clip struct {
	Text string
	// Omitted counts the bytes left out; Size is the whole text's.
	Omitted, Size int
}

// headClip keeps the first n bytes of s (a result reads from its start).
func headClip(s string, n int) clip {
	kept := truncate(s, n)
	return clip{Text: kept, Omitted: len(s) - len(kept), Size: len(s)}
}

// tailClip keeps the last n bytes of s, from a line start when one is
// near (logs and traces read from their end).
func tailClip(s string, n int) clip {
	if len(s) <= n {
		return clip{Text: s, Size: len(s)}
	}
	kept := s[len(s)-n:]
	for len(kept) > 0 && !utf8.RuneStart(kept[0]) {
		kept = kept[1:]
	}
	if i := strings.IndexByte(kept, '\n'); i >= 0 && i < 4096 {
		kept = kept[i+1:]
	}
	return clip{Text: kept, Omitted: len(s) - len(kept), Size: len(s)}
}

// ShownSize says how much of the text the page shows.
func (c clip) ShownSize() string { return byteSize(len(c.Text)) }

// TotalSize says how long the whole text is.
func (c clip) TotalSize() string { return byteSize(c.Size) }

func byteSize(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// taskRow is one task of a run.
type taskRow struct {
	ID        int64
	Key       string
	Kind      string
	Path      string
	DependsOn []string
	State     stateView
	Attempt   int
	Started   stamp
	Duration  string
	// Link selects the task on its run's page; Selected marks it.
	Link     string
	Selected bool
	// Stats sums up a for_each task's iterations ("" for other tasks).
	Stats string
}

// maxIterationRows bounds the iterations of a for_each task listed on a
// run's page (a for_each task may have thousands).
const maxIterationRows = 100

// iterationStats sums up the iterations of a for_each task for its row.
func iterationStats(iters []*kiln.TaskRun) string {
	var succeeded, failed, active int
	for _, it := range iters {
		switch {
		case it.Done() && it.ResultState == kiln.ResultSuccess:
			succeeded++
		case it.Done():
			failed++
		case it.LifeCycleState != kiln.LifeCyclePending:
			active++
		}
	}
	return fmt.Sprintf("%d iterations: %d succeeded, %d failed, %d active", len(iters), succeeded, failed, active)
}

func execKind(kind string) string {
	switch kind {
	case kiln.ExecNotebook:
		return "Notebook"
	case kiln.ExecPythonFile:
		return "Python file"
	case kiln.ExecWheel:
		return "Python wheel"
	case kiln.ExecForEach:
		return "For each"
	}
	return kind
}

// taskOutput is what the selected task produced.
type taskOutput struct {
	Task     taskRow
	Notebook bool
	Params   []field
	Args     []string
	// Pending says the current attempt has not ended, so there is no
	// output yet; Running says it has started.
	Pending bool
	Running bool
	// Retrying says the output is the failed attempt's, before a retry.
	Retrying        bool
	HasResult       bool
	Result          clip
	ResultTruncated bool
	Error           clip
	ErrorTrace      clip
	Logs            clip
	LogsTruncated   bool
	LogsURL         string
}

type runData struct {
	// Crumbs lead back to the job; SelfURL reloads the page.
	Crumbs  []field
	SelfURL string
	ID      int64
	Name    string
	Path    string
	JobID   int64
	JobPath string
	OneTime bool
	Owner   string
	State   stateView

	Started  stamp
	Ended    stamp
	Duration string
	Queued   string
	Timeout  string

	JobParams      []service.JobParameterValue
	NotebookParams []field
	PythonParams   []string

	Tasks    []taskRow
	Selected *taskOutput
	// Graph draws Tasks and their dependencies (run_graph.html).
	Graph       taskGraph
	GraphLegend []graphLegendEntry

	Cancel confirmation
	// Repair is offered on a finished run with tasks that did not
	// succeed (CanRepair).
	Repair         confirmation
	CanRepair      bool
	RefreshSeconds int
}

// sortedFields lists a map's entries by name.
func sortedFields(m map[string]string) []field {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]field, 0, len(keys))
	for _, k := range keys {
		out = append(out, field{k, m[k]})
	}
	return out
}

func cancelConfirmation(run *kiln.Run) confirmation {
	path := runPath(run.JobID, run.ID)
	return confirmation{
		Label: "Cancel run", Title: "Cancel run?", Danger: true, Action: path + "/cancel", Back: path,
		Text: fmt.Sprintf("Cancel run %d? Tasks that have not started will not run, and running tasks are stopped at once. This cannot be undone.", run.ID),
	}
}

// visibleRun reads the run the path names, through the service as the
// user. A task run's id yields its run and the task.
func (c *Console) visibleRun(r *http.Request) (*service.RunView, error) {
	jobID, err := pathID(r, "job")
	if err != nil {
		return nil, err
	}
	runID, err := pathID(r, "run")
	if err != nil {
		return nil, err
	}
	v, err := c.svc.GetRun(r.Context(), runID)
	if kiln.IsCode(err, kiln.EInvalid) {
		return nil, runMissing(runID)
	}
	if err != nil {
		return nil, err
	}
	if v.Run.JobID != jobID {
		return nil, runMissing(runID)
	}
	return v, nil
}

// runPage shows a run. A task run's id (the run_page_url of a task) leads
// to its run's page with the task selected.
func (c *Console) runPage(w http.ResponseWriter, r *http.Request) error {
	v, err := c.visibleRun(r)
	if err != nil {
		return err
	}
	run := v.Run
	if v.Task != nil {
		http.Redirect(w, r, runPath(run.JobID, run.ID)+"?task="+strconv.FormatInt(v.Task.ID, 10), http.StatusSeeOther)
		return nil
	}
	now := c.now()
	d := &runData{
		ID: run.ID, Name: run.RunName, Path: runPath(run.JobID, run.ID), JobID: run.JobID, JobPath: jobPath(run.JobID),
		OneTime: run.RunType == kiln.RunTypeSubmit, Owner: run.OwnerName,
		State:   stateOf(run.LifeCycleState, run.ResultState, run.StateMessage),
		Started: stampOf(run.Created, "—"), Ended: stampOf(run.Ended, "Not yet"),
		Duration: span(run.Created, run.Ended, now), Cancel: cancelConfirmation(run), RefreshSeconds: refreshSeconds,
		JobParams: v.Spec.JobParameters, Repair: repairConfirmation(v), CanRepair: repairable(run),
	}
	if d.Name == "" {
		d.Name = service.DefaultJobName
	}
	d.Crumbs, d.SelfURL = runCrumbs(run, d.Name), d.Path
	if !run.Started.IsZero() {
		d.Queued = humanDuration(run.Started.Sub(run.Created))
	}
	if run.Timeout > 0 {
		d.Timeout = humanDuration(run.Timeout)
	}
	if op := v.Spec.OverridingParameters; op != nil {
		d.NotebookParams, d.PythonParams = sortedFields(op.NotebookParams), op.PythonParams
	}

	// The selected task: the one asked for, else the first that failed,
	// else the first.
	var selected *kiln.TaskRun
	if s := r.URL.Query().Get("task"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			selected = run.Task(id)
		}
		if selected == nil {
			return kiln.Errorf(kiln.ENotFound, "Run %d has no task run %s.", run.ID, truncate(s, 32))
		}
		d.SelfURL += "?task=" + strconv.FormatInt(selected.ID, 10)
	}
	jobTasks := run.JobTasks()
	for _, t := range jobTasks {
		if selected == nil && (t.ResultState == kiln.ResultFailed || t.ResultState == kiln.ResultTimedOut || t.LifeCycleState == kiln.LifeCycleInternalErr) {
			selected = t
		}
	}
	if selected == nil && len(jobTasks) > 0 {
		selected = jobTasks[0]
	}
	// The job's tasks, and the iterations of the for_each task selected
	// (or of the iteration selected) after it; the graph shows the job's
	// tasks alone.
	var open int64
	if selected != nil {
		open = selected.ID
		if selected.ParentID != 0 {
			open = selected.ParentID
		}
	}
	var rows []*kiln.TaskRun
	for _, t := range jobTasks {
		rows = append(rows, t)
		if t.ID == open {
			iters := run.Iterations(t.ID)
			rows = append(rows, iters[:min(len(iters), maxIterationRows)]...)
		}
	}
	if selected != nil && selected.ParentID != 0 && !slices.Contains(rows, selected) {
		rows = append(rows, selected)
	}
	var graph []graphTask
	for _, t := range rows {
		row := taskRow{
			ID: t.ID, Key: t.TaskKey, Kind: execKind(t.Exec.Kind), Path: t.Exec.Path, DependsOn: t.DependsOn,
			State: stateOf(t.LifeCycleState, t.ResultState, t.StateMessage), Attempt: t.Attempt,
			Started: stampOf(t.Started, "Not yet"), Duration: span(t.Started, t.Ended, now),
			Link: d.Path + "?task=" + strconv.FormatInt(t.ID, 10) + "#output-title", Selected: t == selected,
		}
		if t.Exec.Kind == kiln.ExecForEach {
			row.Stats = iterationStats(run.Iterations(t.ID))
		}
		if t.LifeCycleState == kiln.LifeCycleWaitingForRetry {
			row.Duration = "" // Started and Ended are the failed attempt's
		}
		d.Tasks = append(d.Tasks, row)
		if t.ParentID == 0 {
			gt := graphTask{ID: t.ID, Key: t.TaskKey, DependsOn: t.DependsOn, Link: row.Link, Selected: row.Selected}
			gt.State, gt.StateLabel = graphStateOf(t.LifeCycleState, t.ResultState)
			graph = append(graph, gt)
		}
		if t == selected {
			if d.Selected, err = c.taskOutput(r, d, row, t); err != nil {
				return err
			}
		}
	}
	d.Graph, d.GraphLegend = layoutTaskGraph(graph), graphLegend
	c.render(w, r, http.StatusOK, "run", &page{Title: fmt.Sprintf("Run %d of %s", run.ID, d.Name), Section: jobsSection, Data: d})
	return nil
}

// taskOutput reads the outputs of one task run (runs/get-output) and
// bounds them for the page.
func (c *Console) taskOutput(r *http.Request, d *runData, row taskRow, t *kiln.TaskRun) (*taskOutput, error) {
	o := &taskOutput{Task: row, Notebook: t.Exec.Kind == kiln.ExecNotebook, Params: sortedFields(t.Exec.Params), Args: t.Exec.Args,
		LogsURL: d.Path + "/logs?task=" + strconv.FormatInt(t.ID, 10)}
	switch t.LifeCycleState {
	case kiln.LifeCycleRunning:
		o.Pending, o.Running = true, true
		return o, nil
	case kiln.LifeCycleQueued, kiln.LifeCycleBlocked, kiln.LifeCyclePending, "":
		o.Pending = true
		return o, nil
	case kiln.LifeCycleWaitingForRetry:
		o.Retrying = true
	}
	v, err := c.svc.RunOutput(r.Context(), t.ID, false)
	if kiln.IsCode(err, kiln.EInvalid) {
		return nil, runMissing(d.ID) // deleted since it was read
	}
	if err != nil {
		return nil, err
	}
	full := v.Task
	o.HasResult = full.Result != "" || full.Truncated
	o.Result, o.ResultTruncated = headClip(full.Result, resultShown), full.Truncated
	o.Error = headClip(full.Error, errorShown)
	o.ErrorTrace = tailClip(full.ErrorTrace, traceShown)
	o.Logs, o.LogsTruncated = tailClip(full.Logs, logsShown), full.LogsTruncated
	return o, nil
}

// runLogs sends a task's stored logs as a text file: everything the store
// keeps, where the page shows only their end.
func (c *Console) runLogs(w http.ResponseWriter, r *http.Request) error {
	v, err := c.visibleRun(r)
	if err != nil {
		return err
	}
	if v.Task != nil {
		return runMissing(v.Task.ID)
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("task"), 10, 64)
	if err != nil || v.Run.Task(id) == nil {
		return kiln.Errorf(kiln.ENotFound, "Run %d has no such task run.", v.Run.ID)
	}
	out, err := c.svc.RunOutput(r.Context(), id, false)
	if kiln.IsCode(err, kiln.EInvalid) {
		return runMissing(v.Run.ID)
	}
	if err != nil {
		return err
	}
	if ok, err := c.svc.ResultsDownloadAllowed(r.Context()); err != nil {
		return err
	} else if !ok {
		return kiln.Errorf(kiln.EPermission, "Downloading results is disabled for this workspace (enableResultsDownloading is false).")
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="run-%d-task-%d.log"`, v.Run.ID, id))
	h.Set("Content-Length", strconv.Itoa(len(out.Task.Logs)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write([]byte(out.Task.Logs))
	}
	return nil
}

type runCancelData struct {
	confirmation
	Crumbs []field
}

// runCrumbs lead from a run's pages back to its job and the Jobs page.
func runCrumbs(run *kiln.Run, name string) []field {
	here := field{fmt.Sprintf("Run %d", run.ID), ""}
	if run.RunType == kiln.RunTypeSubmit {
		return []field{here}
	}
	return []field{{name, jobPath(run.JobID)}, here}
}

// confirmCancelRun is the Cancel run confirmation as a page, for browsers
// without scripts.
func (c *Console) confirmCancelRun(w http.ResponseWriter, r *http.Request) error {
	v, err := c.visibleRun(r)
	if err != nil {
		return err
	}
	run := v.Run
	if v.Task != nil {
		return runMissing(v.Task.ID)
	}
	if !run.Active() {
		c.refuseCancel(w, r, run)
		return nil
	}
	d := runCancelData{confirmation: cancelConfirmation(run), Crumbs: runCrumbs(run, run.RunName)}
	d.Crumbs[len(d.Crumbs)-1].Value = runPath(run.JobID, run.ID)
	d.Crumbs = append(d.Crumbs, field{"Cancel run", ""})
	c.render(w, r, http.StatusOK, "run_cancel", &page{Title: "Cancel run?", Section: jobsSection, Data: d})
	return nil
}

// refuseCancel sends the user back to a finished run's page with why
// nothing happened.
func (c *Console) refuseCancel(w http.ResponseWriter, r *http.Request, run *kiln.Run) {
	st := stateOf(run.LifeCycleState, run.ResultState, run.StateMessage)
	c.redirectWith(w, r, runPath(run.JobID, run.ID), "error",
		fmt.Sprintf("Run %d has already finished (%s), so it cannot be canceled. Nothing was changed.", run.ID, st.Text()))
}

// cancelRun cancels an active run. A finished run is refused before the
// service is asked, so that nothing at all changes (the service would
// record the attempt in the audit log).
func (c *Console) cancelRun(w http.ResponseWriter, r *http.Request) error {
	v, err := c.visibleRun(r)
	if err != nil {
		return err
	}
	run := v.Run
	if v.Task != nil {
		return runMissing(v.Task.ID)
	}
	if !run.Active() {
		c.refuseCancel(w, r, run)
		return nil
	}
	if err := c.svc.CancelRun(r.Context(), run.ID); err != nil {
		if kiln.IsCode(err, kiln.EInvalid) {
			return runMissing(run.ID) // deleted in between
		}
		return err
	}
	c.redirectWith(w, r, runPath(run.JobID, run.ID), "ok",
		fmt.Sprintf("Run %d is being canceled: tasks that have not started will not run, and running tasks are being stopped.", run.ID))
	return nil
}

// repairable reports whether the console offers Repair run: the run is
// finished and some task did not succeed.
func repairable(run *kiln.Run) bool {
	if run.Active() {
		return false
	}
	for _, t := range run.JobTasks() {
		if t.Unsuccessful() {
			return true
		}
	}
	return false
}

// repairConfirmation asks before repairing: the failed tasks and their
// dependents run again. It carries the latest repair id the page showed,
// so a repair made meanwhile by someone else is refused, not repeated.
func repairConfirmation(v *service.RunView) confirmation {
	run := v.Run
	path := runPath(run.JobID, run.ID)
	var failed []string
	for _, t := range run.JobTasks() {
		if t.Unsuccessful() {
			failed = append(failed, t.TaskKey)
		}
	}
	return confirmation{
		Label: "Repair run", Title: "Repair run?", Action: path + "/repair", Back: path,
		Fields: []field{{"latest_repair_id", strconv.FormatInt(v.LatestRepairID(), 10)}},
		Text: fmt.Sprintf("Repair run %d? The tasks that did not succeed (%s) and the tasks that depend on them run again with the same parameters; the tasks that succeeded keep their results.",
			run.ID, strings.Join(failed, ", ")),
	}
}

// confirmRepairRun is the Repair run confirmation as a page, for browsers
// without scripts.
func (c *Console) confirmRepairRun(w http.ResponseWriter, r *http.Request) error {
	v, err := c.visibleRun(r)
	if err != nil {
		return err
	}
	run := v.Run
	if v.Task != nil {
		return runMissing(v.Task.ID)
	}
	if !repairable(run) {
		c.refuseRepair(w, r, run)
		return nil
	}
	d := runCancelData{confirmation: repairConfirmation(v), Crumbs: runCrumbs(run, run.RunName)}
	d.Crumbs[len(d.Crumbs)-1].Value = runPath(run.JobID, run.ID)
	d.Crumbs = append(d.Crumbs, field{"Repair run", ""})
	c.render(w, r, http.StatusOK, "run_cancel", &page{Title: "Repair run?", Section: jobsSection, Data: d})
	return nil
}

// refuseRepair sends the user back to a run's page with why nothing
// happened.
func (c *Console) refuseRepair(w http.ResponseWriter, r *http.Request, run *kiln.Run) {
	msg := fmt.Sprintf("Run %d has no failed tasks, so there is nothing to repair. Nothing was changed.", run.ID)
	if run.Active() {
		msg = fmt.Sprintf("Run %d is still active, so it cannot be repaired yet. Nothing was changed.", run.ID)
	}
	c.redirectWith(w, r, runPath(run.JobID, run.ID), "error", msg)
}

// repairRun repairs a finished run: its failed tasks and their dependents
// run again (the service's rerun_all_failed_tasks), guarded by the latest
// repair id the confirmation carried.
func (c *Console) repairRun(w http.ResponseWriter, r *http.Request) error {
	v, err := c.visibleRun(r)
	if err != nil {
		return err
	}
	run := v.Run
	if v.Task != nil {
		return runMissing(v.Task.ID)
	}
	if !repairable(run) {
		c.refuseRepair(w, r, run)
		return nil
	}
	latest, err := strconv.ParseInt(r.URL.Query().Get("latest_repair_id"), 10, 64)
	if err != nil || latest < 0 {
		return kiln.Errorf(kiln.EInvalid, "The repair form is damaged: reload the run's page and try again.")
	}
	_, err = c.svc.RepairRun(r.Context(), service.RepairParams{RunID: run.ID, RerunAllFailedTasks: true, LatestRepairID: latest})
	if kiln.IsCode(err, kiln.EInvalid) && latest != v.LatestRepairID() {
		c.redirectWith(w, r, runPath(run.JobID, run.ID), "error",
			fmt.Sprintf("Run %d was repaired by someone else in the meantime. Nothing was changed; check its state and repair it again if needed.", run.ID))
		return nil
	}
	if err != nil {
		return err
	}
	c.redirectWith(w, r, runPath(run.JobID, run.ID), "ok",
		fmt.Sprintf("Run %d is being repaired: its failed tasks and the tasks that depend on them run again.", run.ID))
	return nil
}
