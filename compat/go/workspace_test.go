package compat

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/files"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// TestWorkspaceObjects drives the Workspace API through the SDK: Upload
// (multipart), Import (JSON), Download and Export, WriteFile/ReadFile,
// ListAll and RecursiveList, GetStatus, MkdirsByPath and Delete, and the
// error classes callers test with errors.Is.
func TestWorkspaceObjects(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	home := "/Users/" + adminEmail

	src := "# Databricks notebook source\nprint('hello')\n"
	must(t, w.Workspace.Upload(ctx, home+"/etl.py", strings.NewReader(src), workspace.UploadOverwrite()), "Upload")
	st, err := w.Workspace.GetStatusByPath(ctx, home+"/etl.py")
	must(t, err, "GetStatusByPath")
	if st.ObjectType != workspace.ObjectTypeNotebook || st.Language != workspace.LanguagePython || st.ObjectId == 0 {
		t.Fatalf("uploaded notebook: %+v", st)
	}
	rc, err := w.Workspace.Download(ctx, home+"/etl.py")
	must(t, err, "Download")
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != src {
		t.Fatalf("Download: %q, want %q", got, src)
	}

	must(t, w.Workspace.Import(ctx, workspace.PythonNotebookOverwrite(home+"/nb", "print(1)")), "Import")
	ex, err := w.Workspace.Export(ctx, workspace.ExportRequest{Path: home + "/nb", Format: workspace.ExportFormatSource})
	must(t, err, "Export")
	b, err := ex.Bytes()
	must(t, err, "ExportResponse.Bytes")
	if string(b) != "# Databricks notebook source\nprint(1)\n" || ex.FileType != "py" {
		t.Fatalf("Export: %q (%s)", b, ex.FileType)
	}

	// Workspace files round-trip byte for byte.
	data := []byte{0, 1, 2, 'x', 0xff}
	must(t, w.Workspace.WriteFile(ctx, home+"/data.bin", data), "WriteFile")
	back, err := w.Workspace.ReadFile(ctx, home+"/data.bin")
	must(t, err, "ReadFile")
	if !bytes.Equal(back, data) {
		t.Fatalf("ReadFile: %v, want %v", back, data)
	}

	must(t, w.Workspace.MkdirsByPath(ctx, home+"/dir/sub"), "MkdirsByPath")
	must(t, w.Workspace.Upload(ctx, home+"/dir/sub/deep.sql", strings.NewReader("SELECT 1"), workspace.UploadOverwrite()), "Upload SQL")
	objs, err := w.Workspace.ListAll(ctx, workspace.ListWorkspaceRequest{Path: home})
	must(t, err, "ListAll")
	var names []string
	for _, o := range objs {
		names = append(names, o.Path)
	}
	if want := []string{home + "/data.bin", home + "/dir", home + "/etl.py", home + "/nb"}; !slices.Equal(names, want) {
		t.Fatalf("ListAll: %v, want %v", names, want)
	}
	all, err := w.Workspace.RecursiveList(ctx, home)
	must(t, err, "RecursiveList")
	if len(all) != 4 {
		t.Fatalf("RecursiveList: %d objects, want 4", len(all))
	}
	empty, err := w.Workspace.ListAll(ctx, workspace.ListWorkspaceRequest{Path: home + "/dir/sub/deep.sql"})
	must(t, err, "ListAll of a notebook")
	if len(empty) != 1 {
		t.Fatalf("ListAll of a notebook: %+v", empty)
	}

	// Errors, as callers test them.
	apiErr := env.expectAPIError(t, func() error {
		_, err := w.Workspace.GetStatusByPath(ctx, home+"/missing")
		return err
	})
	expectIs(t, apiErr, apierr.ErrNotFound, apierr.ErrResourceDoesNotExist)
	if !apierr.IsMissing(apiErr) {
		t.Errorf("IsMissing(%v) = false", apiErr)
	}
	apiErr = env.expectAPIError(t, func() error {
		return w.Workspace.Import(ctx, workspace.Import{Path: home + "/nb", Content: "eA==", Language: workspace.LanguagePython, Format: workspace.ImportFormatSource})
	})
	expectIs(t, apiErr, apierr.ErrResourceConflict, apierr.ErrResourceAlreadyExists)
	apiErr = env.expectAPIError(t, func() error {
		return w.Workspace.Delete(ctx, workspace.Delete{Path: home + "/dir"})
	})
	if apiErr.ErrorCode != "DIRECTORY_NOT_EMPTY" || apiErr.StatusCode != 400 {
		t.Errorf("non-recursive delete: %s %d", apiErr.ErrorCode, apiErr.StatusCode)
	}
	expectIs(t, apiErr, apierr.ErrBadRequest)
	must(t, w.Workspace.Delete(ctx, workspace.Delete{Path: home + "/dir", Recursive: true}), "Delete recursive")
}

