package replicas

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// propagation is the bound README's "Running several replicas" promises:
// a change made through one replica applies on every other within a
// second.
const propagation = time.Second

// TestReplicasStartTogetherAndInitialiseOnce: five replicas started at the
// same instant on a new database migrate it once and create one
// workspace, one first admin and one of each built-in group.
func TestReplicasStartTogetherAndInitialiseOnce(t *testing.T) {
	c := newCluster(t, 5)
	db := c.db()
	ctx := context.Background()
	for _, q := range []struct {
		what, sql string
		want      int
	}{
		{"workspaces", `SELECT COUNT(*) FROM workspace`, 1},
		{"admins named " + adminEmail, `SELECT COUNT(*) FROM principals WHERE user_name_key = 'admin@example.com'`, 1},
		{"principals", `SELECT COUNT(*) FROM principals`, 1},
		{"groups", `SELECT COUNT(*) FROM groups`, 2},
		{"workspace-initialised audit events", `SELECT COUNT(*) FROM audit WHERE action = 'workspace.init'`, 1},
		{"migration records of 0001", `SELECT COUNT(*) FROM schema_migrations WHERE version = 1`, 1},
	} {
		var got int
		if err := db.QueryRow(ctx, q.sql).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q.what, err)
		}
		if got != q.want {
			t.Errorf("%s: got %d, want %d", q.what, got, q.want)
		}
	}
	var versions, distinct int
	if err := db.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&versions, &distinct); err != nil {
		t.Fatal(err)
	}
	if versions != distinct || versions == 0 {
		t.Errorf("schema_migrations: %d rows for %d versions, want one each", versions, distinct)
	}
	// Every replica reports the same workspace.
	var ids []string
	for _, r := range c.replicas {
		resp := c.must(r, 200, "GET", "/.well-known/databricks-config", "", nil)
		ids = append(ids, fmt.Sprint(resp.json(t)["workspace_id"]))
	}
	if len(slices.Compact(slices.Clone(ids))) != 1 {
		t.Errorf("workspace ids differ between replicas: %v", ids)
	}
}

// TestTokensAcrossReplicas walks a token through its life, each step
// through another replica than the one checking it.
func TestTokensAcrossReplicas(t *testing.T) {
	c := newCluster(t, 3)
	r1, r2, r3 := c.replicas[0], c.replicas[1], c.replicas[2]
	admin := c.adminToken()

	// Created on replica 1, it works at once on 2 and 3: no waiting for a
	// notice (the index looks again when it meets an unknown token).
	tok, id := c.createToken(r1, admin, 0)
	for _, r := range []*replica{r2, r3, r1} {
		if got := c.me(r, tok); got != 200 {
			t.Fatalf("token created on replica 1, first use on replica %d: got %d, want 200", r.n, got)
		}
	}

	// Revoked on 2: refused on 1 and 3 within a second.
	c.must(r2, 200, "POST", "/api/2.0/token/delete", tok, map[string]any{"token_id": id})
	for _, r := range []*replica{r1, r3} {
		took := c.within(propagation, fmt.Sprintf("revoked on 2, refused on %d", r.n), func() bool { return c.me(r, tok) == 403 })
		t.Logf("revocation reached replica %d in %v", r.n, took)
	}

	// Tokens disabled on 3: every token refused everywhere; enabled
	// again, they work again.
	tok2, _ := c.createToken(r1, admin, 0)
	c.must(r3, 200, "PATCH", "/api/2.0/workspace-conf", admin, map[string]string{"enableTokensConfig": "false"})
	for _, r := range c.replicas {
		c.within(propagation, fmt.Sprintf("tokens disabled on 3, refused on %d", r.n), func() bool { return c.me(r, tok2) == 403 })
	}
	c.admin("conf", "set", "enableTokensConfig=true") // the admin's own token is refused too now
	for _, r := range c.replicas {
		c.within(propagation, fmt.Sprintf("tokens enabled offline, working on %d", r.n), func() bool { return c.me(r, tok2) == 200 })
	}

	// Expired: a two-second token stops working on every replica within
	// a second of its expiry (each replica checks expiry with its clock).
	short, _ := c.createToken(r2, admin, 2)
	expires := time.Now().Add(2 * time.Second)
	for _, r := range c.replicas {
		if got := c.me(r, short); got != 200 {
			t.Fatalf("short-lived token on replica %d: got %d, want 200", r.n, got)
		}
	}
	time.Sleep(time.Until(expires))
	for _, r := range c.replicas {
		c.within(propagation, fmt.Sprintf("expired token refused on %d", r.n), func() bool { return c.me(r, short) == 403 })
	}
}

