package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
)

const invalidToken = "Invalid access token."

// wantError checks status, error_code and (if non-empty) that the message
// contains msg.
func wantError(t *testing.T, r kilntest.Response, status int, code, msg string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status: got %d, want %d; body %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	if m["error_code"] != code {
		t.Fatalf("error_code: got %v, want %s; body %s", m["error_code"], code, r.Body)
	}
	if got, _ := m["message"].(string); msg != "" && !strings.Contains(got, msg) {
		t.Fatalf("message: got %q, want it to contain %q", got, msg)
	}
}

func TestTokenFlow(t *testing.T) {
	e := kilntest.Start(t)

	// Disabled by default: nobody can get a token.
	if _, err := e.Svc().CreateTokenFor(kilntest.Offline(), kilntest.AdminEmail, serviceParams()); !kiln.IsCode(err, kiln.EDisabled) {
		t.Fatalf("creating a token while disabled: got %v, want EDisabled", err)
	}
	admin := e.AdminToken(t) // enables tokens

	// Create with a comment and the default lifetime.
	before := time.Now()
	r := e.Do(t, "POST", "/api/2.0/token/create", admin, map[string]any{"comment": "REST API"})
	if r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var created struct {
		TokenValue string `json:"token_value"`
		TokenInfo  struct {
			TokenID      string `json:"token_id"`
			CreationTime int64  `json:"creation_time"`
			ExpiryTime   int64  `json:"expiry_time"`
			Comment      string `json:"comment"`
		} `json:"token_info"`
	}
	if err := json.Unmarshal(r.Body, &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.TokenValue, "dapi") || len(created.TokenValue) != 36 {
		t.Fatalf("token value %q does not look like dapi + 32 hex", created.TokenValue)
	}
	if got, want := created.TokenInfo.ExpiryTime-created.TokenInfo.CreationTime, int64(90*24*time.Hour/time.Millisecond); got != want {
		t.Fatalf("lifetime: got %d ms, want %d (90 days)", got, want)
	}
	if ct := time.UnixMilli(created.TokenInfo.CreationTime); ct.Before(before.Add(-time.Second)) || ct.After(time.Now().Add(time.Second)) {
		t.Fatalf("creation_time %v is not now", ct)
	}
	if created.TokenInfo.Comment != "REST API" || len(created.TokenInfo.TokenID) != 64 {
		t.Fatalf("token_info: %+v", created.TokenInfo)
	}

	// Use it.
	tok := created.TokenValue
	me := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", tok, nil)
	if me.Status != 200 || me.JSON(t)["userName"] != kilntest.AdminEmail {
		t.Fatalf("Me: %d %s", me.Status, me.Body)
	}
	if me.Header.Get("X-Databricks-Org-Id") != fmt.Sprint(e.Srv.Workspace.ID) {
		t.Fatalf("X-Databricks-Org-Id: got %q, want %d", me.Header.Get("X-Databricks-Org-Id"), e.Srv.Workspace.ID)
	}

	// List shows it, never the value.
	list := e.Do(t, "GET", "/api/2.0/token/list", tok, nil)
	if list.Status != 200 || !strings.Contains(string(list.Body), created.TokenInfo.TokenID) || strings.Contains(string(list.Body), tok) {
		t.Fatalf("list: %d %s", list.Status, list.Body)
	}

	// Revoke: refused on the very next request.
	if r := e.Do(t, "POST", "/api/2.0/token/delete", admin, map[string]string{"token_id": created.TokenInfo.TokenID}); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	wantError(t, e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", tok, nil), 403, "PERMISSION_DENIED", invalidToken)
	// Revoking again: unknown.
	wantError(t, e.Do(t, "POST", "/api/2.0/token/delete", admin, map[string]string{"token_id": created.TokenInfo.TokenID}), 404, "RESOURCE_DOES_NOT_EXIST", "does not exist")
	// And it is gone from the list.
	if list := e.Do(t, "GET", "/api/2.0/token/list", admin, nil); strings.Contains(string(list.Body), created.TokenInfo.TokenID) {
		t.Fatalf("revoked token still listed: %s", list.Body)
	}
}

func TestExpiredTokenStopsWorking(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	r := e.Do(t, "POST", "/api/2.0/token/create", admin, `{"lifetime_seconds": "2", "comment": "short"}`)
	if r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)["token_value"].(string)
	if r := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", tok, nil); r.Status != 200 {
		t.Fatalf("fresh token refused: %d %s", r.Status, r.Body)
	}
	kilntest.Eventually(t, 5*time.Second, "the token expires", func() bool {
		return e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", tok, nil).Status == 403
	})
	wantError(t, e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", tok, nil), 403, "PERMISSION_DENIED", invalidToken)
}

