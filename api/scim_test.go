package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
)

const scim = "/api/2.0/preview/scim/v2/"

type listResponse struct {
	TotalResults int              `json:"totalResults"`
	StartIndex   int              `json:"startIndex"`
	ItemsPerPage int              `json:"itemsPerPage"`
	Resources    []map[string]any `json:"Resources"`
}

func scimList(t *testing.T, e *kilntest.Env, tok, path string) listResponse {
	t.Helper()
	r := e.Do(t, "GET", path, tok, nil)
	if r.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	var l listResponse
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSCIMUsersPagingAndFilter(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	for i := range 4 {
		r := e.Do(t, "POST", scim+"Users", admin, map[string]any{"userName": fmt.Sprintf("u%d@example.com", i), "displayName": fmt.Sprintf("User %d", i)})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
	}
	all := scimList(t, e, admin, scim+"Users")
	if all.TotalResults != 5 || len(all.Resources) != 5 || all.StartIndex != 1 {
		t.Fatalf("list all: %+v", all)
	}
	// The SDK's paging: startIndex advances by the page length until empty.
	seen := map[string]bool{}
	for start := 1; ; {
		page := scimList(t, e, admin, fmt.Sprintf("%sUsers?startIndex=%d&count=2", scim, start))
		if page.StartIndex != start {
			t.Fatalf("startIndex not echoed: got %d, want %d", page.StartIndex, start)
		}
		if len(page.Resources) == 0 {
			break
		}
		for _, u := range page.Resources {
			if seen[u["id"].(string)] {
				t.Fatalf("user %v on two pages", u["userName"])
			}
			seen[u["id"].(string)] = true
		}
		start += len(page.Resources)
		if start > 20 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d users, want 5", len(seen))
	}
	past := scimList(t, e, admin, scim+"Users?startIndex=100")
	if past.Resources == nil || len(past.Resources) != 0 || past.TotalResults != 5 {
		t.Fatalf("past the end: %+v", past)
	}
	f := scimList(t, e, admin, scim+"Users?filter="+url.QueryEscape(`userName eq "U2@EXAMPLE.COM"`))
	if len(f.Resources) != 1 || f.Resources[0]["userName"] != "u2@example.com" {
		t.Fatalf("filter userName: %+v", f)
	}
	f = scimList(t, e, admin, scim+"Users?filter="+url.QueryEscape(`displayName eq "User 3"`))
	if len(f.Resources) != 1 || f.Resources[0]["displayName"] != "User 3" {
		t.Fatalf("filter displayName: %+v", f)
	}
	for _, tt := range []struct {
		filter string
		want   int
	}{
		{`userName co "EXAMPLE"`, 5}, {`userName sw "u"`, 4}, {`userName ne "u1@example.com"`, 4},
		{`displayName sw "user "`, 4}, {`displayName co "3"`, 1},
	} {
		l := scimList(t, e, admin, scim+"Users?count=2&filter="+url.QueryEscape(tt.filter))
		if l.TotalResults != tt.want || len(l.Resources) != min(2, tt.want) {
			t.Fatalf("filter %s: total %d, page %d; want total %d", tt.filter, l.TotalResults, len(l.Resources), tt.want)
		}
	}
	r := e.Do(t, "GET", scim+"Users?filter="+url.QueryEscape(`userName like "u"`), admin, nil)
	if r.Status != 400 || !strings.Contains(string(r.Body), "Invalid filter") || !strings.Contains(string(r.Body), "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Fatalf("bad filter: %d %s", r.Status, r.Body)
	}
	ex := e.Do(t, "GET", scim+"Me?excludedAttributes=entitlements,groups", admin, nil).JSON(t)
	if _, ok := ex["entitlements"]; ok || ex["userName"] == nil {
		t.Fatalf("excludedAttributes: %v", ex)
	}
}

// TestSCIMFilterEmptyValue compares every attribute with every operator
// against the empty string: eq matches only empty values (no identity has
// an empty name, so none), while ne, co and sw hold for every non-empty
// value, as string comparison says.
func TestSCIMFilterEmptyValue(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	for i := range 2 {
		if r := e.Do(t, "POST", scim+"Users", admin, map[string]any{"userName": fmt.Sprintf("e%d@example.com", i), "displayName": fmt.Sprintf("E %d", i)}); r.Status != 201 {
			t.Fatalf("create user: %d %s", r.Status, r.Body)
		}
	}
	if r := e.Do(t, "POST", scim+"ServicePrincipals", admin, map[string]any{"displayName": "etl"}); r.Status != 201 {
		t.Fatalf("create SP: %d %s", r.Status, r.Body)
	}
	users := scimList(t, e, admin, scim+"Users").TotalResults
	groups := scimList(t, e, admin, scim+"Groups").TotalResults
	if users != 3 || groups < 2 {
		t.Fatalf("setup: %d users, %d groups", users, groups)
	}
	for _, c := range []struct {
		resource, attr string
		all            int
	}{
		{"Users", "userName", users}, {"Users", "displayName", users},
		{"Groups", "displayName", groups},
		{"ServicePrincipals", "applicationId", 1}, {"ServicePrincipals", "displayName", 1},
	} {
		for _, op := range []struct {
			name string
			want int
		}{{"eq", 0}, {"EQ", 0}, {"ne", c.all}, {"co", c.all}, {"sw", c.all}} {
			filter := c.attr + " " + op.name + ` ""`
			t.Run(c.resource+"/"+filter, func(t *testing.T) {
				l := scimList(t, e, admin, scim+c.resource+"?filter="+url.QueryEscape(filter))
				if l.TotalResults != op.want || len(l.Resources) != op.want {
					t.Fatalf("total %d, %d resources; want %d", l.TotalResults, len(l.Resources), op.want)
				}
			})
		}
	}
}

func TestSCIMUserLifecycle(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	r := e.Do(t, "POST", scim+"Users", admin, map[string]any{"userName": "jane@example.com", "name": map[string]string{"givenName": "Jane", "familyName": "Doe"}})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	jane := r.JSON(t)
	id := jane["id"].(string)
	if jane["displayName"] != "Jane Doe" || !strings.Contains(string(r.Body), `"display":"users"`) {
		t.Fatalf("created user: %s", r.Body)
	}
	wantSCIM := func(r kilntest.Response, status int) {
		t.Helper()
		if r.Status != status || !strings.Contains(string(r.Body), "urn:ietf:params:scim:api:messages:2.0:Error") {
			t.Fatalf("got %d %s, want a %d SCIM error", r.Status, r.Body, status)
		}
	}
	wantSCIM(e.Do(t, "POST", scim+"Users", admin, map[string]any{"userName": "JANE@example.com"}), 409)
	wantSCIM(e.Do(t, "POST", scim+"Users", admin, map[string]any{"userName": "not-an-email"}), 400)
	wantSCIM(e.Do(t, "GET", scim+"Users/123", admin, nil), 404)
	wantSCIM(e.Do(t, "GET", scim+"Users/abc", admin, nil), 404)
	wantSCIM(e.Do(t, "PATCH", scim+"Users/"+id, admin, nil), 400)
	wantSCIM(e.Do(t, "PATCH", scim+"Users/"+id, admin, `{"Operations": [{"op": "explode", "path": "active"}]}`), 400)

	tok := e.Token(t, "jane@example.com", 0)
	if r := e.Do(t, "GET", scim+"Me", tok, nil); r.Status != 200 {
		t.Fatalf("jane's token: %d", r.Status)
	}
	// Deactivate: her token stops working at once.
	r = e.Do(t, "PATCH", scim+"Users/"+id, admin, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
	if r.Status != 200 || r.JSON(t)["active"] != false {
		t.Fatalf("deactivate: %d %s", r.Status, r.Body)
	}
	wantError(t, e.Do(t, "GET", scim+"Me", tok, nil), 403, "PERMISSION_DENIED", invalidToken)
	// Reactivate (Python style boolean string), then make her admin via groups.
	e.Do(t, "PATCH", scim+"Users/"+id, admin, `{"Operations":[{"op":"replace","value":{"active":"True"}}]}`)
	if r := e.Do(t, "GET", scim+"Me", tok, nil); r.Status != 200 {
		t.Fatalf("reactivated: %d %s", r.Status, r.Body)
	}
	admins := scimList(t, e, admin, scim+"Groups?filter="+url.QueryEscape(`displayName eq "admins"`)).Resources[0]["id"].(string)
	r = e.Do(t, "PATCH", scim+"Groups/"+admins, admin, fmt.Sprintf(`{"Operations":[{"op":"add","path":"members","value":[{"value":"%s"}]}]}`, id))
	if r.Status != 200 {
		t.Fatalf("add to admins: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/api/2.0/token-management/tokens", tok, nil); r.Status != 200 {
		t.Fatalf("jane as admin: %d %s", r.Status, r.Body)
	}
	if me := e.Do(t, "GET", scim+"Me", tok, nil); !strings.Contains(string(me.Body), `"display":"admins"`) {
		t.Fatalf("/Me does not show the new group: %s", me.Body)
	}
	r = e.Do(t, "PATCH", scim+"Groups/"+admins, admin, fmt.Sprintf(`{"Operations":[{"op":"remove","path":"members[value eq \"%s\"]"}]}`, id))
	if r.Status != 200 || strings.Contains(string(r.Body), id) {
		t.Fatalf("remove from admins: %d %s", r.Status, r.Body)
	}
	wantError(t, e.Do(t, "GET", "/api/2.0/token-management/tokens", tok, nil), 403, "PERMISSION_DENIED", "")
	if me := e.Do(t, "GET", scim+"Me", tok, nil); strings.Contains(string(me.Body), `"display":"admins"`) {
		t.Fatalf("/Me still shows a group she left: %s", me.Body)
	}

	// The last admin cannot be removed or deactivated.
	me := e.Do(t, "GET", scim+"Me", admin, nil).JSON(t)["id"].(string)
	wantSCIM(e.Do(t, "PATCH", scim+"Users/"+me, admin, `{"Operations":[{"op":"replace","path":"active","value":false}]}`), 400)
	wantSCIM(e.Do(t, "DELETE", scim+"Users/"+me, admin, nil), 400)

	// Delete: her tokens go with her.
	if r := e.Do(t, "DELETE", scim+"Users/"+id, admin, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	wantError(t, e.Do(t, "GET", scim+"Me", tok, nil), 403, "PERMISSION_DENIED", invalidToken)
	wantSCIM(e.Do(t, "GET", scim+"Users/"+id, admin, nil), 404)
}

func TestSCIMGroupsAndServicePrincipals(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	r := e.Do(t, "POST", scim+"ServicePrincipals", admin, map[string]any{"displayName": "etl"})
	if r.Status != 201 {
		t.Fatalf("create SP: %d %s", r.Status, r.Body)
	}
	sp := r.JSON(t)
	appID, spID := sp["applicationId"].(string), sp["id"].(string)
	if len(appID) != 36 {
		t.Fatalf("applicationId %q is not a UUID", appID)
	}
	f := scimList(t, e, admin, scim+"ServicePrincipals?filter="+url.QueryEscape(`applicationId eq "`+appID+`"`))
	if len(f.Resources) != 1 {
		t.Fatalf("filter by applicationId: %+v", f)
	}
	// On-behalf-of token for the SP, which then acts as the SP.
	r = e.Do(t, "POST", "/api/2.0/token-management/on-behalf-of/tokens", admin, map[string]any{"application_id": appID, "comment": "sp token", "lifetime_seconds": 3600})
	if r.Status != 200 {
		t.Fatalf("OBO: %d %s", r.Status, r.Body)
	}
	obo := r.JSON(t)
	info := obo["token_info"].(map[string]any)
	if fmt.Sprint(int64(info["owner_id"].(float64))) != spID || info["created_by_username"] != kilntest.AdminEmail {
		t.Fatalf("OBO token info: %v", info)
	}
	me := e.Do(t, "GET", scim+"Me", obo["token_value"].(string), nil).JSON(t)
	if me["applicationId"] != appID {
		t.Fatalf("OBO token acts as %v, want the SP", me)
	}

	r = e.Do(t, "POST", scim+"Groups", admin, map[string]any{"displayName": "data-eng", "members": []map[string]string{{"value": spID}}})
	if r.Status != 201 || !strings.Contains(string(r.Body), "ServicePrincipals/"+spID) {
		t.Fatalf("create group: %d %s", r.Status, r.Body)
	}
	gid := r.JSON(t)["id"].(string)
	if r := e.Do(t, "POST", scim+"Groups", admin, map[string]any{"displayName": "data-eng"}); r.Status != 409 {
		t.Fatalf("duplicate group: %d %s", r.Status, r.Body)
	}
	users := scimList(t, e, admin, scim+"Groups?filter="+url.QueryEscape(`displayName eq "users"`)).Resources[0]["id"].(string)
	if r := e.Do(t, "DELETE", scim+"Groups/"+users, admin, nil); r.Status != 400 {
		t.Fatalf("deleting a built-in group: %d %s", r.Status, r.Body)
	}
	r = e.Do(t, "PUT", scim+"Groups/"+gid, admin, map[string]any{"displayName": "data-engineering", "members": []any{}})
	if r.Status != 200 || r.JSON(t)["displayName"] != "data-engineering" || strings.Contains(string(r.Body), spID) {
		t.Fatalf("replace group: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "DELETE", scim+"Groups/"+gid, admin, nil); r.Status != 204 {
		t.Fatalf("delete group: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "DELETE", scim+"ServicePrincipals/"+spID, admin, nil); r.Status != 204 {
		t.Fatalf("delete SP: %d %s", r.Status, r.Body)
	}
	// A user id is not a service principal id.
	meID := e.Do(t, "GET", scim+"Me", admin, nil).JSON(t)["id"].(string)
	if r := e.Do(t, "GET", scim+"ServicePrincipals/"+meID, admin, nil); r.Status != 404 {
		t.Fatalf("user fetched as SP: %d %s", r.Status, r.Body)
	}
}

func TestPermissionsFollowRenamesAndDeletes(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	gid := e.Do(t, "POST", scim+"Groups", admin, map[string]any{"displayName": "etl"}).JSON(t)["id"].(string)
	uid := e.Do(t, "POST", scim+"Users", admin, map[string]any{"userName": "gone@example.com"}).JSON(t)["id"].(string)
	r := e.Do(t, "PATCH", "/api/2.0/permissions/authorization/tokens", admin, map[string]any{"access_control_list": []map[string]string{
		{"group_name": "etl", "permission_level": "CAN_USE"}, {"user_name": "gone@example.com", "permission_level": "CAN_USE"},
	}})
	if r.Status != 200 {
		t.Fatalf("grant: %d %s", r.Status, r.Body)
	}
	e.Do(t, "PATCH", scim+"Groups/"+gid, admin, `{"Operations":[{"op":"replace","path":"displayName","value":"etl-team"}]}`)
	e.Do(t, "DELETE", scim+"Users/"+uid, admin, nil)
	perms := string(e.Do(t, "GET", "/api/2.0/permissions/authorization/tokens", admin, nil).Body)
	if !strings.Contains(perms, `"group_name":"etl-team"`) || strings.Contains(perms, `"etl"`) || strings.Contains(perms, "gone@example.com") {
		t.Fatalf("permissions after rename and delete: %s", perms)
	}
	e.Do(t, "DELETE", scim+"Groups/"+gid, admin, nil)
	if perms := string(e.Do(t, "GET", "/api/2.0/permissions/authorization/tokens", admin, nil).Body); strings.Contains(perms, "etl-team") {
		t.Fatalf("a deleted group keeps its grant: %s", perms)
	}
}

// TestSCIMContentType: SCIM bodies sent as application/scim+json (as
// Terraform sends every SCIM call) are accepted, here and on other JSON
// endpoints, and SCIM answers, errors included, are typed
// application/scim+json as on Databricks; other answers stay JSON.
func TestSCIMContentType(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	h := func(ct string) http.Header {
		h := http.Header{"Authorization": {"Bearer " + admin}}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		return h
	}
	const scimJSON = "application/scim+json; charset=utf-8"
	for i, ct := range []string{"application/scim+json; charset=utf-8", "application/scim+json", "APPLICATION/SCIM+JSON;charset=UTF-8", "application/json"} {
		t.Run(ct, func(t *testing.T) {
			r := e.DoHeaders(t, "POST", scim+"Users", map[string]any{"userName": fmt.Sprintf("ct%d@example.com", i)}, h(ct))
			if r.Status != 201 || r.Header.Get("Content-Type") != scimJSON {
				t.Fatalf("create: %d %q %s", r.Status, r.Header.Get("Content-Type"), r.Body)
			}
			id := r.JSON(t)["id"].(string)
			r = e.DoHeaders(t, "PATCH", scim+"Users/"+id, `{"Operations":[{"op":"replace","path":"displayName","value":"CT"}]}`, h(ct))
			if r.Status != 200 || r.JSON(t)["displayName"] != "CT" {
				t.Fatalf("patch: %d %s", r.Status, r.Body)
			}
		})
	}
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		ct           string
	}{
		{"GET", scim + "Me", nil, 200, scimJSON},
		{"GET", scim + "Me?attributes=userName", nil, 200, scimJSON},
		{"GET", scim + "Users", nil, 200, scimJSON},
		{"GET", scim + "Groups?filter=" + url.QueryEscape("displayName eq 'users'"), nil, 200, scimJSON},
		{"GET", scim + "Users/404", nil, 404, scimJSON},
		{"POST", scim + "Users", map[string]any{"userName": "no-at"}, 400, scimJSON},
		{"GET", scim + "Users?filter=bad", nil, 400, scimJSON},
		// Outside SCIM the body type is the same, with scim+json accepted.
		{"PATCH", "/api/2.0/workspace-conf", map[string]any{"enableTokensConfig": "true"}, 200, "application/json; charset=utf-8"},
		{"POST", "/api/2.0/secrets/scopes/create", map[string]any{"scope": "ct"}, 200, "application/json; charset=utf-8"},
	} {
		r := e.DoHeaders(t, c.method, c.path, c.body, h("application/scim+json; charset=utf-8"))
		if r.Status != c.status || r.Header.Get("Content-Type") != c.ct {
			t.Errorf("%s %s: %d %q %s; want %d %q", c.method, c.path, r.Status, r.Header.Get("Content-Type"), r.Body, c.status, c.ct)
		}
	}
	// A type that is not JSON is still refused.
	if r := e.DoHeaders(t, "POST", scim+"Users", map[string]any{"userName": "x@example.com"}, h("application/xml")); r.Status != 400 {
		t.Fatalf("xml body: %d %s", r.Status, r.Body)
	}
}

// TestSCIMAttributesKeepIdentity: id, userName and a service principal's
// applicationId come back whatever attributes or excludedAttributes ask,
// as Terraform's re-reads need.
func TestSCIMAttributesKeepIdentity(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	sp := e.Do(t, "POST", scim+"ServicePrincipals", admin, map[string]any{"displayName": "etl"}).JSON(t)
	u := e.Do(t, "POST", scim+"Users", admin, map[string]any{"userName": "attr@example.com", "displayName": "Attr"}).JSON(t)
	const tf = "?attributes=userName,displayName,active,externalId,entitlements"
	for _, c := range []struct {
		path string
		want []string // keys present
		not  []string // keys absent
	}{
		{scim + "ServicePrincipals/" + sp["id"].(string) + tf, []string{"id", "schemas", "applicationId", "displayName", "active"}, []string{"groups"}},
		{scim + "ServicePrincipals/" + sp["id"].(string) + "?attributes=displayName", []string{"id", "applicationId", "displayName"}, []string{"active", "groups"}},
		{scim + "ServicePrincipals/" + sp["id"].(string) + "?excludedAttributes=applicationId,id,displayName", []string{"id", "applicationId"}, []string{"displayName"}},
		{scim + "Users/" + u["id"].(string) + "?attributes=displayName", []string{"id", "userName", "displayName"}, []string{"active", "emails", "name"}},
		{scim + "Users/" + u["id"].(string) + "?attributes=name.givenName", []string{"id", "userName", "name"}, []string{"displayName"}},
		{scim + "Users/" + u["id"].(string) + "?excludedAttributes=userName,emails", []string{"id", "userName"}, []string{"emails"}},
	} {
		got := e.Do(t, "GET", c.path, admin, nil).JSON(t)
		for _, k := range c.want {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: no %s in %v", c.path, k, got)
			}
		}
		for _, k := range c.not {
			if _, ok := got[k]; ok {
				t.Errorf("%s: %s kept in %v", c.path, k, got)
			}
		}
	}
	if got := e.Do(t, "GET", scim+"ServicePrincipals/"+sp["id"].(string)+tf, admin, nil).JSON(t); got["applicationId"] != sp["applicationId"] {
		t.Fatalf("applicationId %v, want %v", got["applicationId"], sp["applicationId"])
	}
	l := scimList(t, e, admin, scim+"ServicePrincipals?attributes=displayName")
	if len(l.Resources) != 1 || l.Resources[0]["applicationId"] != sp["applicationId"] {
		t.Fatalf("list with attributes: %+v", l)
	}
}

// TestSCIMFilterAndSort drives the filter grammar and sortBy through the
// list endpoints of every resource type.
func TestSCIMFilterAndSort(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	for _, u := range []string{"go-sdk-b@example.com", "go-sdk-a@example.com", "carol@example.com"} {
		if r := e.Do(t, "POST", scim+"Users", admin, map[string]any{"userName": u, "displayName": u}); r.Status != 201 {
			t.Fatalf("create %s: %d %s", u, r.Status, r.Body)
		}
	}
	for _, g := range []string{"go-sdk-g1", "go-sdk-g2"} {
		e.Do(t, "POST", scim+"Groups", admin, map[string]any{"displayName": g})
	}
	sp := e.Do(t, "POST", scim+"ServicePrincipals", admin, map[string]any{"displayName": "go-sdk-sp"}).JSON(t)
	names := func(l listResponse, attr string) string {
		var out []string
		for _, r := range l.Resources {
			out = append(out, fmt.Sprint(r[attr]))
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		query, attr, want string
		total             int
	}{
		{"Users?filter=" + url.QueryEscape(`displayName sw 'go-sdk-'`) + "&sortBy=userName", "userName", "go-sdk-a@example.com,go-sdk-b@example.com", 2},
		{"Users?filter=" + url.QueryEscape(`userName sw 'go-sdk-'`) + "&sortBy=userName&sortOrder=descending", "userName", "go-sdk-b@example.com,go-sdk-a@example.com", 2},
		{"Users?filter=" + url.QueryEscape(`userName sw "go-sdk-" and not (userName ew "b@example.com")`), "userName", "go-sdk-a@example.com", 1},
		{"Users?filter=" + url.QueryEscape(`(userName eq "carol@example.com" or userName eq 'admin@example.com') and active eq true`) + "&sortBy=userName", "userName", "admin@example.com,carol@example.com", 2},
		{"Users?sortBy=userName&count=2", "userName", "admin@example.com,carol@example.com", 4},
		{"Users?sortBy=userName&count=2&startIndex=3", "userName", "go-sdk-a@example.com,go-sdk-b@example.com", 4},
		{"Users?filter=" + url.QueryEscape(`userName eq 'CAROL@example.com'`), "userName", "carol@example.com", 1},
		{"Groups?filter=" + url.QueryEscape(`displayName sw 'go-sdk-'`) + "&sortBy=displayName&sortOrder=DESCENDING", "displayName", "go-sdk-g2,go-sdk-g1", 2},
		{"Groups?filter=" + url.QueryEscape(`displayName eq 'USERS'`), "displayName", "users", 1},
		{"ServicePrincipals?filter=" + url.QueryEscape(`displayName sw 'go-sdk-'`), "applicationId", sp["applicationId"].(string), 1},
		{"ServicePrincipals?filter=" + url.QueryEscape(`applicationId eq '`+sp["applicationId"].(string)+`'`), "displayName", "go-sdk-sp", 1},
	} {
		l := scimList(t, e, admin, scim+c.query)
		if got := names(l, c.attr); got != c.want || l.TotalResults != c.total {
			t.Errorf("%s: %s (total %d), want %s (total %d)", c.query, got, l.TotalResults, c.want, c.total)
		}
	}
	for _, c := range []struct{ query, msg string }{
		{"Users?filter=" + url.QueryEscape(`title eq "x"`), `Unsupported filter attribute \"title\" for Users`},
		{"Groups?filter=" + url.QueryEscape(`userName eq "x"`), `Unsupported filter attribute \"username\" for Groups: use id, displayName.`},
		{"ServicePrincipals?filter=" + url.QueryEscape(`userName eq "x"`), `Unsupported filter attribute \"username\" for ServicePrincipals`},
		{"Users?filter=" + url.QueryEscape(`userName eq "x`), `Invalid filter`},
		{"Users?filter=" + url.QueryEscape(`(userName pr`), `expected \")\"`},
		{"Users?sortBy=title", `Unsupported sortBy \"title\" for Users`},
		{"Users?sortBy=userName&sortOrder=up", `sortOrder must be ascending or descending`},
	} {
		r := e.Do(t, "GET", scim+c.query, admin, nil)
		if r.Status != 400 || !strings.Contains(string(r.Body), c.msg) || !strings.Contains(string(r.Body), `"status":"400"`) {
			t.Errorf("%s: %d %s; want a SCIM 400 with %s", c.query, r.Status, r.Body, c.msg)
		}
	}
}

// entitlementsOf lists the entitlement values of a SCIM resource; nil
// when the attribute is absent.
func entitlementsOf(t *testing.T, m map[string]any) []string {
	t.Helper()
	raw, ok := m["entitlements"]
	if !ok {
		return nil
	}
	var out []string
	for _, v := range raw.([]any) {
		out = append(out, v.(map[string]any)["value"].(string))
	}
	return out
}

// TestSCIMEntitlements: as on Databricks, workspace and SQL access come
// from the users and admins groups, so a principal created without
// entitlements has none of its own; entitlements given on create, PUT
// and PATCH are stored and read back, on users, service principals and
// groups.
func TestSCIMEntitlements(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	for _, name := range []string{"users", "admins"} {
		g := scimList(t, e, admin, scim+"Groups?filter="+url.QueryEscape(`displayName eq "`+name+`"`)).Resources[0]
		if got := strings.Join(entitlementsOf(t, g), ","); got != "databricks-sql-access,workspace-access" {
			t.Errorf("group %s gives %q, want databricks-sql-access,workspace-access", name, got)
		}
	}
	if me := e.Do(t, "GET", scim+"Me", admin, nil).JSON(t); entitlementsOf(t, me) != nil {
		t.Errorf("the first admin has direct entitlements: %v", me["entitlements"])
	}

	type step struct {
		method, suffix string
		body           any
		want           string // entitlements after the step, comma separated
	}
	for _, c := range []struct {
		resource string
		create   map[string]any
		steps    []step
	}{
		{"Users", map[string]any{"userName": "ent@example.com"}, nil},
		{"ServicePrincipals", map[string]any{"displayName": "ent-sp"}, nil},
		{"Groups", map[string]any{"displayName": "ent-group"}, nil},
	} {
		t.Run(c.resource, func(t *testing.T) {
			// Terraform sends [{"value": ""}] for none, and scim+json.
			plain := map[string]any{"entitlements": []map[string]string{{"value": ""}}}
			for k, v := range c.create {
				plain[k] = v
			}
			r := e.Do(t, "POST", scim+c.resource, admin, plain)
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			id := r.JSON(t)["id"].(string)
			if _, ok := r.JSON(t)["entitlements"]; ok {
				t.Fatalf("created without entitlements, answered with some: %s", r.Body)
			}
			if got := e.Do(t, "GET", scim+c.resource+"/"+id, admin, nil).JSON(t); entitlementsOf(t, got) != nil {
				t.Fatalf("read back: %v", got)
			}
			put := map[string]any{"entitlements": []map[string]string{{"value": "workspace-access"}, {"value": "allow-cluster-create"}}}
			for k, v := range c.create {
				put[k] = v
			}
			for _, s := range []step{
				{"PUT", "", put, "allow-cluster-create,workspace-access"},
				{"PATCH", "", `{"Operations":[{"op":"add","path":"entitlements","value":[{"value":"allow-instance-pool-create"},{"value":"databricks-sql-access"}]}]}`,
					"allow-cluster-create,allow-instance-pool-create,databricks-sql-access,workspace-access"},
				{"PATCH", "", `{"Operations":[{"op":"remove","path":"entitlements","value":[{"value":"workspace-access"},{"value":"workspace-consume"}]}]}`,
					"allow-cluster-create,allow-instance-pool-create,databricks-sql-access"},
				{"PATCH", "", `{"Operations":[{"op":"remove","path":"entitlements[value eq \"allow-cluster-create\"]"}]}`,
					"allow-instance-pool-create,databricks-sql-access"},
				{"PATCH", "", `{"Operations":[{"op":"replace","path":"entitlements","value":[{"value":"workspace-consume"}]}]}`, "workspace-consume"},
				{"PATCH", "", `{"Operations":[{"op":"add","value":{"entitlements":[{"value":"workspace-access"}]}}]}`, "workspace-access,workspace-consume"},
				{"PATCH", "", `{"Operations":[{"op":"remove","path":"entitlements"}]}`, ""},
			} {
				r := e.DoHeaders(t, s.method, scim+c.resource+"/"+id, s.body, http.Header{
					"Authorization": {"Bearer " + admin}, "Content-Type": {"application/scim+json; charset=utf-8"}})
				if r.Status != 200 {
					t.Fatalf("%s %v: %d %s", s.method, s.body, r.Status, r.Body)
				}
				if got := strings.Join(entitlementsOf(t, r.JSON(t)), ","); got != s.want {
					t.Fatalf("%s %v answered %q, want %q", s.method, s.body, got, s.want)
				}
				// Terraform's re-read keeps them.
				got := e.Do(t, "GET", scim+c.resource+"/"+id+"?attributes=displayName,entitlements", admin, nil).JSON(t)
				if g := strings.Join(entitlementsOf(t, got), ","); g != s.want {
					t.Fatalf("after %s %v read back %q, want %q", s.method, s.body, g, s.want)
				}
			}
			for _, bad := range []any{
				`{"Operations":[{"op":"add","path":"entitlements","value":[{"value":"be-root"}]}]}`,
				`{"Operations":[{"op":"add","path":"entitlements","value":"workspace-access"}]}`,
			} {
				r := e.Do(t, "PATCH", scim+c.resource+"/"+id, admin, bad)
				if r.Status != 400 || !strings.Contains(string(r.Body), "ntitlement") {
					t.Errorf("PATCH %v: %d %s, want a 400 about entitlements", bad, r.Status, r.Body)
				}
			}
			withEnt := map[string]any{"entitlements": []map[string]string{{"value": "allow-cluster-create"}}}
			for k, v := range c.create {
				withEnt[k] = v
			}
			withEnt["displayName"], withEnt["userName"] = "second "+c.resource, "second-"+fmt.Sprint(c.create["userName"])
			if c.resource != "Users" {
				delete(withEnt, "userName")
			}
			r = e.Do(t, "POST", scim+c.resource, admin, withEnt)
			if r.Status != 201 || strings.Join(entitlementsOf(t, r.JSON(t)), ",") != "allow-cluster-create" {
				t.Fatalf("create with entitlements: %d %s", r.Status, r.Body)
			}
		})
	}
	bad := e.Do(t, "POST", scim+"Users", admin, map[string]any{"userName": "bad-ent@example.com", "entitlements": []map[string]string{{"value": "sudo"}}})
	if bad.Status != 400 || !strings.Contains(string(bad.Body), `Unknown entitlement \"sudo\"`) {
		t.Fatalf("unknown entitlement: %d %s", bad.Status, bad.Body)
	}
}
