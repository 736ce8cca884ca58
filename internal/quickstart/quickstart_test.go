// Package quickstart_test runs the README's Quick start exactly as
// printed, so that it cannot drift from what kiln does: the shell blocks
// of that section, top to bottom, as one script, with the built kiln on
// PATH, in an empty directory.
//
// The Quick start serves on 127.0.0.1:8080, as a newcomer's would, so the
// script runs in a network namespace of its own (a private loopback): a
// kiln, or anything else, already on port 8080 of this machine can neither
// break the test nor be reached by it.
package quickstart_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-dev/kiln/kilntest"
)

// childEnv marks the test binary re-executed inside the new namespaces,
// where it brings the loopback up and becomes bash running the script.
const childEnv = "KILN_QUICKSTART_SCRIPT"

var kilnBin string

func TestMain(m *testing.M) {
	if script := os.Getenv(childEnv); script != "" {
		os.Exit(runScript(script))
	}
	kilntest.MainWithKiln(m, &kilnBin)
}

// runScript runs in the new network namespace, whose loopback starts down:
// it brings it up and replaces itself with bash running script.
func runScript(script string) int {
	if err := loopbackUp(); err != nil {
		fmt.Fprintln(os.Stderr, "bringing up the namespace's loopback:", err)
		return 125
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, childEnv+"=") {
			env = append(env, kv)
		}
	}
	// -e: a failing command fails the script, as a reader following the
	// steps would stop; pipefail likewise for a failing curl piped into jq.
	err = syscall.Exec(bash, []string{"bash", "-e", "-o", "pipefail", script}, env)
	fmt.Fprintln(os.Stderr, "exec bash:", err)
	return 125
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// quickStart returns the shell blocks of the README's Quick start section,
// each without the indentation of its fence (the Markdown list's).
func quickStart(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Quick start")
	if start < 0 {
		t.Fatal(`README.md has no "## Quick start" section`)
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var blocks []string
	fence := regexp.MustCompile("(?m)^( *)```sh\n((?s:.*?))^ *```$")
	for _, m := range fence.FindAllStringSubmatch(section, -1) {
		var lines []string
		for _, l := range strings.Split(strings.TrimSuffix(m[2], "\n"), "\n") {
			lines = append(lines, strings.TrimPrefix(l, m[1]))
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	return blocks
}

// TestQuickStart runs the Quick start and checks that every step did what
// the README says it does.
func TestQuickStart(t *testing.T) {
	blocks := quickStart(t)
	script := strings.Join(blocks, "\n\n") + "\n"
	// The README must still be a whole walk-through: start, enable, create,
	// use, revoke, stop. Each is an expectation of what follows.
	for _, step := range []string{"kiln serve &", "/readyz", "kiln admin conf set enableTokensConfig=true",
		"TOKEN=$(kiln admin tokens create", "scim/v2/Me", "token/create", "token/delete", "kill %1"} {
		if !strings.Contains(script, step) {
			t.Fatalf("the Quick start's shell blocks no longer contain %q; update this test with the README:\n%s", step, script)
		}
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the Quick start needs %s (scripts/test.sh installs it): %v", tool, err)
		}
	}

	dir, home := t.TempDir(), t.TempDir()
	scriptFile := filepath.Join(t.TempDir(), "quickstart.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Dir = dir
	// The reader's shell: the built kiln first on PATH, a home of its own
	// (no ~/.databrickscfg), and none of the test machine's KILN_* or
	// DATABRICKS_* settings.
	cmd.Env = []string{childEnv + "=" + scriptFile, "HOME=" + home, "PATH=" + filepath.Dir(kilnBin) + string(os.PathListSeparator) + os.Getenv("PATH"), "TZ=UTC", "LANG=C.UTF-8"}
	var stdout, stderr kilntest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := startIsolated(cmd); err != nil {
		t.Fatalf("cannot give the Quick start a private loopback (a user and network namespace): %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("the Quick start did not finish within 3 minutes\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", script, stdout.String(), stderr.String())
	}
	// Whatever the script left running (a kiln it failed to stop) goes
	// with its process group.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	out, logs := stdout.String(), stderr.String()
	report := fmt.Sprintf("script:\n%s\nstdout:\n%s\nstderr:\n%s", script, out, logs)
	if err != nil {
		t.Fatalf("the Quick start failed: %v\n%s", err, report)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"every API call succeeded (no error_code in the answers)", !strings.Contains(out, "error_code")},
		{"/Me named the admin the token belongs to", regexp.MustCompile(`"userName": ?"admin@kiln.local"`).MatchString(out)},
		{"token/create minted a token", regexp.MustCompile(`"token_value": ?"dapi[0-9a-f]{32}"`).MatchString(out)},
		{"token/list listed the tokens, by Bearer and by Basic auth", strings.Count(out, `"token_infos"`) == 2},
		{"the revoked token was refused at once (403, the last line)", lines[len(lines)-1] == "403"},
		{"the first start printed the generated admin password", strings.Contains(logs, "admin=admin@kiln.local password=")},
		{"kiln stopped gracefully", strings.Contains(logs, `msg="kiln stopped"`)},
	} {
		if !c.ok {
			t.Errorf("the Quick start did not do what the README says: %s\n%s", c.what, report)
		}
	}
}

// startIsolated starts cmd in a new network namespace: as root directly,
// so that kiln runs with the privileges it has on the host (its task
// sandbox needs them); otherwise inside a new user namespace, which needs
// no privilege where the kernel allows it.
func startIsolated(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Cloneflags: syscall.CLONE_NEWNET}
	if os.Getuid() != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	return cmd.Start()
}
