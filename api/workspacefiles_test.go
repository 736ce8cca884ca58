package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
)

const importFileRoute = "/api/2.0/workspace-files/import-file/"

// importFileURL is the URL the CLI's filer writes a file to: the path
// without its leading slash, escaped with url.PathEscape (slashes too).
func importFileURL(p string, overwrite bool) string {
	return fmt.Sprintf("%s%s?overwrite=%t", importFileRoute, url.PathEscape(strings.TrimLeft(p, "/")), overwrite)
}

// importFile sends the CLI's raw upload (the SDK's ApiClient sends a
// []byte body without a Content-Type; kiln reads any).
func importFile(t *testing.T, e *kilntest.Env, tok, p string, content []byte, overwrite bool) kilntest.Response {
	t.Helper()
	return e.DoHeaders(t, "POST", importFileURL(p, overwrite), content, http.Header{
		"Authorization": {"Bearer " + tok}, "Content-Type": {"application/octet-stream"}})
}

// cliWrite writes a file as the CLI's filer does with
// CreateParentDirectories: import-file, and on 404 mkdirs of the parent
// and one retry.
func cliWrite(t *testing.T, e *kilntest.Env, tok, p string, content []byte, overwrite bool) kilntest.Response {
	t.Helper()
	r := importFile(t, e, tok, p, content, overwrite)
	if r.Status != http.StatusNotFound {
		return r
	}
	ok(t, e.Do(t, "POST", ws+"mkdirs", tok, map[string]any{"path": path.Dir(p)}), "mkdirs "+path.Dir(p))
	return importFile(t, e, tok, p, content, overwrite)
}

// download is the SDK's Workspace.Download: export with direct_download
// and no format.
func download(t *testing.T, e *kilntest.Env, tok, p string) []byte {
	t.Helper()
	r := ok(t, e.Do(t, "GET", ws+"export"+q("path", p, "direct_download", "true"), tok, nil), "download "+p)
	return r.Body
}

// randomBytes returns n reproducible bytes of every value.
func randomBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

