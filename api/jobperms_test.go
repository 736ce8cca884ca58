package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
)

// TestJobPermissions: the Permissions API on jobs answers as Databricks
// does, and every Jobs API verb enforces the levels: CAN_VIEW sees the job
// and its runs, CAN_MANAGE_RUN also starts and cancels runs, CAN_MANAGE
// also edits, deletes and changes permissions; with nothing the job does
// not exist.
func TestJobPermissions(t *testing.T) {
	e, admin := jobsEnv(t)
	owner := e.NewUser(t, "owner@example.com", false)
	for _, u := range []string{"viewer@example.com", "runner@example.com", "manager@example.com", "stranger@example.com", "grouped@example.com"} {
		e.NewUser(t, u, false)
	}
	grouped, _ := e.Svc().PrincipalByName(kilntest.Offline(), "grouped@example.com")
	if _, err := e.Svc().CreateGroup(kilntest.Offline(), "analysts", []int64{grouped.ID}); err != nil {
		t.Fatal(err)
	}
	tok := map[string]string{}
	for _, u := range []string{owner.UserName, "viewer@example.com", "runner@example.com", "manager@example.com", "stranger@example.com", "grouped@example.com"} {
		tok[u] = e.Token(t, u, 0)
	}
	importNotebook(t, e, tok[owner.UserName], "/Users/owner@example.com/nb", "print('hi')\n")
	job := call(t, e, tok[owner.UserName], "POST", "/api/2.1/jobs/create", map[string]any{
		"name": "perms", "tasks": []map[string]any{{"task_key": "t", "notebook_task": map[string]any{"notebook_path": "/Users/owner@example.com/nb"}}},
	})
	id := idOf(t, job, "job_id")
	path := fmt.Sprintf("/api/2.0/permissions/jobs/%d", id)

	// Before any grant: the owner and the admins, as Databricks lists them.
	got := call(t, e, tok[owner.UserName], "GET", path, nil)
	if s := asJSON(got); got["object_id"] != fmt.Sprintf("/jobs/%d", id) || got["object_type"] != "job" ||
		!strings.Contains(s, `{"all_permissions":[{"inherited":false,"permission_level":"IS_OWNER"}],"user_name":"owner@example.com"}`) ||
		!strings.Contains(s, `{"all_permissions":[{"inherited":true,"inherited_from_object":["/jobs/"],"permission_level":"CAN_MANAGE"}],"group_name":"admins"}`) {
		t.Fatalf("permissions: %s", s)
	}
	// PUT as Terraform sends it: the owner and admins included.
	set := call(t, e, tok[owner.UserName], "PUT", path, map[string]any{"access_control_list": []map[string]any{
		{"user_name": "owner@example.com", "permission_level": "IS_OWNER"},
		{"group_name": "admins", "permission_level": "CAN_MANAGE"},
		{"user_name": "viewer@example.com", "permission_level": "CAN_VIEW"},
		{"user_name": "runner@example.com", "permission_level": "CAN_MANAGE_RUN"},
	}})
	if s := asJSON(set); !strings.Contains(s, `"user_name":"viewer@example.com"`) || !strings.Contains(s, `"user_name":"runner@example.com"`) {
		t.Fatalf("after PUT: %s", s)
	}
	// PATCH merges.
	call(t, e, tok[owner.UserName], "PATCH", path, map[string]any{"access_control_list": []map[string]any{
		{"user_name": "manager@example.com", "permission_level": "CAN_MANAGE"},
		{"group_name": "analysts", "permission_level": "CAN_VIEW"},
	}})
	if s := asJSON(call(t, e, admin, "GET", path, nil)); !strings.Contains(s, "viewer@example.com") || !strings.Contains(s, "manager@example.com") || !strings.Contains(s, `"group_name":"analysts"`) {
		t.Fatalf("after PATCH: %s", s)
	}
	levels := asJSON(call(t, e, tok["viewer@example.com"], "GET", path+"/permissionLevels", nil))
	for _, l := range []string{"CAN_VIEW", "CAN_MANAGE_RUN", "IS_OWNER", "CAN_MANAGE"} {
		if !strings.Contains(levels, l) {
			t.Errorf("permissionLevels lacks %s: %s", l, levels)
		}
	}

	run := call(t, e, tok["runner@example.com"], "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": id})
	runID := idOf(t, run, "run_id")
	body := func(extra string) string { return fmt.Sprintf(`{"job_id": %d%s}`, id, extra) }
	cases := []struct {
		who, method, path, body string
		want                    int
	}{
		{"viewer@example.com", "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", id), "", 200},
		{"grouped@example.com", "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", id), "", 200},
		{"stranger@example.com", "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", id), "", 400},
		{"viewer@example.com", "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID), "", 200},
		{"stranger@example.com", "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID), "", 400},
		{"viewer@example.com", "POST", "/api/2.1/jobs/run-now", body(""), 403},
		{"viewer@example.com", "POST", "/api/2.1/jobs/runs/cancel", fmt.Sprintf(`{"run_id": %d}`, runID), 403},
		{"viewer@example.com", "POST", "/api/2.1/jobs/update", body(`, "new_settings": {"name": "x"}`), 403},
		{"runner@example.com", "POST", "/api/2.1/jobs/update", body(`, "new_settings": {"name": "x"}`), 403},
		{"runner@example.com", "PUT", path, `{"access_control_list": []}`, 403},
		{"viewer@example.com", "GET", path, "", 200},
		{"stranger@example.com", "GET", path, "", 400},
		{"manager@example.com", "POST", "/api/2.1/jobs/update", body(`, "new_settings": {"name": "renamed"}`), 200},
		{"runner@example.com", "POST", "/api/2.1/jobs/runs/cancel-all", body(""), 200},
		// Invalid requests are 400s, never 500s.
		{"manager@example.com", "PUT", path, `{"access_control_list": [{"user_name": "viewer@example.com", "permission_level": "CAN_USE"}]}`, 400},
		{"manager@example.com", "PUT", path, `{"access_control_list": [{"user_name": "nobody@example.com", "permission_level": "CAN_VIEW"}]}`, 400},
		{"manager@example.com", "PUT", path, `{"access_control_list": [{"user_name": "viewer@example.com", "permission_level": "IS_OWNER"}]}`, 400},
		{"manager@example.com", "PUT", path, `{"access_control_list": [{"user_name": "viewer@example.com", "group_name": "analysts", "permission_level": "CAN_VIEW"}]}`, 400},
		{"manager@example.com", "PATCH", path, `{}`, 400},
		{"manager@example.com", "GET", "/api/2.0/permissions/jobs/abc", "", 400},
	}
	for _, c := range cases {
		t.Run(c.who+" "+c.method+" "+c.path, func(t *testing.T) {
			var b any
			if c.body != "" {
				b = c.body
			}
			r := e.Do(t, c.method, c.path, tok[c.who], b)
			if r.Status != c.want {
				t.Fatalf("status %d, want %d: %s", r.Status, c.want, r.Body)
			}
		})
	}

	// Lists: a viewer lists the job and, by job id, its runs (run by the
	// owner); a stranger sees neither.
	for who, want := range map[string]bool{"viewer@example.com": true, "grouped@example.com": true, "stranger@example.com": false} {
		jobs := asJSON(call(t, e, tok[who], "GET", "/api/2.1/jobs/list", nil))
		runs := asJSON(call(t, e, tok[who], "GET", fmt.Sprintf("/api/2.1/jobs/runs/list?job_id=%d", id), nil))
		if strings.Contains(jobs, `"renamed"`) != want || strings.Contains(runs, fmt.Sprint(runID)) != want {
			t.Errorf("%s: jobs/list %s, runs/list %s; want visible %v", who, jobs, runs, want)
		}
	}
	// The run ran as the owner, not as the user who started it.
	pollRun(t, e, admin, "2.1", runID, 60*time.Second)
	if r := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get?run_id=%d", runID), nil); r["creator_user_name"] != "owner@example.com" {
		t.Errorf("creator_user_name %v, want the owner", r["creator_user_name"])
	}
	// Deleting a grantee drops its grants; deleting the job drops them all.
	if r := e.Do(t, http.MethodPost, "/api/2.1/jobs/delete", tok["manager@example.com"], body("")); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", path, admin, nil); r.Status != 400 {
		t.Errorf("permissions of a deleted job: %d %s", r.Status, r.Body)
	}
}

