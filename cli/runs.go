package cli

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/client"
)

func (e *clientEnv) runsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Submit one-time runs; show, list and cancel runs; read their output and logs",
		Example: `  kiln runs submit --notebook /Shared/etl --param day=2024-01-02 --wait
  kiln runs list --active-only
  kiln runs output 455644833
  kiln runs logs 455644833 --follow`,
	}
	e.addFlags(cmd)
	cmd.AddCommand(e.runsSubmitCmd(), e.runsGetCmd(), e.runsListCmd(), e.runsCancelCmd(), e.runsOutputCmd(), e.runsLogsCmd())
	return cmd
}

func (e *clientEnv) runsSubmitCmd() *cobra.Command {
	var (
		body, notebook, pyFile, runName, token string
		params                                 []string
		wait                                   bool
		timeout                                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "submit (--json JSON|@FILE | --notebook PATH [--param KEY=VALUE]... | --python-file PATH [-- ARGS...])",
		Short: "Submit a one-time run, and optionally wait for it",
		Long: `Submit a one-time run, without a job: the whole SubmitRun body with --json
(inline, @FILE, or @- for standard input: tasks[], or the legacy single-task
form), or one task with a shortcut:

  --notebook PATH       a workspace notebook; --param KEY=VALUE sets a widget
                        value (base_parameters; repeatable)
  --python-file PATH    a Python file (workspace path, dbfs:/... or file:/...);
                        the arguments after -- are its parameters

The run id is printed on standard output (only the id when it is not a
terminal). With --wait the command follows the run until it ends, showing its
state and the elapsed time on standard error (a spinner on a terminal, one line
per state change otherwise), and exits 0 when the run succeeded, 6 when it
did not (FAILED, TIMEDOUT, CANCELED, INTERNAL_ERROR) with the tasks' errors on
standard error. With --wait and --output json the final run is printed.
Ctrl-C stops waiting; the run goes on.`,
		Example: `  kiln runs submit --notebook /Shared/etl --param day=2024-01-02 --wait
  kiln runs submit --python-file /Shared/jobs/report.py --wait -- --date 2024-01-02
  kiln runs submit --json @run.json --wait --timeout 1h
  RUN_ID=$(kiln runs submit --notebook /Shared/etl)`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && cmd.ArgsLenAtDash() != 0 {
				return usageError{fmt.Errorf("%s takes no arguments except a Python file's, after --; see --help", cmd.CommandPath())}
			}
			return nil
		},
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			shortcuts := 0
			for _, s := range []string{body, notebook, pyFile} {
				if s != "" {
					shortcuts++
				}
			}
			switch {
			case shortcuts == 0:
				return usageError{errors.New("say what to run: --notebook PATH, --python-file PATH, or --json with the SubmitRun body")}
			case shortcuts > 1:
				return usageError{errors.New("give one of --json, --notebook and --python-file")}
			case len(params) > 0 && notebook == "":
				return usageError{errors.New("--param sets notebook widgets: use it with --notebook")}
			case len(args) > 0 && pyFile == "":
				return usageError{errors.New("arguments after -- are a Python file's: use them with --python-file")}
			case timeout < 0:
				return usageError{errors.New("--timeout must not be negative")}
			case body != "" && (runName != "" || token != ""):
				return usageError{errors.New("--json gives the whole request: put run_name and idempotency_token in it")}
			}
			var req any
			if body != "" {
				raw, err := e.jsonArg(body)
				if err != nil {
					return err
				}
				req = raw
			} else {
				target := notebook + pyFile
				task := client.SubmitTask{TaskKey: taskKeyOf(target)}
				if notebook != "" {
					bp, err := keyValues("param", params)
					if err != nil {
						return err
					}
					task.NotebookTask = &client.NotebookTask{NotebookPath: notebook, BaseParameters: bp}
				} else {
					task.SparkPythonTask = &client.SparkPythonTask{PythonFile: pyFile, Parameters: args}
				}
				name := runName
				if name == "" {
					name = "kiln runs submit " + target
				}
				req = client.SubmitRunRequest{RunName: name, Tasks: []client.SubmitTask{task}, IdempotencyToken: token}
			}
			runID, err := c.SubmitRun(ctx, req)
			if err != nil {
				return err
			}
			return e.startedRun(ctx, c, runID, wait, timeout)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&body, "json", "", "the whole SubmitRun body: inline JSON, @FILE, or @- for standard input")
	f.StringVar(&notebook, "notebook", "", "run this workspace notebook")
	f.StringArrayVar(&params, "param", nil, "with --notebook, a widget value KEY=VALUE (repeatable)")
	f.StringVar(&pyFile, "python-file", "", "run this Python file (workspace path, dbfs:/... or file:/...); its arguments follow --")
	f.StringVar(&runName, "run-name", "", `the run's name (default "kiln runs submit PATH")`)
	f.StringVar(&token, "idempotency-token", "", "a retried request with the same token returns the first run instead of starting another")
	f.BoolVarP(&wait, "wait", "w", false, "follow the run until it ends; exit 6 unless it succeeds")
	f.DurationVar(&timeout, "timeout", 0, "with --wait, give up waiting after this long, such as 30m (default: no limit)")
	return cmd
}

