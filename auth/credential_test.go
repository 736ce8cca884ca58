package auth

import (
	"encoding/base64"
	"errors"
	"testing"
)

func basic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseAuthorization(t *testing.T) {
	const tok = "dapi0123456789abcdef0123456789abcdef"
	tests := []struct {
		name   string
		header string
		want   Credential
		err    error
	}{
		{"Bearer", "Bearer " + tok, Credential{Token: tok}, nil},
		{"BearerLowercaseScheme", "bearer " + tok, Credential{Token: tok}, nil},
		{"BearerExtraSpaces", "  Bearer   " + tok + "  ", Credential{Token: tok}, nil},
		{"BasicTokenUser", basic("token:" + tok), Credential{Token: tok, User: "token"}, nil},
		{"BasicOwnerUser", basic("jane@example.com:" + tok), Credential{Token: tok, User: "jane@example.com"}, nil},
		{"Empty", "", Credential{}, ErrNoCredential},
		{"OtherScheme", "Digest abc", Credential{}, ErrNoCredential},
		{"SchemeOnly", "Bearer", Credential{}, ErrBadCredential},
		{"BearerWithSpaceInside", "Bearer a b", Credential{}, ErrBadCredential},
		{"BasicNotBase64", "Basic %%%", Credential{}, ErrBadCredential},
		{"BasicNoColon", basic("token"), Credential{}, ErrBadCredential},
		{"BasicEmptyPassword", basic("token:"), Credential{}, ErrBadCredential},
		{"BasicEmptyUser", basic(":" + tok), Credential{}, ErrBadCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAuthorization(tt.header)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err: got %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWellFormed(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"dapi0123456789abcdef0123456789abcdef", true},
		{"dapi0123456789abcdef0123456789abcdef-2", true},
		{NewTokenValue(), true},
		{"dapi0123456789abcdef0123456789abcde", false},   // short
		{"dapi0123456789abcdef0123456789abcdef0", false}, // long
		{"dapi0123456789ABCDEF0123456789abcdef", false},  // upper case
		{"dapx0123456789abcdef0123456789abcdef", false},  // prefix
		{"dapi0123456789abcdef0123456789abcdef-x", false},
		{"dapi0123456789abcdef0123456789abcdefx2", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := WellFormed(tt.v); got != tt.want {
			t.Errorf("WellFormed(%q): got %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestNewTokenIDAndValueAreFresh(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		v, id := NewTokenValue(), NewTokenID()
		if !WellFormed(v) || !ValidTokenID(id) {
			t.Fatalf("malformed: value %q id %q", v, id)
		}
		if seen[v] || seen[id] {
			t.Fatal("duplicate value or id")
		}
		seen[v], seen[id] = true, true
	}
}

// FuzzParseAuthorization checks that no header crashes the parser and that
// whatever it accepts is a non-empty token without spaces.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer dapi0123456789abcdef0123456789abcdef", basic("token:x"), "Basic", "Bearer ", "basic ====", "\x00", "Bearer \t x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		c, err := ParseAuthorization(header)
		if err != nil {
			if c != (Credential{}) {
				t.Fatalf("error %v with non-empty credential %+v", err, c)
			}
			return
		}
		if c.Token == "" {
			t.Fatalf("accepted %q with an empty token", header)
		}
		if c.User == "" && (len(c.Token) == 0 || containsSpace(c.Token)) {
			t.Fatalf("accepted bearer token with spaces: %q", c.Token)
		}
	})
}

func containsSpace(s string) bool {
	for _, r := range s {
		if r == ' ' || r == '\t' {
			return true
		}
	}
	return false
}

// FuzzWellFormed checks WellFormed against a straightforward reference.
func FuzzWellFormed(f *testing.F) {
	f.Add("dapi0123456789abcdef0123456789abcdef")
	f.Add("dapi0123456789abcdef0123456789abcdef-9")
	f.Add("dapi")
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := WellFormed(v), referenceWellFormed(v); got != want {
			t.Fatalf("WellFormed(%q) = %v, reference says %v", v, got, want)
		}
	})
}

func referenceWellFormed(v string) bool {
	if len(v) != 36 && len(v) != 38 {
		return false
	}
	if v[:4] != "dapi" {
		return false
	}
	for _, c := range v[4:36] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return len(v) == 36 || (v[36] == '-' && '0' <= v[37] && v[37] <= '9')
}