// TestJobRunAs: a job's runs run as its run_as principal, which admins may
// set to anyone active and others only to themselves.
func TestJobRunAs(t *testing.T) {
	e, admin := jobsEnv(t)
	e.NewUser(t, "ana@example.com", false)
	e.NewUser(t, "ben@example.com", false)
	ben := e.Token(t, "ben@example.com", 0)
	importNotebook(t, e, admin, "/Shared/whoami", "import os\ndbutils.notebook.exit('ran')\n")
	job := func(tok string, runAs any) (int, map[string]any) {
		body := map[string]any{"name": "as", "tasks": []map[string]any{{"task_key": "t", "notebook_task": map[string]any{"notebook_path": "/Shared/whoami"}}}}
		if runAs != nil {
			body["run_as"] = runAs
		}
		r := e.Do(t, "POST", "/api/2.1/jobs/create", tok, body)
		if r.Status != 200 {
			return r.Status, nil
		}
		return r.Status, r.JSON(t)
	}
	_, j := job(admin, map[string]any{"user_name": "ana@example.com"})
	id := idOf(t, j, "job_id")
	if got := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/get?job_id=%d", id), nil); got["run_as_user_name"] != "ana@example.com" || got["creator_user_name"] != kilntest.AdminEmail {
		t.Errorf("jobs/get: run_as_user_name %v, creator_user_name %v", got["run_as_user_name"], got["creator_user_name"])
	}
	runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": id}), "run_id")
	run := pollRun(t, e, admin, "2.1", runID, 60*time.Second)
	if run["creator_user_name"] != "ana@example.com" || stateOf(run) != "TERMINATED/SUCCESS" {
		t.Errorf("run: creator_user_name %v, state %s", run["creator_user_name"], stateOf(run))
	}
	for _, c := range []struct {
		name  string
		tok   string
		runAs any
		want  int
	}{
		{"a user names himself", ben, map[string]any{"user_name": "ben@example.com"}, 200},
		{"a user may not name another", ben, map[string]any{"user_name": "ana@example.com"}, 403},
		{"an unknown principal", admin, map[string]any{"user_name": "nobody@example.com"}, 400},
		{"both kinds at once", admin, map[string]any{"user_name": "ana@example.com", "service_principal_name": "x"}, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, _ := job(c.tok, c.runAs); got != c.want {
				t.Errorf("status %d, want %d", got, c.want)
			}
		})
	}
}

