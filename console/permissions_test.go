package console_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// grantForm is the Add form of a Permissions page.
func grantForm(kind, name, level string) url.Values {
	return url.Values{"kind": {kind}, "name": {name}, "level": {level}}
}

// objectID is the workspace object id of the object at p.
func (e *env) objectID(t *testing.T, p string) string {
	t.Helper()
	o, err := e.Svc().ObjectStatus(kilntest.Offline(), p)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(o.ID, 10)
}

func TestJobPermissionsPage(t *testing.T) {
	e := startEnv(t)
	ana, bob, cy := e.newUser(t, "ana@example.com"), e.newUser(t, "bob@example.com"), e.newUser(t, "cy@example.com")
	anaCk, bobCk := e.sessionFor(ana), e.sessionFor(bob)
	e.importNotebook(t, ana, "/Users/ana@example.com/report", `print("hi")`)
	job, err := e.Svc().CreateJob(as(ana), json.RawMessage(`{"name": "nightly-report",
		"tasks": [{"task_key": "r", "notebook_task": {"notebook_path": "/Users/ana@example.com/report"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	jobURL := "/jobs/" + num(job.ID)
	permURL := "/permissions/jobs/" + num(job.ID)

	// The job's page links its Permissions; bob sees neither yet.
	mustContain(t, e.get(t, jobURL, anaCk).Body, `href="`+permURL+`">Permissions</a>`)
	if r := e.get(t, jobURL, bobCk); r.Status != http.StatusNotFound {
		t.Fatalf("bob opened ana's job before any grant: %d", r.Status)
	}
	r := e.get(t, permURL, bobCk)
	if r.Status != http.StatusNotFound {
		t.Fatalf("bob opened the job's permissions before any grant: %d", r.Status)
	}
	mustContain(t, r.Body, "Job "+num(job.ID)+" does not exist, or you do not have permission to see it.")

	// The owner sees the owner row, the admins' inherited row, and an Add
	// form offering exactly the levels that can be granted on a job.
	r = e.get(t, permURL, anaCk)
	if r.Status != http.StatusOK {
		t.Fatalf("owner's permissions page: %d\n%s", r.Status, r.Body)
	}
	mustContain(t, r.Body, "You can manage permissions on this job", "ana@example.com", "IS_OWNER", "Owner</span> of the job",
		"admins", "Inherited</span> from the admins group, which manages every job", "Add a grant",
		`<option value="CAN_VIEW" selected>`, `<option value="CAN_MANAGE_RUN">`, `<option value="CAN_MANAGE">`)
	mustNotContain(t, r.Body, `<option value="IS_OWNER"`, `<option value="CAN_RUN"`, "Remove ana@example.com")

	// Owner grants CAN_MANAGE_RUN to bob, who then sees the job.
	r = e.post(t, permURL, grantForm("user", "bob@example.com", "CAN_MANAGE_RUN"), anaCk)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != permURL {
		t.Fatalf("granting: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	r = e.get(t, jobURL, bobCk)
	if r.Status != http.StatusOK {
		t.Fatalf("bob's job page after the grant: %d", r.Status)
	}
	mustContain(t, r.Body, "nightly-report")
	r = e.get(t, permURL, anaCk)
	mustContain(t, r.Body, "bob@example.com", "Direct</span> grant on this job", `aria-label="Remove bob@example.com"`, `aria-label="Change level of bob@example.com"`)

	// bob may read the permissions but not change them: no forms, the
	// words of who may, and the service's refusal of a forged post.
	r = e.get(t, permURL, bobCk)
	if r.Status != http.StatusOK {
		t.Fatalf("bob's permissions page: %d", r.Status)
	}
	mustContain(t, r.Body, "You can see these permissions but not change them.", "Only the job&#39;s owner, workspace admins and those with CAN_MANAGE on it can change them.", "CAN_MANAGE_RUN")
	mustNotContain(t, r.Body, "Add a grant", "Remove bob", "Change level of")
	r = e.post(t, permURL, grantForm("user", "cy@example.com", "CAN_VIEW"), bobCk)
	if r.Status != http.StatusForbidden {
		t.Fatalf("bob granted on ana's job: %d", r.Status)
	}
	mustContain(t, r.Body, "bob@example.com does not have Manage permissions on Job "+num(job.ID)+".")
	removeBob := permURL + "/remove?kind=user&name=bob%40example.com"
	if r := e.get(t, removeBob, bobCk); r.Status != http.StatusForbidden {
		t.Fatalf("bob was asked to confirm a removal: %d", r.Status)
	} else {
		mustContain(t, r.Body, "You cannot change the permissions of this job.")
	}
	if r := e.post(t, removeBob, nil, bobCk); r.Status != http.StatusForbidden {
		t.Fatalf("bob removed a grant: %d", r.Status)
	}

	// Refusals of the Add form are shown next to it, in words, with what
	// was typed.
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"level of another object type", grantForm("user", "cy@example.com", "CAN_RUN"), `Permission level "CAN_RUN" is not valid for jobs; use CAN_VIEW, CAN_MANAGE_RUN, CAN_MANAGE or IS_OWNER.`},
		{"unknown level", grantForm("user", "cy@example.com", "SUPERUSER"), `Permission level "SUPERUSER" is not valid for jobs`},
		{"ownership", grantForm("user", "cy@example.com", "IS_OWNER"), "cy@example.com cannot be the owner of job"},
		{"unknown user", grantForm("user", "nobody@example.com", "CAN_VIEW"), "user nobody@example.com does not exist."},
		{"unknown group", grantForm("group", "ghosts", "CAN_VIEW"), "Group ghosts does not exist."},
		{"no name", grantForm("user", " ", "CAN_VIEW"), "Enter the name of the user to grant to."},
		{"no kind", grantForm("robot", "cy@example.com", "CAN_VIEW"), "Choose whether to grant to a user, a group or a service principal."},
		{"admins", grantForm("group", "admins", "CAN_VIEW"), "admins always have CAN_MANAGE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, permURL, tc.form, anaCk)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			body := html.UnescapeString(r.Body)
			mustContain(t, body, tc.want, `role="alert"`)
			if name := tc.form.Get("name"); name != " " {
				mustContain(t, body, `id="perm-name" name="name" type="text" value="`+name+`"`)
			}
		})
	}
	if ps, _ := e.Svc().JobPermissions(kilntest.Offline(), job.ID); len(ps) != 3 {
		t.Fatalf("refused grants changed the job's permissions: %+v", ps)
	}

	// Change lowers bob to CAN_VIEW: the same PATCH, one grant per
	// grantee.
	if r := e.post(t, permURL, grantForm("user", "bob@example.com", "CAN_VIEW"), anaCk); r.Status != http.StatusSeeOther {
		t.Fatalf("changing bob's level: %d", r.Status)
	}
	ps, err := e.Svc().JobPermissions(as(ana), job.ID)
	if err != nil || len(ps) != 3 || ps[2].UserName != "bob@example.com" || ps[2].Level != kiln.LevelCanView {
		t.Fatalf("after Change: %+v %v", ps, err)
	}

	// A cross-site post is refused before anything happens.
	r = e.request(t, http.MethodPost, permURL, grantForm("user", "cy@example.com", "CAN_MANAGE"), anaCk, "Sec-Fetch-Site", "cross-site")
	if r.Status != http.StatusForbidden {
		t.Fatalf("cross-site grant: %d", r.Status)
	}

	// Remove asks first (a page without scripts), then removes; the owner
	// is not a grant and stays.
	r = e.get(t, removeBob, anaCk)
	if r.Status != http.StatusOK {
		t.Fatalf("remove confirmation: %d", r.Status)
	}
	mustContain(t, r.Body, "Remove the grant of bob@example.com?", "Levels held through groups or folders stay.")
	if r := e.post(t, removeBob, nil, anaCk); r.Status != http.StatusSeeOther {
		t.Fatalf("removing: %d\n%s", r.Status, r.Body)
	}
	if r := e.get(t, jobURL, bobCk); r.Status != http.StatusNotFound {
		t.Fatalf("bob still sees the job after the removal: %d", r.Status)
	}
	r = e.post(t, permURL+"/remove?kind=user&name=ana%40example.com", nil, anaCk)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("removing the owner: %d", r.Status)
	}
	mustContain(t, r.Body, "has no direct grant on job "+num(job.ID))

	// An admin manages every job; a group grant reaches its members.
	team, err := e.Svc().CreateGroup(kilntest.Offline(), "reporters", []int64{cy.ID})
	if err != nil {
		t.Fatal(err)
	}
	adminCk := e.sessionFor(e.admin)
	if r := e.post(t, permURL, grantForm("group", team.DisplayName, "CAN_VIEW"), adminCk); r.Status != http.StatusSeeOther {
		t.Fatalf("admin granting to a group: %d", r.Status)
	}
	if r := e.get(t, jobURL, e.sessionFor(cy)); r.Status != http.StatusOK {
		t.Fatalf("a member of the granted group cannot see the job: %d", r.Status)
	}

	// Unknown object types and ids name no page.
	for _, p := range []string{"/permissions/tokens/x", "/permissions/jobs/abc", "/permissions/pipelines/1"} {
		if r := e.get(t, p, anaCk); r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d", p, r.Status)
		}
	}
}

func TestWorkspacePermissionsPage(t *testing.T) {
	e := startEnv(t)
	ana, bob := e.newUser(t, "ana@example.com"), e.newUser(t, "bob@example.com")
	anaCk, bobCk := e.sessionFor(ana), e.sessionFor(bob)
	dir := "/Users/ana@example.com/proj"
	if err := e.Svc().Mkdirs(as(ana), dir); err != nil {
		t.Fatal(err)
	}
	e.importNotebook(t, ana, dir+"/etl", `print("etl")`)
	e.importNotebook(t, ana, "/Users/ana@example.com/private", `print("mine")`)
	dirPerm := "/permissions/directories/" + e.objectID(t, dir)
	nbPerm := "/permissions/notebooks/" + e.objectID(t, dir+"/etl")
	privatePerm := "/permissions/notebooks/" + e.objectID(t, "/Users/ana@example.com/private")

	// The folder's and the notebook's pages link their Permissions.
	mustContain(t, e.get(t, "/workspace"+dir, anaCk).Body, `href="`+dirPerm+`">Permissions</a>`)
	mustContain(t, e.get(t, "/workspace"+dir+"/etl", anaCk).Body, `href="`+nbPerm+`">Permissions</a>`)

	// ana gives bob CAN_READ on the folder.
	if r := e.post(t, dirPerm, grantForm("user", "bob@example.com", "CAN_READ"), anaCk); r.Status != http.StatusSeeOther {
		t.Fatalf("granting on the folder: %d\n%s", r.Status, r.Body)
	}
	r := e.get(t, dirPerm, anaCk)
	mustContain(t, r.Body, "Direct</span> grant on this folder", `aria-label="Remove bob@example.com"`,
		`<option value="CAN_READ"`, `<option value="CAN_RUN"`, `<option value="CAN_EDIT"`, `<option value="CAN_MANAGE"`)
	mustNotContain(t, r.Body, `<option value="CAN_VIEW"`, `<option value="IS_OWNER"`)

	// On the notebook in it, bob's grant is inherited from the folder,
	// linked, and not removable there.
	r = e.get(t, nbPerm, anaCk)
	if r.Status != http.StatusOK {
		t.Fatalf("notebook permissions: %d", r.Status)
	}
	mustContain(t, r.Body, "bob@example.com", "Inherited</span> from <a href=\"/workspace/Users/ana@example.com/proj\">"+dir+"</a>",
		"Change it on the folder", "You can manage permissions on this notebook")
	mustNotContain(t, r.Body, "Remove bob@example.com")
	if r := e.post(t, nbPerm+"/remove?kind=user&name=bob%40example.com", nil, anaCk); r.Status != http.StatusBadRequest {
		t.Fatalf("removing an inherited grant on the notebook: %d", r.Status)
	} else {
		mustContain(t, html.UnescapeString(r.Body), "user bob@example.com has no direct grant on "+dir+"/etl")
	}

	// bob reads the notebook's permissions but may not change them.
	r = e.get(t, nbPerm, bobCk)
	if r.Status != http.StatusOK {
		t.Fatalf("bob's view of the notebook's permissions: %d", r.Status)
	}
	mustContain(t, r.Body, "You can see these permissions but not change them.", "Inherited</span> from")
	mustNotContain(t, r.Body, "Add a grant")
	if r := e.post(t, nbPerm, grantForm("user", "bob@example.com", "CAN_MANAGE"), bobCk); r.Status != http.StatusForbidden {
		t.Fatalf("bob raised his own level: %d", r.Status)
	} else {
		mustContain(t, r.Body, "bob@example.com does not have Manage permissions on "+dir+"/etl.")
	}
	// Levels of jobs are refused on a notebook, in words.
	r = e.post(t, nbPerm, grantForm("user", "bob@example.com", "CAN_MANAGE_RUN"), anaCk)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("a job level on a notebook: %d", r.Status)
	}
	mustContain(t, html.UnescapeString(r.Body), `Permission level "CAN_MANAGE_RUN" is not valid for notebooks; use CAN_READ, CAN_RUN, CAN_EDIT or CAN_MANAGE.`)

	// What bob may not read does not exist for him.
	if r := e.get(t, privatePerm, bobCk); r.Status != http.StatusNotFound {
		t.Fatalf("bob opened the permissions of ana's private notebook: %d", r.Status)
	}

	// A CAN_MANAGE grant on the folder lets bob manage the notebook.
	if r := e.post(t, dirPerm, grantForm("user", "bob@example.com", "CAN_MANAGE"), anaCk); r.Status != http.StatusSeeOther {
		t.Fatalf("raising bob on the folder: %d", r.Status)
	}
	mustContain(t, e.get(t, nbPerm, bobCk).Body, "You can manage permissions on this notebook")

	// A grant on the workspace root holds below it, and says so.
	root := "/permissions/directories/" + e.objectID(t, "/")
	if r := e.post(t, root, grantForm("group", "users", "CAN_READ"), e.sessionFor(e.admin)); r.Status != http.StatusSeeOther {
		t.Fatalf("granting on the root: %d", r.Status)
	}
	mustContain(t, e.get(t, nbPerm, anaCk).Body, `Inherited</span> from <a href="/workspace">/</a>`)
	if r := e.post(t, root+"/remove?kind=group&name=users", nil, e.sessionFor(e.admin)); r.Status != http.StatusSeeOther {
		t.Fatalf("removing the root's grant: %d", r.Status)
	}

	// Removing the folder's grant takes the inherited row away, and bob
	// can no longer open what he could read only through it.
	if r := e.post(t, dirPerm+"/remove?kind=user&name=bob%40example.com", nil, anaCk); r.Status != http.StatusSeeOther {
		t.Fatalf("removing bob's grant on the folder: %d", r.Status)
	}
	mustNotContain(t, e.get(t, nbPerm, anaCk).Body, "bob@example.com")
	if r := e.get(t, nbPerm, bobCk); r.Status != http.StatusNotFound {
		t.Fatalf("bob opened the notebook's permissions after the removal: %d", r.Status)
	}
}

func TestClusterPermissionsPage(t *testing.T) {
	e := startEnv(t)
	ana, bob := e.newUser(t, "ana@example.com"), e.newUser(t, "bob@example.com")
	anaCk, bobCk := e.sessionFor(ana), e.sessionFor(bob)
	cl, err := e.Svc().CreateCluster(as(ana), json.RawMessage(`{"cluster_name": "etl", "spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "num_workers": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	permURL := "/permissions/clusters/" + cl.ID
	r := e.get(t, permURL, anaCk)
	if r.Status != http.StatusOK {
		t.Fatalf("creator's cluster permissions: %d", r.Status)
	}
	mustContain(t, r.Body, "Creator</span> of the cluster", `href="/compute/`+cl.ID+`"`,
		`<option value="CAN_ATTACH_TO"`, `<option value="CAN_RESTART"`, `<option value="CAN_MANAGE"`)
	if r := e.post(t, permURL, grantForm("user", "bob@example.com", "CAN_VIEW"), anaCk); r.Status != http.StatusBadRequest {
		t.Fatalf("a job level on a cluster: %d", r.Status)
	}
	if r := e.post(t, permURL, grantForm("user", "bob@example.com", "CAN_RESTART"), anaCk); r.Status != http.StatusSeeOther {
		t.Fatalf("granting CAN_RESTART: %d", r.Status)
	}
	ps, err := e.Svc().ClusterPermissions(as(bob), cl.ID)
	if err != nil || len(ps) != 3 || ps[2].Level != service.LevelCanRestart {
		t.Fatalf("cluster permissions after the grant: %+v %v", ps, err)
	}
	r = e.get(t, permURL, bobCk)
	mustContain(t, r.Body, "You can see these permissions but not change them.", "Only the cluster&#39;s creator")
	if r := e.post(t, permURL+"/remove?kind=user&name=bob%40example.com", nil, bobCk); r.Status != http.StatusForbidden {
		t.Fatalf("bob removed his own grant on ana's cluster: %d", r.Status)
	}

	// The creator removes the grant, leaving the creator and the admins.
	if r := e.post(t, permURL+"/remove?kind=user&name=bob%40example.com", nil, anaCk); r.Status != http.StatusSeeOther {
		t.Fatalf("removing bob's grant on the cluster: %d", r.Status)
	}
	if ps, err := e.Svc().ClusterPermissions(as(ana), cl.ID); err != nil || len(ps) != 2 {
		t.Fatalf("cluster permissions after the removal: %+v %v", ps, err)
	}

	// A cluster that does not exist is the service's answer.
	r = e.get(t, "/permissions/clusters/0000-000000-nothing0", anaCk)
	if r.Status != http.StatusBadRequest && r.Status != http.StatusNotFound {
		t.Fatalf("missing cluster: %d", r.Status)
	}
	mustContain(t, r.Body, "0000-000000-nothing0 does not exist")
}