func TestImportFile(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	ok(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": home + "/up/dir with space"}), "mkdirs")
	allBytes := make([]byte, 512)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	tests := []struct {
		name     string
		url      string // request path; "" is importFileURL(path, false)
		path     string // the path uploaded to
		content  []byte
		wantPath string // the object's path; "" is path
		wantType string
		wantLang string
	}{
		{name: "Text", path: home + "/up/a.txt", content: []byte("hello\n"), wantType: "FILE"},
		{name: "SlashesNotEscaped", url: importFileRoute + strings.TrimPrefix(home, "/") + "/up/curl.txt?overwrite=false",
			path: home + "/up/curl.txt", content: []byte("curl"), wantType: "FILE"},
		{name: "WorkspacePrefix", path: "/Workspace" + home + "/up/w.txt", wantPath: home + "/up/w.txt", content: []byte("w"), wantType: "FILE"},
		{name: "Binary", path: home + "/up/blob.bin", content: allBytes, wantType: "FILE"},
		{name: "InvalidUTF8", path: home + "/up/latin1.txt", content: []byte("caf\xe9 \xff\xfe\x00"), wantType: "FILE"},
		{name: "Empty", path: home + "/up/empty", content: []byte{}, wantType: "FILE"},
		{name: "SpacesAndUnicode", path: home + "/up/dir with space/ü 名前 %20+&?#.txt", content: []byte("ü"), wantType: "FILE"},
		{name: "PlainPythonIsAFile", path: home + "/up/tool.py", content: []byte("print(1)\n"), wantType: "FILE"},
		{name: "NotebookHeaderMakesANotebook", path: home + "/up/nb.py", wantPath: home + "/up/nb",
			content: []byte(pyHeader + "print(2)\n"), wantType: "NOTEBOOK", wantLang: "PYTHON"},
		{name: "SQLNotebook", path: home + "/up/q.sql", wantPath: home + "/up/q",
			content: []byte("-- Databricks notebook source\nSELECT 1"), wantType: "NOTEBOOK", wantLang: "SQL"},
		{name: "HeaderWithoutNotebookExtensionIsAFile", path: home + "/up/nb.txt", content: []byte(pyHeader + "x"), wantType: "FILE"},
		{name: "HeaderOfAnotherLanguageIsAFile", path: home + "/up/py.sql", content: []byte(pyHeader + "x"), wantType: "FILE"},
		{name: "RNotebook", path: home + "/up/r.r", wantPath: home + "/up/r", content: []byte(pyHeader + "x"), wantType: "NOTEBOOK", wantLang: "R"},
		{name: "Ipynb", path: home + "/up/j.ipynb", wantPath: home + "/up/j", content: []byte(sampleIpynb), wantType: "NOTEBOOK", wantLang: "PYTHON"},
		{name: "FiveMiB", path: home + "/up/big.bin", content: randomBytes(5 << 20), wantType: "FILE"},
		{name: "AtTheLimit", path: home + "/up/limit.bin", content: randomBytes(10 << 20), wantType: "FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.url
			if u == "" {
				u = importFileURL(tt.path, false)
			}
			r := ok(t, e.DoHeaders(t, "POST", u, tt.content, http.Header{"Authorization": {"Bearer " + alice}, "Content-Type": {"application/octet-stream"}}), "import-file")
			if string(r.Body) != "{}\n" {
				t.Errorf("body: got %q, want {}", r.Body)
			}
			want := tt.wantPath
			if want == "" {
				want = tt.path
			}
			o := status(t, e, alice, want)
			if o.ObjectType != tt.wantType || o.Language != tt.wantLang || o.Path != want || o.ModifiedAt == 0 {
				t.Errorf("get-status: got %+v, want %s %q at %s", o, tt.wantType, tt.wantLang, want)
			}
			if tt.wantType != "FILE" {
				return
			}
			if o.Size != int64(len(tt.content)) {
				t.Errorf("size: got %d, want %d", o.Size, len(tt.content))
			}
			if got := download(t, e, alice, want); !bytes.Equal(got, tt.content) {
				t.Errorf("download: got %d bytes, want the %d uploaded", len(got), len(tt.content))
			}
			for _, format := range []string{"SOURCE", "AUTO", "RAW"} {
				r := ok(t, e.Do(t, "GET", ws+"export"+q("path", want, "format", format), alice, nil), "export "+format)
				var ex struct{ Content string }
				if err := json.Unmarshal(r.Body, &ex); err != nil {
					t.Fatal(err)
				}
				if got, err := base64.StdEncoding.DecodeString(ex.Content); err != nil || !bytes.Equal(got, tt.content) {
					t.Errorf("export %s: got %d bytes, %v", format, len(got), err)
				}
			}
		})
	}
	// Listing shows the files with their sizes.
	sizes := map[string]int64{}
	for _, o := range list(t, e, alice, home+"/up") {
		sizes[path.Base(o.Path)] = o.Size
	}
	if sizes["a.txt"] != 6 || sizes["big.bin"] != 5<<20 || sizes["dir with space"] != 0 {
		t.Errorf("list: %v", sizes)
	}
}

