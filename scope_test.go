package kiln_test

import (
	"slices"
	"testing"

	"github.com/kiln-dev/kiln"
)

func TestNormalizeScopes(t *testing.T) {
	cases := []struct {
		in   []string
		want []string
		bad  bool
	}{
		{in: nil, want: nil},
		{in: []string{"all-apis"}, want: nil},
		{in: []string{"offline_access", "all-apis"}, want: nil},
		{in: []string{"jobs", "sql", "jobs"}, want: []string{"jobs", "sql"}},
		{in: []string{"jobs:read", "jobs"}, want: []string{"jobs"}},
		{in: []string{"secrets:read", "openid"}, want: []string{"secrets:read"}},
		{in: []string{"jobs", "all-apis"}, want: nil},
		{in: []string{"nope"}, bad: true},
		{in: []string{"jobs:write"}, bad: true},
	}
	for _, c := range cases {
		got, err := kiln.NormalizeScopes(c.in)
		if (err != nil) != c.bad || !slices.Equal(got, c.want) || (c.want == nil && got != nil) {
			t.Errorf("NormalizeScopes(%q) = %q, %v; want %q (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestScopesAllowAndWithin(t *testing.T) {
	allow := []struct {
		scopes       []string
		area, method string
		want         bool
	}{
		{nil, "jobs", "POST", true},
		{[]string{"sql"}, "jobs", "GET", false},
		{[]string{"sql"}, "", "GET", true},
		{[]string{"jobs:read"}, "jobs", "GET", true},
		{[]string{"jobs:read"}, "jobs", "HEAD", true},
		{[]string{"jobs:read"}, "jobs", "POST", false},
		{[]string{"jobs"}, "jobs", "DELETE", true},
	}
	for _, c := range allow {
		if got := kiln.ScopesAllow(c.scopes, c.area, c.method); got != c.want {
			t.Errorf("ScopesAllow(%q, %s, %s) = %v", c.scopes, c.area, c.method, got)
		}
	}
	within := []struct {
		want, have []string
		ok         bool
	}{
		{[]string{"jobs"}, nil, true},
		{nil, []string{"jobs"}, false},
		{[]string{"jobs:read"}, []string{"jobs"}, true},
		{[]string{"jobs"}, []string{"jobs:read"}, false},
		{[]string{"jobs", "sql"}, []string{"jobs"}, false},
	}
	for _, c := range within {
		if got := kiln.ScopesWithin(c.want, c.have); got != c.ok {
			t.Errorf("ScopesWithin(%q, %q) = %v", c.want, c.have, got)
		}
	}
}
