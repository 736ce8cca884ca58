package compat

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/listing"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

const (
	usersPath  = "/api/2.0/preview/scim/v2/Users"
	spsPath    = "/api/2.0/preview/scim/v2/ServicePrincipals"
	groupsPath = "/api/2.0/preview/scim/v2/Groups"
)

// maxListed bounds every list iteration: a server that ignored startIndex
// would make the SDK's iterators fetch the same page forever.
const maxListed = 1000

// drain reads an SDK iterator to its end, failing the test if it yields
// more than maxListed items or does not finish within 10 seconds.
func drain[T any](t *testing.T, list func(context.Context) listing.Iterator[T]) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it := list(ctx)
	var out []T
	for it.HasNext(ctx) {
		v, err := it.Next(ctx)
		must(t, err, "iterating")
		out = append(out, v)
		if len(out) > maxListed {
			t.Fatalf("iterator yielded more than %d items: paging does not terminate", maxListed)
		}
	}
	return out
}

// checkPaging asserts that the SDK fetched path in pages of pageSize
// (startIndex 1, 1+pageSize, ...) and stopped after one empty page: kiln
// must honour count and startIndex and echo startIndex back.
func checkPaging(t *testing.T, env *kilnEnv, mark int, path string, items, pageSize int) {
	t.Helper()
	var starts []string
	for _, x := range env.rec.since(mark) {
		if x.Method == "GET" && x.Path == path {
			q, _ := url.ParseQuery(x.Query)
			starts = append(starts, q.Get("startIndex"))
		}
	}
	// The SDK asks next for startIndex + len(Resources) of the page it got.
	var want []string
	for s := 1; ; {
		want = append(want, fmt.Sprint(s))
		n := min(pageSize, items-(s-1))
		if n <= 0 {
			break
		}
		s += n
	}
	if !slices.Equal(starts, want) {
		t.Errorf("startIndex sequence = %v, want %v (%d items, pages of %d, then one empty page)", starts, want, items, pageSize)
	}
}

