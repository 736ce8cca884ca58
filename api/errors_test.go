package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

func TestAuthenticationErrors(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		header string
		status int
		code   string
		msg    string
	}{
		{"NoCredential", "", 401, "UNAUTHENTICATED", "Credential was not sent"},
		{"UnsupportedScheme", "Digest username=x", 401, "UNAUTHENTICATED", "Credential was not sent"},
		{"MalformedBearer", "Bearer not-a-token", 403, "PERMISSION_DENIED", invalidToken},
		{"UnknownToken", "Bearer dapi00000000000000000000000000000000", 403, "PERMISSION_DENIED", invalidToken},
		{"MalformedBasic", "Basic !!!", 403, "PERMISSION_DENIED", invalidToken},
		{"BasicWrongUser", basic("mallory@example.com:" + admin), 403, "PERMISSION_DENIED", invalidToken},
		{"BearerValid", "Bearer " + admin, 200, "", ""},
		{"BasicTokenUser", basic("token:" + admin), 200, "", ""},
		{"BasicOwnerUser", basic(kilntest.AdminEmail + ":" + admin), 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			r := e.DoHeaders(t, "GET", "/api/2.0/token/list", nil, h)
			if tt.status == 200 {
				if r.Status != 200 {
					t.Fatalf("got %d %s, want 200", r.Status, r.Body)
				}
				return
			}
			wantError(t, r, tt.status, tt.code, tt.msg)
			if r.Header.Get("X-Databricks-Reason-Phrase") == "" {
				t.Fatal("missing X-Databricks-Reason-Phrase")
			}
		})
	}
}

func TestRepeatedFailuresAreThrottledButValidTokensPass(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	throttled := false
	for range 200 {
		r := e.Do(t, "GET", "/api/2.0/token/list", "dapi11111111111111111111111111111111", nil)
		if r.Status == 429 {
			throttled = true
			wantError(t, r, 429, "REQUEST_LIMIT_EXCEEDED", "retry later")
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			break
		}
		if r.Status != 403 {
			t.Fatalf("bad token: got %d, want 403 or 429", r.Status)
		}
	}
	if !throttled {
		t.Fatal("200 bad tokens from one address were never throttled")
	}
	// The valid holder behind the same address is never locked out.
	if r := e.Do(t, "GET", "/api/2.0/token/list", admin, nil); r.Status != 200 {
		t.Fatalf("valid token refused while the address is throttled: %d %s", r.Status, r.Body)
	}
}

