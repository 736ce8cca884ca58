package main_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
)

var kilnBin string

func TestMain(m *testing.M) { kilntest.MainWithKiln(m, &kilnBin) }

// proc is a kiln serve process.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *kilntest.SyncBuffer
	done chan error
}

func serve(t *testing.T, dataDir string, env ...string) *proc {
	t.Helper()
	return serveIn(t, "", dataDir, env...)
}

// serveIn starts kiln serve in the working directory cwd ("" for the
// test's), on dataDir, which may be relative to cwd.
func serveIn(t *testing.T, cwd, dataDir string, env ...string) *proc {
	t.Helper()
	addr := kilntest.FreeAddr(t)
	cmd := exec.Command(kilnBin, "serve", "--addr", addr, "--data-dir", dataDir)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd, url: "http://" + addr, logs: &kilntest.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get(p.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiln did not become ready: %s", p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func admin(t *testing.T, dataDir string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(kilnBin, append([]string{"admin", "--data-dir", dataDir}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func status(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/api/2.0/preview/scim/v2/Me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// within waits up to d for cond and returns how long it took.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

var tokenRE = regexp.MustCompile(`^dapi[0-9a-f]{32}\n$`)

func TestOfflineAdministrationAppliesToARunningServerWithinOneSecond(t *testing.T) {
	dir := t.TempDir()
	p := serve(t, dir, "KILN_ADMIN_EMAIL=ops@example.com", "KILN_ADMIN_PASSWORD=ops-password-123")

	// Tokens are off: the offline command refuses with a clear message.
	_, stderr, code := admin(t, dir, "", "tokens", "create", "--user", "ops@example.com")
	if code != 1 || !strings.Contains(stderr, "Tokens are disabled") {
		t.Fatalf("create while disabled: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := admin(t, dir, "", "conf", "set", "enableTokensConfig=true"); code != 0 {
		t.Fatalf("conf set: exit %d: %s", code, stderr)
	}
	tok, stderr, code := admin(t, dir, "", "tokens", "create", "--user", "ops@example.com", "--comment", "bootstrap", "--lifetime", "7d")
	if code != 0 || !tokenRE.MatchString(tok) {
		t.Fatalf("tokens create: exit %d, stdout %q (want only the token), stderr %q", code, tok, stderr)
	}
	tok = strings.TrimSpace(tok)
	took := within(t, time.Second, "the new token works", func() bool { return status(t, p.url, tok) == 200 })
	t.Logf("new token accepted after %v", took)

	id := regexp.MustCompile(`token ([0-9a-f]{64})`).FindStringSubmatch(stderr)
	if id == nil {
		t.Fatalf("token id not reported: %q", stderr)
	}
	if _, stderr, code := admin(t, dir, "", "tokens", "revoke", id[1]); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, stderr)
	}
	took = within(t, time.Second, "the revoked token is refused", func() bool { return status(t, p.url, tok) == 403 })
	t.Logf("revoked token refused after %v", took)

	tok2, _, _ := admin(t, dir, "", "tokens", "create", "--user", "ops@example.com")
	tok2 = strings.TrimSpace(tok2)
	within(t, time.Second, "second token works", func() bool { return status(t, p.url, tok2) == 200 })
	admin(t, dir, "", "conf", "set", "enableTokensConfig=false")
	within(t, time.Second, "disabling applies", func() bool { return status(t, p.url, tok2) == 403 })

	// Leak response offline: the value from stdin, never an argument.
	for _, lk := range []struct {
		value string
		args  []string
		want  string
	}{
		{tok, []string{"tokens", "lookup"}, "State:     revoked"},
		{tok2, []string{"tokens", "lookup", "--revoke"}, "State:     revoked now"},
		{tok2, []string{"tokens", "lookup"}, "State:     revoked"},
	} {
		out, stderr, code := admin(t, dir, lk.value+"\n", lk.args...)
		if code != 0 || !strings.Contains(out, lk.want) || !strings.Contains(out, "Owner:     ops@example.com") {
			t.Errorf("kiln admin %v: exit %d, stdout %q, stderr %q; want %q", lk.args, code, out, stderr, lk.want)
		}
	}

	// Bad input to offline commands: clear messages and usage exit codes.
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"conf", "set", "maxTokenLifetimeDays=0x"}, 1, "Some values are not allowed"},
		{[]string{"conf", "set", "nokey"}, 2, "not KEY=VALUE"},
		{[]string{"conf", "set", "badKey=1"}, 1, `Invalid keys: ["badKey"]`},
		{[]string{"tokens", "create"}, 2, "--user is required"},
		{[]string{"tokens", "create", "--user", "ops@example.com", "--lifetime", "forever"}, 2, "--lifetime"},
		{[]string{"tokens", "revoke", strings.Repeat("0", 64)}, 1, "does not exist"},
		{[]string{"tokens", "lookup"}, 2, "standard input is empty"},
		{[]string{"users", "create", "--email", "not-an-email"}, 1, "email address"},
	}
	for _, tt := range tests {
		_, stderr, code := admin(t, dir, "", tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("kiln admin %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.msg)
		}
	}

	// A user created offline with a password from stdin.
	out, stderr, code := admin(t, dir, "a-long-password-1\n", "users", "create", "--email", "jane@example.com", "--password-stdin")
	if code != 0 || out != "" || !strings.Contains(stderr, "Created user jane@example.com") {
		t.Fatalf("users create: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	out, _, code = admin(t, dir, "", "users", "create", "--email", "bob@example.com", "--admin")
	if code != 0 || len(strings.TrimSpace(out)) < 20 {
		t.Fatalf("users create with a generated password: exit %d, stdout %q", code, out)
	}
}

func TestCrashAndRestartKeepEverything(t *testing.T) {
	dir := t.TempDir()
	p := serve(t, dir)
	if !strings.Contains(p.logs.String(), "password=") {
		t.Fatalf("first start did not print the generated admin password: %s", p.logs)
	}
	admin(t, dir, "", "conf", "set", "enableTokensConfig=true", "maxTokenLifetimeDays=100")
	boot, _, _ := admin(t, dir, "", "tokens", "create", "--user", "admin@kiln.local")
	boot = strings.TrimSpace(boot)
	within(t, time.Second, "bootstrap token works", func() bool { return status(t, p.url, boot) == 200 })

	// A token returned by the API...
	req, _ := http.NewRequest("POST", p.url+"/api/2.0/token/create", strings.NewReader(`{"comment":"survives"}`))
	req.Header.Set("Authorization", "Bearer "+boot)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("create: %v %v", err, resp)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	tok := regexp.MustCompile(`dapi[0-9a-f]{32}`).FindString(body.String())

	// ...survives kill -9.
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.done <- nil // let the cleanup's wait return
	p2 := serve(t, dir)
	if status(t, p2.url, tok) != 200 {
		t.Fatal("a token the API returned did not survive kill -9")
	}
	if strings.Contains(p2.logs.String(), "password=") || strings.Contains(p2.logs.String(), "initialised a new workspace") {
		t.Fatalf("a restart re-initialised or reprinted the password: %s", p2.logs)
	}
	out, _, _ := admin(t, dir, "", "conf", "get", "maxTokenLifetimeDays")
	if out != "maxTokenLifetimeDays=100\n" {
		t.Fatalf("settings after the crash: %q", out)
	}

	// SIGTERM: graceful, exit status 0.
	p2.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p2.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.logs)
		}
		p2.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
	if !strings.Contains(p2.logs.String(), "shutting down") {
		t.Fatalf("no shutdown log: %s", p2.logs)
	}
	p3 := serve(t, dir)
	if status(t, p3.url, tok) != 200 || status(t, p3.url, boot) != 200 {
		t.Fatal("tokens lost across a graceful restart")
	}
}

