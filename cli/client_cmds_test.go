package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/cli"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/service"

	"github.com/kiln-dev/kiln/kilntest"
)

// kilnBin is the kiln binary built once for the tests that run it.
var kilnBin string

func TestMain(m *testing.M) { kilntest.MainWithKiln(m, &kilnBin) }

const (
	adminEmail = "admin@kiln.test"
	janeEmail  = "jane@kiln.test"
)

// fixture is a kiln server started in-process, with tokens enabled, an
// admin and a non-admin user (jane, with CAN_USE) and a token for each,
// and a home directory for the CLI.
type fixture struct {
	url     string
	srv     *server.Server
	offline context.Context
	admin   string
	jane    string
	home    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(),
		AdminEmail: adminEmail, AdminPassword: "correct horse battery staple",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	f := &fixture{url: srv.URL(), srv: srv, home: t.TempDir(),
		offline: kiln.NewContextWithCaller(context.Background(), service.OfflineCaller())}
	if err := srv.Service.SetConf(f.offline, map[string]string{kiln.ConfEnableTokens: "true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Service.CreatePrincipal(f.offline, service.NewPrincipal{Kind: kiln.KindUser, UserName: janeEmail, DisplayName: "Jane"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Service.SetTokenPermissions(f.offline, []kiln.ACLEntry{{GroupName: kiln.GroupUsers, Level: kiln.LevelCanUse}}, false); err != nil {
		t.Fatal(err)
	}
	f.admin = f.mint(t, adminEmail, nil, "admin")
	f.jane = f.mint(t, janeEmail, nil, "jane")
	return f
}

// mint creates a token through the service.
func (f *fixture) mint(t *testing.T, user string, lifetime *time.Duration, comment string) string {
	t.Helper()
	nt, err := f.srv.Service.CreateTokenFor(f.offline, user, service.CreateTokenParams{Lifetime: lifetime, Comment: comment})
	if err != nil {
		t.Fatal(err)
	}
	return nt.Value
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the kiln binary with a clean environment: HOME is the
// fixture's, and no DATABRICKS_* variable is set unless env sets it.
func run(t *testing.T, home string, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(kilnBin, args...)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TZ=UTC"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// configure saves a profile with kiln configure.
func (f *fixture) configure(t *testing.T, profile, token string) {
	t.Helper()
	r := run(t, f.home, nil, token+"\n", "configure", "--token", "--host", f.url, "--profile", profile)
	if r.code != 0 {
		t.Fatalf("configure: %v", r)
	}
}

// check is one expected run.
type check struct {
	name   string
	args   []string
	env    map[string]string
	stdin  string
	code   int
	stdout []string // substrings, or a regexp when prefixed with "re:"
	stderr []string
	// json: stdout must be valid JSON (and empty stdout is refused).
	json bool
	// quiet: stdout must be empty.
	quiet bool
	// report: the command prints a report even when it fails.
	report bool
}

func (c check) run(t *testing.T, home string) result {
	t.Helper()
	r := run(t, home, c.env, c.stdin, c.args...)
	if r.code != c.code {
		t.Fatalf("kiln %s: want exit %d, got %v", strings.Join(c.args, " "), c.code, r)
	}
	match := func(where, text string, wants []string) {
		for _, w := range wants {
			if re, ok := strings.CutPrefix(w, "re:"); ok {
				if !regexp.MustCompile(re).MatchString(text) {
					t.Errorf("kiln %s: %s does not match %q\n%v", strings.Join(c.args, " "), where, re, r)
				}
			} else if !strings.Contains(text, w) {
				t.Errorf("kiln %s: %s lacks %q\n%v", strings.Join(c.args, " "), where, w, r)
			}
		}
	}
	match("stdout", r.stdout, c.stdout)
	match("stderr", r.stderr, c.stderr)
	if c.json && !json.Valid([]byte(r.stdout)) {
		t.Errorf("kiln %s: stdout is not JSON\n%v", strings.Join(c.args, " "), r)
	}
	if (c.quiet || c.code != 0) && r.stdout != "" && !c.json && !c.report {
		t.Errorf("kiln %s: stdout should be empty\n%v", strings.Join(c.args, " "), r)
	}
	if c.code != 0 && !strings.HasPrefix(r.stderr, "Error: ") && !strings.Contains(r.stderr, "\nError: ") {
		t.Errorf("kiln %s: a failure must say Error: on stderr\n%v", strings.Join(c.args, " "), r)
	}
	if c.code != 0 && strings.Count(strings.TrimSpace(r.stderr), "\n") > 2 {
		t.Errorf("kiln %s: an error should be one clear line\n%v", strings.Join(c.args, " "), r)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("kiln %s: stack trace on stderr\n%v", strings.Join(c.args, " "), r)
	}
	return r
}

func runChecks(t *testing.T, home string, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.run(t, home) })
	}
}

