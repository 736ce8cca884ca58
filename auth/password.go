package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"

	"github.com/kiln-dev/kiln"
)

// argon2id parameters: RFC 9106's second recommended option (64 MiB, 3
// passes) with one lane, which costs about 60 ms on the small machines kiln
// targets: slow for a guesser, fine for a person signing in.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// MinPasswordLength is the shortest password kiln accepts.
const MinPasswordLength = 12

// MaxConcurrentHashes is how many argon2id computations run at once in a
// process. Each holds argonMemory (64 MiB) for its whole duration, so
// without a bound a flood of sign-ins costs 64 MiB per request in flight;
// with it, a process never holds more than this many, and the others wait
// their turn. Two keep both cores of a small machine busy.
const MaxConcurrentHashes = 2

// hashSlots is the semaphore of argon2id computations.
var hashSlots = make(chan struct{}, MaxConcurrentHashes)

// hashing counts computations: running now (at most MaxConcurrentHashes),
// waiting for a slot, and the most ever running at once.
var hashing struct {
	running, waiting, peak atomic.Int64
}

// HashStats is a snapshot of password hashing in this process.
type HashStats struct {
	Running     int // argon2id computations running now
	Waiting     int // callers waiting for one of the MaxConcurrentHashes slots
	PeakRunning int // the most computations ever seen running at once
}

// PasswordHashStats reports the password hashing load of this process.
func PasswordHashStats() HashStats {
	return HashStats{Running: int(hashing.running.Load()), Waiting: int(hashing.waiting.Load()), PeakRunning: int(hashing.peak.Load())}
}

// ErrHashBusy is the cause of the error a password function returns when
// its context ends while it waits for a hashing slot. That error is a
// [kiln.Error] with code EUnavailable (a 503, which clients retry).
var ErrHashBusy = errors.New("waiting for a password hashing slot")

func hashBusy(ctx context.Context) error {
	return &kiln.Error{Code: kiln.EUnavailable, Message: "The server is busy checking other passwords; try again in a moment.",
		Err: fmt.Errorf("%w: %w", ErrHashBusy, context.Cause(ctx))}
}

// idKey is argon2.IDKey under the semaphore: the only way this package
// computes argon2id. It waits for a slot as long as ctx allows.
func idKey(ctx context.Context, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
	if ctx.Err() != nil {
		return nil, hashBusy(ctx)
	}
	hashing.waiting.Add(1)
	select {
	case hashSlots <- struct{}{}:
		hashing.waiting.Add(-1)
	case <-ctx.Done():
		hashing.waiting.Add(-1)
		return nil, hashBusy(ctx)
	}
	n := hashing.running.Add(1)
	for p := hashing.peak.Load(); n > p && !hashing.peak.CompareAndSwap(p, n); p = hashing.peak.Load() {
	}
	sum := argon2.IDKey(password, salt, time, memory, threads, keyLen)
	// The 64 MiB just used is garbage now. Collect it before giving up the
	// slot, so that the next computation reuses those pages instead of the
	// heap growing towards the pacer's goal (twice the live heap, which a
	// computation in flight inflates); and when no other computation runs
	// or waits, hand the pages back to the OS, so that a server sits at its
	// small idle size between sign-ins rather than at the size of its last
	// burst. Either costs about a millisecond against the computation's 60
	// or more.
	if hashing.running.Add(-1) == 0 && hashing.waiting.Load() == 0 {
		debug.FreeOSMemory()
	} else {
		runtime.GC()
	}
	<-hashSlots
	return sum, nil
}

// HashPassword returns an argon2id PHC string for password. It waits for
// a hashing slot (see MaxConcurrentHashes) while ctx allows; when ctx ends
// first, the error is EUnavailable and wraps ErrHashBusy.
func HashPassword(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum, err := idKey(ctx, []byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	if err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// equalisingSalt is the salt of the computation that stands in for a
// user without a hash. Its value does not matter: the result is never
// compared, it is only worth its time.
var equalisingSalt = make([]byte, argonSaltLen)

// VerifyPassword reports whether password matches the PHC string hash,
// comparing in constant time. A malformed hash never matches. An empty
// hash never matches either but costs what checking a hash made by
// HashPassword costs, so that a caller checking a user who does not exist
// (or has no password) takes as long as for one who does, and the time of
// an answer does not tell which user names exist. Like HashPassword it
// waits for a hashing slot while ctx allows, and otherwise returns an
// EUnavailable error wrapping ErrHashBusy.
func VerifyPassword(ctx context.Context, hash, password string) (bool, error) {
	if hash == "" {
		_, err := idKey(ctx, []byte(password), equalisingSalt, argonTime, argonMemory, argonThreads, argonKeyLen)
		return false, err
	}
	var version int
	var memory uint32
	var time uint32
	var threads uint8
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, nil
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, nil
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil {
		return false, nil
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || memory > 1<<20 || time > 16 || threads == 0 {
		return false, nil
	}
	got, err := idKey(ctx, []byte(password), salt, time, memory, threads, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NewPassword returns a strong random password (24 characters of base64url,
// 144 bits) for generated accounts.
func NewPassword() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CheckPasswordPolicy returns an error describing why password is
// unacceptable, or nil.
func CheckPasswordPolicy(password string) error {
	if len(password) < MinPasswordLength {
		return fmt.Errorf("password must be at least %d characters", MinPasswordLength)
	}
	if len(password) > 1024 {
		return errors.New("password must be at most 1024 characters")
	}
	return nil
}
