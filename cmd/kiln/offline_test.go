package main_test

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var tokenIDRE = regexp.MustCompile(`token ([0-9a-f]{64})`)

// createToken runs kiln admin tokens create and returns the token and its
// id, failing the test unless it succeeds.
func createToken(t *testing.T, dir string) (value, id string) {
	t.Helper()
	out, stderr, code := admin(t, dir, "", "tokens", "create", "--user", "ops@example.com", "--comment", "offline")
	m := tokenIDRE.FindStringSubmatch(stderr)
	if code != 0 || !tokenRE.MatchString(out) || m == nil {
		t.Fatalf("tokens create: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	return strings.TrimSpace(out), m[1]
}

// TestOfflineChangesApplyOnTheVeryNextRequest: whatever kiln admin changes
// is honoured by every server on the data directory (here two) from the
// request right after the command returns: no waiting, no retry.
func TestOfflineChangesApplyOnTheVeryNextRequest(t *testing.T) {
	// A deep data directory too: its socket paths are longer than a Unix
	// socket address can hold, so they are reached another way.
	deep := filepath.Join(t.TempDir(), strings.Repeat("a-rather-long-directory-name/", 4), "kiln-data")
	for _, dir := range []string{t.TempDir(), deep} {
		t.Run(strconv.Itoa(len(dir))+"-byte-path", func(t *testing.T) { offlineChangesApplyAtOnce(t, dir) })
	}
}

func offlineChangesApplyAtOnce(t *testing.T, dir string) {
	env := []string{"KILN_ADMIN_EMAIL=ops@example.com", "KILN_ADMIN_PASSWORD=ops-password-123"}
	servers := []*proc{serve(t, dir, env...), serve(t, dir, env...)}
	expect := func(what, tok string, want int) {
		t.Helper()
		for i, p := range servers {
			if got := status(t, p.url, tok); got != want {
				t.Fatalf("%s: server %d answered %d at once, want %d", what, i+1, got, want)
			}
		}
	}
	if _, stderr, code := admin(t, dir, "", "conf", "set", "enableTokensConfig=true"); code != 0 {
		t.Fatalf("conf set: exit %d: %s", code, stderr)
	}
	var ids []string
	for i := range 20 {
		tok, id := createToken(t, dir)
		expect("a token created offline", tok, 200)
		ids = append(ids, id)
		if i%5 == 4 {
			// Revoked by a unique prefix, as kiln tokens revoke takes it.
			prefix := uniquePrefix(id, ids)
			if _, stderr, code := admin(t, dir, "", "tokens", "revoke", prefix); code != 0 || !strings.Contains(stderr, id) {
				t.Fatalf("revoke %s: exit %d, stderr %q; want it to name %s", prefix, code, stderr, id)
			}
			expect("a token revoked offline", tok, 403)
			ids = ids[:len(ids)-1]
		}
	}

	tok, _ := createToken(t, dir)
	admin(t, dir, "", "conf", "set", "enableTokensConfig=false")
	expect("tokens disabled offline", tok, 403)
	admin(t, dir, "", "conf", "set", "enableTokensConfig=true")
	expect("tokens enabled again offline", tok, 200)

	// A server that died leaves its socket behind: the next command is not
	// delayed by it, removes it, and the survivor still applies at once.
	servers[1].cmd.Process.Signal(syscall.SIGKILL)
	<-servers[1].done
	servers[1].done <- nil
	servers = servers[:1]
	start := time.Now()
	tok, _ = createToken(t, dir)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("tokens create with a dead server's socket took %v", took)
	}
	expect("a token created after a server died", tok, 200)
	if socks, _ := filepath.Glob(filepath.Join(dir, "notify", "*.sock")); len(socks) != 1 {
		t.Errorf("sockets after a server died: %v, want only the live server's", socks)
	}
}

// uniquePrefix is the shortest prefix of id (at least 8 characters) that
// no other id in ids shares.
func uniquePrefix(id string, ids []string) string {
	for n := 8; n < len(id); n++ {
		unique := true
		for _, other := range ids {
			if other != id && strings.HasPrefix(other, id[:n]) {
				unique = false
			}
		}
		if unique {
			return id[:n]
		}
	}
	return id
}

// TestAdminTokensRevokeByPrefix: kiln admin tokens revoke takes any
// unique prefix, and refuses one that several tokens share or none has,
// with the client's words.
func TestAdminTokensRevokeByPrefix(t *testing.T) {
	dir := t.TempDir()
	serve(t, dir, "KILN_ADMIN_EMAIL=ops@example.com")
	admin(t, dir, "", "conf", "set", "enableTokensConfig=true")
	// Seventeen ids over sixteen hex digits: two share a first character.
	byFirst := map[byte][]string{}
	var shared byte
	for range 17 {
		_, id := createToken(t, dir)
		byFirst[id[0]] = append(byFirst[id[0]], id)
		if len(byFirst[id[0]]) == 2 {
			shared = id[0]
		}
	}
	free := byte(0)
	for _, c := range []byte("0123456789abcdef") {
		if len(byFirst[c]) == 0 {
			free = c
		}
	}
	tests := []struct {
		arg  string
		code int
		msg  string
	}{
		{string(shared), 2, "tokens have ids starting with"},
		{"", 2, "the token id is empty"},
		{strings.Repeat("0", 64), 1, "does not exist"},
	}
	if free != 0 {
		tests = append(tests, struct {
			arg  string
			code int
			msg  string
		}{string(free) + "0", 4, "no valid token has an id starting with"})
	}
	for _, tt := range tests {
		_, stderr, code := admin(t, dir, "", "tokens", "revoke", tt.arg)
		if code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("tokens revoke %q: exit %d, stderr %q; want exit %d and %q", tt.arg, code, stderr, tt.code, tt.msg)
		}
	}
	id := byFirst[shared][0]
	if _, stderr, code := admin(t, dir, "", "tokens", "revoke", strings.ToUpper(id[:10])); code != 0 {
		t.Fatalf("revoke by an upper-case prefix: exit %d: %s", code, stderr)
	}
	if out, _, _ := admin(t, dir, "", "tokens", "list"); strings.Contains(out, id) {
		t.Errorf("the revoked token is still listed:\n%s", out)
	}
}

