// Package beacon lets tests observe sandboxed tasks from outside. A task
// cannot write where a test could read it (that is the sandbox's point),
// but it may open a TCP connection to loopback: a task reports in by
// connecting to a Beacon, and the connection stays open exactly as long
// as the process that opened it lives, so that a test sees when it ends.
package beacon

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Beacon is a loopback listener that numbers the connections it accepts.
type Beacon struct {
	ln    net.Listener
	conns chan *Conn
	mu    sync.Mutex
	n     int
}

// Conn is one task's report: the message it sent, and the connection
// that closes when its process dies.
type Conn struct {
	// N numbers the connections from 0.
	N int
	// Message is the first line the task sent.
	Message string
	c       net.Conn
	r       *bufio.Reader
}

// New listens on a free loopback port until the test ends.
func New(t testing.TB) *Beacon {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Beacon{ln: ln, conns: make(chan *Conn, 64)}
	t.Cleanup(func() { ln.Close() })
	go b.accept()
	return b
}

func (b *Beacon) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		n := b.n
		b.n++
		b.mu.Unlock()
		go func() {
			// The task learns its number first (a retry can tell it is one),
			// then says what it has to say.
			fmt.Fprintf(c, "%d\n", n)
			r := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			line, _ := r.ReadString('\n')
			c.SetReadDeadline(time.Time{})
			b.conns <- &Conn{N: n, Message: strings.TrimSpace(line), c: c, r: r}
		}()
	}
}

// Python is a Python expression that connects to the beacon, sends
// message (an expression yielding a str) and evaluates to the
// connection's number. The connection is kept open in the global
// _kiln_beacons until the process ends.
func (b *Beacon) Python(message string) string {
	_, port, _ := net.SplitHostPort(b.ln.Addr().String())
	return fmt.Sprintf(`(lambda s: (globals().setdefault("_kiln_beacons", []).append(s), s.sendall((str(%s) + "\n").encode()), int(s.makefile().readline()))[2])(__import__("socket").create_connection(("127.0.0.1", %s)))`, message, port)
}

// Addr is the beacon's host:port.
func (b *Beacon) Addr() string { return b.ln.Addr().String() }

// Port is the beacon's port, for tasks that connect themselves.
func (b *Beacon) Port() string {
	_, port, _ := net.SplitHostPort(b.ln.Addr().String())
	return port
}

// Send writes line to the task (one waiting on the connection, as a
// gate).
func (c *Conn) Send(line string) error {
	_, err := io.WriteString(c.c, line+"\n")
	return err
}

// Next waits up to d for the next report.
func (b *Beacon) Next(t testing.TB, d time.Duration) *Conn {
	t.Helper()
	select {
	case c := <-b.conns:
		t.Cleanup(func() { c.c.Close() })
		return c
	case <-time.After(d):
		t.Fatalf("no task reported to the beacon within %v", d)
		return nil
	}
}

// None fails the test if a report arrives within d.
func (b *Beacon) None(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case c := <-b.conns:
		t.Fatalf("unexpected report %d: %q", c.N, c.Message)
	case <-time.After(d):
	}
}

// WaitClosed waits up to d for the process that opened c to end (its end
// of the connection closes); it returns how long that took, or fails the
// test.
func (c *Conn) WaitClosed(t testing.TB, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.c.SetReadDeadline(start.Add(d))
	_, err := io.Copy(io.Discard, c.r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the process that reported %q still runs after %v", c.Message, d)
	}
	return time.Since(start)
}