// TestDBFS drives DBFS through the SDK's streaming helpers, which use
// create/add-block/close and read in 1 MB blocks, and its other verbs.
func TestDBFS(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)

	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB: several blocks
	must(t, w.Dbfs.WriteFile(ctx, "dbfs:/FileStore/big.bin", big), "WriteFile")
	back, err := w.Dbfs.ReadFile(ctx, "dbfs:/FileStore/big.bin")
	must(t, err, "ReadFile")
	if !bytes.Equal(back, big) {
		t.Fatalf("ReadFile: %d bytes, want %d", len(back), len(big))
	}
	must(t, w.Dbfs.Put(ctx, files.Put{Path: "/FileStore/pi.py", Contents: "cHJpbnQoMyk=", Overwrite: true}), "Put")
	list, err := w.Dbfs.ListAll(ctx, files.ListDbfsRequest{Path: "/FileStore"})
	must(t, err, "ListAll")
	if len(list) != 2 || list[0].Path != "/FileStore/big.bin" || list[0].FileSize != int64(len(big)) || list[1].IsDir {
		t.Fatalf("ListAll: %+v", list)
	}
	must(t, w.Dbfs.Move(ctx, files.Move{SourcePath: "/FileStore/pi.py", DestinationPath: "/jobs/pi.py"}), "Move")
	st, err := w.Dbfs.GetStatusByPath(ctx, "/jobs/pi.py")
	must(t, err, "GetStatusByPath")
	if st.FileSize != 8 || st.IsDir {
		t.Fatalf("GetStatus: %+v", st)
	}
	apiErr := env.expectAPIError(t, func() error {
		_, err := w.Dbfs.GetStatusByPath(ctx, "/FileStore/pi.py")
		return err
	})
	expectIs(t, apiErr, apierr.ErrResourceDoesNotExist)
	apiErr = env.expectAPIError(t, func() error {
		return w.Dbfs.Put(ctx, files.Put{Path: "/jobs/pi.py", Contents: "eA=="})
	})
	expectIs(t, apiErr, apierr.ErrResourceAlreadyExists)
	must(t, w.Dbfs.Delete(ctx, files.Delete{Path: "/FileStore", Recursive: true}), "Delete")
}

// TestSecretsAPI drives the Secrets API through the SDK.
func TestSecretsAPI(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)

	must(t, w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "etl", InitialManagePrincipal: "users"}), "CreateScope")
	must(t, w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "etl", Key: "password", StringValue: "hunter2"}), "PutSecret")
	must(t, w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "etl", Key: "blob", BytesValue: "AAEC"}), "PutSecret bytes")
	scopes, err := w.Secrets.ListScopesAll(ctx)
	must(t, err, "ListScopesAll")
	if len(scopes) != 1 || scopes[0].Name != "etl" || scopes[0].BackendType != workspace.ScopeBackendTypeDatabricks {
		t.Fatalf("ListScopes: %+v", scopes)
	}
	keys, err := w.Secrets.ListSecretsAll(ctx, workspace.ListSecretsRequest{Scope: "etl"})
	must(t, err, "ListSecretsAll")
	if len(keys) != 2 || keys[0].Key != "blob" || keys[0].LastUpdatedTimestamp == 0 {
		t.Fatalf("ListSecrets: %+v", keys)
	}
	apiErr := env.expectAPIError(t, func() error {
		_, err := w.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "etl", Key: "password"})
		return err
	})
	expectIs(t, apiErr, apierr.ErrPermissionDenied)
	apiErr = env.expectAPIError(t, func() error {
		return w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "etl"})
	})
	expectIs(t, apiErr, apierr.ErrResourceAlreadyExists)
	must(t, w.Secrets.DeleteSecret(ctx, workspace.DeleteSecret{Scope: "etl", Key: "blob"}), "DeleteSecret")
	must(t, w.Secrets.DeleteScope(ctx, workspace.DeleteScope{Scope: "etl"}), "DeleteScope")
	scopes, err = w.Secrets.ListScopesAll(ctx)
	must(t, err, "ListScopesAll after delete")
	if len(scopes) != 0 {
		t.Fatalf("scopes after delete: %+v", scopes)
	}
}
