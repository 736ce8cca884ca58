package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
)

// TestWorkspaceObjectPermissions: notebooks, directories and files have
// permissions as Databricks answers them, inherited down the tree, which
// whoever manages the object may change (a bundle's top-level permissions
// set them on its root directory).
func TestWorkspaceObjectPermissions(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	e.NewUser(t, "ana@example.com", false)
	e.NewUser(t, "ben@example.com", false)
	e.NewUser(t, "cal@example.com", false)
	ana, ben, cal := e.Token(t, "ana@example.com", 0), e.Token(t, "ben@example.com", 0), e.Token(t, "cal@example.com", 0)
	call(t, e, ana, "POST", "/api/2.0/workspace/mkdirs", map[string]any{"path": "/Users/ana@example.com/proj/sub"})
	importNotebook(t, e, ana, "/Users/ana@example.com/proj/sub/nb", "print(1)\n")
	idOfPath := func(p string) string {
		return fmt.Sprint(idOf(t, call(t, e, ana, "GET", "/api/2.0/workspace/get-status?path="+p, nil), "object_id"))
	}
	proj, nb := idOfPath("/Users/ana@example.com/proj"), idOfPath("/Users/ana@example.com/proj/sub/nb")

	set := call(t, e, ana, "PUT", "/api/2.0/permissions/directories/"+proj, map[string]any{"access_control_list": []map[string]any{
		{"group_name": "admins", "permission_level": "CAN_MANAGE"},
		{"user_name": "ben@example.com", "permission_level": "CAN_READ"},
	}})
	if s := asJSON(set); set["object_id"] != "/directories/"+proj || set["object_type"] != "directory" || !strings.Contains(s, `"user_name":"ben@example.com"`) {
		t.Fatalf("PUT: %s", s)
	}
	// The notebook inherits the directory's grant.
	got := asJSON(call(t, e, ana, "GET", "/api/2.0/permissions/notebooks/"+nb, nil))
	if !strings.Contains(got, `{"all_permissions":[{"inherited":true,"inherited_from_object":["/directories/`+proj+`"],"permission_level":"CAN_READ"}],"user_name":"ben@example.com"}`) ||
		!strings.Contains(got, `"object_type":"notebook"`) {
		t.Fatalf("notebook permissions: %s", got)
	}
	call(t, e, ana, "PATCH", "/api/2.0/permissions/notebooks/"+nb, map[string]any{"access_control_list": []map[string]any{
		{"group_name": "users", "permission_level": "CAN_RUN"},
	}})
	if got := asJSON(call(t, e, admin, "GET", "/api/2.0/permissions/notebooks/"+nb, nil)); !strings.Contains(got, `{"all_permissions":[{"inherited":false,"permission_level":"CAN_RUN"}],"group_name":"users"}`) {
		t.Fatalf("after PATCH: %s", got)
	}
	if lv := asJSON(call(t, e, ana, "GET", "/api/2.0/permissions/directories/"+proj+"/permissionLevels", nil)); !strings.Contains(lv, "CAN_EDIT") {
		t.Errorf("levels: %s", lv)
	}
	// Grants add to the path rules: ben reads ana's project now (CAN_READ
	// on its directory), but may not write there until CAN_EDIT.
	nbPath := "/Users/ana@example.com/proj/sub/nb"
	importBody := func(name string) map[string]any {
		return map[string]any{"path": "/Users/ana@example.com/proj/" + name, "format": "SOURCE", "language": "PYTHON", "content": b64("print(2)\n")}
	}
	checkStatuses(t, e, []statusCase{
		{"CAN_READ opens export", ben, "GET", "/api/2.0/workspace/export?path=" + nbPath, "", 200},
		{"CAN_READ opens get-status", ben, "GET", "/api/2.0/workspace/get-status?path=" + nbPath, "", 200},
		{"CAN_READ opens list", ben, "GET", "/api/2.0/workspace/list?path=/Users/ana@example.com/proj", "", 200},
		{"CAN_READ is not CAN_EDIT", ben, "POST", "/api/2.0/workspace/import", asJSON(importBody("bens")), 403},
		{"nor CAN_MANAGE", ben, "POST", "/api/2.0/workspace/delete", `{"path": "` + nbPath + `"}`, 403},
		{"outside the grant stays closed", ben, "GET", "/api/2.0/workspace/list?path=/Users/ana@example.com", "", 403},
	})
	call(t, e, ana, "PATCH", "/api/2.0/permissions/directories/"+proj, map[string]any{"access_control_list": []map[string]any{
		{"user_name": "ben@example.com", "permission_level": "CAN_EDIT"},
	}})
	checkStatuses(t, e, []statusCase{
		{"CAN_EDIT opens import below", ben, "POST", "/api/2.0/workspace/import", asJSON(importBody("bens")), 200},
		{"CAN_EDIT opens mkdirs below", ben, "POST", "/api/2.0/workspace/mkdirs", `{"path": "/Users/ana@example.com/proj/new"}`, 200},
		{"CAN_EDIT is not CAN_MANAGE", ben, "POST", "/api/2.0/workspace/delete", `{"path": "` + nbPath + `"}`, 403},
	})

	checkStatuses(t, e, []statusCase{
		{"another user's home does not exist for cal", cal, "GET", "/api/2.0/permissions/directories/" + proj, "", 404},
		{"nor may he change it", cal, "PUT", "/api/2.0/permissions/directories/" + proj, `{"access_control_list": []}`, 404},
		{"nor may an editor", ben, "PUT", "/api/2.0/permissions/directories/" + proj, `{"access_control_list": []}`, 403},
		{"the type must match", ana, "GET", "/api/2.0/permissions/notebooks/" + proj, "", 404},
		{"a missing object", ana, "GET", "/api/2.0/permissions/files/12345", "", 404},
		{"a bad id", ana, "GET", "/api/2.0/permissions/files/x", "", 400},
		{"a job level", ana, "PUT", "/api/2.0/permissions/notebooks/" + nb, `{"access_control_list": [{"user_name": "ben@example.com", "permission_level": "CAN_VIEW"}]}`, 400},
		{"an unknown grantee", ana, "PUT", "/api/2.0/permissions/notebooks/" + nb, `{"access_control_list": [{"group_name": "nobody", "permission_level": "CAN_READ"}]}`, 400},
		{"admins keep CAN_MANAGE", ana, "PUT", "/api/2.0/permissions/notebooks/" + nb, `{"access_control_list": [{"group_name": "admins", "permission_level": "CAN_READ"}]}`, 400},
		{"the root is a directory", admin, "GET", "/api/2.0/permissions/directories/0", "", 200},
	})
}
