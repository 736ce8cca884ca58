// Package sandbox runs untrusted programs, the job tasks users submit,
// confined by the kernel, so that a task can never act with the server's
// rights.
//
// On Linux each program runs in namespaces of its own (user, PID, IPC and
// UTS; network too when the network is closed), as an unprivileged OS user
// (nobody by default when kiln runs as root, kiln's own user otherwise),
// under a Landlock ruleset that lets it read only the system's programs
// and libraries, the interpreter and the directories it is given, and
// write only its own directory, with resource limits that it cannot raise.
//
// The confinement is applied by the kiln binary itself, re-executed as a
// small launcher (see launch_linux.go), started ahead of the task and
// handed it over a control socket, that is PID 1 of the task's PID
// namespace: it puts the ruleset and the limits in force, starts the
// program, reaps everything the program starts and passes termination on.
// When the launcher ends (the program finished, the run was cancelled,
// the server died), the kernel kills every process left in the namespace:
// nothing a task starts outlives it.
//
// Any binary that links this package acts as the launcher when started
// under the launcher's name; that is why test binaries can run sandboxed
// programs too.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Limits bound what one sandboxed program and everything it starts may
// use. The kernel enforces them (rlimits, set before the program starts,
// so that it cannot raise them). Zero means the default of DefaultLimits;
// a negative value means no limit.
type Limits struct {
	// MemoryBytes is the address space of each process (RLIMIT_AS).
	MemoryBytes int64
	// Processes counts the processes and threads of the task, all of
	// them together (RLIMIT_NPROC in the task's own user namespace).
	Processes int64
	// OpenFiles is how many files each process may hold open
	// (RLIMIT_NOFILE).
	OpenFiles int64
	// CPUSeconds is the processor time of each process (RLIMIT_CPU).
	CPUSeconds int64
	// FileSizeBytes is the largest file a task may write (RLIMIT_FSIZE).
	FileSizeBytes int64
}

// DefaultLimits are the limits of a task unless configured: generous for
// data work on one machine, tight enough that one task cannot take the
// server down.
var DefaultLimits = Limits{
	MemoryBytes:   4 << 30,
	Processes:     256,
	OpenFiles:     1024,
	CPUSeconds:    24 * 3600,
	FileSizeBytes: 1 << 30,
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	pick := func(v, d int64) int64 {
		if v == 0 {
			return d
		}
		return v
	}
	return Limits{
		MemoryBytes:   pick(l.MemoryBytes, DefaultLimits.MemoryBytes),
		Processes:     pick(l.Processes, DefaultLimits.Processes),
		OpenFiles:     pick(l.OpenFiles, DefaultLimits.OpenFiles),
		CPUSeconds:    pick(l.CPUSeconds, DefaultLimits.CPUSeconds),
		FileSizeBytes: pick(l.FileSizeBytes, DefaultLimits.FileSizeBytes),
	}
}

// Config configures a Sandbox.
type Config struct {
	// Off runs programs unconfined, as the server's own user, in a
	// process group of their own: what kiln did before it had a sandbox.
	// Only for operators who pass --task-sandbox=off knowingly.
	Off bool
	// User is the OS user (name or numeric id) that programs run as when
	// the server runs as root; default "nobody". A server that is not
	// root runs programs as its own user and refuses any other.
	User string
	// NoNetwork closes the network: each program gets an empty network
	// namespace of its own, with no interface but a loopback that is
	// down. By default programs share the server's network (notebooks
	// fetch data, and may call kiln's API with a token of their own).
	NoNetwork bool
	// ReadOnly lists directories (or files) every program may read and
	// execute besides the system's own (/usr, /lib, /bin, selected files
	// of /etc): the interpreter's installation, for instance.
	ReadOnly []string
	// Private lists paths that no program may reach, such as the server's
	// data directory. New refuses a configuration in which a readable or
	// writable path contains one of them, or lies inside one.
	Private []string
	// Limits bound each program; zero fields take DefaultLimits.
	Limits Limits
}

// systemDirs are readable and executable by every sandboxed program: the
// system's programs and libraries.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
	"/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/alternatives"}

// systemFiles are the few files of /etc that programs commonly need
// (name resolution, time zone, certificates, the dynamic linker's cache).
// The rest of /etc stays closed: operators keep secrets there.
var systemFiles = []string{"/etc/ld.so.cache", "/etc/localtime", "/etc/timezone", "/etc/hosts",
	"/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf", "/etc/protocols",
	"/etc/services", "/etc/passwd", "/etc/group", "/etc/mime.types", "/etc/os-release"}

// deviceFiles programs may read (random numbers) or read and write (the
// null devices).
var (
	readDevices  = []string{"/dev/random", "/dev/urandom"}
	writeDevices = []string{"/dev/null", "/dev/zero", "/dev/full"}
)

// ErrUnsupported is returned, wrapped with the reason, when the kernel
// cannot confine programs.
var ErrUnsupported = errors.New("the task sandbox is not available on this system")

// Sandbox starts confined programs. It is safe for concurrent use.
type Sandbox struct {
	cfg      Config
	limits   Limits
	uid, gid int // the host ids programs run as
	user     string
	abi      int      // Landlock ABI version, 0 when off
	exe      *os.File // the kiln binary, re-executed as the launcher
	readOnly []string // cleaned absolute paths

	mu      sync.Mutex
	ready   *readyLauncher // a launcher waiting for its program
	filling bool           // one is being started
	closed  bool
}

// Describe says in one line how programs are confined, for logs and the
// Admin Console.
func (s *Sandbox) Describe() string {
	if s.cfg.Off {
		return "off: tasks run unconfined as the server's own user (--task-sandbox=off)"
	}
	net := "network shared with the server"
	if s.cfg.NoNetwork {
		net = "network closed"
	}
	return fmt.Sprintf("Landlock ABI %d, user %s (uid %d), own user/PID/IPC namespaces, %s, memory %s, %d processes, %d open files per process",
		s.abi, s.user, s.uid, net, BytesText(s.limits.MemoryBytes), s.limits.Processes, s.limits.OpenFiles)
}

// Off reports whether programs run unconfined.
func (s *Sandbox) Off() bool { return s.cfg.Off }

// Limits returns the limits programs run under.
func (s *Sandbox) Limits() Limits { return s.limits }

// Owner returns the host user and group ids that programs run as: the
// owner their private directories must have.
func (s *Sandbox) Owner() (uid, gid int) { return s.uid, s.gid }

// User names the OS user programs run as.
func (s *Sandbox) User() string { return s.user }

// CheckPaths refuses paths that a program would be given (readable or
// writable) when one of them contains a private path or lies inside one.
func (s *Sandbox) CheckPaths(paths ...string) error {
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		for _, priv := range s.cfg.Private {
			privAbs, err := filepath.Abs(priv)
			if err != nil {
				return err
			}
			if within(privAbs, abs) || within(abs, privAbs) {
				return fmt.Errorf("tasks would reach %s through %s: keep the data directory apart from the directories tasks may read or write", privAbs, abs)
			}
		}
	}
	return nil
}

// within reports whether p is dir or lies beneath it.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	if dir == "/" {
		return true
	}
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}

// Exit is how a sandboxed program ended.
type Exit struct {
	// Code is the exit status, -1 when a signal ended the program.
	Code int
	// Signal ended the program, 0 when it exited.
	Signal syscall.Signal
	// Setup, when not empty, says why the sandbox could not be set up:
	// the program never ran.
	Setup string
}

// BytesText writes a byte count as people read it ("512 MiB"), -1 as
// "unlimited".
func BytesText(n int64) string {
	switch {
	case n < 0:
		return "unlimited"
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
