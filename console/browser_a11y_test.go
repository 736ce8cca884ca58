package console_test

// The console's accessibility audit: every page, opened in real Chromium,
// is checked by axe-core (the npm package, pinned in
// console/testdata/axe/package-lock.json and installed there by `npm ci`,
// which scripts/test.sh runs) and fails on any serious or critical
// violation; the main pages are also walked with Tab, which must reach
// every control and show where the focus is.
//
// The pages are the table a11yPages. A test checks that every GET route
// of console/routes.go is visited by at least one row (or is listed in
// a11yNotPages with the reason), so a new page fails the audit until it
// gets its row.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/console"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// Who opens a page of the audit.
const (
	asAdmin = iota // the workspace admin, signed in
	asUser         // ada, a signed-in user who is not an admin
	asNone         // nobody signed in
)

// a11yPage is one row of the audit: a page and what to do on it first.
type a11yPage struct {
	// path is the address to open. Words in braces are the seeded
	// fixture's ids (see seedA11y): {token}, {user}, {sp}, {webhook},
	// {grant}, {job}, {run}, {activejob}, {active}, {home}, {cluster},
	// {notebook} (the object id of the daily notebook), {authorize} (the
	// query of a valid OAuth request). An unknown one becomes 0.
	path string
	// who opens it: asAdmin, asUser or asNone.
	who int
	// title is the page's document title once open: a row whose address
	// is wrong lands on another page and fails here instead of auditing
	// the wrong page.
	title string
	// keys also walks the page with Tab (the main pages).
	keys bool
	// then, when set, acts on the page before the audit: opens a dialog,
	// submits a form whose answer is a page of its own; state says what
	// it leads to, for messages.
	then  func(tb *btab)
	state string
}