func TestConfigure(t *testing.T) {
	f := newFixture(t)
	cfg := filepath.Join(f.home, ".databrickscfg")
	other := "# my other workspace\n[other]\nhost = https://other.example.com\ntoken = dapiffffffffffffffffffffffffffffffff\ncluster_id = 0123\n"
	if err := os.WriteFile(cfg, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	runChecks(t, f.home, []check{
		{name: "help shows --token as a flag without a value", args: []string{"configure", "--help"},
			stdout: []string{`re:(?m)^      --token +configure personal access token authentication .*"databricks configure --token"\) \(default true\)$`}},
		{name: "saves and verifies", args: []string{"configure", "--token", "--host", f.url}, stdin: f.admin + "\n",
			quiet: true, stderr: []string{`Saved profile "DEFAULT" in ~/.databrickscfg.`, "Signed in as " + adminEmail + "; the token expires in 90 days"}},
		{name: "second profile from DATABRICKS_CONFIG_PROFILE", args: []string{"configure", "--host", f.url + "/"},
			env: map[string]string{"DATABRICKS_CONFIG_PROFILE": "jane"}, stdin: f.jane + "\r\n",
			quiet: true, stderr: []string{`Saved profile "jane"`, "Signed in as " + janeEmail}},
		{name: "rotating a token keeps the profile's host", args: []string{"configure", "-p", "jane"}, stdin: f.jane,
			quiet: true, stderr: []string{`Saved profile "jane"`, "Signed in as " + janeEmail}},
		{name: "host without scheme", args: []string{"configure", "--host", strings.TrimPrefix(f.url, "http://"), "-p", "bad"}, stdin: f.admin,
			code: cli.ExitUsage, stderr: []string{"has no scheme: write https://127.0.0.1"}},
		{name: "host with a path", args: []string{"configure", "--host", f.url + "/api/2.0", "-p", "bad"}, stdin: f.admin,
			code: cli.ExitUsage, stderr: []string{"has a path: use just " + f.url}},
		{name: "no host when stdin is not a terminal", args: []string{"configure", "-p", "new"}, stdin: f.admin,
			code: cli.ExitUsage, stderr: []string{"--host is required when standard input is not a terminal"}},
		{name: "empty stdin", args: []string{"configure", "--host", f.url, "-p", "bad"}, stdin: "",
			code: cli.ExitUsage, stderr: []string{"standard input was empty"}},
		{name: "token on the command line is refused", args: []string{"configure", "--host", f.url, f.admin},
			code: cli.ExitUsage, stderr: []string{"never from the command line"}},
		{name: "token with spaces", args: []string{"configure", "--host", f.url, "-p", "bad"}, stdin: "dapi 123\n",
			code: cli.ExitUsage, stderr: []string{"the token contains spaces"}},
		{name: "unreachable host: saved with a warning", args: []string{"configure", "--host", closedURL(t), "-p", "down"}, stdin: f.admin,
			quiet: true, stderr: []string{`Saved profile "down"`, "Warning: could not check the token: cannot connect to", "connection refused"}},
		{name: "rejected token: saved with a warning", args: []string{"configure", "--host", f.url, "-p", "wrong"}, stdin: "dapi00000000000000000000000000000000",
			quiet: true, stderr: []string{`Saved profile "wrong"`, `Warning: could not check the token: the token of profile "wrong" was refused`}},
	})

	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.HasPrefix(got, other) {
		t.Errorf("the other profile changed:\n%s", got)
	}
	for _, want := range []string{"[DEFAULT]\nhost = " + f.url + "\ntoken = " + f.admin + "\n", "[jane]\nhost = " + f.url + "\ntoken = " + f.jane + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "[bad]") || strings.Contains(got, "[new]") {
		t.Errorf("a failed configure wrote a profile:\n%s", got)
	}
	if fi, _ := os.Stat(cfg); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(f.home)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}

	t.Run("malformed file is left alone", func(t *testing.T) {
		home := t.TempDir()
		broken := "[DEFAULT]\nhost = https://x\nthis is not ini\n"
		os.WriteFile(filepath.Join(home, ".databrickscfg"), []byte(broken), 0o600)
		check{args: []string{"configure", "--host", f.url}, stdin: f.admin, code: cli.ExitAuth,
			stderr: []string{"~/.databrickscfg is malformed at line 3", "nothing was written"}}.run(t, home)
		if b, _ := os.ReadFile(filepath.Join(home, ".databrickscfg")); string(b) != broken {
			t.Errorf("file changed: %q", b)
		}
	})
	t.Run("DATABRICKS_CONFIG_FILE", func(t *testing.T) {
		home := t.TempDir()
		path := filepath.Join(home, "nested", "cfg")
		check{args: []string{"configure", "--host", f.url}, stdin: f.admin, env: map[string]string{"DATABRICKS_CONFIG_FILE": path},
			quiet: true, stderr: []string{"Saved profile"}}.run(t, home)
		check{args: []string{"current-user", "me"}, env: map[string]string{"DATABRICKS_CONFIG_FILE": path},
			stdout: []string{adminEmail}}.run(t, home)
	})
}

