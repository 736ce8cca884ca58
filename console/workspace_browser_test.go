package console_test

// HTTP tests of the Workspace browser against a real kiln on loopback: what
// each user sees, the actions and their refusals, forged posts, and a
// notebook whose Markdown tries to run script.

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// postFile posts a multipart form to path, as a browser sends it: the
// fields first, then the file part (none when filename and content are
// both empty).
func (e *env) postFile(t *testing.T, path, filename string, content []byte, fields map[string]string, ck *http.Cookie, hdr ...string) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if filename != "" || content != nil {
		fw, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	mw.Close()
	return e.send(t, http.MethodPost, path, &body, mw.FormDataContentType(), ck, hdr...)
}

// exists reports whether the workspace object at p exists (as an admin
// sees it).
func (e *env) exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := e.Svc().ObjectStatus(as(e.admin), p)
	if err != nil && !kiln.IsCode(err, kiln.ENotFound) {
		t.Fatalf("status of %s: %v", p, err)
	}
	return err == nil
}

func TestWorkspaceShowsOnlyWhatTheUserMayRead(t *testing.T) {
	e := startEnv(t)
	ann, bob := e.newUser(t, "ann@example.com"), e.newUser(t, "bob@example.com")
	e.importNotebook(t, ann, "/Users/ann@example.com/ann-etl", "print('ann')\n")
	e.importNotebook(t, bob, "/Users/bob@example.com/bob-secret", "print('bob')\n")
	e.importNotebook(t, ann, "/Shared/team", "print('team')\n")
	annCk, adminCk := e.sessionFor(ann), e.sessionFor(e.admin)

	root := e.get(t, "/workspace", annCk)
	if root.Status != http.StatusOK {
		t.Fatalf("GET /workspace: %d\n%s", root.Status, root.Body)
	}
	mustContain(t, root.Body, `href="/workspace/Users"`, `href="/workspace/Shared"`, `aria-label="Workspace tree"`, `href="/workspace" aria-current="page"`)

	users := e.get(t, "/workspace/Users", annCk)
	mustContain(t, users.Body, `href="/workspace/Users/ann@example.com"`)
	mustNotContain(t, users.Body, "bob@example.com")

	home := e.get(t, "/workspace/Users/ann@example.com", annCk)
	mustContain(t, home.Body, "ann-etl", "Notebook", `aria-label="Download ann-etl"`, `aria-label="Rename or move ann-etl"`, `aria-label="Delete ann-etl?"`)
	// The home folder itself is kiln's: never offered for moving or deleting.
	mustNotContain(t, e.get(t, "/workspace/Users", annCk).Body, `Delete ann@example.com?`)

	for _, p := range []string{"/workspace/Users/bob@example.com", "/workspace/Users/bob@example.com/bob-secret",
		"/workspace/Users/bob@example.com/bob-secret?export=SOURCE", "/workspace/Users/bob@example.com/nothing-here"} {
		r := e.get(t, p, annCk)
		if r.Status != http.StatusForbidden {
			t.Errorf("ann opens %s: %d, want 403", p, r.Status)
		}
		mustContain(t, r.Body, "You do not have permission to read /Users/bob@example.com")
		mustNotContain(t, r.Body, "print(&#39;bob&#39;)", "print('bob')")
	}

	// An admin sees every home.
	mustContain(t, e.get(t, "/workspace/Users", adminCk).Body, "ann@example.com", "bob@example.com")
	if r := e.get(t, "/workspace/Users/bob@example.com/bob-secret", adminCk); r.Status != http.StatusOK {
		t.Errorf("an admin opens bob's notebook: %d", r.Status)
	}

	// A grant opens another home's notebook, as in the API.
	nb, err := e.Svc().ObjectStatus(as(bob), "/Users/bob@example.com/bob-secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Svc().SetWorkspaceObjectPermissions(as(bob), "notebooks", num(nb.ID),
		[]kiln.ACLEntry{{UserName: "ann@example.com", Level: service.LevelCanRead}}, false); err != nil {
		t.Fatal(err)
	}
	if r := e.get(t, "/workspace/Users/bob@example.com/bob-secret", annCk); r.Status != http.StatusOK {
		t.Errorf("ann opens bob's notebook after CAN_READ: %d", r.Status)
	}

	// Signed out: sent to sign in.
	if r := e.get(t, "/workspace/Shared", nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("signed out: %d %s", r.Status, r.Header.Get("Location"))
	}
}

