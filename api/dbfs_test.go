package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

const dbfs = "/api/2.0/dbfs/"

type fileInfo struct {
	Path             string `json:"path"`
	IsDir            bool   `json:"is_dir"`
	FileSize         int64  `json:"file_size"`
	ModificationTime int64  `json:"modification_time"`
}

func dbfsList(t *testing.T, e *kilntest.Env, tok, path string) []fileInfo {
	t.Helper()
	r := ok(t, e.Do(t, "GET", dbfs+"list"+q("path", path), tok, nil), "list "+path)
	var l struct {
		Files []fileInfo `json:"files"`
	}
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	return l.Files
}

func dbfsRead(t *testing.T, e *kilntest.Env, tok, path string, offset, length int) []byte {
	t.Helper()
	r := ok(t, e.Do(t, "GET", dbfs+"read"+q("path", path, "offset", itoa(int64(offset)), "length", itoa(int64(length))), tok, nil), "read "+path)
	var rd struct {
		BytesRead int64  `json:"bytes_read"`
		Data      string `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &rd); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(rd.Data)
	if err != nil || int64(len(b)) != rd.BytesRead {
		t.Fatalf("read: bytes_read %d, data %d bytes, %v", rd.BytesRead, len(b), err)
	}
	return b
}

func fileNames(fs []fileInfo) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func TestDBFSPutReadListStatus(t *testing.T) {
	e, _, alice, bob := wsEnv(t)
	ok(t, e.Do(t, "POST", dbfs+"put", alice, map[string]any{"path": "dbfs:/FileStore/jobs/pi.py", "contents": b64("print(3)"), "overwrite": true}), "put")
	// Both spellings name the same file; DBFS is shared by everyone.
	if got := dbfsRead(t, e, bob, "/FileStore/jobs/pi.py", 0, 0); string(got) != "print(3)" {
		t.Fatalf("read: %q", got)
	}
	if got := dbfsRead(t, e, alice, "dbfs:/FileStore/jobs/pi.py", 2, 3); string(got) != "int" {
		t.Fatalf("read at offset: %q", got)
	}
	if got := dbfsRead(t, e, alice, "/FileStore/jobs/pi.py", 100, 10); len(got) != 0 {
		t.Fatalf("read past the end: %q", got)
	}
	r := ok(t, e.Do(t, "GET", dbfs+"get-status"+q("path", "dbfs:/FileStore/jobs/pi.py"), alice, nil), "get-status")
	var fi fileInfo
	json.Unmarshal(r.Body, &fi)
	if fi.Path != "/FileStore/jobs/pi.py" || fi.IsDir || fi.FileSize != 8 || fi.ModificationTime < 1e12 {
		t.Fatalf("get-status: %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `"is_dir":false`) {
		t.Errorf("is_dir must always be sent: %s", r.Body)
	}
	ok(t, e.Do(t, "POST", dbfs+"put", alice, map[string]any{"path": "/FileStore/a.txt", "contents": b64("a")}), "put without overwrite")
	wantError(t, e.Do(t, "POST", dbfs+"put", alice, map[string]any{"path": "/FileStore/a.txt", "contents": b64("b")}), 409, "RESOURCE_ALREADY_EXISTS", "already exists")
	wantError(t, e.Do(t, "POST", dbfs+"put", alice, map[string]any{"path": "/FileStore/jobs", "contents": b64("b"), "overwrite": true}), 409, "RESOURCE_ALREADY_EXISTS", "directory")

	files := dbfsList(t, e, alice, "/FileStore")
	if got := fileNames(files); !slices.Equal(got, []string{"/FileStore/a.txt", "/FileStore/jobs"}) {
		t.Fatalf("list: %v", got)
	}
	if !files[1].IsDir || files[0].FileSize != 1 {
		t.Errorf("list entries: %+v", files)
	}
	if got := fileNames(dbfsList(t, e, alice, "/FileStore/a.txt")); !slices.Equal(got, []string{"/FileStore/a.txt"}) {
		t.Errorf("list of a file: %v", got)
	}
	if got := fileNames(dbfsList(t, e, alice, "/")); !slices.Equal(got, []string{"/FileStore"}) {
		t.Errorf("list of the root (staging hidden): %v", got)
	}
	ok(t, e.Do(t, "POST", dbfs+"mkdirs", alice, map[string]any{"path": "/empty/dir"}), "mkdirs")
	ok(t, e.Do(t, "POST", dbfs+"mkdirs", alice, map[string]any{"path": "/empty/dir"}), "mkdirs again")
	if r := ok(t, e.Do(t, "GET", dbfs+"list"+q("path", "/empty/dir"), alice, nil), "list empty"); strings.TrimSpace(string(r.Body)) != "{}" {
		t.Errorf("empty dir list: %s", r.Body)
	}
	wantError(t, e.Do(t, "POST", dbfs+"mkdirs", alice, map[string]any{"path": "/FileStore/a.txt/sub"}), 409, "RESOURCE_ALREADY_EXISTS", "")

	// Missing paths and bad reads.
	for _, p := range []string{dbfs + "get-status" + q("path", "/nope"), dbfs + "list" + q("path", "/nope"), dbfs + "read" + q("path", "/nope"), dbfs + "read" + q("path", "/FileStore/a.txt/x")} {
		wantError(t, e.Do(t, "GET", p, alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "No file or directory exists")
	}
	wantError(t, e.Do(t, "GET", dbfs+"read"+q("path", "/FileStore"), alice, nil), 400, "INVALID_PARAMETER_VALUE", "directory")
	wantError(t, e.Do(t, "GET", dbfs+"read"+q("path", "/FileStore/a.txt", "length", "1048577"), alice, nil), 400, "MAX_READ_SIZE_EXCEEDED", "")
	wantError(t, e.Do(t, "GET", dbfs+"read"+q("path", "/FileStore/a.txt", "offset", "-1"), alice, nil), 400, "INVALID_PARAMETER_VALUE", "negative")
	// A JSON put over 1 MB.
	big := bytes.Repeat([]byte("x"), 1<<20+1)
	wantError(t, e.Do(t, "POST", dbfs+"put", alice, map[string]any{"path": "/big", "contents": base64.StdEncoding.EncodeToString(big)}), 400, "MAX_BLOCK_SIZE_EXCEEDED", "")
}

func TestDBFSStreamingUpload(t *testing.T) {
	e, _, alice, bob := wsEnv(t)
	create := func(tok, path string, overwrite bool) (int64, kilntest.Response) {
		r := e.Do(t, "POST", dbfs+"create", tok, map[string]any{"path": path, "overwrite": overwrite})
		var h struct {
			Handle int64 `json:"handle"`
		}
		json.Unmarshal(r.Body, &h)
		return h.Handle, r
	}
	h, r := create(alice, "/up/data.bin", false)
	ok(t, r, "create")
	if h <= 0 || h >= 1<<53 {
		t.Fatalf("handle %d", h)
	}
	var want []byte
	for i := range 3 {
		block := bytes.Repeat([]byte{byte('a' + i)}, 1<<20) // the largest block
		want = append(want, block...)
		ok(t, e.Do(t, "POST", dbfs+"add-block", alice, map[string]any{"handle": h, "data": base64.StdEncoding.EncodeToString(block)}), "add-block")
	}
	// Not there before close.
	wantError(t, e.Do(t, "GET", dbfs+"get-status"+q("path", "/up/data.bin"), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	// Another principal cannot use the handle.
	wantError(t, e.Do(t, "POST", dbfs+"add-block", bob, map[string]any{"handle": h, "data": b64("x")}), 404, "RESOURCE_DOES_NOT_EXIST", "Handle")
	wantError(t, e.Do(t, "POST", dbfs+"close", bob, map[string]any{"handle": h}), 404, "RESOURCE_DOES_NOT_EXIST", "Handle")
	// A block over 1 MB.
	wantError(t, e.Do(t, "POST", dbfs+"add-block", alice, map[string]any{"handle": h, "data": base64.StdEncoding.EncodeToString(append(want[:1<<20:1<<20], 'x'))}),
		400, "MAX_BLOCK_SIZE_EXCEEDED", "")
	ok(t, e.Do(t, "POST", dbfs+"close", alice, map[string]any{"handle": itoa(h)}), "close (handle as a string)")
	wantError(t, e.Do(t, "POST", dbfs+"close", alice, map[string]any{"handle": h}), 404, "RESOURCE_DOES_NOT_EXIST", "Handle")

	var got []byte
	for off := 0; off < len(want); off += 1 << 20 {
		got = append(got, dbfsRead(t, e, alice, "/up/data.bin", off, 1<<20)...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(want))
	}
	// create refuses an existing file without overwrite, and replaces it
	// with.
	_, r = create(alice, "/up/data.bin", false)
	wantError(t, r, 409, "RESOURCE_ALREADY_EXISTS", "")
	h, r = create(alice, "/up/data.bin", true)
	ok(t, r, "create overwrite")
	ok(t, e.Do(t, "POST", dbfs+"add-block", alice, map[string]any{"handle": h, "data": b64("new")}), "add-block")
	ok(t, e.Do(t, "POST", dbfs+"close", alice, map[string]any{"handle": h}), "close")
	if got := dbfsRead(t, e, alice, "/up/data.bin", 0, 0); string(got) != "new" {
		t.Fatalf("after overwrite: %q", got)
	}
}

func TestDBFSMultipartPut(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	put := func(fields []string, fileField string, content []byte) kilntest.Response {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for i := 0; i+1 < len(fields); i += 2 {
			w.WriteField(fields[i], fields[i+1])
		}
		if fileField != "" {
			fw, _ := w.CreateFormFile(fileField, "upload")
			fw.Write(content)
		}
		w.Close()
		return e.DoHeaders(t, "POST", dbfs+"put", buf.Bytes(), http.Header{"Authorization": {"Bearer " + alice}, "Content-Type": {w.FormDataContentType()}})
	}
	big := bytes.Repeat([]byte("0123456789"), 300_000) // 3 MB: multipart is not limited to 1 MB
	ok(t, put([]string{"path", "/wheels/pkg.whl", "overwrite", "true"}, "contents", big), "multipart put")
	if st, err := os.Stat(filepath.Join(server.DBFSPath(e.DataDir), "wheels", "pkg.whl")); err != nil || st.Size() != int64(len(big)) {
		t.Fatalf("file on disk: %v %v", st, err)
	}
	wantError(t, put([]string{"path", "/wheels/pkg.whl"}, "file", big), 409, "RESOURCE_ALREADY_EXISTS", "")
	wantError(t, put(nil, "contents", big), 400, "INVALID_PARAMETER_VALUE", "path field before")
	wantError(t, put([]string{"path", "/x"}, "", nil), 400, "INVALID_PARAMETER_VALUE", "no file part")
}

func TestDBFSMoveAndDelete(t *testing.T) {
	e, _, alice, _ := wsEnv(t)
	for _, p := range []string{"/a/one.txt", "/a/sub/two.txt", "/b.txt"} {
		ok(t, e.Do(t, "POST", dbfs+"put", alice, map[string]any{"path": p, "contents": b64(p)}), "put "+p)
	}
	ok(t, e.Do(t, "POST", dbfs+"move", alice, map[string]any{"source_path": "dbfs:/a", "destination_path": "/moved/a"}), "move a directory")
	if got := dbfsRead(t, e, alice, "/moved/a/sub/two.txt", 0, 0); string(got) != "/a/sub/two.txt" {
		t.Fatalf("moved file: %q", got)
	}
	wantError(t, e.Do(t, "GET", dbfs+"get-status"+q("path", "/a"), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	for _, c := range []struct {
		src, dst  string
		status    int
		code, msg string
	}{
		{"/nope", "/x", 404, "RESOURCE_DOES_NOT_EXIST", ""},
		{"/b.txt", "/moved/a/one.txt", 409, "RESOURCE_ALREADY_EXISTS", "already exists"},
		{"/moved", "/moved/a/inside", 400, "INVALID_PARAMETER_VALUE", "into itself"},
		{"/", "/x", 400, "INVALID_PARAMETER_VALUE", "root"},
	} {
		wantError(t, e.Do(t, "POST", dbfs+"move", alice, map[string]any{"source_path": c.src, "destination_path": c.dst}), c.status, c.code, c.msg)
	}
	ok(t, e.Do(t, "POST", dbfs+"move", alice, map[string]any{"source_path": "/b.txt", "destination_path": "/c.txt"}), "rename a file")

	wantError(t, e.Do(t, "POST", dbfs+"delete", alice, map[string]any{"path": "/moved"}), 400, "IO_ERROR", "non-empty")
	ok(t, e.Do(t, "POST", dbfs+"delete", alice, map[string]any{"path": "/moved", "recursive": true}), "delete recursive")
	ok(t, e.Do(t, "POST", dbfs+"delete", alice, map[string]any{"path": "/c.txt"}), "delete a file")
	ok(t, e.Do(t, "POST", dbfs+"delete", alice, map[string]any{"path": "/c.txt"}), "delete a missing file")
	wantError(t, e.Do(t, "POST", dbfs+"delete", alice, map[string]any{"path": "dbfs:/", "recursive": true}), 400, "INVALID_PARAMETER_VALUE", "root")
	if got := dbfsList(t, e, alice, "/"); len(got) != 0 {
		t.Errorf("after deletes: %v", fileNames(got))
	}
}

func TestDBFSPathTraversal(t *testing.T) {
	e, admin, alice, _ := wsEnv(t)
	root := server.DBFSPath(e.DataDir)
	// Something outside DBFS that must stay out of reach.
	outside := filepath.Join(e.DataDir, "outside.txt")
	os.WriteFile(outside, []byte("outside"), 0o600)
	// Symbolic links planted inside DBFS by someone with shell access.
	os.Symlink(outside, filepath.Join(root, "abs-link"))
	os.Symlink("../outside.txt", filepath.Join(root, "rel-link"))
	os.Symlink("..", filepath.Join(root, "up"))
	os.Symlink("/etc", filepath.Join(root, "etc"))

	for _, p := range []string{"/../outside.txt", "dbfs:/../outside.txt", "/x/../../outside.txt", "/..", "../kiln.db", "kiln.db", "/a\x00b", "/.kiln-staging/x", "dbfs:/.kiln-staging"} {
		for _, tok := range []string{admin, alice} {
			for _, req := range []struct{ method, path string }{
				{"GET", dbfs + "read" + q("path", p)},
				{"GET", dbfs + "get-status" + q("path", p)},
				{"GET", dbfs + "list" + q("path", p)},
			} {
				wantError(t, e.Do(t, req.method, req.path, tok, nil), 400, "INVALID_PARAMETER_VALUE", "")
			}
			wantError(t, e.Do(t, "POST", dbfs+"put", tok, map[string]any{"path": p, "contents": b64("pwned"), "overwrite": true}), 400, "INVALID_PARAMETER_VALUE", "")
			wantError(t, e.Do(t, "POST", dbfs+"delete", tok, map[string]any{"path": p, "recursive": true}), 400, "INVALID_PARAMETER_VALUE", "")
			wantError(t, e.Do(t, "POST", dbfs+"move", tok, map[string]any{"source_path": "/ok", "destination_path": p}), 400, "INVALID_PARAMETER_VALUE", "")
		}
	}
	// Links leading outside neither read nor write nor list.
	for _, p := range []string{"/abs-link", "/rel-link", "/up/outside.txt", "/etc/passwd", "/up/kiln.db"} {
		r := e.Do(t, "GET", dbfs+"read"+q("path", p), alice, nil)
		if r.Status == 200 {
			t.Errorf("read %s through a link: 200 %s", p, r.Body)
		}
		r = e.Do(t, "POST", dbfs+"put", alice, map[string]any{"path": p, "contents": b64("pwned"), "overwrite": true})
		if r.Status == 200 {
			t.Errorf("put %s through a link: 200", p)
		}
	}
	if r := e.Do(t, "POST", dbfs+"put", alice, map[string]any{"path": "/up/new.txt", "contents": b64("pwned")}); r.Status == 200 {
		t.Errorf("put of a new file through a link: 200")
	}
	if got := fileNames(dbfsList(t, e, alice, "/")); slices.Contains(got, "/abs-link") || slices.Contains(got, "/etc") {
		t.Errorf("escaping links listed: %v", got)
	}
	if b, _ := os.ReadFile(outside); string(b) != "outside" {
		t.Errorf("the file outside DBFS changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(e.DataDir, "new.txt")); err == nil {
		t.Errorf("a put through a link wrote outside DBFS")
	}
	// The runner's reader refuses them too.
	for _, p := range []string{"dbfs:/abs-link", "/rel-link", "/up/outside.txt", "dbfs:/../outside.txt", "/nope.py", "/"} {
		if f, err := e.Svc().DBFSOpenForRun(t.Context(), p); err == nil {
			f.Close()
			t.Errorf("DBFSOpenForRun(%s) succeeded, want an error", p)
		}
	}
}

// TestDBFSCreateOnDirectory: create and put over an existing directory,
// with or without overwrite, answer as Databricks does.
func TestDBFSCreateOnDirectory(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	ok(t, e.Do(t, "POST", dbfs+"mkdirs", admin, map[string]any{"path": "/tmp/dir"}), "mkdirs")
	for _, c := range []struct {
		verb string
		body map[string]any
	}{
		{"create", map[string]any{"path": "/tmp/dir"}},
		{"create", map[string]any{"path": "dbfs:/tmp/dir", "overwrite": true}},
		{"put", map[string]any{"path": "/tmp/dir", "contents": b64("x")}},
		{"put", map[string]any{"path": "/tmp/dir", "contents": b64("x"), "overwrite": true}},
	} {
		wantError(t, e.Do(t, "POST", dbfs+c.verb, admin, c.body), 409, "RESOURCE_ALREADY_EXISTS",
			"A file or directory already exists at the input path /tmp/dir.")
	}
}