// TestJobRunAsServicePrincipal: a job that runs as a service principal
// reads the secrets that principal may read, and only those: not its
// creator's (an admin's), so run_as lends no rights of the writer.
func TestJobRunAsServicePrincipal(t *testing.T) {
	e, admin := jobsEnv(t)
	_, appID := newServicePrincipal(t, e, admin, "etl-bot")
	for scope, value := range map[string]string{"bot": "bot-secret-value", "admins-only": "admin-secret-value"} {
		call(t, e, admin, "POST", "/api/2.0/secrets/scopes/create", map[string]any{"scope": scope})
		call(t, e, admin, "POST", "/api/2.0/secrets/put", map[string]any{"scope": scope, "key": "k", "string_value": value})
	}
	call(t, e, admin, "POST", "/api/2.0/secrets/acls/put", map[string]any{"scope": "bot", "principal": appID, "permission": "READ"})
	for _, c := range []struct {
		scope   string
		want    string
		outcome string
	}{
		{"bot", "TERMINATED/SUCCESS", "16"},
		{"admins-only", "TERMINATED/FAILED", ""},
	} {
		t.Run(c.scope, func(t *testing.T) {
			path := "/Shared/read-" + c.scope
			importNotebook(t, e, admin, path, fmt.Sprintf("dbutils.notebook.exit(str(len(dbutils.secrets.get(%q, \"k\"))))\n", c.scope))
			job := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/create", map[string]any{"name": "as-bot-" + c.scope,
				"run_as": map[string]any{"service_principal_name": appID},
				"tasks":  []map[string]any{{"task_key": "read", "notebook_task": map[string]any{"notebook_path": path}}}}), "job_id")
			runID := idOf(t, call(t, e, admin, "POST", "/api/2.1/jobs/run-now", map[string]any{"job_id": job}), "run_id")
			run := pollRun(t, e, admin, "2.1", runID, 60*time.Second)
			if run["creator_user_name"] != appID || stateOf(run) != c.want {
				t.Fatalf("run: creator_user_name %v, state %s; want %s, %s", run["creator_user_name"], stateOf(run), appID, c.want)
			}
			out := call(t, e, admin, "GET", fmt.Sprintf("/api/2.1/jobs/runs/get-output?run_id=%d", idOf(t, tasksOf(t, run)[0], "run_id")), nil)
			if strings.Contains(asJSON(out), "secret-value") {
				t.Errorf("a secret's value in the output: %s", asJSON(out))
			}
			if c.outcome != "" {
				if nb, _ := out["notebook_output"].(map[string]any); nb["result"] != c.outcome {
					t.Errorf("notebook_output %v; want %s", out["notebook_output"], c.outcome)
				}
			} else if !strings.Contains(asJSON(out), "admins-only") {
				t.Errorf("the refusal does not name the scope: %s", asJSON(out))
			}
		})
	}
}
