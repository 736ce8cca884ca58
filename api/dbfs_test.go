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
	"time"

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

func dbfsStatus(t *testing.T, e *kilntest.Env, tok, path string) fileInfo {
	t.Helper()
	var fi fileInfo
	if err := json.Unmarshal(ok(t, e.Do(t, "GET", dbfs+"get-status"+q("path", path), tok, nil), "get-status "+path).Body, &fi); err != nil {
		t.Fatal(err)
	}
	return fi
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
	if got := dbfsStatus(t, e, alice, "/wheels/pkg.whl"); got.FileSize != int64(len(big)) {
		t.Fatalf("stored file: %+v", got)
	}
	if got := dbfsRead(t, e, alice, "/wheels/pkg.whl", 1_500_000, 1<<20); !bytes.Equal(got, big[1_500_000:1_500_000+1<<20]) {
		t.Fatalf("read across chunks: %d bytes differ", len(got))
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

// TestDBFSPathTraversal: no path leads outside DBFS, and symbolic links
// planted in the local DBFS directory of an older kiln (by someone with
// shell access) are not moved into the store at start.
func TestDBFSPathTraversal(t *testing.T) {
	dataDir := t.TempDir()
	root := server.DBFSPath(dataDir)
	os.MkdirAll(filepath.Join(root, "jobs"), 0o700)
	os.WriteFile(filepath.Join(root, "jobs", "main.py"), []byte("print(1)"), 0o600)
	// Something outside DBFS that must stay out of reach.
	outside := filepath.Join(dataDir, "outside.txt")
	os.WriteFile(outside, []byte("outside"), 0o600)
	os.Symlink(outside, filepath.Join(root, "abs-link"))
	os.Symlink("../outside.txt", filepath.Join(root, "rel-link"))
	os.Symlink("..", filepath.Join(root, "up"))
	os.Symlink("/etc", filepath.Join(root, "etc"))
	os.Symlink("jobs/main.py", filepath.Join(root, "alias.py")) // inside, but a link all the same
	e := kilntest.Start(t, kilntest.WithConfig(func(c *server.Config) { c.DataDir = dataDir }))
	admin := e.AdminToken(t)
	e.NewUser(t, "alice@example.com", false)
	alice := e.Token(t, "alice@example.com", 0)
	if got := dbfsRead(t, e, alice, "/jobs/main.py", 0, 0); string(got) != "print(1)" {
		t.Errorf("the moved file: %q", got)
	}

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
	// The links were left behind: their paths name nothing in DBFS, and
	// what is written there is an ordinary file of DBFS, never one outside.
	for _, p := range []string{"/abs-link", "/rel-link", "/up/outside.txt", "/etc/passwd", "/up/kiln.db", "/alias.py"} {
		wantError(t, e.Do(t, "GET", dbfs+"get-status"+q("path", p), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
		wantError(t, e.Do(t, "GET", dbfs+"read"+q("path", p), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	}
	for _, p := range []string{"/abs-link", "/up/outside.txt", "/up/kiln.db"} {
		ok(t, e.Do(t, "POST", dbfs+"put", alice, map[string]any{"path": p, "contents": b64("pwned"), "overwrite": true}), "put "+p)
	}
	if got := fileNames(dbfsList(t, e, alice, "/")); !slices.Equal(got, []string{"/abs-link", "/jobs", "/up"}) {
		t.Errorf("after the move and the puts: %v, want /abs-link, /jobs and /up", got)
	}
	if b, _ := os.ReadFile(outside); string(b) != "outside" {
		t.Errorf("the file outside DBFS changed: %q", b)
	}
	if _, err := os.Lstat(root); err == nil {
		t.Errorf("the old DBFS directory is still at %s", root)
	}
	if b, err := os.ReadFile(filepath.Join(root+".migrated", "jobs", "main.py")); err != nil || string(b) != "print(1)" {
		t.Errorf("the old directory, renamed: %q, %v", b, err)
	}
	// The runner's reader refuses what names no file.
	for _, p := range []string{"dbfs:/rel-link", "/alias.py", "dbfs:/../outside.txt", "/nope.py", "/", "/jobs"} {
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

// TestDBFSQuota: --dbfs-quota-per-user and --dbfs-quota refuse the put or
// block that would go over with 400 QUOTA_EXCEEDED, count open uploads,
// and free up as files are deleted or shrink.
func TestDBFSQuota(t *testing.T) {
	e := kilntest.Start(t, kilntest.WithConfig(func(c *server.Config) { c.DBFSQuotaPerUser, c.DBFSQuota = 1000, 1500 }))
	e.EnableTokens(t)
	e.NewUser(t, "alice@example.com", false)
	e.NewUser(t, "bob@example.com", false)
	alice, bob := e.Token(t, "alice@example.com", 0), e.Token(t, "bob@example.com", 0)
	put := func(tok, p string, n int, overwrite bool) kilntest.Response {
		return e.Do(t, "POST", dbfs+"put", tok, map[string]any{"path": p, "contents": base64.StdEncoding.EncodeToString(make([]byte, n)), "overwrite": overwrite})
	}
	const mine, theirs = "Your DBFS quota of 1000 bytes is reached", "The workspace's DBFS quota of 1500 bytes is reached"
	ok(t, put(alice, "/alice/800", 800, false), "a put within the quota")
	wantError(t, put(alice, "/alice/300", 300, false), 400, "QUOTA_EXCEEDED", mine)
	wantError(t, e.Do(t, "GET", dbfs+"get-status"+q("path", "/alice/300"), alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")

	h := ok(t, e.Do(t, "POST", dbfs+"create", alice, map[string]any{"path": "/alice/up"}), "create").JSON(t)["handle"]
	ok(t, e.Do(t, "POST", dbfs+"add-block", alice, map[string]any{"handle": h, "data": b64(strings.Repeat("x", 150))}), "a block within the quota")
	wantError(t, e.Do(t, "POST", dbfs+"add-block", alice, map[string]any{"handle": h, "data": b64(strings.Repeat("x", 100))}), 400, "QUOTA_EXCEEDED", mine)
	ok(t, e.Do(t, "POST", dbfs+"close", alice, map[string]any{"handle": h}), "close after a refused block")
	if got := dbfsStatus(t, e, alice, "/alice/up"); got.FileSize != 150 {
		t.Errorf("the upload kept %d bytes, want the 150 accepted", got.FileSize)
	}

	// Alice has 950 bytes: bob's 600 would bring the workspace to 1550.
	wantError(t, put(bob, "/bob/600", 600, false), 400, "QUOTA_EXCEEDED", theirs)
	ok(t, put(bob, "/bob/500", 500, false), "a put within both quotas")
	ok(t, put(alice, "/alice/800", 100, true), "a shrinking overwrite")
	ok(t, e.Do(t, "POST", dbfs+"delete", alice, map[string]any{"path": "/alice/up"}), "delete")
	ok(t, put(alice, "/alice/300", 300, false), "a put once room is freed")
}

// TestDBFSLocalTreeMovesIntoTheStore: the dbfs/ directory of an older kiln
// is moved into the store at start (contents, empty directories,
// modification times) and renamed dbfs.migrated; a later start with a new
// dbfs/ keeps what the store has and moves only the rest.
func TestDBFSLocalTreeMovesIntoTheStore(t *testing.T) {
	dataDir := t.TempDir()
	root := server.DBFSPath(dataDir)
	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB: several chunks
	old := time.Date(2024, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	for p, content := range map[string][]byte{"FileStore/jobs/main.py": []byte("print(1)"), "wheels/pkg.whl": big} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o700)
		os.WriteFile(filepath.Join(root, p), content, 0o600)
		os.Chtimes(filepath.Join(root, p), old, old)
	}
	os.MkdirAll(filepath.Join(root, "empty", "dir"), 0o700)
	cfg := func(c *server.Config) { c.DataDir = dataDir }
	e := kilntest.Start(t, kilntest.WithConfig(cfg))
	admin := e.AdminToken(t)
	if got := dbfsRead(t, e, admin, "/FileStore/jobs/main.py", 0, 0); string(got) != "print(1)" {
		t.Errorf("main.py: %q", got)
	}
	var got []byte
	for off := 0; off < len(big); off += 1 << 20 {
		got = append(got, dbfsRead(t, e, admin, "/wheels/pkg.whl", off, 1<<20)...)
	}
	if !bytes.Equal(got, big) {
		t.Errorf("pkg.whl: %d bytes, not the original", len(got))
	}
	if fi := dbfsStatus(t, e, admin, "/wheels/pkg.whl"); fi.ModificationTime != old.UnixMilli() || fi.FileSize != int64(len(big)) {
		t.Errorf("pkg.whl: %+v, want modified at %d", fi, old.UnixMilli())
	}
	if fi := dbfsStatus(t, e, admin, "/empty/dir"); !fi.IsDir {
		t.Errorf("the empty directory: %+v", fi)
	}
	if _, err := os.Lstat(root); err == nil {
		t.Fatal("dbfs/ is still there")
	}
	if _, err := os.Stat(filepath.Join(root+".migrated", "wheels", "pkg.whl")); err != nil {
		t.Fatalf("dbfs.migrated: %v", err)
	}
	ok(t, e.Do(t, "POST", dbfs+"put", admin, map[string]any{"path": "/FileStore/jobs/main.py", "contents": b64("print(2)"), "overwrite": true}), "put")
	e.Stop()

	// A restart without dbfs/ changes nothing; one with a new dbfs/ keeps
	// the store's main.py.
	os.MkdirAll(filepath.Join(root, "FileStore", "jobs"), 0o700)
	os.WriteFile(filepath.Join(root, "FileStore", "jobs", "main.py"), []byte("stale"), 0o600)
	os.WriteFile(filepath.Join(root, "FileStore", "jobs", "new.py"), []byte("new"), 0o600)
	e = kilntest.Start(t, kilntest.WithConfig(cfg))
	admin = e.AdminToken(t)
	if got := dbfsRead(t, e, admin, "/FileStore/jobs/main.py", 0, 0); string(got) != "print(2)" {
		t.Errorf("main.py after the second move: %q, want the store's", got)
	}
	if got := dbfsRead(t, e, admin, "/FileStore/jobs/new.py", 0, 0); string(got) != "new" {
		t.Errorf("new.py: %q", got)
	}
	matches, _ := filepath.Glob(root + ".migrated-*")
	if _, err := os.Lstat(root); err == nil || len(matches) != 1 {
		t.Errorf("after the second move: dbfs/ %v, renamed %v", err, matches)
	}
	if got := fileNames(dbfsList(t, e, admin, "/")); !slices.Equal(got, []string{"/FileStore", "/empty", "/wheels"}) {
		t.Errorf("List(/): %v", got)
	}
}