// TestUsers covers SCIM users through both the deprecated Users API and
// UsersV2: paging to the end, filters, create, get, update, patch
// (deactivation must stop the user's token), delete.
func TestUsers(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	var emails []string
	for i := range 5 {
		email := fmt.Sprintf("user%d@example.com", i)
		env.createUser(t, email)
		emails = append(emails, email)
	}
	allNames := append([]string{adminEmail}, emails...)

	t.Run("List pages to the end", func(t *testing.T) {
		apis := []struct {
			name string
			list func(context.Context, iam.ListUsersRequest) listing.Iterator[iam.User]
		}{
			{"Users", w.Users.List},
			{"UsersV2", w.UsersV2.List},
		}
		for _, api := range apis {
			for _, pageSize := range []int{2, 3, 10000} {
				t.Run(fmt.Sprintf("%s/count=%d", api.name, pageSize), func(t *testing.T) {
					mark := len(env.rec.all())
					users := drain(t, func(ctx context.Context) listing.Iterator[iam.User] {
						return api.list(ctx, iam.ListUsersRequest{Count: int64(pageSize)})
					})
					var names []string
					for _, u := range users {
						names = append(names, u.UserName)
					}
					slices.Sort(names)
					want := slices.Sorted(slices.Values(allNames))
					if !slices.Equal(names, want) {
						t.Errorf("listed %v, want %v", names, want)
					}
					checkPaging(t, env, mark, usersPath, len(allNames), pageSize)
				})
			}
		}
	})

	t.Run("ListAll with filters", func(t *testing.T) {
		cases := []struct {
			filter string
			want   []string
		}{
			{`userName eq "user3@example.com"`, []string{"user3@example.com"}},
			{`userName eq "USER3@example.com"`, []string{"user3@example.com"}},
			{`userName eq "nobody@example.com"`, nil},
			{`displayName eq "user1"`, []string{"user1@example.com"}},
		}
		for _, tc := range cases {
			t.Run(tc.filter, func(t *testing.T) {
				users, err := w.Users.ListAll(ctx, iam.ListUsersRequest{Filter: tc.filter})
				must(t, err, "ListAll")
				var names []string
				for _, u := range users {
					names = append(names, u.UserName)
				}
				if !slices.Equal(names, tc.want) {
					t.Errorf("filter %s listed %v, want %v", tc.filter, names, tc.want)
				}
			})
		}
	})

	t.Run("GetByUserName", func(t *testing.T) {
		u, err := w.Users.GetByUserName(ctx, "user2@example.com")
		must(t, err, "GetByUserName")
		if u.UserName != "user2@example.com" || u.Id == "" {
			t.Errorf("GetByUserName = %+v", u)
		}
	})

	t.Run("Create, Get, Update, Delete", func(t *testing.T) {
		created, err := w.Users.Create(ctx, iam.User{
			UserName:    "dana@example.com",
			DisplayName: "Dana Scully",
			Name:        &iam.Name{GivenName: "Dana", FamilyName: "Scully"},
			ExternalId:  "ext-42",
			Schemas:     []iam.UserSchema{iam.UserSchemaUrnIetfParamsScimSchemasCore20User},
		})
		must(t, err, "Users.Create")
		if created.Id == "" || created.UserName != "dana@example.com" || !created.Active {
			t.Fatalf("Create = %+v, want an id, the userName and active", created)
		}
		got, err := w.UsersV2.Get(ctx, iam.GetUserRequest{Id: created.Id})
		must(t, err, "UsersV2.Get")
		if got.UserName != "dana@example.com" || got.DisplayName != "Dana Scully" || got.ExternalId != "ext-42" ||
			got.Name == nil || got.Name.GivenName != "Dana" || got.Name.FamilyName != "Scully" {
			t.Errorf("Get = %+v, want the created attributes", got)
		}
		if !slices.Contains(groupNames(got.Groups), "users") {
			t.Errorf("new user's groups = %v, want users", groupNames(got.Groups))
		}

		must(t, w.Users.Update(ctx, iam.User{Id: created.Id, UserName: "dana@example.com", DisplayName: "Agent Scully", Active: true}), "Users.Update (PUT)")
		got, err = w.Users.GetById(ctx, created.Id)
		must(t, err, "GetById")
		if got.DisplayName != "Agent Scully" || !got.Active {
			t.Errorf("after PUT, Get = %+v, want displayName Agent Scully and active", got)
		}

		must(t, w.Users.DeleteById(ctx, created.Id), "DeleteById")
		apiErr := env.expectAPIError(t, func() error { _, err := w.Users.GetById(ctx, created.Id); return err })
		expectIs(t, apiErr, databricks.ErrNotFound)
		apiErr = env.expectAPIError(t, func() error { return w.Users.DeleteById(ctx, created.Id) })
		expectIs(t, apiErr, databricks.ErrNotFound)
	})

	t.Run("Patch active=false refuses the user's token", func(t *testing.T) {
		// The SDK's own examples send the string "false"; SCIM clients also
		// send the boolean.
		for i, value := range []any{"false", false} {
			t.Run(fmt.Sprintf("value %#v", value), func(t *testing.T) {
				p, tok := env.createUser(t, fmt.Sprintf("leaver%d@example.com", i))
				c := env.client(t, tok)
				_, err := c.CurrentUser.Me(ctx, iam.MeRequest{})
				must(t, err, "Me before deactivation")

				must(t, w.Users.Patch(ctx, iam.PartialUpdate{
					Id:         idString(p.ID),
					Operations: []iam.Patch{{Op: iam.PatchOpReplace, Path: "active", Value: value}},
					Schemas:    []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
				}), "Users.Patch active=false")
				got, err := w.Users.GetById(ctx, idString(p.ID))
				must(t, err, "GetById")
				if got.Active {
					t.Errorf("after patch, active = true")
				}
				apiErr := env.expectAPIError(t, func() error { _, err := c.CurrentUser.Me(ctx, iam.MeRequest{}); return err })
				expectIs(t, apiErr, databricks.ErrPermissionDenied)
			})
		}
	})

	t.Run("Patch via UsersV2 renames", func(t *testing.T) {
		u, err := w.Users.GetByUserName(ctx, "user4@example.com")
		must(t, err, "GetByUserName")
		must(t, w.UsersV2.Patch(ctx, iam.PatchUserRequest{
			Id: u.Id,
			Operations: []iam.Patch{
				{Op: iam.PatchOpReplace, Path: "displayName", Value: "User Four"},
				{Op: iam.PatchOpReplace, Path: "name.givenName", Value: "Four"},
			},
			Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		}), "UsersV2.Patch")
		got, err := w.UsersV2.Get(ctx, iam.GetUserRequest{Id: u.Id})
		must(t, err, "Get")
		if got.DisplayName != "User Four" || got.Name == nil || got.Name.GivenName != "Four" {
			t.Errorf("after patch, Get = %+v", got)
		}
	})

	t.Run("Patch adding roles without a path is accepted", func(t *testing.T) {
		// The SDK's own example for Users.Patch.
		u, err := w.Users.GetByUserName(ctx, "user0@example.com")
		must(t, err, "GetByUserName")
		must(t, w.Users.Patch(ctx, iam.PartialUpdate{
			Id:         u.Id,
			Operations: []iam.Patch{{Op: iam.PatchOpAdd, Value: iam.User{Roles: []iam.ComplexValue{{Value: "account_admin"}}}}},
			Schemas:    []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		}), "Users.Patch add roles")
		got, err := w.Users.GetById(ctx, u.Id)
		must(t, err, "GetById")
		if got.UserName != "user0@example.com" || !got.Active {
			t.Errorf("after patch, Get = %+v, want the user unchanged", got)
		}
	})

	t.Run("Delete refuses the user's token", func(t *testing.T) {
		p, tok := env.createUser(t, "gone@example.com")
		c := env.client(t, tok)
		_, err := c.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "Me before deletion")
		must(t, w.UsersV2.Delete(ctx, iam.DeleteUserRequest{Id: idString(p.ID)}), "UsersV2.Delete")
		apiErr := env.expectAPIError(t, func() error { _, err := c.CurrentUser.Me(ctx, iam.MeRequest{}); return err })
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
	})

	t.Run("duplicate userName conflicts", func(t *testing.T) {
		apiErr := env.expectAPIError(t, func() error {
			_, err := w.Users.Create(ctx, iam.User{UserName: "user1@example.com"})
			return err
		})
		expectIs(t, apiErr, databricks.ErrResourceConflict)
	})
}