// a11yPages is every page of the console the audit opens. To add a page,
// add one line: its address (braces for seeded ids), who opens it, and
// its title; set keys for a main page. A route missing from this table
// fails TestAccessibility/EveryRouteAudited.
var a11yPages = []a11yPage{
	// Sign-in and the pages around it.
	{path: "/login", who: asNone, title: "Sign in · kiln", keys: true},
	{path: "/login?expired=1", who: asNone, title: "Sign in · kiln"},
	{path: "/", who: asAdmin, title: "Access Tokens · User Settings · kiln"},
	// Errors: a missing page, a page only admins may open, a refused
	// cross-site form post.
	{path: "/no-such-page", who: asAdmin, title: "Page not found · kiln"},
	{path: "/admin/users", who: asUser, title: "Not allowed · kiln"},
	{path: "/jobs/999999", who: asUser, title: "Page not found · kiln"},
	// User Settings.
	{path: "/settings", who: asAdmin, title: "Access Tokens · User Settings · kiln", keys: true},
	{path: "/settings", who: asAdmin, title: "Access Tokens · User Settings · kiln", then: openAccountMenu, state: "account menu open"},
	{path: "/settings", who: asAdmin, title: "Access Tokens · User Settings · kiln", then: openDialog("button", "Generate New Token"), state: "dialog open"},
	{path: "/settings", who: asAdmin, title: "Access Tokens · User Settings · kiln", then: generateToken, state: "the new token shown once"},
	{path: "/settings", who: asUser, title: "Access Tokens · User Settings · kiln"},
	{path: "/settings/tokens/new", who: asAdmin, title: "Generate New Token · User Settings · kiln"},
	{path: "/settings/tokens/{token}/revoke", who: asAdmin, title: "Revoke token? · User Settings · kiln"},
	{path: "/settings/tokens/{token}/rotate", who: asAdmin, title: "Rotate token? · User Settings · kiln"},
	{path: "/settings/password", who: asAdmin, title: "Password · User Settings · kiln", keys: true},
	{path: "/settings/apps", who: asAdmin, title: "Apps · User Settings · kiln"},
	{path: "/settings/apps/{grant}/revoke", who: asAdmin, title: "Revoke access? · User Settings · kiln"},
	// The OAuth consent page of databricks auth login.
	{path: "/oidc/v1/authorize?{authorize}", who: asAdmin, title: "Authorize databricks-cli · kiln", keys: true},
	{path: "/oidc/v1/authorize?client_id=nobody", who: asAdmin, title: "Cannot do that · kiln"},
	// Admin Console.
	{path: "/admin", who: asAdmin, title: "Access Control · Admin Console · kiln"},
	{path: "/admin/access-control", who: asAdmin, title: "Access Control · Admin Console · kiln", keys: true},
	{path: "/admin/access-control/tokens/disable", who: asAdmin, title: "Disable personal access tokens? · Admin Console · kiln"},
	{path: "/admin/access-control/permissions/remove?kind=group&name=users", who: asAdmin, title: "Remove permission? · Admin Console · kiln"},
	{path: "/admin/users", who: asAdmin, title: "Users · Admin Console · kiln", keys: true},
	{path: "/admin/users/{user}/password", who: asAdmin, title: "Set password · Admin Console · kiln"},
	{path: "/admin/users/{user}/make-admin", who: asAdmin, title: "Make ada@example.com an admin? · Admin Console · kiln"},
	{path: "/admin/service-principals", who: asAdmin, title: "Service Principals · Admin Console · kiln", keys: true},
	{path: "/admin/service-principals/{sp}/secrets", who: asAdmin, title: "OAuth secrets of nightly-etl · Admin Console · kiln", then: generateSPSecret, state: "the new secret shown once"},
	{path: "/admin/service-principals/{sp}/deactivate", who: asAdmin, title: "Deactivate nightly-etl? · Admin Console · kiln"},
	{path: "/admin/tokens", who: asAdmin, title: "Tokens · Admin Console · kiln", keys: true},
	{path: "/admin/tokens/{token}/revoke", who: asAdmin, title: "Revoke token? · Admin Console · kiln"},
	{path: "/admin/webhooks", who: asAdmin, title: "Webhooks · Admin Console · kiln", keys: true},
	{path: "/admin/webhooks/{webhook}/delete", who: asAdmin, title: "Delete webhook? · Admin Console · kiln"},
	{path: "/admin/audit", who: asAdmin, title: "Audit Log · Admin Console · kiln", keys: true},
	// Jobs: the list, a job, a finished run with its task graph, an
	// active run, and the confirmations.
	{path: "/jobs", who: asAdmin, title: "Jobs · kiln", keys: true},
	{path: "/jobs/{job}", who: asAdmin, title: "pipeline · Jobs · kiln", keys: true},
	{path: "/jobs/{job}/runs/{run}", who: asAdmin, title: "Run {run} of pipeline · Jobs · kiln", keys: true},
	{path: "/jobs/{job}/runs/{run}/repair", who: asAdmin, title: "Repair run? · Jobs · kiln"},
	{path: "/jobs/{activejob}/runs/{active}", who: asAdmin, title: "Run {active} of nightly-sleep · Jobs · kiln"},
	{path: "/jobs/{activejob}/runs/{active}/cancel", who: asAdmin, title: "Cancel run? · Jobs · kiln"},
	// Secrets.
	{path: "/secrets", who: asAdmin, title: "Secrets · kiln", keys: true},
	{path: "/secrets/payments", who: asAdmin, title: "payments · Secrets · kiln", keys: true},
	{path: "/secrets/payments/delete", who: asAdmin, title: "Delete scope payments? · Secrets · kiln"},
	{path: "/secrets/payments/secrets/stripe-key/delete", who: asAdmin, title: "Delete secret stripe-key? · Secrets · kiln"},
	{path: "/secrets/payments/acls/revoke?principal=ada@example.com", who: asAdmin, title: "Revoke access of ada@example.com? · Secrets · kiln"},
	// DBFS.
	{path: "/dbfs", who: asAdmin, title: "DBFS · kiln"},
	{path: "/dbfs?path=/reports", who: asAdmin, title: "/reports · DBFS · kiln", keys: true},
	{path: "/dbfs/delete?path=/reports/q1.csv", who: asAdmin, title: "Delete q1.csv? · DBFS · kiln"},
	// Workspace: the tree, a folder, a notebook, a file, and an object's
	// move and delete pages.
	{path: "/workspace", who: asAdmin, title: "Workspace · kiln"},
	{path: "/workspace{home}/etl", who: asAdmin, title: "etl · Workspace · kiln", keys: true},
	{path: "/workspace{home}/etl/daily", who: asAdmin, title: "daily · Workspace · kiln", keys: true},
	{path: "/workspace{home}/etl/notes.txt", who: asAdmin, title: "notes.txt · Workspace · kiln"},
	{path: "/workspace{home}/etl/daily?op=move", who: asAdmin, title: "Rename or move daily · Workspace · kiln", keys: true},
	{path: "/workspace{home}/etl/daily?op=delete", who: asAdmin, title: "Delete daily? · Workspace · kiln"},
	// Compute: the list, a stored cluster with its confirmations, the
	// local executor.
	{path: "/compute", who: asAdmin, title: "Compute · kiln", keys: true},
	{path: "/compute/{cluster}", who: asAdmin, title: "etl-cluster · Compute · kiln", keys: true},
	{path: "/compute/{cluster}/restart", who: asAdmin, title: "Restart cluster etl-cluster? · Compute · kiln"},
	{path: "/compute/{cluster}/terminate", who: asAdmin, title: "Terminate cluster etl-cluster? · Compute · kiln"},
	{path: "/compute/kiln-local", who: asUser, title: "kiln (this server) · Compute · kiln"},
	// Permissions: a job's (with a direct grant and its removal), a
	// notebook's (inherited rows), a cluster's, and a read-only view.
	{path: "/permissions/jobs/{job}", who: asAdmin, title: "Permissions of pipeline · Jobs · kiln", keys: true},
	{path: "/permissions/jobs/{job}/remove?kind=user&name=ada@example.com", who: asAdmin, title: "Remove the grant of ada@example.com? · Jobs · kiln"},
	{path: "/permissions/jobs/{job}", who: asUser, title: "Permissions of pipeline · Jobs · kiln"},
	{path: "/permissions/notebooks/{notebook}", who: asAdmin, title: "Permissions of {home}/etl/daily · Workspace · kiln", keys: true},
	{path: "/permissions/clusters/{cluster}", who: asAdmin, title: "Permissions of etl-cluster · Compute · kiln"},
}

