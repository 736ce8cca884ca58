package main_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
)

// TestVersion builds kiln as a developer (no VCS stamp, as scripts/test.sh
// builds) and as a release (the linker sets version, commit and date), and
// checks what --version prints and what the client sends as User-Agent.
func TestVersion(t *testing.T) {
	const pkg = "github.com/kiln-dev/kiln/internal/buildinfo"
	goVersion := regexp.QuoteMeta(runtime.Version())
	for _, c := range []struct {
		name    string
		flags   []string
		version string // the whole --version output, a regexp
		agent   string // the User-Agent, a regexp
	}{
		{"WithoutVCSInformation", []string{"-buildvcs=false"},
			`^kiln dev \(devel, ` + goVersion + `\)\n$`, `^kiln-cli/dev go/\S+ os/` + runtime.GOOS + ` auth/pat$`},
		{"ReleaseBuild", []string{"-buildvcs=false", "-ldflags", "-X " + pkg + ".Version=v1.3.0 -X " + pkg + ".Commit=0123456789abcdef0123456789abcdef01234567 -X " + pkg + ".Date=2026-02-03T04:05:06Z"},
			`^kiln v1\.3\.0 \(commit 0123456789ab, built 2026-02-03T04:05:06Z, ` + goVersion + `\)\n$`, `^kiln-cli/v1\.3\.0 go/\S+ os/` + runtime.GOOS + ` auth/pat$`},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin, dir, err := kilntest.BuildKilnWith(c.flags...)
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			for _, flag := range []string{"--version", "-v"} {
				out, err := exec.Command(bin, flag).CombinedOutput()
				if err != nil || !regexp.MustCompile(c.version).Match(out) {
					t.Errorf("kiln %s: %v, %q; want %s", flag, err, out, c.version)
				}
			}
			agents := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case agents <- r.Header.Get("User-Agent"):
				default:
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error_code": "UNAUTHENTICATED", "message": "no"}`))
			}))
			defer srv.Close()
			cmd := exec.Command(bin, "current-user", "me")
			cmd.Env = []string{"HOME=" + t.TempDir(), "DATABRICKS_HOST=" + srv.URL, "DATABRICKS_TOKEN=dapi00000000000000000000000000000000"}
			cmd.CombinedOutput()
			select {
			case ua := <-agents:
				if !regexp.MustCompile(c.agent).MatchString(ua) {
					t.Errorf("User-Agent %q, want %s", ua, c.agent)
				}
			default:
				t.Error("the client sent no request")
			}
		})
	}
}
