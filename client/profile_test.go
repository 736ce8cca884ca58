package client

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteProfile(t *testing.T) {
	const tok = "dapi0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		before  string // "" with noFile: no file at all
		noFile  bool
		profile string
		want    string
	}{
		{
			name: "new file", noFile: true, profile: "DEFAULT",
			want: "[DEFAULT]\nhost = https://k\ntoken = " + tok + "\n",
		},
		{
			name:    "new profile keeps the others byte for byte",
			before:  "; my settings\n[DEFAULT]\nhost=https://old   # inline\ntoken = x\ncluster_id = abc\n\n[other]\nhost: https://o\n",
			profile: "ci",
			want:    "; my settings\n[DEFAULT]\nhost=https://old   # inline\ntoken = x\ncluster_id = abc\n\n[other]\nhost: https://o\n\n[ci]\nhost = https://k\ntoken = " + tok + "\n",
		},
		{
			name:    "existing profile: values replaced, other keys kept, other auth removed",
			before:  "[DEFAULT]\nhost = https://old\ncluster_id = abc\nusername = me\npassword = pw\ntoken = old\n\n[other]\ntoken = keep\n",
			profile: "DEFAULT",
			want:    "[DEFAULT]\nhost = https://k\ncluster_id = abc\ntoken = " + tok + "\n\n[other]\ntoken = keep\n",
		},
		{
			name:    "missing keys go after the profile's last key",
			before:  "[ci]\ncomment = x\n\n[other]\nhost = https://o\n",
			profile: "ci",
			want:    "[ci]\ncomment = x\nhost = https://k\ntoken = " + tok + "\n\n[other]\nhost = https://o\n",
		},
		{
			name:    "implicit DEFAULT keys are updated in place",
			before:  "host = https://old\ntoken = old\n[other]\nhost = https://o\n",
			profile: "DEFAULT",
			want:    "host = https://k\ntoken = " + tok + "\n[other]\nhost = https://o\n",
		},
		{
			name:    "duplicate keys collapse to one",
			before:  "[DEFAULT]\ntoken = a\ntoken = b\nhost = h\n",
			profile: "DEFAULT",
			want:    "[DEFAULT]\ntoken = " + tok + "\nhost = https://k\n",
		},
		{
			name:    "CRLF files stay CRLF",
			before:  "[a]\r\nhost = https://a\r\n",
			profile: "b",
			want:    "[a]\r\nhost = https://a\r\n\r\n[b]\r\nhost = https://k\r\ntoken = " + tok + "\r\n",
		},
		{
			name:    "header without keys",
			before:  "[ci]\n[other]\nx = 1\n",
			profile: "ci",
			want:    "[ci]\nhost = https://k\ntoken = " + tok + "\n[other]\nx = 1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", ".databrickscfg")
			if !tt.noFile {
				os.MkdirAll(filepath.Dir(path), 0o700)
				if err := os.WriteFile(path, []byte(tt.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteProfile(path, tt.profile, "https://k", tok); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("file:\n%s\nwant:\n%s", got, tt.want)
			}
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Fatalf("directory holds %d entries, want only the file (no temp files left)", len(entries))
			}
			// The SDK-compatible reader sees the new values.
			f, err := parseINI(got)
			if err != nil {
				t.Fatal(err)
			}
			if kv := f.section(tt.profile); kv["host"] != "https://k" || kv["token"] != tok {
				t.Fatalf("profile reads back as %v", kv)
			}
		})
	}
}

func TestWriteProfileRefusesMalformed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg")
	before := "[DEFAULT]\nthis line is broken\n"
	os.WriteFile(path, []byte(before), 0o600)
	err := WriteProfile(path, "DEFAULT", "https://k", "dapi1")
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "malformed at line 2") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != before {
		t.Fatalf("file changed to %q", got)
	}
}

func TestWriteProfileFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.WriteFile(real, []byte("[keep]\nhost = https://keep\n"), 0o600)
	link := filepath.Join(dir, ".databrickscfg")
	if err := os.Symlink(real, link); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	if err := WriteProfile(link, "DEFAULT", "https://k", "dapi1"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced by a file")
	}
	got, _ := os.ReadFile(real)
	if !strings.Contains(string(got), "[keep]") || !strings.Contains(string(got), "token = dapi1") {
		t.Fatalf("target is %q", got)
	}
}

func TestWriteProfileRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "__settings__", "a]b", "x\ny"} {
		if err := WriteProfile(filepath.Join(t.TempDir(), "cfg"), name, "https://k", "dapi1"); err == nil {
			t.Errorf("profile %q accepted", name)
		}
	}
}

func TestParseINI(t *testing.T) {
	tests := []struct {
		name, in string
		section  string
		want     map[string]string
		errLine  int
	}{
		{name: "quotes and comments", in: "[p]\na = \"q v\"\nb = 'x'\nc = v ; note\n# c\nd: e\n", section: "p",
			want: map[string]string{"a": "q v", "b": "x", "c": "v", "d": "e"}},
		{name: "BOM", in: "\xef\xbb\xbf[p]\na=1\n", section: "p", want: map[string]string{"a": "1"}},
		{name: "section reopened", in: "[p]\na=1\n[q]\n[p]\nb=2\n", section: "p", want: map[string]string{"a": "1", "b": "2"}},
		{name: "unterminated header", in: "[p\n", errLine: 1},
		{name: "key without value separator", in: "[p]\nhost\n", errLine: 2},
		{name: "empty section name", in: "[]\n", errLine: 1},
		{name: "text after header", in: "[p] x\n", errLine: 1},
		{name: "empty key", in: "[p]\n= v\n", errLine: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseINI([]byte(tt.in))
			if tt.errLine != 0 {
				var se *iniSyntaxError
				if !errors.As(err, &se) || se.Line != tt.errLine {
					t.Fatalf("err = %v, want a syntax error at line %d", err, tt.errLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := f.section(tt.section)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}
