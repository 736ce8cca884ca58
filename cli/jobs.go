package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/client"
)

func (e *clientEnv) jobsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Create, list, show, delete and run jobs",
		Example: `  kiln jobs create --json @job.json
  kiln jobs list
  kiln jobs run-now 42 --param day=2024-01-02 --wait
  kiln jobs delete 42`,
	}
	e.addFlags(cmd)

	var createJSON string
	create := &cobra.Command{
		Use:   "create --json JSON|@FILE",
		Short: "Create a job from its settings",
		Long: `Create a job from its settings in JSON (the Jobs API's JobSettings: name,
tasks, parameters, max_concurrent_runs, timeout_seconds, ...), given inline,
as @FILE, or as @- to read standard input, exactly as the Databricks CLI takes
them.

The new job's id is printed on standard output (only the id when it is not a
terminal, so that JOB_ID=$(kiln jobs create ...) works).`,
		Example: `  kiln jobs create --json @job.json
  kiln jobs create --json '{"name": "nightly", "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": "/Shared/etl"}}]}'
  JOB_ID=$(kiln jobs create --json @job.json)`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			if createJSON == "" {
				return usageError{errors.New("--json is required: the job's settings, inline or as @FILE")}
			}
			settings, err := e.jsonArg(createJSON)
			if err != nil {
				return err
			}
			id, err := c.CreateJob(ctx, settings)
			if err != nil {
				return err
			}
			var named struct {
				Name string `json:"name"`
			}
			json.Unmarshal(settings, &named)
			name := ""
			if named.Name != "" {
				name = fmt.Sprintf(" (%q)", named.Name)
			}
			p := e.printer()
			switch {
			case p.json:
				return p.JSON(map[string]int64{"job_id": id})
			case p.tty:
				fmt.Fprintf(p.w, "Created job %d%s. Run it with: kiln jobs run-now %d\n", id, name, id)
			default:
				fmt.Fprintf(e.stdio.Err, "Created job %d%s.\n", id, name)
				fmt.Fprintln(p.w, id)
			}
			return nil
		}),
	}
	create.Flags().StringVar(&createJSON, "json", "", "the job settings: inline JSON, @FILE, or @- for standard input")

	var listName string
	var listLimit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List jobs",
		Long:  `List the jobs you may see (admins: every job), oldest first.`,
		Example: `  kiln jobs list
  kiln jobs list --name nightly -o json`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			if listLimit < 0 {
				return usageError{errors.New("--limit must not be negative")}
			}
			jobs, err := c.ListJobs(ctx, client.JobListFilter{Name: listName, ExpandTasks: true, Limit: listLimit})
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(jobs)
			}
			if len(jobs) == 0 {
				if listName != "" {
					fmt.Fprintf(e.stdio.Err, "No job is named %q.\n", listName)
				} else {
					fmt.Fprintln(e.stdio.Err, "No jobs. Create one with `kiln jobs create --json @job.json`.")
				}
				return nil
			}
			rows := make([][]string, 0, len(jobs))
			for i := range jobs {
				j := &jobs[i]
				rows = append(rows, []string{strconv.FormatInt(j.JobID, 10), j.Settings.Name, tasksSummary(j.Settings.Tasks),
					j.CreatorUserName, relative(j.Created(), p.now)})
			}
			p.Table([]string{"ID", "NAME", "TASKS", "CREATED BY", "CREATED"}, rows)
			return nil
		}),
	}
	list.Flags().StringVar(&listName, "name", "", "only jobs with exactly this name")
	list.Flags().IntVar(&listLimit, "limit", 0, "list at most this many jobs (default: all)")

	get := &cobra.Command{
		Use:   "get JOB_ID",
		Short: "Show a job and its tasks",
		Example: `  kiln jobs get 42
  kiln jobs get 42 -o json | jq .settings`,
		Args: exactArgs(1, "JOB_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := parseID(args[0], "JOB_ID")
			if err != nil {
				return err
			}
			j, err := c.GetJob(ctx, id)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(j)
			}
			s := &j.Settings
			maxRuns := "1"
			if s.MaxConcurrentRuns > 0 {
				maxRuns = strconv.FormatInt(s.MaxConcurrentRuns, 10)
			}
			timeout := "none"
			if s.TimeoutSeconds > 0 {
				timeout = elapsed(time.Duration(s.TimeoutSeconds) * time.Second)
			}
			var params []string
			for _, jp := range s.Parameters {
				params = append(params, jp.Name+"="+jp.Default)
			}
			p.KV([][2]string{
				{"Job ID", strconv.FormatInt(j.JobID, 10)}, {"Name", s.Name}, {"Created by", j.CreatorUserName},
				{"Created", stamp(j.Created()) + " (" + relative(j.Created(), p.now) + ")"},
				{"Parameters", strings.Join(params, ", ")}, {"Max concurrent runs", maxRuns}, {"Timeout", timeout},
			})
			if len(s.Tasks) > 0 {
				fmt.Fprintln(p.w)
				rows := make([][]string, 0, len(s.Tasks))
				for i := range s.Tasks {
					t := &s.Tasks[i]
					rows = append(rows, []string{t.TaskKey, t.Describe(), taskParams(t)})
				}
				p.Table([]string{"TASK", "RUNS", "PARAMETERS"}, rows)
			}
			return nil
		}),
	}

	del := &cobra.Command{
		Use:   "delete JOB_ID",
		Short: "Delete a job",
		Long:  `Delete a job. Its active runs are canceled; its past runs stay visible.`,
		Example: `  kiln jobs delete 42
  kiln jobs delete 42 -o json`,
		Args: exactArgs(1, "JOB_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := parseID(args[0], "JOB_ID")
			if err != nil {
				return err
			}
			if err := c.DeleteJob(ctx, id); err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(map[string]any{"job_id": id, "deleted": true})
			}
			fmt.Fprintf(e.stdio.Err, "Deleted job %d.\n", id)
			return nil
		}),
	}

	var (
		rnJSON, rnToken       string
		rnParams, rnJobParams []string
		rnOnly                []string
		rnWait                bool
		rnTimeout             time.Duration
	)
	runNow := &cobra.Command{
		Use:   "run-now JOB_ID [-- PYTHON_ARGS...]",
		Short: "Start a run of a job, and optionally wait for it",
		Long: `Start a run of a job. --param sets notebook widget values (notebook_params,
which win over the tasks' base_parameters), --job-param overrides job
parameters (job_parameters), and arguments after -- replace the arguments of
the job's Python tasks (python_params). --json gives the whole RunNow body
instead (job_id comes from JOB_ID).

The run id is printed on standard output (only the id when it is not a
terminal). With --wait the command follows the run until it ends, showing its
state and the elapsed time on standard error (a spinner on a terminal, one line
per state change otherwise), and exits 0 when the run succeeded, 6 when it
did not (FAILED, TIMEDOUT, CANCELED, INTERNAL_ERROR) with the tasks' errors on
standard error. With --wait and --output json the final run is printed.
Ctrl-C stops waiting; the run goes on.`,
		Example: `  kiln jobs run-now 42
  kiln jobs run-now 42 --param day=2024-01-02 --wait
  kiln jobs run-now 42 --job-param env=prod --wait --timeout 30m
  kiln jobs run-now 43 --wait -- --date 2024-01-02 --full
  kiln jobs run-now 42 --json '{"notebook_params": {"day": "2024-01-02"}, "idempotency_token": "nightly-2024-01-02"}'`,
		Args: func(cmd *cobra.Command, args []string) error {
			at := cmd.ArgsLenAtDash()
			if (at == -1 && len(args) != 1) || (at != -1 && at != 1) {
				return usageError{fmt.Errorf("%s takes JOB_ID (and Python arguments after --); see --help", cmd.CommandPath())}
			}
			return nil
		},
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := parseID(args[0], "JOB_ID")
			if err != nil {
				return err
			}
			if rnTimeout < 0 {
				return usageError{errors.New("--timeout must not be negative")}
			}
			var body any
			if rnJSON != "" {
				if len(rnParams)+len(rnJobParams)+len(rnOnly)+len(args)-1 > 0 || rnToken != "" {
					return usageError{errors.New("--json gives the whole request: do not combine it with --param, --job-param, --only, --idempotency-token or Python arguments")}
				}
				raw, err := e.jsonArg(rnJSON)
				if err != nil {
					return err
				}
				var m map[string]json.RawMessage
				json.Unmarshal(raw, &m)
				m["job_id"] = json.RawMessage(strconv.FormatInt(id, 10))
				body = m
			} else {
				req := client.RunNowRequest{JobID: id, IdempotencyToken: rnToken, Only: rnOnly}
				if req.NotebookParams, err = keyValues("param", rnParams); err != nil {
					return err
				}
				if req.JobParameters, err = keyValues("job-param", rnJobParams); err != nil {
					return err
				}
				if len(args) > 1 {
					req.PythonParams = args[1:]
				}
				body = req
			}
			runID, err := c.RunNow(ctx, body)
			if err != nil {
				return err
			}
			return e.startedRun(ctx, c, runID, rnWait, rnTimeout)
		}),
	}
	runNow.Flags().StringArrayVar(&rnParams, "param", nil, "notebook widget value KEY=VALUE (notebook_params; repeatable)")
	runNow.Flags().StringArrayVar(&rnJobParams, "job-param", nil, "job parameter KEY=VALUE (job_parameters; repeatable)")
	runNow.Flags().StringArrayVar(&rnOnly, "only", nil, "run only this task key (repeatable)")
	runNow.Flags().StringVar(&rnToken, "idempotency-token", "", "a retried request with the same token returns the first run instead of starting another")
	runNow.Flags().StringVar(&rnJSON, "json", "", "the whole RunNow body: inline JSON, @FILE, or @- for standard input")
	runNow.Flags().BoolVarP(&rnWait, "wait", "w", false, "follow the run until it ends; exit 6 unless it succeeds")
	runNow.Flags().DurationVar(&rnTimeout, "timeout", 0, "with --wait, give up waiting after this long, such as 30m (default: no limit)")

	cmd.AddCommand(create, list, get, del, runNow)
	return cmd
}