// taskKeyOf makes a task key of a notebook or file path: its base name
// without extension, in letters, digits, - and _.
func taskKeyOf(p string) string {
	base := path.Base(strings.TrimRight(p, "/"))
	base = strings.TrimSuffix(base, path.Ext(base))
	var b strings.Builder
	for _, r := range base {
		if b.Len() >= 100 {
			break
		}
		if r < 128 && (r == '-' || r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "main"
	}
	return b.String()
}

func (e *clientEnv) runsGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get RUN_ID",
		Short: "Show a run and its tasks",
		Long: `Show a run: its state, times and tasks. RUN_ID may also be a task run id
(from the run's task list): the task run is shown.`,
		Example: `  kiln runs get 455644833
  kiln runs get 455644833 -o json | jq -r .state.result_state`,
		Args: exactArgs(1, "RUN_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := parseID(args[0], "RUN_ID")
			if err != nil {
				return err
			}
			run, err := c.GetRun(ctx, id)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(run)
			}
			kv := [][2]string{{"Run ID", strconv.FormatInt(run.RunID, 10)}}
			if run.ParentRunID != 0 {
				kv = append(kv, [2]string{"Parent run", strconv.FormatInt(run.ParentRunID, 10)}, [2]string{"Task", run.TaskKey})
			}
			kv = append(kv,
				[2]string{"Name", run.RunName}, [2]string{"Job ID", strconv.FormatInt(run.JobID, 10)}, [2]string{"Type", run.RunType},
				[2]string{"State", stateText(run.State)}, [2]string{"Message", run.State.StateMessage})
			if st := run.Started(); !st.IsZero() {
				kv = append(kv, [2]string{"Started", stamp(st) + " (" + relative(st, p.now) + ")"})
			}
			dur := elapsed(run.Duration(p.now))
			if !run.State.Terminal() {
				dur += " so far"
			}
			kv = append(kv, [2]string{"Duration", dur}, [2]string{"Created by", run.CreatorUserName}, [2]string{"URL", run.RunPageURL})
			p.KV(kv)
			if len(run.Tasks) > 0 {
				fmt.Fprintln(p.w)
				rows := make([][]string, 0, len(run.Tasks))
				for i := range run.Tasks {
					t := &run.Tasks[i]
					rows = append(rows, []string{t.TaskKey, strconv.FormatInt(t.RunID, 10), stateText(t.State),
						strconv.Itoa(t.AttemptNumber), taskDuration(t, p.now), t.Describe(), t.State.StateMessage})
				}
				p.Table([]string{"TASK", "TASK RUN ID", "STATE", "ATTEMPT", "DURATION", "RUNS", "MESSAGE"}, rows)
			}
			return nil
		}),
	}
}

// taskDuration is how long a task ran (so far).
func taskDuration(t *client.RunTask, now time.Time) string {
	if t.StartTime <= 0 {
		return ""
	}
	end := now
	if t.EndTime > 0 {
		end = time.UnixMilli(t.EndTime)
	}
	return elapsed(end.Sub(time.UnixMilli(t.StartTime)))
}