func TestDisablingTokens(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	other := e.Token(t, kilntest.AdminEmail, 0)
	rt := e.NewToken(t, kilntest.AdminEmail, 0)
	revoked := rt.Value
	if r := e.Do(t, "POST", "/api/2.0/token/delete", admin, map[string]string{"token_id": rt.Info.ID}); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}

	if r := e.Do(t, "PATCH", "/api/2.0/workspace-conf", admin, map[string]string{"enableTokensConfig": "false"}); r.Status != 200 {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	for _, tok := range []string{admin, other} {
		wantError(t, e.Do(t, "GET", "/api/2.0/token/list", tok, nil), 403, "PERMISSION_DENIED", invalidToken)
	}
	if _, err := e.Svc().CreateTokenFor(kilntest.Offline(), kilntest.AdminEmail, serviceParams()); !kiln.IsCode(err, kiln.EDisabled) {
		t.Fatalf("creating while disabled: got %v, want EDisabled", err)
	}

	e.EnableTokens(t)
	for _, tok := range []string{admin, other} {
		if r := e.Do(t, "GET", "/api/2.0/token/list", tok, nil); r.Status != 200 {
			t.Fatalf("token not restored after re-enabling: %d %s", r.Status, r.Body)
		}
	}
	wantError(t, e.Do(t, "GET", "/api/2.0/token/list", revoked, nil), 403, "PERMISSION_DENIED", invalidToken)
}

// tokenIDOf returns the id of the n-th (1-based, oldest first) live token
// of the caller.
func tokenIDOf(t *testing.T, e *kilntest.Env, tok string, n int) string {
	t.Helper()
	var list struct {
		TokenInfos []struct {
			TokenID string `json:"token_id"`
		} `json:"token_infos"`
	}
	r := e.Do(t, "GET", "/api/2.0/token/list", tok, nil)
	if err := json.Unmarshal(r.Body, &list); err != nil || len(list.TokenInfos) < n {
		t.Fatalf("list: %v %s", err, r.Body)
	}
	return list.TokenInfos[n-1].TokenID
}

func TestNonAdminRefusedOnAdminAPIs(t *testing.T) {
	e := kilntest.Start(t)
	e.EnableTokens(t)
	e.NewUser(t, "jane@example.com", false)
	jane := e.Token(t, "jane@example.com", 0)
	tests := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/2.0/token-management/tokens", nil},
		{"GET", "/api/2.0/token-management/tokens/" + strings.Repeat("a", 64), nil},
		{"DELETE", "/api/2.0/token-management/tokens/" + strings.Repeat("a", 64), nil},
		{"POST", "/api/2.0/token-management/on-behalf-of/tokens", map[string]string{"application_id": "x"}},
		{"GET", "/api/2.0/workspace-conf?keys=enableTokensConfig", nil},
		{"PATCH", "/api/2.0/workspace-conf", map[string]string{"enableTokensConfig": "false"}},
		{"GET", "/api/2.0/permissions/authorization/tokens", nil},
		{"PUT", "/api/2.0/permissions/authorization/tokens", map[string]any{"access_control_list": []any{}}},
		{"GET", "/api/2.0/permissions/authorization/tokens/permissionLevels", nil},
		{"GET", "/api/kiln/v1/audit", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			wantError(t, e.Do(t, tt.method, tt.path, jane, tt.body), 403, "PERMISSION_DENIED", "admins")
		})
	}
	t.Run("SCIMCreateUser", func(t *testing.T) {
		r := e.Do(t, "POST", "/api/2.0/preview/scim/v2/Users", jane, map[string]string{"userName": "x@example.com"})
		if r.Status != 403 || !strings.Contains(string(r.Body), "urn:ietf:params:scim:api:messages:2.0:Error") {
			t.Fatalf("got %d %s, want a 403 SCIM error", r.Status, r.Body)
		}
	})
	t.Run("SelfServiceStillWorks", func(t *testing.T) {
		if r := e.Do(t, "POST", "/api/2.0/token/create", jane, map[string]string{"comment": "mine"}); r.Status != 200 {
			t.Fatalf("non-admin create: %d %s", r.Status, r.Body)
		}
	})
}

