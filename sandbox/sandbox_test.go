package sandbox

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// python is the interpreter the tests confine: the system's, which every
// user can execute.
const python = "/usr/bin/python3"

// openDir is a directory the sandbox's user may reach (t.TempDir's
// parents are closed to other users).
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kiln-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runPython runs code confined by s with dir writable, and returns its
// output and how it ended.
func runPython(t *testing.T, s *Sandbox, dir, code string) (string, Exit) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p, err := s.Start(Spec{Path: python, Args: []string{"-c", code}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: dir, Writable: []string{dir}, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	exit, err, ok := p.WaitTimeout(30 * time.Second)
	if !ok {
		p.Kill()
		t.Fatal("the program did not end within 30s")
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out.Name())
	return strings.TrimSpace(string(b)), exit
}

// listen opens a loopback listener for the test and returns it and its
// port.
func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestConfinement(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is required: %v", python, err)
	}
	private := openDir(t)
	if err := os.WriteFile(filepath.Join(private, "token.key"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Private: []string{private}, Limits: Limits{OpenFiles: 64, MemoryBytes: 512 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(s.Describe())
	dir := openDir(t)
	if os.Getuid() == 0 {
		uid, gid := s.Owner()
		os.Chown(dir, uid, gid)
	}
	for _, c := range []struct {
		name, code, want string
	}{
		{"ReadsThePrivateDirectory", `open("` + private + `/token.key").read()`, "PermissionError"},
		{"ListsTheRoot", `import os; os.listdir("/root")`, "PermissionError"},
		{"ReadsProc", `import os; os.listdir("/proc")`, "PermissionError"},
		{"ReadsEtcShadow", `open("/etc/shadow").read()`, "PermissionError"},
		{"ReadsEtcAtLarge", `import os; os.listdir("/etc")`, "PermissionError"},
		{"WritesOutsideItsDirectory", `open("/usr/planted", "w")`, "PermissionError"},
		{"WritesTmp", `open("/tmp/planted-by-a-task", "w")`, "PermissionError"},
		{"WritesItsDirectory", `open("mine.txt", "w").write("x"); print("wrote")`, "wrote"},
		{"IsPidOneChild", `import os; print("ppid", os.getppid())`, "ppid 1"},
		{"IsUnprivileged", `import os; print("uid", os.getuid())`, "uid 1000"},
		{"OpenFilesLimit", `fs = [open("/dev/null") for _ in range(100)]`, "Too many open files"},
		{"MemoryLimit", `x = bytearray(1 << 30)`, "MemoryError"},
		{"RaisesItsLimits", `import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))`, "not allowed"},
		{"SignalsOutside", `import os, signal; os.kill(` + strconv.Itoa(os.Getpid()) + `, signal.SIGTERM)`, "ProcessLookupError"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _ := runPython(t, s, dir, c.code)
			if !strings.Contains(out, c.want) {
				t.Fatalf("output %q, want %q", out, c.want)
			}
		})
	}
	if _, err := os.Stat("/tmp/planted-by-a-task"); err == nil {
		os.Remove("/tmp/planted-by-a-task")
		t.Error("a confined program wrote /tmp")
	}
}

func TestNothingOutlivesTheProgram(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, port := listen(t)
	child := `import socket, time; s = socket.create_connection(("127.0.0.1", ` + port + `)); time.sleep(300)`
	out, exit := runPython(t, s, "/", `import subprocess, time
subprocess.Popen(["setsid", "`+python+`", "-c", '`+child+`'], start_new_session=True)
time.sleep(0.5)
print("leaving")`)
	if exit.Code != 0 || !strings.Contains(out, "leaving") {
		t.Fatalf("exit %+v, output %q", exit, out)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("the detached child never connected: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the detached child still runs after the program ended (%v)", err)
	}
}

func TestTerminateAndKill(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		code   string
		stop   func(*Process)
		signal string
	}{
		{"Terminate", "import time\ntime.sleep(60)", (*Process).Terminate, "terminated"},
		{"KillIgnoringTerm", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)", (*Process).Kill, "killed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := s.Start(Spec{Path: python, Args: []string{"-c", c.code}, Dir: "/"})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			c.stop(p)
			exit, _, ok := p.WaitTimeout(10 * time.Second)
			if !ok {
				p.Kill()
				t.Fatal("still running 10s after being stopped")
			}
			if exit.Signal == 0 && exit.Code == 0 {
				t.Fatalf("exit %+v", exit)
			}
			t.Logf("%s: %+v", c.name, exit)
		})
	}
}

func TestClosedNetwork(t *testing.T) {
	s, err := New(Config{NoNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	_, port := listen(t)
	out, _ := runPython(t, s, "/", `import socket
try:
    socket.create_connection(("127.0.0.1", `+port+`), timeout=3)
    print("connected")
except OSError as e:
    print("refused", e)`)
	if !strings.HasPrefix(out, "refused") {
		t.Fatalf("output %q", out)
	}
}

func TestConfigurationRefused(t *testing.T) {
	private := openDir(t)
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"PrivateUnderAReadablePath", Config{ReadOnly: []string{filepath.Dir(private)}, Private: []string{private}}, "tasks would reach"},
		{"PrivateIsSystem", Config{Private: []string{"/usr/lib/kiln"}}, "tasks would reach"},
		{"UnknownUser", Config{User: "no-such-user-kiln"}, "does not exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "UnknownUser" && os.Getuid() != 0 {
				c.want = "needs kiln to run as root"
			}
			_, err := New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want %q", err, c.want)
			}
		})
	}
	s, err := New(Config{Private: []string{private}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(Spec{Path: python, Dir: "/", Writable: []string{filepath.Join(private, "tasks")}}); err == nil || !strings.Contains(err.Error(), "tasks would reach") {
		t.Fatalf("Start with a writable path in the private one: %v", err)
	}
}

func TestOffRunsUnconfined(t *testing.T) {
	s, err := New(Config{Off: true})
	if err != nil {
		t.Fatal(err)
	}
	out, exit := runPython(t, s, "/", "import os; print(os.getuid())")
	if exit.Code != 0 || out != strconv.Itoa(os.Getuid()) {
		t.Fatalf("exit %+v, output %q", exit, out)
	}
	if !strings.Contains(s.Describe(), "off") {
		t.Errorf("Describe: %q", s.Describe())
	}
}
