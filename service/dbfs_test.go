package service

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/dbfs"
)

// dbfsService returns a service with only a DBFS tree (in the directory
// dir) opened with o, and contexts of two callers.
func dbfsService(t *testing.T, o dbfs.Options) (s *Service, dir string, alice, bob context.Context) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "dbfs")
	d, err := dbfs.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	caller := func(id int64, name string) context.Context {
		return kiln.NewContextWithCaller(context.Background(), &kiln.Caller{
			Principal: &kiln.Principal{ID: id, UserName: name, Active: true}, Method: "pat"})
	}
	return New(Deps{DBFS: d}), dir, caller(1, "alice@example.com"), caller(2, "bob@example.com")
}

func TestCleanDBFSPath(t *testing.T) {
	tests := []struct {
		in, clean, rel string
		bad            bool
	}{
		{"/", "/", ".", false},
		{"dbfs:/", "/", ".", false},
		{"dbfs:", "", "", true},
		{"DBFS:/FileStore/x.py", "/FileStore/x.py", "FileStore/x.py", false},
		{"/FileStore//jobs/./pi.py", "/FileStore/jobs/pi.py", "FileStore/jobs/pi.py", false},
		{"dbfs://x", "/x", "x", false},
		{"FileStore/x", "", "", true},
		{"dbfs:FileStore/x", "", "", true},
		{"/../etc/passwd", "", "", true},
		{"dbfs:/a/../../x", "", "", true},
		{"/a\x00", "", "", true},
		{"/.kiln-staging", "", "", true},
		{"/.kiln-staging/abc", "", "", true},
		{"/x/.kiln-staging", "/x/.kiln-staging", "x/.kiln-staging", false},
		{"", "", "", true},
	}
	for _, tt := range tests {
		clean, rel, err := CleanDBFSPath(tt.in)
		switch {
		case tt.bad && (err == nil || !kiln.IsCode(err, kiln.EInvalid)):
			t.Errorf("CleanDBFSPath(%q) = %q, %q, %v; want EInvalid", tt.in, clean, rel, err)
		case !tt.bad && (err != nil || clean != tt.clean || rel != tt.rel):
			t.Errorf("CleanDBFSPath(%q) = %q, %q, %v; want %q, %q", tt.in, clean, rel, err, tt.clean, tt.rel)
		}
	}
}

// FuzzCleanDBFSPath checks that no accepted path names anything outside
// the DBFS directory or its reserved staging area.
func FuzzCleanDBFSPath(f *testing.F) {
	for _, s := range []string{"/", "dbfs:/a", "dbfs:/../x", "/a/../../b", "/.kiln-staging/x", "dbfs:", "/a\x00", "//x//y/", "dbfs:dbfs:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		clean, rel, err := CleanDBFSPath(p)
		if err != nil {
			if !kiln.IsCode(err, kiln.EInvalid) {
				t.Fatalf("CleanDBFSPath(%q): %v, want EInvalid", p, err)
			}
			return
		}
		if rel != "." && (!filepath.IsLocal(rel) || rel != clean[1:]) {
			t.Fatalf("CleanDBFSPath(%q) = %q, %q: not a local name", p, clean, rel)
		}
		if rel == kiln.DBFSReserved || strings.HasPrefix(rel, kiln.DBFSReserved+"/") {
			t.Fatalf("CleanDBFSPath(%q) names the staging area: %q", p, rel)
		}
		if c2, r2, err := CleanDBFSPath(clean); err != nil || c2 != clean || r2 != rel {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", p, clean, c2, err)
		}
	})
}