func TestCanUsePermission(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	e.NewUser(t, "jane@example.com", false)
	e.NewUser(t, "bob@example.com", false)
	jane := e.Token(t, "jane@example.com", 0)
	bob := e.Token(t, "bob@example.com", 0)

	// Only jane may use tokens: PUT replaces the users-group grant.
	r := e.Do(t, "PUT", "/api/2.0/permissions/authorization/tokens", admin, map[string]any{"access_control_list": []map[string]string{
		{"group_name": "admins", "permission_level": "CAN_MANAGE"}, // Terraform always sends this
		{"user_name": "jane@example.com", "permission_level": "CAN_USE"},
	}})
	if r.Status != 200 {
		t.Fatalf("PUT permissions: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", jane, nil); r.Status != 200 {
		t.Fatalf("jane refused: %d %s", r.Status, r.Body)
	}
	wantError(t, e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", bob, nil), 403, "PERMISSION_DENIED", "User does not have permission to use tokens.")
	if _, err := e.Svc().CreateTokenFor(kilntest.Offline(), "bob@example.com", serviceParams()); !kiln.IsCode(err, kiln.EPermission) {
		t.Fatalf("creating a token for bob: got %v, want EPermission", err)
	}
	if r := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", admin, nil); r.Status != 200 {
		t.Fatalf("admins always may: %d %s", r.Status, r.Body)
	}

	// PATCH merges: give the users group CAN_USE back; bob's token revives.
	r = e.Do(t, "PATCH", "/api/2.0/permissions/authorization/tokens", admin, map[string]any{"access_control_list": []map[string]string{{"group_name": "users", "permission_level": "CAN_USE"}}})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"jane@example.com"`) {
		t.Fatalf("PATCH permissions: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", bob, nil); r.Status != 200 {
		t.Fatalf("bob still refused after the grant: %d %s", r.Status, r.Body)
	}

	// Bad grants are refused, nothing changes.
	for _, bad := range []map[string]string{
		{"group_name": "admins", "permission_level": "CAN_USE"},
		{"user_name": "jane@example.com", "permission_level": "CAN_MANAGE"},
		{"user_name": "nobody@example.com", "permission_level": "CAN_USE"},
		{"user_name": "jane@example.com", "group_name": "users", "permission_level": "CAN_USE"},
		{"group_name": "users", "permission_level": "CAN_READ"},
	} {
		r := e.Do(t, "PUT", "/api/2.0/permissions/authorization/tokens", admin, map[string]any{"access_control_list": []map[string]string{bad}})
		wantError(t, r, 400, "INVALID_PARAMETER_VALUE", "")
	}
	if r := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", bob, nil); r.Status != 200 {
		t.Fatalf("a refused PUT changed permissions: %d %s", r.Status, r.Body)
	}
	levels := e.Do(t, "GET", "/api/2.0/permissions/authorization/tokens/permissionLevels", admin, nil)
	if levels.Status != 200 || !strings.Contains(string(levels.Body), `"CAN_USE"`) {
		t.Fatalf("permissionLevels: %d %s", levels.Status, levels.Body)
	}
}

func TestQuota(t *testing.T) {
	e := kilntest.Start(t)
	e.EnableTokens(t)
	e.NewUser(t, "jane@example.com", false)
	var last string
	for range kiln.MaxTokensPerUser {
		last = e.Token(t, "jane@example.com", 0)
	}
	wantError(t, e.Do(t, "POST", "/api/2.0/token/create", last, map[string]string{}), 400, "QUOTA_EXCEEDED", "600")
	// Revoking one frees a slot.
	id := tokenIDOf(t, e, last, 1)
	if r := e.Do(t, "POST", "/api/2.0/token/delete", last, map[string]string{"token_id": id}); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/api/2.0/token/create", last, map[string]string{}); r.Status != 200 {
		t.Fatalf("create after freeing a slot: %d %s", r.Status, r.Body)
	}
}

func TestLifetimeCap(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	if r := e.Do(t, "PATCH", "/api/2.0/workspace-conf", admin, map[string]string{"maxTokenLifetimeDays": "30"}); r.Status != 200 {
		t.Fatalf("set cap: %d %s", r.Status, r.Body)
	}
	tests := []struct {
		name     string
		body     string
		status   int
		wantDays float64
		msg      string
	}{
		{"OverCap", `{"lifetime_seconds": 2678400}`, 400, 0, "maximum of 30 days"},
		{"AtCap", `{"lifetime_seconds": 2592000}`, 200, 30, ""},
		{"DefaultIsCapped", `{}`, 200, 30, ""},
		{"Zero", `{"lifetime_seconds": 0}`, 400, 0, "positive"},
		{"Negative", `{"lifetime_seconds": -5}`, 400, 0, "positive"},
		{"NotANumber", `{"lifetime_seconds": "soon"}`, 400, 0, `lifetime_seconds: expected a whole number, got "soon"`},
		{"PlusSign", `{"lifetime_seconds": "+5"}`, 400, 0, `lifetime_seconds: expected a whole number, got "+5"`},
		{"Huge", `{"lifetime_seconds": 9223372036854775807}`, 400, 0, "maximum of 30 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.Do(t, "POST", "/api/2.0/token/create", admin, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status: got %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			m := r.JSON(t)
			if tt.status != 200 {
				if !strings.Contains(m["message"].(string), tt.msg) {
					t.Fatalf("message %q does not contain %q", m["message"], tt.msg)
				}
				return
			}
			info := m["token_info"].(map[string]any)
			days := (info["expiry_time"].(float64) - info["creation_time"].(float64)) / float64(24*time.Hour/time.Millisecond)
			if days != tt.wantDays {
				t.Fatalf("lifetime: got %v days, want %v", days, tt.wantDays)
			}
		})
	}
}
