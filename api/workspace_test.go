package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
)

const ws = "/api/2.0/workspace/"

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// wsEnv starts a server with tokens for the admin and two users.
func wsEnv(t *testing.T) (e *kilntest.Env, admin, alice, bob string) {
	t.Helper()
	e = kilntest.Start(t)
	admin = e.AdminToken(t)
	e.NewUser(t, "alice@example.com", false)
	e.NewUser(t, "bob@example.com", false)
	return e, admin, e.Token(t, "alice@example.com", 0), e.Token(t, "bob@example.com", 0)
}

// ok fails unless r is a 200.
func ok(t *testing.T, r kilntest.Response, what string) kilntest.Response {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("%s: got %d %s, want 200", what, r.Status, r.Body)
	}
	return r
}

// q builds a query string.
func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

type objInfo struct {
	ObjectType string `json:"object_type"`
	ObjectID   *int64 `json:"object_id"`
	Path       string `json:"path"`
	Language   string `json:"language"`
	CreatedAt  int64  `json:"created_at"`
	ModifiedAt int64  `json:"modified_at"`
	Size       int64  `json:"size"`
	ResourceID string `json:"resource_id"`
}

func status(t *testing.T, e *kilntest.Env, tok, path string) objInfo {
	t.Helper()
	r := ok(t, e.Do(t, "GET", ws+"get-status"+q("path", path), tok, nil), "get-status "+path)
	var o objInfo
	if err := json.Unmarshal(r.Body, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func list(t *testing.T, e *kilntest.Env, tok, path string) []objInfo {
	t.Helper()
	r := ok(t, e.Do(t, "GET", ws+"list"+q("path", path), tok, nil), "list "+path)
	var l struct {
		Objects []objInfo `json:"objects"`
	}
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	return l.Objects
}

func paths(objs []objInfo) []string {
	ps := []string{}
	for _, o := range objs {
		ps = append(ps, o.Path)
	}
	return ps
}

// exportSource returns the SOURCE export of path.
func exportSource(t *testing.T, e *kilntest.Env, tok, path, format string) (string, string) {
	t.Helper()
	r := ok(t, e.Do(t, "GET", ws+"export"+q("path", path, "format", format), tok, nil), "export "+path)
	var ex struct {
		Content  string `json:"content"`
		FileType string `json:"file_type"`
	}
	if err := json.Unmarshal(r.Body, &ex); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(ex.Content)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), ex.FileType
}

func importJSON(t *testing.T, e *kilntest.Env, tok string, body map[string]any) kilntest.Response {
	t.Helper()
	return e.Do(t, "POST", ws+"import", tok, body)
}

// multipartImport builds the request the Go SDK's WorkspaceAPI.Upload
// sends: path, then a file part named content, then format, language
// and overwrite.
func multipartImport(t *testing.T, e *kilntest.Env, tok, path string, content []byte, fields ...string) kilntest.Response {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("path", path)
	fw, err := w.CreateFormFile("content", "content")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	for i := 0; i+1 < len(fields); i += 2 {
		w.WriteField(fields[i], fields[i+1])
	}
	w.Close()
	h := http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {w.FormDataContentType()}}
	return e.DoHeaders(t, "POST", ws+"import", buf.Bytes(), h)
}

const pyHeader = "# Databricks notebook source\n"

// A Jupyter notebook with a code cell, a markdown cell and a %sql cell.
const sampleIpynb = `{
 "cells": [
  {"cell_type": "code", "source": ["x = 1\n", "print(x)\n"], "outputs": [{"text": "1"}], "execution_count": 3, "metadata": {}},
  {"cell_type": "markdown", "source": "# Title\n\nSome *text*", "metadata": {}},
  {"cell_type": "code", "source": ["%sql\n", "SELECT 1"], "outputs": [], "execution_count": null, "metadata": {}}
 ],
 "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
 "nbformat": 4, "nbformat_minor": 5
}`

