package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/marshal"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// cliFiler writes and stats workspace files exactly as the Databricks
// CLI's workspace filer does (libs/filer), through the SDK's ApiClient:
// import-file with the raw bytes, and on 404 mkdirs of the parent and one
// retry; get-status with return_export_info.
type cliFiler struct {
	env *kilnEnv
	w   *databricks.WorkspaceClient
	api *client.DatabricksClient
}

func newCLIFiler(t *testing.T, env *kilnEnv, w *databricks.WorkspaceClient) *cliFiler {
	t.Helper()
	api, err := client.New(w.Config)
	must(t, err, "client.New")
	return &cliFiler{env: env, w: w, api: api}
}

// put is one import-file request.
func (f *cliFiler) put(ctx context.Context, p string, body []byte, overwrite bool) error {
	u := fmt.Sprintf("/api/2.0/workspace-files/import-file/%s?overwrite=%t", url.PathEscape(strings.TrimLeft(p, "/")), overwrite)
	return f.api.Do(ctx, http.MethodPost, u, nil, nil, body, nil)
}

// write is the filer's Write with CreateParentDirectories. The 404 of a
// missing parent is part of the protocol, announced to the recorder.
func (f *cliFiler) write(ctx context.Context, p string, body []byte, overwrite bool) error {
	f.env.rec.beginExpected()
	err := f.put(ctx, p, body, overwrite)
	f.env.rec.endExpected()
	var aerr *apierr.APIError
	if !errors.As(err, &aerr) {
		return err
	}
	if aerr.StatusCode != http.StatusNotFound {
		return err
	}
	if err := f.w.Workspace.MkdirsByPath(ctx, path.Dir(p)); err != nil {
		return err
	}
	return f.put(ctx, p, body, overwrite)
}

// statInfo is what the filer's Stat decodes.
type statInfo struct {
	workspace.ObjectInfo
	ReposExportFormat workspace.ExportFormat `json:"repos_export_format,omitempty"`
}

// UnmarshalJSON decodes both levels, as the CLI's does: ObjectInfo's own
// method would otherwise be promoted and drop repos_export_format.
func (s *statInfo) UnmarshalJSON(b []byte) error { return marshal.Unmarshal(b, s) }

func (f *cliFiler) stat(ctx context.Context, p string) (statInfo, error) {
	var st statInfo
	err := f.api.Do(ctx, http.MethodGet, "/api/2.0/workspace/get-status", nil, nil,
		map[string]string{"path": p, "return_export_info": "true"}, &st)
	return st, err
}

// download reads p whole with the SDK's Workspace.Download.
func download(t *testing.T, w *databricks.WorkspaceClient, p string, opts ...workspace.DownloadOption) []byte {
	t.Helper()
	rc, err := w.Workspace.Download(context.Background(), p, opts...)
	must(t, err, "Download "+p)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	must(t, err, "reading "+p)
	return b
}

// seededBytes returns n reproducible bytes of every value.
func seededBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

// TestWorkspaceFilesCLIUpload drives the import-file call of the CLI's
// filer (bundle deploy, workspace import-dir) through the SDK's own
// ApiClient, and reads back with the SDK's helpers.
func TestWorkspaceFilesCLIUpload(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	f := newCLIFiler(t, env, w)
	root := "/Workspace/Users/" + adminEmail + "/.bundle/demo/dev"

	files := map[string][]byte{
		root + "/files/src/main.py":           []byte("print('main')\n"),
		root + "/files/data/blob.bin":         seededBytes(4 << 20),
		root + "/files/empty":                 {},
		root + "/files/with space/ünï 名前.txt": []byte("ü\x00\xff"),
		root + "/state/terraform.tfstate":     []byte(`{"version": 4, "serial": 1}`),
		root + "/state/deployment.json":       []byte(`{"version": 1, "seq": 1}`),
	}
	for p, b := range files {
		must(t, f.write(ctx, p, b, true), "write "+p)
	}
	must(t, f.write(ctx, root+"/files/nb.py", []byte("# Databricks notebook source\nprint(1)\n"), true), "write notebook")
	must(t, f.write(ctx, root+"/state/deploy.lock", []byte(`{"ID": "1"}`), false), "lock")

	for p, b := range files {
		st, err := f.stat(ctx, p)
		must(t, err, "stat "+p)
		if st.ObjectType != workspace.ObjectTypeFile || st.Path != p || st.Size != int64(len(b)) || st.ModifiedAt == 0 || st.ReposExportFormat != "" {
			t.Errorf("stat %s: %+v", p, st)
		}
		if got := download(t, w, p); !bytes.Equal(got, b) {
			t.Errorf("Download %s: %d bytes, want %d", p, len(got), len(b))
		}
	}
	st, err := f.stat(ctx, root+"/files/nb")
	must(t, err, "stat notebook")
	if st.ObjectType != workspace.ObjectTypeNotebook || st.Language != workspace.LanguagePython || st.ReposExportFormat != workspace.ExportFormatSource {
		t.Errorf("notebook: %+v", st)
	}

	// A second deploy finds the lock: 409, RESOURCE_ALREADY_EXISTS.
	apiErr := env.expectAPIError(t, func() error { return f.put(ctx, root+"/state/deploy.lock", []byte(`{"ID": "2"}`), false) })
	if apiErr.StatusCode != http.StatusConflict || apiErr.ErrorCode != "RESOURCE_ALREADY_EXISTS" {
		t.Errorf("lock taken: %d %s", apiErr.StatusCode, apiErr.ErrorCode)
	}
	expectIs(t, apiErr, apierr.ErrResourceAlreadyExists)
	// A missing parent is 404, which the filer answers with mkdirs.
	apiErr = env.expectAPIError(t, func() error { return f.put(ctx, root+"/new/dir/x.txt", []byte("x"), false) })
	if apiErr.StatusCode != http.StatusNotFound {
		t.Errorf("missing parent: %d %s", apiErr.StatusCode, apiErr.ErrorCode)
	}
	// Over 10 MiB: 400 MAX_NOTEBOOK_SIZE_EXCEEDED.
	apiErr = env.expectAPIError(t, func() error { return f.put(ctx, root+"/files/huge.bin", make([]byte, 10<<20+1), false) })
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.ErrorCode != "MAX_NOTEBOOK_SIZE_EXCEEDED" {
		t.Errorf("too large: %d %s", apiErr.StatusCode, apiErr.ErrorCode)
	}

	// The lock is released by a delete, the deployment by a recursive one.
	must(t, w.Workspace.Delete(ctx, workspace.Delete{Path: root + "/state/deploy.lock"}), "unlock")
	must(t, w.Workspace.Delete(ctx, workspace.Delete{Path: root, Recursive: true}), "destroy")
	apiErr = env.expectAPIError(t, func() error {
		_, err := w.Workspace.GetStatusByPath(ctx, root)
		return err
	})
	expectIs(t, apiErr, apierr.ErrResourceDoesNotExist)
}