// a11yNotPages are the GET routes the audit does not open, and why.
var a11yNotPages = map[string]string{
	"GET /static/{name}":              "static files, not pages",
	"GET /login/sso":                  "redirects to the identity provider (TestBrowserSSO)",
	"GET " + console.SSOCallbackPath:  "the identity provider's redirect back (TestBrowserSSO)",
	"GET /jobs/{job}/runs/{run}/logs": "a text/plain download",
	"GET /dbfs/download":              "a file download",
}

// axeViolation is what the audit reports of one axe-core violation.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	HelpURL string   `json:"helpUrl"`
	Targets []string `json:"targets"`
}

// axeScript reads axe.min.js from where `npm ci` puts it. It fails the
// test, never skips, when it is not there.
func axeScript(t *testing.T) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "console", "testdata", "axe")
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the accessibility audit needs axe-core, and %s has none: install it with `npm ci --prefix %s` (scripts/test.sh does)",
			filepath.Join(dir, "node_modules"), dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAccessibility audits every page of a11yPages with axe-core, in the
// light and dark colour schemes, and walks the main ones with Tab and
// audits them again at a phone's width.
func TestAccessibility(t *testing.T) {
	start := time.Now()
	axe := axeScript(t)
	chromium := chromiumPath(t)
	e := startEnv(t)
	t.Run("EveryRouteAudited", func(t *testing.T) { testEveryRouteAudited(t, e) })
	fx := seedA11y(t, e)
	b := startBrowser(t, e, chromium)

	// One tab per visitor, each with a deadline for the whole audit.
	tabs := map[int]*btab{asAdmin: b.newTabWithin(t, 8*time.Minute), asUser: b.newTabWithin(t, 8*time.Minute), asNone: b.newTabWithin(t, 8*time.Minute)}
	tabs[asAdmin].signIn(kilntest.AdminEmail, kilntest.AdminPassword)
	tabs[asUser].signIn("ada@example.com", "user-password-123")
	// axe-core itself works: on a page with an image without a text
	// alternative, it reports the critical violation image-alt.
	canary := tabs[asNone]
	canary.open("/login")
	canary.waitTitle("Sign in · kiln")
	canary.do("adding an image without alt", chromedp.Evaluate[chromedp.Void](`document.querySelector('main').append(Object.assign(document.createElement('img'), {src: '/static/favicon.svg'}))`))
	if vs := canary.axe(axe); !slices.ContainsFunc(vs, func(v axeViolation) bool { return v.ID == "image-alt" }) {
		t.Fatalf("axe-core does not report an image without alt (it reports %+v): the audit cannot be trusted", vs)
	}
	for _, p := range a11yPages {
		tb := tabs[p.who]
		path, title := fx.Replace(p.path), fx.Replace(p.title)
		tb.open(path)
		if got := tb.settledTitle(title); got != title {
			t.Errorf("%s: the page is %q, want %q: is the row right?", path, got, title)
			continue
		}
		what := path
		if p.then != nil {
			p.then(tb)
			what += " (" + p.state + ")"
		}
		// Every rule in the light colour scheme; the console follows the
		// system's, so the rules about colours run in the dark one too.
		report := func(scheme string, vs []axeViolation) {
			for _, v := range vs {
				t.Errorf("%s (%s): %s violation %s: %s; at %s (%s)", what, scheme, v.Impact, v.ID, v.Help, strings.Join(v.Targets, ", "), v.HelpURL)
			}
		}
		report("light", tb.axe(axe))
		tb.colorScheme("dark")
		report("dark", tb.axe(axe, "color-contrast", "link-in-text-block"))
		tb.colorScheme("light")
		if p.keys {
			tb.checkKeyboard(what)
			// The main pages at a phone's width too, where tables become
			// cards and the header wraps.
			tb.phone(true)
			report("phone", tb.axe(axe))
			tb.phone(false)
		}
	}
	t.Logf("audited %d pages in %v", len(a11yPages), time.Since(start).Round(time.Millisecond))
}