const sampleIpynbSource = pyHeader + "x = 1\nprint(x)\n\n# COMMAND ----------\n\n" +
	"# MAGIC %md\n# MAGIC # Title\n# MAGIC\n# MAGIC Some *text*\n\n# COMMAND ----------\n\n" +
	"# MAGIC %sql\n# MAGIC SELECT 1\n"

func TestWorkspaceImportFormats(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	tests := []struct {
		name     string
		path     string // import path
		format   string
		language string
		content  string
		// Expected object at wantPath; wantSource is its SOURCE export.
		wantPath, wantType, wantLang, wantSource, wantFileType string
	}{
		{"SourcePythonWithHeader", "/nb1", "SOURCE", "PYTHON", pyHeader + "print(1)\n", "/nb1", "NOTEBOOK", "PYTHON", pyHeader + "print(1)\n", "py"},
		{"SourceGetsItsHeader", "/nb2", "SOURCE", "PYTHON", "print(2)\n", "/nb2", "NOTEBOOK", "PYTHON", pyHeader + "print(2)\n", "py"},
		{"DefaultFormatIsSource", "/nb3", "", "PYTHON", "print(3)", "/nb3", "NOTEBOOK", "PYTHON", pyHeader + "print(3)", "py"},
		{"SourceSQL", "/q", "SOURCE", "SQL", "SELECT 1", "/q", "NOTEBOOK", "SQL", "-- Databricks notebook source\nSELECT 1", "sql"},
		{"SourceScala", "/s", "SOURCE", "SCALA", "println(1)", "/s", "NOTEBOOK", "SCALA", "// Databricks notebook source\nprintln(1)", "scala"},
		{"SourceR", "/r", "SOURCE", "R", "print(1)", "/r", "NOTEBOOK", "R", pyHeader + "print(1)", "r"},
		{"SourceLanguageFromExtension", "/script.py", "SOURCE", "", "print(4)", "/script.py", "NOTEBOOK", "PYTHON", pyHeader + "print(4)", "py"},
		{"SourceLanguageFromHeader", "/hdr", "SOURCE", "", "-- Databricks notebook source\nSELECT 2", "/hdr", "NOTEBOOK", "SQL", "-- Databricks notebook source\nSELECT 2", "sql"},
		{"LanguageIsCaseInsensitive", "/lc", "source", "python", "1", "/lc", "NOTEBOOK", "PYTHON", pyHeader + "1", "py"},
		{"Jupyter", "/jup", "JUPYTER", "", sampleIpynb, "/jup", "NOTEBOOK", "PYTHON", sampleIpynbSource, "py"},
		{"AutoNotebookStripsExtension", "/auto.py", "AUTO", "", pyHeader + "print(5)\n", "/auto", "NOTEBOOK", "PYTHON", pyHeader + "print(5)\n", "py"},
		{"AutoSQLNotebook", "/auto_q.sql", "AUTO", "", "-- Databricks notebook source\nSELECT 3", "/auto_q", "NOTEBOOK", "SQL", "-- Databricks notebook source\nSELECT 3", "sql"},
		{"AutoIpynbStripsExtension", "/auto_j.ipynb", "AUTO", "", sampleIpynb, "/auto_j", "NOTEBOOK", "PYTHON", sampleIpynbSource, "py"},
		{"AutoPlainPythonIsAFile", "/tool.py", "AUTO", "", "print(6)\n", "/tool.py", "FILE", "", "print(6)\n", "py"},
		{"AutoOtherIsAFile", "/data.csv", "AUTO", "", "a,b\n1,2\n", "/data.csv", "FILE", "", "a,b\n1,2\n", "csv"},
		{"RawIsAFile", "/raw.py", "RAW", "", pyHeader + "x", "/raw.py", "FILE", "", pyHeader + "x", "py"},
		{"EmptyFile", "/empty", "AUTO", "", "", "/empty", "FILE", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := importJSON(t, e, alice, map[string]any{"path": home + tt.path, "format": tt.format, "language": tt.language, "content": b64(tt.content)})
			ok(t, r, "import")
			if string(r.Body) != "{}\n" {
				t.Errorf("import body: got %q, want {}", r.Body)
			}
			o := status(t, e, alice, home+tt.wantPath)
			if o.ObjectType != tt.wantType || o.Language != tt.wantLang || o.Path != home+tt.wantPath {
				t.Errorf("get-status: got %+v, want %s %s at %s", o, tt.wantType, tt.wantLang, home+tt.wantPath)
			}
			got, ft := exportSource(t, e, alice, home+tt.wantPath, "SOURCE")
			if got != tt.wantSource || ft != tt.wantFileType {
				t.Errorf("export: got %q (file_type %q), want %q (%q)", got, ft, tt.wantSource, tt.wantFileType)
			}
			if o.Size != int64(len(tt.wantSource)) {
				t.Errorf("size: got %d, want %d", o.Size, len(tt.wantSource))
			}
		})
	}
}

