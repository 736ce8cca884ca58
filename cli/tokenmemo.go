package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kiln-dev/kiln/client"
)

// tokenMemo remembers when the tokens the CLI has seen expire, so that a
// rejected token can be explained ("expired 3 days ago") although the
// server, like Databricks, answers only "Invalid access token." for every
// refused token. It is a cache in the user's cache directory
// (~/.cache/kiln/tokens.json): losing it only makes messages vaguer.
//
// Entries are keyed by a fingerprint of the token (a truncated SHA-256 of
// a 128-bit random secret: it identifies the token without revealing it),
// never the token itself.
type tokenMemo struct {
	path string
}

type memoEntry struct {
	TokenID    string `json:"token_id"`
	ExpiryTime int64  `json:"expiry_time"`
	Host       string `json:"host"`
	Seen       int64  `json:"seen"`
}

type memoFile struct {
	Tokens map[string]memoEntry `json:"tokens"`
}

// maxMemoEntries bounds the file.
const maxMemoEntries = 200

func newTokenMemo() *tokenMemo {
	dir, err := os.UserCacheDir()
	if err != nil {
		return &tokenMemo{}
	}
	return &tokenMemo{path: filepath.Join(dir, "kiln", "tokens.json")}
}

func fingerprint(token string) string {
	sum := sha256.Sum256([]byte("kiln token fingerprint v1\n" + token))
	return hex.EncodeToString(sum[:16])
}

func (m *tokenMemo) load() memoFile {
	f := memoFile{Tokens: map[string]memoEntry{}}
	if m.path == "" {
		return f
	}
	b, err := os.ReadFile(m.path)
	if err != nil {
		return f
	}
	if json.Unmarshal(b, &f) != nil || f.Tokens == nil {
		f.Tokens = map[string]memoEntry{}
	}
	return f
}

// remember records a token's expiry. Errors are ignored: it is a cache.
func (m *tokenMemo) remember(token, host string, info *client.TokenInfo, now time.Time) {
	if m.path == "" || info == nil {
		return
	}
	f := m.load()
	f.Tokens[fingerprint(token)] = memoEntry{TokenID: info.TokenID, ExpiryTime: info.ExpiryTime, Host: host, Seen: now.UnixMilli()}
	if len(f.Tokens) > maxMemoEntries {
		keys := make([]string, 0, len(f.Tokens))
		for k := range f.Tokens {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return f.Tokens[keys[i]].Seen > f.Tokens[keys[j]].Seen })
		for _, k := range keys[maxMemoEntries:] {
			delete(f.Tokens, k)
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(m.path), 0o700) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(m.path), "tokens-*.tmp")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), m.path) != nil {
		os.Remove(tmp.Name())
	}
}

// lookup returns what is remembered about a token.
func (m *tokenMemo) lookup(token string) (memoEntry, bool) {
	e, ok := m.load().Tokens[fingerprint(token)]
	return e, ok
}
