package sandbox

// The launcher: the kiln binary re-executed under one of two names, in
// the task's fresh namespaces, as the task's user.
//
//   - initName is PID 1 of the task's PID namespace. It starts the exec
//     stage, passes SIGTERM on to every process of the namespace, reaps
//     whatever is reparented to it, and reports how the program ended on
//     its status descriptor. When it exits, the kernel kills every process
//     still in the namespace.
//   - execName sets the resource limits, no_new_privs and the Landlock
//     ruleset on itself, then replaces itself with the program: nothing
//     of the program runs before every restriction is in force.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// The launcher's names (argv[0]); nothing else starts the binary so.
const (
	initName = "kiln-task-init"
	execName = "kiln-task-exec"
)

// Exit statuses of a launcher stage that failed before the program ran.
const setupFailed = 125

func init() {
	if len(os.Args) != 2 {
		return
	}
	switch os.Args[0] {
	case initName:
		os.Exit(runInit(os.Args[1]))
	case execName:
		os.Exit(runExec(os.Args[1]))
	}
}

// runInit is the init stage. Its descriptors: 0-2 as given, 3.. the
// program's (ls.Files of them), then the status pipe, then the kiln
// binary.
func runInit(arg string) int {
	var ls launchSpec
	if err := json.Unmarshal([]byte(arg), &ls); err != nil {
		return setupFailed
	}
	statusFD := 3 + ls.Files
	exeFD := statusFD + 1
	status := os.NewFile(uintptr(statusFD), "status")
	report := func(e Exit) int {
		b, _ := json.Marshal(e)
		status.Write(b)
		status.Close()
		return 0
	}
	// Nothing of the launcher's own reaches the program.
	syscall.CloseOnExec(statusFD)
	syscall.CloseOnExec(exeFD)

	// The exec stage reports a failure to set up on this pipe; a
	// successful exec closes it empty.
	setupR, setupW, err := os.Pipe()
	if err != nil {
		return report(Exit{Code: -1, Setup: "cannot create a pipe: " + err.Error()})
	}
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i := range ls.Files {
		files = append(files, os.NewFile(uintptr(3+i), "task"))
	}
	files = append(files, setupW) // the exec stage's 3+Files
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	proc, err := os.StartProcess("/proc/self/fd/"+strconv.Itoa(exeFD), []string{execName, arg}, &os.ProcAttr{
		Dir: "/", Env: []string{}, Files: files,
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	setupW.Close()
	if err != nil {
		return report(Exit{Code: -1, Setup: "cannot start the task: " + err.Error()})
	}
	for i := range ls.Files {
		files[3+i].Close()
	}
	setupMsg, _ := io.ReadAll(io.LimitReader(setupR, 64<<10))
	setupR.Close()

	go func() {
		for range sigs {
			// Every process of the namespace but this one.
			syscall.Kill(-1, syscall.SIGTERM)
		}
	}()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return report(Exit{Code: -1, Setup: "lost the task: " + err.Error()})
		}
		if pid != proc.Pid {
			continue // an orphan, reaped
		}
		e := Exit{Code: ws.ExitStatus()}
		if ws.Signaled() {
			e.Code, e.Signal = -1, ws.Signal()
		}
		if len(setupMsg) > 0 {
			e.Setup = string(setupMsg)
		}
		return report(e)
	}
}

// runExec is the exec stage: descriptors 3.. are the program's, the one
// after them the setup pipe.
func runExec(arg string) int {
	var ls launchSpec
	if err := json.Unmarshal([]byte(arg), &ls); err != nil {
		return setupFailed
	}
	setupFD := 3 + ls.Files
	setup := os.NewFile(uintptr(setupFD), "setup")
	syscall.CloseOnExec(setupFD)
	fail := func(format string, args ...any) int {
		fmt.Fprintf(setup, format, args...)
		return setupFailed
	}
	if err := setLimits(ls.Limits); err != nil {
		return fail("cannot set the task's limits: %v", err)
	}
	if err := os.Chdir(ls.Dir); err != nil {
		return fail("cannot enter the task's directory: %v", err)
	}
	// Restrictions apply to the calling thread and what it executes; the
	// thread is never unlocked, and the exec below replaces the process.
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail("cannot set no_new_privs: %v", err)
	}
	if err := restrictSelf(ls); err != nil {
		return fail("cannot apply the Landlock ruleset: %v", err)
	}
	if ls.Path == "" {
		return 0 // a self-test: everything is in force
	}
	argv := append([]string{ls.Path}, ls.Args...)
	err := syscall.Exec(ls.Path, argv, ls.Env)
	return fail("cannot run %s: %v", ls.Path, err)
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
		return fmt.Errorf("Landlock is not available")
	}
	defer unix.Close(fd)
	return ll.LandlockRestrictSelf(fd, flags)
}

// setLimits sets soft and hard limits alike, so that the program cannot
// raise them again.
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
		{unix.RLIMIT_AS, l.MemoryBytes},
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
