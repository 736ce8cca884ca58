package api_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
)

// aclItems decodes acls/list.
func aclItems(t *testing.T, r kilntest.Response) map[string]string {
	t.Helper()
	var l struct {
		Items []struct {
			Principal  string `json:"principal"`
			Permission string `json:"permission"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatalf("acls/list: %v: %s", err, r.Body)
	}
	out := map[string]string{}
	for _, it := range l.Items {
		out[it.Principal] = it.Permission
	}
	return out
}

// TestSecretACLs drives the ACL API against a real server and executor:
// the creator manages, a second user is refused until granted, READ lets
// that user's task read a value (dbutils.secrets.get) and list keys but
// not write, WRITE writes, MANAGE grants; group grants cover members.
func TestSecretACLs(t *testing.T) {
	e, admin := jobsEnv(t)
	e.NewUser(t, "alice@example.com", false)
	e.NewUser(t, "bob@example.com", false)
	dave := e.NewUser(t, "dave@example.com", false)
	alice, bob, daveTok := e.Token(t, "alice@example.com", 0), e.Token(t, "bob@example.com", 0), e.Token(t, "dave@example.com", 0)
	const value = "acl-s3cr3t-41c9"

	ok(t, e.Do(t, "POST", sec+"scopes/create", alice, map[string]any{"scope": "etl"}), "create scope")
	ok(t, e.Do(t, "POST", sec+"put", alice, map[string]any{"scope": "etl", "key": "pw", "string_value": value}), "put")
	importNotebook(t, e, admin, "/Shared/read-secret", `v = dbutils.secrets.get("etl", "pw")
print("value:", v)
dbutils.notebook.exit(str(len(v)))
`)
	// runAs submits the notebook as tok's user and returns the task's
	// state and output once the run ends.
	runAs := func(tok string) (string, map[string]any) {
		t.Helper()
		id := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit", `{"run_name": "acl", "notebook_task": {"notebook_path": "/Shared/read-secret"}}`), "run_id")
		run := pollRun(t, e, tok, "2.1", id, 60*time.Second)
		out := call(t, e, tok, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, tasksOf(t, run)[0], "run_id")), nil)
		if strings.Contains(asJSON(out), value) {
			t.Fatalf("the secret value is in a run's output: %s", asJSON(out))
		}
		return stateOf(run), out
	}
	list := func(tok string) kilntest.Response { return e.Do(t, "GET", sec+"acls/list?scope=etl", tok, nil) }
	grant := func(tok, principal, perm string) kilntest.Response {
		return e.Do(t, "POST", sec+"acls/put", tok, map[string]any{"scope": "etl", "principal": principal, "permission": perm})
	}
	putAs := func(tok string) kilntest.Response {
		return e.Do(t, "POST", sec+"put", tok, map[string]any{"scope": "etl", "key": "k2", "string_value": "v"})
	}

	// The creator holds MANAGE, as a row of the ACL.
	if got := aclItems(t, ok(t, list(alice), "creator lists ACLs")); !reflect.DeepEqual(got, map[string]string{"alice@example.com": "MANAGE"}) {
		t.Fatalf("ACL of a new scope: %v", got)
	}
	r := ok(t, e.Do(t, "GET", sec+"acls/get?scope=etl&principal=alice@example.com", alice, nil), "get creator's ACL")
	if m := r.JSON(t); m["principal"] != "alice@example.com" || m["permission"] != "MANAGE" {
		t.Fatalf("acls/get: %s", r.Body)
	}

	// Without a grant bob can do nothing with the scope, nor can his task.
	for _, c := range []struct {
		what string
		r    kilntest.Response
	}{
		{"list keys", e.Do(t, "GET", sec+"list?scope=etl", bob, nil)},
		{"put", putAs(bob)},
		{"list ACLs", list(bob)},
		{"get ACL", e.Do(t, "GET", sec+"acls/get?scope=etl&principal=bob@example.com", bob, nil)},
		{"grant himself", grant(bob, "bob@example.com", "READ")},
		{"delete the scope", e.Do(t, "POST", sec+"scopes/delete", bob, map[string]any{"scope": "etl"})},
	} {
		wantError(t, c.r, 403, "PERMISSION_DENIED", "permission on scope etl")
	}
	if st, _ := runAs(bob); st != "TERMINATED/FAILED" {
		t.Fatalf("bob's run without READ: %s, want FAILED", st)
	}

	// READ (the principal as the caller spells it; stored as the user's
	// record does): bob's task reads the value, bob lists keys, no more.
	ok(t, grant(alice, "BOB@example.com", "READ"), "grant READ")
	if got := aclItems(t, ok(t, list(alice), "list")); got["bob@example.com"] != "READ" {
		t.Fatalf("ACL after the grant: %v", got)
	}
	st, out := runAs(bob)
	if nb, _ := out["notebook_output"].(map[string]any); st != "TERMINATED/SUCCESS" || nb["result"] != fmt.Sprint(len(value)) ||
		!strings.Contains(out["logs"].(string), "value: [REDACTED]") {
		t.Fatalf("bob's run with READ: %s %s", st, asJSON(out))
	}
	ok(t, e.Do(t, "GET", sec+"list?scope=etl", bob, nil), "READ lists keys")
	wantError(t, putAs(bob), 403, "PERMISSION_DENIED", "WRITE permission")
	wantError(t, grant(bob, "dave@example.com", "READ"), 403, "PERMISSION_DENIED", "MANAGE permission")

	// WRITE puts and deletes; MANAGE grants.
	ok(t, grant(alice, "bob@example.com", "WRITE"), "grant WRITE (replaces READ)")
	ok(t, putAs(bob), "WRITE puts")
	ok(t, e.Do(t, "POST", sec+"delete", bob, map[string]any{"scope": "etl", "key": "k2"}), "WRITE deletes")
	wantError(t, list(bob), 403, "PERMISSION_DENIED", "MANAGE permission")
	ok(t, grant(alice, "bob@example.com", "MANAGE"), "grant MANAGE")

	// A group grant covers its members.
	r = e.Do(t, "POST", scim+"Groups", admin, map[string]any{"displayName": "data-team", "members": []map[string]string{{"value": fmt.Sprint(dave.ID)}}})
	if r.Status != 201 {
		t.Fatalf("create group: %d %s", r.Status, r.Body)
	}
	groupID := r.JSON(t)["id"].(string)
	wantError(t, e.Do(t, "GET", sec+"list?scope=etl", daveTok, nil), 403, "PERMISSION_DENIED", "READ permission")
	ok(t, grant(bob, "data-team", "READ"), "bob, a manager now, grants a group")
	ok(t, e.Do(t, "GET", sec+"list?scope=etl", daveTok, nil), "a member of the group lists keys")
	want := map[string]string{"alice@example.com": "MANAGE", "bob@example.com": "MANAGE", "data-team": "READ"}
	if got := aclItems(t, ok(t, list(bob), "list")); !reflect.DeepEqual(got, want) {
		t.Fatalf("ACL: got %v, want %v", got, want)
	}
	// Admins manage every scope without a grant.
	if got := aclItems(t, ok(t, list(admin), "admin lists")); !reflect.DeepEqual(got, want) {
		t.Fatalf("ACL as an admin: got %v, want %v", got, want)
	}

	// A service principal is named by its application id.
	r = e.Do(t, "POST", scim+"ServicePrincipals", admin, map[string]any{"displayName": "etl-bot"})
	if r.Status != 201 {
		t.Fatalf("create SP: %d %s", r.Status, r.Body)
	}
	appID := r.JSON(t)["applicationId"].(string)
	ok(t, grant(alice, appID, "READ"), "grant a service principal")
	ok(t, e.Do(t, "GET", sec+"acls/get"+q("scope", "etl", "principal", appID), alice, nil), "get the SP's grant")

	// Renaming a group carries its grants over; deleting it drops them,
	// so a later group of the old name inherits nothing.
	r = e.Do(t, "PUT", scim+"Groups/"+groupID, admin, map[string]any{"displayName": "data-eng", "members": []map[string]string{{"value": fmt.Sprint(dave.ID)}}})
	if r.Status != 200 {
		t.Fatalf("rename group: %d %s", r.Status, r.Body)
	}
	if got := aclItems(t, ok(t, list(alice), "list")); got["data-eng"] != "READ" || got["data-team"] != "" {
		t.Fatalf("grants after renaming the group: %v", got)
	}
	ok(t, e.Do(t, "GET", sec+"list?scope=etl", daveTok, nil), "a member of the renamed group lists keys")
	if r := e.Do(t, "DELETE", scim+"Groups/"+groupID, admin, nil); r.Status != 204 {
		t.Fatalf("delete group: %d %s", r.Status, r.Body)
	}
	if got := aclItems(t, ok(t, list(alice), "list")); got["data-eng"] != "" || got[appID] != "READ" {
		t.Fatalf("grants after deleting the group: %v", got)
	}
	wantError(t, e.Do(t, "GET", sec+"list?scope=etl", daveTok, nil), 403, "PERMISSION_DENIED", "READ permission")

	// Revoking.
	ok(t, e.Do(t, "POST", sec+"acls/delete", alice, map[string]any{"scope": "etl", "principal": "bob@example.com"}), "delete bob's ACL")
	wantError(t, e.Do(t, "GET", sec+"list?scope=etl", bob, nil), 403, "PERMISSION_DENIED", "READ permission")
	wantError(t, e.Do(t, "POST", sec+"acls/delete", alice, map[string]any{"scope": "etl", "principal": "bob@example.com"}), 404, "RESOURCE_DOES_NOT_EXIST", "no ACL")

	// Bad input is a clear 4xx.
	for _, c := range []struct {
		name, method, path string
		body               any
		status             int
		code, msg          string
	}{
		{"unknown permission", "POST", "acls/put", map[string]any{"scope": "etl", "principal": "bob@example.com", "permission": "OWNER"}, 400, "INVALID_PARAMETER_VALUE", "expected READ, WRITE or MANAGE"},
		{"lower-case permission", "POST", "acls/put", map[string]any{"scope": "etl", "principal": "bob@example.com", "permission": "read"}, 400, "INVALID_PARAMETER_VALUE", "Invalid permission"},
		{"no permission", "POST", "acls/put", map[string]any{"scope": "etl", "principal": "bob@example.com"}, 400, "INVALID_PARAMETER_VALUE", "Invalid permission"},
		{"unknown principal", "POST", "acls/put", map[string]any{"scope": "etl", "principal": "nobody@example.com", "permission": "READ"}, 400, "INVALID_PARAMETER_VALUE", "does not exist"},
		{"no principal", "POST", "acls/put", map[string]any{"scope": "etl", "permission": "READ"}, 400, "INVALID_PARAMETER_VALUE", "principal is required"},
		{"no scope", "POST", "acls/put", map[string]any{"principal": "bob@example.com", "permission": "READ"}, 400, "INVALID_PARAMETER_VALUE", "scope is required"},
		{"missing scope", "POST", "acls/put", map[string]any{"scope": "nope", "principal": "bob@example.com", "permission": "READ"}, 404, "RESOURCE_DOES_NOT_EXIST", "Scope nope does not exist"},
		{"no body", "POST", "acls/put", nil, 400, "MALFORMED_REQUEST", "body is required"},
		{"delete without principal", "POST", "acls/delete", map[string]any{"scope": "etl"}, 400, "INVALID_PARAMETER_VALUE", "principal is required"},
		{"delete in a missing scope", "POST", "acls/delete", map[string]any{"scope": "nope", "principal": "bob@example.com"}, 404, "RESOURCE_DOES_NOT_EXIST", "Scope nope"},
		{"get without a grant", "GET", "acls/get?scope=etl&principal=dave@example.com", nil, 404, "RESOURCE_DOES_NOT_EXIST", "no ACL"},
		{"get without scope", "GET", "acls/get?principal=dave@example.com", nil, 400, "INVALID_PARAMETER_VALUE", "scope is required"},
		{"list without scope", "GET", "acls/list", nil, 400, "INVALID_PARAMETER_VALUE", "scope is required"},
		{"list of a missing scope", "GET", "acls/list?scope=nope", nil, 404, "RESOURCE_DOES_NOT_EXIST", "Scope nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.Do(t, c.method, sec+c.path, alice, c.body), c.status, c.code, c.msg)
		})
	}

	// Grants and revocations are audited, with who and what.
	var events auditList
	json.Unmarshal(ok(t, e.Do(t, "GET", "/api/kiln/v1/audit?action=secrets.acl.put", admin, nil), "audit").Body, &events)
	if len(events.Events) != 5 {
		t.Fatalf("secrets.acl.put events: %+v", events.Events)
	}
	if ev := events.Events[1]; ev.ActorName != "bob@example.com" || ev.Target != "secret_scope:etl" || ev.Detail["principal"] != "data-team" || ev.Detail["permission"] != "READ" {
		t.Errorf("latest grant event: %+v", ev)
	}
	json.Unmarshal(ok(t, e.Do(t, "GET", "/api/kiln/v1/audit?action=secrets.acl.delete", admin, nil), "audit").Body, &events)
	if len(events.Events) != 1 || events.Events[0].Detail["principal"] != "bob@example.com" || events.Events[0].ActorName != "alice@example.com" {
		t.Errorf("secrets.acl.delete events: %+v", events.Events)
	}
}