func TestClientCommands(t *testing.T) {
	f := newFixture(t)
	f.configure(t, "DEFAULT", f.admin)
	f.configure(t, "jane", f.jane)
	home := f.home
	tokenRE := `re:^dapi[0-9a-f]{32}\n$`

	runChecks(t, home, []check{
		// auth describe and current-user me.
		{name: "auth describe", args: []string{"auth", "describe"},
			stdout: []string{"Host:", f.url + ` (profile "DEFAULT" in ~/.databrickscfg)`, "User:", adminEmail, "workspace admin", "Expires:", "in 90 days", "Status:", "the token works"}},
		{name: "auth describe json", args: []string{"auth", "describe", "-o", "json"}, json: true,
			stdout: []string{`"valid": true`, `"host": "` + f.url + `"`, `"profile": "DEFAULT"`, `"userName": "` + adminEmail + `"`, `"admin": true`, `"expiry_time"`}},
		{name: "auth describe for a non-admin", args: []string{"auth", "describe", "-p", "jane"}, stdout: []string{janeEmail, "the token works"}},
		{name: "auth describe from the environment", args: []string{"auth", "describe"},
			env:    map[string]string{"DATABRICKS_HOST": f.url, "DATABRICKS_TOKEN": f.jane, "DATABRICKS_CONFIG_FILE": "/nonexistent"},
			stdout: []string{"(from DATABRICKS_HOST)", "from DATABRICKS_TOKEN", janeEmail}},
		{name: "current-user me", args: []string{"current-user", "me"}, stdout: []string{"User name:", adminEmail, "Groups:", "admins"}},
		{name: "current-user me json", args: []string{"current-user", "me", "-o", "json"}, json: true, stdout: []string{`"userName": "` + adminEmail + `"`}},

		// tokens.
		{name: "tokens create prints only the token when piped", args: []string{"tokens", "create", "--comment", "ci pipeline", "--lifetime", "90d"},
			stdout: []string{tokenRE}, stderr: []string{"Created token", `("ci pipeline")`, "expires in 90 days"}},
		{name: "tokens create --lifetime-seconds", args: []string{"tokens", "create", "--comment", "short", "--lifetime-seconds", "3600"},
			stdout: []string{tokenRE}, stderr: []string{"expires in 1 hour"}},
		{name: "tokens create json", args: []string{"tokens", "create", "--comment", "json", "-o", "json"}, json: true,
			stdout: []string{`"token_value": "dapi`, `"token_info"`, `"comment": "json"`}},
		{name: "tokens create with both lifetimes", args: []string{"tokens", "create", "--lifetime", "1d", "--lifetime-seconds", "5"},
			code: cli.ExitUsage, stderr: []string{"not both"}},
		{name: "tokens create with a bad lifetime", args: []string{"tokens", "create", "--lifetime", "soon"},
			code: cli.ExitUsage, stderr: []string{"--lifetime: lifetime must be a positive whole number"}},
		{name: "tokens create beyond the maximum", args: []string{"tokens", "create", "--lifetime", "1000d"},
			code: cli.ExitError, stderr: []string{"exceeds the maximum of 730 days"}},
		{name: "tokens list", args: []string{"tokens", "list"},
			stdout: []string{"ID", "COMMENT", "CREATED", "EXPIRES", "ci pipeline", "in 90 days", "in 1 hour"}},
		{name: "tokens list json", args: []string{"tokens", "list", "-o", "json"}, json: true, stdout: []string{`"token_id"`, `"expiry_time"`}},
		{name: "tokens revoke unknown prefix", args: []string{"tokens", "revoke", "zz"},
			code: cli.ExitNotFound, stderr: []string{`no valid token has an id starting with "zz"`}},
		{name: "tokens revoke unknown id", args: []string{"tokens", "revoke", strings.Repeat("0", 64)},
			code: cli.ExitNotFound, stderr: []string{"does not exist"}},
		{name: "tokens revoke without id", args: []string{"tokens", "revoke"}, code: cli.ExitUsage, stderr: []string{"takes TOKEN_ID"}},

		// token-management.
		{name: "token-management list", args: []string{"token-management", "list"},
			stdout: []string{"CREATED BY", "LAST USED", adminEmail, "ci pipeline", "today"}},
		{name: "token-management list json filtered", args: []string{"token-management", "list", "--created-by-username", adminEmail, "-o", "json"},
			json: true, stdout: []string{`"created_by_username": "` + adminEmail + `"`}},
		{name: "token-management get unknown", args: []string{"token-management", "get", strings.Repeat("0", 64)},
			code: cli.ExitNotFound, stderr: []string{"does not exist"}},
		{name: "token-management permissions get", args: []string{"token-management", "permissions", "get"},
			stdout: []string{"TYPE", "group", "admins", "CAN_MANAGE", "users", "CAN_USE"}},
		{name: "token-management permissions get json", args: []string{"token-management", "permissions", "get", "-o", "json"}, json: true,
			stdout: []string{`"object_type": "tokens"`}},
		{name: "token-management permissions set", args: []string{"token-management", "permissions", "set", "--group", "users", "--user", janeEmail},
			stdout: []string{"users", janeEmail, "CAN_USE"}},
		{name: "token-management permissions set json", args: []string{"token-management", "permissions", "set", "--group", "users", "-o", "json"},
			json: true, stdout: []string{`"group_name": "users"`}},
		{name: "token-management permissions set needs grantees", args: []string{"token-management", "permissions", "set"},
			code: cli.ExitUsage, stderr: []string{"--clear"}},
		{name: "token-management permissions set unknown user", args: []string{"token-management", "permissions", "set", "--user", "nobody@kiln.test"},
			code: cli.ExitError, stderr: []string{"nobody@kiln.test"}},

		// workspace-conf.
		{name: "workspace-conf get", args: []string{"workspace-conf", "get"},
			stdout: []string{"KEY", "VALUE", "enableTokensConfig", "true", "maxTokenLifetimeDays", "730"}},
		{name: "workspace-conf get json", args: []string{"workspace-conf", "get", "enableTokensConfig", "-o", "json"}, json: true,
			stdout: []string{`"enableTokensConfig": "true"`}},
		{name: "workspace-conf set", args: []string{"workspace-conf", "set", "maxTokenLifetimeDays=365"},
			stdout: []string{"maxTokenLifetimeDays", "365"}, stderr: []string{"Updated maxTokenLifetimeDays."}},
		{name: "workspace-conf set json", args: []string{"workspace-conf", "set", "maxTokenLifetimeDays=730", "-o", "json"}, json: true,
			stdout: []string{`"maxTokenLifetimeDays": "730"`}},
		{name: "workspace-conf set unknown key", args: []string{"workspace-conf", "set", "badKey=1"},
			code: cli.ExitError, stderr: []string{`Invalid keys: ["badKey"]`}},
		{name: "workspace-conf set bad value", args: []string{"workspace-conf", "set", "enableTokensConfig=maybe"},
			code: cli.ExitError, stderr: []string{"true"}},
		{name: "workspace-conf set without =", args: []string{"workspace-conf", "set", "enableTokensConfig"},
			code: cli.ExitUsage, stderr: []string{"is not KEY=VALUE"}},
		{name: "workspace-conf set without args", args: []string{"workspace-conf", "set"}, code: cli.ExitUsage, stderr: []string{"at least one KEY=VALUE"}},

		// users and service principals.
		{name: "users list", args: []string{"users", "list"}, stdout: []string{"USER NAME", adminEmail, janeEmail, "ADMIN"}},
		{name: "users list json", args: []string{"users", "list", "-o", "json"}, json: true, stdout: []string{`"userName": "` + janeEmail + `"`}},
		{name: "users create", args: []string{"users", "create", "bob@kiln.test", "--display-name", "Bob"},
			stdout: []string{"User name:", "bob@kiln.test", "Display name:", "Bob"}, stderr: []string{"Created user bob@kiln.test."}},
		{name: "users create admin json", args: []string{"users", "create", "ann@kiln.test", "--admin", "-o", "json"}, json: true,
			stdout: []string{`"userName": "ann@kiln.test"`, `"display": "admins"`}},
		{name: "users create duplicate", args: []string{"users", "create", "bob@kiln.test"}, code: cli.ExitError, stderr: []string{"bob@kiln.test"}},
		{name: "users create unknown group", args: []string{"users", "create", "eve@kiln.test", "--group", "nosuch"},
			code: cli.ExitNotFound, stderr: []string{"Group nosuch does not exist."}},
		{name: "users delete by name", args: []string{"users", "delete", "bob@kiln.test"}, quiet: true, stderr: []string{"Deleted user bob@kiln.test."}},
		{name: "users delete json", args: []string{"users", "delete", "ann@kiln.test", "-o", "json"}, json: true, stdout: []string{`"deleted": true`}},
		{name: "users delete unknown name", args: []string{"users", "delete", "bob@kiln.test"}, code: cli.ExitNotFound, stderr: []string{"no user is named bob@kiln.test"}},
		{name: "users delete unknown id", args: []string{"users", "delete", "12345"}, code: cli.ExitNotFound, stderr: []string{"does not exist"}},
		{name: "service-principals create", args: []string{"service-principals", "create", "--display-name", "etl", "--application-id", "6f5ccf28-d83a-4957-9bfb-5bbfac551410"},
			stdout: []string{"Application ID:", "6f5ccf28-d83a-4957-9bfb-5bbfac551410", "etl"}},
		{name: "service-principals create json", args: []string{"service-principals", "create", "--display-name", "ci", "-o", "json"}, json: true,
			stdout: []string{`"applicationId": "`, `"displayName": "ci"`}},
		{name: "service-principals create needs a name", args: []string{"service-principals", "create"}, code: cli.ExitUsage, stderr: []string{"--display-name is required"}},
		{name: "service-principals list", args: []string{"service-principals", "list"}, stdout: []string{"APPLICATION ID", "6f5ccf28-d83a-4957-9bfb-5bbfac551410", "etl", "ci"}},
		{name: "service-principals list json", args: []string{"service-principals", "list", "-o", "json"}, json: true, stdout: []string{`"applicationId": "6f5ccf28`}},
		{name: "service-principals delete", args: []string{"service-principals", "delete", "6f5ccf28-d83a-4957-9bfb-5bbfac551410"},
			quiet: true, stderr: []string{"Deleted service principal 6f5ccf28-d83a-4957-9bfb-5bbfac551410."}},

		// audit.
		{name: "audit list", args: []string{"audit", "list", "--limit", "1000"},
			stdout: []string{"ACTION", "ACTOR", "token.create", "principal.delete", "conf.update", adminEmail}},
		{name: "audit list filtered json", args: []string{"audit", "list", "--action", "conf.update", "--since", "1h", "-o", "json"}, json: true,
			stdout: []string{`"action": "conf.update"`, `"events"`}},
		{name: "audit list paging hint", args: []string{"audit", "list", "--limit", "1"}, stderr: []string{"More events: add --before-id"}},
		{name: "audit list nothing", args: []string{"audit", "list", "--action", "no.such"}, quiet: true, stderr: []string{"No matching events."}},
		{name: "audit list bad since", args: []string{"audit", "list", "--since", "yesterday-ish"}, code: cli.ExitUsage, stderr: []string{"--since"}},
		{name: "audit list bad limit", args: []string{"audit", "list", "--limit", "0"}, code: cli.ExitUsage, stderr: []string{"--limit"}},

		// A non-admin.
		{name: "non-admin token-management list", args: []string{"token-management", "list", "-p", "jane"},
			code: cli.ExitPermission, stderr: []string{"permission denied: Only workspace admins can do this."}},
		{name: "non-admin workspace-conf", args: []string{"workspace-conf", "get", "-p", "jane"}, code: cli.ExitPermission, stderr: []string{"permission denied"}},
		{name: "non-admin audit", args: []string{"audit", "list", "-p", "jane"}, code: cli.ExitPermission, stderr: []string{"permission denied"}},
		{name: "non-admin users create", args: []string{"users", "create", "x@kiln.test", "-p", "jane"}, code: cli.ExitPermission, stderr: []string{"permission denied"}},
		{name: "non-admin tokens list", args: []string{"tokens", "list", "-p", "jane"}, stdout: []string{"jane"}},

		// Usage errors and completion.
		{name: "unknown subcommand", args: []string{"tokens", "lst"}, code: cli.ExitUsage, stderr: []string{`unknown command "lst" for "kiln tokens" (did you mean "list"?)`}},
		{name: "unknown flag", args: []string{"tokens", "list", "--bogus"}, code: cli.ExitUsage, stderr: []string{"unknown flag: --bogus"}},
		{name: "bad output", args: []string{"tokens", "list", "-o", "yaml"}, code: cli.ExitUsage, stderr: []string{"--output must be table or json"}},
		{name: "completion bash", args: []string{"completion", "bash"}, stdout: []string{"bash completion V2 for kiln"}},
		{name: "completion zsh", args: []string{"completion", "zsh"}, stdout: []string{"#compdef kiln"}},
		{name: "completion fish", args: []string{"completion", "fish"}, stdout: []string{"complete -c kiln"}},
		{name: "completion without shell", args: []string{"completion"}, code: cli.ExitUsage, stderr: []string{"name one shell"}},
		{name: "profile completion", args: []string{"__complete", "tokens", "list", "--profile", ""}, stdout: []string{"DEFAULT\njane\n"}},
	})

	// Revoking by prefix and by whole id, through both commands.
	t.Run("revoke", func(t *testing.T) {
		var toks []struct {
			TokenID string `json:"token_id"`
			Comment string `json:"comment"`
		}
		r := check{args: []string{"tokens", "list", "-o", "json"}, json: true}.run(t, home)
		if err := json.Unmarshal([]byte(r.stdout), &toks); err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		for _, tk := range toks {
			ids[tk.Comment] = tk.TokenID
		}
		if ids["ci pipeline"] == "" || ids["short"] == "" || ids["json"] == "" {
			t.Fatalf("tokens: %v", toks)
		}
		runChecks(t, home, []check{
			{name: "tokens revoke by prefix", args: []string{"tokens", "revoke", ids["ci pipeline"][:12]}, quiet: true, stderr: []string{"Revoked token " + ids["ci pipeline"]}},
			{name: "tokens delete json", args: []string{"tokens", "delete", ids["short"], "-o", "json"}, json: true, stdout: []string{`"revoked": true`}},
			{name: "token-management get", args: []string{"token-management", "get", ids["json"][:10]},
				stdout: []string{"ID:", ids["json"], "Comment:", "json", "Created by:", adminEmail, "Expires:", "in 90 days"}},
			{name: "token-management get json", args: []string{"token-management", "get", ids["json"], "-o", "json"}, json: true,
				stdout: []string{`"token_id": "` + ids["json"] + `"`, `"owner_id"`}},
			{name: "token-management revoke", args: []string{"token-management", "revoke", ids["json"]}, quiet: true, stderr: []string{"Revoked token"}},
			{name: "token-management delete json", args: []string{"token-management", "delete", ids["json"], "-o", "json"},
				code: cli.ExitNotFound, stderr: []string{"does not exist"}},
		})
		r = check{args: []string{"tokens", "list"}}.run(t, home)
		for _, c := range []string{"ci pipeline", "short", "json"} {
			if strings.Contains(r.stdout, c+" ") {
				t.Errorf("revoked token %q still listed:\n%s", c, r.stdout)
			}
		}
	})
}

