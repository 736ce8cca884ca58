package compat

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// terraformSCIM sends one SCIM call as the Terraform provider does:
// through the SDK's own ApiClient, with Content-Type
// application/scim+json; charset=utf-8 on every call.
func terraformSCIM(ctx context.Context, t *testing.T, env *kilnEnv, method, path string, query map[string]any, body, out any) error {
	t.Helper()
	api, err := client.New(env.adminClient(t).Config)
	must(t, err, "client.New")
	return api.Do(ctx, method, path, map[string]string{"Content-Type": "application/scim+json; charset=utf-8"}, query, body, out)
}

// entitlementValues lists the values of SCIM entitlements.
func entitlementValues(cvs []iam.ComplexValue) []string {
	var out []string
	for _, c := range cvs {
		out = append(out, c.Value)
	}
	slices.Sort(out)
	return out
}

// TestServicePrincipalAttributesKeepApplicationID: Terraform re-reads a
// service principal with attributes=userName,displayName,active,
// externalId,entitlements; the application id must come back with it.
func TestServicePrincipalAttributesKeepApplicationID(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	sp, err := w.ServicePrincipalsV2.Create(ctx, iam.CreateServicePrincipalRequest{DisplayName: "tf-sp", Active: true})
	must(t, err, "ServicePrincipalsV2.Create")
	if len(sp.ApplicationId) != 36 {
		t.Fatalf("created SP has applicationId %q", sp.ApplicationId)
	}
	for _, attrs := range []string{"userName,displayName,active,externalId,entitlements", "displayName", "groups,roles"} {
		var got iam.ServicePrincipal
		err := terraformSCIM(ctx, t, env, http.MethodGet, spsPath+"/"+sp.Id, map[string]any{"attributes": attrs}, nil, &got)
		must(t, err, "GET with attributes="+attrs)
		if got.ApplicationId != sp.ApplicationId || got.Id != sp.Id {
			t.Errorf("attributes=%s: id %q applicationId %q, want %q %q", attrs, got.Id, got.ApplicationId, sp.Id, sp.ApplicationId)
		}
	}
	// The list, with the filter Terraform's force import sends.
	var list iam.ListServicePrincipalResponse
	must(t, terraformSCIM(ctx, t, env, http.MethodGet, spsPath,
		map[string]any{"filter": `applicationId eq "` + sp.ApplicationId + `"`, "attributes": "displayName"}, nil, &list), "filtered list")
	if len(list.Resources) != 1 || list.Resources[0].ApplicationId != sp.ApplicationId {
		t.Fatalf("filtered list: %+v", list.Resources)
	}
}

// TestEntitlementsRoundTrip drives entitlements through the SDK: none
// of a principal's own on a plain create (workspace and SQL access come
// from the users group), then create, patch and update carrying them, on
// users, service principals and groups.
func TestEntitlementsRoundTrip(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	ents := func(vs ...string) []iam.ComplexValue {
		var out []iam.ComplexValue
		for _, v := range vs {
			out = append(out, iam.ComplexValue{Value: v})
		}
		return out
	}
	users, err := w.GroupsV2.ListAll(ctx, iam.ListGroupsRequest{Filter: `displayName eq 'users'`})
	must(t, err, "GroupsV2.ListAll users")
	if len(users) != 1 || !slices.Equal(entitlementValues(users[0].Entitlements), []string{"databricks-sql-access", "workspace-access"}) {
		t.Fatalf("users group: %+v", users)
	}

	plain, err := w.UsersV2.Create(ctx, iam.CreateUserRequest{UserName: "plain@example.com"})
	must(t, err, "UsersV2.Create plain")
	got, err := w.UsersV2.Get(ctx, iam.GetUserRequest{Id: plain.Id})
	must(t, err, "UsersV2.Get plain")
	if len(got.Entitlements) != 0 {
		t.Errorf("a user created without entitlements has %v", got.Entitlements)
	}

	u, err := w.UsersV2.Create(ctx, iam.CreateUserRequest{UserName: "ent@example.com", Entitlements: ents("allow-cluster-create")})
	must(t, err, "UsersV2.Create with entitlements")
	must(t, w.UsersV2.Patch(ctx, iam.PatchUserRequest{Id: u.Id, Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		Operations: []iam.Patch{
			{Op: iam.PatchOpAdd, Path: "entitlements", Value: ents("databricks-sql-access", "allow-instance-pool-create")},
			{Op: iam.PatchOpRemove, Path: "entitlements", Value: ents("allow-cluster-create")},
		}}), "UsersV2.Patch")
	got, err = w.UsersV2.Get(ctx, iam.GetUserRequest{Id: u.Id})
	must(t, err, "UsersV2.Get")
	if v := entitlementValues(got.Entitlements); !slices.Equal(v, []string{"allow-instance-pool-create", "databricks-sql-access"}) {
		t.Errorf("user entitlements after patch: %v", v)
	}

	sp, err := w.ServicePrincipalsV2.Create(ctx, iam.CreateServicePrincipalRequest{DisplayName: "ent-sp", Entitlements: ents("workspace-access")})
	must(t, err, "ServicePrincipalsV2.Create")
	must(t, w.ServicePrincipalsV2.Update(ctx, iam.UpdateServicePrincipalRequest{Id: sp.Id, ApplicationId: sp.ApplicationId, DisplayName: "ent-sp",
		Active: true, Entitlements: ents("allow-cluster-create", "databricks-sql-access")}), "ServicePrincipalsV2.Update")
	gotSP, err := w.ServicePrincipalsV2.Get(ctx, iam.GetServicePrincipalRequest{Id: sp.Id})
	must(t, err, "ServicePrincipalsV2.Get")
	if v := entitlementValues(gotSP.Entitlements); !slices.Equal(v, []string{"allow-cluster-create", "databricks-sql-access"}) {
		t.Errorf("SP entitlements after update: %v", v)
	}

	g, err := w.GroupsV2.Create(ctx, iam.CreateGroupRequest{DisplayName: "ent-group", Entitlements: ents("allow-cluster-create")})
	must(t, err, "GroupsV2.Create")
	must(t, w.GroupsV2.Update(ctx, iam.UpdateGroupRequest{Id: g.Id, DisplayName: "ent-group", Entitlements: ents("workspace-access")}), "GroupsV2.Update")
	gotG, err := w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: g.Id})
	must(t, err, "GroupsV2.Get")
	if v := entitlementValues(gotG.Entitlements); !slices.Equal(v, []string{"workspace-access"}) {
		t.Errorf("group entitlements after update: %v", v)
	}
}