func TestWorkspaceNotebookRendersMarkdownInert(t *testing.T) {
	e := startEnv(t)
	ann := e.newUser(t, "ann@example.com")
	src := "# MAGIC %md\n# MAGIC # Daily **report**\n# MAGIC <script>alert('md')</script>\n# MAGIC <img src=x onerror=\"alert(1)\">\n# MAGIC\n" +
		"# MAGIC [click](javascript:alert(2)) and [docs](https://example.com/docs)\n" +
		"\n# COMMAND ----------\n\n" +
		"# DBTITLE 1,Load\nrows = [\"<b>not bold</b>\"]\nprint(rows)\n" +
		"\n# COMMAND ----------\n\n" +
		"# MAGIC %sql\n# MAGIC SELECT 1\n"
	e.importNotebook(t, ann, "/Users/ann@example.com/report", src)
	r := e.get(t, "/workspace/Users/ann@example.com/report", e.sessionFor(ann))
	if r.Status != http.StatusOK {
		t.Fatalf("notebook page: %d\n%s", r.Status, r.Body)
	}
	mustContain(t, r.Body,
		"<h1>Daily <strong>report</strong></h1>", // Markdown rendered
		`href="https://example.com/docs"`,        // a safe link kept
		`aria-label="Cell 2"`, `<h2 class="cell-title">Load</h2>`,
		`<pre class="code"><code>rows = [&#34;&lt;b&gt;not bold&lt;/b&gt;&#34;]`, // code as text
		`cell-magic">%sql</span>`, "SELECT 1",
		`href="/workspace/Users/ann@example.com/report?export=SOURCE"`, `?export=JUPYTER"`)
	mustNotContain(t, r.Body, "<script>alert", "onerror", `href="javascript:`, "<b>not bold</b>")
	if t.Failed() {
		t.Logf("the page:\n%s", r.Body)
	}

	// The download is an attachment, named after the notebook.
	d := e.get(t, "/workspace/Users/ann@example.com/report?export=SOURCE", e.sessionFor(ann))
	if d.Status != http.StatusOK || d.Header.Get("Content-Disposition") != `attachment; filename=report.py` ||
		d.Header.Get("X-Content-Type-Options") != "nosniff" || d.Header.Get("Content-Type") != "application/octet-stream" ||
		!strings.HasPrefix(d.Body, "# Databricks notebook source") {
		t.Errorf("download: %d %q %.40q", d.Status, d.Header.Get("Content-Disposition"), d.Body)
	}
	j := e.get(t, "/workspace/Users/ann@example.com/report?export=JUPYTER", e.sessionFor(ann))
	if j.Header.Get("Content-Disposition") != `attachment; filename=report.ipynb` || !strings.Contains(j.Body, `"cells"`) {
		t.Errorf("Jupyter download: %q %.60q", j.Header.Get("Content-Disposition"), j.Body)
	}
}

