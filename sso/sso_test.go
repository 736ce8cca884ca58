package sso

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // a substring of the error; "" for valid
	}{
		{"https", Config{Issuer: "https://login.example.com/realms/x", ClientID: "kiln"}, ""},
		{"loopback http", Config{Issuer: "http://127.0.0.1:5556/dex", ClientID: "kiln"}, ""},
		{"localhost http", Config{Issuer: "http://localhost:5556", ClientID: "kiln"}, ""},
		{"no issuer", Config{ClientID: "kiln"}, "the issuer URL is required"},
		{"remote http", Config{Issuer: "http://login.example.com", ClientID: "kiln"}, "must use https"},
		{"other scheme", Config{Issuer: "ftp://login.example.com", ClientID: "kiln"}, "must be an https:// URL"},
		{"credentials", Config{Issuer: "https://u:p@login.example.com", ClientID: "kiln"}, "without credentials"},
		{"query", Config{Issuer: "https://login.example.com/?x=1", ClientID: "kiln"}, "without credentials, query"},
		{"no client", Config{Issuer: "https://login.example.com"}, "the client id is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v; want %q", err, tc.want)
			}
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted what Validate refuses")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	p, err := New(Config{Issuer: "https://login.example.com", ClientID: "kiln", Scopes: []string{"email", "groups"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.cfg.Scopes, []string{"openid", "email", "groups"}) || p.cfg.EmailClaim != "email" || p.cfg.GroupsClaim != "groups" {
		t.Fatalf("config %+v", p.cfg)
	}
}

func TestIdentity(t *testing.T) {
	std, _ := New(Config{Issuer: "https://login.example.com", ClientID: "kiln"})
	upn, _ := New(Config{Issuer: "https://login.example.com", ClientID: "kiln", EmailClaim: "upn", GroupsClaim: "roles"})
	tests := []struct {
		name      string
		p         *Provider
		claims    map[string]any
		email     string
		groups    []string
		hasGroups bool
		err       string
	}{
		{name: "list of groups", p: std, claims: map[string]any{"email": " ann@example.com ", "email_verified": true, "name": "Ann",
			"groups": []any{"a", " b ", "", 7}}, email: "ann@example.com", groups: []string{"a", "b"}, hasGroups: true},
		{name: "one group as a string", p: std, claims: map[string]any{"email": "ann@example.com", "groups": "ops"},
			email: "ann@example.com", groups: []string{"ops"}, hasGroups: true},
		{name: "empty groups claim empties", p: std, claims: map[string]any{"email": "ann@example.com", "groups": []any{}},
			email: "ann@example.com", hasGroups: true},
		{name: "no groups claim", p: std, claims: map[string]any{"email": "ann@example.com"}, email: "ann@example.com"},
		{name: "groups of another shape", p: std, claims: map[string]any{"email": "ann@example.com", "groups": map[string]any{}},
			err: `the "groups" claim is neither a string nor a list of strings`},
		{name: "no email", p: std, claims: map[string]any{"sub": "1"}, err: `the identity provider sent no "email" claim`},
		{name: "email not a string", p: std, claims: map[string]any{"email": 5}, err: `sent no "email" claim`},
		{name: "unverified email", p: std, claims: map[string]any{"email": "ann@example.com", "email_verified": false},
			err: "has not verified the email address ann@example.com"},
		{name: "custom claims", p: upn, claims: map[string]any{"upn": "ann@corp.example.com", "email_verified": false, "roles": []any{"admins"}},
			email: "ann@corp.example.com", groups: []string{"admins"}, hasGroups: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.p.identity("https://login.example.com", "sub-1", tc.claims)
			if tc.err != "" {
				var e *Error
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &e) {
					t.Fatalf("err %v; want an *Error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Email != tc.email || !slices.Equal(id.Groups, tc.groups) || id.HasGroups != tc.hasGroups || id.Subject != "sub-1" {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestNewAttemptIsRandom(t *testing.T) {
	a, b := NewAttempt("https://kiln.example.com/cb"), NewAttempt("https://kiln.example.com/cb")
	if a.State == b.State || a.Nonce == b.Nonce || a.Verifier == b.Verifier || len(a.State) < 32 || len(a.Verifier) < 43 {
		t.Fatalf("attempts %+v %+v", a, b)
	}
}
