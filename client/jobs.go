package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The Jobs API (2.2): jobs, one-time runs, their state and output.
//
// Jobs and runs are deep objects with many optional fields. The types
// here hold what a client reads; each also keeps the object exactly as
// the server sent it (Raw), and encodes back to it, so that printing a
// decoded Job or Run as JSON loses nothing.

const jobsPrefix = "/api/2.2/jobs/"

// Life cycle states of a run or task run.
const (
	LifeCycleQueued          = "QUEUED"
	LifeCyclePending         = "PENDING"
	LifeCycleRunning         = "RUNNING"
	LifeCycleTerminating     = "TERMINATING"
	LifeCycleTerminated      = "TERMINATED"
	LifeCycleSkipped         = "SKIPPED"
	LifeCycleInternalError   = "INTERNAL_ERROR"
	LifeCycleBlocked         = "BLOCKED"
	LifeCycleWaitingForRetry = "WAITING_FOR_RETRY"
)

// Result states of a terminated run or task run.
const (
	ResultSuccess  = "SUCCESS"
	ResultFailed   = "FAILED"
	ResultTimedOut = "TIMEDOUT"
	ResultCanceled = "CANCELED"
)

// NotebookTask runs a workspace notebook with widget values.
type NotebookTask struct {
	NotebookPath   string            `json:"notebook_path"`
	BaseParameters map[string]string `json:"base_parameters,omitempty"`
	Source         string            `json:"source,omitempty"`
}

// SparkPythonTask runs a Python file (workspace path, dbfs:/… or
// file:/…) with arguments.
type SparkPythonTask struct {
	PythonFile string   `json:"python_file"`
	Parameters []string `json:"parameters,omitempty"`
	Source     string   `json:"source,omitempty"`
}

// PythonWheelTask calls the entry point of a package that the task's
// libraries (whl) hold.
type PythonWheelTask struct {
	PackageName     string            `json:"package_name"`
	EntryPoint      string            `json:"entry_point"`
	Parameters      []string          `json:"parameters,omitempty"`
	NamedParameters map[string]string `json:"named_parameters,omitempty"`
}

// Task is a task of a job or of a run, as far as clients read it.
type Task struct {
	TaskKey           string           `json:"task_key"`
	NotebookTask      *NotebookTask    `json:"notebook_task,omitempty"`
	SparkPythonTask   *SparkPythonTask `json:"spark_python_task,omitempty"`
	PythonWheelTask   *PythonWheelTask `json:"python_wheel_task,omitempty"`
	ExistingClusterID string           `json:"existing_cluster_id,omitempty"`
	TimeoutSeconds    int64            `json:"timeout_seconds,omitempty"`
	MaxRetries        int64            `json:"max_retries,omitempty"`
}

// Describe names what a task runs: "notebook /Shared/etl", "python
// /Shared/job.py", "wheel pkg.main", or "other task" when kiln cannot
// tell.
func (t *Task) Describe() string {
	switch {
	case t.NotebookTask != nil:
		return "notebook " + t.NotebookTask.NotebookPath
	case t.SparkPythonTask != nil:
		return "python " + t.SparkPythonTask.PythonFile
	case t.PythonWheelTask != nil:
		return "wheel " + t.PythonWheelTask.PackageName + "." + t.PythonWheelTask.EntryPoint
	}
	return "other task"
}

// JobParameter is a job-level parameter and its default.
type JobParameter struct {
	Name    string `json:"name"`
	Default string `json:"default"`
}

// JobSettings are a job's settings. Raw holds them as the server sent
// them; encoding JobSettings gives Raw back when it is set.
type JobSettings struct {
	Name              string          `json:"name"`
	Tasks             []Task          `json:"tasks,omitempty"`
	Parameters        []JobParameter  `json:"parameters,omitempty"`
	TimeoutSeconds    int64           `json:"timeout_seconds,omitempty"`
	MaxConcurrentRuns int64           `json:"max_concurrent_runs,omitempty"`
	Raw               json.RawMessage `json:"-"`
}

type jobSettingsFields JobSettings

