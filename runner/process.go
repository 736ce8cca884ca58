package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln/sandbox"
)

// procSpec is one execution of the runtime shim.
type procSpec struct {
	sandbox  *sandbox.Sandbox
	python   string
	dir      string   // working directory
	args     []string // after the interpreter
	env      []string
	readOnly []string // what the task may read besides the system's files
	writable []string // what the task may write: its own directory
	// secret answers a dbutils.secrets.get; nil refuses them.
	secret func(scope, key string) ([]byte, error)
	// asks answer the shim's other questions (dbutils.fs,
	// dbutils.jobs.taskValues) by message type: each takes the message's
	// line and returns the answer line.
	asks map[string]func(line []byte) []byte
}

// procResult is what the shim reported and how the process ended.
type procResult struct {
	exited    bool // false when it could not start
	exitCode  int  // -1 when killed by a signal
	signal    syscall.Signal
	setup     string // why the sandbox could not be set up; the task never ran
	gotExit   bool   // dbutils.notebook.exit was called
	exitValue string
	truncated bool
	errLine   string
	errTrace  string
	// errState, when the shim gives one, is the failed task's state
	// message: a wheel that cannot be installed says so there.
	errState string
	limit    string // the sandbox limit the task ran into, if any
	logs     string
	logsCut  bool
	secrets  []string // values handed out, to redact (the caller's secretList)
}

// Bounds of what a task may hand the server.
const (
	// maxMessage bounds one line on the shim's channel: an exit value of
	// ResultLimit bytes, base64-encoded, with room to spare. A longer line
	// is dropped: the task cannot make the server buffer more.
	maxMessage = 8 << 20
	// killWaitOutput is how long the output pipes may stay open after the
	// process is gone (unconfined, a child that left the group holds them).
	killWaitOutput = 2 * time.Second
)

// runProcess starts the shim in the sandbox and waits for it. When ctx
// ends first, the task gets SIGTERM, then SIGKILL after grace; when the
// shim exits, whatever it left running is killed. stdout and stderr go
// to the capture.
func runProcess(ctx context.Context, p procSpec, capture *logCapture, grace time.Duration) (res procResult, err error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return res, err
	}
	defer outR.Close()
	msgR, msgW, err := os.Pipe() // shim -> runner (fd 3)
	if err != nil {
		outW.Close()
		return res, err
	}
	defer msgR.Close()
	ansR, ansW, err := os.Pipe() // runner -> shim (fd 4)
	if err != nil {
		outW.Close()
		msgW.Close()
		return res, err
	}
	defer ansW.Close()

	proc, startErr := p.sandbox.Start(sandbox.Spec{
		Path: p.python, Args: p.args, Env: p.env, Dir: p.dir,
		Writable: p.writable, ReadOnly: p.readOnly,
		Files: []*os.File{msgW, ansR}, Output: outW,
	})
	// The child has its copies; ours must go, or EOF never comes.
	outW.Close()
	msgW.Close()
	ansR.Close()
	if startErr != nil {
		return res, startErr
	}

	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(capture, outR) })
	var msgs shimMessages
	wg.Go(func() { msgs.read(msgR, ansW, p.secret, p.asks) })

	var exit sandbox.Exit
	var waitErr error
	select {
	case <-proc.Done():
	case <-ctx.Done():
		proc.Terminate()
		select {
		case <-proc.Done():
		case <-time.After(grace):
			proc.Kill()
		}
	}
	exit, waitErr = proc.Wait()
	ansW.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(killWaitOutput):
		// A descendant that escaped the process group still holds the
		// pipes (only possible unconfined): stop reading so the task can
		// end.
		outR.Close()
		msgR.Close()
		<-done
	}

	res.exited = true
	res.exitCode, res.signal, res.setup = exit.Code, exit.Signal, exit.Setup
	if waitErr != nil {
		return res, waitErr
	}
	msgs.fill(&res)
	res.logs, res.logsCut = capture.Text()
	return res, nil
}

