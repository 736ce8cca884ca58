package console

// The console's unit tests, inside the package. Tests that drive a
// running kiln are in package console_test: they start it through
// package server, which imports this one.

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
)

func TestTemplatesParse(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range pageNames {
		if pages[name] == nil {
			t.Errorf("page %s is missing", name)
		}
	}
	if _, err := loadStatic(); err != nil {
		t.Fatal(err)
	}
}

func TestSessionCodec(t *testing.T) {
	s := newSealer([]byte("0123456789abcdef0123456789abcdef"))
	now := time.UnixMilli(time.Now().UnixMilli())
	in := session{UserID: 42, Issued: now.Add(-time.Hour), Active: now}
	v := s.encodeSession(in)
	out, ok := s.decodeSession(v)
	if !ok || out.UserID != 42 || !out.Issued.Equal(in.Issued) || !out.Active.Equal(in.Active) {
		t.Fatalf("round trip: %+v %v", out, ok)
	}
	for _, bad := range []string{"", "x", v + "x", strings.Replace(v, ".42.", ".43.", 1), s.seal("flash", "v1.42.1.2")} {
		if _, ok := s.decodeSession(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
	other := newSealer([]byte("another key, another key, abcdef"))
	if _, ok := other.decodeSession(v); ok {
		t.Error("a session sealed under another key is accepted")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0ms", 850 * time.Millisecond: "850ms", 42 * time.Second: "42s", 185 * time.Second: "3m 05s",
		2*time.Hour + 10*time.Minute: "2h 10m", 47 * time.Hour: "47h 00m", 76 * time.Hour: "3d 4h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestClips(t *testing.T) {
	s := strings.Repeat("é", 100) + "\nlast line\n"
	c := tailClip(s, 30)
	if !utf8.ValidString(c.Text) || c.Text != "last line\n" || c.Omitted != len(s)-len(c.Text) || c.Size != len(s) {
		t.Errorf("tailClip: %+v", c)
	}
	if c := tailClip("short", 30); c.Text != "short" || c.Omitted != 0 {
		t.Errorf("tailClip of a short text: %+v", c)
	}
	c = headClip(strings.Repeat("é", 100), 51)
	if !utf8.ValidString(c.Text) || len(c.Text) != 50 || c.Omitted != 150 {
		t.Errorf("headClip: %+v", c)
	}
	if got := (clip{Text: strings.Repeat("x", 2048), Size: 3 << 20}); got.ShownSize() != "2.0 KiB" || got.TotalSize() != "3.0 MiB" {
		t.Errorf("sizes: %s of %s", got.ShownSize(), got.TotalSize())
	}
}

func TestStateBadges(t *testing.T) {
	for _, c := range []struct {
		lc, result, text, classes string
	}{
		{kiln.LifeCycleQueued, "", "QUEUED", "badge-off"},
		{kiln.LifeCycleRunning, "", "RUNNING", "badge-run"},
		{kiln.LifeCycleTerminating, kiln.ResultCanceled, "TERMINATING", "badge-run"}, // no result before the end
		{kiln.LifeCycleWaitingForRetry, "", "WAITING_FOR_RETRY", "badge-warn"},
		{kiln.LifeCycleTerminated, kiln.ResultSuccess, "TERMINATED, SUCCESS", "badge-off badge-ok"},
		{kiln.LifeCycleTerminated, kiln.ResultFailed, "TERMINATED, FAILED", "badge-off badge-fail"},
		{kiln.LifeCycleTerminated, kiln.ResultTimedOut, "TERMINATED, TIMEDOUT", "badge-off badge-fail"},
		{kiln.LifeCycleTerminated, kiln.ResultCanceled, "TERMINATED, CANCELED", "badge-off badge-warn"},
		{kiln.LifeCycleTerminated, kiln.ResultExcluded, "TERMINATED, EXCLUDED", "badge-off badge-off"},
		{kiln.LifeCycleInternalErr, kiln.ResultFailed, "INTERNAL_ERROR, FAILED", "badge-fail badge-fail"},
		{"", "", "PENDING", "badge-off"},
	} {
		s := stateOf(c.lc, c.result, "")
		if s.Text() != c.text || strings.TrimSpace(s.LifeClass+" "+s.ResultClass) != c.classes || s.Active != !kiln.IsTerminal(c.lc) {
			t.Errorf("stateOf(%q, %q) = %q %q %q", c.lc, c.result, s.Text(), s.LifeClass, s.ResultClass)
		}
	}
}

// TestLoginGuardPerEmail: the per-email budget holds across addresses.
func TestLoginGuardPerEmail(t *testing.T) {
	g := newLoginGuard(time.Now)
	for i := 0; i < 21; i++ {
		g.failed("10.0.0."+string(rune('a'+i)), "victim@example.com")
	}
	if !g.blocked("10.9.9.9", "Victim@Example.com") {
		t.Error("a guesser spreading over addresses is not blocked per email")
	}
	if g.blocked("10.9.9.9", "other@example.com") {
		t.Error("another email is blocked too")
	}
}
