package compat

import (
	"context"
	"reflect"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// TestSecretACLs drives the secret scope ACL API through the SDK's own
// PutAcl, GetAcl, ListAcls and DeleteAcl: the creator manages the scope, a
// user granted READ lists keys (one without cannot) and may not write,
// and the errors are the classes callers test with errors.Is.
func TestSecretACLs(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	_, aliceTok := env.createUser(t, "alice@example.com")
	_, bobTok := env.createUser(t, "bob@example.com")
	alice, bob := env.client(t, aliceTok), env.client(t, bobTok)

	must(t, alice.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "etl"}), "CreateScope")
	must(t, alice.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "etl", Key: "pw", StringValue: "compat-value"}), "PutSecret")

	acls, err := alice.Secrets.ListAclsAll(ctx, workspace.ListAclsRequest{Scope: "etl"})
	must(t, err, "ListAclsAll")
	if want := []workspace.AclItem{{Principal: "alice@example.com", Permission: workspace.AclPermissionManage}}; !reflect.DeepEqual(acls, want) {
		t.Fatalf("ListAclsAll of a new scope: %+v, want %+v", acls, want)
	}

	bobLists := func() error {
		_, err := bob.Secrets.ListSecretsAll(ctx, workspace.ListSecretsRequest{Scope: "etl"})
		return err
	}
	expectIs(t, env.expectAPIError(t, bobLists), databricks.ErrPermissionDenied)

	must(t, alice.Secrets.PutAcl(ctx, workspace.PutAcl{Scope: "etl", Principal: "bob@example.com", Permission: workspace.AclPermissionRead}), "PutAcl READ")
	keys, err := bob.Secrets.ListSecretsAll(ctx, workspace.ListSecretsRequest{Scope: "etl"})
	if err != nil || len(keys) != 1 || keys[0].Key != "pw" {
		t.Fatalf("bob with READ: ListSecretsAll = %+v, %v", keys, err)
	}
	item, err := alice.Secrets.GetAcl(ctx, workspace.GetAclRequest{Scope: "etl", Principal: "bob@example.com"})
	if err != nil || item.Principal != "bob@example.com" || item.Permission != workspace.AclPermissionRead {
		t.Fatalf("GetAcl: %+v, %v", item, err)
	}
	// Admins manage every scope; the list now holds both grants.
	acls, err = env.adminClient(t).Secrets.ListAclsAll(ctx, workspace.ListAclsRequest{Scope: "etl"})
	must(t, err, "ListAclsAll as an admin")
	if len(acls) != 2 || acls[1].Principal != "bob@example.com" {
		t.Fatalf("ListAclsAll after the grant: %+v", acls)
	}

	for _, c := range []struct {
		name string
		call func() error
		want error
	}{
		{"READ does not write", func() error {
			return bob.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "etl", Key: "x", StringValue: "v"})
		}, databricks.ErrPermissionDenied},
		{"READ does not manage", func() error {
			return bob.Secrets.PutAcl(ctx, workspace.PutAcl{Scope: "etl", Principal: "bob@example.com", Permission: workspace.AclPermissionManage})
		}, databricks.ErrPermissionDenied},
		{"unknown permission", func() error {
			return alice.Secrets.PutAcl(ctx, workspace.PutAcl{Scope: "etl", Principal: "bob@example.com", Permission: "OWNER"})
		}, databricks.ErrInvalidParameterValue},
		{"unknown principal", func() error {
			return alice.Secrets.PutAcl(ctx, workspace.PutAcl{Scope: "etl", Principal: "nobody@example.com", Permission: workspace.AclPermissionRead})
		}, databricks.ErrInvalidParameterValue},
		{"missing scope", func() error {
			_, err := alice.Secrets.GetAcl(ctx, workspace.GetAclRequest{Scope: "nope", Principal: "bob@example.com"})
			return err
		}, databricks.ErrResourceDoesNotExist},
	} {
		t.Run(c.name, func(t *testing.T) {
			expectIs(t, env.expectAPIError(t, c.call), c.want)
		})
	}

	must(t, alice.Secrets.DeleteAcl(ctx, workspace.DeleteAcl{Scope: "etl", Principal: "bob@example.com"}), "DeleteAcl")
	expectIs(t, env.expectAPIError(t, bobLists), databricks.ErrPermissionDenied)
	expectIs(t, env.expectAPIError(t, func() error {
		_, err := alice.Secrets.GetAcl(ctx, workspace.GetAclRequest{Scope: "etl", Principal: "bob@example.com"})
		return err
	}), databricks.ErrResourceDoesNotExist)
}
