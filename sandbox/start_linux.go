package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"

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

// launchSpec is what a launcher is told, as one JSON message on its
// control socket.
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
//
// A confined program is handed to a launcher that is already running in
// its fresh namespaces (one is kept ready): the exec of the kiln binary
// and the namespaces' creation, some ten milliseconds, happen before the
// task arrives rather than on its way.
func (s *Sandbox) Start(sp Spec) (*Process, error) {
	if s.cfg.Off {
		return s.startUnconfined(sp, sp.Output)
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
	msg, err := json.Marshal(ls)
	if err != nil {
		return nil, err
	}
	out := sp.Output
	if out == nil {
		if out, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
			return nil, err
		}
		defer out.Close()
	}
	fds := []int{int(out.Fd())}
	for _, f := range sp.Files {
		fds = append(fds, int(f.Fd()))
	}
	rights := syscall.UnixRights(fds...)
	// A ready launcher may have died meanwhile (killed by an operator):
	// then a fresh one takes the task.
	for attempt := 0; ; attempt++ {
		l, err := s.launcher()
		if err != nil {
			return nil, err
		}
		err = sendSpec(l.ctl, msg, rights)
		runtime.KeepAlive(sp.Files)
		runtime.KeepAlive(out)
		if err == nil {
			return l.p, nil
		}
		l.p.Kill()
		if attempt == 1 {
			return nil, fmt.Errorf("cannot hand the task to its launcher: %w", err)
		}
	}
}

// sendSpec sends the program's instructions and descriptors on the
// control socket. Through RawConn, so that the socket cannot be closed
// under the call (the launcher's end may be reaped meanwhile).
func sendSpec(ctl *os.File, msg, rights []byte) error {
	rc, err := ctl.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	if err := rc.Write(func(fd uintptr) bool {
		sendErr = syscall.Sendmsg(int(fd), msg, rights, nil, 0)
		return true
	}); err != nil {
		return err
	}
	return sendErr
}

// readyLauncher is a launcher waiting for its program.
type readyLauncher struct {
	p   *Process
	ctl *os.File // the server's end of the control socket
}

// launcher takes the ready launcher, or starts one, and has the next one
// started once this one's program has ended.
func (s *Sandbox) launcher() (*readyLauncher, error) {
	s.mu.Lock()
	l := s.ready
	s.ready = nil
	s.mu.Unlock()
	if l == nil {
		var err error
		if l, err = s.spawn(); err != nil {
			return nil, err
		}
	}
	// The next one is started when this program ends, not now: starting
	// a launcher costs a few milliseconds of processor, which the program
	// that just arrived would otherwise compete with.
	go func() {
		<-l.p.done
		s.refill()
	}()
	return l, nil
}

// refill starts a launcher to keep ready, unless one is or the sandbox is
// closed.
func (s *Sandbox) refill() {
	s.mu.Lock()
	if s.ready != nil || s.filling || s.closed {
		s.mu.Unlock()
		return
	}
	s.filling = true
	s.mu.Unlock()
	l, err := s.spawn()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filling = false
	switch {
	case err != nil:
		return // the next Start starts one itself, and reports the error
	case s.closed:
		l.p.Kill()
		l.ctl.Close()
	default:
		s.ready = l
	}
}

// Close ends the launcher kept ready. Programs already started are not
// affected; Start still works, without one kept ready.
func (s *Sandbox) Close() {
	s.mu.Lock()
	l := s.ready
	s.ready, s.closed = nil, true
	s.mu.Unlock()
	if l != nil {
		l.ctl.Close() // it exits when its control socket closes
		l.p.Wait()
	}
}

// spawn starts a launcher in fresh namespaces; it waits on its control
// socket (its descriptor 3) for the program to run.
func (s *Sandbox) spawn() (*readyLauncher, error) {
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "launcher-control"), os.NewFile(uintptr(pair[1]), "launcher-control")
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/4", // s.exe, the second of ExtraFiles
		Args:       []string{initName, "wait"},
		Env:        launcherEnv,
		Dir:        "/",
		ExtraFiles: []*os.File{theirs, s.exe},
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
	p := &Process{done: make(chan struct{}), status: ours}
	if err := p.run(cmd, theirs); err != nil {
		ours.Close()
		return nil, err
	}
	return &readyLauncher{p: p, ctl: ours}, nil
}

// unconfinedAttr puts an unconfined program in a process group of its
// own, killed if the server dies.
func unconfinedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