// TestServicePrincipals covers SCIM service principals: create (with a
// generated and with a given application id), get, list with paging and
// filter, and delete, after which the principal's token is refused.
func TestServicePrincipals(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	const givenAppID = "6f5ccf28-d83a-4957-9bfb-5bbfac551410"

	generated, err := w.ServicePrincipals.Create(ctx, iam.ServicePrincipal{DisplayName: "etl"})
	must(t, err, "Create with a generated application id")
	given, err := w.ServicePrincipalsV2.Create(ctx, iam.CreateServicePrincipalRequest{
		ApplicationId: givenAppID, DisplayName: "deployer",
		Schemas: []iam.ServicePrincipalSchema{iam.ServicePrincipalSchemaUrnIetfParamsScimSchemasCore20ServicePrincipal},
	})
	must(t, err, "Create with a given application id")

	t.Run("Create", func(t *testing.T) {
		cases := []struct {
			name      string
			sp        *iam.ServicePrincipal
			appID     string
			display   string
			generated bool
		}{
			{"generated application id", generated, "", "etl", true},
			{"given application id", given, givenAppID, "deployer", false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if tc.sp.Id == "" || !tc.sp.Active || tc.sp.DisplayName != tc.display {
					t.Errorf("created %+v, want an id, active, displayName %q", tc.sp, tc.display)
				}
				if tc.generated && !uuidRE.MatchString(tc.sp.ApplicationId) {
					t.Errorf("applicationId = %q, want a generated UUID", tc.sp.ApplicationId)
				}
				if !tc.generated && tc.sp.ApplicationId != tc.appID {
					t.Errorf("applicationId = %q, want %q", tc.sp.ApplicationId, tc.appID)
				}
				got, err := w.ServicePrincipals.GetById(ctx, tc.sp.Id)
				must(t, err, "GetById")
				if got.ApplicationId != tc.sp.ApplicationId || got.DisplayName != tc.display {
					t.Errorf("Get = %+v, want %+v", got, tc.sp)
				}
			})
		}
	})

	t.Run("List pages to the end", func(t *testing.T) {
		mark := len(env.rec.all())
		sps := drain(t, func(ctx context.Context) listing.Iterator[iam.ServicePrincipal] {
			return w.ServicePrincipals.List(ctx, iam.ListServicePrincipalsRequest{Count: 1})
		})
		var ids []string
		for _, sp := range sps {
			ids = append(ids, sp.ApplicationId)
		}
		if len(ids) != 2 || !slices.Contains(ids, generated.ApplicationId) || !slices.Contains(ids, givenAppID) {
			t.Errorf("listed %v, want both service principals (and no users)", ids)
		}
		checkPaging(t, env, mark, spsPath, 2, 1)
	})

	t.Run("ListAll with filter", func(t *testing.T) {
		sps, err := w.ServicePrincipalsV2.ListAll(ctx, iam.ListServicePrincipalsRequest{Filter: fmt.Sprintf("applicationId eq %q", givenAppID)})
		must(t, err, "ListAll")
		if len(sps) != 1 || sps[0].Id != given.Id {
			t.Errorf("filter by applicationId listed %+v, want just %s", sps, given.Id)
		}
	})

	t.Run("Delete refuses the token", func(t *testing.T) {
		tok := env.mintToken(t, generated.ApplicationId)
		c := env.client(t, tok)
		_, err := c.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "Me as the service principal")
		must(t, w.ServicePrincipals.DeleteById(ctx, generated.Id), "DeleteById")
		apiErr := env.expectAPIError(t, func() error { _, err := w.ServicePrincipals.GetById(ctx, generated.Id); return err })
		expectIs(t, apiErr, databricks.ErrNotFound)
		apiErr = env.expectAPIError(t, func() error { _, err := c.CurrentUser.Me(ctx, iam.MeRequest{}); return err })
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
	})

	t.Run("Patch active=false refuses the token", func(t *testing.T) {
		tok := env.mintToken(t, givenAppID)
		c := env.client(t, tok)
		_, err := c.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "Me as the service principal")
		// As in the SDK's own example for service principals.
		must(t, w.ServicePrincipalsV2.Patch(ctx, iam.PatchServicePrincipalRequest{
			Id:         given.Id,
			Operations: []iam.Patch{{Op: iam.PatchOpReplace, Path: "active", Value: "false"}},
			Schemas:    []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		}), "ServicePrincipalsV2.Patch")
		got, err := w.ServicePrincipalsV2.Get(ctx, iam.GetServicePrincipalRequest{Id: given.Id})
		must(t, err, "Get")
		if got.Active {
			t.Errorf("after patch, active = true")
		}
		apiErr := env.expectAPIError(t, func() error { _, err := c.CurrentUser.Me(ctx, iam.MeRequest{}); return err })
		expectIs(t, apiErr, databricks.ErrPermissionDenied)

		// PUT (Update) with active restores it.
		must(t, w.ServicePrincipals.Update(ctx, iam.ServicePrincipal{Id: given.Id, ApplicationId: givenAppID, DisplayName: "deployer", Active: true}), "ServicePrincipals.Update")
		_, err = c.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "Me after reactivation")
	})

	t.Run("a user id is not a service principal", func(t *testing.T) {
		apiErr := env.expectAPIError(t, func() error {
			_, err := w.ServicePrincipals.GetById(ctx, idString(env.Admin.ID))
			return err
		})
		expectIs(t, apiErr, databricks.ErrNotFound)
	})
}

