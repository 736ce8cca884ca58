package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// insideID is the user and group id a program has inside its user
// namespace: an ordinary user, so that it holds no capabilities there
// either.
const insideID = 1000

// New checks that the kernel can confine programs as c asks and returns
// the Sandbox. With c.Off it returns one that runs programs unconfined.
// Errors wrap ErrUnsupported when the system lacks a mechanism, and say
// which.
func New(c Config) (*Sandbox, error) {
	s := &Sandbox{cfg: c, limits: c.Limits.withDefaults(), uid: os.Getuid(), gid: os.Getgid()}
	if c.Off {
		s.user = currentUserName()
		return s, nil
	}
	abi, err := ll.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return nil, fmt.Errorf("%w: the kernel does not offer Landlock (%v); kiln needs Linux 5.13 or later with Landlock enabled (lsm=landlock)", ErrUnsupported, err)
	}
	s.abi = abi
	if err := s.resolveUser(c.User); err != nil {
		return nil, err
	}
	for _, p := range c.ReadOnly {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		s.readOnly = append(s.readOnly, abs)
	}
	if err := s.CheckPaths(append(append([]string{}, systemDirs...), s.readOnly...)...); err != nil {
		return nil, err
	}
	// The launcher is this very binary. An open descriptor keeps working
	// when the file is replaced (an upgrade) and lets the task's user
	// execute it even where it cannot reach the binary's directory.
	if s.exe, err = os.Open("/proc/self/exe"); err != nil {
		return nil, fmt.Errorf("%w: cannot open the kiln binary through /proc/self/exe: %v", ErrUnsupported, err)
	}
	// One real start proves the namespaces, the user switch, the limits
	// and the ruleset work here, before any task depends on them.
	if err := s.selfTest(); err != nil {
		s.exe.Close()
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return s, nil
}

// resolveUser picks the host user programs run as.
func (s *Sandbox) resolveUser(name string) error {
	if os.Getuid() != 0 {
		if name != "" && name != currentUserName() && name != strconv.Itoa(os.Getuid()) {
			return fmt.Errorf("--task-user %s needs kiln to run as root; as %s, tasks run as %s in namespaces of their own", name, currentUserName(), currentUserName())
		}
		s.user = currentUserName()
		return nil
	}
	if name == "" {
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		u, err = user.LookupId(name)
	}
	if err != nil {
		return fmt.Errorf("the task user %s does not exist: create it (useradd --system --no-create-home kiln-task) or pass --task-user", name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return fmt.Errorf("the task user %s is root: tasks must run as an unprivileged user", name)
	}
	s.uid, s.gid, s.user = uid, gid, u.Username
	return nil
}

func currentUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// selfTest runs the launcher with no program: it sets up everything and
// exits.
func (s *Sandbox) selfTest() error {
	p, err := s.Start(Spec{Dir: "/"})
	if err != nil {
		return err
	}
	exit, err := p.Wait()
	switch {
	case err != nil:
		return err
	case exit.Setup != "":
		return errors.New(exit.Setup)
	case exit.Code != 0:
		return fmt.Errorf("the sandbox self-test ended with status %d", exit.Code)
	}
	return nil
}

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

// launchSpec is what the launcher stages are told, as JSON in argv[1].
type launchSpec struct {
	Path     string   `json:"path,omitempty"`
	Args     []string `json:"args,omitempty"`
	Env      []string `json:"env,omitempty"`
	Dir      string   `json:"dir"`
	Read     []string `json:"read"`
	ReadFile []string `json:"read_file"`
	Write    []string `json:"write"`
	RWFile   []string `json:"rw_file"`
	Files    int      `json:"files"` // descriptors 3.. for the program
	Limits   Limits   `json:"limits"`
}

// Start starts sp's program. With the sandbox off it runs unconfined in a
// process group of its own; otherwise in the confinement the package doc
// describes. Either way the program is killed if the server dies.
func (s *Sandbox) Start(sp Spec) (*Process, error) {
	out := sp.Output
	if s.cfg.Off {
		return s.startUnconfined(sp, out)
	}
	ls := launchSpec{
		Path: sp.Path, Args: sp.Args, Env: sp.Env, Dir: sp.Dir,
		Read:     append(append(append([]string{}, systemDirs...), s.readOnly...), sp.ReadOnly...),
		ReadFile: append(append([]string{}, systemFiles...), readDevices...),
		Write:    sp.Writable, RWFile: writeDevices,
		Files: len(sp.Files), Limits: s.limits,
	}
	if err := s.CheckPaths(append(append([]string{}, sp.Writable...), sp.ReadOnly...)...); err != nil {
		return nil, err
	}
	arg, err := json.Marshal(ls)
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	files := append(append([]*os.File{}, sp.Files...), statusW, s.exe)
	exeFD := 3 + len(files) - 1
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/" + strconv.Itoa(exeFD),
		Args:       []string{initName, string(arg)},
		Env:        []string{},
		Dir:        "/",
		ExtraFiles: files,
		Stdout:     out, Stderr: out,
	}
	flags := uintptr(syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS)
	if s.cfg.NoNetwork {
		flags |= syscall.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  flags,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: insideID, HostID: s.uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: insideID, HostID: s.gid, Size: 1}},
		// Unprivileged parents may only map their own group with
		// setgroups denied; kiln as root denies it too, so that a task
		// never gains a supplementary group.
		GidMappingsEnableSetgroups: false,
		Credential:                 &syscall.Credential{Uid: insideID, Gid: insideID, NoSetGroups: true},
		Setpgid:                    true,
		Pdeathsig:                  syscall.SIGKILL,
	}
	p := &Process{done: make(chan struct{}), status: statusR}
	if err := p.run(cmd, statusW); err != nil {
		statusR.Close()
		return nil, err
	}
	return p, nil
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
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
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
