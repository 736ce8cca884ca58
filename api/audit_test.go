package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

type auditList struct {
	Events []struct {
		ID         int64             `json:"id"`
		Action     string            `json:"action"`
		ActorName  string            `json:"actor_name"`
		Target     string            `json:"target"`
		RemoteAddr string            `json:"remote_addr"`
		Detail     map[string]string `json:"detail"`
		Count      int               `json:"count"`
	} `json:"events"`
	NextBeforeID int64 `json:"next_before_id"`
}

func TestAuditLog(t *testing.T) {
	e := kilntest.Start(t, kilntest.WithConfig(func(c *server.Config) { c.AuditFlushInterval = 50 * time.Millisecond }))
	admin := e.AdminToken(t)
	r := e.Do(t, "POST", "/api/2.0/token/create", admin, map[string]string{"comment": "to revoke"})
	created := r.JSON(t)
	value := created["token_value"].(string)
	id := created["token_info"].(map[string]any)["token_id"].(string)
	e.Do(t, "POST", "/api/2.0/token/delete", admin, map[string]string{"token_id": id})
	for range 3 {
		e.Do(t, "GET", "/api/2.0/token/list", value, nil) // denied: revoked
	}
	e.Do(t, "PATCH", "/api/2.0/workspace-conf", admin, map[string]string{"maxTokenLifetimeDays": "100"})

	// The three denials are counted into one event per flush: on a slow
	// machine they may span two flushes, so the counts are summed.
	var got auditList
	denials := 0
	kilntest.Eventually(t, 10*time.Second, "the denials are flushed", func() bool {
		r := e.Do(t, "GET", "/api/kiln/v1/audit?action=token.denied", admin, nil)
		got = auditList{}
		json.Unmarshal(r.Body, &got)
		denials = 0
		for _, ev := range got.Events {
			denials += ev.Count
		}
		return denials >= 3
	})
	for _, d := range got.Events {
		if d.Target != "token:"+id || d.Detail["reason"] != "revoked" || d.Count < 1 || d.RemoteAddr != "127.0.0.1" {
			t.Fatalf("denial event: %+v", d)
		}
	}
	if denials != 3 {
		t.Fatalf("%d denials in %d events, want 3", denials, len(got.Events))
	}

	all := e.Do(t, "GET", "/api/kiln/v1/audit", admin, nil)
	if strings.Contains(string(all.Body), value) || strings.Contains(string(all.Body), admin) {
		t.Fatal("a token value appears in the audit log")
	}
	var events auditList
	json.Unmarshal(all.Body, &events)
	actions := map[string]bool{}
	for _, ev := range events.Events {
		actions[ev.Action] = true
		if ev.Action == kiln.AuditTokenRevoke && (ev.ActorName != kilntest.AdminEmail || ev.Target != "token:"+id) {
			t.Fatalf("revoke event does not say who: %+v", ev)
		}
	}
	for _, a := range []string{kiln.AuditTokenCreate, kiln.AuditTokenRevoke, kiln.AuditTokenDenied, kiln.AuditConfUpdate, kiln.AuditWorkspaceInit} {
		if !actions[a] {
			t.Fatalf("no %s event in %s", a, all.Body)
		}
	}

	// Filters and paging.
	byActor := e.Do(t, "GET", "/api/kiln/v1/audit?actor=kiln-admin", admin, nil)
	json.Unmarshal(byActor.Body, &events)
	for _, ev := range events.Events {
		if ev.ActorName != "kiln-admin" {
			t.Fatalf("actor filter let through %+v", ev)
		}
	}
	page1 := e.Do(t, "GET", "/api/kiln/v1/audit?limit=2", admin, nil)
	var p1 auditList
	json.Unmarshal(page1.Body, &p1)
	if len(p1.Events) != 2 || p1.NextBeforeID == 0 {
		t.Fatalf("page 1: %s", page1.Body)
	}
	var p2 auditList
	json.Unmarshal(e.Do(t, "GET", "/api/kiln/v1/audit?limit=2&before_id="+itoa(p1.NextBeforeID), admin, nil).Body, &p2)
	if len(p2.Events) == 0 || p2.Events[0].ID >= p1.Events[1].ID {
		t.Fatalf("page 2 does not continue page 1: %+v then %+v", p1.Events, p2.Events)
	}
	future := e.Do(t, "GET", "/api/kiln/v1/audit?since="+itoa(time.Now().Add(time.Hour).UnixMilli()), admin, nil)
	if !strings.Contains(string(future.Body), `"events":[]`) {
		t.Fatalf("since in the future: %s", future.Body)
	}
}

func itoa(n int64) string { return formatInt(n) }

func formatInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// countingStore counts write transactions.
type countingStore struct {
	kiln.Store
	updates atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(kiln.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

func TestRequestsDoNotWriteToTheDatabase(t *testing.T) {
	var cs *countingStore
	e := kilntest.Start(t, kilntest.WithConfig(func(c *server.Config) {
		c.AuditFlushInterval = time.Hour
		c.WrapStore = func(s kiln.Store) kiln.Store { cs = &countingStore{Store: s}; return cs }
	}))
	admin := e.AdminToken(t)
	before := cs.updates.Load()
	for range 100 {
		if r := e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", admin, nil); r.Status != 200 {
			t.Fatalf("Me: %d", r.Status)
		}
		e.Do(t, "GET", "/api/2.0/preview/scim/v2/Me", "dapi22222222222222222222222222222222", nil)
		e.Do(t, "GET", "/api/2.0/token/list", admin, nil)
	}
	if n := cs.updates.Load() - before; n != 0 {
		t.Fatalf("300 requests (valid and bad tokens) caused %d write transactions, want 0", n)
	}
	// Last use is kept in memory and shown at once...
	r := e.Do(t, "GET", "/api/2.0/token-management/tokens", admin, nil)
	today := time.Now().UTC().Truncate(24 * time.Hour).UnixMilli()
	if !strings.Contains(string(r.Body), `"last_used_day":`+formatInt(today)) {
		t.Fatalf("last_used_day is not today (%d): %s", today, r.Body)
	}
	// ...and written in one batch.
	if err := e.Srv.Index.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := cs.updates.Load() - before; n != 1 {
		t.Fatalf("flushing last use took %d write transactions, want 1", n)
	}
	if err := e.Srv.Index.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := cs.updates.Load() - before; n != 1 {
		t.Fatalf("a second flush with nothing new wrote again (%d transactions)", n)
	}
}