// startedRun reports a run just started (run-now, submit): its id, and
// with wait, its progress and outcome.
func (e *clientEnv) startedRun(ctx context.Context, c *client.Client, runID int64, wait bool, timeout time.Duration) error {
	p := e.printer()
	if !wait {
		switch {
		case p.json:
			return p.JSON(map[string]int64{"run_id": runID})
		case p.tty:
			fmt.Fprintf(p.w, "Started run %d. Follow it with: kiln runs get %d, kiln runs logs %d --follow\n", runID, runID, runID)
		default:
			fmt.Fprintf(e.stdio.Err, "Started run %d.\n", runID)
			fmt.Fprintln(p.w, runID)
		}
		return nil
	}
	if !p.json {
		fmt.Fprintln(p.w, runID)
	}
	start := time.Now()
	run, err := e.waitForRun(ctx, c, runID, timeout)
	if err != nil {
		return err
	}
	return e.finishWait(ctx, c, run, time.Since(start))
}

// tasksSummary describes a job's tasks in a table cell.
func tasksSummary(tasks []client.Task) string {
	switch len(tasks) {
	case 0:
		return ""
	case 1:
		return tasks[0].TaskKey + ": " + tasks[0].Describe()
	default:
		keys := make([]string, len(tasks))
		for i, t := range tasks {
			keys[i] = t.TaskKey
		}
		return fmt.Sprintf("%d tasks: %s", len(tasks), strings.Join(keys, ", "))
	}
}

// taskParams renders a task's parameters: widget values or arguments.
func taskParams(t *client.Task) string {
	switch {
	case t.NotebookTask != nil:
		keys := make([]string, 0, len(t.NotebookTask.BaseParameters))
		for k := range t.NotebookTask.BaseParameters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = k + "=" + t.NotebookTask.BaseParameters[k]
		}
		return strings.Join(keys, ", ")
	case t.SparkPythonTask != nil:
		return strings.Join(t.SparkPythonTask.Parameters, " ")
	}
	return ""
}
