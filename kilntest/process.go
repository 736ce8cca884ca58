package kilntest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// BuildKiln builds the kiln binary into a new temporary directory, for
// tests that run it as a process; call it from TestMain and remove the
// directory when the tests end. It uses the first go command on PATH,
// which under go test is the toolchain running the tests (go test puts
// its GOROOT/bin first on the test binary's PATH).
func BuildKiln() (bin, dir string, err error) { return BuildKilnWith() }

// BuildKilnWith is BuildKiln with extra go build flags, such as
// -buildvcs=false or -ldflags, for tests of what a build records.
func BuildKilnWith(flags ...string) (bin, dir string, err error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("building kiln: %w", err)
	}
	dir, err = os.MkdirTemp("", "kiln-bin-")
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "kiln")
	args := append(append([]string{"build", "-o", bin}, flags...), "github.com/kiln-dev/kiln/cmd/kiln")
	out, err := exec.Command(gobin, args...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("building kiln: %v\n%s", err, out)
	}
	return bin, dir, nil
}

// MainWithKiln is a TestMain that builds kiln, stores its path in *bin,
// runs the tests and removes the binary; it exits the process.
func MainWithKiln(m *testing.M, bin *string) {
	path, dir, err := BuildKiln()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = path
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago, for a process that must be told its address up front.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// SyncBuffer collects a process's output; a test may read it while the
// process still writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