// UnmarshalJSON decodes the settings and keeps them in Raw.
func (s *JobSettings) UnmarshalJSON(b []byte) error {
	var f jobSettingsFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = JobSettings(f)
	s.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON encodes Raw when set, else the fields.
func (s JobSettings) MarshalJSON() ([]byte, error) {
	if len(s.Raw) > 0 {
		return s.Raw, nil
	}
	return json.Marshal(jobSettingsFields(s))
}

// Job is a job (jobs/get, and the entries of jobs/list). CreatedTime is
// epoch milliseconds. Encoding a decoded Job gives back what the server
// sent.
type Job struct {
	JobID           int64           `json:"job_id"`
	CreatedTime     int64           `json:"created_time"`
	CreatorUserName string          `json:"creator_user_name,omitempty"`
	RunAsUserName   string          `json:"run_as_user_name,omitempty"`
	Settings        JobSettings     `json:"settings"`
	Raw             json.RawMessage `json:"-"`
}

type jobFields Job

// UnmarshalJSON decodes the job and keeps it in Raw.
func (j *Job) UnmarshalJSON(b []byte) error {
	var f jobFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*j = Job(f)
	j.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON encodes Raw when set, else the fields.
func (j Job) MarshalJSON() ([]byte, error) {
	if len(j.Raw) > 0 {
		return j.Raw, nil
	}
	return json.Marshal(jobFields(j))
}

// Created returns the creation time.
func (j *Job) Created() time.Time { return time.UnixMilli(j.CreatedTime) }

// RunState is the state of a run or task run. ResultState is set once
// the life cycle is terminal.
type RunState struct {
	LifeCycleState          string `json:"life_cycle_state"`
	ResultState             string `json:"result_state,omitempty"`
	StateMessage            string `json:"state_message"`
	UserCancelledOrTimedout bool   `json:"user_cancelled_or_timedout"`
	QueueReason             string `json:"queue_reason,omitempty"`
}

// Terminal reports whether the run is over (TERMINATED, SKIPPED or
// INTERNAL_ERROR), as the Databricks SDKs decide.
func (s RunState) Terminal() bool {
	switch s.LifeCycleState {
	case LifeCycleTerminated, LifeCycleSkipped, LifeCycleInternalError:
		return true
	}
	return false
}

// Succeeded reports whether the run ended with SUCCESS.
func (s RunState) Succeeded() bool {
	return s.LifeCycleState == LifeCycleTerminated && s.ResultState == ResultSuccess
}

// Outcome names the state in one word: the result of a terminated run
// (SUCCESS, FAILED, …), else the life cycle state (RUNNING, SKIPPED,
// INTERNAL_ERROR, …).
func (s RunState) Outcome() string {
	if s.LifeCycleState == LifeCycleTerminated && s.ResultState != "" {
		return s.ResultState
	}
	return s.LifeCycleState
}

// RunTask is one task of a run, with its own run id.
type RunTask struct {
	Task
	RunID         int64    `json:"run_id"`
	State         RunState `json:"state"`
	StartTime     int64    `json:"start_time"`
	EndTime       int64    `json:"end_time"`
	AttemptNumber int      `json:"attempt_number"`
	RunPageURL    string   `json:"run_page_url,omitempty"`
}

// Run is a run (runs/get, the entries of runs/list, get-output's
// metadata). Times are epoch milliseconds; EndTime is 0 while the run is
// active. runs/get on a task run id answers the task run as a Run: then
// ParentRunID and TaskKey are set and Tasks is empty. Encoding a decoded
// Run gives back what the server sent.
type Run struct {
	RunID           int64           `json:"run_id"`
	JobID           int64           `json:"job_id"`
	RunName         string          `json:"run_name,omitempty"`
	RunType         string          `json:"run_type,omitempty"`
	RunPageURL      string          `json:"run_page_url,omitempty"`
	CreatorUserName string          `json:"creator_user_name,omitempty"`
	State           RunState        `json:"state"`
	StartTime       int64           `json:"start_time"`
	EndTime         int64           `json:"end_time"`
	AttemptNumber   int             `json:"attempt_number"`
	Tasks           []RunTask       `json:"tasks,omitempty"`
	ParentRunID     int64           `json:"parent_run_id,omitempty"`
	TaskKey         string          `json:"task_key,omitempty"`
	Raw             json.RawMessage `json:"-"`
}

type runFields Run

// UnmarshalJSON decodes the run and keeps it in Raw.
func (r *Run) UnmarshalJSON(b []byte) error {
	var f runFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*r = Run(f)
	r.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON encodes Raw when set, else the fields.
func (r Run) MarshalJSON() ([]byte, error) {
	if len(r.Raw) > 0 {
		return r.Raw, nil
	}
	return json.Marshal(runFields(r))
}

// Started returns the start time (zero when unknown).
func (r *Run) Started() time.Time {
	if r.StartTime <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(r.StartTime)
}

// Duration returns how long the run took, or has taken by now while
// active.
func (r *Run) Duration(now time.Time) time.Duration {
	start := r.Started()
	switch {
	case start.IsZero():
		return 0
	case r.EndTime > 0:
		return time.UnixMilli(r.EndTime).Sub(start)
	default:
		return now.Sub(start)
	}
}

// TaskRuns returns the run's tasks; for a task run (runs/get on a task
// run id), the task run itself as the only one.
func (r *Run) TaskRuns() []RunTask {
	if len(r.Tasks) > 0 || r.TaskKey == "" {
		return r.Tasks
	}
	return []RunTask{{Task: Task{TaskKey: r.TaskKey}, RunID: r.RunID, State: r.State,
		StartTime: r.StartTime, EndTime: r.EndTime, AttemptNumber: r.AttemptNumber, RunPageURL: r.RunPageURL}}
}

// NotebookOutput is what a notebook passed to dbutils.notebook.exit.
type NotebookOutput struct {
	Result    string `json:"result,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}

// RunOutput is the output of one task run (runs/get-output): the
// notebook's exit value, the error of a failed task, and the task's logs
// (kiln returns logs for notebooks too; Databricks only for Python, JAR
// and wheel tasks).
type RunOutput struct {
	Metadata       Run             `json:"metadata"`
	NotebookOutput *NotebookOutput `json:"notebook_output,omitempty"`
	Error          string          `json:"error,omitempty"`
	ErrorTrace     string          `json:"error_trace,omitempty"`
	Logs           string          `json:"logs,omitempty"`
	LogsTruncated  bool            `json:"logs_truncated,omitempty"`
}

// CreateJob creates a job from its settings (POST /api/2.2/jobs/create):
// a [JobSettings] without Raw, a json.RawMessage, or anything that
// encodes to the JobSettings object. It returns the new job's id.
func (c *Client) CreateJob(ctx context.Context, settings any) (int64, error) {
	var out struct {
		JobID int64 `json:"job_id"`
	}
	if _, err := c.Do(ctx, http.MethodPost, jobsPrefix+"create", nil, settings, &out); err != nil {
		return 0, err
	}
	if out.JobID == 0 {
		return 0, errors.New("the server's answer has no job_id")
	}
	return out.JobID, nil
}

// GetJob returns a job with its settings (GET /api/2.2/jobs/get).
func (c *Client) GetJob(ctx context.Context, jobID int64) (*Job, error) {
	var out Job
	if _, err := c.Do(ctx, http.MethodGet, jobsPrefix+"get", url.Values{"job_id": {strconv.FormatInt(jobID, 10)}}, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// JobListFilter selects jobs; zero fields do not filter.
type JobListFilter struct {
	// Name keeps the jobs with exactly this name.
	Name string
	// ExpandTasks includes each job's tasks in its settings.
	ExpandTasks bool
	// Limit is how many jobs to return at most; zero means all.
	Limit int
}

// ListJobs lists the jobs the caller may see, oldest first, following
// next_page_token (GET /api/2.2/jobs/list).
func (c *Client) ListJobs(ctx context.Context, f JobListFilter) ([]Job, error) {
	var all []Job
	token := ""
	for {
		q := url.Values{"limit": {"100"}}
		if f.Name != "" {
			q.Set("name", f.Name)
		}
		if f.ExpandTasks {
			q.Set("expand_tasks", "true")
		}
		if token != "" {
			q.Set("page_token", token)
		}
		var page struct {
			Jobs          []Job  `json:"jobs"`
			NextPageToken string `json:"next_page_token"`
		}
		if _, err := c.Do(ctx, http.MethodGet, jobsPrefix+"list", q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Jobs...)
		if f.Limit > 0 && len(all) >= f.Limit {
			return all[:f.Limit], nil
		}
		if page.NextPageToken == "" || page.NextPageToken == token || len(page.Jobs) == 0 {
			return nonNil(all), nil
		}
		token = page.NextPageToken
	}
}

// DeleteJob deletes a job (POST /api/2.2/jobs/delete).
func (c *Client) DeleteJob(ctx context.Context, jobID int64) error {
	_, err := c.Do(ctx, http.MethodPost, jobsPrefix+"delete", nil, map[string]int64{"job_id": jobID}, nil)
	return err
}

// RunNowRequest starts a run of a job. Zero fields are omitted.
type RunNowRequest struct {
	JobID int64 `json:"job_id"`
	// NotebookParams are widget values for the job's notebook tasks; they
	// win over base_parameters and job parameters.
	NotebookParams map[string]string `json:"notebook_params,omitempty"`
	// PythonParams are the arguments of the job's Python tasks.
	PythonParams []string `json:"python_params,omitempty"`
	// JobParameters override the job's parameters' defaults.
	JobParameters map[string]string `json:"job_parameters,omitempty"`
	// IdempotencyToken makes a retried request return the run the first
	// one started.
	IdempotencyToken string `json:"idempotency_token,omitempty"`
	// Only runs just these task keys.
	Only []string `json:"only,omitempty"`
}

// RunNow starts a run of a job (POST /api/2.2/jobs/run-now): a
// [RunNowRequest], a json.RawMessage or anything that encodes to the
// RunNow object. It returns the run id.
func (c *Client) RunNow(ctx context.Context, req any) (int64, error) {
	return c.startRun(ctx, "run-now", req)
}

// SubmitTask is a task of a one-time run.
type SubmitTask struct {
	TaskKey         string           `json:"task_key"`
	NotebookTask    *NotebookTask    `json:"notebook_task,omitempty"`
	SparkPythonTask *SparkPythonTask `json:"spark_python_task,omitempty"`
	TimeoutSeconds  int64            `json:"timeout_seconds,omitempty"`
}

// SubmitRunRequest is a one-time run without a job. Zero fields are
// omitted.
type SubmitRunRequest struct {
	RunName          string       `json:"run_name,omitempty"`
	Tasks            []SubmitTask `json:"tasks"`
	TimeoutSeconds   int64        `json:"timeout_seconds,omitempty"`
	IdempotencyToken string       `json:"idempotency_token,omitempty"`
}

// SubmitRun submits a one-time run (POST /api/2.2/jobs/runs/submit): a
// [SubmitRunRequest], a json.RawMessage (the multi-task form or the
// legacy single-task form) or anything that encodes to the SubmitRun
// object. It returns the run id.
func (c *Client) SubmitRun(ctx context.Context, req any) (int64, error) {
	return c.startRun(ctx, "runs/submit", req)
}

func (c *Client) startRun(ctx context.Context, verb string, req any) (int64, error) {
	var out struct {
		RunID int64 `json:"run_id"`
	}
	if _, err := c.Do(ctx, http.MethodPost, jobsPrefix+verb, nil, req, &out); err != nil {
		return 0, err
	}
	if out.RunID == 0 {
		return 0, errors.New("the server's answer has no run_id")
	}
	return out.RunID, nil
}

// GetRun returns a run with its tasks, or a task run (GET
// /api/2.2/jobs/runs/get).
func (c *Client) GetRun(ctx context.Context, runID int64) (*Run, error) {
	var out Run
	if _, err := c.Do(ctx, http.MethodGet, jobsPrefix+"runs/get", url.Values{"run_id": {strconv.FormatInt(runID, 10)}}, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRunOutput returns the output of a task run (GET
// /api/2.2/jobs/runs/get-output). taskRunID must name a task run: the
// server refuses the id of a run (even of a single-task one) with
// "Retrieving the output of runs with multiple tasks is not supported";
// take the ids from the Tasks of [Client.GetRun].
func (c *Client) GetRunOutput(ctx context.Context, taskRunID int64) (*RunOutput, error) {
	var out RunOutput
	if _, err := c.Do(ctx, http.MethodGet, jobsPrefix+"runs/get-output", url.Values{"run_id": {strconv.FormatInt(taskRunID, 10)}}, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RunListFilter selects runs; zero fields do not filter.
type RunListFilter struct {
	JobID         int64
	ActiveOnly    bool
	CompletedOnly bool
	// RunType is JOB_RUN, SUBMIT_RUN or WORKFLOW_RUN.
	RunType string
	// ExpandTasks includes each run's tasks.
	ExpandTasks bool
	// Limit is how many runs to return at most; zero means 25 (one page).
	Limit int
}

// ListRuns lists runs the caller may see, newest first, following
// next_page_token up to the limit (GET /api/2.2/jobs/runs/list).
func (c *Client) ListRuns(ctx context.Context, f RunListFilter) ([]Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 25
	}
	var all []Run
	token := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(min(limit-len(all), 25))}}
		if f.JobID != 0 {
			q.Set("job_id", strconv.FormatInt(f.JobID, 10))
		}
		if f.ActiveOnly {
			q.Set("active_only", "true")
		}
		if f.CompletedOnly {
			q.Set("completed_only", "true")
		}
		if f.RunType != "" {
			q.Set("run_type", f.RunType)
		}
		if f.ExpandTasks {
			q.Set("expand_tasks", "true")
		}
		if token != "" {
			q.Set("page_token", token)
		}
		var page struct {
			Runs          []Run  `json:"runs"`
			NextPageToken string `json:"next_page_token"`
		}
		if _, err := c.Do(ctx, http.MethodGet, jobsPrefix+"runs/list", q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Runs...)
		if len(all) >= limit {
			return all[:limit], nil
		}
		if page.NextPageToken == "" || page.NextPageToken == token || len(page.Runs) == 0 {
			return nonNil(all), nil
		}
		token = page.NextPageToken
	}
}

// CancelRun asks for a run (or task run) to be canceled (POST
// /api/2.2/jobs/runs/cancel). It returns at once; the run then ends as
// CANCELED.
func (c *Client) CancelRun(ctx context.Context, runID int64) error {
	_, err := c.Do(ctx, http.MethodPost, jobsPrefix+"runs/cancel", nil, map[string]int64{"run_id": runID}, nil)
	return err
}

// WaitOptions tune [Client.WaitRun].
type WaitOptions struct {
	// Interval is the longest pause between polls; default 2s. Polling
	// starts faster (200ms) and backs off to it.
	Interval time.Duration
	// Timeout bounds the wait; zero means no bound (the context still
	// applies).
	Timeout time.Duration
	// OnPoll, when set, sees every state polled, the first included.
	OnPoll func(*Run)
}

// WaitTimeoutError means a run was still active when WaitRun gave up.
type WaitTimeoutError struct {
	RunID   int64
	Timeout time.Duration
	Last    *Run
}

// Error names the run, its state and the timeout.
func (e *WaitTimeoutError) Error() string {
	return fmt.Sprintf("run %d is still %s after %s", e.RunID, e.Last.State.LifeCycleState, e.Timeout)
}

// WaitRun polls a run until it is terminal (TERMINATED, SKIPPED or
// INTERNAL_ERROR) and returns its last state, successful or not. It fails
// only when polling fails, the context ends, or the timeout passes
// ([*WaitTimeoutError]).
func (c *Client) WaitRun(ctx context.Context, runID int64, opts WaitOptions) (*Run, error) {
	interval := opts.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	var deadline time.Time
	if opts.Timeout > 0 {
		deadline = time.Now().Add(opts.Timeout)
	}
	pause := 200 * time.Millisecond
	for {
		run, err := c.GetRun(ctx, runID)
		if err != nil {
			return nil, err
		}
		if opts.OnPoll != nil {
			opts.OnPoll(run)
		}
		if run.State.Terminal() {
			return run, nil
		}
		wait := pause
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return run, &WaitTimeoutError{RunID: runID, Timeout: opts.Timeout, Last: run}
			}
			wait = min(wait, left)
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-time.After(wait):
		}
		pause = min(pause*2, interval)
	}
}