// testEveryRouteAudited checks that each GET route of the console is
// opened by a row of a11yPages, matched by the route table's own rules,
// or is in a11yNotPages. (A POST's answer is a redirect to a GET page,
// or a page some row's then reaches.)
func testEveryRouteAudited(t *testing.T, e *env) {
	patterns := e.console.RoutePatterns()
	mux := http.NewServeMux()
	for _, p := range patterns {
		mux.Handle(p, http.NotFoundHandler())
	}
	audited := map[string]bool{}
	fx := a11yFixture{"authorize": "client_id=x", "home": "/Users/a"}
	for _, p := range a11yPages {
		path := fx.Replace(p.path)
		r, err := http.NewRequest(http.MethodGet, "http://kiln"+path, nil)
		if err != nil {
			t.Fatalf("row %s: %v", p.path, err)
		}
		_, pattern := mux.Handler(r)
		audited[pattern] = true
	}
	for _, p := range patterns {
		if !strings.HasPrefix(p, "GET ") && p != "/" {
			continue
		}
		if _, ok := a11yNotPages[p]; ok {
			continue
		}
		if !audited[p] {
			t.Errorf("no row of a11yPages (browser_a11y_test.go) opens the route %q: add one", p)
		}
	}
}

// a11yFixture maps the placeholders of a11yPages to the seeded ids.
type a11yFixture map[string]string

