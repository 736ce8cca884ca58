package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/client"
)

func (e *clientEnv) runsLogsCmd() *cobra.Command {
	var task string
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs RUN_ID",
		Short: "Print the output of a run's tasks; --follow waits for it",
		Long: `Print what a run's tasks wrote to standard output and standard error (or the
task --task names, or the task run RUN_ID names). A run with several tasks
shows each task's output under a "==> KEY (task run N) <==" header.

kiln publishes a running task's output every two seconds or so, and once more
when the attempt ends. --follow polls the run until it ends and prints each
task's output as it grows (that of every retry too), only what was not printed
before; then it says on standard error how the run ended, and exits 6 if it
did not succeed. Stored logs are bounded: the first 128 KiB
and the last 384 KiB of each task's output.`,
		Example: `  kiln runs logs 455644833
  kiln runs logs 455644833 --follow
  kiln runs logs 455644833 --task ingest > ingest.log`,
		Args: exactArgs(1, "RUN_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := parseID(args[0], "RUN_ID")
			if err != nil {
				return err
			}
			return e.printLogs(ctx, c, id, task, follow)
		}),
	}
	cmd.Flags().StringVar(&task, "task", "", "only the task with this key")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until the run ends")
	return cmd
}

// taskLog is what printLogs knows of one task run's logs.
type taskLog struct {
	fetched  bool
	fetchEnd int64  // the task's end_time at the last fetch
	end      int64  // the end_time of the attempt whose logs were printed
	printed  string // the logs printed so far of that attempt
}

// logPrinter writes logs to w, with a header line before a task's output
// when several tasks share the output, or when a new attempt starts.
type logPrinter struct {
	w     io.Writer
	multi bool
	last  int64 // the task run printed last
	ended bool  // the last output ended with a newline
}

func (lp *logPrinter) emit(t client.RunTask, text string, newAttempt bool) {
	if text == "" {
		return
	}
	if lp.multi && lp.last != t.RunID || newAttempt {
		if lp.last != 0 && !lp.ended {
			fmt.Fprintln(lp.w)
		}
		if newAttempt {
			fmt.Fprintf(lp.w, "==> %s (task run %d), next attempt <==\n", t.TaskKey, t.RunID)
		} else {
			fmt.Fprintf(lp.w, "==> %s (task run %d) <==\n", t.TaskKey, t.RunID)
		}
	}
	fmt.Fprint(lp.w, text)
	lp.last, lp.ended = t.RunID, strings.HasSuffix(text, "\n")
}

// add records the logs of a task as a fetch found them and prints what
// is new. logs belong to the attempt that ended at end (0: one still
// running, should a server stream logs).
func (lp *logPrinter) add(t client.RunTask, st *taskLog, logs string, end int64) {
	if logs == "" {
		return
	}
	switch {
	case end == st.end && strings.HasPrefix(logs, st.printed):
		lp.emit(t, logs[len(st.printed):], false)
	case end == st.end:
		// The same attempt, rewritten (bounded logs lose their middle):
		// nothing new can be placed.
	case st.end == 0 && strings.HasPrefix(logs, st.printed):
		lp.emit(t, logs[len(st.printed):], false) // the attempt followed so far ended
	default:
		lp.emit(t, logs, st.printed != "") // another attempt
	}
	st.end, st.printed = end, logs
}

// printLogs prints the logs of a run's tasks once, or with follow until
// the run ends.
func (e *clientEnv) printLogs(ctx context.Context, c *client.Client, id int64, key string, follow bool) error {
	start := time.Now()
	states := map[int64]*taskLog{}
	lp := &logPrinter{w: e.stdio.Out, ended: true}
	pause := 200 * time.Millisecond
	for {
		run, err := c.GetRun(ctx, id)
		if err != nil {
			return e.stoppedFollowing(ctx, id, err)
		}
		tasks, err := selectTasks(run, key)
		if err != nil {
			return err
		}
		lp.multi = len(tasks) > 1
		for _, t := range tasks {
			st := states[t.RunID]
			if st == nil {
				st = &taskLog{}
				states[t.RunID] = st
			}
			running := t.State.LifeCycleState == client.LifeCycleRunning || t.State.LifeCycleState == client.LifeCycleTerminating
			if !running && st.fetched && st.fetchEnd == t.EndTime {
				continue // nothing can have changed
			}
			if !running && t.StartTime == 0 && !t.State.Terminal() {
				continue // not started
			}
			out, err := c.GetRunOutput(ctx, t.RunID)
			if err != nil {
				return e.stoppedFollowing(ctx, id, err)
			}
			st.fetched, st.fetchEnd = true, t.EndTime
			lp.add(t, st, out.Logs, out.Metadata.EndTime)
		}
		if !follow {
			if !lp.ended {
				fmt.Fprintln(lp.w)
			}
			for _, t := range tasks {
				if !t.State.Terminal() && states[t.RunID].printed == "" {
					fmt.Fprintf(e.stdio.Err, "Task %s is %s and has printed nothing yet (add --follow to wait for its output).\n", t.TaskKey, t.State.LifeCycleState)
				}
			}
			return nil
		}
		if run.State.Terminal() {
			if !lp.ended {
				fmt.Fprintln(lp.w)
			}
			fmt.Fprintf(e.stdio.Err, "Run %d ended: %s (followed for %s).\n", id, stateText(run.State), secs(time.Since(start)))
			return e.runOutcome(ctx, c, run)
		}
		select {
		case <-ctx.Done():
			return e.stoppedFollowing(ctx, id, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, pollInterval)
	}
}

// stoppedFollowing explains an interrupted follow.
func (e *clientEnv) stoppedFollowing(ctx context.Context, id int64, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("stopped following run %d; it goes on (kiln runs get %d)", id, id)
	}
	return err
}