func TestWorkspaceImportRefusals(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	tests := []struct {
		name            string
		body            any
		status          int
		code, msg       string
		multipartFields []string // multipart instead of body when set
	}{
		{"NoLanguage", map[string]any{"path": home + "/x", "format": "SOURCE", "content": b64("print(1)")}, 400, "INVALID_PARAMETER_VALUE", "language is required", nil},
		{"UnknownLanguage", map[string]any{"path": home + "/x", "language": "COBOL", "content": b64("x")}, 400, "INVALID_PARAMETER_VALUE", "Invalid language", nil},
		{"UnknownFormat", map[string]any{"path": home + "/x", "format": "PDF", "content": b64("x")}, 400, "INVALID_PARAMETER_VALUE", "Invalid format", nil},
		{"UnsupportedFormat", map[string]any{"path": home + "/x", "format": "DBC", "content": b64("x")}, 400, "INVALID_PARAMETER_VALUE", "not supported", nil},
		{"NotBase64", map[string]any{"path": home + "/x", "format": "AUTO", "content": "%%%"}, 400, "INVALID_PARAMETER_VALUE", "base64", nil},
		{"NotJupyter", map[string]any{"path": home + "/x", "format": "JUPYTER", "content": b64("print(1)")}, 400, "INVALID_PARAMETER_VALUE", "Jupyter", nil},
		{"MissingParent", map[string]any{"path": home + "/no/such/dir/x", "format": "AUTO", "content": b64("x")}, 404, "RESOURCE_DOES_NOT_EXIST", "does not exist", nil},
		{"NoPath", map[string]any{"format": "AUTO", "content": b64("x")}, 400, "INVALID_PARAMETER_VALUE", "Path is required", nil},
		{"NoBody", nil, 400, "MALFORMED_REQUEST", "body is required", nil},
		{"MultipartWithoutContent", nil, 400, "INVALID_PARAMETER_VALUE", "no content part", []string{"path", home + "/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r kilntest.Response
			if tt.multipartFields != nil {
				var buf bytes.Buffer
				w := multipart.NewWriter(&buf)
				for i := 0; i+1 < len(tt.multipartFields); i += 2 {
					w.WriteField(tt.multipartFields[i], tt.multipartFields[i+1])
				}
				w.Close()
				r = e.DoHeaders(t, "POST", ws+"import", buf.Bytes(), http.Header{"Authorization": {"Bearer " + alice}, "Content-Type": {w.FormDataContentType()}})
			} else {
				r = e.Do(t, "POST", ws+"import", alice, tt.body)
			}
			wantError(t, r, tt.status, tt.code, tt.msg)
		})
	}
}

