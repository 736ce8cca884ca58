package main_test

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeAddressTaken checks that a port clash names the flag that
// fixes it, whoever holds the port: another kiln or any other program.
func TestServeAddressTaken(t *testing.T) {
	other := serve(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, c := range []struct{ name, addr string }{
		{"AnotherKiln", strings.TrimPrefix(other.url, "http://")},
		{"AnotherProgram", ln.Addr().String()},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(kilnBin, "serve", "--addr", c.addr, "--data-dir", t.TempDir())
			cmd.Env = os.Environ()
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			want := "Error: cannot listen on " + c.addr + ": the address is already in use (is another kiln running?); stop it, or choose another address with --addr (or KILN_ADDR)"
			if !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), want) {
				t.Fatalf("err %v, output:\n%s\nwant exit 1 and %q", err, out, want)
			}
		})
	}
}

// TestServeLogsStopped checks that a graceful shutdown ends the log with
// a line saying the server stopped, after everything else it logs.
func TestServeLogsStopped(t *testing.T) {
	p := serve(t, t.TempDir())
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- nil // let the cleanup's wait return
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit within 20s of SIGTERM:\n%s", p.logs)
	}
	lines := strings.Split(strings.TrimSpace(p.logs.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, `msg="kiln stopped"`) {
		t.Fatalf("the last log line is %q, want kiln stopped:\n%s", last, p.logs)
	}
}