// TestWorkspaceFileUploadHelpers drives the SDK's file helpers on FILE
// objects, with and without the /Workspace mount: Upload (overwrite),
// Download, GetStatusByPath and ListAll.
func TestWorkspaceFileUploadHelpers(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	home := "/Users/" + adminEmail
	dir := "/Workspace" + home + "/files"
	must(t, w.Workspace.MkdirsByPath(ctx, dir), "MkdirsByPath")

	up := func(p string, b []byte, opts ...workspace.UploadOption) error {
		return w.Workspace.Upload(ctx, p, bytes.NewReader(b), append([]workspace.UploadOption{workspace.UploadFormat(workspace.ImportFormatAuto)}, opts...)...)
	}
	must(t, up(dir+"/a.csv", []byte("a,b\n1,2\n")), "Upload")
	must(t, up(dir+"/a.csv", []byte("a,b\n3,4\n"), workspace.UploadOverwrite()), "Upload overwrite")
	apiErr := env.expectAPIError(t, func() error { return up(dir+"/a.csv", []byte("x")) })
	expectIs(t, apiErr, apierr.ErrResourceConflict)
	big := seededBytes(6 << 20)
	must(t, up(dir+"/big.bin", big, workspace.UploadOverwrite()), "Upload 6 MiB")
	must(t, up(home+"/files/tool.py", []byte("print('not a notebook')\n")), "Upload script")

	for _, tt := range []struct {
		path string
		want []byte
	}{{dir + "/a.csv", []byte("a,b\n3,4\n")}, {home + "/files/a.csv", []byte("a,b\n3,4\n")}, {dir + "/big.bin", big},
		{dir + "/tool.py", []byte("print('not a notebook')\n")}} {
		st, err := w.Workspace.GetStatusByPath(ctx, tt.path)
		must(t, err, "GetStatusByPath "+tt.path)
		if st.ObjectType != workspace.ObjectTypeFile || st.Path != tt.path || st.Size != int64(len(tt.want)) || st.ModifiedAt == 0 || st.Language != "" {
			t.Errorf("GetStatusByPath %s: %+v", tt.path, st)
		}
		if got := download(t, w, tt.path); !bytes.Equal(got, tt.want) {
			t.Errorf("Download %s: %d bytes, want %d", tt.path, len(got), len(tt.want))
		}
		if got := download(t, w, tt.path, workspace.DownloadFormat(workspace.ExportFormatAuto)); !bytes.Equal(got, tt.want) {
			t.Errorf("Download AUTO %s: %d bytes, want %d", tt.path, len(got), len(tt.want))
		}
	}

	for _, tt := range []struct{ dir, prefix string }{{dir, "/Workspace"}, {home + "/files", ""}} {
		objs, err := w.Workspace.ListAll(ctx, workspace.ListWorkspaceRequest{Path: tt.dir})
		must(t, err, "ListAll "+tt.dir)
		var names []string
		for _, o := range objs {
			if o.ObjectType != workspace.ObjectTypeFile {
				t.Errorf("ListAll %s: %+v", tt.dir, o)
			}
			names = append(names, o.Path)
		}
		want := []string{tt.prefix + home + "/files/a.csv", tt.prefix + home + "/files/big.bin", tt.prefix + home + "/files/tool.py"}
		if !slices.Equal(names, want) {
			t.Errorf("ListAll %s: %v, want %v", tt.dir, names, want)
		}
	}
	must(t, w.Workspace.Delete(ctx, workspace.Delete{Path: dir + "/big.bin"}), "Delete")
	apiErr = env.expectAPIError(t, func() error {
		_, err := w.Workspace.GetStatusByPath(ctx, home+"/files/big.bin")
		return err
	})
	expectIs(t, apiErr, apierr.ErrNotFound)
}
