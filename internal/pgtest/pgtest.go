// Package pgtest gives tests and benchmarks a real PostgreSQL server to
// run against: the one named by $KILN_TEST_POSTGRES_URL, or else a
// throwaway server started from Debian's postgresql binaries in a
// temporary directory, listening on a free loopback port.
//
// Tests never skip for want of PostgreSQL: when neither works they fail
// with a message that says how to provide one. The store's conformance
// suite, the CLI and the multi-replica tests all depend on it, and a
// skipped suite would hide exactly the regressions it exists to catch.
//
// A started server belongs to the process that started it. It runs under
// a small shell that holds the read end of a pipe whose write end only
// this process has: when the process exits for any reason (a finished
// test binary, a panic, kill -9), the pipe closes, the shell stops
// PostgreSQL and deletes its directory. No TestMain is needed and nothing
// is left behind.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that points the tests at an existing server:
// a postgres:// URL of a role that may CREATE DATABASE. When it is set no
// server is started.
const EnvURL = "KILN_TEST_POSTGRES_URL"

// EnvBin names the variable that overrides where the PostgreSQL binaries
// (initdb, postgres) are; by default the newest /usr/lib/postgresql/*/bin.
const EnvBin = "KILN_TEST_POSTGRES_BIN"

// Options configures [Start].
type Options struct {
	// Durable keeps PostgreSQL's default crash safety (fsync on every
	// commit). Tests leave it off for speed: they never survive a power
	// cut. Benchmarks set it, so they compare with SQLite's
	// synchronous=FULL on equal terms.
	Durable bool
	// Log receives the server's log; nil discards it.
	Log func(line string)
}

// Server is a PostgreSQL server to create test databases on.
type Server struct {
	// AdminURL connects as a superuser (or a CREATEDB role) to the
	// maintenance database.
	AdminURL string
	// Dir is the server's data directory when this process started it.
	Dir string

	stop    func() error
	exited  <-chan struct{} // closed when the wrapper has ended
	stderr  *tailBuffer     // the wrapper's: why postgres ended
	counter int
	mu      sync.Mutex
}

