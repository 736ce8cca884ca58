package auth

import (
	"bytes"
	"strings"
	"testing"
)

func newBox(t *testing.T, hexKey string) *SecretBox {
	t.Helper()
	k, err := ParseKey(hexKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSecretBox(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	keyA = strings.Repeat("0a", 32)
	keyB = strings.Repeat("0b", 32)
)

func TestSecretBox(t *testing.T) {
	a, b := newBox(t, keyA), newBox(t, keyB)
	value := []byte("hunter2")
	sealed := a.Seal("etl", "pw", value)
	if bytes.Contains(sealed, value) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := a.Seal("etl", "pw", value); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	if a.Fingerprint() == b.Fingerprint() || a.Fingerprint() == "" {
		t.Fatalf("fingerprints %q and %q", a.Fingerprint(), b.Fingerprint())
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	badVersion := bytes.Clone(sealed)
	badVersion[0] = 9
	tests := []struct {
		name       string
		box        *SecretBox
		scope, key string
		sealed     []byte
		ok         bool
	}{
		{"Opens", a, "etl", "pw", sealed, true},
		{"OtherKey", b, "etl", "pw", sealed, false},
		{"OtherScope", a, "etl2", "pw", sealed, false},
		{"OtherSecretKey", a, "etl", "pw2", sealed, false},
		{"ShiftedBoundary", a, "etl\x00pw", "", sealed, false},
		{"Tampered", a, "etl", "pw", tampered, false},
		{"UnknownVersion", a, "etl", "pw", badVersion, false},
		{"Truncated", a, "etl", "pw", sealed[:5], false},
		{"Empty", a, "etl", "pw", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.scope, tt.key, tt.sealed)
			if tt.ok != (err == nil) || (tt.ok && !bytes.Equal(got, value)) {
				t.Fatalf("Open: %q, %v; want ok=%v", got, err, tt.ok)
			}
		})
	}
	// Empty values seal and open.
	if got, err := a.Open("s", "k", a.Seal("s", "k", nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty value: %q, %v", got, err)
	}
}