// TestGroups covers SCIM groups: the built-in groups, create with members,
// patch members in and out (both SCIM remove forms), the effect on /Me,
// making a service principal an admin the way Terraform does, and delete.
func TestGroups(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	bob, bobToken := env.createUser(t, "bob@example.com")
	carol, _ := env.createUser(t, "carol@example.com")
	bobClient := env.client(t, bobToken)

	t.Run("List built-in groups", func(t *testing.T) {
		groups := drain(t, func(ctx context.Context) listing.Iterator[iam.Group] {
			return w.Groups.List(ctx, iam.ListGroupsRequest{Count: 1})
		})
		var names []string
		for _, g := range groups {
			names = append(names, g.DisplayName)
			if g.Meta == nil || g.Meta.ResourceType != "WorkspaceGroup" {
				t.Errorf("group %s meta = %+v, want resourceType WorkspaceGroup", g.DisplayName, g.Meta)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"admins", "users"}) {
			t.Errorf("groups = %v, want [admins users]", names)
		}
		admins, err := w.Groups.GetByDisplayName(ctx, "admins")
		must(t, err, "GetByDisplayName admins")
		if !slices.ContainsFunc(admins.Members, func(m iam.ComplexValue) bool { return m.Value == idString(env.Admin.ID) }) {
			t.Errorf("admins members = %+v, want the first admin", admins.Members)
		}
	})

	var groupID string
	t.Run("Create with a member", func(t *testing.T) {
		g, err := w.Groups.Create(ctx, iam.Group{
			DisplayName: "data-eng",
			Members:     []iam.ComplexValue{{Value: idString(bob.ID)}},
			Schemas:     []iam.GroupSchema{iam.GroupSchemaUrnIetfParamsScimSchemasCore20Group},
		})
		must(t, err, "Groups.Create")
		if g.Id == "" || g.DisplayName != "data-eng" {
			t.Fatalf("Create = %+v", g)
		}
		groupID = g.Id
		if got := memberIDs(g.Members); !slices.Equal(got, []string{idString(bob.ID)}) {
			t.Errorf("members = %v, want [bob]", got)
		}
		me, err := bobClient.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "bob: Me")
		if !slices.Contains(groupNames(me.Groups), "data-eng") {
			t.Errorf("bob's groups = %v, want data-eng", groupNames(me.Groups))
		}
	})
	if groupID == "" {
		t.FailNow()
	}

	t.Run("Patch members", func(t *testing.T) {
		cases := []struct {
			name string
			op   iam.Patch
			want []string
		}{
			{"add carol", iam.Patch{Op: iam.PatchOpAdd, Path: "members", Value: []iam.ComplexValue{{Value: idString(carol.ID)}}},
				[]string{idString(bob.ID), idString(carol.ID)}},
			{"remove bob by filter path", iam.Patch{Op: iam.PatchOpRemove, Path: fmt.Sprintf(`members[value eq "%d"]`, bob.ID)},
				[]string{idString(carol.ID)}},
			{"add bob without path", iam.Patch{Op: iam.PatchOpAdd, Value: map[string]any{"members": []iam.ComplexValue{{Value: idString(bob.ID)}}}},
				[]string{idString(bob.ID), idString(carol.ID)}},
			{"remove carol by value", iam.Patch{Op: iam.PatchOpRemove, Path: "members", Value: []iam.ComplexValue{{Value: idString(carol.ID)}}},
				[]string{idString(bob.ID)}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				must(t, w.Groups.Patch(ctx, iam.PartialUpdate{
					Id: groupID, Operations: []iam.Patch{tc.op},
					Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
				}), "Groups.Patch")
				g, err := w.Groups.GetById(ctx, groupID)
				must(t, err, "GetById")
				got := memberIDs(g.Members)
				want := slices.Sorted(slices.Values(tc.want))
				if !slices.Equal(got, want) {
					t.Errorf("members = %v, want %v", got, want)
				}
			})
		}
	})

	t.Run("GroupsV2 rename", func(t *testing.T) {
		must(t, w.GroupsV2.Patch(ctx, iam.PatchGroupRequest{
			Id:         groupID,
			Operations: []iam.Patch{{Op: iam.PatchOpReplace, Path: "displayName", Value: "data-engineering"}},
			Schemas:    []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		}), "GroupsV2.Patch")
		g, err := w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: groupID})
		must(t, err, "GroupsV2.Get")
		if g.DisplayName != "data-engineering" {
			t.Errorf("displayName = %q, want data-engineering", g.DisplayName)
		}
	})

	t.Run("Update (PUT) replaces the members", func(t *testing.T) {
		must(t, w.Groups.Update(ctx, iam.Group{
			Id: groupID, DisplayName: "data-engineering",
			Members: []iam.ComplexValue{{Value: idString(carol.ID)}},
		}), "Groups.Update")
		g, err := w.Groups.GetById(ctx, groupID)
		must(t, err, "GetById")
		if got := memberIDs(g.Members); !slices.Equal(got, []string{idString(carol.ID)}) || g.DisplayName != "data-engineering" {
			t.Errorf("after PUT: %q members %v, want data-engineering with [carol]", g.DisplayName, got)
		}
		// Back to bob only, for the tests below.
		must(t, w.GroupsV2.Update(ctx, iam.UpdateGroupRequest{
			Id: groupID, DisplayName: "data-engineering",
			Members: []iam.ComplexValue{{Value: idString(bob.ID)}},
		}), "GroupsV2.Update")
	})

	t.Run("a service principal added to admins acts as admin", func(t *testing.T) {
		sp, err := w.ServicePrincipals.Create(ctx, iam.ServicePrincipal{DisplayName: "automation"})
		must(t, err, "ServicePrincipals.Create")
		admins, err := w.Groups.GetByDisplayName(ctx, "admins")
		must(t, err, "GetByDisplayName")
		must(t, w.Groups.Patch(ctx, iam.PartialUpdate{
			Id:         admins.Id,
			Operations: []iam.Patch{{Op: iam.PatchOpAdd, Path: "members", Value: []iam.ComplexValue{{Value: sp.Id}}}},
			Schemas:    []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		}), "add the service principal to admins")
		spClient := env.client(t, env.mintToken(t, sp.ApplicationId))
		_, err = spClient.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
		must(t, err, "TokenManagement.ListAll as an admin service principal")
	})

	t.Run("Delete", func(t *testing.T) {
		must(t, w.Groups.DeleteById(ctx, groupID), "DeleteById")
		apiErr := env.expectAPIError(t, func() error { _, err := w.Groups.GetById(ctx, groupID); return err })
		expectIs(t, apiErr, databricks.ErrNotFound)
		me, err := bobClient.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "bob: Me")
		if slices.Contains(groupNames(me.Groups), "data-engineering") {
			t.Errorf("bob still in the deleted group: %v", groupNames(me.Groups))
		}
	})

	t.Run("refused", func(t *testing.T) {
		users, err := w.Groups.GetByDisplayName(ctx, "users")
		must(t, err, "GetByDisplayName users")
		cases := []struct {
			name string
			call func() error
			want error
		}{
			{"delete a built-in group", func() error { return w.Groups.DeleteById(ctx, users.Id) }, databricks.ErrBadRequest},
			{"duplicate displayName", func() error { _, err := w.Groups.Create(ctx, iam.Group{DisplayName: "admins"}); return err }, databricks.ErrResourceConflict},
			{"non-admin creates a group", func() error {
				_, err := bobClient.Groups.Create(ctx, iam.Group{DisplayName: "sneaky"})
				return err
			}, databricks.ErrPermissionDenied},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				expectIs(t, env.expectAPIError(t, tc.call), tc.want)
			})
		}
	})
}

// memberIDs returns the sorted member ids of a group.
func memberIDs(members []iam.ComplexValue) []string {
	var out []string
	for _, m := range members {
		out = append(out, m.Value)
	}
	slices.Sort(out)
	return out
}
