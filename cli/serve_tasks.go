package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"github.com/kiln-dev/kiln/runner"
	"github.com/kiln-dev/kiln/sandbox"
	"github.com/kiln-dev/kiln/server"
)

// taskFlags are serve's options for how job tasks run.
type taskFlags struct {
	sandboxMode string
	network     string
	cpuTime     time.Duration
	memory      sizeValue
	fileSize    sizeValue
	maxOutput   sizeValue
}

// register adds the flags; apply copies them into cfg once parsed.
func (t *taskFlags) register(f *pflag.FlagSet, cfg *server.Config) {
	d := sandbox.DefaultLimits
	t.memory, t.fileSize, t.maxOutput = sizeValue(d.MemoryBytes), sizeValue(d.FileSizeBytes), sizeValue(server.DefaultTaskMaxOutput)
	f.StringVar(&t.sandboxMode, "task-sandbox", "on", `confine job tasks (namespaces, an unprivileged user, Landlock, limits): "on", or "off" to run them as kiln's own user with access to its keys and database (only for a machine no untrusted user can submit jobs to)`)
	f.StringVar(&cfg.Sandbox.User, "task-user", "", "OS user that tasks run as when kiln runs as root (default nobody); a kiln that is not root runs tasks as its own user")
	f.StringVar(&t.network, "task-network", "open", `"open": tasks share the server's network; "none": each task gets an empty network namespace`)
	f.StringVar(&cfg.TaskDir, "task-dir", "", "directory for the private working directory of each task attempt, outside the data directory (default <data-dir>.tasks, or /var/lib/kiln/tasks/<name> when kiln runs as root)")
	f.StringVar(&cfg.KeepTaskDirs, "keep-task-dirs", runner.KeepNone, `which attempt directories to keep after the attempt: "none", "failed" or "all"`)
	f.StringVar(&cfg.TaskPython, "python", "", "the Python interpreter tasks run (default: the first of python3 on PATH, /usr/bin/python3 and /usr/local/bin/python3 that the task user can execute)")
	f.StringSliceVar(&cfg.Sandbox.ReadOnly, "task-read-path", nil, "directories tasks may read besides the system's programs and libraries and the Python installation (comma-separated), for file: Python files")
	f.Var(&t.memory, "task-memory", "address space each task process may use (e.g. 4GiB); -1 for no limit")
	f.Int64Var(&cfg.Sandbox.Limits.Processes, "task-processes", d.Processes, "processes and threads one task may have at once, all of them together; -1 for no limit")
	f.Int64Var(&cfg.Sandbox.Limits.OpenFiles, "task-open-files", d.OpenFiles, "files each task process may hold open")
	f.DurationVar(&t.cpuTime, "task-cpu-time", time.Duration(d.CPUSeconds)*time.Second, "processor time each task process may use")
	f.Var(&t.fileSize, "task-file-size", "largest file a task may write (e.g. 1GiB); -1 for no limit")
	f.Var(&t.maxOutput, "task-max-output", "output a task may print before it is stopped (e.g. 256MiB)")
}

// apply validates the flags and fills cfg.
func (t *taskFlags) apply(cfg *server.Config) error {
	switch t.sandboxMode {
	case "on":
	case "off":
		cfg.Sandbox.Off = true
	default:
		return usageError{fmt.Errorf(`--task-sandbox is %q; use "on" or "off"`, t.sandboxMode)}
	}
	switch t.network {
	case "open":
	case "none":
		cfg.Sandbox.NoNetwork = true
	default:
		return usageError{fmt.Errorf(`--task-network is %q; use "open" or "none"`, t.network)}
	}
	if t.cpuTime < time.Second {
		return usageError{fmt.Errorf("--task-cpu-time must be at least 1s")}
	}
	if int64(t.maxOutput) <= 0 {
		return usageError{fmt.Errorf("--task-max-output must be positive")}
	}
	cfg.Sandbox.Limits.MemoryBytes = int64(t.memory)
	cfg.Sandbox.Limits.FileSizeBytes = int64(t.fileSize)
	cfg.Sandbox.Limits.CPUSeconds = int64(t.cpuTime / time.Second)
	cfg.TaskMaxOutput = int64(t.maxOutput)
	return nil
}

// sizeValue is a byte count flag that takes units ("512MiB", "4GB") or
// -1 for none.
type sizeValue int64

// String prints the size as set.
func (s *sizeValue) String() string {
	if *s < 0 {
		return "-1"
	}
	return strings.ReplaceAll(sandbox.BytesText(int64(*s)), " ", "")
}

// Set parses a size.
func (s *sizeValue) Set(v string) error {
	if strings.TrimSpace(v) == "-1" {
		*s = -1
		return nil
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 || n > 1<<62 {
		return fmt.Errorf("%q is not a size such as 512MiB or 4GiB", v)
	}
	*s = sizeValue(n)
	return nil
}

// Type names the flag's kind in help.
func (s *sizeValue) Type() string { return "size" }
