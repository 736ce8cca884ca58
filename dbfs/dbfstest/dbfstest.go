// Package dbfstest is the contract of [kiln.DBFS] as tests: every
// implementation (the local tree in package dbfs, a tree kept in the
// database later) runs Run and passes it unchanged.
package dbfstest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// Limits are the handle bounds and the clock a tree under test must use.
type Limits struct {
	MaxHandles, MaxHandlesPerOwner int
	IdleTimeout                    time.Duration
	Now                            func() time.Time
}

// Open returns a new, empty tree with the limits l; Run closes it.
type Open func(t *testing.T, l Limits) kiln.DBFS

// Run runs the suite against the trees open returns.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"PutReadStatus", testPutReadStatus},
		{"PutRefusals", testPutRefusals},
		{"ReadRanges", testReadRanges},
		{"List", testList},
		{"Mkdirs", testMkdirs},
		{"Delete", testDelete},
		{"Move", testMove},
		{"Open", testOpen},
		{"Handles", testHandles},
		{"HandleLimits", testHandleLimits},
		{"HandlesExpire", testHandlesExpire},
		{"ConcurrentCreateWithoutOverwrite", testConcurrentCreate},
		{"ConcurrentPutsWithoutOverwrite", testConcurrentPuts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &suite{now: time.Unix(1_750_000_000, 0)}
			s.d = open(t, Limits{MaxHandles: 3, MaxHandlesPerOwner: 2, IdleTimeout: 10 * time.Minute, Now: s.clock})
			t.Cleanup(func() {
				if err := s.d.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// suite is one tree under test and its clock.
type suite struct {
	d   kiln.DBFS
	mu  sync.Mutex
	now time.Time
}

func (s *suite) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *suite) advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

var ctx = context.Background()

const (
	alice = int64(1)
	bob   = int64(2)
)

func (s *suite) put(t *testing.T, p, content string) {
	t.Helper()
	if err := s.d.Put(ctx, alice, p, strings.NewReader(content), 1<<20, false); err != nil {
		t.Fatalf("Put(%s): %v", p, err)
	}
}

// content reads the whole file at p.
func (s *suite) content(t *testing.T, p string) string {
	t.Helper()
	b, err := s.d.Read(ctx, p, 0, 1<<20)
	if err != nil {
		t.Fatalf("Read(%s): %v", p, err)
	}
	return string(b)
}

// finish closes owner's handle h, which must then have written want to p.
func (s *suite) finish(t *testing.T, owner, h int64, p, want string) {
	t.Helper()
	if err := s.d.CloseHandle(ctx, owner, h); err != nil {
		t.Fatalf("CloseHandle(%s): %v", p, err)
	}
	if got := s.content(t, p); got != want {
		t.Errorf("uploaded to %s: %q, want %q", p, got, want)
	}
}

// want fails unless err is the condition c about the path p.
func want(t *testing.T, what string, err, c error, p string) {
	t.Helper()
	var pe *fs.PathError
	switch {
	case !errors.Is(err, c):
		t.Errorf("%s: got %v, want %v", what, err, c)
	case !errors.As(err, &pe):
		t.Errorf("%s: %v is not an *fs.PathError", what, err)
	case p != "" && pe.Path != p:
		t.Errorf("%s: the error is about %q, want %q", what, pe.Path, p)
	}
}

// missing fails unless nothing is at p.
func (s *suite) missing(t *testing.T, p string) {
	t.Helper()
	_, err := s.d.Status(ctx, p)
	want(t, "Status of "+p, err, kiln.ErrDBFSNotFound, p)
}

func testPutReadStatus(t *testing.T, s *suite) {
	s.put(t, "/FileStore/jobs/pi.py", "print(3.14)")
	if got := s.content(t, "/FileStore/jobs/pi.py"); got != "print(3.14)" {
		t.Errorf("content %q", got)
	}
	fi, err := s.d.Status(ctx, "/FileStore/jobs/pi.py")
	if err != nil || fi.Path != "/FileStore/jobs/pi.py" || fi.IsDir || fi.Size != 11 || fi.Modified.IsZero() || !fi.Modified.Equal(fi.Modified.Truncate(time.Millisecond)) {
		t.Errorf("Status: %+v, %v", fi, err)
	}
	for _, dir := range []string{"/", "/FileStore", "/FileStore/jobs"} {
		if fi, err := s.d.Status(ctx, dir); err != nil || !fi.IsDir || fi.Size != 0 || fi.Path != dir {
			t.Errorf("Status(%s): %+v, %v; want a directory", dir, fi, err)
		}
	}
	if err := s.d.Put(ctx, alice, "/FileStore/jobs/pi.py", strings.NewReader("v2"), 1<<20, true); err != nil {
		t.Fatalf("Put with overwrite: %v", err)
	}
	if got := s.content(t, "/FileStore/jobs/pi.py"); got != "v2" {
		t.Errorf("after overwrite: %q", got)
	}
	s.put(t, "/empty", "")
	if got := s.content(t, "/empty"); got != "" {
		t.Errorf("empty file: %q", got)
	}
	s.missing(t, "/nope")
	s.missing(t, "/empty/under-a-file")
}

// failingReader fails its test when read, or returns err.
type failingReader struct {
	t   *testing.T
	err error
}

func (r failingReader) Read([]byte) (int, error) {
	if r.err == nil {
		r.t.Error("the content was read although the put could not succeed")
		return 0, io.EOF
	}
	return 0, r.err
}

func testPutRefusals(t *testing.T, s *suite) {
	s.put(t, "/a/file", "original")
	err := s.d.Put(ctx, alice, "/a/file", failingReader{t: t}, 1<<20, false)
	want(t, "Put onto a file without overwrite", err, kiln.ErrDBFSExists, "/a/file")
	err = s.d.Put(ctx, alice, "/a", failingReader{t: t}, 1<<20, true)
	want(t, "Put onto a directory", err, kiln.ErrDBFSIsDir, "/a")
	err = s.d.Put(ctx, alice, "/a/file/under", strings.NewReader("x"), 1<<20, false)
	want(t, "Put under a file", err, kiln.ErrDBFSNotDir, "/a/file/under")
	if got := s.content(t, "/a/file"); got != "original" {
		t.Errorf("refused puts changed the file: %q", got)
	}

	err = s.d.Put(ctx, alice, "/big", strings.NewReader("12345"), 4, false)
	want(t, "Put over the limit", err, kiln.ErrDBFSTooLarge, "/big")
	s.missing(t, "/big")
	if err := s.d.Put(ctx, alice, "/exact", strings.NewReader("1234"), 4, false); err != nil {
		t.Errorf("Put of exactly the limit: %v", err)
	}

	bodyErr := errors.New("the request body broke")
	err = s.d.Put(ctx, alice, "/broken", io.MultiReader(strings.NewReader("half"), failingReader{err: bodyErr}), 1<<20, false)
	if err != bodyErr {
		t.Errorf("Put with a failing reader: got %v, want the reader's error as it is", err)
	}
	s.missing(t, "/broken")
}

func testReadRanges(t *testing.T, s *suite) {
	s.put(t, "/f", "0123456789")
	for _, c := range []struct {
		offset, length int64
		want           string
	}{{0, 10, "0123456789"}, {0, 100, "0123456789"}, {2, 3, "234"}, {8, 5, "89"}, {10, 5, ""}, {50, 5, ""}} {
		b, err := s.d.Read(ctx, "/f", c.offset, c.length)
		if err != nil || string(b) != c.want || b == nil {
			t.Errorf("Read(%d, %d): %q (nil %v), %v; want %q", c.offset, c.length, b, b == nil, err, c.want)
		}
	}
	s.d.Mkdirs(ctx, "/dir")
	for _, p := range []string{"/dir", "/"} {
		_, err := s.d.Read(ctx, p, 0, 10)
		want(t, "Read of a directory", err, kiln.ErrDBFSIsDir, p)
	}
	_, err := s.d.Read(ctx, "/nope", 0, 10)
	want(t, "Read of nothing", err, kiln.ErrDBFSNotFound, "/nope")
	_, err = s.d.Read(ctx, "/f/under", 0, 10)
	want(t, "Read under a file", err, kiln.ErrDBFSNotFound, "/f/under")
}

// paths returns the paths of list.
func paths(list []kiln.DBFSFileInfo) string {
	var ps []string
	for _, fi := range list {
		ps = append(ps, fi.Path)
	}
	return strings.Join(ps, " ")
}

func testList(t *testing.T, s *suite) {
	if list, err := s.d.List(ctx, "/"); err != nil || len(list) != 0 {
		t.Errorf("List of an empty tree: %v, %v", paths(list), err)
	}
	s.put(t, "/b.txt", "bb")
	s.put(t, "/a/x", "x")
	s.put(t, "/a/y/z", "z")
	s.put(t, "/c", "")
	list, err := s.d.List(ctx, "/")
	if got := paths(list); err != nil || got != "/a /b.txt /c" {
		t.Errorf("List(/): %q, %v", got, err)
	}
	if err == nil && (!list[0].IsDir || list[1].IsDir || list[1].Size != 2) {
		t.Errorf("List(/): %+v", list)
	}
	if list, err := s.d.List(ctx, "/a"); paths(list) != "/a/x /a/y" || err != nil {
		t.Errorf("List(/a): %q, %v", paths(list), err)
	}
	if list, err := s.d.List(ctx, "/b.txt"); paths(list) != "/b.txt" || err != nil || list[0].Size != 2 {
		t.Errorf("List of a file: %+v, %v", list, err)
	}
	_, err = s.d.List(ctx, "/nope")
	want(t, "List of nothing", err, kiln.ErrDBFSNotFound, "/nope")
}

func testMkdirs(t *testing.T, s *suite) {
	if err := s.d.Mkdirs(ctx, "/x/y/z"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/x/y/z", "/x/y", "/", "/x"} {
		if err := s.d.Mkdirs(ctx, p); err != nil {
			t.Errorf("Mkdirs of an existing directory %s: %v", p, err)
		}
	}
	if fi, err := s.d.Status(ctx, "/x/y/z"); err != nil || !fi.IsDir {
		t.Errorf("Status: %+v, %v", fi, err)
	}
	s.put(t, "/x/f", "")
	want(t, "Mkdirs of a file", s.d.Mkdirs(ctx, "/x/f"), kiln.ErrDBFSNotDir, "/x/f")
	want(t, "Mkdirs under a file", s.d.Mkdirs(ctx, "/x/f/g/h"), kiln.ErrDBFSNotDir, "/x/f/g/h")
}

func testDelete(t *testing.T, s *suite) {
	s.put(t, "/d/e/f", "f")
	s.put(t, "/g", "g")
	if err := s.d.Delete(ctx, "/g", false); err != nil {
		t.Fatal(err)
	}
	s.missing(t, "/g")
	want(t, "Delete of nothing", s.d.Delete(ctx, "/g", false), kiln.ErrDBFSNotFound, "/g")
	want(t, "Delete under a file", s.d.Delete(ctx, "/d/e/f/x", true), kiln.ErrDBFSNotFound, "/d/e/f/x")
	want(t, "Delete of a full directory", s.d.Delete(ctx, "/d", false), kiln.ErrDBFSNotEmpty, "/d")
	if got := s.content(t, "/d/e/f"); got != "f" {
		t.Errorf("a refused delete removed content: %q", got)
	}
	if err := s.d.Mkdirs(ctx, "/empty"); err != nil {
		t.Fatal(err)
	}
	if err := s.d.Delete(ctx, "/empty", false); err != nil {
		t.Errorf("Delete of an empty directory: %v", err)
	}
	if err := s.d.Delete(ctx, "/d", true); err != nil {
		t.Fatal(err)
	}
	s.missing(t, "/d")
	s.missing(t, "/d/e/f")
	if err := s.d.Delete(ctx, "/", true); err == nil {
		t.Error("Delete of the root succeeded")
	}
}

func testMove(t *testing.T, s *suite) {
	s.put(t, "/src/a", "a")
	s.put(t, "/src/sub/b", "b")
	s.put(t, "/file", "file")
	if err := s.d.Move(ctx, "/file", "/new/place/file"); err != nil {
		t.Fatalf("Move of a file to a new parent: %v", err)
	}
	s.missing(t, "/file")
	if got := s.content(t, "/new/place/file"); got != "file" {
		t.Errorf("moved file: %q", got)
	}
	if err := s.d.Move(ctx, "/src", "/dst"); err != nil {
		t.Fatalf("Move of a directory: %v", err)
	}
	if got := s.content(t, "/dst/sub/b"); got != "b" {
		t.Errorf("moved directory: %q", got)
	}
	s.missing(t, "/src")

	want(t, "Move of nothing", s.d.Move(ctx, "/src", "/elsewhere"), kiln.ErrDBFSNotFound, "/src")
	want(t, "Move onto a file", s.d.Move(ctx, "/dst/a", "/new/place/file"), kiln.ErrDBFSExists, "/new/place/file")
	want(t, "Move onto a directory", s.d.Move(ctx, "/new/place/file", "/dst"), kiln.ErrDBFSExists, "/dst")
	want(t, "Move under a file", s.d.Move(ctx, "/dst/a", "/new/place/file/a"), kiln.ErrDBFSNotDir, "/new/place/file/a")
	if got := s.content(t, "/dst/a"); got != "a" {
		t.Errorf("refused moves changed the source: %q", got)
	}
	for _, m := range [][2]string{{"/", "/x"}, {"/dst", "/"}, {"/dst", "/dst/inner"}} {
		if err := s.d.Move(ctx, m[0], m[1]); err == nil {
			t.Errorf("Move(%s, %s) succeeded", m[0], m[1])
		}
	}
}

func testOpen(t *testing.T, s *suite) {
	s.put(t, "/jobs/main.py", "print(1)")
	f, err := s.d.Open(ctx, "/jobs/main.py")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil || string(b) != "print(1)" {
		t.Errorf("read %q, %v", b, err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for _, p := range []string{"/jobs", "/"} {
		_, err := s.d.Open(ctx, p)
		want(t, "Open of a directory", err, kiln.ErrDBFSNotFile, p)
	}
	_, err = s.d.Open(ctx, "/jobs/nope.py")
	want(t, "Open of nothing", err, kiln.ErrDBFSNotFound, "/jobs/nope.py")
}

// create opens an upload of owner to p.
func (s *suite) create(t *testing.T, owner int64, p string) int64 {
	t.Helper()
	h, err := s.d.CreateHandle(ctx, owner, p, false)
	if err != nil {
		t.Fatalf("CreateHandle(%s): %v", p, err)
	}
	if h <= 0 || h >= 1<<53 {
		t.Errorf("handle %d: want one in (0, 2^53)", h)
	}
	return h
}

func testHandles(t *testing.T, s *suite) {
	h := s.create(t, alice, "/up/load.bin")
	for _, block := range []string{"one ", "", "two"} {
		if err := s.d.AddBlock(ctx, alice, h, []byte(block)); err != nil {
			t.Fatalf("AddBlock: %v", err)
		}
	}
	s.missing(t, "/up/load.bin") // not before close
	want(t, "AddBlock of another owner", s.d.AddBlock(ctx, bob, h, []byte("x")), kiln.ErrDBFSNoHandle, "")
	want(t, "CloseHandle of another owner", s.d.CloseHandle(ctx, bob, h), kiln.ErrDBFSNoHandle, "")
	s.finish(t, alice, h, "/up/load.bin", "one two")
	want(t, "AddBlock after close", s.d.AddBlock(ctx, alice, h, []byte("x")), kiln.ErrDBFSNoHandle, "")
	want(t, "CloseHandle after close", s.d.CloseHandle(ctx, alice, h), kiln.ErrDBFSNoHandle, "")
	want(t, "AddBlock of no handle", s.d.AddBlock(ctx, alice, 12345, nil), kiln.ErrDBFSNoHandle, "")

	_, err := s.d.CreateHandle(ctx, alice, "/up/load.bin", false)
	want(t, "CreateHandle onto a file", err, kiln.ErrDBFSExists, "/up/load.bin")
	_, err = s.d.CreateHandle(ctx, alice, "/up", true)
	want(t, "CreateHandle onto a directory", err, kiln.ErrDBFSIsDir, "/up")
	h2, err := s.d.CreateHandle(ctx, alice, "/up/load.bin", true)
	if err != nil {
		t.Fatal(err)
	}
	s.finish(t, alice, h2, "/up/load.bin", "") // overwritten by an empty upload
	// A directory that appeared meanwhile fails the close and ends the handle.
	h3 := s.create(t, alice, "/later")
	s.d.Mkdirs(ctx, "/later")
	want(t, "CloseHandle onto a new directory", s.d.CloseHandle(ctx, alice, h3), kiln.ErrDBFSIsDir, "/later")
	want(t, "CloseHandle after a failed close", s.d.CloseHandle(ctx, alice, h3), kiln.ErrDBFSNoHandle, "")
}

// limit fails unless err is the handle limit.
func limit(t *testing.T, what string, err error) {
	t.Helper()
	var le *kiln.DBFSHandleLimitError
	if !errors.As(err, &le) || le.IdleTimeout != 10*time.Minute {
		t.Errorf("%s: got %v, want the handle limit with the idle timeout", what, err)
	}
}

func testHandleLimits(t *testing.T, s *suite) {
	a1 := s.create(t, alice, "/a1")
	s.create(t, alice, "/a2")
	_, err := s.d.CreateHandle(ctx, alice, "/a3", false)
	limit(t, "a third handle of one owner", err)
	s.create(t, bob, "/b1")
	_, err = s.d.CreateHandle(ctx, bob, "/b2", false)
	limit(t, "a fourth handle in all", err)
	if err := s.d.CloseHandle(ctx, alice, a1); err != nil {
		t.Fatal(err)
	}
	s.create(t, bob, "/b2") // the freed slot
}

func testHandlesExpire(t *testing.T, s *suite) {
	idle := s.create(t, alice, "/idle")
	used := s.create(t, bob, "/used")
	s.d.AddBlock(ctx, alice, idle, []byte("dropped"))
	s.advance(6 * time.Minute)
	if err := s.d.AddBlock(ctx, bob, used, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	s.advance(5 * time.Minute)
	want(t, "AddBlock of an expired handle", s.d.AddBlock(ctx, alice, idle, []byte("late")), kiln.ErrDBFSNoHandle, "")
	want(t, "CloseHandle of an expired handle", s.d.CloseHandle(ctx, alice, idle), kiln.ErrDBFSNoHandle, "")
	s.finish(t, bob, used, "/used", "kept") // used 5 minutes ago
	s.missing(t, "/idle")
	// The expired handles' slots are free again.
	s.create(t, alice, "/again1")
	s.create(t, alice, "/again2")
}

func testConcurrentCreate(t *testing.T, s *suite) {
	h1 := s.create(t, alice, "/same")
	h2 := s.create(t, bob, "/same")
	s.d.AddBlock(ctx, alice, h1, []byte("alice"))
	s.d.AddBlock(ctx, bob, h2, []byte("bob"))
	s.finish(t, alice, h1, "/same", "alice")
	// The second close finds the file and must not replace it.
	want(t, "the second close without overwrite", s.d.CloseHandle(ctx, bob, h2), kiln.ErrDBFSExists, "/same")
	if got := s.content(t, "/same"); got != "alice" {
		t.Errorf("content %q", got)
	}
}

func testConcurrentPuts(t *testing.T, s *suite) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.d.Put(ctx, alice, "/race", bytes.NewReader(bytes.Repeat([]byte{'a' + byte(i)}, 64<<10)), 1<<20, false)
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("puts %d and %d both succeeded", won, i)
		case err == nil:
			won = i
		default:
			want(t, "a losing put", err, kiln.ErrDBFSExists, "/race")
		}
	}
	if won < 0 {
		t.Fatal("no put succeeded")
	}
	if got := s.content(t, "/race"); got != strings.Repeat(string(rune('a'+won)), 64<<10) {
		t.Errorf("the file is not the winner's whole content (%d bytes)", len(got))
	}
}