func TestBadInput(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	missing := strings.Repeat("ab", 32)
	tests := []struct {
		name         string
		method, path string
		body         any
		status       int
		code, msg    string
	}{
		{"MalformedJSON", "POST", "/api/2.0/token/create", `{"comment": `, 400, "MALFORMED_REQUEST", "Malformed JSON"},
		{"NotAnObject", "POST", "/api/2.0/token/create", `[1,2]`, 400, "MALFORMED_REQUEST", "JSON object"},
		{"WrongType", "POST", "/api/2.0/token/create", `{"comment": 5}`, 400, "INVALID_PARAMETER_VALUE", "comment"},
		{"HugeComment", "POST", "/api/2.0/token/create", map[string]string{"comment": strings.Repeat("x", 600)}, 400, "INVALID_PARAMETER_VALUE", "too long"},
		{"ControlCharsInComment", "POST", "/api/2.0/token/create", map[string]string{"comment": "a\x00b"}, 400, "INVALID_PARAMETER_VALUE", "control"},
		{"UnknownScope", "POST", "/api/2.0/token/create", `{"scopes": ["sql", "everything"]}`, 400, "INVALID_PARAMETER_VALUE", `Unknown scope "everything"`},
		{"OversizedBody", "POST", "/api/2.0/token/create", `{"comment": "` + strings.Repeat("x", 2<<20) + `"}`, 400, "INVALID_PARAMETER_VALUE", "too large"},
		{"WrongContentType", "POST", "/api/2.0/token/create", badContentType{}, 400, "MALFORMED_REQUEST", "Content-Type"},
		{"DeleteWithoutBody", "POST", "/api/2.0/token/delete", nil, 400, "MALFORMED_REQUEST", "body is required"},
		{"DeleteWithoutID", "POST", "/api/2.0/token/delete", `{}`, 400, "INVALID_PARAMETER_VALUE", "token_id"},
		{"DeleteUnknown", "POST", "/api/2.0/token/delete", map[string]string{"token_id": missing}, 404, "RESOURCE_DOES_NOT_EXIST", "does not exist"},
		{"DeleteGarbageID", "POST", "/api/2.0/token/delete", map[string]string{"token_id": "../../etc"}, 404, "RESOURCE_DOES_NOT_EXIST", "does not exist"},
		{"PatchWithoutBody", "PATCH", "/api/2.0/token/" + missing, nil, 400, "MALFORMED_REQUEST", "body is required"},
		{"PatchWithoutMask", "PATCH", "/api/2.0/token/" + missing, `{"token": {"comment": "x"}}`, 400, "INVALID_PARAMETER_VALUE", "update_mask"},
		{"PatchOtherField", "PATCH", "/api/2.0/token/" + missing, `{"token": {"comment": "x"}, "update_mask": "expiry_time"}`, 400, "INVALID_PARAMETER_VALUE", "cannot change"},
		{"PatchUnknown", "PATCH", "/api/2.0/token/" + missing, `{"token": {"comment": "x"}, "update_mask": "comment"}`, 404, "RESOURCE_DOES_NOT_EXIST", ""},
		{"AdminGetUnknown", "GET", "/api/2.0/token-management/tokens/" + missing, nil, 404, "RESOURCE_DOES_NOT_EXIST", ""},
		{"AdminPatchWithoutBody", "PATCH", "/api/2.0/token-management/tokens/" + missing, nil, 400, "MALFORMED_REQUEST", ""},
		{"RepeatedParameter", "GET", "/api/2.0/token-management/tokens?created_by_id=1&created_by_id=2", nil, 400, "INVALID_PARAMETER_VALUE", "more than once"},
		{"ParameterNotANumber", "GET", "/api/2.0/token-management/tokens?created_by_id=abc", nil, 400, "INVALID_PARAMETER_VALUE", "whole number"},
		{"ConfUnknownKey", "GET", "/api/2.0/workspace-conf?keys=enableTokensConfig,badKey", nil, 400, "INVALID_PARAMETER_VALUE", `Invalid keys: ["badKey"]`},
		{"ConfNoKeys", "GET", "/api/2.0/workspace-conf", nil, 400, "INVALID_PARAMETER_VALUE", "keys is required"},
		{"ConfPatchUnknownKey", "PATCH", "/api/2.0/workspace-conf", map[string]string{"badKey": "1"}, 400, "INVALID_PARAMETER_VALUE", `Invalid keys: ["badKey"]`},
		{"ConfPatchBadValue", "PATCH", "/api/2.0/workspace-conf", map[string]string{"maxTokenLifetimeDays": "false"}, 400, "INVALID_PARAMETER_VALUE", `Some values are not allowed: {"maxTokenLifetimeDays":"false"}`},
		{"ConfPatchOverLimit", "PATCH", "/api/2.0/workspace-conf", map[string]string{"maxTokenLifetimeDays": "731"}, 400, "INVALID_PARAMETER_VALUE", "730"},
		{"ConfPatchNonString", "PATCH", "/api/2.0/workspace-conf", `{"enableTokensConfig": true}`, 400, "INVALID_PARAMETER_VALUE", "JSON string"},
		{"ConfPatchWithoutBody", "PATCH", "/api/2.0/workspace-conf", nil, 400, "MALFORMED_REQUEST", "body is required"},
		{"ConfPatchEmpty", "PATCH", "/api/2.0/workspace-conf", `{}`, 400, "INVALID_PARAMETER_VALUE", "Nothing to change"},
		{"PermissionsPatchWithoutBody", "PATCH", "/api/2.0/permissions/authorization/tokens", nil, 400, "MALFORMED_REQUEST", ""},
		{"UnknownPath", "GET", "/api/2.0/clusters/nope", nil, 404, "RESOURCE_DOES_NOT_EXIST", "No API found"},
		{"WrongMethod", "DELETE", "/api/2.0/token/create", nil, 405, "METHOD_NOT_ALLOWED", "not allowed"},
		{"OBOWithoutApplication", "POST", "/api/2.0/token-management/on-behalf-of/tokens", `{}`, 400, "INVALID_PARAMETER_VALUE", "application_id"},
		{"OBOUnknownApplication", "POST", "/api/2.0/token-management/on-behalf-of/tokens", `{"application_id": "nope"}`, 404, "RESOURCE_DOES_NOT_EXIST", "does not exist"},
		{"AuditBadTime", "GET", "/api/kiln/v1/audit?since=yesterday", nil, 400, "INVALID_PARAMETER_VALUE", "RFC 3339"},
		{"AuditBadLimit", "GET", "/api/kiln/v1/audit?limit=0", nil, 400, "INVALID_PARAMETER_VALUE", "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r kilntest.Response
			if _, ok := tt.body.(badContentType); ok {
				h := http.Header{"Authorization": {"Bearer " + admin}, "Content-Type": {"application/xml"}}
				r = e.DoHeaders(t, tt.method, tt.path, "<x/>", h)
			} else {
				r = e.Do(t, tt.method, tt.path, admin, tt.body)
			}
			wantError(t, r, tt.status, tt.code, tt.msg)
		})
	}
	// Nothing above created a token or changed a setting.
	if r := e.Do(t, "GET", "/api/2.0/token/list", admin, nil); strings.Count(string(r.Body), "token_id") != 1 {
		t.Fatalf("a refused request created a token: %s", r.Body)
	}
	conf := e.Do(t, "GET", "/api/2.0/workspace-conf?keys=maxTokenLifetimeDays,enableTokensConfig", admin, nil).JSON(t)
	if conf["maxTokenLifetimeDays"] != "730" || conf["enableTokensConfig"] != "true" {
		t.Fatalf("a refused request changed settings: %v", conf)
	}
}