// Replace fills in the placeholders of s. Placeholders it does not know
// are replaced by 0, which the route table still matches.
func (f a11yFixture) Replace(s string) string {
	for k, v := range f {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	for {
		i := strings.Index(s, "{")
		j := strings.Index(s, "}")
		if i < 0 || j < i {
			return s
		}
		s = s[:i] + "0" + s[j+1:]
	}
}

// seedA11y fills the workspace so that every page has something on it:
// a user, a service principal, a token, a webhook, an OAuth grant, a job
// with a finished (failed, repairable) run of two tasks and an active
// run, a secret scope, DBFS files and workspace objects.
func seedA11y(t *testing.T, e *env) a11yFixture {
	t.Helper()
	ctx := as(e.admin)
	e.EnableTokens(t)
	ada := e.NewUser(t, "ada@example.com", false)
	tok := e.NewToken(t, kilntest.AdminEmail, 0)
	sp, err := e.Svc().CreatePrincipal(kilntest.Offline(), service.NewPrincipal{Kind: kiln.KindServicePrincipal, DisplayName: "nightly-etl"})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := e.Svc().CreateWebhook(ctx, service.NewWebhook{URL: "https://hooks.example.com/kiln", Events: []string{kiln.EventTypes[0]}, Secret: "hook-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}

	// An OAuth grant of the admin, as databricks auth login leaves one.
	verifier := strings.Repeat("v", 64)
	challenge := pkceChallenge(verifier)
	code, err := e.Svc().Authorize(ctx, service.AuthorizeRequest{ClientID: service.CLIClientID, RedirectURI: "http://localhost:8020",
		Scope: "all-apis offline_access", CodeChallenge: challenge, CodeChallengeMethod: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc().ExchangeCode(ctx, service.CLIClientID, code, verifier, "http://localhost:8020", e.URL+"/oidc"); err != nil {
		t.Fatal(err)
	}
	grants, err := e.Svc().OAuthGrants(ctx)
	if err != nil || len(grants) == 0 {
		t.Fatalf("grants %v %v", grants, err)
	}

	// Workspace objects in the admin's home folder.
	home := "/Users/" + kilntest.AdminEmail
	if err := e.Svc().Mkdirs(ctx, home+"/etl"); err != nil {
		t.Fatal(err)
	}
	e.importNotebook(t, e.admin, home+"/etl/quiet", "print(\"done\")\n")
	e.importNotebook(t, e.admin, home+"/etl/boom", boomNotebook)
	e.importNotebook(t, e.admin, home+"/etl/sleepy", sleepyNotebook)
	e.importNotebook(t, e.admin, home+"/etl/daily", "# MAGIC %md\n# MAGIC # Daily report\n# MAGIC Counts **rows** per day.\n\n# COMMAND ----------\n\nprint(sum(range(10)))\n")
	if err := e.Svc().ImportObject(ctx, service.ImportParams{Path: home + "/etl/notes.txt", Format: "AUTO", Content: []byte("Notes on the ETL.\n")}); err != nil {
		t.Fatal(err)
	}

	// A job whose run fails in its second task (Repair run is offered).
	nb := func(name string) map[string]any { return map[string]any{"notebook_path": home + "/etl/" + name} }
	settings, _ := json.Marshal(map[string]any{"name": "pipeline", "tasks": []any{
		map[string]any{"task_key": "extract", "notebook_task": nb("quiet")},
		map[string]any{"task_key": "check", "depends_on": []any{map[string]string{"task_key": "extract"}}, "notebook_task": nb("boom")},
		map[string]any{"task_key": "load", "depends_on": []any{map[string]string{"task_key": "check"}}, "notebook_task": nb("quiet")},
	}})
	job, err := e.Svc().CreateJob(ctx, settings)
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.Svc().RunNow(ctx, service.RunNowParams{JobID: job.ID})
	if err != nil {
		t.Fatal(err)
	}
	active := e.submitRun(t, e.admin, `{"run_name": "nightly-sleep", "tasks": [{"task_key": "nap", "notebook_task": {"notebook_path": "`+home+`/etl/sleepy"}}]}`)
	t.Cleanup(func() { e.Svc().CancelRun(ctx, active.ID) })

	// A secret scope with a secret and a grant.
	if err := e.Svc().CreateSecretScope(ctx, "payments", "", ""); err != nil {
		t.Fatal(err)
	}
	value := "sk_live_123"
	if err := e.Svc().PutSecret(ctx, service.PutSecretParams{Scope: "payments", Key: "stripe-key", StringValue: &value}); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc().PutSecretACL(ctx, "payments", "ada@example.com", "READ"); err != nil {
		t.Fatal(err)
	}

	// A cluster, and a direct grant on the job.
	cluster, err := e.Svc().CreateCluster(ctx, json.RawMessage(`{"cluster_name": "etl-cluster", "spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "num_workers": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc().SetJobPermissions(ctx, job.ID, []kiln.ACLEntry{{UserName: "ada@example.com", Level: "CAN_VIEW"}}, false); err != nil {
		t.Fatal(err)
	}
	daily, err := e.Svc().ObjectStatus(ctx, home+"/etl/daily")
	if err != nil {
		t.Fatal(err)
	}

	// DBFS.
	if err := e.Svc().DBFSPutBytes(ctx, "/reports/q1.csv", []byte("day,rows\n2026-03-01,10\n"), true); err != nil {
		t.Fatal(err)
	}

	e.waitRun(t, run.ID, "finished", finished)
	e.waitRun(t, active.ID, "running", running)
	return a11yFixture{
		"token": tok.Info.ID, "user": ada.IDString(), "sp": sp.IDString(), "webhook": hook.ID,
		"grant": grants[len(grants)-1].ID, "job": num(job.ID), "run": num(run.ID),
		"activejob": num(active.JobID), "active": num(active.ID), "home": home,
		"cluster": cluster.ID, "notebook": num(daily.ID),
		"authorize": url.Values{"response_type": {"code"}, "client_id": {"databricks-cli"}, "redirect_uri": {"http://localhost:8020"},
			"scope": {"offline_access all-apis"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"st4te"}}.Encode(),
	}
}

// settledTitle waits until the page has loaded with the title want, for
// a few seconds at most, and returns its title.
func (tb *btab) settledTitle(want string) string {
	tb.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string]("document.readyState === 'complete' ? document.title : ''"))
		if err == nil && got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// colorScheme makes the page render as in a system set to scheme, light
// or dark.
func (tb *btab) colorScheme(scheme string) {
	tb.t.Helper()
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		tb.t.Fatalf("emulating the %s colour scheme: %v", scheme, err)
	}
}

// axe runs axe-core on the current page, with every rule or only those
// named, and returns its serious and critical violations, one per rule
// with every element it found.
func (tb *btab) axe(script string, only ...string) []axeViolation {
	tb.t.Helper()
	if ok, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[bool]("typeof axe === 'object'")); !ok {
		if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](script)); err != nil {
			tb.t.Fatalf("loading axe-core: %v", err)
		}
	}
	// An active run's page replaces part of itself every few seconds
	// (jobs.js), which must not happen under axe's feet: its updates
	// pause while the tab is hidden, so the page is told it is.
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](
		"Object.defineProperty(document, 'hidden', {configurable: true, get: () => true})")); err != nil {
		tb.t.Fatalf("pausing the page's updates: %v", err)
	}
	opts := map[string]any{"resultTypes": []string{"violations"}}
	if len(only) > 0 {
		opts["runOnly"] = map[string]any{"type": "rule", "values": only}
	}
	optsJSON, _ := json.Marshal(opts)
	run := `axe.run(document, ` + string(optsJSON) + `).then(r => JSON.stringify(r.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
			targets: v.nodes.map(n => n.target.join(' '))}))))`
	out, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("running axe-core: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		tb.t.Fatalf("axe-core's answer %q: %v", out, err)
	}
	return vs
}

// focusStop is the element that has the focus after one press of Tab.
type focusStop struct {
	// Index is the element's position among the page's tabbable
	// elements, -1 when it is none of them (the body).
	Index int `json:"index"`
	// Desc names the element for messages.
	Desc string `json:"desc"`
	// Visible and Indicator: the element is on screen and the focus
	// shows (an outline or a box shadow).
	Visible   bool `json:"visible"`
	Indicator bool `json:"indicator"`
}

// checkKeyboard walks the page with Tab from the top: every tabbable
// control must be reached, be visible when focused and show the focus.
func (tb *btab) checkKeyboard(what string) {
	tb.t.Helper()
	// The tabbable elements: visible, enabled, tabIndex >= 0. Of a radio
	// group only one is a Tab stop, so the group counts once.
	const mark = `(() => {
		const all = [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')];
		const seen = new Set();
		let n = 0;
		for (const el of all) {
			delete el.dataset.a11yStop;
			if (el.tabIndex < 0 || el.disabled || !el.checkVisibility({visibilityProperty: true})) continue;
			if (el.type === 'radio' || el.type === 'hidden') {
				if (el.type === 'hidden' || seen.has(el.name)) continue;
				seen.add(el.name);
			}
			el.dataset.a11yStop = String(n++);
		}
		document.activeElement && document.activeElement.blur();
		window.scrollTo(0, 0);
		return n;
	})()`
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](mark))
	if err != nil {
		tb.t.Fatal(err)
	}
	const probe = `(() => {
		const el = document.activeElement;
		if (!el || el === document.body || el === document.documentElement) return {index: -1, desc: 'the page itself'};
		let stop = el.dataset.a11yStop;
		if (stop === undefined && el.type === 'radio') {
			const first = [...document.querySelectorAll('input[type=radio]')].find(r => r.name === el.name && r.dataset.a11yStop !== undefined);
			stop = first && first.dataset.a11yStop;
		}
		const cs = getComputedStyle(el);
		const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
		const shadow = cs.boxShadow !== '' && cs.boxShadow !== 'none';
		const r = el.getBoundingClientRect();
		const name = (el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].textContent) || el.textContent || el.name || '').trim().slice(0, 40);
		return {index: stop === undefined ? -1 : Number(stop), desc: el.tagName.toLowerCase() + ' "' + name + '"',
			visible: el.checkVisibility() && r.width > 0 && r.height > 0, indicator: outline || shadow};
	})()`
	reached := map[int]bool{}
	first := -2
	// A date or time field is several Tab stops (its parts), so
	// the walk allows more presses than there are controls.
	for range 3*n + 10 {
		tb.keys(kb.Tab)
		s, err := chromedp.Run(tb.ctx, chromedp.Evaluate[focusStop](probe))
		if err != nil {
			tb.t.Fatal(err)
		}
		if s.Index == first {
			break
		}
		if first == -2 && s.Index >= 0 {
			first = s.Index
		}
		if s.Index < 0 {
			continue
		}
		reached[s.Index] = true
		if !s.Visible {
			tb.t.Errorf("%s: Tab focuses %s, which is not visible", what, s.Desc)
		}
		if !s.Indicator {
			tb.t.Errorf("%s: %s has the focus and shows no focus indicator (outline or box-shadow)", what, s.Desc)
		}
	}
	if len(reached) < n {
		missed, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll('[data-a11y-stop]')]
			.filter(el => !%s.includes(Number(el.dataset.a11yStop))).map(el => el.outerHTML.slice(0, 120))`, jsInts(reached))))
		if err != nil {
			tb.t.Fatal(err)
		}
		tb.t.Errorf("%s: Tab never reaches %d of the page's %d controls: %q", what, n-len(reached), n, missed)
	}
}

// jsInts writes the keys of m as a JavaScript array.
func jsInts(m map[int]bool) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b, _ := json.Marshal(keys)
	return string(b)
}

// Actions of a11yPages rows.

// openAccountMenu opens the account menu.
func openAccountMenu(tb *btab) { tb.openAccountMenu() }

// openDialog opens the dialog the control with role r and name opens.
func openDialog(r, name string) func(tb *btab) {
	return func(tb *btab) {
		tb.click(r, name)
		tb.waitFor("dialog", name)
	}
}

// generateToken generates a token: the page that shows it once.
func generateToken(tb *btab) {
	tb.click("button", "Generate New Token")
	tb.waitFor("dialog", "Generate New Token")
	tb.fill("textbox", "Comment", "audit")
	tb.click("button", "Generate")
	tb.waitText("Your token has been created successfully.")
}

// generateSPSecret generates an OAuth secret of a service principal: the
// page that shows it once.
func generateSPSecret(tb *btab) {
	tb.click("button", "Generate secret")
	tb.waitFor("button", "Done")
}

// pkceChallenge is the S256 code challenge of verifier.
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
