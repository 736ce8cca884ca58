// Package benchproc runs real `kiln serve` processes for the benchmark
// commands under bench/ and reads their memory as the kernel counts it.
// It is for measurement programs: every failure is fatal (log.Fatal), as
// a benchmark that cannot set itself up has nothing to report.
package benchproc

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// AdminEmail and AdminPassword are the first admin every Start sets up
// on a new data directory.
const (
	AdminEmail    = "admin@example.com"
	AdminPassword = "admin-password-123"
)

// Binary returns bin when it is set, else builds ./cmd/kiln into work and
// returns that path (the benchmarks run from the module's root).
func Binary(bin, work string) string {
	if bin != "" {
		return bin
	}
	bin = filepath.Join(work, "kiln")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/kiln").CombinedOutput(); err != nil {
		log.Fatalf("building kiln: %v\n%s", err, out)
	}
	return bin
}

// Server is a running `kiln serve` on a loopback port.
type Server struct {
	cmd *exec.Cmd
	// URL is the server's base URL, http://Addr.
	URL string
	// Addr is the host:port it listens on.
	Addr string
}

// Start runs bin serve on dataDir and a free loopback port and returns
// once /readyz answers 200 (within a minute).
func Start(bin, dataDir string) *Server {
	addr := FreeAddr()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "KILN_ADMIN_EMAIL="+AdminEmail, "KILN_ADMIN_PASSWORD="+AdminPassword)
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	s := &Server{cmd: cmd, URL: "http://" + addr, Addr: addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(s.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			log.Fatalf("kiln did not become ready:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for the process to end.
func (s *Server) Stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

// Mem reads the process's VmRSS and VmHWM (its peak), in bytes, from
// /proc (Linux only).
func (s *Server) Mem() (rss, hwm int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			log.Fatalf("%s: %q", name, v)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// MiB renders b bytes in mebibytes, one decimal.
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