// shimMessages reads the shim's channel.
type shimMessages struct {
	mu        sync.Mutex
	gotExit   bool
	exitValue string
	truncated bool
	errLine   string
	errTrace  string
	errState  string
	limit     string
}

// message is one line from the shim.
type message struct {
	Type      string `json:"type"`
	ValueB64  string `json:"value_b64"`
	Truncated bool   `json:"truncated"`
	Error     string `json:"error"`
	Trace     string `json:"trace"`
	State     string `json:"state"`
	Scope     string `json:"scope"`
	Key       string `json:"key"`
	Limit     string `json:"limit"`
}

// read handles messages until the shim closes its end. Lines longer than
// maxMessage are skipped whole.
func (m *shimMessages) read(r io.Reader, answers io.Writer, secret func(scope, key string) ([]byte, error), asks map[string]func([]byte) []byte) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, tooLong, err := readLine(br, maxMessage)
		if err != nil {
			return
		}
		if tooLong {
			m.mu.Lock()
			m.gotExit, m.truncated, m.exitValue = true, true, ""
			m.mu.Unlock()
			continue
		}
		var msg message
		if json.Unmarshal(line, &msg) != nil {
			continue
		}
		switch msg.Type {
		case "exit":
			v, err := base64.StdEncoding.DecodeString(msg.ValueB64)
			if err != nil {
				continue
			}
			m.mu.Lock()
			m.gotExit, m.exitValue, m.truncated = true, string(v), msg.Truncated
			m.mu.Unlock()
		case "error":
			m.mu.Lock()
			m.errLine, m.errTrace = truncateString(msg.Error, 64<<10), truncateString(msg.Trace, 1<<20)
			m.errState = truncateString(msg.State, 4<<10)
			m.mu.Unlock()
		case "secret":
			answers.Write(m.answerSecret(msg, secret))
		case "limit":
			if knownLimits[msg.Limit] {
				m.mu.Lock()
				m.limit = msg.Limit
				m.mu.Unlock()
			}
		default:
			if ask := asks[msg.Type]; ask != nil {
				answers.Write(ask(line))
			}
		}
	}
}

func (m *shimMessages) answerSecret(msg message, secret func(scope, key string) ([]byte, error)) []byte {
	var answer map[string]string
	switch {
	case secret == nil:
		answer = map[string]string{"error": "Secrets are not available to this task."}
	default:
		v, err := secret(msg.Scope, msg.Key)
		if err != nil {
			answer = map[string]string{"error": err.Error()}
		} else {
			answer = map[string]string{"value_b64": base64.StdEncoding.EncodeToString(v)}
		}
	}
	b, _ := json.Marshal(answer)
	return append(b, '\n')
}

func (m *shimMessages) fill(res *procResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	res.gotExit, res.exitValue, res.truncated = m.gotExit, m.exitValue, m.truncated
	res.errLine, res.errTrace, res.errState = m.errLine, m.errTrace, m.errState
	res.limit = m.limit
}

// readLine reads one line of at most limit bytes; a longer one is
// consumed and reported as tooLong.
func readLine(br *bufio.Reader, limit int) (line []byte, tooLong bool, err error) {
	var buf bytes.Buffer
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return nil, false, err
		}
		if !tooLong {
			if buf.Len()+len(chunk) > limit {
				tooLong = true
				buf.Reset()
			} else {
				buf.Write(chunk)
			}
		}
		if !isPrefix {
			return buf.Bytes(), tooLong, nil
		}
	}
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// describeExit says how a process ended, for a state message.
func describeExit(res procResult) string {
	if res.signal != 0 {
		return fmt.Sprintf("python3 was killed by signal %d (%s)", int(res.signal), res.signal)
	}
	return fmt.Sprintf("python3 exited with status %d", res.exitCode)
}