type badContentType struct{}

func TestLenientDecoding(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	tests := []struct {
		name         string
		method, path string
		body         any
	}{
		{"NumbersAsStrings", "POST", "/api/2.0/token/create", `{"lifetime_seconds": "3600", "comment": "airflow"}`},
		{"EmptyTrailingQuestionMark", "GET", "/api/2.0/token/list?", nil},
		{"RepeatedSameValue", "GET", "/api/2.0/token-management/tokens?created_by_username=admin%40example.com&created_by_username=admin%40example.com", nil},
		{"JSONBodyOnGET", "GET", "/api/2.0/workspace-conf", `{"keys": "enableTokensConfig"}`},
		{"RepeatedKeysParam", "GET", "/api/2.0/workspace-conf?keys=enableTokensConfig&keys=maxTokenLifetimeDays", nil},
		{"LegacyPreviewPath", "GET", "/api/2.0/preview/workspace-conf?keys=enableTokensConfig", nil},
		{"TextJSONContentType", "POST", "/api/2.0/token/create", `{"comment": "legacy cli"}`},
		{"Telemetry", "POST", "/telemetry-ext", `{"uploadTime": 1, "items": [], "protoLogs": []}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Authorization": {"Bearer " + admin}}
			if tt.name == "TextJSONContentType" {
				h.Set("Content-Type", "text/json")
			}
			r := e.DoHeaders(t, tt.method, tt.path, tt.body, h)
			if r.Status != 200 {
				t.Fatalf("got %d %s, want 200", r.Status, r.Body)
			}
		})
	}
	conf := e.Do(t, "GET", "/api/2.0/workspace-conf?keys=enableTokensConfig&keys=maxTokenLifetimeDays", admin, nil).JSON(t)
	if len(conf) != 2 {
		t.Fatalf("repeated keys: got %v, want both keys", conf)
	}
}

func TestConfValuesStoredVerbatim(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	if r := e.Do(t, "PATCH", "/api/2.0/workspace-conf", admin, map[string]string{"enableTokensConfig": "TRue", "maxTokenLifetimeDays": "90"}); r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	conf := e.Do(t, "GET", "/api/2.0/workspace-conf?keys=enableTokensConfig,maxTokenLifetimeDays,defaultTokenLifetimeDays", admin, nil).JSON(t)
	want := map[string]any{"enableTokensConfig": "TRue", "maxTokenLifetimeDays": "90", "defaultTokenLifetimeDays": "90"}
	for k, v := range want {
		if conf[k] != v {
			t.Fatalf("%s: got %v, want %v", k, conf[k], v)
		}
	}
	// "TRue" still means enabled (Terraform writes such values).
	if r := e.Do(t, "GET", "/api/2.0/token/list", admin, nil); r.Status != 200 {
		t.Fatalf("tokens disabled by TRue: %d", r.Status)
	}
	// An empty value resets to the default.
	e.Do(t, "PATCH", "/api/2.0/workspace-conf", admin, map[string]string{"maxTokenLifetimeDays": ""})
	if got := e.Do(t, "GET", "/api/2.0/workspace-conf?keys=maxTokenLifetimeDays", admin, nil).JSON(t)["maxTokenLifetimeDays"]; got != "730" {
		t.Fatalf("reset: got %v, want 730", got)
	}
}

func TestUnauthenticatedEndpoints(t *testing.T) {
	e := kilntest.Start(t)
	for _, path := range []string{"/healthz", "/readyz", "/.well-known/databricks-config"} {
		r := e.Do(t, "GET", path, "", nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
		if r.Header.Get("X-Databricks-Org-Id") == "" {
			t.Fatalf("%s: no X-Databricks-Org-Id", path)
		}
	}
	m := e.Do(t, "GET", "/.well-known/databricks-config", "", nil).JSON(t)
	if m["host_type"] != "workspace" || m["workspace_id"] == "" || strings.Contains(m["oidc_endpoint"].(string), "/oidc/accounts/") {
		t.Fatalf("host metadata: %v", m)
	}
}

func TestTrustedProxyForwardedFor(t *testing.T) {
	e := kilntest.Start(t, kilntest.WithConfig(func(c *server.Config) {
		c.TrustedProxies = []string{"127.0.0.1"}
		c.AuthFailureBurst, c.AuthFailureRate = 3, 0.001
		c.AuditFlushInterval = 50 * time.Millisecond
	}))
	admin := e.AdminToken(t)
	from := func(addr string) http.Header {
		return http.Header{"Authorization": {"Bearer dapi33333333333333333333333333333333"}, "X-Forwarded-For": {"1.2.3.4, " + addr}}
	}
	// One client behind the proxy exhausts its budget...
	for range 3 {
		wantError(t, e.DoHeaders(t, "GET", "/api/2.0/token/list", nil, from("198.51.100.1")), 403, "PERMISSION_DENIED", invalidToken)
	}
	wantError(t, e.DoHeaders(t, "GET", "/api/2.0/token/list", nil, from("198.51.100.1")), 429, "REQUEST_LIMIT_EXCEEDED", "")
	// ...while another client behind the same proxy is not throttled, and
	// the spoofable left entry played no part.
	wantError(t, e.DoHeaders(t, "GET", "/api/2.0/token/list", nil, from("198.51.100.2")), 403, "PERMISSION_DENIED", invalidToken)
	var got auditList
	kilntest.Eventually(t, 3*time.Second, "denials are flushed", func() bool {
		json.Unmarshal(e.Do(t, "GET", "/api/kiln/v1/audit?action=token.denied", admin, nil).Body, &got)
		return len(got.Events) >= 2
	})
	addrs := map[string]bool{}
	for _, ev := range got.Events {
		addrs[ev.RemoteAddr] = true
	}
	if !addrs["198.51.100.1"] || !addrs["198.51.100.2"] || addrs["1.2.3.4"] || addrs["127.0.0.1"] {
		t.Fatalf("audit addresses: %v, want the two forwarded clients", addrs)
	}
}
