package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// KeySize is the size of the token key in bytes.
const KeySize = 32

// Key is the server's secret token key. Token values are stored only as
// HMAC-SHA256(key, value), and the key lives outside the database, so a
// stolen database alone cannot be used to test guessed tokens.
//
// A Key is safe for concurrent use.
type Key struct {
	secret []byte
	pool   *sync.Pool
}

// NewKey returns a Key for the given secret, which must be KeySize bytes.
func NewKey(secret []byte) (*Key, error) {
	if len(secret) != KeySize {
		return nil, fmt.Errorf("token key must be %d bytes, got %d", KeySize, len(secret))
	}
	s := append([]byte(nil), secret...)
	k := &Key{secret: s}
	k.pool = &sync.Pool{New: func() any { return &hasher{h: hmac.New(sha256.New, s)} }}
	return k, nil
}

// ParseKey decodes a key written as hex (64 characters, surrounding space
// ignored), the format of key files and KILN_TOKEN_KEY.
func ParseKey(text string) (*Key, error) {
	b, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, errors.New("token key is not hex")
	}
	return NewKey(b)
}

// LoadKeyFile reads the hex key at path; an error wrapping
// [fs.ErrNotExist] means there is none.
func LoadKeyFile(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreateKeyFile reads the hex key at path, creating it with a fresh
// random key and mode 0600 when it does not exist. created reports whether
// it did.
func LoadOrCreateKeyFile(path string) (k *Key, created bool, err error) {
	k, err = LoadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	// O_EXCL: two processes starting at once must not each write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateKeyFile(path)
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := f.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	k, err = NewKey(secret)
	return k, true, err
}

// hasher is a pooled HMAC with buffers of its own, so that digesting a
// token on the request path allocates nothing (slices passed to an
// interface method would otherwise escape to the heap).
type hasher struct {
	h   hash.Hash
	in  [128]byte
	out [sha256.Size]byte
}

// Digest returns HMAC-SHA256(key, value): what the store keeps instead of
// the token.
func (k *Key) Digest(value string) [sha256.Size]byte {
	x := k.pool.Get().(*hasher)
	x.h.Reset()
	if len(value) <= len(x.in) {
		n := copy(x.in[:], value)
		x.h.Write(x.in[:n])
	} else {
		x.h.Write([]byte(value))
	}
	x.h.Sum(x.out[:0])
	d := x.out
	k.pool.Put(x)
	return d
}

// Fingerprint identifies the key without revealing it: the store records
// it at initialisation so a server started with another key refuses to run
// instead of rejecting every token.
func (k *Key) Fingerprint() string {
	d := k.Digest("kiln key fingerprint v1")
	return hex.EncodeToString(d[:8])
}
