package console_test

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// upload posts the DBFS Upload form: dir and overwrite first, then the
// file part named name (none when name is empty), as a browser sends it.
func (e *env) upload(t *testing.T, ck *http.Cookie, dir, name, contents string, overwrite bool, hdr ...string) response {
	t.Helper()
	fields := map[string]string{"dir": dir}
	if overwrite {
		fields["overwrite"] = "1"
	}
	var content []byte
	if name != "" {
		content = []byte(contents)
	}
	return e.postFile(t, "/dbfs/upload", name, content, fields, ck, hdr...)
}

func TestDBFSPages(t *testing.T) {
	e := startEnv(t)
	ck := e.sessionFor(e.newUser(t, "files@example.com"))

	if r := e.get(t, "/dbfs", nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("signed out: %d %s", r.Status, r.Header.Get("Location"))
	}
	r := e.get(t, "/dbfs", ck)
	wantStatus(t, "the DBFS root", r, http.StatusOK)
	mustContain(t, r.Body, "This folder is empty.", `<a href="/dbfs" aria-current="page">DBFS</a>`, `enctype="multipart/form-data"`)

	// New folder, and what it refuses.
	wantStatus(t, "a new folder", e.post(t, "/dbfs/mkdirs", url.Values{"dir": {"/"}, "name": {"reports"}}, ck), http.StatusSeeOther)
	for _, c := range []struct {
		name   string
		form   url.Values
		status int
		says   string
	}{
		{"no name", url.Values{"dir": {"/"}, "name": {" "}}, http.StatusBadRequest, "Enter a name for the new folder."},
		{"a slash", url.Values{"dir": {"/"}, "name": {"a/b"}}, http.StatusBadRequest, "cannot contain /"},
		{"dot dot", url.Values{"dir": {"/reports"}, "name": {".."}}, http.StatusBadRequest, "cannot contain /"},
		{"a bad folder", url.Values{"dir": {"/../etc"}, "name": {"x"}}, http.StatusBadRequest, "must not contain"},
		{"the reserved name", url.Values{"dir": {"/"}, "name": {".kiln-staging"}}, http.StatusBadRequest, "reserved"},
	} {
		r := e.post(t, "/dbfs/mkdirs", c.form, ck)
		if r.Status != c.status {
			t.Errorf("%s: status %d, want %d", c.name, r.Status, c.status)
		}
		mustContain(t, r.Body, c.says)
	}

	// Upload into the folder, and its listing with breadcrumbs.
	const text = "region,total\nnorth,42\n"
	r = e.upload(t, ck, "/reports", "q1.csv", text, false)
	wantStatus(t, "an upload", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/dbfs?path=%2Freports" {
		t.Errorf("after the upload: Location %q", loc)
	}
	r = e.get(t, "/dbfs?path=/reports", ck)
	wantStatus(t, "the folder", r, http.StatusOK)
	mustContain(t, r.Body, "q1.csv", "22 B", `<a href="/dbfs?path=%2Freports" aria-current="page">reports</a>`, `aria-label="Download q1.csv"`, `aria-label="Delete q1.csv"`)
	mustContain(t, e.get(t, "/dbfs", ck).Body, `<a href="/dbfs?path=%2Freports">reports/</a>`)
	// Storage: what the user's files take, no quota meter without a quota.
	mustContain(t, r.Body, "<dt>Your files</dt>", "<dd>22 B</dd>", `data-upload-progress`, `<progress id="upload-progress"`)
	if strings.Contains(r.Body, "<meter") {
		t.Error("a quota meter without a quota")
	}
	// A file's address lists its folder.
	if r := e.get(t, "/dbfs?path=/reports/q1.csv", ck); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/dbfs?path=%2Freports" {
		t.Errorf("a file's listing: %d %s", r.Status, r.Header.Get("Location"))
	}

	// The same name again: refused without Replace, replaced with it.
	r = e.upload(t, ck, "/reports", "q1.csv", "new", false)
	wantStatus(t, "an upload over a file", r, http.StatusConflict)
	mustContain(t, r.Body, "already exists", "q1.csv")
	wantStatus(t, "a replacing upload", e.upload(t, ck, "/reports", "q1.csv", text+"south,7\n", true), http.StatusSeeOther)
	// Other refusals.
	wantStatus(t, "an upload without a file", e.upload(t, ck, "/reports", "", "", false), http.StatusBadRequest)
	wantStatus(t, "an upload without a folder", e.upload(t, ck, "", "x.txt", "x", false), http.StatusBadRequest)
	r = e.request(t, http.MethodPost, "/dbfs/upload", url.Values{"dir": {"/"}}, ck)
	wantStatus(t, "an upload that is not multipart", r, http.StatusBadRequest)
	mustContain(t, r.Body, "send it with the Upload form")
	r = e.upload(t, ck, "/", "forged.txt", "x", false, "Sec-Fetch-Site", "cross-site")
	wantStatus(t, "a cross-site upload", r, http.StatusForbidden)
	mustContain(t, r.Body, "This form was sent from another site")
	if _, err := e.Svc().DBFSStatus(kilntest.Offline(), "/forged.txt"); err == nil {
		t.Error("a cross-site upload wrote its file")
	}

	// Download.
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/dbfs/download?path=/reports/q1.csv", nil)
	req.AddCookie(ck)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != text+"south,7\n" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename=q1.csv` || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("download: %d %q %v", resp.StatusCode, got, resp.Header)
	}
	for path, status := range map[string]int{"/reports": http.StatusBadRequest, "/nope.txt": http.StatusNotFound, "/../x": http.StatusBadRequest} {
		if r := e.get(t, "/dbfs/download?path="+url.QueryEscape(path), ck); r.Status != status {
			t.Errorf("downloading %s: %d, want %d", path, r.Status, status)
		}
	}
	if r := e.get(t, "/dbfs?path=/missing", ck); r.Status != http.StatusNotFound {
		t.Errorf("a missing folder: %d", r.Status)
	}

	// Delete, after the confirmation page; the root cannot be.
	r = e.get(t, "/dbfs/delete?path=/reports", ck)
	wantStatus(t, "the delete confirmation", r, http.StatusOK)
	mustContain(t, r.Body, "Delete the folder /reports and everything in it?", `action="/dbfs/delete?path=%2Freports"`)
	wantStatus(t, "deleting the root", e.get(t, "/dbfs/delete?path=/", ck), http.StatusBadRequest)
	wantStatus(t, "deleting the root", e.post(t, "/dbfs/delete?path=/", nil, ck), http.StatusBadRequest)
	wantStatus(t, "a cross-site delete", e.request(t, http.MethodPost, "/dbfs/delete?path=/reports", url.Values{}, ck, "Origin", "http://evil.example"), http.StatusForbidden)
	wantStatus(t, "deleting", e.post(t, "/dbfs/delete?path=/reports", nil, ck), http.StatusSeeOther)
	if _, err := e.Svc().DBFSStatus(kilntest.Offline(), "/reports"); err == nil {
		t.Error("the folder is still there")
	}
}

// zeros reads n zero bytes.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.n)]
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// TestDBFSUploadLimit streams a file one byte over the API's multipart
// put limit through Upload: refused with the limit in words, no file
// left behind. (It writes the limit's worth to the tree's staging area.)
func TestDBFSUploadLimit(t *testing.T) {
	e := startEnv(t)
	ck := e.sessionFor(e.newUser(t, "big@example.com"))
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		mw.WriteField("dir", "/")
		fw, _ := mw.CreateFormFile("file", "big.bin")
		if _, err := io.Copy(fw, &zeros{n: service.DBFSMaxUpload + 1}); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(mw.Close())
	}()
	req, err := http.NewRequest(http.MethodPost, e.URL+"/dbfs/upload", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(ck)
	// 256 MiB go into the store before the refusal: on a loaded machine
	// under -race that takes longer than the usual client's timeout.
	slow := *e.client
	slow.Timeout = 5 * time.Minute
	resp, err := slow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pr.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "The file is larger than the 256.0 MB limit of one upload.") {
		t.Errorf("an upload over the limit: %d\n%s", resp.StatusCode, b)
	}
	if _, err := e.Svc().DBFSStatus(kilntest.Offline(), "/big.bin"); err == nil {
		t.Error("the oversized upload left a file")
	}
}