func TestDBFSHandles(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	s, dir, alice, bob := dbfsService(t, dbfs.Options{Now: func() time.Time { return now }, MaxHandlesPerOwner: 2, MaxHandles: 3})

	h1, err := s.DBFSCreate(alice, "/a", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DBFSCreate(alice, "/b", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DBFSCreate(alice, "/c", false); !kiln.IsCode(err, kiln.EQuota) {
		t.Fatalf("third handle of one principal: got %v, want EQuota", err)
	}
	hb, err := s.DBFSCreate(bob, "/d", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DBFSCreate(bob, "/e", false); !kiln.IsCode(err, kiln.EQuota) {
		t.Fatalf("fourth handle overall: got %v, want EQuota", err)
	}
	if err := s.DBFSAddBlock(bob, h1, []byte("x")); !kiln.IsCode(err, kiln.ENotFound) {
		t.Fatalf("another principal's handle: got %v, want ENotFound", err)
	}
	// Handles idle for longer than the timeout close and drop their upload;
	// a handle in use stays open.
	now = now.Add(6 * time.Minute)
	if err := s.DBFSAddBlock(bob, hb, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * time.Minute)
	if err := s.DBFSAddBlock(alice, h1, []byte("late")); !kiln.IsCode(err, kiln.ENotFound) {
		t.Fatalf("expired handle: got %v, want ENotFound", err)
	}
	if err := s.DBFSClose(bob, hb); err != nil {
		t.Fatalf("closing a handle used 5 minutes ago: %v", err)
	}
	if got, err := s.DBFSRead(bob, "/d", 0, 0); err != nil || string(got) != "kept" {
		t.Fatalf("read /d: %q, %v", got, err)
	}
	if _, err := s.DBFSStatus(alice, "/a"); !kiln.IsCode(err, kiln.ENotFound) {
		t.Fatalf("an expired upload left a file: %v", err)
	}
	staged, _ := os.ReadDir(filepath.Join(dir, kiln.DBFSReserved))
	if len(staged) != 0 {
		t.Fatalf("staging files left: %d", len(staged))
	}
	// The freed slots are usable again.
	if _, err := s.DBFSCreate(alice, "/f", false); err != nil {
		t.Fatal(err)
	}
}

func TestDBFSConcurrentCreateWithoutOverwrite(t *testing.T) {
	s, _, alice, bob := dbfsService(t, dbfs.Options{})
	h1, err := s.DBFSCreate(alice, "/same", false)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := s.DBFSCreate(bob, "/same", false)
	if err != nil {
		t.Fatal(err)
	}
	s.DBFSAddBlock(alice, h1, []byte("alice"))
	s.DBFSAddBlock(bob, h2, []byte("bob"))
	if err := s.DBFSClose(alice, h1); err != nil {
		t.Fatal(err)
	}
	// The second close finds the file and must not replace it.
	if err := s.DBFSClose(bob, h2); !kiln.IsCode(err, kiln.EConflict) {
		t.Fatalf("second close without overwrite: got %v, want EConflict", err)
	}
	if got, _ := s.DBFSRead(alice, "/same", 0, 0); string(got) != "alice" {
		t.Fatalf("content: %q", got)
	}
}

func TestDBFSOpenForRun(t *testing.T) {
	s, dir, alice, _ := dbfsService(t, dbfs.Options{})
	if err := s.DBFSPutBytes(alice, "dbfs:/jobs/main.py", []byte("print(1)"), false); err != nil {
		t.Fatal(err)
	}
	// A link inside DBFS to a file inside DBFS opens the target.
	os.Symlink("jobs/main.py", filepath.Join(dir, "alias.py"))
	for _, p := range []string{"dbfs:/jobs/main.py", "/jobs/main.py", "/alias.py"} {
		f, err := s.DBFSOpenForRun(context.Background(), p)
		if err != nil {
			t.Fatalf("DBFSOpenForRun(%s): %v", p, err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(b) != "print(1)" {
			t.Fatalf("DBFSOpenForRun(%s): read %q, %v", p, b, err)
		}
	}
	for p, code := range map[string]kiln.Code{"/jobs": kiln.EInvalid, "/nope.py": kiln.ENotFound, "/": kiln.EInvalid, "/../x": kiln.EInvalid} {
		if f, err := s.DBFSOpenForRun(context.Background(), p); !kiln.IsCode(err, code) {
			t.Errorf("DBFSOpenForRun(%s): got %v, want %s", p, err, code)
			if f != nil {
				f.Close()
			}
		}
	}
}
