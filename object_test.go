package kiln

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanObjectPath(t *testing.T) {
	tests := []struct {
		in, want string
		errMsg   string // "" for success
	}{
		{"/", "/", ""},
		{"/Users/jane@example.com/etl", "/Users/jane@example.com/etl", ""},
		{"//Shared///x/", "/Shared/x", ""},
		{"/a/./b/.", "/a/b", ""},
		{"/./", "/", ""},
		{"/ü/名前 with spaces", "/ü/名前 with spaces", ""},
		{"/Workspace", "/", ""},
		{"/Workspace/", "/", ""},
		{"/Workspace/Users/jane/x", "/Users/jane/x", ""},
		{"//Workspace//Shared/", "/Shared", ""},
		{"/Workspace/Workspace/x", "/x", ""},
		{"/Workspaces/x", "/Workspaces/x", ""},
		{"/workspace/x", "/workspace/x", ""},
		{"/Shared/Workspace", "/Shared/Workspace", ""},
		{"/Workspace/../x", "", "'..'"},
		{"", "", "required"},
		{"a/b", "", "absolute"},
		{"./a", "", "absolute"},
		{"/a/../b", "", "'..'"},
		{"/..", "", "'..'"},
		{"/a/..", "", "'..'"},
		{"/a\x00", "", "control"},
		{"/a\tb", "", "control"},
		{"/a\x7fb", "", "control"},
		{"/\xc3", "", "UTF-8"},
		{"/" + strings.Repeat("x", MaxObjectNameLen), "/" + strings.Repeat("x", MaxObjectNameLen), ""},
		{"/" + strings.Repeat("x", MaxObjectNameLen+1), "", "too long"},
		{strings.Repeat("/ab", MaxObjectPathLen/3+1), "", "too long"},
	}
	for _, tt := range tests {
		got, err := CleanObjectPath(tt.in)
		switch {
		case tt.errMsg == "" && (err != nil || got != tt.want):
			t.Errorf("CleanObjectPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		case tt.errMsg != "" && (err == nil || !IsCode(err, EInvalid) || !strings.Contains(ErrorMessage(err), tt.errMsg)):
			t.Errorf("CleanObjectPath(%q) = %q, %v; want EInvalid mentioning %q", tt.in, got, err, tt.errMsg)
		}
	}
}

func TestWorkspacePrefix(t *testing.T) {
	for in, want := range map[string]bool{"/Workspace": true, "/Workspace/": true, "/Workspace/x": true,
		"/Workspaces": false, "//Workspace/x": false, "/workspace/x": false, "/x/Workspace": false, "": false} {
		if got := HasWorkspacePrefix(in); got != want {
			t.Errorf("HasWorkspacePrefix(%q) = %v, want %v", in, got, want)
		}
	}
	for _, tt := range []struct {
		in       string
		prefixed bool
		want     string
	}{{"/", true, "/Workspace"}, {"/a/b", true, "/Workspace/a/b"}, {"/a/b", false, "/a/b"}, {"/", false, "/"}} {
		if got := WithWorkspacePrefix(tt.in, tt.prefixed); got != tt.want {
			t.Errorf("WithWorkspacePrefix(%q, %v) = %q, want %q", tt.in, tt.prefixed, got, tt.want)
		}
	}
}

func TestParentPath(t *testing.T) {
	for in, want := range map[string]string{"/": "", "/a": "/", "/a/b": "/a", "/a/b/c": "/a/b"} {
		if got := ParentPath(in); got != want {
			t.Errorf("ParentPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCleanObjectPath checks that a cleaned path is canonical, safe and
// stable, and that every refusal is a client error.
func FuzzCleanObjectPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "//a//b/", "/a/../b", "/a/./b", "a", "", "/\x00", "/..", "/...", "/.../x", "/a/b/..", "/\xff", "/ü", "/Workspace", "/Workspace/x", "//Workspace/./x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := CleanObjectPath(p)
		if err != nil {
			if !IsCode(err, EInvalid) || ErrorMessage(err) == "" {
				t.Fatalf("CleanObjectPath(%q): %v, want EInvalid with a message", p, err)
			}
			return
		}
		if c == "" || c[0] != '/' || (c != "/" && strings.HasSuffix(c, "/")) || strings.Contains(c, "//") {
			t.Fatalf("CleanObjectPath(%q) = %q: not canonical", p, c)
		}
		for _, elem := range strings.Split(c[1:], "/") {
			if c != "/" && (elem == "" || elem == "." || elem == ".." || len(elem) > MaxObjectNameLen) {
				t.Fatalf("CleanObjectPath(%q) = %q: bad element %q", p, c, elem)
			}
		}
		if !utf8.ValidString(c) || strings.ContainsFunc(c, func(r rune) bool { return r < 0x20 || r == 0x7f }) || len(c) > MaxObjectPathLen {
			t.Fatalf("CleanObjectPath(%q) = %q: unsafe characters or length", p, c)
		}
		if HasWorkspacePrefix(c) {
			t.Fatalf("CleanObjectPath(%q) = %q: the /Workspace mount was kept", p, c)
		}
		if HasWorkspacePrefix(p) {
			if plain, err := CleanObjectPath(strings.TrimPrefix(p, WorkspacePrefix) + "/"); err != nil || plain != c {
				t.Fatalf("CleanObjectPath(%q) = %q, but without the mount %q, %v", p, c, plain, err)
			}
		}
		if again, err := CleanObjectPath(c); err != nil || again != c {
			t.Fatalf("CleanObjectPath not idempotent: %q -> %q -> %q, %v", p, c, again, err)
		}
		if parent := ParentPath(c); c != "/" && (parent == "" || !strings.HasPrefix(c, parent)) {
			t.Fatalf("ParentPath(%q) = %q", c, parent)
		}
	})
}