// closedURL returns the URL of a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestFailures(t *testing.T) {
	f := newFixture(t)
	f.configure(t, "DEFAULT", f.admin)

	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><html><body>Welcome to nginx!</body></html>")
	}))
	defer html.Close()
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()

	// A token that expires: saved while it works, so the CLI learns when.
	short := 3 * time.Second
	expiring := f.mint(t, adminEmail, &short, "short-lived")
	expired := time.Now().Add(short + 100*time.Millisecond)
	f.configure(t, "short", expiring)
	// A token revoked after it was saved.
	revokedTok := f.mint(t, adminEmail, nil, "to revoke")
	f.configure(t, "revoked", revokedTok)
	nt, err := f.srv.Service.ListTokens(f.offline, service.TokenListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range nt {
		if tk.Comment == "to revoke" {
			if err := f.srv.Service.RevokeToken(f.offline, tk.ID); err != nil {
				t.Fatal(err)
			}
		}
	}

	empty := t.TempDir()
	malformed := filepath.Join(t.TempDir(), "cfg")
	os.WriteFile(malformed, []byte("[DEFAULT]\nhost = "+f.url+"\ntoken "+f.admin+"\n"), 0o600)
	unreadable := t.TempDir() // a directory: reading it fails
	env := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	checks := []check{
		{name: "missing profile file", args: []string{"tokens", "list"}, env: env("DATABRICKS_CONFIG_FILE", filepath.Join(empty, "none")),
			code: cli.ExitAuth, stderr: []string{"no host configured: run `kiln configure --token` or set DATABRICKS_HOST"}},
		{name: "missing profile file with a named profile", args: []string{"tokens", "list", "-p", "ci"}, env: env("DATABRICKS_CONFIG_FILE", filepath.Join(empty, "none")),
			code: cli.ExitAuth, stderr: []string{`profile "ci" not found:`, "kiln configure --token --profile ci"}},
		{name: "malformed profile file", args: []string{"tokens", "list"}, env: env("DATABRICKS_CONFIG_FILE", malformed),
			code: cli.ExitAuth, stderr: []string{"is malformed at line 3"}},
		{name: "unreadable profile file", args: []string{"tokens", "list"}, env: env("DATABRICKS_CONFIG_FILE", unreadable),
			code: cli.ExitAuth, stderr: []string{"cannot read", "is a directory"}},
		{name: "unknown profile", args: []string{"tokens", "list", "--profile", "nope"},
			code: cli.ExitAuth, stderr: []string{`profile "nope" is not in ~/.databrickscfg (profiles: DEFAULT, short, revoked)`}},
		{name: "unknown profile from the environment", args: []string{"current-user", "me"}, env: env("DATABRICKS_CONFIG_PROFILE", "nope"),
			code: cli.ExitAuth, stderr: []string{`profile "nope" is not in`}},
		{name: "host without scheme", args: []string{"tokens", "list"}, env: env("DATABRICKS_HOST", strings.TrimPrefix(f.url, "http://"), "DATABRICKS_TOKEN", f.admin),
			code: cli.ExitAuth, stderr: []string{"has no scheme: write https://127.0.0.1", "(from DATABRICKS_HOST)"}},
		{name: "host with a path", args: []string{"tokens", "list"}, env: env("DATABRICKS_HOST", f.url+"/api/2.0", "DATABRICKS_TOKEN", f.admin),
			code: cli.ExitAuth, stderr: []string{"has a path: use just " + f.url}},
		{name: "environment overrides a named profile", args: []string{"current-user", "me", "-p", "DEFAULT"}, env: env("DATABRICKS_TOKEN", f.jane),
			stdout: []string{janeEmail}},
		{name: "environment token without a profile skips the file", args: []string{"current-user", "me"}, env: env("DATABRICKS_TOKEN", f.jane),
			code: cli.ExitAuth, stderr: []string{"no host configured: DATABRICKS_TOKEN is set, and credentials from the environment make kiln (like the Databricks SDKs) ignore ~/.databrickscfg (its profile \"DEFAULT\" has a host); set DATABRICKS_HOST too, or name the profile with -p (or DATABRICKS_CONFIG_PROFILE)"}},
		{name: "environment host without a profile skips the file", args: []string{"current-user", "me"}, env: env("DATABRICKS_HOST", f.url),
			code: cli.ExitAuth, stderr: []string{"no token configured for " + f.url + ": DATABRICKS_HOST is set", "ignore ~/.databrickscfg (its profile \"DEFAULT\" has a token); set DATABRICKS_TOKEN too, or name the profile with -p"}},
		{name: "environment token with the profile named", args: []string{"current-user", "me", "-p", "short"}, env: env("DATABRICKS_TOKEN", f.jane),
			stdout: []string{janeEmail}},
		{name: "describe with the host unreachable", args: []string{"auth", "describe"}, env: env("DATABRICKS_HOST", closedURL(t), "DATABRICKS_TOKEN", f.admin),
			code: cli.ExitError, report: true, stdout: []string{"Status:", "not tested: the host is unreachable"}, stderr: []string{"connection refused; is the server running there?"}},
		{name: "describe with the host unreachable, JSON", args: []string{"auth", "describe", "-o", "json"}, env: env("DATABRICKS_HOST", closedURL(t), "DATABRICKS_TOKEN", f.admin),
			code: cli.ExitError, json: true, stdout: []string{`"valid": false`, `"status": "not tested: the host is unreachable`}},
		{name: "describe of a server that is not kiln", args: []string{"auth", "describe"}, env: env("DATABRICKS_HOST", html.URL, "DATABRICKS_TOKEN", f.admin),
			code: cli.ExitError, report: true, stdout: []string{"Status:", "not tested: the host does not answer like a kiln server"}},
		{name: "unreachable host", args: []string{"tokens", "list"}, env: env("DATABRICKS_HOST", closedURL(t), "DATABRICKS_TOKEN", f.admin),
			code: cli.ExitError, stderr: []string{"cannot connect to http://127.0.0.1:", "connection refused; is the server running there?"}},
		{name: "not a kiln server", args: []string{"current-user", "me"}, env: env("DATABRICKS_HOST", html.URL, "DATABRICKS_TOKEN", f.admin),
			code: cli.ExitError, stderr: []string{html.URL + " does not answer like a kiln server", "HTML page instead of JSON"}},
		{name: "untrusted TLS certificate", args: []string{"tokens", "list"}, env: env("DATABRICKS_HOST", tlsSrv.URL, "DATABRICKS_TOKEN", f.admin),
			code: cli.ExitError, stderr: []string{"TLS error: the certificate of " + tlsSrv.URL + " is not trusted"}},
		{name: "https to a plain server", args: []string{"tokens", "list"}, env: env("DATABRICKS_HOST", strings.Replace(f.url, "http://", "https://", 1), "DATABRICKS_TOKEN", f.admin),
			code: cli.ExitError, stderr: []string{"does not speak TLS; use " + f.url}},
		{name: "unknown token", args: []string{"tokens", "list"}, env: env("DATABRICKS_HOST", f.url, "DATABRICKS_TOKEN", "dapi00000000000000000000000000000000"),
			code: cli.ExitAuth, stderr: []string{"the token of DATABRICKS_TOKEN was refused (Invalid access token.): it is expired, revoked or mistyped", "kiln tokens create"}},
		{name: "revoked token", args: []string{"tokens", "list", "-p", "revoked"},
			code: cli.ExitAuth, stderr: []string{`the token of profile "revoked" was refused (Invalid access token.): it was revoked`, "kiln configure --token"}},
	}
	runChecks(t, f.home, checks)

	t.Run("expired token", func(t *testing.T) {
		time.Sleep(time.Until(expired))
		for _, c := range []check{
			{args: []string{"tokens", "list", "-p", "short"}, code: cli.ExitAuth,
				stderr: []string{`re:Error: the token of profile "short" expired (just now|\d+ seconds? ago): create a new one with ` + "`kiln tokens create`"}},
			{args: []string{"auth", "describe", "-p", "short"}, code: cli.ExitAuth,
				stdout: []string{"Status:", "the token does not work"}, report: true},
			{args: []string{"auth", "describe", "-p", "short", "-o", "json"}, code: cli.ExitAuth, json: true,
				stdout: []string{`"valid": false`, `expired`}},
		} {
			c.run(t, f.home)
		}
	})
}

