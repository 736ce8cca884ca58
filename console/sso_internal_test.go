package console

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestAttemptCodec(t *testing.T) {
	c := &Console{sealer: newSealer([]byte("0123456789abcdef0123456789abcdef"))}
	now := time.Now()
	good := ssoAttempt{State: "st", Nonce: "no", Verifier: "ve", Redirect: "https://kiln.example.com/login/sso/callback",
		Next: "/jobs/1", Expires: now.Add(time.Minute).Unix()}
	v := c.encodeAttempt(good)
	if got, ok := c.decodeAttempt(v, now); !ok || got != good {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	offsite := good
	offsite.Next = "//evil.example.com/"
	tests := []struct {
		name  string
		value string
		at    time.Time
		ok    bool
		next  string
	}{
		{"lapsed", v, now.Add(2 * time.Minute), false, ""},
		{"tampered", strings.Replace(v, "~", "x~", 1), now, false, ""},
		{"sealed for the session", c.sealer.seal("session", strings.SplitN(v, "~", 2)[0]), now, false, ""},
		{"not base64", c.sealer.seal("sso", "!!"), now, false, ""},
		{"not JSON", c.sealer.seal("sso", base64.RawURLEncoding.EncodeToString([]byte("nope"))), now, false, ""},
		{"no state", c.encodeAttempt(ssoAttempt{Verifier: "v", Expires: now.Add(time.Minute).Unix()}), now, false, ""},
		{"off-site next is dropped", c.encodeAttempt(offsite), now, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := c.decodeAttempt(tc.value, tc.at)
			if ok != tc.ok || (ok && got.Next != tc.next) {
				t.Fatalf("decodeAttempt = %+v, %v; want ok %v next %q", got, ok, tc.ok, tc.next)
			}
		})
	}
}

// FuzzDecodeAttempt feeds the attempt cookie's decoder what a browser
// may send: it must not panic, and whatever it accepts has a state, a
// verifier, a future expiry and a local next path.
func FuzzDecodeAttempt(f *testing.F) {
	c := &Console{sealer: newSealer([]byte("0123456789abcdef0123456789abcdef"))}
	f.Add(`{"s":"a","n":"b","v":"c","r":"http://x/cb","x":"/jobs","e":99999999999}`, false)
	f.Add(`{"s":"a","v":"c","x":"//evil","e":99999999999}`, true)
	f.Add("garbage~garbage", false)
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, s string, raw bool) {
		value := s
		if !raw {
			value = c.sealer.seal("sso", base64.RawURLEncoding.EncodeToString([]byte(s)))
		}
		a, ok := c.decodeAttempt(value, now)
		if !ok {
			return
		}
		if a.State == "" || a.Verifier == "" || a.Expires < now.Unix() || a.Next != localPath(a.Next) {
			t.Fatalf("accepted %+v", a)
		}
	})
}
