package kiln

import "testing"

// TestAccountID: the account id is a function of the workspace id and
// the key fingerprint alone, so every replica and restart agree.
func TestAccountID(t *testing.T) {
	w := Workspace{ID: 1234567890123456, KeyFingerprint: "abc"}
	a := w.AccountID()
	if len(a) != 36 || a[14] != '8' || a != (Workspace{ID: w.ID, KeyFingerprint: "abc"}).AccountID() {
		t.Fatalf("AccountID %q is not a stable version 8 UUID", a)
	}
	for _, o := range []Workspace{{ID: w.ID + 1, KeyFingerprint: "abc"}, {ID: w.ID, KeyFingerprint: "abd"}} {
		if o.AccountID() == a {
			t.Fatalf("%+v shares account id %s", o, a)
		}
	}
}