func TestWorkspaceImportMultipart(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	// As the SDK's Upload sends a .py path: language inferred, no format.
	ok(t, multipartImport(t, e, alice, home+"/etl.py", []byte("print('up')\n"), "language", "PYTHON"), "upload")
	if o := status(t, e, alice, home+"/etl.py"); o.ObjectType != "NOTEBOOK" || o.Language != "PYTHON" {
		t.Fatalf("uploaded notebook: %+v", o)
	}
	// WriteFile: AUTO and overwrite, raw bytes (not base64).
	bin := []byte{0, 1, 2, 0xff, '\n'}
	ok(t, multipartImport(t, e, alice, home+"/blob.bin", bin, "format", "AUTO", "overwrite", "true"), "write file")
	ok(t, multipartImport(t, e, alice, home+"/blob.bin", append(bin, 9), "format", "AUTO", "overwrite", "true"), "write file again")
	r := ok(t, e.Do(t, "GET", ws+"export"+q("path", home+"/blob.bin", "direct_download", "true"), alice, nil), "download")
	if !bytes.Equal(r.Body, append(bin, 9)) || r.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("download: got %v (%s), want %v", r.Body, r.Header.Get("Content-Type"), append(bin, 9))
	}
	// Without overwrite, an existing path is a conflict.
	wantError(t, multipartImport(t, e, alice, home+"/blob.bin", bin, "format", "AUTO"), 409, "RESOURCE_ALREADY_EXISTS", "already exists")
	// A Jupyter notebook uploaded with AUTO.
	ok(t, multipartImport(t, e, alice, home+"/nb.ipynb", []byte(sampleIpynb), "format", "AUTO"), "upload ipynb")
	if got, _ := exportSource(t, e, alice, home+"/nb", "SOURCE"); got != sampleIpynbSource {
		t.Fatalf("ipynb upload: got %q", got)
	}
}

