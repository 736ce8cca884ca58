package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
)

// secretValue is the value the tests save; no response may contain it.
const secretValue = "pa55-VALUE-never-shown-9f3b"

// recorder keeps every response body of a test, so that it can check at
// the end that none carried the secret's value.
type recorder struct {
	e      *env
	bodies []string
}

func (rc *recorder) get(t *testing.T, path string, ck *http.Cookie) response {
	t.Helper()
	r := rc.e.get(t, path, ck)
	rc.bodies = append(rc.bodies, r.Body)
	return r
}

func (rc *recorder) post(t *testing.T, path string, form url.Values, ck *http.Cookie, hdr ...string) response {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	r := rc.e.request(t, http.MethodPost, path, form, ck, hdr...)
	rc.bodies = append(rc.bodies, r.Body)
	return r
}

func wantStatus(t *testing.T, what string, r response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %d, want %d; page:\n%s", what, r.Status, want, r.Body)
	}
}

func TestSecretsPages(t *testing.T) {
	e := startEnv(t)
	rc := &recorder{e: e}
	owner, reader, stranger := e.sessionFor(e.newUser(t, "owner@example.com")), e.sessionFor(e.newUser(t, "reader@example.com")), e.sessionFor(e.newUser(t, "stranger@example.com"))

	// Signed out: sent to sign in.
	if r := rc.get(t, "/secrets", nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("signed out: %d %s", r.Status, r.Header.Get("Location"))
	}

	// The owner creates a scope and saves a secret in it.
	r := rc.get(t, "/secrets", owner)
	wantStatus(t, "the Secrets page", r, http.StatusOK)
	mustContain(t, r.Body, "No secret scopes you may read.", `<a href="/secrets" aria-current="page">Secrets</a>`, `href="/dbfs"`)
	r = rc.post(t, "/secrets", url.Values{"scope": {"team-db"}}, owner)
	wantStatus(t, "creating a scope", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/secrets/team-db" {
		t.Errorf("after creating a scope: Location %q", loc)
	}
	r = rc.post(t, "/secrets/team-db/secrets", url.Values{"key": {"db-password"}, "value": {secretValue}}, owner)
	wantStatus(t, "saving a secret", r, http.StatusSeeOther)
	r = rc.get(t, "/secrets/team-db", owner)
	wantStatus(t, "the scope page", r, http.StatusOK)
	mustContain(t, r.Body, "Scope team-db", "db-password", "MANAGE", "Save secret", "Grant access", "Delete scope", `type="password"`,
		"owner@example.com", `aria-label="Delete db-password"`, `aria-label="Revoke owner@example.com"`)
	if v, err := e.Svc().SecretForRun(kilntest.Offline(), mustPrincipal(t, e, "owner@example.com"), "team-db", "db-password"); err != nil || string(v) != secretValue {
		t.Fatalf("the saved value reads %q, %v", v, err)
	}

	// Refused inputs: a 4xx page that says what is wrong, the value not
	// written back.
	for _, c := range []struct {
		name, path string
		form       url.Values
		status     int
		says       string
	}{
		{"a bad scope name", "/secrets", url.Values{"scope": {"no spaces here"}}, http.StatusBadRequest, "is invalid"},
		{"an existing scope", "/secrets", url.Values{"scope": {"team-db"}}, http.StatusConflict, "team-db"},
		{"a bad key", "/secrets/team-db/secrets", url.Values{"key": {"bad key!"}, "value": {secretValue}}, http.StatusBadRequest, "is invalid"},
		{"no value", "/secrets/team-db/secrets", url.Values{"key": {"k"}, "value": {""}}, http.StatusBadRequest, "Enter the secret&#39;s value."},
		{"an unknown principal", "/secrets/team-db/acls", url.Values{"principal": {"nobody@example.com"}, "permission": {"READ"}}, http.StatusBadRequest, "does not exist"},
		{"an unknown permission", "/secrets/team-db/acls", url.Values{"principal": {"reader@example.com"}, "permission": {"OWNER"}}, http.StatusBadRequest, "expected READ, WRITE or MANAGE"},
		{"a missing scope", "/secrets/nope/secrets", url.Values{"key": {"k"}, "value": {secretValue}}, http.StatusNotFound, "nope"},
	} {
		r := rc.post(t, c.path, c.form, owner)
		if r.Status != c.status {
			t.Errorf("%s: status %d, want %d", c.name, r.Status, c.status)
		}
		mustContain(t, r.Body, c.says)
	}

	// Grant READ to reader: keys, but no control of WRITE or MANAGE.
	r = rc.post(t, "/secrets/team-db/acls", url.Values{"principal": {"READER@example.com"}, "permission": {"READ"}}, owner)
	wantStatus(t, "granting READ", r, http.StatusSeeOther)
	r = rc.get(t, "/secrets", reader)
	mustContain(t, r.Body, `href="/secrets/team-db"`, "READ")
	r = rc.get(t, "/secrets/team-db", reader)
	wantStatus(t, "the scope page for a reader", r, http.StatusOK)
	mustContain(t, r.Body, "db-password")
	mustNotContain(t, r.Body, "Save secret", "Grant access", "Delete scope", "Revoke", "owner@example.com", `aria-label="Delete db-password"`)

	// Forged posts and confirmation pages: refused in the service's words.
	for _, c := range []struct {
		method, path string
		form         url.Values
	}{
		{http.MethodPost, "/secrets/team-db/secrets", url.Values{"key": {"db-password"}, "value": {"overwritten"}}},
		{http.MethodPost, "/secrets/team-db/secrets/db-password/delete", nil},
		{http.MethodPost, "/secrets/team-db/acls", url.Values{"principal": {"reader@example.com"}, "permission": {"MANAGE"}}},
		{http.MethodPost, "/secrets/team-db/acls/revoke?principal=owner%40example.com", nil},
		{http.MethodPost, "/secrets/team-db/delete", nil},
		{http.MethodGet, "/secrets/team-db/delete", nil},
		{http.MethodGet, "/secrets/team-db/secrets/db-password/delete", nil},
		{http.MethodGet, "/secrets/team-db/acls/revoke?principal=owner%40example.com", nil},
	} {
		var r response
		if c.method == http.MethodGet {
			r = rc.get(t, c.path, reader)
		} else {
			r = rc.post(t, c.path, c.form, reader)
		}
		if r.Status != http.StatusForbidden {
			t.Errorf("reader %s %s: status %d, want 403", c.method, c.path, r.Status)
		}
		mustContain(t, r.Body, "permission")
	}
	// A stranger does not see the scope, and cannot open it.
	mustNotContain(t, rc.get(t, "/secrets", stranger).Body, "team-db")
	if r := rc.get(t, "/secrets/team-db", stranger); r.Status != http.StatusForbidden {
		t.Errorf("a stranger opening the scope: %d", r.Status)
	}

	// A cross-site post changes nothing.
	r = rc.post(t, "/secrets/team-db/acls", url.Values{"principal": {"stranger@example.com"}, "permission": {"MANAGE"}}, owner, "Sec-Fetch-Site", "cross-site")
	wantStatus(t, "a cross-site grant", r, http.StatusForbidden)
	mustContain(t, r.Body, "This form was sent from another site")
	mustNotContain(t, rc.get(t, "/secrets/team-db", owner).Body, "stranger@example.com")

	// Confirmation pages, then the actions.
	r = rc.get(t, "/secrets/team-db/acls/revoke?principal=reader%40example.com", owner)
	wantStatus(t, "the revoke confirmation", r, http.StatusOK)
	mustContain(t, r.Body, "Revoke access of reader@example.com?", `action="/secrets/team-db/acls/revoke?principal=reader%40example.com"`)
	wantStatus(t, "revoking", rc.post(t, "/secrets/team-db/acls/revoke?principal=reader%40example.com", nil, owner), http.StatusSeeOther)
	if r := rc.get(t, "/secrets/team-db", reader); r.Status != http.StatusForbidden {
		t.Errorf("the reader after the revoke: %d", r.Status)
	}
	r = rc.get(t, "/secrets/team-db/secrets/db-password/delete", owner)
	mustContain(t, r.Body, "Delete secret db-password?")
	wantStatus(t, "deleting the secret", rc.post(t, "/secrets/team-db/secrets/db-password/delete", nil, owner), http.StatusSeeOther)
	mustContain(t, rc.get(t, "/secrets/team-db", owner).Body, "No secrets in this scope yet.")
	r = rc.get(t, "/secrets/team-db/delete", owner)
	mustContain(t, r.Body, "Delete scope team-db?")
	wantStatus(t, "deleting the scope", rc.post(t, "/secrets/team-db/delete", nil, owner), http.StatusSeeOther)
	if r := rc.get(t, "/secrets/team-db", owner); r.Status != http.StatusNotFound {
		t.Errorf("the deleted scope: %d", r.Status)
	}

	for i, b := range rc.bodies {
		if strings.Contains(b, secretValue) {
			t.Errorf("response %d carries the secret's value", i)
		}
	}
}

// TestSecretsAdminSeesEveryScope: admins hold MANAGE on every scope, and
// a scope made for every user is managed by each of them.
func TestSecretsAdminSeesEveryScope(t *testing.T) {
	e := startEnv(t)
	u := e.sessionFor(e.newUser(t, "maker@example.com"))
	other := e.sessionFor(e.newUser(t, "other@example.com"))
	wantStatus(t, "creating a scope", e.post(t, "/secrets", url.Values{"scope": {"shared.scope"}, "manage_users": {"1"}}, u), http.StatusSeeOther)
	wantStatus(t, "creating a scope", e.post(t, "/secrets", url.Values{"scope": {"private"}}, u), http.StatusSeeOther)
	r := e.get(t, "/secrets", e.sessionFor(e.admin))
	mustContain(t, r.Body, "shared.scope", "private")
	r = e.get(t, "/secrets", other)
	mustContain(t, r.Body, "shared.scope", "MANAGE")
	mustNotContain(t, r.Body, "private")
	mustContain(t, e.get(t, "/secrets/shared.scope", other).Body, "Grant access", "users")
}

func mustPrincipal(t *testing.T, e *env, name string) int64 {
	t.Helper()
	p, err := e.Svc().PrincipalByName(kilntest.Offline(), name)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}
