package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Spec is one program to run.
type Spec struct {
	// Path is the program (absolute); empty runs nothing (a self-test).
	Path string
	// Args are its arguments after the program name.
	Args []string
	// Env is its whole environment.
	Env []string
	// Dir is its working directory.
	Dir string
	// Writable lists the directories it may write (and read); they must
	// be reachable by the sandbox's user.
	Writable []string
	// ReadOnly lists further directories or files it may read.
	ReadOnly []string
	// Files become its descriptors 3, 4, ...
	Files []*os.File
	// Output receives its standard output and error; nil discards.
	Output *os.File
}

// Process is a started program.
type Process struct {
	pid    int
	done   chan struct{}
	exit   Exit
	err    error
	status *os.File
}

// run starts cmd on a goroutine locked to its thread and waits for it
// there: Pdeathsig fires when the thread that started the child ends, so
// that thread must live as long as the child.
func (p *Process) run(cmd *exec.Cmd, closeAfterStart *os.File) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		if closeAfterStart != nil {
			closeAfterStart.Close()
		}
		started <- err
		if err != nil {
			return
		}
		waitErr := cmd.Wait()
		p.finish(cmd, waitErr)
	}()
	if err := <-started; err != nil {
		return err
	}
	p.pid = cmd.Process.Pid
	return nil
}

// finish records how the process ended and releases Wait.
func (p *Process) finish(cmd *exec.Cmd, waitErr error) {
	defer close(p.done)
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		p.err = waitErr
	}
	st := cmd.ProcessState
	p.exit = Exit{Code: st.ExitCode()}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		p.exit.Signal = ws.Signal()
	}
	if p.status == nil {
		return
	}
	// The init stage reports the program's own end; without a report the
	// init stage itself was killed (a cancel past its grace, the server's
	// shutdown), and so was everything in the namespace.
	b, _ := io.ReadAll(io.LimitReader(p.status, 64<<10))
	p.status.Close()
	var rep Exit
	if len(b) > 0 && json.Unmarshal(b, &rep) == nil {
		p.exit = rep
	}
}

// Pid is the process id of the program (unconfined) or of its launcher's
// init stage, in the server's PID namespace.
func (p *Process) Pid() int { return p.pid }

// Terminate asks the program and everything it started to stop
// (SIGTERM).
func (p *Process) Terminate() { syscall.Kill(-p.pid, syscall.SIGTERM) }

// Kill ends the program and everything it started at once (SIGKILL).
func (p *Process) Kill() { syscall.Kill(-p.pid, syscall.SIGKILL) }

// Done is closed when the program has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the program to end and says how it ended. An error means
// kiln lost track of the process, not that the program failed.
func (p *Process) Wait() (Exit, error) {
	<-p.done
	return p.exit, p.err
}

// WaitTimeout is Wait bounded by d; ok is false when the program still
// runs.
func (p *Process) WaitTimeout(d time.Duration) (exit Exit, err error, ok bool) {
	select {
	case <-p.done:
		return p.exit, p.err, true
	case <-time.After(d):
		return Exit{}, nil, false
	}
}

// startUnconfined runs the program as the server's user in a process
// group of its own; what is left in the group when it exits is killed.
func (s *Sandbox) startUnconfined(sp Spec, out *os.File) (*Process, error) {
	if sp.Path == "" {
		return nil, errors.New("sandbox: no program to run")
	}
	cmd := exec.Command(sp.Path, sp.Args...)
	cmd.Dir, cmd.Env = sp.Dir, sp.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = sp.Files
	cmd.SysProcAttr = unconfinedAttr()
	p := &Process{done: make(chan struct{})}
	if err := p.run(cmd, nil); err != nil {
		return nil, err
	}
	go func() {
		<-p.done
		// The leader is gone; whatever it left in its group goes too.
		syscall.Kill(-p.pid, syscall.SIGKILL)
	}()
	return p, nil
}