func TestServeRefusesAnotherTokenKey(t *testing.T) {
	dir := t.TempDir()
	p := serve(t, dir)
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p.done <- nil
	cmd := exec.Command(kilnBin, "serve", "--addr", kilntest.FreeAddr(t), "--data-dir", dir)
	cmd.Env = append(os.Environ(), "KILN_TOKEN_KEY="+strings.Repeat("ab", 32))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "token key") {
		t.Fatalf("serve with another key: err %v, output %s", err, out)
	}
}

func TestServeFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  []string
		msg  string
	}{
		{[]string{"serve", "--log-level", "loud"}, nil, "--log-level"},
		{[]string{"serve", "--log-format", "xml"}, nil, "--log-format"},
		{[]string{"serve", "--tls-cert", "x.pem"}, nil, "go together"},
		{[]string{"serve", "--nope"}, nil, "unknown flag"},
		{[]string{"serve"}, []string{"KILN_LOG_LEVEL=loud"}, "--log-level"},
		{[]string{"serve", "--task-sandbox", "maybe"}, nil, `--task-sandbox is "maybe"`},
		{[]string{"serve", "--task-network", "lan"}, nil, `--task-network is "lan"`},
		{[]string{"serve", "--keep-task-dirs", "some"}, nil, `--keep-task-dirs is "some"`},
		{[]string{"serve", "--task-memory", "lots"}, nil, "not a size"},
		{[]string{"serve"}, []string{"KILN_TASK_MAX_OUTPUT=0"}, "not a size"},
		{[]string{"serve", "--task-cpu-time", "10ms"}, nil, "--task-cpu-time must be at least 1s"},
		{[]string{"serve", "--base-url", "kiln.example.com"}, nil, `--base-url "kiln.example.com" must be an http:// or https:// URL`},
		{[]string{"serve", "--trusted-proxies", "proxy"}, nil, "--trusted-proxies"},
		{[]string{"serve", "--no-api"}, nil, "--no-api needs --database-url"},
		{[]string{"serve", "--unknown-token-refresh", "-1s"}, nil, "--unknown-token-refresh is -1s; it must not be negative"},
		// Every problem at once, not one per attempt.
		{[]string{"serve", "--tls-key", "k.pem", "--addr", "8080", "--task-lease", "10ms"}, nil,
			"the configuration has 3 problems:\n  - --tls-cert and --tls-key go together: give both to serve HTTPS, or neither\n  - --addr \"8080\" is not host:port"},
	}
	for _, tt := range tests {
		cmd := exec.Command(kilnBin, tt.args...)
		cmd.Dir = t.TempDir() // a refusal creates no data directory here
		cmd.Env = append(os.Environ(), tt.env...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tt.msg) {
			t.Errorf("kiln %v: err %v, output %q; want exit 2 and %q", tt.args, err, out, tt.msg)
		}
		if entries, _ := os.ReadDir(cmd.Dir); len(entries) > 0 {
			t.Errorf("kiln %v created %s in its working directory", tt.args, entries[0].Name())
		}
	}
}