func (e *clientEnv) runsListCmd() *cobra.Command {
	var f client.RunListFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Long:  `List the runs you may see (admins: every run), newest first: 25 unless --limit says otherwise.`,
		Example: `  kiln runs list
  kiln runs list --job-id 42 --limit 100
  kiln runs list --active-only -o json`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			if f.Limit <= 0 {
				return usageError{errors.New("--limit must be a positive number")}
			}
			if f.ActiveOnly && f.CompletedOnly {
				return usageError{errors.New("give --active-only or --completed-only, not both")}
			}
			runs, err := c.ListRuns(ctx, f)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(runs)
			}
			if len(runs) == 0 {
				fmt.Fprintln(e.stdio.Err, "No matching runs.")
				return nil
			}
			rows := make([][]string, 0, len(runs))
			for i := range runs {
				r := &runs[i]
				started := ""
				if st := r.Started(); !st.IsZero() {
					started = relative(st, p.now)
				}
				rows = append(rows, []string{strconv.FormatInt(r.RunID, 10), strconv.FormatInt(r.JobID, 10), r.RunName,
					r.RunType, stateText(r.State), started, elapsed(r.Duration(p.now))})
			}
			p.Table([]string{"RUN ID", "JOB ID", "NAME", "TYPE", "STATE", "STARTED", "DURATION"}, rows)
			return nil
		}),
	}
	cmd.Flags().Int64Var(&f.JobID, "job-id", 0, "only the runs of this job")
	cmd.Flags().BoolVar(&f.ActiveOnly, "active-only", false, "only runs that are queued or running")
	cmd.Flags().BoolVar(&f.CompletedOnly, "completed-only", false, "only runs that ended")
	cmd.Flags().IntVar(&f.Limit, "limit", 25, "list at most this many runs")
	return cmd
}

func (e *clientEnv) runsCancelCmd() *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "cancel RUN_ID",
		Short: "Cancel a run",
		Long: `Cancel a run (a task run id cancels its run). Tasks not started end at once;
running ones are stopped (SIGTERM, then SIGKILL), and the run ends as
CANCELED. With --wait the command returns once the run has ended. Canceling a
run that already ended changes nothing.`,
		Example: `  kiln runs cancel 455644833
  kiln runs cancel 455644833 --wait`,
		Args: exactArgs(1, "RUN_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := parseID(args[0], "RUN_ID")
			if err != nil {
				return err
			}
			if err := c.CancelRun(ctx, id); err != nil {
				return err
			}
			p := e.printer()
			if !wait {
				if p.json {
					return p.JSON(map[string]any{"run_id": id, "canceled": true})
				}
				fmt.Fprintf(e.stdio.Err, "Canceling run %d; it ends within seconds (kiln runs get %d).\n", id, id)
				return nil
			}
			run, err := e.waitForRun(ctx, c, id, timeout)
			if err != nil {
				return err
			}
			if p.json {
				return p.JSON(run)
			}
			fmt.Fprintf(e.stdio.Err, "Run %d ended: %s.\n", run.RunID, stateText(run.State))
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "return once the run has ended")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait, give up waiting after this long (default: no limit)")
	return cmd
}

// selectTasks returns the task runs of a run (or the task run RUN_ID
// names), all or the one keyed key: of a retried task its latest attempt
// alone (runs/get lists the earlier ones before it).
func selectTasks(run *client.Run, key string) ([]client.RunTask, error) {
	all := run.TaskRuns()
	last := make(map[string]int, len(all))
	for i, t := range all {
		last[t.TaskKey] = i
	}
	tasks := make([]client.RunTask, 0, len(last))
	for i, t := range all {
		if last[t.TaskKey] == i {
			tasks = append(tasks, t)
		}
	}
	if key == "" {
		return tasks, nil
	}
	var keys []string
	for _, t := range tasks {
		if t.TaskKey == key {
			return []client.RunTask{t}, nil
		}
		keys = append(keys, t.TaskKey)
	}
	return nil, notFoundError{fmt.Errorf("run %d has no task %q (its tasks: %s)", run.RunID, key, strings.Join(keys, ", "))}
}