func TestWorkspaceActions(t *testing.T) {
	e := startEnv(t)
	ann := e.newUser(t, "ann@example.com")
	ck := e.sessionFor(ann)
	home := "/Users/ann@example.com"
	e.get(t, "/workspace"+home, ck) // creates the home

	// New folder.
	r := e.post(t, "/workspace"+home+"?op=mkdir", url.Values{"name": {"etl"}}, ck)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/workspace"+home {
		t.Fatalf("mkdir: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if !e.exists(t, home+"/etl") {
		t.Fatal("the folder was not created")
	}

	// Import: a .py with the header becomes a notebook, without it a file;
	// an .ipynb a notebook; SOURCE makes a plain .py a notebook.
	for _, c := range []struct {
		file, content, format, want string
		typ                         kiln.ObjectType
	}{
		{"job.py", "# Databricks notebook source\nprint(1)\n", "AUTO", "/etl/job", kiln.ObjectNotebook},
		{"util.py", "def f():\n    return 1\n", "AUTO", "/etl/util.py", kiln.ObjectFile},
		{"nb.ipynb", `{"cells": [{"cell_type": "code", "source": ["x = 1"]}], "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}`, "AUTO", "/etl/nb", kiln.ObjectNotebook},
		{"script.py", "print(2)\n", "SOURCE", "/etl/script", kiln.ObjectNotebook},
		{"data.csv", "a,b\n1,2\n", "RAW", "/etl/data.csv", kiln.ObjectFile},
	} {
		r := e.postFile(t, "/workspace"+home+"/etl?op=import", c.file, []byte(c.content), map[string]string{"format": c.format}, ck)
		if r.Status != http.StatusSeeOther {
			t.Errorf("import %s: %d\n%s", c.file, r.Status, r.Body)
			continue
		}
		o, err := e.Svc().ObjectStatus(as(ann), home+c.want)
		if err != nil || o.Type != c.typ {
			t.Errorf("import %s: %+v, %v; want a %s at %s", c.file, o, err, c.typ, c.want)
		}
	}
	page := e.get(t, "/workspace"+home+"/etl", ck).Body
	mustContain(t, page, "job", "util.py", "data.csv", "Python")
	file := e.get(t, "/workspace"+home+"/etl/data.csv", ck)
	mustContain(t, file.Body, "<pre class=\"code\"><code>a,b\n1,2\n</code></pre>")
	if d := e.get(t, "/workspace"+home+"/etl/data.csv?export=RAW", ck); d.Body != "a,b\n1,2\n" || d.Header.Get("Content-Disposition") != "attachment; filename=data.csv" {
		t.Errorf("file download: %q %q", d.Body, d.Header.Get("Content-Disposition"))
	}

	// Rename in place, then move the folder: ids (and grants) stay.
	before, _ := e.Svc().ObjectStatus(as(ann), home+"/etl/job")
	if r := e.post(t, "/workspace"+home+"/etl/job?op=move", url.Values{"to": {"daily"}}, ck); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/workspace"+home+"/etl/daily" {
		t.Fatalf("rename: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if r := e.post(t, "/workspace"+home+"/etl?op=move", url.Values{"to": {"/Shared/etl"}}, ck); r.Status != http.StatusSeeOther {
		t.Fatalf("move: %d\n%s", r.Status, r.Body)
	}
	after, err := e.Svc().ObjectStatus(as(ann), "/Shared/etl/daily")
	if err != nil || after.ID != before.ID {
		t.Errorf("after rename and move: %+v, %v; want object %d", after, err, before.ID)
	}
	if e.exists(t, home+"/etl") {
		t.Error("the old folder is still there")
	}

	// Delete asks first (a page without scripts), then deletes the folder
	// with what is in it.
	conf := e.get(t, "/workspace/Shared/etl?op=delete", ck)
	mustContain(t, conf.Body, "Delete the folder /Shared/etl and everything in it?", `action="/workspace/Shared/etl?op=delete"`)
	if e.exists(t, "/Shared/etl") != true {
		t.Fatal("the confirmation page deleted something")
	}
	if r := e.post(t, "/workspace/Shared/etl?op=delete", nil, ck); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/workspace/Shared" {
		t.Fatalf("delete: %d %s", r.Status, r.Header.Get("Location"))
	}
	if e.exists(t, "/Shared/etl") || e.exists(t, "/Shared/etl/daily") {
		t.Error("the folder is still there after Delete")
	}
}