// TestFilterSingleQuotes: the SDK's filters with single-quoted values,
// sw, and/or, and sortBy, as the Go SDK's own integration tests send.
func TestFilterSingleQuotes(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	for _, n := range []string{"go-sdk-b", "go-sdk-a", "other"} {
		_, err := w.UsersV2.Create(ctx, iam.CreateUserRequest{UserName: n + "@example.com", DisplayName: n})
		must(t, err, "UsersV2.Create "+n)
	}
	for _, c := range []struct {
		req  iam.ListUsersRequest
		want []string
	}{
		{iam.ListUsersRequest{Filter: "displayName sw 'go-sdk-'", SortBy: "userName"}, []string{"go-sdk-a@example.com", "go-sdk-b@example.com"}},
		{iam.ListUsersRequest{Filter: "displayName sw 'go-sdk-'", SortBy: "userName", SortOrder: iam.ListSortOrderDescending},
			[]string{"go-sdk-b@example.com", "go-sdk-a@example.com"}},
		{iam.ListUsersRequest{Filter: `displayName eq 'other' or (userName sw "go-sdk-a" and active eq true)`, SortBy: "userName"},
			[]string{"go-sdk-a@example.com", "other@example.com"}},
	} {
		us, err := w.UsersV2.ListAll(ctx, c.req)
		must(t, err, "UsersV2.ListAll "+c.req.Filter)
		var names []string
		for _, u := range us {
			names = append(names, u.UserName)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("filter %s sortBy %s %s: %v, want %v", c.req.Filter, c.req.SortBy, c.req.SortOrder, names, c.want)
		}
	}
	gs, err := w.GroupsV2.ListAll(ctx, iam.ListGroupsRequest{Filter: "displayName eq 'admins'"})
	must(t, err, "GroupsV2.ListAll")
	if len(gs) != 1 || gs[0].DisplayName != "admins" {
		t.Errorf("groups filtered in single quotes: %+v", gs)
	}
	aerr := env.expectAPIError(t, func() error {
		_, err := w.UsersV2.ListAll(ctx, iam.ListUsersRequest{Filter: "userName sw 'unclosed"})
		return err
	})
	if aerr.StatusCode != 400 || !strings.Contains(aerr.Message, "Invalid filter") {
		t.Errorf("a bad filter: %d %q", aerr.StatusCode, aerr.Message)
	}
}

// TestSCIMContentType: writes with Terraform's Content-Type succeed
// through the SDK's client, and SCIM answers come typed
// application/scim+json, which the SDK decodes.
func TestSCIMContentType(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	var created iam.User
	must(t, terraformSCIM(ctx, t, env, http.MethodPost, usersPath, nil,
		map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "tf@example.com",
			"entitlements": []map[string]string{{"value": ""}}}, &created), "POST as Terraform")
	if created.Id == "" || created.UserName != "tf@example.com" || len(created.Entitlements) != 0 {
		t.Fatalf("created: %+v", created)
	}
	must(t, terraformSCIM(ctx, t, env, http.MethodPatch, usersPath+"/"+created.Id, nil,
		map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "add", "path": "entitlements", "value": []map[string]string{{"value": "allow-cluster-create"}}}}}, nil),
		"PATCH as Terraform")
	var read iam.User
	must(t, terraformSCIM(ctx, t, env, http.MethodGet, usersPath+"/"+created.Id,
		map[string]any{"attributes": "userName,displayName,active,externalId,entitlements"}, nil, &read), "GET as Terraform")
	if v := entitlementValues(read.Entitlements); !slices.Equal(v, []string{"allow-cluster-create"}) || read.UserName != "tf@example.com" {
		t.Fatalf("read back: %+v", read)
	}
	// A plain request with the token: the answer's type.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.URL+usersPath+"/"+created.Id, nil)
	must(t, err, "request")
	req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	must(t, err, "GET")
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/scim+json; charset=utf-8" {
		t.Fatalf("GET: %d %q", resp.StatusCode, ct)
	}
}
