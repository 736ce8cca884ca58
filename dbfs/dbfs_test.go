package dbfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/dbfs/dbfstest"
)

func TestContract(t *testing.T) {
	dbfstest.Run(t, func(t *testing.T, l dbfstest.Limits) kiln.DBFS {
		d, err := Open(filepath.Join(t.TempDir(), "dbfs"), Options{
			IdleTimeout: l.IdleTimeout, MaxHandles: l.MaxHandles, MaxHandlesPerOwner: l.MaxHandlesPerOwner, Now: l.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

var ctx = context.Background()

// open returns a tree in a new directory, closed with the test.
func open(t *testing.T) (*Disk, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dbfs")
	d, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir
}

// staged returns how many staging files are in dir.
func staged(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, kiln.DBFSReserved))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestStagingFilesGo(t *testing.T) {
	d, dir := open(t)
	h, err := d.CreateHandle(ctx, 1, "/a", false)
	if err != nil {
		t.Fatal(err)
	}
	d.Put(ctx, 1, "/big", strings.NewReader("12345"), 4, false)
	if n := staged(t, dir); n != 1 {
		t.Fatalf("staging files with one open handle: %d, want 1", n)
	}
	if err := d.CloseHandle(ctx, 1, h); err != nil {
		t.Fatal(err)
	}
	if n := staged(t, dir); n != 0 {
		t.Errorf("staging files left: %d", n)
	}
	// A restart clears what a previous process left, and names in the
	// staging directory are no DBFS paths.
	os.WriteFile(filepath.Join(dir, kiln.DBFSReserved, "left-behind"), []byte("x"), 0o600)
	d2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if n := staged(t, dir); n != 0 {
		t.Errorf("staging files after a restart: %d", n)
	}
	list, err := d2.List(ctx, "/")
	if err != nil || len(list) != 1 || list[0].Path != "/a" {
		t.Errorf("List(/): %+v, %v; want /a alone", list, err)
	}
	for _, p := range []string{"/" + kiln.DBFSReserved, "/" + kiln.DBFSReserved + "/left-behind", "relative", "/a/../b", "/a/", "//a", ""} {
		if _, err := d2.Status(ctx, p); !errors.Is(err, errNotClean) {
			t.Errorf("Status(%q): %v, want a refusal", p, err)
		}
	}
}

func TestSymbolicLinks(t *testing.T) {
	d, dir := open(t)
	outside := filepath.Join(filepath.Dir(dir), "outside.txt")
	os.WriteFile(outside, []byte("outside"), 0o600)
	if err := d.Put(ctx, 1, "/jobs/main.py", strings.NewReader("print(1)"), 1<<10, false); err != nil {
		t.Fatal(err)
	}
	// Links planted inside the tree by someone with shell access.
	os.Symlink("jobs/main.py", filepath.Join(dir, "alias.py"))
	os.Symlink(outside, filepath.Join(dir, "abs-link"))
	os.Symlink("../outside.txt", filepath.Join(dir, "rel-link"))
	os.Symlink("..", filepath.Join(dir, "up"))

	if b, err := d.Read(ctx, "/alias.py", 0, 100); err != nil || string(b) != "print(1)" {
		t.Errorf("Read through a link inside: %q, %v", b, err)
	}
	if f, err := d.Open(ctx, "/alias.py"); err != nil {
		t.Errorf("Open through a link inside: %v", err)
	} else {
		f.Close()
	}
	for _, p := range []string{"/abs-link", "/rel-link", "/up/outside.txt"} {
		if _, err := d.Read(ctx, p, 0, 100); !errors.Is(err, kiln.ErrDBFSOutside) {
			t.Errorf("Read(%s): %v, want ErrDBFSOutside", p, err)
		}
		if _, err := d.Open(ctx, p); !errors.Is(err, kiln.ErrDBFSOutside) {
			t.Errorf("Open(%s): %v, want ErrDBFSOutside", p, err)
		}
		if err := d.Put(ctx, 1, p, strings.NewReader("pwned"), 1<<10, true); err == nil {
			t.Errorf("Put(%s) through a link succeeded", p)
		}
	}
	if err := d.Put(ctx, 1, "/up/new.txt", strings.NewReader("pwned"), 1<<10, false); err == nil {
		t.Errorf("Put of a new file through a link succeeded")
	}
	list, err := d.List(ctx, "/")
	if err != nil || len(list) != 2 || list[0].Path != "/alias.py" || list[1].Path != "/jobs" {
		t.Errorf("List(/): %+v, %v; want /alias.py and /jobs, no escaping link", list, err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "outside" {
		t.Errorf("the file outside changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "new.txt")); err == nil {
		t.Errorf("a put through a link wrote outside")
	}
}

func TestOpenDoesNotBlockOnAFIFO(t *testing.T) {
	d, dir := open(t)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(ctx, "/fifo"); !errors.Is(err, kiln.ErrDBFSNotFile) {
		t.Errorf("Open of a FIFO: %v, want ErrDBFSNotFile", err)
	}
}
