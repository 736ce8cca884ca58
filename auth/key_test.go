package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "token.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first load: created %v, err %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("key file mode: got %o, want 600", got)
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("second load: created %v, err %v", created, err)
	}
	if k1.Digest("x") != k2.Digest("x") || k1.Fingerprint() != k2.Fingerprint() {
		t.Fatal("reloaded key differs")
	}
	other, _ := ParseKey(strings.Repeat("ab", KeySize))
	if other.Digest("x") == k1.Digest("x") || other.Fingerprint() == k1.Fingerprint() {
		t.Fatal("different keys give the same digest")
	}
	if err := os.WriteFile(path, []byte("not hex"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeyFile(path); err == nil {
		t.Fatal("a corrupt key file was accepted")
	}
}

func TestParseKeyRejectsWrongSizes(t *testing.T) {
	for _, s := range []string{"", "abcd", strings.Repeat("a", 63), strings.Repeat("a", 66), strings.Repeat("zz", 32)} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

func TestDigestIsDeterministicAndNotTheValue(t *testing.T) {
	k, _ := ParseKey(strings.Repeat("01", KeySize))
	v := NewTokenValue()
	d1, d2 := k.Digest(v), k.Digest(v)
	if d1 != d2 {
		t.Fatal("digest not deterministic")
	}
	if strings.Contains(string(d1[:]), v) {
		t.Fatal("digest contains the value")
	}
}