// TestTokensDisabled checks what the client says while tokens are
// disabled workspace-wide: not to create a new token (which would be
// refused too), but that an admin must enable them, and how.
func TestTokensDisabled(t *testing.T) {
	f := newFixture(t)
	f.configure(t, "DEFAULT", f.jane)
	if err := f.srv.Service.SetConf(f.offline, map[string]string{kiln.ConfEnableTokens: "false"}); err != nil {
		t.Fatal(err)
	}
	disabled := []string{`the token of profile "DEFAULT" was refused because personal access tokens are disabled workspace-wide on ` + f.url,
		"until a workspace admin enables them", "Admin Console > Access Control", "`kiln admin conf set enableTokensConfig=true`"}
	for _, c := range []check{
		{name: "list", args: []string{"tokens", "list"}, code: cli.ExitAuth, stderr: disabled},
		{name: "create", args: []string{"tokens", "create", "--comment", "new"}, code: cli.ExitAuth, stderr: disabled},
		{name: "describe", args: []string{"auth", "describe"}, code: cli.ExitAuth, report: true,
			stdout: []string{"Status:", "the token does not work"}, stderr: disabled},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := c.run(t, f.home); strings.Contains(r.stderr, "kiln tokens create") {
				t.Errorf("advises creating a token, which cannot work while tokens are disabled:\n%v", r)
			}
		})
	}
	if err := f.srv.Service.SetConf(f.offline, map[string]string{kiln.ConfEnableTokens: "true"}); err != nil {
		t.Fatal(err)
	}
	check{args: []string{"current-user", "me"}, stdout: []string{janeEmail}}.run(t, f.home)
}

// TestHelp checks that every command has help with an example, and that
// --help works everywhere.
func TestHelp(t *testing.T) {
	root := cli.NewRoot(cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		t.Run(c.CommandPath(), func(t *testing.T) {
			if strings.TrimSpace(c.Example) == "" {
				t.Errorf("%s has no example", c.CommandPath())
			}
			if c.Short == "" {
				t.Errorf("%s has no short description", c.CommandPath())
			}
			var out bytes.Buffer
			args := append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "kiln")), "--help")
			if code := cli.Run(args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &out}); code != 0 {
				t.Errorf("%v: exit %d\n%s", args, code, out.String())
			}
			if !strings.Contains(out.String(), "Examples:") {
				t.Errorf("%v shows no example:\n%s", args, out.String())
			}
			// pflag takes a `quoted` word of a flag's usage as the name of
			// its value, so a backquote garbles the help line.
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if strings.Contains(f.Usage, "`") {
					t.Errorf("%s --%s: a backquote in the usage garbles its help line: %q", c.CommandPath(), f.Name, f.Usage)
				}
			})
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