// Start starts a throwaway server from the Debian binaries. Call Close to
// stop it early; it also stops by itself when this process exits.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	runAs, err := runAsUser()
	if err != nil {
		return nil, err
	}
	var lastErr error
	// A free port found now may be taken before postgres binds it; a
	// couple of retries make that race harmless.
	for range 3 {
		s, err := startOnce(ctx, bin, runAs, o)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// runAsUser is the account postgres runs under: the current one, or, for
// root (which postgres refuses to run as), the postgres account that
// Debian's package creates.
func runAsUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to: no postgres account to run it as (%v); install Debian's postgresql package, which creates one", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// binDir finds initdb and postgres.
func binDir() (string, error) {
	if d := os.Getenv(EnvBin); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first ("9.6" < "15" numerically).
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL binaries found in /usr/lib/postgresql/*/bin or $PATH: install Debian's postgresql package (apt-get install postgresql), or set " + EnvBin)
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// wrapper runs postgres in the background and waits for its standard
// input to close: when the owning process is gone, it stops postgres
// (fast shutdown) and removes the directory. It also ends when postgres
// does, so a server that failed to start leaves nothing running, except
// while the file "paused" exists ([Server.Stop]): then it waits for the
// file to go ([Server.Resume]) and starts postgres again on the same
// directory and port, up to five more times should that start fail. When
// postgres ends by itself, the end of its log goes to the wrapper's
// standard error, which errors quote. pg.pid holds the running
// postgres's pid.
const wrapper = `
bin=$1 dir=$2 port=$3
shift 3
# Keep the pipe on fd 3: an asynchronous list's standard input is
# /dev/null in a non-interactive shell.
exec 3<&0
# The watcher keeps interrupting whichever postgres runs until this shell
# kills it: a restart may begin just as the owner goes away.
( read -r _ <&3 ; touch "$dir/closing"
  while :; do kill -INT "$(cat "$dir/pg.pid" 2>/dev/null)" 2>/dev/null; sleep 0.1; done ) &
watcher=$!
exec 3<&-
resumed= tries=0
while [ ! -e "$dir/closing" ]; do
  "$bin/postgres" -D "$dir/data" -p "$port" "$@" >>"$dir/log" 2>&1 </dev/null &
  echo $! >"$dir/pg.pid"
  wait $!
  rm -f "$dir/pg.pid"
  if [ -e "$dir/paused" ]; then
    while [ -e "$dir/paused" ] && [ ! -e "$dir/closing" ]; do sleep 0.05; done
    resumed=1 tries=0
    continue
  fi
  [ -e "$dir/closing" ] && break
  # postgres ended by itself: say why on stderr (the directory goes).
  # After a resume the data and port are the test's, so a failed start
  # is tried again a few times rather than ending the server.
  tail -n 20 "$dir/log" >&2
  [ -n "$resumed" ] && [ "$tries" -lt 5 ] || break
  tries=$((tries + 1))
  sleep 0.5
done
kill "$watcher" 2>/dev/null
rm -rf "$dir"
`

// tempBase is where the server's directory goes: the usual temporary
// directory, unless postgres, running as another account, could not reach
// it (TMPDIR under /root, say); then /tmp.
func tempBase(runAs *syscall.Credential) string {
	base := os.TempDir()
	if runAs == nil {
		return base
	}
	for d := base; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return base
		}
	}
}

func startOnce(ctx context.Context, bin string, runAs *syscall.Credential, o Options) (*Server, error) {
	dir, err := os.MkdirTemp(tempBase(runAs), "kiln-pgtest-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if runAs != nil {
		if err := os.Chown(dir, int(runAs.Uid), int(runAs.Gid)); err != nil {
			return fail(err)
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "kiln", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: runAs}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	settings := []string{
		"listen_addresses=127.0.0.1",
		"unix_socket_directories=", // loopback TCP only
		"max_connections=300",      // three replicas' pools and the tests
		"shared_buffers=32MB",
		"log_min_messages=warning",
	}
	if !o.Durable {
		settings = append(settings, "fsync=off", "synchronous_commit=off", "full_page_writes=off")
	}
	args := []string{"-c", wrapper, "pgtest", bin, dir, strconv.Itoa(port)}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	cmd := exec.Command("/bin/sh", args...)
	// A process group of its own: a ^C meant for go test must not reach
	// postgres before the wrapper can shut it down cleanly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: runAs, Setpgid: true}
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fail(err)
	}
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting postgres: %w", err))
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s := &Server{
		AdminURL: fmt.Sprintf("postgres://kiln@127.0.0.1:%d/postgres?sslmode=disable", port),
		Dir:      dir,
		stderr:   stderr,
	}
	var once sync.Once
	s.stop = func() error {
		once.Do(func() {
			stdin.Close()
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		})
		return nil
	}
	s.exited = exited
	if err := s.waitAccepting(ctx); err != nil {
		select {
		case <-exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres exited at start: %w", err)
		default:
		}
		s.stop()
		return nil, err
	}
	if o.Log != nil {
		go tail(filepath.Join(dir, "log"), o.Log, exited)
	}
	return s, nil
}

// waitAccepting waits up to 30s for the server to accept connections.
func (s *Server) waitAccepting(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.AdminURL)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited: %v\n%s", err, s.stderr)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
			return fmt.Errorf("postgres did not accept connections within 30s: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down as an outage would (fast shutdown: open
// sessions are ended, new connections refused) but keeps its data and
// port, until [Server.Resume]. Only for a server this process started
// (not the shared one, whose other users would fail): tests of how kiln
// rides out a store outage start their own.
func (s *Server) Stop() error {
	if s.Dir == "" || s.exited == nil {
		return errors.New("pgtest: Stop needs a server this process started")
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "paused"), nil, 0o644); err != nil {
		return err
	}
	pidFile := filepath.Join(s.Dir, "pg.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("pgtest: the server is not running: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("pgtest: %s: %w", pidFile, err)
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		return fmt.Errorf("pgtest: stopping postgres: %w", err)
	}
	// The wrapper removes pg.pid once postgres has exited.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(pidFile); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("pgtest: postgres did not stop within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Resume starts a server stopped by [Server.Stop] again, on the same data
// and port, and waits until it accepts connections.
func (s *Server) Resume(ctx context.Context) error {
	if s.Dir == "" || s.exited == nil {
		return errors.New("pgtest: Resume needs a server this process started")
	}
	if err := os.Remove(filepath.Join(s.Dir, "paused")); err != nil {
		return err
	}
	return s.waitAccepting(ctx)
}

// tailBuffer keeps the last 8 KiB written to it, for any goroutine.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 8<<10; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns what the buffer holds.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// tail forwards the server log until the server exits.
func tail(path string, logf func(string), done <-chan struct{}) {
	var off int64
	for {
		select {
		case <-done:
			return
		case <-time.After(200 * time.Millisecond):
		}
		b, err := os.ReadFile(path)
		if err != nil || int64(len(b)) <= off {
			continue
		}
		for _, line := range strings.Split(strings.TrimRight(string(b[off:]), "\n"), "\n") {
			logf(line)
		}
		off = int64(len(b))
	}
}

// freePort picks a free loopback port below the kernel's ephemeral range.
// A port from that range (what listening on :0 gives) is free only until
// some outgoing connection or other test takes it: harmless while postgres
// holds it, but a server [Server.Stop]ped for an outage test must find its
// port still free when it resumes, and on a busy machine running many test
// packages one did not.
func freePort() (int, error) {
	low := ephemeralLow()
	const floor = 10000
	if low <= floor+100 {
		return 0, fmt.Errorf("pgtest: the ephemeral port range starts at %d, leaving no room below it", low)
	}
	for range 200 {
		port := floor + mathrand.IntN(low-floor)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		return port, nil
	}
	return 0, fmt.Errorf("pgtest: no free port found between %d and %d", floor, low)
}

// ephemeralLow is the first port of the kernel's ephemeral range, or
// Linux's default when the range cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}

// Close stops a server this process started; a no-op for an external one.
func (s *Server) Close() error {
	if s.stop == nil {
		return nil
	}
	return s.stop()
}

// CreateDatabase creates an empty database and returns its URL. Names are
// unique within the process and random across processes, so test binaries
// sharing one external server do not collide.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	s.mu.Lock()
	s.counter++
	n := s.counter
	s.mu.Unlock()
	var b [4]byte
	rand.Read(b[:])
	name := fmt.Sprintf("kiln_test_%d_%s", n, hex.EncodeToString(b[:]))
	conn, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("CREATE DATABASE: %w", err)
	}
	u, err := url.Parse(s.AdminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops the database at dbURL, closing its connections.
func (s *Server) DropDatabase(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()+" WITH (FORCE)")
	return err
}

var (
	sharedOnce   sync.Once
	sharedServer *Server
	sharedErr    error
)

// Shared returns the server of this process: $KILN_TEST_POSTGRES_URL if
// set, else one started on first use (and stopped when the process exits).
func Shared() (*Server, error) {
	sharedOnce.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			sharedServer = &Server{AdminURL: u}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := pgx.Connect(ctx, u)
			if err != nil {
				sharedErr = fmt.Errorf("%s=%s: %w", EnvURL, redact(u), err)
				return
			}
			conn.Close(ctx)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sharedServer, sharedErr = Start(ctx, Options{})
	})
	return sharedServer, sharedErr
}

// NewDatabase returns the URL of a new, empty database on the shared
// server, dropped when the test ends. It fails the test, never skips it,
// when no PostgreSQL can be had.
func NewDatabase(t testing.TB) string {
	t.Helper()
	s, err := Shared()
	if err != nil {
		t.Fatalf("pgtest: no PostgreSQL for the tests: %v\n"+
			"Install Debian's postgresql package (apt-get install postgresql; scripts/test.sh does) "+
			"or set %s to a server where this role may CREATE DATABASE.", err, EnvURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL, err := s.CreateDatabase(ctx)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.DropDatabase(ctx, dbURL); err != nil {
			t.Logf("pgtest: dropping %s: %v", redact(dbURL), err)
		}
	})
	return dbURL
}

// redact hides a URL's password for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Describe says which server the tests use, for logs.
func Describe() string {
	s, err := Shared()
	if err != nil {
		return "none: " + err.Error()
	}
	var b bytes.Buffer
	b.WriteString(redact(s.AdminURL))
	if s.Dir != "" {
		b.WriteString(" (throwaway, " + s.Dir + ")")
	}
	return b.String()
}
