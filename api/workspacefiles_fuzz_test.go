package api

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzImportFilePath checks the import-file URL's path: anything a client
// sends is a path or a client error, and what the CLI sends for a path
// (its url.PathEscape without leading slashes) names that path.
func FuzzImportFilePath(f *testing.F) {
	for _, s := range []string{"Users/a@b.c/x.txt", "Users%2Fa%40b.c%2Fx.txt", "Workspace%2FShared%2Fdir%20with%20space%2F%C3%BC.txt",
		"", "%", "%zz", "%2e%2e%2Fx", "a%00b", "%2F%2F", "Shared/a+b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := importFilePath(importFilePrefix + s)
		if err != nil {
			checkClientError(t, err)
		} else if !strings.HasPrefix(p, "/") {
			t.Fatalf("importFilePath(%q) = %q: not absolute", s, p)
		}
		// s as the path the CLI writes to.
		want := "/" + strings.TrimLeft(s, "/")
		got, err := importFilePath(importFilePrefix + url.PathEscape(strings.TrimLeft(s, "/")))
		if err != nil {
			if want != "/" {
				t.Fatalf("the CLI's URL for %q: %v", want, err)
			}
			return
		}
		if got != want {
			t.Fatalf("the CLI's URL for %q names %q", want, got)
		}
	})
}
