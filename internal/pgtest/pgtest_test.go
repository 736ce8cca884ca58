package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestNewDatabaseIsFreshAndSeparate(t *testing.T) {
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	ctx := context.Background()
	for _, u := range []string{a, b} {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		err = conn.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables)
		conn.Close(ctx)
		if err != nil || tables != 0 {
			t.Errorf("%s: %d tables, %v; want an empty database", u, tables, err)
		}
	}
}

// childEnv makes TestServerStopsWithItsProcess the child that starts a
// server, prints where, and waits to be killed.
const childEnv = "PGTEST_CHILD"

// TestServerStopsWithItsProcess: a server started by a process that is
// then killed with SIGKILL (no cleanup code runs) stops by itself and
// leaves no directory behind.
func TestServerStopsWithItsProcess(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		if os.Getenv(EnvURL) != "" {
			fmt.Println("external") // nothing is started with an external server
		} else if s, err := Start(context.Background(), Options{}); err != nil {
			fmt.Println("error", err)
		} else {
			fmt.Println("started", s.AdminURL, s.Dir)
		}
		time.Sleep(time.Minute)
		return
	}
	if os.Getenv(EnvURL) != "" {
		t.Logf("%s is set: this test starts its own server anyway", EnvURL)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerStopsWithItsProcess$")
	cmd.Env = append(os.Environ(), childEnv+"=1", EnvURL+"=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var adminURL, dir string
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 && f[0] == "started" {
			adminURL, dir = f[1], f[2]
			break
		} else if len(f) > 0 && f[0] == "error" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %s", sc.Text())
		}
	}
	if dir == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the child started no server")
	}
	conn, err := pgx.Connect(context.Background(), adminURL)
	if err != nil {
		t.Fatalf("the child's server does not answer: %v", err)
	}
	conn.Close(context.Background())
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, connErr := pgx.Connect(cctx, adminURL)
		cancel()
		if connErr == nil {
			conn.Close(context.Background())
		}
		if os.IsNotExist(statErr) && connErr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after its process was killed: directory stat %v, server connect %v; want both gone", statErr, connErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStopAndResume: a stopped server refuses connections and keeps its
// data; resumed, it serves that data on the same URL; closed, it leaves
// nothing behind.
func TestStopAndResume(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dbURL, err := s.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, dbURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(cctx, sql)
		return err
	}
	if err := exec(`CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		if err := s.Stop(); err != nil {
			t.Fatalf("round %d: Stop: %v", round, err)
		}
		if err := exec(`SELECT 1`); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("round %d: connecting to a stopped server: %v, want connection refused", round, err)
		}
		if err := s.Resume(ctx); err != nil {
			t.Fatalf("round %d: Resume: %v", round, err)
		}
		if err := exec(`DO $$ BEGIN IF (SELECT n FROM kept) <> 7 THEN RAISE 'lost'; END IF; END $$`); err != nil {
			t.Fatalf("round %d: after Resume: %v", round, err)
		}
	}
	s.Close()
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("%s after Close: %v, want it removed", s.Dir, err)
	}
}

// TestResumeRetriesAndSaysWhy: a resumed server whose start fails (its
// port taken meanwhile) is started again a few times, so a port freed
// soon after is used; one that never starts ends with the reason from
// postgres's log in the error.
func TestResumeRetriesAndSaysWhy(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := url.Parse(s.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	take := func() net.Listener {
		ln, err := net.Listen("tcp", u.Host)
		if err != nil {
			t.Fatalf("taking the stopped server's port: %v", err)
		}
		return ln
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	ln := take()
	go func() { time.Sleep(time.Second); ln.Close() }()
	if err := s.Resume(ctx); err != nil {
		t.Fatalf("Resume with the port freed after a second: %v", err)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	defer take().Close()
	err = s.Resume(ctx)
	if err == nil || !strings.Contains(err.Error(), "could not bind") {
		t.Fatalf("Resume with the port taken for good: %v, want postgres's reason", err)
	}
}
