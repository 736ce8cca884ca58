package server_test

import (
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
)

// TestRootRoutes: the root handler sends each path where its table says,
// and every response carries the shared headers.
func TestRootRoutes(t *testing.T) {
	e := kilntest.Start(t)
	cases := []struct {
		method, path string
		status       int
		contentType  string
		body         string // a substring
		allow        string
	}{
		{"GET", "/healthz", 200, "application/json", `{"status":"ok"}`, ""},
		{"HEAD", "/healthz", 200, "application/json", "", ""},
		{"GET", "/readyz", 200, "application/json", `{"status":"ready"}`, ""},
		{"POST", "/healthz", 405, "application/json", `"METHOD_NOT_ALLOWED"`, "GET, HEAD"},
		{"GET", "/.well-known/databricks-config", 200, "application/json", `"host_type":"workspace"`, ""},
		{"GET", "/api/2.0/no-such-api", 404, "application/json", `"RESOURCE_DOES_NOT_EXIST"`, ""},
		{"GET", "/api/2.1/jobs/create", 405, "application/json", `"METHOD_NOT_ALLOWED"`, "POST"},
		{"GET", "/api/2.0/token/list", 401, "application/json", `"UNAUTHENTICATED"`, ""},
		{"GET", "/login", 200, "text/html", "Sign in", ""},
		{"GET", "/no-such-page", 404, "text/html", "", ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := e.Do(t, c.method, c.path, "", nil)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, c.contentType) {
				t.Errorf("Content-Type %q, want %s", got, c.contentType)
			}
			if !strings.Contains(string(r.Body), c.body) {
				t.Errorf("body %s, want it to contain %s", r.Body, c.body)
			}
			if got := strings.Join(r.Header.Values("Allow"), ", "); got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
			if r.Header.Get("X-Databricks-Org-Id") == "" || r.Header.Get("X-Request-Id") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("shared headers missing: %v", r.Header)
			}
		})
	}
}
