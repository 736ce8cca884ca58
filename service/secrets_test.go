package service

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/sqlstore"
)

// newBox returns a secret box under the key written as hex.
func newBox(t *testing.T, hexKey string) *auth.SecretBox {
	t.Helper()
	k, err := auth.ParseKey(hexKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.NewSecretBox(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInitSecretsRecordsAndChecksTheKey(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "kiln.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, b := newBox(t, strings.Repeat("0a", 32)), newBox(t, strings.Repeat("0b", 32))
	for i, c := range []struct {
		box  *auth.SecretBox
		fail bool
	}{{a, false}, {a, false}, {b, true}, {a, false}} {
		err := InitSecrets(context.Background(), st, c.box)
		if c.fail != (err != nil) {
			t.Fatalf("step %d: InitSecrets: %v, want failure %v", i, err, c.fail)
		}
		if c.fail && !strings.Contains(kiln.ErrorMessage(err), a.Fingerprint()) {
			t.Errorf("refusal should name the recorded fingerprint: %v", err)
		}
	}
}
