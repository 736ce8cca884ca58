package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
)

// TestClusterPermissions: CAN_ATTACH_TO lets a principal run on a cluster,
// CAN_RESTART also starts and restarts it, CAN_MANAGE also edits and
// terminates it and grants; its creator and the admins manage it.
func TestClusterPermissions(t *testing.T) {
	e, admin := jobsEnv(t)
	e.NewUser(t, "ana@example.com", false)
	e.NewUser(t, "ben@example.com", false)
	ana, ben := e.Token(t, "ana@example.com", 0), e.Token(t, "ben@example.com", 0)
	id := createCluster(t, e, admin, smallCluster)
	path := "/api/2.0/permissions/clusters/" + id
	waitState := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if call(t, e, admin, "GET", "/api/2.1/clusters/get?cluster_id="+id, nil)["state"] == want {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("cluster never reached %s", want)
	}
	waitState("RUNNING")

	got := asJSON(call(t, e, ana, "GET", path, nil)) // every user sees every cluster
	if !strings.Contains(got, `{"all_permissions":[{"inherited":false,"permission_level":"CAN_MANAGE"}],"user_name":"`+kilntest.AdminEmail+`"}`) {
		t.Fatalf("permissions: %s", got)
	}
	if !strings.Contains(got, `"object_type":"cluster"`) || !strings.Contains(got, `"inherited_from_object":["/clusters/"]`) {
		t.Fatalf("permissions: %s", got)
	}
	call(t, e, admin, "PUT", path, map[string]any{"access_control_list": []map[string]any{
		{"user_name": "ana@example.com", "permission_level": "CAN_RESTART"},
		{"user_name": "ben@example.com", "permission_level": "CAN_ATTACH_TO"},
	}})
	if lv := asJSON(call(t, e, ben, "GET", path+"/permissionLevels", nil)); !strings.Contains(lv, "CAN_ATTACH_TO") || !strings.Contains(lv, "CAN_RESTART") {
		t.Errorf("levels: %s", lv)
	}
	clusterBody := fmt.Sprintf(`{"cluster_id": %q}`, id)
	checkStatuses(t, e, []statusCase{
		{"attach may not restart", ben, "POST", "/api/2.1/clusters/restart", clusterBody, 403},
		{"restart may restart", ana, "POST", "/api/2.1/clusters/restart", clusterBody, 200},
		{"restart may not terminate", ana, "POST", "/api/2.1/clusters/delete", clusterBody, 403},
		{"restart may not grant", ana, "PATCH", path, `{"access_control_list": [{"user_name": "ben@example.com", "permission_level": "CAN_MANAGE"}]}`, 403},
		{"a job level is not a cluster level", admin, "PUT", path, `{"access_control_list": [{"user_name": "ben@example.com", "permission_level": "CAN_VIEW"}]}`, 400},
		{"a missing cluster", admin, "GET", "/api/2.0/permissions/clusters/0000-000000-nothere0", "", 400},
		{"the local cluster is fixed", admin, "PUT", "/api/2.0/permissions/clusters/kiln-local", `{"access_control_list": []}`, 400},
		{"kiln has no instance pools", admin, "GET", "/api/2.0/permissions/instance-pools/0101-pool", "", 404},
		{"nor cluster policies", admin, "PUT", "/api/2.0/permissions/cluster-policies/ABC123", `{"access_control_list": []}`, 404},
	})
	// Running on the cluster needs CAN_ATTACH_TO: ben has it, a stranger
	// does not.
	e.NewUser(t, "cal@example.com", false)
	cal := e.Token(t, "cal@example.com", 0)
	importNotebook(t, e, admin, "/Shared/on-cluster", "print(1)\n")
	submit := func(tok string) int {
		return e.Do(t, "POST", "/api/2.1/jobs/runs/submit", tok, map[string]any{"run_name": "c", "tasks": []map[string]any{{
			"task_key": "t", "existing_cluster_id": id, "notebook_task": map[string]any{"notebook_path": "/Shared/on-cluster"}}}}).Status
	}
	if got := submit(ben); got != 200 {
		t.Errorf("submit with CAN_ATTACH_TO: %d", got)
	}
	if got := submit(cal); got != 403 {
		t.Errorf("submit without a permission on the cluster: %d, want 403", got)
	}
}
