package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// SecretBox seals and opens secret values with AES-256-GCM before they
// reach the store, under a key that lives outside the database (the
// secrets key), so that a stolen database alone reveals no secret. Each
// value is bound to its scope and key (additional data), so a sealed
// value copied to another row does not open. It is safe for concurrent
// use.
type SecretBox struct {
	aead        cipher.AEAD
	fingerprint string
}

// sealVersion is the first byte of every sealed value: a later key or
// cipher can be told apart from this one.
const sealVersion = 1

// NewSecretBox returns a box whose AES-256 key is derived from key (the
// secrets key, in the token key's format: 32 random bytes, hex in its file)
// by HMAC-SHA256 under a fixed label, so the raw key itself is used for
// nothing else. Its fingerprint is key.Fingerprint().
func NewSecretBox(key *Key) (*SecretBox, error) {
	k := key.Digest("kiln secrets AES-256-GCM key v1")
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead, fingerprint: key.Fingerprint()}, nil
}

// Fingerprint identifies the key without revealing it.
func (b *SecretBox) Fingerprint() string { return b.fingerprint }

// additionalData binds a sealed value to its scope and key.
func additionalData(scope, key string) []byte {
	return []byte("kiln secret\x00" + scope + "\x00" + key)
}

// Seal encrypts value for scope/key: version byte, random nonce, then the
// ciphertext with its tag.
func (b *SecretBox) Seal(scope, key string, value []byte) []byte {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(value)+b.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return b.aead.Seal(out, out[1:], value, additionalData(scope, key))
}

// Open decrypts what Seal returned for the same scope and key.
func (b *SecretBox) Open(scope, key string, sealed []byte) ([]byte, error) {
	n := 1 + b.aead.NonceSize()
	if len(sealed) < n || sealed[0] != sealVersion {
		return nil, errors.New("secret: unknown sealed value format")
	}
	v, err := b.aead.Open(nil, sealed[1:n], sealed[n:], additionalData(scope, key))
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s does not open with this key: %w", scope, key, err)
	}
	return v, nil
}