// TestAdminRefusesAnUninitialisedDataDirectory: offline commands run in
// the wrong place name the directory they looked at and how to point them
// at the right one, and create nothing there.
func TestAdminRefusesAnUninitialisedDataDirectory(t *testing.T) {
	commands := [][]string{
		{"tokens", "create", "--user", "admin@kiln.local"},
		{"tokens", "revoke", "5f2c0e3b9d8a"},
		{"tokens", "list"},
		{"users", "create", "--email", "jane@example.com"},
		{"conf", "set", "enableTokensConfig=true"},
		{"conf", "get"},
		{"migrate"},
		{"migrate", "--status"},
		{"backup", filepath.Join(t.TempDir(), "copy.db")},
		{"vacuum"},
	}
	for _, place := range []string{"empty", "missing"} {
		dir := filepath.Join(t.TempDir(), "kiln-data")
		if place == "empty" {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		for _, args := range commands {
			_, stderr, code := admin(t, dir, "", args...)
			if code == 0 || !strings.Contains(stderr, dir) || !strings.Contains(stderr, "--data-dir") || !strings.Contains(stderr, "KILN_DATA_DIR") {
				t.Errorf("%s directory: kiln admin %s: exit %d, stderr %q; want a failure naming %s, --data-dir and KILN_DATA_DIR",
					place, strings.Join(args, " "), code, stderr, dir)
			}
			entries, err := os.ReadDir(dir)
			switch {
			case place == "missing" && !os.IsNotExist(err):
				t.Fatalf("kiln admin %s created %s", strings.Join(args, " "), dir)
			case place == "empty" && len(entries) > 0:
				t.Fatalf("kiln admin %s created %s in %s", strings.Join(args, " "), entries[0].Name(), dir)
			}
		}
	}
}

// TestDataDirectoryIsPrivate: after a server has started and done some
// work, every file kiln made in the data directory is readable by its
// owner only (0600; the refresh socket too) and every directory is 0700.
func TestDataDirectoryIsPrivate(t *testing.T) {
	dir := t.TempDir()
	p := serve(t, dir, "KILN_ADMIN_EMAIL=ops@example.com")
	admin(t, dir, "", "conf", "set", "enableTokensConfig=true")
	tok, _ := createToken(t, dir)
	for _, call := range []struct{ path, body string }{
		{"/api/2.0/token/create", `{"comment":"api"}`},
		{"/api/2.0/workspace/import", `{"path":"/Shared/etl","format":"SOURCE","language":"PYTHON","content":"cHJpbnQoMSk="}`},
		{"/api/2.0/dbfs/put", `{"path":"/data/a.txt","contents":"aGVsbG8="}`},
		{"/api/2.0/dbfs/mkdirs", `{"path":"/data/deep/er"}`},
		{"/api/2.0/secrets/scopes/create", `{"scope":"s"}`},
		{"/api/2.0/secrets/put", `{"scope":"s","key":"k","string_value":"v"}`},
	} {
		req, _ := http.NewRequest("POST", p.url+call.path, strings.NewReader(call.body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d", call.path, resp.StatusCode)
		}
	}
	if _, stderr, code := admin(t, dir, "", "backup", filepath.Join(dir, "backup.db")); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}
	var seen []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		seen = append(seen, rel)
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if rel != "." && fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"kiln.db", "kiln.db-wal", "kiln.db-shm", "token.key", "secrets.key", "backup.db", "notify"} {
		found := false
		for _, s := range seen {
			found = found || s == must
		}
		if !found {
			t.Errorf("%s not found in the data directory (saw %v): the walk checked less than it should", must, seen)
		}
	}
}

