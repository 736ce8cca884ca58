//go:build linux

package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestWaitOnTerminal checks --wait on a terminal: a spinner with the
// state and elapsed time, redrawn in place, above it a line per state
// change.
func TestWaitOnTerminal(t *testing.T) {
	f := newJobsFixture(t)
	check{args: []string{"workspace", "import", "-", "/Shared/nap", "--language", "PYTHON"},
		stdin: "import time\ntime.sleep(1.5)\ndbutils.notebook.exit('rested')\n", quiet: true}.run(t, f.home)

	p := openPTY(t)
	cmd := p.start(t, f.home, "runs", "submit", "--notebook", "/Shared/nap", "--wait")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("runs submit --wait: %v\n%s", err, p.output())
	}
	p.waitFor(t, "succeeded in")
	out := p.output()
	id := regexp.MustCompile(`(?m)^(\d+)\r?$`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no run id on the terminal:\n%q", out)
	}
	for _, re := range []string{`\r[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Run ` + id[1] + `: RUNNING · \ds`, `Run ` + id[1] + `: TERMINATED SUCCESS \(\ds\)`, `Run ` + id[1] + ` succeeded in \ds\.`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the terminal does not show %q:\n%q", re, out)
		}
	}
	if n := strings.Count(out, "TERMINATED SUCCESS"); n != 1 {
		t.Errorf("the final state shown %d times:\n%q", n, out)
	}
	check{args: []string{"runs", "output", id[1]}, stdout: []string{"rested\n"}}.run(t, f.home)
}