func (e *clientEnv) runsOutputCmd() *cobra.Command {
	var task string
	cmd := &cobra.Command{
		Use:   "output RUN_ID",
		Short: "Show the result of a run: a notebook's exit value, or its error",
		Long: `Show the output of a run's tasks (or of the task run RUN_ID names): a
notebook's dbutils.notebook.exit value goes to standard output exactly as the
notebook passed it, so that it can be piped (kiln runs output 123 | jq .). A
failed task's error and trace go to standard error, and the command exits 6. A
run with several tasks shows each under a header line, or the one --task
names. --output json prints the runs/get-output answer (an array of them for
several tasks), logs included; kiln runs logs shows the logs alone.`,
		Example: `  kiln runs output 455644833
  kiln runs output 455644833 | jq .rows
  kiln runs output 455644833 --task ingest -o json`,
		Args: exactArgs(1, "RUN_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := parseID(args[0], "RUN_ID")
			if err != nil {
				return err
			}
			run, err := c.GetRun(ctx, id)
			if err != nil {
				return err
			}
			tasks, err := selectTasks(run, task)
			if err != nil {
				return err
			}
			outs := make([]*client.RunOutput, len(tasks))
			for i, t := range tasks {
				if outs[i], err = c.GetRunOutput(ctx, t.RunID); err != nil {
					return err
				}
			}
			p := e.printer()
			if p.json {
				if len(outs) == 1 {
					return p.JSON(outs[0])
				}
				return p.JSON(outs)
			}
			var failed []string
			for i, t := range tasks {
				o := outs[i]
				if len(tasks) > 1 {
					fmt.Fprintf(p.w, "==> %s (task run %d): %s <==\n", t.TaskKey, t.RunID, stateText(t.State))
				}
				if o.NotebookOutput != nil && o.NotebookOutput.Result != "" {
					fmt.Fprint(p.w, o.NotebookOutput.Result)
					if !strings.HasSuffix(o.NotebookOutput.Result, "\n") {
						fmt.Fprintln(p.w)
					}
					if o.NotebookOutput.Truncated {
						fmt.Fprintf(e.stdio.Err, "The result of task %s was cut at the server's limit (5 MB).\n", t.TaskKey)
					}
				}
				switch {
				case !t.State.Terminal():
					fmt.Fprintf(e.stdio.Err, "Task %s is %s: its output is not there yet (kiln runs logs %d --follow).\n", t.TaskKey, t.State.LifeCycleState, id)
				case o.Error != "" || o.ErrorTrace != "":
					trace := strings.TrimRight(o.ErrorTrace, "\n")
					if trace == "" {
						trace = o.Error
					}
					if len(tasks) > 1 {
						fmt.Fprintf(e.stdio.Err, "==> %s <==\n", t.TaskKey)
					}
					fmt.Fprintln(e.stdio.Err, trace)
				case t.State.Succeeded() && (o.NotebookOutput == nil || o.NotebookOutput.Result == "") && len(tasks) == 1:
					if o.NotebookOutput != nil {
						fmt.Fprintf(e.stdio.Err, "Task %s succeeded without a result (the notebook did not call dbutils.notebook.exit).\n", t.TaskKey)
					} else {
						fmt.Fprintf(e.stdio.Err, "Task %s succeeded; it has no result (see kiln runs logs %d).\n", t.TaskKey, id)
					}
				}
				if t.State.Terminal() && !t.State.Succeeded() && t.State.ResultState != "EXCLUDED" {
					msg := o.Error
					if msg == "" {
						msg = t.State.StateMessage
					}
					failed = append(failed, fmt.Sprintf("task %s %s: %s", t.TaskKey, t.State.Outcome(), oneLine(msg, 300)))
				}
			}
			if len(failed) > 0 {
				return runFailedError{fmt.Errorf("run %d did not succeed: %s", run.RunID, strings.Join(failed, "; "))}
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&task, "task", "", "only the task with this key")
	return cmd
}
