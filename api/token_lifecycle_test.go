package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

// lifecycleEnv starts kiln on a settable clock with tokens enabled and
// every user allowed to use them; it returns the admin's token.
func lifecycleEnv(t *testing.T, opts ...kilntest.Option) (*kilntest.Env, *kilntest.Clock, string) {
	t.Helper()
	clk := kilntest.NewClock()
	e := kilntest.Start(t, append([]kilntest.Option{kilntest.WithClock(clk)}, opts...)...)
	e.EnableTokens(t)
	// Short-lived, so that tests that age tokens by weeks see it expire
	// rather than end by their policy.
	admin := e.Token(t, kilntest.AdminEmail, 5*24*time.Hour)
	r := e.Do(t, "PATCH", "/api/2.0/permissions/authorization/tokens", admin,
		map[string]any{"access_control_list": []map[string]string{{"group_name": "users", "permission_level": "CAN_USE"}}})
	if r.Status != 200 {
		t.Fatalf("granting CAN_USE: %d %s", r.Status, r.Body)
	}
	return e, clk, admin
}

// rotate calls the rotate endpoint and returns the new value and id, and
// the old token as the answer shows it now (rotated_token_info).
func rotate(t *testing.T, e *kilntest.Env, token, id string, body any) (value, newID string, old map[string]any) {
	t.Helper()
	r := e.Do(t, "POST", "/api/kiln/v1/tokens/"+id+"/rotate", token, body)
	if r.Status != 200 {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	old, _ = m["rotated_token_info"].(map[string]any)
	info := m["token_info"].(map[string]any)
	return m["token_value"].(string), info["token_id"].(string), old
}

func TestRotateKeepsOldTokenForTheGraceOnly(t *testing.T) {
	e, clk, admin := lifecycleEnv(t)
	e.NewUser(t, "alice@example.com", false)
	old := e.NewToken(t, "alice@example.com", 30*24*time.Hour)

	value, newID, was := rotate(t, e, old.Value, old.Info.ID, map[string]any{"grace_seconds": 3600})
	if newID == old.Info.ID || value == old.Value {
		t.Fatalf("rotation returned the same token")
	}
	if got := was; got["rotated_to_token_id"] != newID ||
		int64(got["expiry_time"].(float64)) > time.Now().Add(time.Hour+time.Minute).UnixMilli() {
		t.Errorf("rotated_token_info = %v, want the old token rotated to %s, ending within the hour", got, newID)
	}
	for name, tok := range map[string]string{"old in grace": old.Value, "new": value} {
		if r := e.Do(t, "GET", "/api/2.0/token/list", tok, nil); r.Status != 200 {
			t.Errorf("%s token: %d %s", name, r.Status, r.Body)
		}
	}
	// The list shows both, the old one as rotated to the new one; the new
	// one keeps the comment and the 30-day lifetime.
	r := e.Do(t, "GET", "/api/2.0/token/list", value, nil)
	infos := map[string]map[string]any{}
	for _, ti := range r.JSON(t)["token_infos"].([]any) {
		m := ti.(map[string]any)
		infos[m["token_id"].(string)] = m
	}
	if got := infos[old.Info.ID]["rotated_to_token_id"]; got != newID {
		t.Errorf("old token's rotated_to_token_id = %v, want %s", got, newID)
	}
	nw := infos[newID]
	if nw["comment"] != old.Info.Comment {
		t.Errorf("new token comment = %v, want %q", nw["comment"], old.Info.Comment)
	}
	if life := time.Duration(nw["expiry_time"].(float64)-nw["creation_time"].(float64)) * time.Millisecond; life != 30*24*time.Hour {
		t.Errorf("new token lifetime = %v, want 720h", life)
	}
	// The old token's answers carry the end of its grace.
	if h := e.Do(t, "GET", "/api/2.0/token/list", old.Value, nil).Header.Get("X-Kiln-Token-Expires"); h == "" {
		t.Errorf("old token in its grace period: no X-Kiln-Token-Expires header")
	}
	// The audit log names the successor.
	evs := e.Do(t, "GET", "/api/kiln/v1/audit?action=token.rotate", admin, nil).JSON(t)["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["detail"].(map[string]any)["successor"] != newID {
		t.Errorf("audit of the rotation: %v", evs)
	}

	clk.Advance(time.Hour + time.Second)
	if r := e.Do(t, "GET", "/api/2.0/token/list", old.Value, nil); r.Status != 403 {
		t.Errorf("old token after its grace: %d, want 403", r.Status)
	}
	if r := e.Do(t, "GET", "/api/2.0/token/list", value, nil); r.Status != 200 {
		t.Errorf("new token after the grace: %d %s", r.Status, r.Body)
	}
}

func TestRotateRefusals(t *testing.T) {
	e, clk, admin := lifecycleEnv(t)
	e.NewUser(t, "alice@example.com", false)
	e.NewUser(t, "bob@example.com", false)
	alice := e.NewToken(t, "alice@example.com", 0)
	bob := e.NewToken(t, "bob@example.com", 0)
	revoked := e.NewToken(t, "alice@example.com", 0)
	if r := e.Do(t, "POST", "/api/2.0/token/delete", alice.Value, map[string]string{"token_id": revoked.Info.ID}); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	short := e.NewToken(t, "alice@example.com", time.Hour)
	rotated := e.NewToken(t, "alice@example.com", 0)
	rotate(t, e, alice.Value, rotated.Info.ID, nil)
	clk.Advance(2 * time.Hour) // short has expired; rotated's default grace (24h) has not
	path := func(id string) string { return "/api/kiln/v1/tokens/" + id + "/rotate" }

	checkStatuses(t, e, []statusCase{
		{"someone else's token as a non-admin", alice.Value, "POST", path(bob.Info.ID), "", 404},
		{"grace above the workspace maximum", alice.Value, "POST", path(alice.Info.ID), `{"grace_seconds": 691200}`, 400},
		{"negative grace", alice.Value, "POST", path(alice.Info.ID), `{"grace_seconds": -1}`, 400},
		{"revoked token", alice.Value, "POST", path(revoked.Info.ID), "", 400},
		{"expired token", alice.Value, "POST", path(short.Info.ID), "", 400},
		{"already rotated", alice.Value, "POST", path(rotated.Info.ID), "", 400},
		{"malformed id", alice.Value, "POST", path("nope"), "", 404},
		{"no credential", "", "POST", path(alice.Info.ID), "", 401},
	})
	r := e.Do(t, "POST", path(alice.Info.ID), alice.Value, `{"grace_seconds": 691200}`)
	if msg := string(r.Body); !strings.Contains(msg, kiln.ConfMaxRotationGraceDays) {
		t.Errorf("grace refusal does not name the setting: %s", msg)
	}
	// An admin may rotate anyone's token; the new one stays bob's.
	_, newID, _ := rotate(t, e, admin, bob.Info.ID, `{"grace_seconds": 0}`)
	got := e.Do(t, "GET", "/api/2.0/token-management/tokens/"+newID, admin, nil).JSON(t)["token_info"].(map[string]any)
	if got["owner_id"].(float64) != float64(bob.Info.OwnerID) {
		t.Errorf("rotated by an admin: owner %v, want bob (%d)", got["owner_id"], bob.Info.OwnerID)
	}
	if r := e.Do(t, "GET", "/api/2.0/token/list", bob.Value, nil); r.Status != 403 {
		t.Errorf("bob's old token after a zero grace: %d, want 403", r.Status)
	}
}

func TestExpiryHeaderOnlyWithinTheWarningWindow(t *testing.T) {
	e, _, _ := lifecycleEnv(t)
	soon := e.NewToken(t, kilntest.AdminEmail, 3*24*time.Hour)
	later := e.NewToken(t, kilntest.AdminEmail, 30*24*time.Hour)
	r := e.Do(t, "GET", "/api/2.0/token/list", soon.Value, nil)
	got, err := time.Parse(time.RFC3339, r.Header.Get("X-Kiln-Token-Expires"))
	if err != nil || !got.Equal(soon.Info.Expires.Truncate(time.Second)) {
		t.Errorf("short-lived token: X-Kiln-Token-Expires %q (%v), want %v", r.Header.Get("X-Kiln-Token-Expires"), err, soon.Info.Expires.UTC().Format(time.RFC3339))
	}
	if h := e.Do(t, "GET", "/api/2.0/token/list", later.Value, nil).Header.Get("X-Kiln-Token-Expires"); h != "" {
		t.Errorf("30-day token: X-Kiln-Token-Expires %q, want none", h)
	}
	// The window is a workspace setting.
	e.SetConf(t, map[string]string{kiln.ConfTokenExpiryWarningDays: "60"})
	if h := e.Do(t, "GET", "/api/2.0/token/list", later.Value, nil).Header.Get("X-Kiln-Token-Expires"); h == "" {
		t.Errorf("30-day token with a 60-day window: no header")
	}
}

// previewed calls the preview and returns token id -> reason.
func previewed(t *testing.T, e *kilntest.Env, admin string, kv map[string]string) map[string]string {
	t.Helper()
	r := e.Do(t, "POST", "/api/kiln/v1/policy/preview", admin, kv)
	if r.Status != 200 {
		t.Fatalf("preview: %d %s", r.Status, r.Body)
	}
	out := map[string]string{}
	for _, x := range r.JSON(t)["tokens"].([]any) {
		m := x.(map[string]any)
		for _, k := range []string{"token_id", "owner", "comment", "reason", "effective_at"} {
			if _, ok := m[k]; !ok {
				t.Errorf("preview entry lacks %s: %v", k, m)
			}
		}
		out[m["token_id"].(string)] = m["reason"].(string)
	}
	return out
}

func TestPolicyPreviewListsExactlyWhatTheChangeEnds(t *testing.T) {
	e, clk, _ := lifecycleEnv(t)
	e.NewUser(t, "alice@example.com", false)
	old := e.NewToken(t, "alice@example.com", 60*24*time.Hour)
	clk.Advance(20 * 24 * time.Hour)
	admin := e.Token(t, kilntest.AdminEmail, 5*24*time.Hour)
	// Used every few days, so the 90-day inactivity rule never bites.
	young := e.NewToken(t, "alice@example.com", 60*24*time.Hour)
	long := e.NewToken(t, "alice@example.com", 5*24*time.Hour)
	for _, tok := range []string{old.Value, young.Value, long.Value, admin} {
		e.Do(t, "GET", "/api/2.0/token/list", tok, nil)
	}

	// A 10-day cap ends old (20 days old) at once and young in 10 days;
	// long already ends within 10 days of its creation.
	got := previewed(t, e, admin, map[string]string{kiln.ConfMaxTokenLifetimeDays: "10"})
	want := map[string]string{old.Info.ID: "max_lifetime", young.Info.ID: "max_lifetime"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("preview of maxTokenLifetimeDays=10: %v, want %v", got, want)
	}
	// Nothing changed yet.
	if r := e.Do(t, "GET", "/api/2.0/token/list", old.Value, nil); r.Status != 200 {
		t.Fatalf("preview ended a token: %d", r.Status)
	}
	if r := e.Do(t, "PATCH", "/api/2.0/workspace-conf", admin, map[string]string{kiln.ConfMaxTokenLifetimeDays: "10"}); r.Status != 200 && r.Status != 204 {
		t.Fatalf("set cap: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/api/2.0/token/list", old.Value, nil); r.Status != 403 {
		t.Errorf("old token after the cap: %d, want 403", r.Status)
	}
	for _, tok := range []string{young.Value, long.Value, admin} {
		if r := e.Do(t, "GET", "/api/2.0/token/list", tok, nil); r.Status != 200 {
			t.Errorf("a token the preview did not list stopped working: %d", r.Status)
		}
	}
	yi := e.Do(t, "GET", "/api/2.0/token-management/tokens/"+young.Info.ID, admin, nil).JSON(t)
	if exp := yi["token_info"].(map[string]any)["expiry_time"].(float64); int64(exp) != young.Info.Created.Add(10*24*time.Hour).UnixMilli() {
		t.Errorf("young token's expiry after the cap: %v, want creation + 10 days", exp)
	}

	// Inactivity: a token unused for 12 days, previewed under a 10-day
	// limit, then revoked by the change, with the reason audited.
	clk.Advance(12 * 24 * time.Hour) // young (10-day cap) has ended too now
	idle := e.NewToken(t, kilntest.AdminEmail, 0)
	admin = e.Token(t, kilntest.AdminEmail, 0)
	clk.Advance(3 * 24 * time.Hour)
	e.Do(t, "GET", "/api/2.0/token/list", admin, nil)
	got2 := previewed(t, e, admin, map[string]string{kiln.ConfTokenInactivityDays: "2"})
	if fmt.Sprint(got2) != fmt.Sprint(map[string]string{idle.Info.ID: "inactivity"}) {
		t.Fatalf("preview of kilnTokenInactivityDays=2: %v, want only the idle token", got2)
	}
	e.SetConf(t, map[string]string{kiln.ConfTokenInactivityDays: "2"})
	if r := e.Do(t, "GET", "/api/2.0/token/list", idle.Value, nil); r.Status != 403 {
		t.Errorf("idle token after the inactivity limit: %d, want 403", r.Status)
	}
	if r := e.Do(t, "GET", "/api/2.0/token/list", admin, nil); r.Status != 200 {
		t.Errorf("a token in use was revoked: %d", r.Status)
	}
	evs := e.Do(t, "GET", "/api/kiln/v1/audit?action=token.revoke", admin, nil).JSON(t)["events"].([]any)
	if len(evs) != 1 || !strings.Contains(fmt.Sprint(evs[0]), "unused for 2 days") {
		t.Errorf("inactivity revocation audit: %v", evs)
	}

	checkStatuses(t, e, []statusCase{
		{"non-admin", long.Value, "POST", "/api/kiln/v1/policy/preview", `{"maxTokenLifetimeDays": "1"}`, 403},
		{"unknown key", admin, "POST", "/api/kiln/v1/policy/preview", `{"nope": "1"}`, 400},
		{"bad value", admin, "POST", "/api/kiln/v1/policy/preview", `{"kilnTokenInactivityDays": "-3"}`, 400},
		{"empty", admin, "POST", "/api/kiln/v1/policy/preview", `{}`, 400},
	})
}

func TestInactivitySweepRevokesUnusedTokens(t *testing.T) {
	e, clk, _ := lifecycleEnv(t)
	admin := e.Token(t, kilntest.AdminEmail, 365*24*time.Hour)
	idle := e.NewToken(t, kilntest.AdminEmail, 365*24*time.Hour)
	busy := e.NewToken(t, kilntest.AdminEmail, 365*24*time.Hour)
	for range 10 {
		clk.Advance(10 * 24 * time.Hour)
		e.Do(t, "GET", "/api/2.0/token/list", busy.Value, nil)
		e.Do(t, "GET", "/api/2.0/token/list", admin, nil)
	}
	// 100 days: idle was never used, the default limit is 90 days.
	if err := e.Svc().SweepTokens(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := e.Do(t, "GET", "/api/2.0/token/list", idle.Value, nil); r.Status != 403 {
		t.Errorf("token unused for 100 days: %d, want 403", r.Status)
	}
	if r := e.Do(t, "GET", "/api/2.0/token/list", busy.Value, nil); r.Status != 200 {
		t.Errorf("token used every 10 days: %d, want 200", r.Status)
	}
	evs := e.Do(t, "GET", "/api/kiln/v1/audit?action=token.revoke", admin, nil).JSON(t)["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["target"] != "token:"+idle.Info.ID || evs[0].(map[string]any)["actor_name"] != "kiln" {
		t.Errorf("sweep audit: %v", evs)
	}
}

func TestLookupByValueAndTraceBySHA256(t *testing.T) {
	// Behind a trusted proxy, so the test can present several client
	// addresses.
	e, clk, admin := lifecycleEnv(t, kilntest.WithConfig(func(c *server.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }))
	e.NewUser(t, "alice@example.com", false)
	leaked := e.NewToken(t, "alice@example.com", 0)
	from := func(addr string) {
		clk.Advance(time.Minute)
		h := http.Header{"Authorization": {"Bearer " + leaked.Value}, "X-Forwarded-For": {addr}}
		if r := e.DoHeaders(t, "GET", "/api/2.0/token/list", nil, h); r.Status != 200 {
			t.Fatalf("use from %s: %d", addr, r.Status)
		}
	}
	from("192.0.2.10")
	from("192.0.2.10")
	from("198.51.100.7")
	if err := e.Srv.Index.FlushLastUsed(t.Context()); err != nil {
		t.Fatal(err)
	}
	from("198.51.100.7") // known: no second event
	if err := e.Srv.Index.FlushLastUsed(t.Context()); err != nil {
		t.Fatal(err)
	}

	lookup := func(body any) map[string]any {
		r := e.Do(t, "POST", "/api/kiln/v1/token-management/lookup", admin, body)
		if r.Status != 200 {
			t.Fatalf("lookup: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)
	}
	got := lookup(map[string]any{"token_value": leaked.Value})
	info := got["token_info"].(map[string]any)
	if info["token_id"] != leaked.Info.ID || got["owner"] != "alice@example.com" || info["comment"] != "test" || got["live"] != true || got["state"] != "live" {
		t.Errorf("lookup: %v", got)
	}
	if info["last_used_day"] == nil || info["creation_time"] == nil {
		t.Errorf("lookup lacks creation_time or last_used_day: %v", info)
	}
	var addrs []string
	for _, a := range got["source_addresses"].([]any) {
		addrs = append(addrs, a.(map[string]any)["address"].(string))
	}
	if fmt.Sprint(addrs) != "[198.51.100.7 192.0.2.10]" {
		t.Errorf("source addresses = %v, want the two, most recent first", addrs)
	}

	// The value's SHA-256 finds its audit trail: created, then first seen
	// from each address.
	sum := sha256.Sum256([]byte(leaked.Value))
	evs := e.Do(t, "GET", "/api/kiln/v1/audit?token_sha256="+hex.EncodeToString(sum[:]), admin, nil).JSON(t)["events"].([]any)
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.(map[string]any)["action"].(string))
	}
	if fmt.Sprint(actions) != "[token.lookup token.new_address token.new_address token.create]" {
		t.Errorf("audit by token_sha256: %v", actions)
	}

	checkStatuses(t, e, []statusCase{
		{"non-admin", leaked.Value, "POST", "/api/kiln/v1/token-management/lookup", `{"token_value": "` + leaked.Value + `"}`, 403},
		{"not a token", admin, "POST", "/api/kiln/v1/token-management/lookup", `{"token_value": "hello"}`, 400},
		{"no value", admin, "POST", "/api/kiln/v1/token-management/lookup", `{}`, 400},
		{"unknown value", admin, "POST", "/api/kiln/v1/token-management/lookup", `{"token_value": "dapi00000000000000000000000000000000"}`, 404},
		{"bad sha256", admin, "GET", "/api/kiln/v1/audit?token_sha256=abc", "", 400},
	})

	// Revoke in the same call.
	got = lookup(map[string]any{"token_value": leaked.Value, "revoke": true})
	if got["revoked_now"] != true || got["live"] != false || got["state"] != "revoked" {
		t.Errorf("lookup with revoke: %v", got)
	}
	if r := e.Do(t, "GET", "/api/2.0/token/list", leaked.Value, nil); r.Status != 403 {
		t.Errorf("token after lookup with revoke: %d, want 403", r.Status)
	}
	if got = lookup(map[string]any{"token_value": leaked.Value, "revoke": true}); got["revoked_now"] != false || got["state"] != "revoked" {
		t.Errorf("second lookup of a revoked token: %v", got)
	}
}

// TestPolicyPreviewOfIPAccessLists: switching the lists on would refuse
// every token used only from addresses outside them; the preview names
// those, and no token used from an allowed address or never used.
func TestPolicyPreviewOfIPAccessLists(t *testing.T) {
	e, _, admin := lifecycleEnv(t, kilntest.WithConfig(func(c *server.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }))
	e.NewUser(t, "alice@example.com", false)
	outside := e.NewToken(t, "alice@example.com", 0)
	inside := e.NewToken(t, "alice@example.com", 0)
	mixed := e.NewToken(t, "alice@example.com", 0)
	e.NewToken(t, "alice@example.com", 0) // never used
	for _, use := range []struct{ tok, addr string }{
		{outside.Value, "192.0.2.10"}, {inside.Value, "10.1.2.3"}, {mixed.Value, "192.0.2.10"}, {mixed.Value, "10.9.9.9"}, {admin, "10.0.0.1"},
	} {
		if r := behindProxy(t, e, "GET", "/api/2.0/token/list", use.tok, use.addr, nil); r.Status != 200 {
			t.Fatalf("use from %s: %d", use.addr, r.Status)
		}
	}
	if err := e.Srv.Index.FlushLastUsed(t.Context()); err != nil {
		t.Fatal(err)
	}
	createIPList(t, e, admin, "10.0.0.1", "office", "ALLOW", "10.0.0.0/8")
	got := previewed(t, e, admin, map[string]string{kiln.ConfEnableIPAccessLists: "true"})
	if fmt.Sprint(got) != fmt.Sprint(map[string]string{outside.Info.ID: "ip_access_list"}) {
		t.Errorf("preview of enableIpAccessLists=true: %v, want only the token used from outside the lists", got)
	}
}
