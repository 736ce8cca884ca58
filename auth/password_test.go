package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

func TestPasswordHashAndVerify(t *testing.T) {
	ctx := context.Background()
	h, err := HashPassword(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=1$") {
		t.Fatalf("unexpected PHC string %q", h)
	}
	tests := []struct {
		name, hash, pw string
		want           bool
	}{
		{"Correct", h, "correct horse battery staple", true},
		{"Wrong", h, "correct horse battery stapl", false},
		{"Empty", h, "", false},
		{"MalformedHash", "$argon2id$v=19$garbage", "x", false},
		{"OtherAlgorithm", strings.Replace(h, "argon2id", "argon2i", 1), "correct horse battery staple", false},
		{"HugeMemoryRefused", strings.Replace(h, "m=65536", "m=99999999", 1), "correct horse battery staple", false},
		{"NoHash", "", "correct horse battery staple", false},
		{"NoHashNoPassword", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := VerifyPassword(ctx, tt.hash, tt.pw); got != tt.want || err != nil {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	h2, _ := HashPassword(ctx, "correct horse battery staple")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
}

func TestPasswordPolicy(t *testing.T) {
	if CheckPasswordPolicy("short") == nil {
		t.Fatal("short password accepted")
	}
	if CheckPasswordPolicy(strings.Repeat("x", 2000)) == nil {
		t.Fatal("huge password accepted")
	}
	if err := CheckPasswordPolicy(NewPassword()); err != nil {
		t.Fatalf("generated password refused: %v", err)
	}
}

// TestPasswordHashingIsBounded runs many hashes and checks at once, of
// every kind (new hashes, right and wrong passwords, the empty hash that
// stands in for unknown users): no more than MaxConcurrentHashes
// argon2id computations may ever run together, and the others wait.
func TestPasswordHashingIsBounded(t *testing.T) {
	ctx := context.Background()
	h, err := HashPassword(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	const callers = 4 * MaxConcurrentHashes
	var wg sync.WaitGroup
	var maxWaiting int
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				_, err = HashPassword(ctx, "another password here")
			case 1:
				var ok bool
				ok, err = VerifyPassword(ctx, h, "correct horse battery staple")
				if err == nil && !ok {
					err = errors.New("the right password did not match")
				}
			default:
				_, err = VerifyPassword(ctx, "", "whatever")
			}
			errs <- err
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(time.Millisecond):
		}
		st := PasswordHashStats()
		if st.Running > MaxConcurrentHashes {
			t.Errorf("%d computations running at once, the limit is %d", st.Running, MaxConcurrentHashes)
		}
		maxWaiting = max(maxWaiting, st.Waiting)
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := PasswordHashStats()
	if st.PeakRunning != MaxConcurrentHashes {
		t.Errorf("peak of %d computations at once, want the limit %d", st.PeakRunning, MaxConcurrentHashes)
	}
	if maxWaiting == 0 {
		t.Errorf("no caller was seen waiting among %d", callers)
	}
	if st.Running != 0 || st.Waiting != 0 {
		t.Errorf("after all returned: %+v", st)
	}
}

// TestPasswordHashingHonoursContext fills every slot and checks that a
// caller whose context ends while it waits gets EUnavailable wrapping
// ErrHashBusy, without computing anything, and that a context that has
// already ended never starts a computation.
func TestPasswordHashingHonoursContext(t *testing.T) {
	for range MaxConcurrentHashes {
		hashSlots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, verr := VerifyPassword(ctx, "", "password")
	_, herr := HashPassword(ctx, "password")
	for range MaxConcurrentHashes {
		<-hashSlots
	}
	for _, err := range []error{verr, herr} {
		if !errors.Is(err, ErrHashBusy) || !errors.Is(err, context.DeadlineExceeded) || kiln.ErrorCode(err) != kiln.EUnavailable {
			t.Errorf("got %v (%s), want EUnavailable wrapping ErrHashBusy and the deadline", err, kiln.ErrorCode(err))
		}
	}
	if st := PasswordHashStats(); st.Waiting != 0 || st.Running != 0 {
		t.Errorf("after the wait ended: %+v", st)
	}
}

// BenchmarkVerifyPassword compares checking a password against a stored
// hash (a known user) with checking it against the empty hash that stands
// in for an unknown user: the two must cost the same, so that the time of
// a refusal does not tell whether the user exists. The two alternate in
// one loop, so that the machine's other load falls on both alike; the
// metrics are the mean time of each and their ratio.
func BenchmarkVerifyPassword(b *testing.B) {
	ctx := context.Background()
	h, err := HashPassword(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	var spent [2]time.Duration
	var n [2]int
	i := 0
	for b.Loop() {
		hash := [2]string{h, ""}[i%2]
		start := time.Now()
		if _, err := VerifyPassword(ctx, hash, "not the password"); err != nil {
			b.Fatal(err)
		}
		spent[i%2] += time.Since(start)
		n[i%2]++
		i++
	}
	if n[0] == 0 || n[1] == 0 {
		return
	}
	known, unknown := float64(spent[0])/float64(n[0]), float64(spent[1])/float64(n[1])
	b.ReportMetric(known/1e6, "known-ms/check")
	b.ReportMetric(unknown/1e6, "unknown-ms/check")
	b.ReportMetric(unknown/known, "unknown/known")
}
