package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Offline commands (kiln admin) write to the store directly, and a server
// polling for changes would notice only up to a poll interval later: a
// token created offline would be refused by the request right after the
// command. So every running server listens on a Unix socket in the data
// directory, and an offline command that changed the store asks each of
// them to refresh its token index and waits for the answer. A request then
// never reads the database for it: the hot path stays in memory.
//
// The protocol is one line each way: "refresh\n", answered "ok\n" once the
// index holds every change committed before the request, or "error\n".
// Several servers may share a data directory (SQLite allows it), so each
// has its own socket, named after its pid and a random suffix (pids repeat
// across containers sharing a volume). The directory is 0700 and each
// socket 0600: only the data directory's owner can connect.

// NotifyDir is the directory of a data directory in which each running
// server listens for refresh requests.
func NotifyDir(dataDir string) string { return filepath.Join(dataDir, "notify") }

// refreshLine and the answers are the socket protocol.
const (
	refreshLine = "refresh\n"
	answerOK    = "ok\n"
	answerError = "error\n"
)

// DefaultRefreshTimeout bounds how long an offline command waits for the
// running servers to acknowledge its change. A server that does not answer
// in time still applies the change by its own poll.
const DefaultRefreshTimeout = 2 * time.Second

// refreshListener is a server's refresh socket.
type refreshListener struct {
	ln      *net.UnixListener
	path    string // the socket's real path, removed at Close
	refresh func(context.Context) error
	log     *slog.Logger
	wg      sync.WaitGroup
}

// listenRefresh creates dataDir's notify directory if needed, removes the
// sockets of servers that are gone, and listens on a new socket of its
// own; each request runs refresh.
func listenRefresh(dataDir string, refresh func(context.Context) error, log *slog.Logger) (*refreshListener, error) {
	dir := NotifyDir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	removeStaleSockets(dir)
	var b [4]byte
	rand.Read(b[:])
	name := strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:]) + ".sock"
	var ln *net.UnixListener
	err := withSocketPath(dir, name, func(addr string) error {
		var err error
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, err
	}
	// The address may be a /proc/self/fd alias that is gone by Close.
	ln.SetUnlinkOnClose(false)
	path := filepath.Join(dir, name)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, err
	}
	l := &refreshListener{ln: ln, path: path, refresh: refresh, log: log}
	l.wg.Add(1)
	go l.serve()
	return l, nil
}

func (l *refreshListener) serve() {
	defer l.wg.Done()
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Warn("refresh socket", "err", err)
			}
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.answer(conn)
		}()
	}
}

// answer serves one request: it refreshes the index and says whether that
// worked.
func (l *refreshListener) answer(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(DefaultRefreshTimeout + time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != refreshLine {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultRefreshTimeout)
	defer cancel()
	answer := answerOK
	if err := l.refresh(ctx); err != nil {
		l.log.Warn("refreshing the token index on request of an offline command", "err", err)
		answer = answerError
	}
	conn.Write([]byte(answer))
}

// Close stops listening, waits for requests being answered, and removes
// the socket.
func (l *refreshListener) Close() error {
	err := l.ln.Close()
	l.wg.Wait()
	os.Remove(l.path)
	return err
}

// RefreshReport says how the servers of a data directory answered
// [RefreshServers].
type RefreshReport struct {
	// Acknowledged is how many servers confirmed that they apply the
	// change from their next request on.
	Acknowledged int
	// Failed describes each server that is running but did not confirm
	// in time (it applies the change by its own poll, within a second).
	Failed []string
}

// RefreshServers asks every server listening in dataDir's notify directory
// to refresh its token index now, and waits up to timeout for all of them
// to acknowledge. Sockets that nobody listens on any more (a server that
// crashed) are removed. A data directory without servers is not an error:
// the report is then empty.
func RefreshServers(ctx context.Context, dataDir string, timeout time.Duration) RefreshReport {
	dir := NotifyDir(dataDir)
	names := socketNames(dir)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		mu     sync.Mutex
		report RefreshReport
		wg     sync.WaitGroup
	)
	for _, name := range names {
		wg.Go(func() {
			err := askRefresh(ctx, dir, name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				report.Acknowledged++
			case errors.Is(err, syscall.ECONNREFUSED):
				os.Remove(filepath.Join(dir, name)) // its server is gone
			case errors.Is(err, os.ErrNotExist):
				// It stopped meanwhile and removed its socket.
			default:
				report.Failed = append(report.Failed, fmt.Sprintf("the server with pid %s: %v", pidOf(name), err))
			}
		})
	}
	wg.Wait()
	return report
}

// askRefresh sends one refresh request and waits for its answer.
func askRefresh(ctx context.Context, dir, name string) error {
	var conn net.Conn
	err := withSocketPath(dir, name, func(addr string) error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, "unix", addr)
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte(refreshLine)); err != nil {
		return err
	}
	answer, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return errors.New("no answer in time")
		}
		return err
	}
	if answer != answerOK {
		return errors.New("it could not read the store (see its log)")
	}
	return nil
}

// socketNames lists the sockets in dir.
func socketNames(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sock") && e.Type()&os.ModeSocket != 0 {
			names = append(names, e.Name())
		}
	}
	return names
}

// removeStaleSockets removes the sockets in dir that refuse connections:
// their servers died without removing them.
func removeStaleSockets(dir string) {
	for _, name := range socketNames(dir) {
		err := withSocketPath(dir, name, func(addr string) error {
			conn, err := net.DialTimeout("unix", addr, time.Second)
			if err == nil {
				conn.Close()
			}
			return err
		})
		if errors.Is(err, syscall.ECONNREFUSED) {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// pidOf is the pid part of a socket name, for messages.
func pidOf(name string) string {
	pid, _, _ := strings.Cut(strings.TrimSuffix(name, ".sock"), "-")
	return pid
}

// maxSocketPath is the longest path a Unix socket address may have on
// Linux (sun_path is 108 bytes, NUL included), less a margin.
const maxSocketPath = 100

// withSocketPath calls fn with an address for the socket dir/name. Data
// directories can be deep enough that the path exceeds what a socket
// address holds; then the address goes through an open descriptor of dir,
// /proc/self/fd/N/name, which is short whatever dir is.
func withSocketPath(dir, name string, fn func(addr string) error) error {
	path := filepath.Join(dir, name)
	if len(path) <= maxSocketPath {
		return fn(path)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn("/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + name)
}
