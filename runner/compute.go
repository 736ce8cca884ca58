package runner

// The executor's description of itself: its interpreter and its capacity,
// which the clusters API shows.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/sandbox"
)

// interpreter resolves the Python interpreter once, on first need, so
// that each task does not pay for a lookup (or a pyenv shim) and a server
// that never runs a task never starts Python. A missing interpreter is
// not fatal: tasks then end with a clear message.
func (r *Runner) interpreter() (python, error) {
	r.pyOnce.Do(func() {
		var skipped []string
		r.py, skipped, r.pyErr = r.findPython()
		switch {
		case r.pyErr != nil:
			r.log.Warn("no usable Python interpreter: task runs fail until one is installed", "err", r.pyErr)
		case len(skipped) > 0:
			r.log.Warn("tasks run a fallback Python interpreter", "python", r.py.path, "version", r.py.version, "skipped", strings.Join(skipped, "; "))
		default:
			r.log.Info("tasks run Python", "python", r.py.path, "version", r.py.version)
		}
	})
	return r.py, r.pyErr
}

// python is the interpreter tasks run and what it needs to read.
type python struct {
	path    string   // the real executable
	version string   // "3.11.7"
	read    []string // its installation: prefixes and import path
}

// pythonCandidates are tried in order when no interpreter is configured:
// the first python3 on PATH, then the system's. The system's matters when
// the first is a per-user installation (pyenv under /root) that the
// task user cannot reach.
var pythonCandidates = []string{"python3", "/usr/bin/python3", "/usr/local/bin/python3"}

// findPython picks the interpreter: the configured one, or the first
// candidate that runs inside the sandbox; skipped says why earlier
// candidates were not taken.
func (r *Runner) findPython() (py python, skipped []string, err error) {
	names := pythonCandidates
	if r.cfg.Python != "" {
		names = []string{r.cfg.Python}
	}
	var reasons []string
	seen := map[string]bool{}
	for _, name := range names {
		found, err := exec.LookPath(name)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s was not found", name))
			continue
		}
		py, err := r.probePython(found)
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		if seen[py.path] {
			continue
		}
		seen[py.path] = true
		if err := r.trySandboxed(py); err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		return py, reasons, nil
	}
	return python{}, nil, fmt.Errorf("%s", strings.Join(reasons, "; "))
}

// probePython asks the interpreter, unconfined and with the tasks'
// environment, where it lives.
func (r *Runner) probePython(found string) (python, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, found, "-c", `import json, sys
print(json.dumps({"exe": sys.executable, "version": sys.version.split()[0],
  "paths": [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix] + sys.path}))`)
	cmd.Env = baseEnv("")
	out, err := cmd.Output()
	if err != nil {
		return python{}, fmt.Errorf("%s does not run: %v", found, err)
	}
	var info struct {
		Exe     string   `json:"exe"`
		Version string   `json:"version"`
		Paths   []string `json:"paths"`
	}
	if json.Unmarshal(out, &info) != nil || !filepath.IsAbs(info.Exe) {
		return python{}, fmt.Errorf("%s did not say where it lives", found)
	}
	py := python{path: info.Exe, version: info.Version}
	seen := map[string]bool{}
	for _, p := range append([]string{filepath.Dir(info.Exe)}, info.Paths...) {
		if !filepath.IsAbs(p) || seen[p] {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			seen[p] = true
			py.read = append(py.read, filepath.Clean(p))
		}
	}
	return py, nil
}

// trySandboxed runs the interpreter once as a task would run: it proves
// the task user can reach and execute it.
func (r *Runner) trySandboxed(py python) error {
	if r.sb == nil {
		return r.sbErr
	}
	if err := r.sb.CheckPaths(py.read...); err != nil {
		return fmt.Errorf("%s: %v", py.path, err)
	}
	out, err := os.CreateTemp("", "kiln-python-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	p, err := r.sb.Start(sandbox.Spec{Path: py.path, Args: []string{"-c", "import sys, json, encodings"}, Env: baseEnv(filepath.Dir(py.path)), Dir: "/", ReadOnly: py.read, Output: out})
	if err != nil {
		return fmt.Errorf("%s cannot be started in the task sandbox: %v", py.path, err)
	}
	exit, _, ok := p.WaitTimeout(20 * time.Second)
	if !ok {
		p.Kill()
		p.Wait()
		return fmt.Errorf("%s did not start in the task sandbox within 20s", py.path)
	}
	if exit.Setup != "" || exit.Code != 0 {
		b, _ := os.ReadFile(out.Name())
		why := exit.Setup
		if why == "" {
			why = strings.TrimSpace(string(b))
		}
		if len(why) > 300 {
			why = why[:300] + "…"
		}
		return fmt.Errorf("%s does not run as the task user %s: %s", py.path, r.sb.User(), why)
	}
	return nil
}

// PythonVersion returns the interpreter's version ("3.11.7"), "" when none.
func (r *Runner) PythonVersion() string {
	py, _ := r.interpreter()
	return py.version
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
