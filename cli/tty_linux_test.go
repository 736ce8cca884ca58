//go:build linux

package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pty is a pseudo-terminal: the command gets the slave side, the test
// reads and types on the master side.
type pty struct {
	master, slave *os.File
	mu            sync.Mutex
	out           strings.Builder
	done          chan struct{}
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &pty{master: m, slave: s, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { m.Close(); s.Close() })
	return p
}

func (p *pty) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the terminal shows s.
func (p *pty) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%s", s, p.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForNoEcho waits until the program has turned echo off.
func (p *pty) waitForNoEcho(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("echo was never turned off for the token")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start runs kiln on the terminal (stdin, stdout and stderr).
func (p *pty) start(t *testing.T, home string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(kilnBin, args...)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TERM=dumb"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.slave, p.slave, p.slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestTerminal(t *testing.T) {
	f := newFixture(t)

	t.Run("configure asks, and does not echo the token", func(t *testing.T) {
		p := openPTY(t)
		cmd := p.start(t, f.home, "configure", "--token")
		p.waitFor(t, "Host (")
		p.master.WriteString(f.url + "\n")
		p.waitFor(t, "Personal access token (not shown): ")
		p.waitForNoEcho(t)
		p.master.WriteString(f.admin + "\n")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("configure: %v\n%s", err, p.output())
		}
		p.waitFor(t, "Signed in as "+adminEmail)
		out := p.output()
		if strings.Contains(out, f.admin) {
			t.Fatalf("the token was echoed:\n%s", out)
		}
		if !strings.Contains(out, f.url) {
			t.Fatalf("the host was not echoed (the terminal is not working as expected):\n%s", out)
		}
		b, _ := os.ReadFile(f.home + "/.databrickscfg")
		if !strings.Contains(string(b), "token = "+f.admin) {
			t.Fatalf("profile not saved:\n%s", b)
		}
	})

	t.Run("token-management lookup asks, and does not echo the value", func(t *testing.T) {
		p := openPTY(t)
		cmd := p.start(t, f.home, "token-management", "lookup")
		p.waitFor(t, "Token value to look up (not shown): ")
		p.waitForNoEcho(t)
		p.master.WriteString(f.jane + "\n")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("lookup: %v\n%s", err, p.output())
		}
		p.waitFor(t, janeEmail)
		if strings.Contains(p.output(), f.jane) {
			t.Fatalf("the looked-up value was echoed:\n%s", p.output())
		}
	})

	t.Run("configure offers the current host", func(t *testing.T) {
		p := openPTY(t)
		cmd := p.start(t, f.home, "configure")
		p.waitFor(t, "Host ["+f.url+"]: ")
		p.master.WriteString("\n")
		p.waitFor(t, "Personal access token")
		p.waitForNoEcho(t)
		p.master.WriteString(f.admin + "\n")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("configure: %v\n%s", err, p.output())
		}
	})

	t.Run("tokens create shows the token once, with a warning", func(t *testing.T) {
		p := openPTY(t)
		cmd := p.start(t, f.home, "tokens", "create", "--comment", "on a terminal", "--lifetime", "7d")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("tokens create: %v\n%s", err, p.output())
		}
		p.waitFor(t, "shown only once")
		out := p.output()
		for _, re := range []string{`Created token [0-9a-f]{64} \("on a terminal"\), which expires in 7 days`, `\n    dapi[0-9a-f]{32}\r?\n`, `Copy it now: it is shown only once\.`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("output does not match %q:\n%s", re, out)
			}
		}
	})

	t.Run("tables shorten ids on a terminal", func(t *testing.T) {
		p := openPTY(t)
		cmd := p.start(t, f.home, "tokens", "list")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("tokens list: %v\n%s", err, p.output())
		}
		p.waitFor(t, "on a terminal")
		out := p.output()
		if !regexp.MustCompile(`(?m)^[0-9a-f]{12}  +on a terminal +(just now|\d+ seconds? ago) +in 7 days`).MatchString(strings.ReplaceAll(out, "\r", "")) {
			t.Fatalf("unexpected table:\n%s", out)
		}
	})
}