// TestUsersAndPermissionsAcrossReplicas: deactivating a user and
// withdrawing CAN_USE through one replica refuses the user's token on the
// others within a second; a user created through one replica can use a
// token on another at once.
func TestUsersAndPermissionsAcrossReplicas(t *testing.T) {
	c := newCluster(t, 3)
	r1, r2, r3 := c.replicas[0], c.replicas[1], c.replicas[2]
	admin := c.adminToken()

	// A user created over SCIM through replica 1.
	u := c.must(r1, 201, "POST", "/api/2.0/preview/scim/v2/Users", admin, map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "jane@example.com"}).json(t)
	userID := fmt.Sprint(u["id"])
	// Her token, minted by an admin through replica 2, works on 3 at once.
	tok := c.admin("tokens", "create", "--user", "jane@example.com")
	if got := c.me(r3, tok); got != 200 {
		t.Fatalf("jane's token on replica 3: got %d, want 200", got)
	}

	// CAN_USE withdrawn from everyone through replica 2.
	c.must(r2, 200, "PUT", "/api/2.0/permissions/authorization/tokens", admin, map[string]any{"access_control_list": []any{}})
	for _, r := range []*replica{r1, r3} {
		c.within(propagation, fmt.Sprintf("CAN_USE withdrawn on 2, refused on %d", r.n), func() bool { return c.me(r, tok) == 403 })
	}
	c.must(r3, 200, "PUT", "/api/2.0/permissions/authorization/tokens", admin, map[string]any{
		"access_control_list": []any{map[string]string{"group_name": "users", "permission_level": "CAN_USE"}}})
	for _, r := range c.replicas {
		c.within(propagation, fmt.Sprintf("CAN_USE granted on 3, working on %d", r.n), func() bool { return c.me(r, tok) == 200 })
	}

	// Deactivated through replica 1.
	c.must(r1, 200, "PATCH", "/api/2.0/preview/scim/v2/Users/"+userID, admin, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}})
	for _, r := range []*replica{r2, r3} {
		c.within(propagation, fmt.Sprintf("user deactivated on 1, refused on %d", r.n), func() bool { return c.me(r, tok) == 403 })
	}

	// A settings change through one replica governs the next request on
	// another: the lifetime cap.
	c.must(r1, 200, "PATCH", "/api/2.0/workspace-conf", admin, map[string]string{"maxTokenLifetimeDays": "1"})
	resp := c.do(r3, "POST", "/api/2.0/token/create", admin, map[string]any{"lifetime_seconds": 3 * 86400})
	if resp.status != 400 {
		t.Errorf("token longer than the cap set on replica 1, created on 3: got %d %s, want 400", resp.status, resp.body)
	}
}

