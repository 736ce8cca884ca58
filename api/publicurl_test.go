package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

// TestLinksIgnoreTheHostHeader sends requests whose Host (and the
// forwarding headers a proxy would add) name another site: the links kiln
// answers with must name the listener the request reached, or the
// configured base URL, never what the client wrote.
func TestLinksIgnoreTheHostHeader(t *testing.T) {
	for _, c := range []struct {
		name, addr, baseURL string
		want                func(port string) string // the expected base of every link
	}{
		{"Loopback", "127.0.0.1:0", "", func(port string) string { return "http://127.0.0.1:" + port }},
		// A wildcard listener: the link names the interface that answered.
		{"Wildcard", "0.0.0.0:0", "", func(port string) string { return "http://127.0.0.1:" + port }},
		{"BaseURL", "127.0.0.1:0", "https://kiln.example.com/", func(string) string { return "https://kiln.example.com" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, tok := jobsEnv(t, func(cfg *server.Config) { cfg.Addr, cfg.BaseURL = c.addr, c.baseURL })
			_, port, err := net.SplitHostPort(e.Srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			base := "http://127.0.0.1:" + port // what the client dials
			want := c.want(port)
			importNotebook(t, e, tok, "/Shared/links", "print(1)")
			run := idOf(t, call(t, e, tok, "POST", "/api/2.1/jobs/runs/submit",
				`{"run_name": "links", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/links"}}]}`), "run_id")
			for _, host := range []string{"evil.example", "evil.example:443", "127.0.0.1:" + port} {
				meta := getWithHost(t, base, "/.well-known/databricks-config", "", host)
				if got := meta["oidc_endpoint"]; got != want+"/oidc" {
					t.Errorf("Host %s: oidc_endpoint %v, want %s/oidc", host, got, want)
				}
				for _, path := range []string{"/api/2.1/jobs/runs/get?run_id=%d", "/api/2.0/jobs/runs/get?run_id=%d"} {
					got := getWithHost(t, base, fmt.Sprintf(path, run), tok, host)
					link, _ := got["run_page_url"].(string)
					if !strings.HasPrefix(link, want+"/jobs/") {
						t.Errorf("Host %s, %s: run_page_url %q, want it under %s", host, path, link, want)
					}
					for _, task := range tasksOf(t, got) {
						if l, _ := task["run_page_url"].(string); !strings.HasPrefix(l, want+"/jobs/") {
							t.Errorf("Host %s, %s: task run_page_url %q, want it under %s", host, path, l, want)
						}
					}
				}
			}
		})
	}
}

// getWithHost sends a GET to base+path with the Host header set to host
// and forwarding headers naming it too, and decodes the 200 answer.
func getWithHost(t *testing.T, base, path, token, host string) map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("X-Forwarded-Host", host)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Forwarded", "host="+host+";proto=https")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s (Host %s): %d %s %v", path, host, resp.StatusCode, b, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
	return m
}

// TestHostMetadataAccountID: host metadata carries an account_id, a UUID
// that a restart keeps and another workspace does not share.
func TestHostMetadataAccountID(t *testing.T) {
	meta := func(e *kilntest.Env) map[string]any {
		t.Helper()
		r := e.Do(t, "GET", "/.well-known/databricks-config", "", nil)
		if r.Status != 200 {
			t.Fatalf("metadata: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	e := kilntest.Start(t)
	first := meta(e)
	id, _ := first["account_id"].(string)
	if !uuid.MatchString(id) || first["host_type"] != "workspace" || first["workspace_id"] == "" {
		t.Fatalf("metadata: %v", first)
	}
	e.Stop()
	again := kilntest.Start(t, kilntest.WithConfig(func(c *server.Config) { c.DataDir = e.DataDir }))
	if got := meta(again)["account_id"]; got != id {
		t.Fatalf("after a restart account_id is %v, was %s", got, id)
	}
	if other := meta(kilntest.Start(t))["account_id"]; other == id {
		t.Fatalf("two workspaces share account_id %s", id)
	}
}
