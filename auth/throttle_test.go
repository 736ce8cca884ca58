package auth

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	th := NewThrottle(2, 3)
	th.now = func() time.Time { return now }
	for i := range 3 {
		if !th.Fail("a") {
			t.Fatalf("failure %d refused within burst", i+1)
		}
	}
	if th.Fail("a") {
		t.Fatal("4th failure allowed past burst")
	}
	if !th.Fail("b") {
		t.Fatal("another address was throttled")
	}
	now = now.Add(500 * time.Millisecond) // refills one at 2/s
	if !th.Fail("a") {
		t.Fatal("not refilled after 500ms")
	}
	if th.Fail("a") {
		t.Fatal("refilled more than the rate allows")
	}
	if got := th.RetryAfter(); got != 500*time.Millisecond {
		t.Fatalf("RetryAfter: got %v, want 500ms", got)
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	th := NewThrottle(1, 1)
	for i := range maxClients + 10 {
		th.Fail(string(rune(i)) + "x")
	}
	if n := len(th.clients); n > maxClients {
		t.Fatalf("tracking %d clients, more than %d", n, maxClients)
	}
}