func TestWorkspaceOverwrite(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	p := "/Users/alice@example.com/nb"
	imp := func(content string, overwrite any) kilntest.Response {
		return importJSON(t, e, alice, map[string]any{"path": p, "language": "PYTHON", "content": b64(content), "overwrite": overwrite})
	}
	ok(t, imp("v1", false), "first import")
	first := status(t, e, alice, p)
	wantError(t, imp("v2", false), 409, "RESOURCE_ALREADY_EXISTS", "already exists")
	wantError(t, imp("v2", nil), 409, "RESOURCE_ALREADY_EXISTS", "already exists")
	time.Sleep(5 * time.Millisecond)
	ok(t, imp("v3", "True"), "overwrite (Python-style boolean)")
	second := status(t, e, alice, p)
	if *second.ObjectID != *first.ObjectID || second.CreatedAt != first.CreatedAt || second.ModifiedAt <= first.ModifiedAt {
		t.Errorf("overwrite: before %+v, after %+v: want the same id and creation, a later modification", first, second)
	}
	if got, _ := exportSource(t, e, alice, p, ""); got != pyHeader+"v3" {
		t.Errorf("content after overwrite: %q", got)
	}
	// A folder is never overwritten.
	ok(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": p + "_dir"}), "mkdirs")
	wantError(t, importJSON(t, e, alice, map[string]any{"path": p + "_dir", "language": "PYTHON", "content": b64("x"), "overwrite": true}),
		409, "RESOURCE_ALREADY_EXISTS", "folder")
}

func TestWorkspaceExportRoundTrip(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	ok(t, importJSON(t, e, alice, map[string]any{"path": home + "/nb", "format": "JUPYTER", "content": b64(sampleIpynb)}), "import")

	// JUPYTER export, then import of that export, gives the same notebook.
	r := ok(t, e.Do(t, "GET", ws+"export"+q("path", home+"/nb", "format", "JUPYTER"), alice, nil), "export jupyter")
	var ex struct{ Content, FileType string }
	json.Unmarshal(r.Body, &ex)
	if !strings.Contains(string(r.Body), `"file_type":"ipynb"`) {
		t.Errorf("file_type: %s", r.Body)
	}
	nb, _ := base64.StdEncoding.DecodeString(ex.Content)
	var parsed struct {
		Cells []struct {
			CellType string   `json:"cell_type"`
			Source   []string `json:"source"`
		} `json:"cells"`
		Nbformat int `json:"nbformat"`
	}
	if err := json.Unmarshal(nb, &parsed); err != nil || parsed.Nbformat != 4 || len(parsed.Cells) != 3 ||
		parsed.Cells[1].CellType != "markdown" || strings.Join(parsed.Cells[2].Source, "") != "%sql\nSELECT 1" {
		t.Fatalf("exported notebook: %v %s", err, nb)
	}
	ok(t, importJSON(t, e, alice, map[string]any{"path": home + "/again", "format": "JUPYTER", "content": base64.StdEncoding.EncodeToString(nb)}), "reimport")
	if got, _ := exportSource(t, e, alice, home+"/again", "SOURCE"); got != sampleIpynbSource {
		t.Errorf("JUPYTER round trip: got %q, want %q", got, sampleIpynbSource)
	}
	// A SOURCE export imports back with AUTO as the same notebook.
	src, _ := exportSource(t, e, alice, home+"/nb", "")
	ok(t, importJSON(t, e, alice, map[string]any{"path": home + "/copy.py", "format": "AUTO", "content": b64(src)}), "auto reimport")
	if o := status(t, e, alice, home+"/copy"); o.ObjectType != "NOTEBOOK" {
		t.Errorf("AUTO reimport of an export: %+v", o)
	}
	// direct_download gives the raw bytes; the JSON body on a GET works
	// too (Airflow's async hook).
	r = ok(t, e.Do(t, "GET", ws+"export", alice, map[string]any{"path": home + "/nb", "direct_download": true}), "download")
	if string(r.Body) != sampleIpynbSource {
		t.Errorf("direct download: %q", r.Body)
	}
	// Folders and JUPYTER of a file are refused.
	wantError(t, e.Do(t, "GET", ws+"export"+q("path", home), alice, nil), 400, "INVALID_PARAMETER_VALUE", "folder")
	ok(t, importJSON(t, e, alice, map[string]any{"path": home + "/f.txt", "format": "AUTO", "content": b64("x")}), "file")
	wantError(t, e.Do(t, "GET", ws+"export"+q("path", home+"/f.txt", "format", "JUPYTER"), alice, nil), 400, "INVALID_PARAMETER_VALUE", "not a notebook")
}

func TestWorkspaceListAndStatus(t *testing.T) {
	e, admin, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	// A first request finds the home folder, /Users and /Shared.
	o := status(t, e, alice, home)
	if o.ObjectType != "DIRECTORY" || o.ObjectID == nil || *o.ObjectID <= 0 || o.ResourceID == "" {
		t.Fatalf("home folder: %+v", o)
	}
	if got := paths(list(t, e, alice, "/")); !slices.Equal(got, []string{"/Shared", "/Users"}) {
		t.Errorf("list /: got %v", got)
	}
	if root := status(t, e, alice, "/"); root.ObjectID == nil || *root.ObjectID != 0 || root.ObjectType != "DIRECTORY" {
		t.Errorf("root: %+v", root)
	}
	// An empty folder lists as {} (objects left out).
	r := ok(t, e.Do(t, "GET", ws+"list"+q("path", home), alice, nil), "list empty")
	if strings.TrimSpace(string(r.Body)) != "{}" {
		t.Errorf("empty list: got %s, want {}", r.Body)
	}
	before := time.Now().UnixMilli()
	ok(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": home + "/b/c"}), "mkdirs")
	ok(t, importJSON(t, e, alice, map[string]any{"path": home + "/a", "language": "SQL", "content": b64("SELECT 1")}), "import")
	ok(t, importJSON(t, e, alice, map[string]any{"path": home + "/z.txt", "format": "AUTO", "content": b64("hello")}), "import file")
	objs := list(t, e, alice, home)
	if got := paths(objs); !slices.Equal(got, []string{home + "/a", home + "/b", home + "/z.txt"}) {
		t.Fatalf("list: got %v", got)
	}
	nb := objs[0]
	if nb.ObjectType != "NOTEBOOK" || nb.Language != "SQL" || nb.Size != int64(len("-- Databricks notebook source\nSELECT 1")) ||
		nb.CreatedAt < before || nb.ModifiedAt < nb.CreatedAt || nb.ObjectID == nil || *nb.ObjectID < 1e15 {
		t.Errorf("notebook info: %+v", nb)
	}
	if objs[1].ObjectType != "DIRECTORY" || objs[2].ObjectType != "FILE" || objs[2].Size != 5 || objs[2].Language != "" {
		t.Errorf("folder and file info: %+v %+v", objs[1], objs[2])
	}
	// Listing a notebook gives the notebook.
	if got := paths(list(t, e, alice, home+"/a")); !slices.Equal(got, []string{home + "/a"}) {
		t.Errorf("list of a notebook: %v", got)
	}
	// notebooks_modified_after leaves out older notebooks only.
	r = ok(t, e.Do(t, "GET", ws+"list"+q("path", home, "notebooks_modified_after", "9999999999999"), alice, nil), "modified after")
	var l struct{ Objects []objInfo }
	json.Unmarshal(r.Body, &l)
	if got := paths(l.Objects); !slices.Equal(got, []string{home + "/b", home + "/z.txt"}) {
		t.Errorf("notebooks_modified_after: got %v", got)
	}
	// Admins see every home in /Users.
	status(t, e, admin, "/Users/admin@example.com")
	if got := paths(list(t, e, admin, "/Users")); !slices.Equal(got, []string{"/Users/admin@example.com", home}) {
		t.Errorf("admin's /Users: %v", got)
	}
}

func TestWorkspaceMkdirsAndDelete(t *testing.T) {
	e, admin, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	ok(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": home + "/a/b/c"}), "mkdirs")
	ok(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": home + "/a/b"}), "mkdirs of an existing folder")
	ok(t, importJSON(t, e, alice, map[string]any{"path": home + "/a/nb", "language": "PYTHON", "content": b64("1")}), "import")
	wantError(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": home + "/a/nb/sub"}), 409, "RESOURCE_ALREADY_EXISTS", "not a folder")
	wantError(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": home + "/a/nb"}), 409, "RESOURCE_ALREADY_EXISTS", "not a folder")

	wantError(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": home + "/a"}), 400, "DIRECTORY_NOT_EMPTY", "not empty")
	wantError(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": home + "/a", "recursive": false}), 400, "DIRECTORY_NOT_EMPTY", "")
	ok(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": home + "/a/b/c"}), "delete empty folder")
	ok(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": home + "/a/nb"}), "delete notebook")
	ok(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": home + "/a", "recursive": "true"}), "delete recursive")
	wantError(t, e.Do(t, "GET", ws+"get-status"+q("path", home+"/a/b"), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "doesn't exist")

	for _, p := range []string{"/", "/Users", "/Shared"} {
		wantError(t, e.Do(t, "POST", ws+"delete", admin, map[string]any{"path": p, "recursive": true}), 403, "PERMISSION_DENIED", "cannot be deleted")
	}
	wantError(t, e.Do(t, "POST", ws+"delete", alice, map[string]any{"path": home, "recursive": true}), 403, "PERMISSION_DENIED", "home folder")
}

func TestWorkspaceMissingPathsAre404(t *testing.T) {
	e, admin, alice, _ := wsEnv(t)
	for _, tok := range []string{admin, alice} {
		for _, c := range []struct{ method, path string }{
			{"GET", ws + "get-status" + q("path", "/Repos/x/y")},
			{"GET", ws + "get-status" + q("path", "/Users/alice@example.com/nope")},
			{"GET", ws + "get-status" + q("path", "/Shared/nope")},
			{"GET", ws + "export" + q("path", "/Shared/nope")},
			{"GET", ws + "list" + q("path", "/Shared/nope")},
		} {
			wantError(t, e.Do(t, c.method, c.path, tok, nil), 404, "RESOURCE_DOES_NOT_EXIST", "doesn't exist")
		}
		wantError(t, e.Do(t, "POST", ws+"delete", tok, map[string]any{"path": "/Shared/nope"}), 404, "RESOURCE_DOES_NOT_EXIST", "")
	}
	// Airflow's async hook sends GET parameters as a JSON body.
	wantError(t, e.Do(t, "GET", ws+"get-status", alice, map[string]any{"path": "/Repos/x"}), 404, "RESOURCE_DOES_NOT_EXIST", "")
}

func TestWorkspacePermissions(t *testing.T) {
	e, admin, alice, bob := wsEnv(t)
	ahome, bhome := "/Users/alice@example.com", "/Users/bob@example.com"
	ok(t, importJSON(t, e, alice, map[string]any{"path": ahome + "/secret_nb", "language": "PYTHON", "content": b64("1")}), "alice imports")
	status(t, e, bob, bhome)

	denied := []struct{ method, path string }{
		{"GET", ws + "get-status" + q("path", ahome+"/secret_nb")},
		{"GET", ws + "get-status" + q("path", ahome+"/not_there")}, // no probing either
		{"GET", ws + "export" + q("path", ahome+"/secret_nb")},
		{"GET", ws + "list" + q("path", ahome)},
	}
	for _, c := range denied {
		wantError(t, e.Do(t, c.method, c.path, bob, nil), 403, "PERMISSION_DENIED", "permission")
	}
	for _, body := range []map[string]any{
		{"path": ahome + "/x", "language": "PYTHON", "content": b64("1")},
		{"path": ahome + "/secret_nb", "language": "PYTHON", "content": b64("1"), "overwrite": true},
		{"path": "/Top/x", "language": "PYTHON", "content": b64("1")},
	} {
		wantError(t, importJSON(t, e, bob, body), 403, "PERMISSION_DENIED", "permission")
	}
	wantError(t, e.Do(t, "POST", ws+"delete", bob, map[string]any{"path": ahome + "/secret_nb"}), 403, "PERMISSION_DENIED", "")
	wantError(t, e.Do(t, "POST", ws+"mkdirs", bob, map[string]any{"path": ahome + "/d"}), 403, "PERMISSION_DENIED", "")
	wantError(t, e.Do(t, "POST", ws+"mkdirs", bob, map[string]any{"path": "/Top"}), 403, "PERMISSION_DENIED", "")
	// Bob's view of /Users is his own home.
	if got := paths(list(t, e, bob, "/Users")); !slices.Equal(got, []string{bhome}) {
		t.Errorf("bob's /Users: %v", got)
	}
	// /Shared is everyone's.
	ok(t, importJSON(t, e, bob, map[string]any{"path": "/Shared/team", "language": "PYTHON", "content": b64("bob")}), "bob in /Shared")
	ok(t, importJSON(t, e, alice, map[string]any{"path": "/Shared/team", "language": "PYTHON", "content": b64("alice"), "overwrite": true}), "alice overwrites in /Shared")
	if got, _ := exportSource(t, e, bob, "/Shared/team", ""); got != pyHeader+"alice" {
		t.Errorf("shared notebook: %q", got)
	}
	// Admins read and write every home, and outside /Shared and homes.
	status(t, e, admin, ahome+"/secret_nb")
	ok(t, importJSON(t, e, admin, map[string]any{"path": bhome + "/from_admin", "language": "PYTHON", "content": b64("1")}), "admin writes bob's home")
	ok(t, e.Do(t, "POST", ws+"mkdirs", admin, map[string]any{"path": "/Top/sub"}), "admin mkdirs /Top")
	// Everyone reads outside the homes.
	status(t, e, bob, "/Top/sub")
	// An admin writing a home that does not exist yet creates it for
	// its user.
	e.NewUser(t, "carol@example.com", false)
	ok(t, importJSON(t, e, admin, map[string]any{"path": "/Users/carol@example.com/welcome", "language": "PYTHON", "content": b64("1")}), "admin seeds carol's home")
	// ... but not for someone who is not a user.
	wantError(t, importJSON(t, e, admin, map[string]any{"path": "/Users/nobody@example.com/x", "language": "PYTHON", "content": b64("1")}), 404, "RESOURCE_DOES_NOT_EXIST", "")
	// The case of the user name matters in paths.
	wantError(t, importJSON(t, e, alice, map[string]any{"path": "/Users/ALICE@example.com/x", "language": "PYTHON", "content": b64("1")}), 403, "PERMISSION_DENIED", "")
}

func TestWorkspacePathValidation(t *testing.T) {
	e, admin, alice, _ := wsEnv(t)
	long := "/Shared/" + strings.Repeat("a", 256)
	tests := []struct {
		name, path string
		msg        string
	}{
		{"Empty", "", "Path is required"},
		{"Relative", "Shared/x", "absolute"},
		{"DotDot", "/Shared/../Users/bob@example.com", "'..'"},
		{"DotDotAtEnd", "/Shared/x/..", "'..'"},
		{"EncodedTraversal", "/Users/alice@example.com/../bob@example.com/x", "'..'"},
		{"NUL", "/Shared/a\x00b", "control characters"},
		{"Newline", "/Shared/a\nb", "control characters"},
		// Only a query string can carry invalid UTF-8: JSON encoders
		// replace it.
		{"InvalidUTF8", "/Shared/\xff", "UTF-8"},
		{"LongElement", long, "too long"},
		{"LongPath", "/Shared" + strings.Repeat("/abc", 1100), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, tok := range []string{admin, alice} {
				wantError(t, e.Do(t, "GET", ws+"get-status"+q("path", tt.path), tok, nil), 400, "INVALID_PARAMETER_VALUE", tt.msg)
				wantError(t, e.Do(t, "GET", ws+"list"+q("path", tt.path), tok, nil), 400, "INVALID_PARAMETER_VALUE", tt.msg)
				if tt.name == "InvalidUTF8" {
					continue
				}
				wantError(t, importJSON(t, e, tok, map[string]any{"path": tt.path, "format": "AUTO", "content": b64("x")}), 400, "INVALID_PARAMETER_VALUE", "")
				wantError(t, e.Do(t, "POST", ws+"mkdirs", tok, map[string]any{"path": tt.path}), 400, "INVALID_PARAMETER_VALUE", "")
				wantError(t, e.Do(t, "POST", ws+"delete", tok, map[string]any{"path": tt.path, "recursive": true}), 400, "INVALID_PARAMETER_VALUE", "")
			}
		})
	}
	// Redundant slashes and dots name the same object.
	ok(t, importJSON(t, e, alice, map[string]any{"path": "//Shared///./x/", "format": "AUTO", "content": b64("x")}), "import with a messy path")
	if o := status(t, e, alice, "/Shared/x"); o.Path != "/Shared/x" || o.ObjectType != "FILE" {
		t.Errorf("clean path: %+v", o)
	}
}

func TestWorkspaceOversizedContent(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	home := "/Users/alice@example.com"
	over := bytes.Repeat([]byte("x"), 10<<20+1)
	wantError(t, importJSON(t, e, alice, map[string]any{"path": home + "/big", "format": "AUTO", "content": base64.StdEncoding.EncodeToString(over)}),
		400, "MAX_NOTEBOOK_SIZE_EXCEEDED", "limit")
	wantError(t, multipartImport(t, e, alice, home+"/big", over, "format", "AUTO"), 400, "MAX_NOTEBOOK_SIZE_EXCEEDED", "limit")
	// A body beyond even the import route's limit.
	huge := bytes.Repeat([]byte("x"), 20<<20)
	wantError(t, multipartImport(t, e, alice, home+"/big", huge, "format", "AUTO"), 400, "MAX_NOTEBOOK_SIZE_EXCEEDED", "")
	// Just under the limit is fine, and the route limit is the import's
	// own: other routes keep 1 MiB.
	ok(t, importJSON(t, e, alice, map[string]any{"path": home + "/ok", "format": "AUTO", "content": base64.StdEncoding.EncodeToString(over[:2<<20])}), "2 MB import")
	wantError(t, e.Do(t, "POST", ws+"mkdirs", alice, map[string]any{"path": home + "/d", "pad": string(over[:2<<20])}), 400, "INVALID_PARAMETER_VALUE", "too large")
}
