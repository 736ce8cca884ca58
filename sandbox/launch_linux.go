package sandbox

// The launcher: the kiln binary re-executed under initName, in the
// task's fresh namespaces, as the task's user, before the task exists:
// it waits on its control socket for the program to run. It is PID 1 of
// the task's PID namespace:
//
//   - on one locked thread it sets no_new_privs and the Landlock ruleset,
//     sets the resource limits on itself, and starts the program from that
//     thread, so that the program inherits all of them and nothing of it
//     runs unrestricted;
//   - it sets the program's address-space limit with prlimit(2) as soon as
//     the program has started (a Go process cannot itself live under a
//     small address-space limit); a program that must not run a line
//     before it is in force waits for it, as the task shim does;
//   - it passes SIGTERM on to every process of the namespace, reaps
//     whatever is reparented to it, and reports how the program ended on
//     the control socket. When it exits, the kernel kills every process
//     still in the namespace.
//
// One exec, started ahead: each exec of the kiln binary costs
// milliseconds, and a task's start is on the path of every run.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// The launcher's name (argv[0]); nothing else starts the binary so.
const initName = "kiln-task-init"

func init() {
	if len(os.Args) == 2 && os.Args[0] == initName {
		os.Exit(runInit())
	}
}

// The launcher's descriptors: 0-2 /dev/null, 3 its control socket, 4 the
// kiln binary (closed at once). The program's instructions arrive on the
// control socket as one JSON message carrying descriptors: its output
// (standard output and error), then its own (3, 4, ...). How it ended goes
// back on the same socket.
const controlFD = 3

// runInit is the launcher.
func runInit() int {
	syscall.CloseOnExec(controlFD)
	syscall.Close(controlFD + 1)
	control := os.NewFile(controlFD, "control")
	report := func(e Exit) int {
		b, _ := json.Marshal(e)
		control.Write(b)
		control.Close()
		return 0
	}
	setup := func(format string, args ...any) int {
		return report(Exit{Code: -1, Setup: fmt.Sprintf(format, args...)})
	}
	ls, fds, err := receive(controlFD)
	if err != nil {
		return 0 // the server let this launcher go unused
	}
	if len(fds) != 1+ls.Files {
		return setup("the task came with %d descriptors, not %d", len(fds), 1+ls.Files)
	}
	output := os.NewFile(uintptr(fds[0]), "output")

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for range sigs {
			// Every process of the namespace but this one.
			syscall.Kill(-1, syscall.SIGTERM)
		}
	}()

	// Everything from here to the start is on this thread, which is never
	// unlocked: the restrictions hold for it and what it starts.
	runtime.LockOSThread()
	if err := setLimits(ls.Limits); err != nil {
		return setup("cannot set the task's limits: %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return setup("cannot set no_new_privs: %v", err)
	}
	if err := restrictSelf(ls); err != nil {
		return setup("cannot apply the Landlock ruleset: %v", err)
	}
	if ls.Path == "" {
		return report(Exit{}) // a self-test: everything is in force
	}
	files := []*os.File{os.Stdin, output, output}
	for _, fd := range fds[1:] {
		files = append(files, os.NewFile(uintptr(fd), "task"))
	}
	proc, err := os.StartProcess(ls.Path, append([]string{ls.Path}, ls.Args...), &os.ProcAttr{
		Dir: ls.Dir, Env: ls.Env, Files: files,
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return setup("cannot start %s: %v", ls.Path, err)
	}
	if m := ls.Limits.MemoryBytes; m >= 0 {
		lim := unix.Rlimit{Cur: uint64(m), Max: uint64(m)}
		if err := unix.Prlimit(proc.Pid, unix.RLIMIT_AS, &lim, nil); err != nil {
			proc.Kill()
			return setup("cannot limit the task's memory: %v", err)
		}
	}
	for _, f := range files[2:] { // output once, and the program's own
		f.Close()
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return setup("lost the task: %v", err)
		}
		if pid != proc.Pid {
			continue // an orphan, reaped
		}
		if ws.Signaled() {
			return report(Exit{Code: -1, Signal: ws.Signal()})
		}
		return report(Exit{Code: ws.ExitStatus()})
	}
}

// receive reads the program's instructions and descriptors from the
// control socket; an error means there will be none (the socket closed).
func receive(fd int) (launchSpec, []int, error) {
	var ls launchSpec
	buf := make([]byte, 1<<20)
	oob := make([]byte, syscall.CmsgSpace(64*4))
	n, oobn, _, _, err := syscall.Recvmsg(fd, buf, oob, syscall.MSG_CMSG_CLOEXEC)
	if err != nil || n == 0 {
		return ls, nil, fmt.Errorf("no instructions: %v", err)
	}
	var fds []int
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return ls, nil, err
	}
	for _, m := range msgs {
		got, err := syscall.ParseUnixRights(&m)
		if err != nil {
			return ls, nil, err
		}
		fds = append(fds, got...)
	}
	if err := json.Unmarshal(buf[:n], &ls); err != nil {
		return ls, nil, err
	}
	return ls, fds, nil
}

// restrictSelf puts the calling thread under the task's ruleset: read and
// execute beneath ls.Read, read and write beneath ls.Write, the named
// files, and no signals or abstract sockets to processes outside the
// task. It uses the newest Landlock ABI the kernel offers.
func restrictSelf(ls launchSpec) error {
	rules := []landlock.Rule{
		landlock.RODirs(ls.Read...).IgnoreIfMissing(),
		landlock.ROFiles(ls.ReadFile...).IgnoreIfMissing(),
		landlock.RWFiles(ls.RWFile...).IgnoreIfMissing(),
	}
	if len(ls.Write) > 0 {
		rules = append(rules, landlock.RWDirs(ls.Write...).WithRefer())
	}
	cfg := landlock.V11.BestEffort()
	// TCP stays open: network isolation is the network namespace's job,
	// and rulesets that handle TCP would refuse every connection.
	cfg.HandledAccessNet = 0
	fd, flags, err := cfg.NewRulesetFD(rules...)
	if err != nil {
		return err
	}
	if fd < 0 {
		return errors.New("the kernel does not offer Landlock")
	}
	defer unix.Close(fd)
	return ll.LandlockRestrictSelf(fd, flags)
}

// setLimits sets soft and hard limits alike, so that the program cannot
// raise them again; all but the address space, which Start's caller sets
// on the program itself (see the top of this file).
func setLimits(l Limits) error {
	set := func(resource int, v int64) error {
		if v < 0 {
			return nil
		}
		return syscall.Setrlimit(resource, &syscall.Rlimit{Cur: uint64(v), Max: uint64(v)})
	}
	for _, r := range []struct {
		res int
		v   int64
	}{
		{unix.RLIMIT_NPROC, l.Processes},
		{unix.RLIMIT_NOFILE, l.OpenFiles},
		{unix.RLIMIT_CPU, l.CPUSeconds},
		{unix.RLIMIT_FSIZE, l.FileSizeBytes},
		{unix.RLIMIT_CORE, 0},
	} {
		if err := set(r.res, r.v); err != nil {
			return fmt.Errorf("resource %d: %w", r.res, err)
		}
	}
	return nil
}
