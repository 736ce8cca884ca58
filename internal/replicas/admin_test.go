package replicas

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/internal/pgtest"
)

// single is a single-node kiln on SQLite in dataDir, reusing the cluster
// helpers with an environment that names no database.
func single(t *testing.T, dataDir string) *cluster {
	return &cluster{t: t, keyDir: dataDir, client: emptyCluster(t, "", "").client}
}

// sqliteEnv is the environment of a single-node kiln: no shared database,
// keys from the data directory.
func sqliteEnv() []string {
	return append(os.Environ(),
		"KILN_ADMIN_EMAIL="+adminEmail, "KILN_ADMIN_PASSWORD="+adminPassword, "KILN_AUTH_FAILURE_BURST=-1")
}

// serveSQLite starts kiln serve on dataDir.
func (c *cluster) serveSQLite(dataDir string) *replica {
	c.t.Helper()
	r := c.startWith(len(c.replicas)+1, sqliteEnv(), "--data-dir", dataDir)
	c.waitReady(r)
	c.replicas = append(c.replicas, r)
	return r
}

// adminSQLite runs kiln admin on dataDir and fails the test unless it
// exits with want.
func adminSQLite(t *testing.T, dataDir string, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, code := runKiln(sqliteEnv(), append([]string{"admin", "--data-dir", dataDir}, args...)...)
	if code != want {
		t.Fatalf("kiln admin %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, errOut)
	}
	return strings.TrimSpace(out), errOut
}

// TestAdminMigrateAheadOfRollout: an operator migrates a new database with
// `kiln admin migrate`, checking with --status before and after; replicas
// then start on it with nothing left to do.
func TestAdminMigrateAheadOfRollout(t *testing.T) {
	c := emptyCluster(t, pgtest.NewDatabase(t), t.TempDir())
	writeKey(t, filepath.Join(c.keyDir, "token.key"))
	writeKey(t, filepath.Join(c.keyDir, "secrets.key"))
	pending := regexp.MustCompile(`(?m)^0001\s+0001_init\.sql\s+pending$`)
	applied := regexp.MustCompile(`(?m)^0001\s+0001_init\.sql\s+applied \d{4}-`)

	status := c.admin("migrate", "--status")
	if !pending.MatchString(status) || applied.MatchString(status) {
		t.Fatalf("--status on a new database:\n%s\nwant 0001 pending", status)
	}
	out := c.admin("migrate")
	if !strings.Contains(out, "applied 0001_init.sql") {
		t.Errorf("migrate: got %q, want it to name 0001_init.sql", out)
	}
	if status := c.admin("migrate", "--status"); !applied.MatchString(status) || strings.Contains(status, "pending") {
		t.Errorf("--status after migrate:\n%s\nwant every migration applied", status)
	}
	if out := c.admin("migrate"); out != "" {
		t.Errorf("second migrate printed %q, want nothing applied", out)
	}
	c.startReplicas(2)
	admin := c.adminToken()
	for _, r := range c.replicas {
		if got := c.me(r, admin); got != 200 {
			t.Errorf("replica %d: /Me got %d", r.n, got)
		}
	}
}

// TestAdminBackupAndRestoreSQLite: a backup taken while kiln serves is
// restored after it stops, bringing back exactly the state at the backup;
// restore refuses while kiln runs.
func TestAdminBackupAndRestoreSQLite(t *testing.T) {
	dir := t.TempDir()
	c := single(t, dir)
	srv := c.serveSQLite(dir)
	adminSQLite(t, dir, 0, "conf", "set", "enableTokensConfig=true")
	before, _ := adminSQLite(t, dir, 0, "tokens", "create", "--user", adminEmail)
	backup := filepath.Join(t.TempDir(), "kiln-backup.db")
	adminSQLite(t, dir, 0, "backup", backup)
	after, _ := adminSQLite(t, dir, 0, "tokens", "create", "--user", adminEmail)

	_, errOut := adminSQLite(t, dir, 1, "restore", backup)
	if !strings.Contains(errOut, "stop it first") {
		t.Errorf("restore while serving: stderr %q, want it to say to stop kiln", errOut)
	}
	c.stop(srv)
	_, errOut = adminSQLite(t, dir, 0, "restore", backup)
	if !strings.Contains(errOut, "before-restore") {
		t.Errorf("restore: stderr %q, want it to name the kept database", errOut)
	}
	srv = c.serveSQLite(dir)
	c.within(propagation, "the backed-up token works", func() bool { return c.me(srv, before) == 200 })
	if got := c.me(srv, after); got != 403 {
		t.Errorf("token created after the backup, after restoring it: got %d, want 403", got)
	}
}

// TestAdminMigrateStoreToReplicas moves a single-node SQLite install to
// PostgreSQL and two replicas: every token, user and setting comes along,
// and the old tokens work on both replicas.
func TestAdminMigrateStoreToReplicas(t *testing.T) {
	dir := t.TempDir()
	s := single(t, dir)
	srv := s.serveSQLite(dir)
	adminSQLite(t, dir, 0, "conf", "set", "enableTokensConfig=true", "maxTokenLifetimeDays=30")
	adminSQLite(t, dir, 0, "users", "create", "--email", "jane@example.com")
	jane, _ := adminSQLite(t, dir, 0, "tokens", "create", "--user", "jane@example.com")
	admin, _ := adminSQLite(t, dir, 0, "tokens", "create", "--user", adminEmail)
	revoked, _ := adminSQLite(t, dir, 0, "tokens", "create", "--user", adminEmail)
	// A single node learns of offline changes by polling, within a second.
	s.within(propagation, "the offline token works", func() bool { return s.me(srv, revoked) == 200 })
	m := s.must(srv, 200, "GET", "/api/kiln/v1/token/current", revoked, nil).json(t)
	info, _ := m["token_info"].(map[string]any)
	s.must(srv, 200, "POST", "/api/2.0/token/delete", revoked, map[string]any{"token_id": info["token_id"]})
	s.stop(srv)

	dbURL := pgtest.NewDatabase(t)
	out, errOut := adminSQLite(t, dir, 0, "migrate-store", "--from", "sqlite:"+dir, "--to", dbURL)
	for _, table := range []string{"tokens", "principals", "settings", "audit"} {
		if !strings.Contains(out, table) {
			t.Errorf("migrate-store report lacks %s:\n%s", table, out)
		}
	}
	if !strings.Contains(errOut, "verified") || !strings.Contains(errOut, filepath.Join(dir, "token.key")) {
		t.Errorf("migrate-store stderr %q: want it to say the copy was verified and name the key files", errOut)
	}

	// The replicas use the single node's key files.
	c := emptyCluster(t, dbURL, dir)
	c.startReplicas(2)
	for _, r := range c.replicas {
		for _, tc := range []struct {
			name, token string
			want        int
		}{{"jane", jane, 200}, {"admin", admin, 200}, {"revoked", revoked, 403}} {
			if got := c.me(r, tc.token); got != tc.want {
				t.Errorf("replica %d, %s's token from SQLite: got %d, want %d", r.n, tc.name, got, tc.want)
			}
		}
		resp := c.do(r, "POST", "/api/2.0/token/create", admin, map[string]any{"lifetime_seconds": 31 * 86400})
		if resp.status != 400 {
			t.Errorf("replica %d: a token above the migrated 30-day cap: got %d, want 400", r.n, resp.status)
		}
	}
	// A second migrate-store into the now initialised database is refused.
	_, errOut = adminSQLite(t, dir, 1, "migrate-store", "--from", "sqlite:"+dir, "--to", dbURL)
	if !strings.Contains(errOut, "already holds a workspace") {
		t.Errorf("second migrate-store: stderr %q, want a refusal naming the workspace", errOut)
	}
}