// TestConcurrentTokenChurnAcrossReplicas: many clients create and revoke
// tokens through different replicas at once. Afterwards nothing
// acknowledged is lost and the database and every replica agree on every
// token.
func TestConcurrentTokenChurnAcrossReplicas(t *testing.T) {
	c := newCluster(t, 3)
	admin := c.adminToken()
	const clients, each = 12, 15
	type result struct {
		value, id string
		revoked   bool
	}
	var mu sync.Mutex
	var acked []result
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(cl), 7))
			for range each {
				cr := c.replicas[rng.IntN(len(c.replicas))]
				resp := c.do(cr, "POST", "/api/2.0/token/create", admin, map[string]any{"comment": fmt.Sprintf("client %d", cl)})
				if resp.status != 200 {
					t.Errorf("create on replica %d: %d %s", cr.n, resp.status, resp.body)
					return
				}
				m := resp.json(t)
				res := result{value: m["token_value"].(string), id: m["token_info"].(map[string]any)["token_id"].(string)}
				// Use it through another replica at once, then revoke
				// two out of three through a third.
				ur := c.replicas[(cr.n)%len(c.replicas)]
				if got := c.me(ur, res.value); got != 200 {
					t.Errorf("token created on %d, used at once on %d: got %d", cr.n, ur.n, got)
				}
				if rng.IntN(3) > 0 {
					rr := c.replicas[rng.IntN(len(c.replicas))]
					resp := c.do(rr, "DELETE", "/api/2.0/token-management/tokens/"+res.id, admin, nil)
					if resp.status != 200 {
						t.Errorf("revoke on replica %d: %d %s", rr.n, resp.status, resp.body)
					} else {
						res.revoked = true
					}
				}
				mu.Lock()
				acked = append(acked, res)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// The database holds every acknowledged token, revoked exactly when
	// its revocation was acknowledged.
	db := c.db()
	rows, err := db.Query(context.Background(), `SELECT id, revoked_at IS NOT NULL FROM tokens`)
	if err != nil {
		t.Fatal(err)
	}
	inDB := map[string]bool{}
	for rows.Next() {
		var id string
		var revoked bool
		if err := rows.Scan(&id, &revoked); err != nil {
			t.Fatal(err)
		}
		inDB[id] = revoked
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	revoked := 0
	for _, a := range acked {
		got, ok := inDB[a.id]
		switch {
		case !ok:
			t.Errorf("acknowledged token %s is not in the database", a.id)
		case got != a.revoked:
			t.Errorf("token %s: revoked in the database %v, acknowledged %v", a.id, got, a.revoked)
		}
		if a.revoked {
			revoked++
		}
	}
	t.Logf("%d tokens created, %d revoked, by %d clients through 3 replicas", len(acked), revoked, clients)

	// Every replica, within the propagation bound, answers every token as
	// the database says, and lists the same live tokens.
	time.Sleep(propagation)
	var wantLive []string
	for id, rev := range inDB {
		if !rev {
			wantLive = append(wantLive, id)
		}
	}
	slices.Sort(wantLive)
	for _, r := range c.replicas {
		for _, a := range acked {
			want := 200
			if a.revoked {
				want = 403
			}
			if got := c.me(r, a.value); got != want {
				t.Errorf("replica %d, token %s (revoked %v): got %d, want %d", r.n, a.id, a.revoked, got, want)
			}
		}
		m := c.must(r, 200, "GET", "/api/2.0/token-management/tokens", admin, nil).json(t)
		var live []string
		for _, ti := range m["token_infos"].([]any) {
			live = append(live, ti.(map[string]any)["token_id"].(string))
		}
		slices.Sort(live)
		if strings.Join(live, ",") != strings.Join(wantLive, ",") {
			t.Errorf("replica %d lists %d live tokens, the database holds %d", r.n, len(live), len(wantLive))
		}
	}
}

// TestReplicaRefusesOtherKeys: a replica whose token or secrets key is not
// the one the database was initialised with, or that has none, refuses to
// start and says why.
func TestReplicaRefusesOtherKeys(t *testing.T) {
	c := newCluster(t, 1)
	other := t.TempDir() + "/other.key"
	writeKey(t, other)
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"OtherTokenKey", []string{"KILN_TOKEN_KEY_FILE=" + other}, "token key"},
		{"OtherSecretsKey", []string{"KILN_SECRETS_KEY_FILE=" + other}, "secrets"},
		{"NoTokenKey", []string{"KILN_TOKEN_KEY_FILE="}, "KILN_TOKEN_KEY_FILE"},
		{"NoSecretsKey", []string{"KILN_SECRETS_KEY_FILE="}, "KILN_SECRETS_KEY_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.start(9, tc.env...)
			select {
			case err := <-r.done:
				r.done <- err // for the cleanup's stop
				if err == nil || !strings.Contains(r.logs.String(), tc.want) {
					t.Errorf("exit %v, log %q: want a failure naming %q", err, r.logs, tc.want)
				}
				t.Logf("refused: %s", strings.TrimSpace(r.logs.String()))
			case <-time.After(30 * time.Second):
				t.Fatalf("the replica did not refuse to start:\n%s", r.logs)
			}
		})
	}
	// The refusals changed nothing: the first replica still serves.
	if got := c.do(c.replicas[0], "GET", "/readyz", "", nil).status; got != 200 {
		t.Errorf("first replica /readyz: got %d", got)
	}
}

// TestLastUseAndAuditFromEveryReplica: the last-used day and the
// coalesced denied-token events that each replica keeps in memory and
// writes in batches all reach the database, none overwriting another's.
func TestLastUseAndAuditFromEveryReplica(t *testing.T) {
	c := newCluster(t, 3)
	admin := c.adminToken()
	used, usedID := c.createToken(c.replicas[0], admin, 0)
	bad := "dapi" + strings.Repeat("0", 32)
	const badPerReplica = 5
	for _, r := range c.replicas {
		if got := c.me(r, used); got != 200 {
			t.Fatalf("replica %d: got %d", r.n, got)
		}
		for range badPerReplica {
			if got := c.me(r, bad); got != 403 {
				t.Fatalf("bad token on replica %d: got %d", r.n, got)
			}
		}
	}
	// A graceful stop flushes both buffers.
	for _, r := range c.replicas {
		c.stop(r)
	}
	db := c.db()
	ctx := context.Background()
	var lastUsed *int64
	if err := db.QueryRow(ctx, `SELECT last_used_day FROM tokens WHERE id = $1`, usedID).Scan(&lastUsed); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour).UnixMilli()
	if lastUsed == nil || *lastUsed != today {
		t.Errorf("last_used_day: got %v, want today (%d)", lastUsed, today)
	}
	var rows, denials int
	if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(count), 0) FROM audit WHERE action = 'token.denied'`).Scan(&rows, &denials); err != nil {
		t.Fatal(err)
	}
	if denials != 3*badPerReplica {
		t.Errorf("denied-token events count %d denials in %d rows, want %d (every replica's)", denials, rows, 3*badPerReplica)
	}
}
