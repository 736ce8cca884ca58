package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/sqlstore"
	"github.com/kiln-dev/kiln/webhook"
)

func TestSign(t *testing.T) {
	for _, c := range []struct{ secret, body, want string }{
		// HMAC-SHA256 test vectors (RFC 4231, test case 2).
		{"Jefe", "what do ya want for nothing?", "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		// RFC 4231, test case 1.
		{"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b", "Hi There", "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	} {
		if got := webhook.Sign([]byte(c.secret), []byte(c.body)); got != c.want {
			t.Errorf("Sign(%q, %q) = %s, want %s", c.secret, c.body, got, c.want)
		}
	}
}

// TestTwoReplicasDeliverEachEventOnce runs two deliverers, as two
// replicas would, over one store: every delivery reaches the receiver
// exactly once.
func TestTwoReplicasDeliverEachEventOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "kiln.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen[r.Header.Get(webhook.DeliveryHeader)]++
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // long enough for the other replica to try
	}))
	defer rc.Close()
	const events = 40
	err = st.Update(ctx, func(tx kiln.Tx) error {
		if err := tx.CreateWebhook(&kiln.Webhook{ID: "h", URL: rc.URL, Events: []string{kiln.EventTokenCreated}, SealedSecret: []byte("x")}); err != nil {
			return err
		}
		for range events {
			if err := tx.EnqueueEvent(kiln.Event{Type: kiln.EventTokenCreated}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int64
	cfg := webhook.Config{Store: st, Poll: 5 * time.Millisecond, Workers: 3,
		Secret:   func(*kiln.Webhook) ([]byte, error) { return []byte("secret"), nil },
		OnResult: func(_, result string) { attempts.Add(1) }}
	for range 2 {
		go webhook.New(cfg).Run(ctx)
	}
	deadline := time.Now().Add(20 * time.Second)
	for attempts.Load() < events && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a duplicate would arrive now
	if n := attempts.Load(); n != events {
		t.Errorf("%d attempts recorded, want %d", n, events)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != events {
		t.Errorf("%d distinct deliveries reached the receiver, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s arrived %d times", id, n)
		}
	}
}
