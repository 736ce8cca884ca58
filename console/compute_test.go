package console_test

// Server-side tests of the Compute pages, over loopback against a real
// kiln whose runner executes real python3.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// createCluster creates a cluster named name as owner, as clusters/create
// does, and returns its id.
func (e *env) createCluster(t *testing.T, owner *kiln.Principal, name string) string {
	t.Helper()
	c, err := e.Svc().CreateCluster(as(owner), json.RawMessage(`{"cluster_name": "`+name+`", "spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "num_workers": 2}`))
	if err != nil {
		t.Fatalf("creating cluster %s: %v", name, err)
	}
	return c.ID
}

// shareCluster grants user level on cluster id, as its creator would.
func (e *env) shareCluster(t *testing.T, id, user, level string) {
	t.Helper()
	if _, err := e.Svc().SetClusterPermissions(kilntest.Offline(), id, []kiln.ACLEntry{{UserName: user, Level: level}}, false); err != nil {
		t.Fatalf("granting %s %s on %s: %v", user, level, id, err)
	}
}

// waitCluster polls cluster id until it is in state.
func (e *env) waitCluster(t *testing.T, id, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := e.Svc().GetCluster(kilntest.Offline(), id)
		if err != nil {
			t.Fatalf("reading cluster %s: %v", id, err)
		}
		if c.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s is %s, still not %s", id, c.State, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) clusterState(t *testing.T, id string) string {
	t.Helper()
	c, err := e.Svc().GetCluster(kilntest.Offline(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.State
}

func TestComputePages(t *testing.T) {
	e := startJobsEnv(t)
	ana, bo, cy, dee := e.newUser(t, "ana@example.com"), e.newUser(t, "bo@example.com"), e.newUser(t, "cy@example.com"), e.newUser(t, "dee@example.com")
	anaCk, boCk, cyCk, deeCk, adminCk := e.sessionFor(ana), e.sessionFor(bo), e.sessionFor(cy), e.sessionFor(dee), e.sessionFor(e.admin)
	etl := e.createCluster(t, ana, "etl")
	ml := e.createCluster(t, e.admin, "ml")
	vault := e.createCluster(t, e.admin, "vault")
	e.shareCluster(t, etl, "bo@example.com", service.LevelCanAttachTo)
	e.shareCluster(t, ml, "cy@example.com", service.LevelCanRestart)
	for _, id := range []string{etl, ml, vault} {
		e.waitCluster(t, id, kiln.ClusterRunning)
	}
	link := func(id, name string) string { return `<a href="/compute/` + id + `">` + name + `</a>` }

	t.Run("SignedOut", func(t *testing.T) {
		r := e.get(t, "/compute", nil)
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Fatalf("signed out: %d %s", r.Status, r.Header.Get("Location"))
		}
	})

	t.Run("AdminSeesAll", func(t *testing.T) {
		r := e.get(t, "/compute", adminCk)
		wantStatus(t, "the Compute page", r, http.StatusOK)
		mustContain(t, r.Body, "<title>Compute · kiln</title>", `<a href="/compute" aria-current="page">Compute</a>`,
			link(kiln.LocalClusterID, "kiln (this server)"), link(etl, "etl"), link(ml, "ml"), link(vault, "vault"),
			"<code>15.4.x-scala2.12</code>", "ana@example.com", ">Running<", "Can Manage", "This server")
		if cc, csp := r.Header.Get("Cache-Control"), r.Header.Get("Content-Security-Policy"); cc != "no-store" || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("the Compute page: Cache-Control %q, Content-Security-Policy %q", cc, csp)
		}
		// This server's executor comes first, then the clusters oldest first.
		if i, j, k := strings.Index(r.Body, link(kiln.LocalClusterID, "kiln (this server)")), strings.Index(r.Body, link(etl, "etl")), strings.Index(r.Body, link(vault, "vault")); !(i < j && j < k) {
			t.Errorf("rows out of order: local %d, etl %d, vault %d", i, j, k)
		}
	})

	t.Run("NonAdminSeesOnlyShared", func(t *testing.T) {
		r := e.get(t, "/compute", boCk)
		wantStatus(t, "bo's Compute page", r, http.StatusOK)
		mustContain(t, r.Body, link(kiln.LocalClusterID, "kiln (this server)"), link(etl, "etl"), "Can Attach To")
		mustNotContain(t, r.Body, link(ml, "ml"), link(vault, "vault"), "No clusters you may attach to.")
		r = e.get(t, "/compute", deeCk)
		mustContain(t, r.Body, link(kiln.LocalClusterID, "kiln (this server)"), "No clusters you may attach to.")
		mustNotContain(t, r.Body, link(etl, "etl"), link(ml, "ml"), link(vault, "vault"))
		// Nor can dee open one by its address: refused in words.
		r = e.get(t, "/compute/"+etl, deeCk)
		wantStatus(t, "dee opening etl", r, http.StatusForbidden)
		mustContain(t, r.Body, "User dee@example.com does not have Attach permission on cluster "+etl)
		mustNotContain(t, r.Body, "ana@example.com")
		// A cluster that does not exist is a missing page.
		r = e.get(t, "/compute/0101-000000-nothere0", boCk)
		wantStatus(t, "a missing cluster", r, http.StatusNotFound)
		mustContain(t, r.Body, "There is no cluster 0101-000000-nothere0.")
	})

	t.Run("NoRestartPermissionNoButtonAndRefused", func(t *testing.T) {
		r := e.get(t, "/compute/"+etl, boCk)
		wantStatus(t, "bo's page of etl", r, http.StatusOK)
		mustContain(t, r.Body, "<title>etl · Compute · kiln</title>", "<code>"+etl+"</code>", "Your permission, Can Attach To, lets you run tasks on this cluster.",
			`<a class="button secondary" href="/permissions/clusters/`+etl+`">Permissions</a>`)
		mustNotContain(t, r.Body, `action="/compute/`+etl+`/start"`, `action="/compute/`+etl+`/restart"`, `action="/compute/`+etl+`/terminate"`)
		for _, c := range []struct{ verb, words string }{
			{"restart", "User bo@example.com does not have Restart permission on cluster " + etl + "."},
			{"start", "User bo@example.com does not have Restart permission on cluster " + etl + "."},
			{"terminate", "User bo@example.com does not have Manage permission on cluster " + etl + "."},
		} {
			r := e.post(t, "/compute/"+etl+"/"+c.verb, nil, boCk)
			wantStatus(t, "bo posting "+c.verb, r, http.StatusForbidden)
			mustContain(t, r.Body, "Not allowed", c.words)
		}
		// The confirmation pages refuse too, rather than ask.
		r = e.get(t, "/compute/"+etl+"/restart", boCk)
		wantStatus(t, "bo's Restart confirmation", r, http.StatusForbidden)
		mustContain(t, r.Body, "You do not have Restart permission on cluster "+etl)
		if s := e.clusterState(t, etl); s != kiln.ClusterRunning {
			t.Errorf("bo's refused posts left etl %s", s)
		}
	})

	t.Run("RestartWithoutManage", func(t *testing.T) {
		r := e.get(t, "/compute/"+ml, cyCk)
		wantStatus(t, "cy's page of ml", r, http.StatusOK)
		mustContain(t, r.Body, `action="/compute/`+ml+`/restart"`, "Terminating the cluster needs Can Manage")
		mustNotContain(t, r.Body, `action="/compute/`+ml+`/terminate"`, `action="/compute/`+ml+`/start"`)
		r = e.post(t, "/compute/"+ml+"/terminate", nil, cyCk)
		wantStatus(t, "cy terminating ml", r, http.StatusForbidden)
		mustContain(t, r.Body, "User cy@example.com does not have Manage permission on cluster "+ml+".")
		r = e.post(t, "/compute/"+ml+"/restart", nil, cyCk)
		wantStatus(t, "cy restarting ml", r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/compute/"+ml {
			t.Errorf("after Restart: Location %q", loc)
		}
		if s := e.clusterState(t, ml); s != kiln.ClusterRestarting {
			t.Errorf("after Restart ml is %s", s)
		}
		// A cross-site post is refused before the service sees it.
		e.waitCluster(t, ml, kiln.ClusterRunning)
		r = e.request(t, http.MethodPost, "/compute/"+ml+"/restart", url.Values{}, cyCk, "Sec-Fetch-Site", "cross-site")
		wantStatus(t, "a cross-site Restart", r, http.StatusForbidden)
		mustContain(t, r.Body, "This form was sent from another site")
		if s := e.clusterState(t, ml); s != kiln.ClusterRunning {
			t.Errorf("a cross-site post moved ml to %s", s)
		}
	})

	t.Run("RunsOnItNow", func(t *testing.T) {
		home := "/Users/ana@example.com/"
		e.importNotebook(t, ana, home+"sleepy", sleepyNotebook)
		run := e.submitRun(t, ana, `{"run_name": "nightly", "tasks": [{"task_key": "nap", "existing_cluster_id": "`+etl+`", "notebook_task": {"notebook_path": "`+home+`sleepy"}}]}`)
		run = e.waitRun(t, run.ID, "running", running)
		defer e.Svc().CancelRun(as(ana), run.ID)
		runLink := `<a href="/jobs/` + num(run.JobID) + `/runs/` + num(run.ID) + `">nightly #` + num(run.ID) + `</a>`

		r := e.get(t, "/compute/"+etl, anaCk)
		mustContain(t, r.Body, "Runs on it now", runLink, "<code>nap</code>", ">Running<")
		r = e.get(t, "/compute", anaCk)
		mustContain(t, r.Body, `<td data-label="Runs now">1 running</td>`)
		r = e.get(t, "/compute/"+etl, adminCk)
		mustContain(t, r.Body, runLink)
		// bo shares the cluster, not the run: a count, no link.
		r = e.get(t, "/compute/"+etl, boCk)
		mustContain(t, r.Body, "One task run of other users' runs, which you may not see, is on it too.")
		mustNotContain(t, r.Body, "nightly")
		// The local executor runs nothing of this...
		r = e.get(t, "/compute/"+kiln.LocalClusterID, anaCk)
		mustContain(t, r.Body, "Nothing runs on this cluster now.")
		// ...but it runs what names a cluster kiln does not know.
		adhoc := e.submitRun(t, ana, `{"run_name": "adhoc", "tasks": [{"task_key": "nap", "existing_cluster_id": "0101-000000-unknown0", "notebook_task": {"notebook_path": "`+home+`sleepy"}}]}`)
		adhoc = e.waitRun(t, adhoc.ID, "running", running)
		defer e.Svc().CancelRun(as(ana), adhoc.ID)
		r = e.get(t, "/compute/"+kiln.LocalClusterID, anaCk)
		mustContain(t, r.Body, `>adhoc #`+num(adhoc.ID)+`</a>`)
		mustNotContain(t, r.Body, "nightly")
		r = e.get(t, "/compute/"+etl, anaCk)
		mustNotContain(t, r.Body, "adhoc")
	})

	t.Run("TerminateAndStart", func(t *testing.T) {
		r := e.get(t, "/compute/"+etl, anaCk)
		mustContain(t, r.Body, `<form method="get" action="/compute/`+etl+`/terminate"`, `action="/compute/`+etl+`/restart"`)
		mustNotContain(t, r.Body, `action="/compute/`+etl+`/start"`)
		r = e.get(t, "/compute/"+etl+"/terminate", anaCk)
		wantStatus(t, "the Terminate confirmation", r, http.StatusOK)
		mustContain(t, r.Body, "Terminate cluster etl?", `action="/compute/`+etl+`/terminate"`)
		r = e.post(t, "/compute/"+etl+"/terminate", nil, anaCk)
		wantStatus(t, "ana terminating etl", r, http.StatusSeeOther)
		if s := e.clusterState(t, etl); s != kiln.ClusterTerminating && s != kiln.ClusterTerminated {
			t.Fatalf("after Terminate etl is %s", s)
		}
		e.waitCluster(t, etl, kiln.ClusterTerminated)
		r = e.get(t, "/compute/"+etl, anaCk)
		mustContain(t, r.Body, ">Terminated<", `action="/compute/`+etl+`/start"`, "USER_REQUEST", "Last terminated")
		mustNotContain(t, r.Body, `action="/compute/`+etl+`/terminate"`, `action="/compute/`+etl+`/restart"`)
		r = e.post(t, "/compute/"+etl+"/start", nil, anaCk)
		wantStatus(t, "ana starting etl", r, http.StatusSeeOther)
		e.waitCluster(t, etl, kiln.ClusterRunning)
		// Starting a running cluster: the service's words.
		r = e.post(t, "/compute/"+etl+"/start", nil, anaCk)
		wantStatus(t, "starting a running cluster", r, http.StatusBadRequest)
		mustContain(t, r.Body, "Cluster "+etl+" is in unexpected state Running.")
	})

	t.Run("LocalExecutorReadOnly", func(t *testing.T) {
		r := e.get(t, "/compute/"+kiln.LocalClusterID, deeCk)
		wantStatus(t, "the local executor's page", r, http.StatusOK)
		mustContain(t, r.Body, "<title>kiln (this server) · Compute · kiln</title>", "Task slots", "it cannot be started, restarted or terminated")
		mustNotContain(t, r.Body, `/compute/`+kiln.LocalClusterID+`/`, `/permissions/clusters/`)
		for _, verb := range []string{"start", "restart", "terminate"} {
			r := e.post(t, "/compute/"+kiln.LocalClusterID+"/"+verb, nil, adminCk)
			wantStatus(t, "posting "+verb+" to the local executor", r, http.StatusBadRequest)
			mustContain(t, r.Body, "executor: it is always running and cannot be started, restarted or terminated.")
		}
	})

	t.Run("Paging", func(t *testing.T) {
		// Four rows, two a page: the local executor and etl, then ml and vault.
		r := e.get(t, "/compute?size=2", adminCk)
		mustContain(t, r.Body, link(kiln.LocalClusterID, "kiln (this server)"), link(etl, "etl"), "Page 1 of 2 · clusters 1–2 of 4",
			`href="/compute?page=2&amp;size=2"`)
		mustNotContain(t, r.Body, link(ml, "ml"))
		r = e.get(t, "/compute?page=2&size=2", adminCk)
		mustContain(t, r.Body, link(ml, "ml"), link(vault, "vault"), "Page 2 of 2 · clusters 3–4 of 4")
		mustNotContain(t, r.Body, link(kiln.LocalClusterID, "kiln (this server)"), link(etl, "etl"))
		// Past the end: the last page.
		r = e.get(t, "/compute?page=9&size=2", adminCk)
		mustContain(t, r.Body, link(vault, "vault"), "Page 2 of 2")
		// A page of one row: the local executor, then one cluster a page.
		r = e.get(t, "/compute?size=1", adminCk)
		mustContain(t, r.Body, link(kiln.LocalClusterID, "kiln (this server)"), "Page 1 of 4")
		mustNotContain(t, r.Body, link(etl, "etl"))
		r = e.get(t, "/compute?page=2&size=1", adminCk)
		mustContain(t, r.Body, link(etl, "etl"))
		mustNotContain(t, r.Body, link(ml, "ml"))
	})
}
