package runner

// The executor's description of itself: its interpreter and its capacity,
// which the clusters API shows.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// interpreter resolves the Python interpreter once, on first need, so
// that each task does not pay for a lookup (or a pyenv shim) and a server
// that never runs a task never starts Python. A missing interpreter is
// not fatal: tasks then end with a clear message.
func (r *Runner) interpreter() (path, version string, err error) {
	r.pyOnce.Do(func() {
		r.python, r.pyVer, r.pyErr = findPython(r.cfg.Python)
		if r.pyErr != nil {
			r.log.Warn("no Python interpreter: task runs fail until one is installed", "err", r.pyErr)
		}
	})
	return r.python, r.pyVer, r.pyErr
}

// findPython resolves the interpreter to its real executable and version.
func findPython(name string) (path, version string, err error) {
	if name == "" {
		name = "python3"
	}
	found, err := exec.LookPath(name)
	if err != nil {
		return "", "", fmt.Errorf("%s was not found on the server's PATH", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, found, "-c", "import sys; print(sys.executable); print(sys.version.split()[0])").Output()
	if err != nil {
		return "", "", fmt.Errorf("%s does not run: %v", found, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 2 && filepath.IsAbs(lines[0]) {
		return lines[0], lines[1], nil
	}
	return found, "", nil
}

// PythonVersion returns the interpreter's version ("3.11.7"), "" when none.
func (r *Runner) PythonVersion() string {
	_, v, _ := r.interpreter()
	return v
}

// Workers returns how many tasks run at once.
func (r *Runner) Workers() int { return r.cfg.Workers }

// Describe is this server's compute, as the clusters API shows it.
type Describe struct {
	Workers       int
	Cores         int
	MemoryMB      int64
	PythonVersion string
}

// Compute describes this runner's capacity (it resolves the interpreter
// on the first call).
func (r *Runner) Compute() Describe {
	return Describe{Workers: r.cfg.Workers, Cores: runtime.NumCPU(), MemoryMB: memoryMB(), PythonVersion: r.PythonVersion()}
}

// memoryMB reads the machine's memory from /proc/meminfo; 0 when unknown.
func memoryMB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}
