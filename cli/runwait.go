package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kiln-dev/kiln/client"
)

// runFailedError: a run the command waited for (or showed) ended without
// succeeding: FAILED, TIMEDOUT, CANCELED, INTERNAL_ERROR, SKIPPED.
type runFailedError struct{ error }

// pollInterval is the longest pause between two polls of a run; waiting
// starts faster and backs off to it.
const pollInterval = time.Second

// parseID reads a positive numeric id argument, such as a run or job id.
func parseID(arg, name string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Errorf("%s must be a positive whole number, not %q", name, arg)}
	}
	return id, nil
}

// jsonArg reads a --json value: inline JSON, @FILE, or @- for standard
// input. It must be a JSON object.
func (e *clientEnv) jsonArg(v string) (json.RawMessage, error) {
	var b []byte
	switch {
	case v == "@-":
		var err error
		if b, err = io.ReadAll(e.stdio.In); err != nil {
			return nil, fmt.Errorf("--json: reading standard input: %w", err)
		}
	case strings.HasPrefix(v, "@"):
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, usageError{fmt.Errorf("--json: %v", unwrapPathError(err))}
		}
	default:
		b = []byte(v)
	}
	b = bytes.TrimSpace(b)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		what := "inline JSON"
		if strings.HasPrefix(v, "@") {
			what = v[1:]
		}
		if err == nil {
			err = errors.New("null")
		}
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, usageError{fmt.Errorf("--json: %s is not valid JSON (at byte %d: %v)", what, syn.Offset, syn)}
		}
		return nil, usageError{fmt.Errorf("--json: %s must be a JSON object", what)}
	}
	return b, nil
}

// unwrapPathError shortens "open x: no such file or directory" to
// "x: no such file or directory".
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// keyValues parses repeated KEY=VALUE flags into a map (nil when none).
func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageError{fmt.Errorf("--%s %q is not KEY=VALUE", flag, kv)}
		}
		m[k] = v
	}
	return m, nil
}

// elapsed renders a duration for people: "850ms" below a second, "12s",
// "3m05s", "1h02m".
func elapsed(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	default:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
}

// secs renders a duration in whole seconds for progress lines: "0s",
// "12s", "3m05s".
func secs(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	return elapsed(d.Truncate(time.Second))
}

// stateText renders a state: "RUNNING", "TERMINATED SUCCESS",
// "INTERNAL_ERROR".
func stateText(s client.RunState) string {
	if s.LifeCycleState == client.LifeCycleTerminated && s.ResultState != "" {
		return s.LifeCycleState + " " + s.ResultState
	}
	return s.LifeCycleState
}

// oneLine keeps a server's message on one line, at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = string(r[:n-1]) + "…"
	}
	return s
}

// progress shows a run's progress while a command waits for it, on
// standard error: one line per state change, and on a terminal a spinner
// line with the elapsed time under them.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	runID int64

	mu     sync.Mutex
	status string // what the spinner line says
	drawn  int    // runes of the spinner line on screen
	seen   map[string]string
	frame  int
	url    bool

	stop chan struct{}
	done chan struct{}
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func newProgress(w io.Writer, runID int64) *progress {
	p := &progress{w: w, tty: isTerminal(w), start: time.Now(), runID: runID, seen: map[string]string{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if p.tty {
		go p.spin()
	} else {
		close(p.done)
	}
	return p
}

func (p *progress) spin() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// draw redraws the spinner line (mu held).
func (p *progress) draw() {
	if p.status == "" {
		return
	}
	p.frame++
	line := fmt.Sprintf("%s %s · %s", spinnerFrames[p.frame%len(spinnerFrames)], p.status, secs(time.Since(p.start)))
	n := utf8.RuneCountInString(line)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", max(0, p.drawn-n)))
	p.drawn = n
}

// clear removes the spinner line (mu held).
func (p *progress) clear() {
	if p.drawn > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.drawn)+"\r")
		p.drawn = 0
	}
}

// println prints a permanent line above the spinner (mu held).
func (p *progress) println(s string) {
	p.clear()
	fmt.Fprintln(p.w, s)
}

