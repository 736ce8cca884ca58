package replicas

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/pgtest"
)

// pgPropagation is the bound within which every replica honours what
// kiln admin changed on the shared database.
const pgPropagation = 100 * time.Millisecond

// TestAdminChangesReachEveryReplicaAtOnce: a token kiln admin creates
// works on every replica at its first use, and a revocation or disabling
// tokens by kiln admin is honoured by every replica within 100ms of the
// command's return.
func TestAdminChangesReachEveryReplicaAtOnce(t *testing.T) {
	c := newCluster(t, 3)
	c.adminToken()
	idRE := regexp.MustCompile(`token ([0-9a-f]{64})`)
	var worst time.Duration
	for i := range 20 {
		out, errOut, code := runKiln(c.env(), "admin", "tokens", "create", "--user", adminEmail)
		m := idRE.FindStringSubmatch(errOut)
		if code != 0 || m == nil {
			t.Fatalf("tokens create: exit %d: %s", code, errOut)
		}
		tok := strings.TrimSpace(out)
		for _, r := range c.replicas {
			if got := c.me(r, tok); got != 200 {
				t.Fatalf("round %d: a token created by kiln admin got %d at once on replica %d", i, got, r.n)
			}
		}
		if i%5 != 4 {
			continue
		}
		c.admin("tokens", "revoke", m[1][:12])
		for _, r := range c.replicas {
			worst = max(worst, c.within(pgPropagation, "an offline revocation", func() bool { return c.me(r, tok) == 403 }))
		}
	}
	tok := c.admin("tokens", "create", "--user", adminEmail)
	c.admin("conf", "set", "enableTokensConfig=false")
	for _, r := range c.replicas {
		worst = max(worst, c.within(pgPropagation, "tokens disabled offline", func() bool { return c.me(r, tok) == 403 }))
	}
	c.admin("conf", "set", "enableTokensConfig=true")
	for _, r := range c.replicas {
		worst = max(worst, c.within(pgPropagation, "tokens enabled offline", func() bool { return c.me(r, tok) == 200 }))
	}
	t.Logf("slowest replica to honour an offline change: %v", worst)
}

// TestAdminRefusesADatabaseWithoutAWorkspace: kiln admin pointed at a
// PostgreSQL database kiln serve never initialised names it, says how to
// point at the right one, and leaves it empty.
func TestAdminRefusesADatabaseWithoutAWorkspace(t *testing.T) {
	c := emptyCluster(t, pgtest.NewDatabase(t), t.TempDir())
	for _, name := range []string{"token.key", "secrets.key"} {
		writeKey(t, filepath.Join(c.keyDir, name))
	}
	for _, args := range [][]string{
		{"tokens", "create", "--user", adminEmail},
		{"users", "create", "--email", "jane@example.com"},
		{"conf", "set", "enableTokensConfig=true"},
		{"tokens", "list"},
	} {
		_, errOut, code := runKiln(c.env(), append([]string{"admin", "--data-dir", t.TempDir()}, args...)...)
		if code == 0 || !strings.Contains(errOut, "no kiln schema") || !strings.Contains(errOut, "--database-url") || !strings.Contains(errOut, "KILN_DATABASE_URL") {
			t.Errorf("kiln admin %s on an empty database: exit %d, stderr %q; want a refusal naming the database and --database-url",
				strings.Join(args, " "), code, errOut)
		}
	}
	var tables int
	if err := c.db().QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("the refused commands left %d tables in the database", tables)
	}
}
