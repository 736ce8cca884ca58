package api_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
	"github.com/kiln-dev/kiln/webhook"
)

const hookSecret = "s3cret-s3cret-s3cret"

// received is one delivery as a receiver saw it.
type received struct {
	event, delivery, signature string
	body                       []byte
}

// receiver is a webhook endpoint on loopback; answer decides each
// response (nil: 200).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int) int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Header.Get("X-Kiln-Event"), r.Header.Get("X-Kiln-Delivery"), r.Header.Get("X-Kiln-Signature"), b})
		n := len(rc.got)
		rc.mu.Unlock()
		status := 200
		if rc.answer != nil {
			status = rc.answer(n)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) deliveries() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// fastWebhooks makes deliveries quick to observe and retry.
func fastWebhooks(c *server.Config) {
	c.Webhook = func(w *webhook.Config) {
		w.Poll = 20 * time.Millisecond
		w.Timeout = 500 * time.Millisecond
		w.Backoff = func(int) time.Duration { return 50 * time.Millisecond }
		w.MaxAttempts = 4
	}
}

func createHook(t *testing.T, e *kilntest.Env, admin, url string, events ...string) string {
	t.Helper()
	r := e.Do(t, "POST", "/api/kiln/v1/webhooks", admin, map[string]any{"url": url, "events": events, "secret": hookSecret})
	if r.Status != 200 {
		t.Fatalf("create webhook: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["webhook_id"].(string)
}

func TestWebhooksDeliverSignedEvents(t *testing.T) {
	e := kilntest.Start(t, kilntest.WithConfig(fastWebhooks))
	admin := e.AdminToken(t)
	rc := newReceiver(t, nil)
	createHook(t, e, admin, rc.URL+"/hook?key=abc", "token.created", "token.revoked", "token.rotated", "policy.changed")

	r := e.Do(t, "POST", "/api/2.0/token/create", admin, map[string]any{"comment": "ci", "lifetime_seconds": 3600})
	value := r.JSON(t)["token_value"].(string)
	id := r.JSON(t)["token_info"].(map[string]any)["token_id"].(string)
	rotated := e.Do(t, "POST", "/api/kiln/v1/tokens/"+id+"/rotate", value, map[string]any{"grace_seconds": 0}).JSON(t)
	newID := rotated["token_info"].(map[string]any)["token_id"].(string)
	e.Do(t, "POST", "/api/2.0/token/delete", admin, map[string]string{"token_id": newID})
	e.SetConf(t, map[string]string{"maxTokenLifetimeDays": "365"})

	want := []string{"token.created", "token.created", "token.rotated", "token.revoked", "policy.changed"}
	kilntest.Eventually(t, 10*time.Second, "five deliveries", func() bool { return len(rc.deliveries()) >= len(want) })
	ids := map[string]bool{}
	for i, d := range rc.deliveries() {
		var body struct {
			DeliveryID string            `json:"delivery_id"`
			Event      string            `json:"event"`
			CreatedAt  string            `json:"created_at"`
			Data       map[string]string `json:"data"`
		}
		if err := json.Unmarshal(d.body, &body); err != nil {
			t.Fatalf("delivery %d is not JSON: %s", i, d.body)
		}
		m := hmac.New(sha256.New, []byte(hookSecret))
		m.Write(d.body)
		if d.signature != "sha256="+hex.EncodeToString(m.Sum(nil)) {
			t.Errorf("delivery %d: X-Kiln-Signature %q does not match the body", i, d.signature)
		}
		if d.event != body.Event || d.delivery != body.DeliveryID || ids[d.delivery] || len(d.delivery) != 32 {
			t.Errorf("delivery %d: headers event %q delivery %q, body %q %q (or a repeated id)", i, d.event, d.delivery, body.Event, body.DeliveryID)
		}
		ids[d.delivery] = true
		if _, err := time.Parse(time.RFC3339, body.CreatedAt); err != nil {
			t.Errorf("delivery %d: created_at %q", i, body.CreatedAt)
		}
		if strings.Contains(string(d.body), "dapi") {
			t.Errorf("delivery %d carries a token value: %s", i, d.body)
		}
	}
	var events []string
	for _, d := range rc.deliveries() {
		events = append(events, d.event)
	}
	// Workers send concurrently: arrival order is not promised.
	slices.Sort(events)
	slices.Sort(want)
	if strings.Join(events, " ") != strings.Join(want, " ") {
		t.Errorf("events delivered: %v, want %v", events, want)
	}
	var rot map[string]any
	for _, d := range rc.deliveries() {
		if d.event == "token.rotated" {
			json.Unmarshal(d.body, &rot)
		}
	}
	if data := rot["data"].(map[string]any); data["token_id"] != id || data["successor"] != newID {
		t.Errorf("token.rotated data: %v, want token %s and successor %s", data, id, newID)
	}
}

func TestWebhookRetriesAFailingReceiver(t *testing.T) {
	e := kilntest.Start(t, kilntest.WithConfig(fastWebhooks))
	admin := e.AdminToken(t)
	// 500 twice, then 200.
	rc := newReceiver(t, func(n int) int {
		if n <= 2 {
			return 500
		}
		return 200
	})
	hook := createHook(t, e, admin, rc.URL, "token.created")
	e.Do(t, "POST", "/api/2.0/token/create", admin, map[string]any{"comment": "x"})
	var d map[string]any
	kilntest.Eventually(t, 10*time.Second, "the delivery delivered", func() bool {
		ds := e.Do(t, "GET", "/api/kiln/v1/webhooks/"+hook+"/deliveries", admin, nil).JSON(t)["deliveries"].([]any)
		if len(ds) != 1 {
			return false
		}
		d = ds[0].(map[string]any)
		return d["state"] == "delivered"
	})
	if d["attempts"].(float64) != 3 || d["last_status"].(float64) != 200 {
		t.Errorf("delivery after two 500s: %v, want 3 attempts ending 200", d)
	}
	got := rc.deliveries()
	if len(got) != 3 || got[0].delivery != got[2].delivery || string(got[0].body) != string(got[2].body) {
		t.Errorf("retries must resend the same delivery id and body: %d attempts", len(got))
	}

	// A receiver that always fails: given up after MaxAttempts.
	bad := newReceiver(t, func(int) int { return 503 })
	badHook := createHook(t, e, admin, bad.URL, "token.created")
	e.Do(t, "POST", "/api/2.0/token/create", admin, map[string]any{"comment": "y"})
	kilntest.Eventually(t, 10*time.Second, "the delivery failed", func() bool {
		ds := e.Do(t, "GET", "/api/kiln/v1/webhooks/"+badHook+"/deliveries", admin, nil).JSON(t)["deliveries"].([]any)
		return len(ds) == 1 && ds[0].(map[string]any)["state"] == "failed"
	})
	if n := len(bad.deliveries()); n != 4 {
		t.Errorf("a failing receiver got %d attempts, want MaxAttempts (4)", n)
	}
}

func TestHangingReceiverDoesNotSlowRequests(t *testing.T) {
	e := kilntest.Start(t, kilntest.WithConfig(fastWebhooks))
	admin := e.AdminToken(t)
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer hang.Close()
	defer close(release)
	createHook(t, e, admin, hang.URL, "token.created")
	e.Do(t, "POST", "/api/2.0/token/create", admin, map[string]any{"comment": "first"})
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver never got the first delivery")
	}
	// The receiver is hung on the first delivery: requests that enqueue
	// more events still answer at once.
	for i := range 5 {
		if r := e.Do(t, "POST", "/api/2.0/token/create", admin, map[string]any{"comment": "more"}); r.Status != 200 {
			t.Fatalf("token create %d while the receiver hangs: %d", i, r.Status)
		}
	}
	if len(arrived) > 5 {
		t.Errorf("more deliveries arrived than workers could hold")
	}
}

func TestWebhookAPIRefusals(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	e.NewUser(t, "bob@example.com", false)
	bob := e.Token(t, "bob@example.com", 0)
	const p = "/api/kiln/v1/webhooks"
	checkStatuses(t, e, []statusCase{
		{"non-admin create", bob, "POST", p, `{"url": "https://h.example.com", "events": ["token.created"], "secret": "` + hookSecret + `"}`, 403},
		{"non-admin list", bob, "GET", p, "", 403},
		{"no url", admin, "POST", p, `{"events": ["token.created"], "secret": "` + hookSecret + `"}`, 400},
		{"relative url", admin, "POST", p, `{"url": "/hook", "events": ["token.created"], "secret": "` + hookSecret + `"}`, 400},
		{"ftp url", admin, "POST", p, `{"url": "ftp://h.example.com", "events": ["token.created"], "secret": "` + hookSecret + `"}`, 400},
		{"credentials in url", admin, "POST", p, `{"url": "https://u:p@h.example.com", "events": ["token.created"], "secret": "` + hookSecret + `"}`, 400},
		{"no events", admin, "POST", p, `{"url": "https://h.example.com", "events": [], "secret": "` + hookSecret + `"}`, 400},
		{"unknown event", admin, "POST", p, `{"url": "https://h.example.com", "events": ["token.exploded"], "secret": "` + hookSecret + `"}`, 400},
		{"short secret", admin, "POST", p, `{"url": "https://h.example.com", "events": ["token.created"], "secret": "short"}`, 400},
		{"malformed", admin, "POST", p, `{"url": `, 400},
		{"unknown webhook", admin, "DELETE", p + "/nope", "", 404},
		{"unknown deliveries", admin, "GET", p + "/nope/deliveries", "", 404},
	})
	id := createHook(t, e, admin, "https://h.example.com/k", "token.created")
	list := e.Do(t, "GET", p, admin, nil)
	if strings.Contains(string(list.Body), hookSecret) || !strings.Contains(string(list.Body), id) {
		t.Errorf("GET webhooks: %s (must list the webhook, never its secret)", list.Body)
	}
	if r := e.Do(t, "DELETE", p+"/"+id, admin, nil); r.Status != 200 {
		t.Errorf("delete: %d %s", r.Status, r.Body)
	}
	evs := e.Do(t, "GET", "/api/kiln/v1/audit?action=webhook.create", admin, nil)
	if !strings.Contains(string(evs.Body), id) || strings.Contains(string(evs.Body), hookSecret) {
		t.Errorf("audit of the webhook: %s", evs.Body)
	}
}

// TestWebhooksHearExpiryAndNewAddresses: the token sweep announces a
// token 14, 7 and 1 days before it ends, once each however often it
// sweeps, then its expiry; the first use from an address is announced
// when the index flushes.
func TestWebhooksHearExpiryAndNewAddresses(t *testing.T) {
	e, clk, admin := lifecycleEnv(t, kilntest.WithConfig(fastWebhooks))
	rc := newReceiver(t, nil)
	createHook(t, e, admin, rc.URL, "token.expiring", "token.expired", "token.new_address")
	tok := e.NewToken(t, kilntest.AdminEmail, 10*24*time.Hour)
	of := func(event string) []map[string]string {
		var out []map[string]string
		for _, d := range rc.deliveries() {
			var body struct {
				Data map[string]string `json:"data"`
			}
			json.Unmarshal(d.body, &body)
			if d.event == event && body.Data["token_id"] == tok.Info.ID {
				out = append(out, body.Data)
			}
		}
		return out
	}
	sweep := func() {
		t.Helper()
		for range 2 { // twice: the second must add nothing
			if err := e.Svc().SweepTokens(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps := []struct {
		advance time.Duration
		event   string
		n       int
		days    string
	}{
		{0, "token.expiring", 1, "14"},
		{4 * 24 * time.Hour, "token.expiring", 2, "7"},
		{5*24*time.Hour + 12*time.Hour, "token.expiring", 3, "1"},
		{24 * time.Hour, "token.expired", 1, ""},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		sweep()
		kilntest.Eventually(t, 10*time.Second, s.event, func() bool { return len(of(s.event)) >= s.n })
		got := of(s.event)
		if len(got) != s.n {
			t.Fatalf("%s: %d deliveries, want %d", s.event, len(got), s.n)
		}
		if last := got[len(got)-1]; s.days != "" && (last["days"] != s.days || last["reason"] != "expiry") {
			t.Errorf("%s: data %v, want days %s and reason expiry", s.event, last, s.days)
		}
	}

	fresh := e.NewToken(t, kilntest.AdminEmail, 0)
	tok = fresh
	e.Do(t, "GET", "/api/2.0/token/list", fresh.Value, nil)
	if err := e.Srv.Index.FlushLastUsed(t.Context()); err != nil {
		t.Fatal(err)
	}
	kilntest.Eventually(t, 10*time.Second, "token.new_address", func() bool { return len(of("token.new_address")) == 1 })
	if a := of("token.new_address")[0]["address"]; a != "127.0.0.1" {
		t.Errorf("token.new_address address %q, want 127.0.0.1", a)
	}
}