// update records a polled state: a line for each state that changed (the
// run's, and each task's when the run has several).
func (p *progress) update(run *client.Run) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.url && run.RunPageURL != "" {
		p.url = true
		p.println(fmt.Sprintf("Run %d: %s", p.runID, run.RunPageURL))
	}
	at := secs(time.Since(p.start))
	if tasks := run.TaskRuns(); len(tasks) > 1 {
		for _, t := range tasks {
			key := "task " + strconv.FormatInt(t.RunID, 10)
			if s := stateText(t.State); p.seen[key] != s {
				p.seen[key] = s
				p.println(fmt.Sprintf("Run %d: task %s %s (%s)", p.runID, t.TaskKey, s, at))
			}
		}
	}
	if s := stateText(run.State); p.seen["run"] != s {
		p.seen["run"] = s
		p.println(fmt.Sprintf("Run %d: %s (%s)", p.runID, s, at))
	}
	p.status = fmt.Sprintf("Run %d: %s", p.runID, run.State.LifeCycleState)
	if run.State.Terminal() {
		p.status = "" // done: nothing more to spin for
	}
	if p.tty {
		p.draw()
	}
}

// finish stops the spinner and clears its line.
func (p *progress) finish() {
	if p.tty {
		close(p.stop)
	}
	<-p.done
	p.mu.Lock()
	p.clear()
	p.mu.Unlock()
}

// waitForRun polls a run until it is terminal, showing progress on
// standard error. It returns the last state, and an error when waiting
// failed (the run itself failing is not an error here).
func (e *clientEnv) waitForRun(ctx context.Context, c *client.Client, runID int64, timeout time.Duration) (*client.Run, error) {
	p := newProgress(e.stdio.Err, runID)
	run, err := c.WaitRun(ctx, runID, client.WaitOptions{Interval: pollInterval, Timeout: timeout, OnPoll: p.update})
	p.finish()
	var te *client.WaitTimeoutError
	switch {
	case errors.As(err, &te):
		return nil, fmt.Errorf("gave up waiting after %s: run %d is still %s; it goes on (kiln runs get %d, kiln runs cancel %d)",
			timeout, runID, te.Last.State.LifeCycleState, runID, runID)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("stopped waiting: run %d goes on (kiln runs get %d, kiln runs cancel %d)", runID, runID, runID)
	case err != nil:
		return nil, err
	}
	return run, nil
}

// runOutcome turns a finished run into the command's result: nil when it
// succeeded, else a runFailedError that says why, with the error of each
// failed task (from runs/get-output).
func (e *clientEnv) runOutcome(ctx context.Context, c *client.Client, run *client.Run) error {
	if run.State.Succeeded() {
		return nil
	}
	var why []string
	for _, t := range run.TaskRuns() {
		switch t.State.ResultState {
		case client.ResultSuccess, "EXCLUDED", "UPSTREAM_FAILED", "UPSTREAM_CANCELED":
			continue
		}
		if !t.State.Terminal() {
			continue
		}
		msg := t.State.StateMessage
		if out, err := c.GetRunOutput(ctx, t.RunID); err == nil && out.Error != "" {
			msg = out.Error
		}
		if msg == "" {
			msg = t.State.Outcome()
		}
		why = append(why, "task "+t.TaskKey+": "+oneLine(msg, 300))
	}
	if len(why) == 0 || run.State.ResultState == client.ResultTimedOut || run.State.ResultState == client.ResultCanceled {
		if m := strings.TrimSpace(run.State.StateMessage); m != "" {
			why = []string{oneLine(m, 300)}
		}
	}
	msg := fmt.Sprintf("run %d %s", run.RunID, run.State.Outcome())
	if len(why) > 0 {
		msg += ": " + strings.Join(why, "; ")
	}
	if run.State.ResultState == client.ResultFailed {
		msg += fmt.Sprintf(" (kiln runs output %d shows the error)", run.RunID)
	}
	return runFailedError{errors.New(msg)}
}

// finishWait reports a run the command waited for: the final line on
// standard error (or the run as JSON on standard output), and the
// outcome as the command's error.
func (e *clientEnv) finishWait(ctx context.Context, c *client.Client, run *client.Run, took time.Duration) error {
	p := e.printer()
	if p.json {
		if err := p.JSON(run); err != nil {
			return err
		}
	}
	if run.State.Succeeded() {
		fmt.Fprintf(e.stdio.Err, "Run %d succeeded in %s.\n", run.RunID, elapsed(took))
	}
	return e.runOutcome(ctx, c, run)
}
