package replicas

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kiln-dev/kiln/internal/pgtest"
	"github.com/kiln-dev/kiln/kilntest"
)

var kilnBin string

func TestMain(m *testing.M) { kilntest.MainWithKiln(m, &kilnBin) }

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-123"
)

// cluster is one PostgreSQL database and the kiln replicas serving it.
type cluster struct {
	t        *testing.T
	dbURL    string
	keyDir   string
	replicas []*replica
	client   *http.Client
}

// replica is one kiln serve process.
type replica struct {
	n    int
	url  string
	cmd  *exec.Cmd
	logs *kilntest.SyncBuffer
	done chan error

	stopOnce sync.Once
	exit     error       // how it ended, once stopped
	gone     atomic.Bool // stopped or killed
}

// newCluster makes a database and the shared key files, and starts n
// replicas on it all at once.
func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := emptyCluster(t, pgtest.NewDatabase(t), t.TempDir())
	for _, name := range []string{"token.key", "secrets.key"} {
		writeKey(t, filepath.Join(c.keyDir, name))
	}
	c.startReplicas(n)
	return c
}

// emptyCluster describes a cluster on dbURL whose keys are the files
// token.key and secrets.key in keyDir, with no replica running yet.
func emptyCluster(t *testing.T, dbURL, keyDir string) *cluster {
	return &cluster{t: t, dbURL: dbURL, keyDir: keyDir, client: &http.Client{Timeout: 30 * time.Second}}
}

// startReplicas starts n replicas at once and waits until all serve.
func (c *cluster) startReplicas(n int) {
	c.t.Helper()
	var wg sync.WaitGroup
	rs := make([]*replica, n)
	for i := range n {
		wg.Go(func() { rs[i] = c.start(len(c.replicas) + i + 1) })
	}
	wg.Wait()
	for _, r := range rs {
		if r == nil {
			c.t.FailNow() // start reported why
		}
	}
	for _, r := range rs {
		c.waitReady(r)
	}
	c.replicas = append(c.replicas, rs...)
}

func writeKey(t *testing.T, path string) {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// env is the environment of every kiln process of the cluster: the shared
// database and keys.
func (c *cluster) env(extra ...string) []string {
	return append(append(os.Environ(),
		"KILN_DATABASE_URL="+c.dbURL,
		"KILN_TOKEN_KEY_FILE="+filepath.Join(c.keyDir, "token.key"),
		"KILN_SECRETS_KEY_FILE="+filepath.Join(c.keyDir, "secrets.key"),
		"KILN_ADMIN_EMAIL="+adminEmail,
		"KILN_ADMIN_PASSWORD="+adminPassword,
		// The tests present many refused tokens from one address on
		// purpose: they want 403s, not the throttle's 429s.
		"KILN_AUTH_FAILURE_BURST=-1",
	), extra...)
}

// start starts replica n without waiting for it; extraEnv overrides the
// cluster's environment.
func (c *cluster) start(n int, extraEnv ...string) *replica {
	return c.startWith(n, c.env(extraEnv...), "--data-dir", c.t.TempDir())
}

// startWith starts kiln serve with env and extra arguments.
func (c *cluster) startWith(n int, env []string, args ...string) *replica {
	addr := kilntest.FreeAddr(c.t)
	cmd := exec.Command(kilnBin, append([]string{"serve", "--addr", addr, "--log-level", "warn"}, args...)...)
	cmd.Env = env
	r := &replica{n: n, url: "http://" + addr, cmd: cmd, logs: &kilntest.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		c.t.Errorf("starting replica %d: %v", n, err)
		return nil
	}
	go func() { r.done <- cmd.Wait() }()
	c.t.Cleanup(func() {
		c.stop(r)
		if c.t.Failed() {
			c.t.Logf("replica %d log:\n%s", n, r.logs)
		}
	})
	return r
}

// stop shuts replica r down gracefully (SIGTERM) and waits for it; safe
// to call again.
func (c *cluster) stop(r *replica) {
	r.gone.Store(true)
	r.stopOnce.Do(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case r.exit = <-r.done:
		case <-time.After(15 * time.Second):
			r.cmd.Process.Kill()
			r.exit = <-r.done
		}
	})
}

// kill ends replica r with SIGKILL, as a crash would.
func (c *cluster) kill(r *replica) {
	r.gone.Store(true)
	r.stopOnce.Do(func() {
		r.cmd.Process.Kill()
		r.exit = <-r.done
	})
}

func (c *cluster) waitReady(r *replica) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-r.done:
			c.t.Fatalf("replica %d exited while starting: %v\n%s", r.n, err, r.logs)
		default:
		}
		if resp, err := c.client.Get(r.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("replica %d not ready within 60s:\n%s", r.n, r.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// admin runs `kiln admin` against the cluster's database and returns its
// standard output; it fails the test on a non-zero exit.
func (c *cluster) admin(args ...string) string {
	c.t.Helper()
	out, errOut, code := runKiln(c.env(), append([]string{"admin", "--data-dir", c.t.TempDir()}, args...)...)
	if code != 0 {
		c.t.Fatalf("kiln admin %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return strings.TrimSpace(out)
}

// runKiln runs the kiln binary with env and returns its output and exit
// code.
func runKiln(env []string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(kilnBin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

// db connects to the cluster's database directly, to check what the
// replicas wrote.
func (c *cluster) db() *pgx.Conn {
	c.t.Helper()
	conn, err := pgx.Connect(context.Background(), c.dbURL)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// response is a decoded API response.
type response struct {
	status int
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

// do sends a request to replica r with a bearer token; it does not fail
// the test on a transport error (a replica may be dead on purpose) but
// returns status 0.
func (c *cluster) do(r *replica, method, path, token string, body any) response {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return response{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: b}
}

// must sends a request and fails the test unless it answers want.
func (c *cluster) must(r *replica, want int, method, path, token string, body any) response {
	c.t.Helper()
	resp := c.do(r, method, path, token, body)
	if resp.status != want {
		c.t.Fatalf("%s %s on replica %d: got %d %s, want %d", method, path, r.n, resp.status, resp.body, want)
	}
	return resp
}

// me is the status of GET /Me with token on replica r: 200 when the token
// works, 403 when it is refused.
func (c *cluster) me(r *replica, token string) int {
	return c.do(r, "GET", "/api/2.0/preview/scim/v2/Me", token, nil).status
}

// within polls cond every 5ms until it holds, failing the test after d; it
// returns how long it took.
func (c *cluster) within(d time.Duration, what string, cond func() bool) time.Duration {
	c.t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			c.t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// createToken creates a token for the holder of token through replica r
// and returns its value and id.
func (c *cluster) createToken(r *replica, token string, lifetime int) (value, id string) {
	c.t.Helper()
	body := map[string]any{"comment": "replica test"}
	if lifetime > 0 {
		body["lifetime_seconds"] = lifetime
	}
	m := c.must(r, 200, "POST", "/api/2.0/token/create", token, body).json(c.t)
	info, _ := m["token_info"].(map[string]any)
	value, _ = m["token_value"].(string)
	id, _ = info["token_id"].(string)
	if value == "" || id == "" {
		c.t.Fatalf("token/create: %v", m)
	}
	return value, id
}

// adminToken enables tokens and mints an admin token offline.
func (c *cluster) adminToken() string {
	c.t.Helper()
	c.admin("conf", "set", "enableTokensConfig=true")
	return c.admin("tokens", "create", "--user", adminEmail, "--comment", "replica tests")
}