var vacuumRE = regexp.MustCompile(`Removed (\d+) finished runs, (\d+) change notices and the files of (\d+) runs\.\nDatabase size: .+ before, .+ after\.`)

// TestAdminVacuum: kiln admin vacuum prunes the change notices beside a
// running server, which then finds its position pruned, reloads, and goes
// on honouring every token as before; the next change applies at once.
func TestAdminVacuum(t *testing.T) {
	dir := t.TempDir()
	p := serve(t, dir, "KILN_ADMIN_EMAIL=ops@example.com")
	admin(t, dir, "", "conf", "set", "enableTokensConfig=true")
	kept, _ := createToken(t, dir)
	gone, goneID := createToken(t, dir)
	out, stderr, code := admin(t, dir, "", "vacuum", "--change-retention", "1ms")
	m := vacuumRE.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("vacuum: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if n, _ := strconv.Atoi(m[2]); m[1] != "0" || n < 3 {
		t.Errorf("vacuum removed %s runs and %s notices; want 0 runs and the 3 or more notices of the conf and tokens", m[1], m[2])
	}
	if got := status(t, p.url, kept); got != 200 {
		t.Errorf("a token from before the vacuum: %d", got)
	}
	if _, stderr, code := admin(t, dir, "", "tokens", "revoke", goneID); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, stderr)
	}
	if got := status(t, p.url, gone); got != 403 {
		t.Errorf("a token revoked after the vacuum: %d, want 403 at once", got)
	}
	// Again, with nothing left to prune.
	if out, _, code := admin(t, dir, "", "vacuum", "--change-retention", "1h"); code != 0 || !strings.Contains(out, "Removed 0 finished runs, 0 change notices") {
		t.Errorf("second vacuum: exit %d, %q", code, out)
	}
}
