//go:build !linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// New returns a Sandbox that runs programs unconfined when c.Off, and an
// error wrapping ErrUnsupported otherwise: only Linux offers the
// mechanisms kiln confines tasks with.
func New(c Config) (*Sandbox, error) {
	if !c.Off {
		return nil, fmt.Errorf("%w: kiln confines tasks with Linux namespaces and Landlock, which %s lacks", ErrUnsupported, runtime.GOOS)
	}
	return &Sandbox{cfg: c, limits: c.Limits.withDefaults(), uid: os.Getuid(), gid: os.Getgid()}, nil
}

// Start starts sp's program unconfined (the only mode outside Linux).
func (s *Sandbox) Start(sp Spec) (*Process, error) {
	if !s.cfg.Off {
		return nil, errors.New("sandbox: not available")
	}
	return s.startUnconfined(sp, sp.Output)
}

// unconfinedAttr puts an unconfined program in a process group of its
// own.
func unconfinedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// HardenServer does nothing outside Linux.
func HardenServer(secretVars ...string) error {
	for _, name := range secretVars {
		os.Unsetenv(name)
	}
	return nil
}