func TestImportFileErrors(t *testing.T) {
	e, admin, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	ok(t, importFile(t, e, alice, home+"/exists.txt", []byte("v1"), false), "seed")
	ok(t, importFile(t, e, alice, home+"/nb.py", []byte(pyHeader+"1"), false), "seed notebook")
	ok(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": home + "/dir"}), "mkdirs")
	auth := http.Header{"Authorization": {"Bearer " + alice}}
	tests := []struct {
		name   string
		method string
		url    string
		header http.Header
		body   []byte
		status int
		code   string
		msg    string
	}{
		{"ExistsNoOverwrite", "POST", importFileURL(home+"/exists.txt", false), auth, []byte("v2"), 409, "RESOURCE_ALREADY_EXISTS", "already exists"},
		{"ExistsOverwriteMissing", "POST", importFileRoute + url.PathEscape(home[1:]+"/exists.txt"), auth, []byte("v2"), 409, "RESOURCE_ALREADY_EXISTS", "already exists"},
		{"NotebookExistsNoOverwrite", "POST", importFileURL(home+"/nb.py", false), auth, []byte(pyHeader + "2"), 409, "RESOURCE_ALREADY_EXISTS", "already exists"},
		{"FolderInTheWay", "POST", importFileURL(home+"/dir", true), auth, []byte("x"), 409, "RESOURCE_ALREADY_EXISTS", "folder"},
		{"MissingParent", "POST", importFileURL(home+"/no/such/dir/f.txt", false), auth, []byte("x"), 404, "RESOURCE_DOES_NOT_EXIST", ""},
		{"TooLarge", "POST", importFileURL(home+"/huge.bin", false), auth, make([]byte, 10<<20+1), 400, "MAX_NOTEBOOK_SIZE_EXCEEDED", "10 MB"},
		{"DotDot", "POST", importFileURL(home+"/../bob@example.com/x", false), auth, []byte("x"), 400, "INVALID_PARAMETER_VALUE", "'..'"},
		{"NoPath", "POST", importFileRoute + "?overwrite=false", auth, []byte("x"), 400, "INVALID_PARAMETER_VALUE", "required"},
		{"ControlCharacter", "POST", importFileURL(home+"/a\x01b", false), auth, []byte("x"), 400, "INVALID_PARAMETER_VALUE", "control"},
		{"BadOverwrite", "POST", importFileURL(home+"/b.txt", false) + "&overwrite=maybe", auth, []byte("x"), 400, "INVALID_PARAMETER_VALUE", "overwrite"},
		{"OtherUsersHome", "POST", importFileURL("/Users/bob@example.com/x.txt", false), auth, []byte("x"), 403, "PERMISSION_DENIED", ""},
		{"OutsideWritableTree", "POST", importFileURL("/Repos/x.txt", false), auth, []byte("x"), 403, "PERMISSION_DENIED", ""},
		{"NoCredential", "POST", importFileURL(home+"/c.txt", false), http.Header{}, []byte("x"), 401, "UNAUTHENTICATED", ""},
		{"WrongMethod", "GET", importFileURL(home+"/exists.txt", false), auth, nil, 405, "METHOD_NOT_ALLOWED", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != nil {
				body = tt.body
			}
			wantError(t, e.DoHeaders(t, tt.method, tt.url, body, tt.header), tt.status, tt.code, tt.msg)
		})
	}
	// Nothing was changed or created by the refusals.
	if got := download(t, e, alice, home+"/exists.txt"); string(got) != "v1" {
		t.Errorf("exists.txt: %q", got)
	}
	wantError(t, e.Do(t, "GET", ws+"get-status"+q("path", home+"/huge.bin"), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	// Overwrite replaces a file, and a notebook.
	ok(t, importFile(t, e, alice, home+"/exists.txt", []byte("v2"), true), "overwrite")
	if got := download(t, e, alice, home+"/exists.txt"); string(got) != "v2" {
		t.Errorf("overwritten: %q", got)
	}
	ok(t, importFile(t, e, alice, home+"/nb.py", []byte(pyHeader+"2"), true), "overwrite notebook")
	if src, _ := exportSource(t, e, alice, home+"/nb", "SOURCE"); src != pyHeader+"2" {
		t.Errorf("overwritten notebook: %q", src)
	}
	// The CLI answers the 404 with mkdirs of the parent and a retry.
	ok(t, cliWrite(t, e, alice, "/Workspace"+home+"/no/such/dir/f.txt", []byte("x"), false), "write with parents")
	if o := status(t, e, alice, home+"/no/such"); o.ObjectType != "DIRECTORY" {
		t.Errorf("parent: %+v", o)
	}
	// Admins write anywhere.
	ok(t, cliWrite(t, e, admin, "/Repos/tool.txt", []byte("x"), false), "admin write")
}

// TestWorkspacePathPrefix: every Workspace verb takes /Workspace/… for
// the same object, and paths in answers keep the spelling of the request.
func TestWorkspacePathPrefix(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	wsHome := "/Workspace" + home
	ok(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": wsHome + "/p/q"}), "mkdirs")
	ok(t, importJSON(t, e, alice, map[string]any{"path": wsHome + "/p/nb", "language": "PYTHON", "content": b64("1")}), "import")
	ok(t, multipartImport(t, e, alice, wsHome+"/p/f.txt", []byte("f"), "format", "AUTO"), "multipart import")
	for _, tt := range []struct {
		name, path, want string
	}{
		{"Plain", home + "/p/nb", home + "/p/nb"},
		{"Prefixed", wsHome + "/p/nb", wsHome + "/p/nb"},
		{"PrefixedFile", wsHome + "/p/f.txt", wsHome + "/p/f.txt"},
		{"DoubleSlashIsPlain", "/" + wsHome + "/p/nb", home + "/p/nb"},
		{"PrefixedFolder", wsHome + "/p/q/", wsHome + "/p/q"},
		{"Root", "/Workspace", "/Workspace"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if o := status(t, e, alice, tt.path); o.Path != tt.want {
				t.Errorf("get-status %s: path %q, want %q", tt.path, o.Path, tt.want)
			}
		})
	}
	for _, tt := range []struct{ dir, prefix string }{{home + "/p", ""}, {wsHome + "/p", "/Workspace"}} {
		got := paths(list(t, e, alice, tt.dir))
		want := []string{tt.prefix + home + "/p/f.txt", tt.prefix + home + "/p/nb", tt.prefix + home + "/p/q"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("list %s: %v, want %v", tt.dir, got, want)
		}
	}
	// list of a file answers the file itself, under the request's spelling
	// (the CLI's ReadDir compares it with the path it asked for).
	if got := paths(list(t, e, alice, wsHome+"/p/f.txt")); len(got) != 1 || got[0] != wsHome+"/p/f.txt" {
		t.Errorf("list of a file: %v", got)
	}
	if src, _ := exportSource(t, e, alice, wsHome+"/p/nb", "SOURCE"); src != pyHeader+"1" {
		t.Errorf("export: %q", src)
	}
	if got := download(t, e, alice, wsHome+"/p/f.txt"); string(got) != "f" {
		t.Errorf("download: %q", got)
	}
	ok(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": wsHome + "/p/nb"}), "delete")
	wantError(t, e.Do(t, "GET", ws+"get-status"+q("path", home+"/p/nb"), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	// The protected folders stay protected under the mount.
	wantError(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": "/Workspace/Shared", "recursive": true}), 403, "PERMISSION_DENIED", "")
	wantError(t, e.Do(t, "GET", ws+"get-status"+q("path", "/Workspace/Users/bob@example.com"), alice, nil), 403, "PERMISSION_DENIED", "")
}

// TestGetStatusExportInfo: the CLI's Stat asks return_export_info and
// reads repos_export_format of notebooks.
func TestGetStatusExportInfo(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	ok(t, importFile(t, e, alice, home+"/nb.py", []byte(pyHeader+"1"), false), "notebook")
	ok(t, importFile(t, e, alice, home+"/f.txt", []byte("x"), false), "file")
	for _, tt := range []struct{ path, exportInfo, want string }{
		{home + "/nb", "true", "SOURCE"}, {home + "/nb", "", ""}, {home + "/f.txt", "true", ""}, {home, "true", ""},
	} {
		r := ok(t, e.Do(t, "GET", ws+"get-status"+q("path", tt.path, "return_export_info", tt.exportInfo), alice, nil), "get-status")
		if got, _ := r.JSON(t)["repos_export_format"].(string); got != tt.want {
			t.Errorf("get-status %s return_export_info=%q: repos_export_format %q, want %q", tt.path, tt.exportInfo, got, tt.want)
		}
	}
	wantError(t, e.Do(t, "GET", ws+"get-status"+q("path", home, "return_export_info", "yes"), alice, nil), 400, "INVALID_PARAMETER_VALUE", "")
}

// TestBundleDeployFiles replays what `databricks bundle deploy` writes
// and reads under a bundle's root_path: its files, the deployment lock
// and state, byte for byte.
func TestBundleDeployFiles(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	root := "/Workspace/Users/alice@example.com/.bundle/my project/dev"
	state := root + "/state"
	tfstate := []byte(`{"version": 4, "terraform_version": "1.5.5", "serial": 1, "lineage": "ü", "resources": []}` + "\n")
	files := map[string][]byte{
		root + "/files/databricks.yml":          []byte("bundle:\n  name: my project\n"),
		root + "/files/src/main.py":             []byte("import sys\nprint(sys.argv)\n"),
		root + "/files/src/notebook.py":         []byte(pyHeader + "print('nb')\n"),
		root + "/files/resources/empty.txt":     {},
		root + "/files/data/model.bin":          randomBytes(3 << 20),
		root + "/files/dir with space/ünï.json": []byte(`{"k": "名前"}`),
		state + "/terraform.tfstate":            tfstate,
		state + "/deployment.json":              []byte(`{"version":1,"seq":1,"cli_version":"0.250.0","timestamp":"2026-12-03T13:00:00Z","files":[]}`),
		state + "/deploy.lock":                  []byte(`{"ID":"6a4b","AcquisitionTime":"2026-12-03T13:00:00Z","IsForced":false,"User":"alice@example.com"}`),
	}
	// The lock is written without overwrite: a second deploy finds it.
	for p, b := range files {
		ok(t, cliWrite(t, e, alice, p, b, !strings.HasSuffix(p, ".lock")), "write "+p)
	}
	wantError(t, importFile(t, e, alice, state+"/deploy.lock", []byte("other"), false), 409, "RESOURCE_ALREADY_EXISTS", "")
	// Read back as the CLI's filer does: Stat (get-status with export
	// info), then Download.
	for p, b := range files {
		if strings.HasSuffix(p, "notebook.py") {
			o := status(t, e, alice, strings.TrimSuffix(p, ".py"))
			if o.ObjectType != "NOTEBOOK" || o.Path != strings.TrimSuffix(p, ".py") {
				t.Errorf("%s: %+v", p, o)
			}
			continue
		}
		o := status(t, e, alice, p)
		if o.ObjectType != "FILE" || o.Path != p || o.Size != int64(len(b)) {
			t.Errorf("get-status %s: %+v", p, o)
		}
		if got := download(t, e, alice, p); !bytes.Equal(got, b) {
			t.Errorf("%s: %d bytes back, want %d", p, len(got), len(b))
		}
	}
	// A second deploy overwrites the state, and unlocks by deleting the lock.
	tfstate2 := bytes.Replace(tfstate, []byte(`"serial": 1`), []byte(`"serial": 2`), 1)
	ok(t, cliWrite(t, e, alice, state+"/terraform.tfstate", tfstate2, true), "overwrite state")
	if got := download(t, e, alice, state+"/terraform.tfstate"); !bytes.Equal(got, tfstate2) {
		t.Errorf("state after overwrite: %q", got)
	}
	ok(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": state + "/deploy.lock"}), "unlock")
	wantError(t, e.Do(t, "GET", ws+"get-status"+q("path", state+"/deploy.lock"), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	got := paths(list(t, e, alice, state))
	if strings.Join(got, ",") != state+"/deployment.json,"+state+"/terraform.tfstate" {
		t.Errorf("state folder: %v", got)
	}
	// bundle destroy: one recursive delete of the root.
	ok(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": root, "recursive": true}), "destroy")
	wantError(t, e.Do(t, "GET", ws+"get-status"+q("path", root+"/files/src/main.py"), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
}

// TestWorkspacePrefixInJobs: notebook_path and python_file may name the
// object under /Workspace, as bundles write them.
func TestWorkspacePrefixInJobs(t *testing.T) {
	e, admin := jobsEnv(t)
	ok(t, cliWrite(t, e, admin, "/Workspace/Shared/b/nb.py", []byte(pyHeader+"dbutils.notebook.exit('from nb')\n"), false), "notebook")
	ok(t, cliWrite(t, e, admin, "/Workspace/Shared/b/job.py", []byte("print('from file')\n"), false), "file")
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.2/jobs/runs/submit", map[string]any{"run_name": "ws", "tasks": []any{
		map[string]any{"task_key": "nb", "notebook_task": map[string]any{"notebook_path": "/Workspace/Shared/b/nb"}},
		map[string]any{"task_key": "py", "spark_python_task": map[string]any{"python_file": "/Workspace/Shared/b/job.py"}},
	}}), "run_id")
	run := pollRun(t, e, admin, "2.2", runID, 60*time.Second)
	if stateOf(run) != "TERMINATED/SUCCESS" {
		t.Fatalf("run: %s", asJSON(run))
	}
	for _, task := range tasksOf(t, run) {
		out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.2/jobs/runs/get-output?run_id=%d", idOf(t, task, "run_id")), nil)
		switch task["task_key"] {
		case "nb":
			if nb, _ := out["notebook_output"].(map[string]any); nb["result"] != "from nb" {
				t.Errorf("notebook task: %s", asJSON(out))
			}
		case "py":
			if logs, _ := out["logs"].(string); !strings.Contains(logs, "from file") {
				t.Errorf("python task: %s", asJSON(out))
			}
		}
	}
}