func TestWorkspaceBadInputIsAClearClientError(t *testing.T) {
	e := startEnv(t)
	ann, bob := e.newUser(t, "ann@example.com"), e.newUser(t, "bob@example.com")
	ck := e.sessionFor(ann)
	e.importNotebook(t, ann, "/Users/ann@example.com/nb", "print(1)\n")
	e.importNotebook(t, ann, "/Users/ann@example.com/other", "print(2)\n")
	e.importNotebook(t, bob, "/Users/bob@example.com/b", "print(3)\n")
	if err := e.Svc().Mkdirs(as(ann), "/Users/ann@example.com/dir/sub"); err != nil {
		t.Fatal(err)
	}
	home := "/workspace/Users/ann@example.com"
	big := bytes.Repeat([]byte("x"), kiln.MaxObjectSize+1)
	for _, c := range []struct {
		name   string
		send   func() response
		status int
		says   string
	}{
		{"mkdir without a name", func() response { return e.post(t, home+"?op=mkdir", url.Values{"name": {" "}}, ck) }, 400, "Enter a name."},
		{"mkdir with a slash", func() response { return e.post(t, home+"?op=mkdir", url.Values{"name": {"a/b"}}, ck) }, 400, "A name cannot contain / or \\."},
		{"mkdir of ..", func() response { return e.post(t, home+"?op=mkdir", url.Values{"name": {".."}}, ck) }, 400, "is not allowed"},
		{"mkdir of an existing name", func() response { return e.post(t, home+"?op=mkdir", url.Values{"name": {"nb"}}, ck) }, 409, "/Users/ann@example.com/nb already exists."},
		{"mkdir in another home", func() response {
			return e.post(t, "/workspace/Users/bob@example.com?op=mkdir", url.Values{"name": {"x"}}, ck)
		}, 403, "You do not have permission to read /Users/bob@example.com."},
		{"mkdir at the root", func() response { return e.post(t, "/workspace?op=mkdir", url.Values{"name": {"Repos"}}, ck) }, 403, "You do not have permission to write to /Repos."},
		{"mkdir in a notebook", func() response { return e.post(t, home+"/nb?op=mkdir", url.Values{"name": {"x"}}, ck) }, 400, "is not a folder"},
		{"delete /Shared", func() response { return e.post(t, "/workspace/Shared?op=delete", nil, ck) }, 403, "provided by kiln"},
		{"delete one's home", func() response { return e.post(t, home+"?op=delete", nil, ck) }, 403, "provided by kiln"},
		{"delete in another home", func() response { return e.post(t, "/workspace/Users/bob@example.com/b?op=delete", nil, ck) }, 403, "permission"},
		{"delete what is not there", func() response { return e.post(t, home+"/missing?op=delete", nil, ck) }, 404, "Path (/Users/ann@example.com/missing) doesn"},
		{"move onto an existing name", func() response { return e.post(t, home+"/nb?op=move", url.Values{"to": {"other"}}, ck) }, 409, "already exists"},
		{"move into itself", func() response {
			return e.post(t, home+"/dir?op=move", url.Values{"to": {"/Users/ann@example.com/dir/sub/dir"}}, ck)
		}, 400, "cannot be moved into itself"},
		{"move to the same path", func() response { return e.post(t, home+"/nb?op=move", url.Values{"to": {"nb"}}, ck) }, 400, "the same as the old one"},
		{"move into another home", func() response {
			return e.post(t, home+"/nb?op=move", url.Values{"to": {"/Users/bob@example.com/nb"}}, ck)
		}, 403, "You do not have permission to write to /Users/bob@example.com/nb."},
		{"move to a missing folder", func() response { return e.post(t, home+"/nb?op=move", url.Values{"to": {"/Shared/none/nb"}}, ck) }, 404, "does not exist"},
		{"move with ..", func() response { return e.post(t, home+"/nb?op=move", url.Values{"to": {"/Shared/../x"}}, ck) }, 400, "must not contain"},
		{"move without a path", func() response { return e.post(t, home+"/nb?op=move", url.Values{"to": {""}}, ck) }, 400, "Path is required."},
		{"move one's home", func() response { return e.post(t, home+"?op=move", url.Values{"to": {"/Shared/me"}}, ck) }, 403, "provided by kiln"},
		{"unknown op", func() response { return e.post(t, home+"?op=explode", nil, ck) }, 400, "nothing kiln knows how to do"},
		{"unknown page op", func() response { return e.get(t, home+"?op=explode", ck) }, 404, "There is no page at this address."},
		{"export of a folder", func() response { return e.get(t, home+"/dir?export=SOURCE", ck) }, 400, "is a folder"},
		{"export in an unknown format", func() response { return e.get(t, home+"/nb?export=PDF", ck) }, 400, "Invalid format"},
		{"import without multipart", func() response { return e.post(t, home+"?op=import", url.Values{"file": {"x"}}, ck) }, 400, "multipart/form-data"},
		{"import without a file", func() response {
			return e.postFile(t, home+"?op=import", "", nil, map[string]string{"format": "AUTO"}, ck)
		}, 400, "Choose a file to import."},
		{"import over the size limit", func() response { return e.postFile(t, home+"?op=import", "big.txt", big, nil, ck) }, 400, "larger than the 10 MB limit"},
		{"import over an existing notebook", func() response {
			return e.postFile(t, home+"?op=import", "nb.py", []byte("# Databricks notebook source\n1\n"), nil, ck)
		}, 409, "already exists: set overwrite"},
		{"import a broken notebook", func() response {
			return e.postFile(t, home+"?op=import", "x.ipynb", []byte("{not json"), map[string]string{"format": "JUPYTER"}, ck)
		}, 400, ""},
		{"import in an unknown format", func() response {
			return e.postFile(t, home+"?op=import", "x.py", []byte("1"), map[string]string{"format": "DBC"}, ck)
		}, 400, "not supported by kiln"},
		{"a path with ..", func() response { return e.get(t, "/workspace/Shared/%2E%2E/Users", ck) }, 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.send()
			if r.Status != c.status {
				t.Errorf("status %d, want %d\n%s", r.Status, c.status, r.Body)
			}
			if c.says != "" {
				mustContain(t, r.Body, c.says)
			}
			mustNotContain(t, r.Body, "Internal error")
			if t.Failed() {
				t.Logf("the page:\n%s", r.Body)
			}
		})
	}
	// Nothing of the refused requests changed anything.
	for _, p := range []string{"/Users/ann@example.com/nb", "/Users/ann@example.com/other", "/Users/ann@example.com/dir/sub", "/Users/bob@example.com/b", "/Shared"} {
		if !e.exists(t, p) {
			t.Errorf("%s is gone", p)
		}
	}
	for _, p := range []string{"/Repos", "/Users/ann@example.com/x", "/Users/ann@example.com/big.txt", "/Users/bob@example.com/nb", "/Shared/me"} {
		if e.exists(t, p) {
			t.Errorf("%s was created", p)
		}
	}
}

