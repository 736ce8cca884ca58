package replicas

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/pgtest"
)

// TestStoreOutageAnswers503AndRecovers stops the PostgreSQL server under a
// running replica: requests that need the store answer 503
// TEMPORARILY_UNAVAILABLE with Retry-After (which the SDKs retry), never a
// 500 or a driver message; a valid token is still recognised; and once the
// database is back the replica serves again by itself, twice over.
func TestStoreOutageAnswers503AndRecovers(t *testing.T) {
	ctx := context.Background()
	// A server of its own: stopping the shared one would fail every other
	// test of this binary.
	pg, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	dbURL, err := pg.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := emptyCluster(t, dbURL, t.TempDir())
	for _, name := range []string{"token.key", "secrets.key"} {
		writeKey(t, filepath.Join(c.keyDir, name))
	}
	c.startReplicas(1)
	r := c.replicas[0]
	admin := c.adminToken()
	c.createToken(r, admin, 0)

	type answer struct {
		status     int
		retryAfter string
		code, msg  string
	}
	send := func(method, path string, body string) answer {
		req, _ := http.NewRequest(method, r.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e struct {
			Code string `json:"error_code"`
			Msg  string `json:"message"`
		}
		json.Unmarshal(b, &e)
		return answer{resp.StatusCode, resp.Header.Get("Retry-After"), e.Code, e.Msg}
	}
	requests := []struct{ method, path, body string }{
		{"POST", "/api/2.0/token/create", `{"comment":"during the outage"}`},
		{"GET", "/api/2.0/token/list", ""},
		{"GET", "/api/2.1/jobs/list", ""},
		{"POST", "/api/2.0/workspace/mkdirs", `{"path":"/Shared/outage"}`},
	}
	for round := range 2 {
		if err := pg.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, rq := range requests {
			a := send(rq.method, rq.path, rq.body)
			if a.status != 503 || a.code != "TEMPORARILY_UNAVAILABLE" || a.retryAfter == "" {
				t.Errorf("round %d, database stopped: %s %s answered %d %s %q, Retry-After %q; want 503 TEMPORARILY_UNAVAILABLE with Retry-After",
					round, rq.method, rq.path, a.status, a.code, a.msg, a.retryAfter)
			}
			for _, leak := range []string{"sqlstore", "dial", "refused", "pgconn", "SQLSTATE"} {
				if strings.Contains(a.msg, leak) {
					t.Errorf("round %d: %s %s: message %q shows internal detail %q", round, rq.method, rq.path, a.msg, leak)
				}
			}
		}
		if resp, err := c.client.Get(r.url + "/readyz"); err != nil || resp.StatusCode != 503 {
			t.Errorf("round %d: /readyz with the database stopped: %v %v, want 503", round, resp, err)
		} else {
			resp.Body.Close()
		}
		if err := pg.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		took := c.within(30*time.Second, "token/create after the database is back", func() bool {
			return send("POST", "/api/2.0/token/create", `{"comment":"after the outage"}`).status == 200
		})
		t.Logf("round %d: serving again %v after the database accepted connections", round, took)
		for _, rq := range requests {
			if a := send(rq.method, rq.path, rq.body); a.status != 200 {
				t.Errorf("round %d, database back: %s %s answered %d %s %q", round, rq.method, rq.path, a.status, a.code, a.msg)
			}
		}
	}
}
