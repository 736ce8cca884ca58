package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/client"
)

const testToken = "dapi0123456789abcdef0123456789abcdef"

func newClient(t *testing.T, host string) *client.Client {
	t.Helper()
	c, err := client.New(&client.Config{Host: host, Token: testToken}, client.WithUserAgent("kiln-test/1"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRequests checks what the client sends for each method.
func TestRequests(t *testing.T) {
	type seen struct {
		method, path, query, body, auth, ctype string
	}
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = seen{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Get("Authorization"), r.Header.Get("Content-Type")}
		w.Header().Set("X-Databricks-Org-Id", "42")
		switch r.URL.Path {
		case "/api/2.0/preview/scim/v2/Me":
			io.WriteString(w, `{"id":"7","userName":"jane@example.com","groups":[{"display":"admins"}]}`)
		case "/api/2.0/token/create":
			io.WriteString(w, `{"token_value":"dapiX","token_info":{"token_id":"abc","expiry_time":-1}}`)
		case "/api/2.0/token/list", "/api/2.0/token-management/tokens":
			io.WriteString(w, `{}`)
		case "/api/2.0/workspace-conf":
			io.WriteString(w, `{"enableTokensConfig":"true","unset":null}`)
		default:
			io.WriteString(w, `{}`)
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	ctx := context.Background()

	tests := []struct {
		name string
		call func() error
		want seen
	}{
		{"me", func() error {
			me, err := c.Me(ctx)
			if err == nil && (me.WorkspaceID != "42" || !me.IsAdmin() || me.Login() != "jane@example.com") {
				return errors.New("bad /Me decoding")
			}
			return err
		}, seen{method: "GET", path: "/api/2.0/preview/scim/v2/Me"}},
		{"create token", func() error {
			r, err := c.CreateToken(ctx, client.CreateTokenRequest{LifetimeSeconds: 60, Comment: "ci"})
			if err == nil {
				if _, expires := r.TokenInfo.Expires(); expires || r.TokenValue != "dapiX" {
					return errors.New("bad create decoding")
				}
			}
			return err
		}, seen{method: "POST", path: "/api/2.0/token/create", body: `{"lifetime_seconds":60,"comment":"ci"}`, ctype: "application/json"}},
		{"create token with defaults omits zero fields", func() error {
			_, err := c.CreateToken(ctx, client.CreateTokenRequest{})
			return err
		}, seen{method: "POST", path: "/api/2.0/token/create", body: `{}`, ctype: "application/json"}},
		{"list tokens: {} is an empty list", func() error {
			toks, err := c.ListTokens(ctx)
			if err == nil && (toks == nil || len(toks) != 0) {
				return errors.New("want an empty, non-nil list")
			}
			return err
		}, seen{method: "GET", path: "/api/2.0/token/list"}},
		{"delete token", func() error { return c.DeleteToken(ctx, "abc") },
			seen{method: "POST", path: "/api/2.0/token/delete", body: `{"token_id":"abc"}`, ctype: "application/json"}},
		{"list all tokens with filters", func() error {
			_, err := c.ListAllTokens(ctx, client.TokenFilter{CreatedByID: 5, CreatedByUsername: "j@x"})
			return err
		}, seen{method: "GET", path: "/api/2.0/token-management/tokens", query: "created_by_id=5&created_by_username=j%40x"}},
		{"revoke any token", func() error { return c.RevokeToken(ctx, "abc") },
			seen{method: "DELETE", path: "/api/2.0/token-management/tokens/abc"}},
		{"set permissions", func() error {
			_, err := c.SetTokenPermissions(ctx, []client.AccessControlRequest{{GroupName: "users", PermissionLevel: "CAN_USE"}})
			return err
		}, seen{method: "PUT", path: "/api/2.0/permissions/authorization/tokens", body: `{"access_control_list":[{"group_name":"users","permission_level":"CAN_USE"}]}`, ctype: "application/json"}},
		{"clear permissions sends an empty list", func() error {
			_, err := c.SetTokenPermissions(ctx, nil)
			return err
		}, seen{method: "PUT", path: "/api/2.0/permissions/authorization/tokens", body: `{"access_control_list":[]}`, ctype: "application/json"}},
		{"get conf: null reads as empty", func() error {
			kv, err := c.GetWorkspaceConf(ctx, []string{"enableTokensConfig", "unset"})
			if err == nil && (kv["enableTokensConfig"] != "true" || kv["unset"] != "") {
				return errors.New("bad conf decoding")
			}
			return err
		}, seen{method: "GET", path: "/api/2.0/workspace-conf", query: "keys=enableTokensConfig%2Cunset"}},
		{"set conf", func() error { return c.SetWorkspaceConf(ctx, map[string]string{"a": "1"}) },
			seen{method: "PATCH", path: "/api/2.0/workspace-conf", body: `{"a":"1"}`, ctype: "application/json"}},
		{"audit", func() error {
			_, err := c.ListAudit(ctx, client.AuditFilter{Action: "token.create", Limit: 5, BeforeID: 9})
			return err
		}, seen{method: "GET", path: "/api/kiln/v1/audit", query: "action=token.create&before_id=9&limit=5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = seen{}
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			tt.want.auth = "Bearer " + testToken
			if got != tt.want {
				t.Fatalf("sent %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestSCIMPaging checks that lists advance startIndex and stop.
func TestSCIMPaging(t *testing.T) {
	var starts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := r.URL.Query().Get("startIndex")
		starts = append(starts, s)
		switch s {
		case "1":
			io.WriteString(w, `{"totalResults":3,"startIndex":1,"Resources":[{"id":"1"},{"id":"2"}]}`)
		case "3":
			io.WriteString(w, `{"totalResults":3,"startIndex":3,"Resources":[{"id":"3"}]}`)
		default:
			io.WriteString(w, `{"totalResults":3,"Resources":[]}`)
		}
	}))
	defer srv.Close()
	users, err := newClient(t, srv.URL).ListUsers(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 3 || strings.Join(starts, ",") != "1,3" {
		t.Fatalf("got %d users after startIndex %v", len(users), starts)
	}
}

// TestErrors checks how each kind of failure is reported.
func TestErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		ctype, body string
		header      map[string]string
		check       func(t *testing.T, err error)
	}{
		{name: "databricks error", status: 404, ctype: "application/json", body: `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Token x does not exist."}`,
			header: map[string]string{"X-Request-Id": "rid"},
			check: func(t *testing.T, err error) {
				var api *client.APIError
				if !errors.As(err, &api) || !api.IsNotFound() || api.ErrorCode != "RESOURCE_DOES_NOT_EXIST" || api.RequestID != "rid" {
					t.Fatalf("err = %#v", err)
				}
				if err.Error() != "Token x does not exist. (HTTP 404 RESOURCE_DOES_NOT_EXIST)" {
					t.Fatalf("message %q", err.Error())
				}
			}},
		{name: "numeric error code", status: 403, ctype: "application/json", body: `{"error_code":403,"message":"Invalid access token."}`,
			check: func(t *testing.T, err error) {
				var api *client.APIError
				if !errors.As(err, &api) || !api.IsInvalidToken() || api.IsPermissionDenied() || api.ErrorCode != "403" {
					t.Fatalf("err = %#v", err)
				}
			}},
		{name: "permission denied", status: 403, ctype: "application/json", body: `{"error_code":"PERMISSION_DENIED","message":"Only workspace admins can do this."}`,
			check: func(t *testing.T, err error) {
				var api *client.APIError
				if !errors.As(err, &api) || api.IsInvalidToken() || !api.IsPermissionDenied() {
					t.Fatalf("err = %#v", err)
				}
			}},
		{name: "scim error", status: 404, ctype: "application/json", body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"User 5 does not exist.","status":"404"}`,
			check: func(t *testing.T, err error) {
				var api *client.APIError
				if !errors.As(err, &api) || api.Message != "User 5 does not exist." || api.ErrorCode != "SCIM_404" || !api.IsNotFound() {
					t.Fatalf("err = %#v", err)
				}
			}},
		{name: "legacy error field", status: 400, ctype: "application/json", body: `{"error":"bad thing"}`,
			check: func(t *testing.T, err error) {
				var api *client.APIError
				if !errors.As(err, &api) || api.Message != "bad thing" {
					t.Fatalf("err = %#v", err)
				}
			}},
		{name: "unknown endpoint", status: 404, ctype: "application/json", body: `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"No API found for 'GET /api/kiln/v1/audit'."}`,
			check: func(t *testing.T, err error) {
				var api *client.APIError
				if !errors.As(err, &api) || !api.IsUnknownEndpoint() || api.IsNotFound() {
					t.Fatalf("err = %#v", err)
				}
			}},
		{name: "retry after", status: 429, ctype: "application/json", body: `{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}`,
			header: map[string]string{"Retry-After": "7"},
			check: func(t *testing.T, err error) {
				var api *client.APIError
				if !errors.As(err, &api) || api.RetryAfter.Seconds() != 7 {
					t.Fatalf("err = %#v", err)
				}
			}},
		{name: "html success", status: 200, ctype: "text/html", body: "<!doctype html><html>login</html>", check: notKiln("returned HTTP 200 with an HTML page instead of JSON")},
		{name: "html error", status: 502, ctype: "text/html", body: "<html>Bad Gateway</html>", check: notKiln("returned HTTP 502 with an HTML page instead of JSON")},
		{name: "plain text", status: 200, ctype: "text/plain", body: "hello", check: notKiln("with text/plain instead of JSON")},
		{name: "json of the wrong shape", status: 200, ctype: "application/json", body: `["a"]`, check: notKiln("JSON of an unexpected shape")},
		{name: "redirect", status: 301, header: map[string]string{"Location": "https://elsewhere.example.com/"}, check: notKiln("redirects GET /api/2.0/preview/scim/v2/Me to https://elsewhere.example.com/")},
		{name: "http to https server", status: 400, ctype: "text/plain", body: "Client sent an HTTP request to an HTTPS server.\n", check: notKiln("speaks HTTPS: use https://")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := newClient(t, srv.URL).Me(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			tt.check(t, err)
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("message spans lines: %q", err.Error())
			}
		})
	}
}

func notKiln(want string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ue *client.UnexpectedResponseError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v (%T), want an UnexpectedResponseError containing %q", err, err, want)
		}
	}
}

// TestTransportErrors checks the one-line messages for servers that cannot
// be reached.
func TestTransportErrors(t *testing.T) {
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	defer tlsSrv.Close()
	plainSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	defer plainSrv.Close()
	tests := []struct {
		name, host, want string
	}{
		{"connection refused", closed(), "connection refused; is the server running there?"},
		{"untrusted certificate", tlsSrv.URL, "TLS error: the certificate of " + tlsSrv.URL + " is not trusted"},
		{"https to a plain server", "https://" + strings.TrimPrefix(plainSrv.URL, "http://"), "does not speak TLS; use " + plainSrv.URL},
		{"unknown name", "http://kiln.invalid", "cannot resolve kiln.invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newClient(t, tt.host).Me(context.Background())
			var te *client.TransportError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (%T), want a TransportError containing %q", err, err, tt.want)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatal("the message leaks the token")
			}
		})
	}
	t.Run("skip_verify trusts any certificate", func(t *testing.T) {
		c, err := client.New(&client.Config{Host: tlsSrv.URL, Token: testToken, SkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Me(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