func TestWorkspaceForgedPostsRefused(t *testing.T) {
	e := startEnv(t)
	ann := e.newUser(t, "ann@example.com")
	ck := e.sessionFor(ann)
	e.importNotebook(t, ann, "/Users/ann@example.com/nb", "print(1)\n")
	home := "/workspace/Users/ann@example.com"
	for _, h := range [][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "http://evil.example"}} {
		for _, send := range []func() response{
			func() response {
				return e.request(t, http.MethodPost, home+"/nb?op=delete", url.Values{}, ck, h[0], h[1])
			},
			func() response {
				return e.request(t, http.MethodPost, home+"/nb?op=move", url.Values{"to": {"/Shared/stolen"}}, ck, h[0], h[1])
			},
			func() response {
				return e.request(t, http.MethodPost, home+"?op=mkdir", url.Values{"name": {"x"}}, ck, h[0], h[1])
			},
			func() response { return e.postFile(t, home+"?op=import", "evil.py", []byte("1"), nil, ck, h[0], h[1]) },
		} {
			r := send()
			if r.Status != http.StatusForbidden {
				t.Errorf("a post with %s: %s: %d, want 403", h[0], h[1], r.Status)
			}
			mustContain(t, r.Body, "This form was sent from another site")
		}
	}
	// Without a session, a post is sent to sign in.
	if r := e.post(t, home+"/nb?op=delete", nil, nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("a post without a session: %d %s", r.Status, r.Header.Get("Location"))
	}
	if !e.exists(t, "/Users/ann@example.com/nb") {
		t.Error("a forged post deleted the notebook")
	}
	for _, p := range []string{"/Shared/stolen", "/Users/ann@example.com/x", "/Users/ann@example.com/evil.py"} {
		if e.exists(t, p) {
			t.Errorf("a forged post created %s", p)
		}
	}
}
