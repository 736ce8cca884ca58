package conformance

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

// dir, notebook and file return unsaved workspace objects.
func dir(path string) *kiln.WorkspaceObject {
	return &kiln.WorkspaceObject{Path: path, Type: kiln.ObjectDirectory}
}

func notebook(path, src string) *kiln.WorkspaceObject {
	return &kiln.WorkspaceObject{Path: path, Type: kiln.ObjectNotebook, Language: kiln.LanguagePython, Content: []byte(src)}
}

func file(path string, b []byte) *kiln.WorkspaceObject {
	return &kiln.WorkspaceObject{Path: path, Type: kiln.ObjectFile, Content: b}
}

// createObjects saves objects in order, in one Update.
func createObjects(t *testing.T, s kiln.Store, objs ...*kiln.WorkspaceObject) {
	t.Helper()
	update(t, s, func(tx kiln.Tx) error {
		for _, o := range objs {
			if err := tx.CreateObject(o); err != nil {
				return err
			}
		}
		return nil
	})
}

// objectPaths lists the paths of objs, in order.
func objectPaths(objs []*kiln.WorkspaceObject) []string {
	ps := []string{}
	for _, o := range objs {
		ps = append(ps, o.Path)
	}
	return ps
}

// existingPaths reports which of paths exist.
func existingPaths(t *testing.T, s kiln.Store, paths ...string) []string {
	t.Helper()
	var got []string
	view(t, s, func(tx kiln.Tx) error {
		for _, p := range paths {
			_, err := tx.StatObject(p)
			switch {
			case err == nil:
				got = append(got, p)
			case !kiln.IsCode(err, kiln.ENotFound):
				t.Fatalf("StatObject(%s): %v", p, err)
			}
		}
		return nil
	})
	return got
}

var objectTests = []test{
	{"Object/RootExistsWithIDZero", func(t *testing.T, s kiln.Store) {
		view(t, s, func(tx kiln.Tx) error {
			root, err := tx.StatObject("/")
			if err != nil {
				t.Fatalf("StatObject(/): %v", err)
			}
			if root.ID != 0 || root.Type != kiln.ObjectDirectory || root.Path != "/" {
				t.Errorf("root: got %+v, want directory / with id 0", root)
			}
			kids, err := tx.ListObjects("/")
			if err != nil || len(kids) != 0 {
				t.Errorf("ListObjects(/): got %v, %v, want none", objectPaths(kids), err)
			}
			return nil
		})
	}},
	{"Object/StatByID", func(t *testing.T, s kiln.Store) {
		d, nb := dir("/Shared"), notebook("/Shared/etl", "print(1)\n")
		createObjects(t, s, d, nb)
		view(t, s, func(tx kiln.Tx) error {
			for _, want := range []*kiln.WorkspaceObject{d, nb} {
				got, err := tx.StatObjectByID(want.ID)
				if err != nil || got.Path != want.Path || got.Type != want.Type || got.Content != nil {
					t.Errorf("StatObjectByID(%d) = %+v, %v; want %s without content", want.ID, got, err, want.Path)
				}
			}
			root, err := tx.StatObjectByID(0)
			if err != nil || root.Path != "/" {
				t.Errorf("StatObjectByID(0) = %+v, %v; want the root", root, err)
			}
			_, err = tx.StatObjectByID(nb.ID + 1)
			wantCode(t, "StatObjectByID(missing)", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Object/CreateReadsBack", func(t *testing.T, s kiln.Store) {
		content := []byte("# Databricks notebook source\nprint(1)\n")
		nb := notebook("/Shared/etl", string(content))
		nb.OwnerID = 42
		d := dir("/Shared")
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			if err := tx.CreateObject(d); err != nil {
				return err
			}
			return tx.CreateObject(nb)
		})
		if nb.ID < minID || nb.ID >= maxID || d.ID < minID || d.ID >= maxID || nb.ID == d.ID {
			t.Errorf("ids %d, %d: want distinct ids in [%d, %d)", d.ID, nb.ID, int64(minID), int64(maxID))
		}
		if !nb.Created.Equal(now) || !nb.Modified.Equal(now) || nb.Size != int64(len(content)) {
			t.Errorf("written back: Created %v Modified %v Size %d, want %v %v %d", nb.Created, nb.Modified, nb.Size, now, now, len(content))
		}
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.ObjectByPath("/Shared/etl")
			if err != nil {
				t.Fatalf("ObjectByPath: %v", err)
			}
			if got.ID != nb.ID || got.Type != kiln.ObjectNotebook || got.Language != kiln.LanguagePython ||
				!bytes.Equal(got.Content, content) || got.Size != int64(len(content)) || got.OwnerID != 42 ||
				!got.Created.Equal(now) || !got.Modified.Equal(now) {
				t.Errorf("ObjectByPath: got %+v", got)
			}
			st, err := tx.StatObject("/Shared/etl")
			if err != nil {
				t.Fatalf("StatObject: %v", err)
			}
			if st.Content != nil || st.Size != int64(len(content)) || st.ID != nb.ID {
				t.Errorf("StatObject: got content %q size %d id %d, want no content, size %d", st.Content, st.Size, st.ID, len(content))
			}
			dd, err := tx.ObjectByPath("/Shared")
			if err != nil || dd.Type != kiln.ObjectDirectory || dd.Content != nil || dd.Size != 0 {
				t.Errorf("directory: got %+v, %v", dd, err)
			}
			return nil
		})
	}},
	{"Object/BinaryAndEmptyContentRoundTrip", func(t *testing.T, s kiln.Store) {
		bin := []byte{0, 1, 2, 0xff, 0xfe, '\n', 0}
		createObjects(t, s, dir("/d"), file("/d/bin", bin), file("/d/empty", nil), file("/d/empty2", []byte{}))
		view(t, s, func(tx kiln.Tx) error {
			for path, want := range map[string][]byte{"/d/bin": bin, "/d/empty": {}, "/d/empty2": {}} {
				o, err := tx.ObjectByPath(path)
				if err != nil {
					t.Fatalf("ObjectByPath(%s): %v", path, err)
				}
				if o.Content == nil || !bytes.Equal(o.Content, want) || o.Size != int64(len(want)) {
					t.Errorf("%s: got content %v (nil %v) size %d, want %v", path, o.Content, o.Content == nil, o.Size, want)
				}
			}
			return nil
		})
	}},
	{"Object/PathsAreCaseSensitive", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"), file("/d/a", []byte("lower")), file("/d/A", []byte("upper")))
		view(t, s, func(tx kiln.Tx) error {
			kids, err := tx.ListObjects("/d")
			if err != nil || !slices.Equal(objectPaths(kids), []string{"/d/A", "/d/a"}) {
				t.Errorf("ListObjects: got %v, %v, want [/d/A /d/a]", objectPaths(kids), err)
			}
			return nil
		})
	}},
	{"Object/TakenPathConflicts", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"), file("/d/x", []byte("1")))
		for _, o := range []*kiln.WorkspaceObject{file("/d/x", []byte("2")), dir("/d/x"), dir("/d"), dir("/")} {
			err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateObject(o) })
			wantCode(t, "CreateObject("+o.Path+")", err, kiln.EConflict)
		}
	}},
	{"Object/ParentMustBeAnExistingDirectory", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"), file("/d/f", []byte("x")))
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateObject(file("/missing/x", nil)) })
		wantCode(t, "CreateObject under a missing parent", err, kiln.ENotFound)
		err = s.Update(ctx(t), func(tx kiln.Tx) error { return tx.CreateObject(file("/d/f/x", nil)) })
		wantCode(t, "CreateObject under a file", err, kiln.EInvalid)
	}},
	{"Object/FailedCreateKeepsTransactionUsable", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"))
		update(t, s, func(tx kiln.Tx) error {
			if err := tx.CreateObject(dir("/d")); !kiln.IsCode(err, kiln.EConflict) {
				t.Errorf("duplicate: got %v, want EConflict", err)
			}
			return tx.CreateObject(dir("/d/e"))
		})
		if got := existingPaths(t, s, "/d/e"); len(got) != 1 {
			t.Errorf("the write after a conflict was lost")
		}
	}},
	{"Object/ListIsDirectChildrenInPathOrder", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"), dir("/d/b"), file("/d/b/deep", nil), file("/d/c", []byte("x")),
			notebook("/d/a", "1"), dir("/d-sibling"), dir("/d0"), file("/d/b0", nil))
		view(t, s, func(tx kiln.Tx) error {
			kids, err := tx.ListObjects("/d")
			if err != nil {
				t.Fatalf("ListObjects: %v", err)
			}
			if want := []string{"/d/a", "/d/b", "/d/b0", "/d/c"}; !slices.Equal(objectPaths(kids), want) {
				t.Errorf("ListObjects(/d): got %v, want %v", objectPaths(kids), want)
			}
			for _, k := range kids {
				if k.Content != nil {
					t.Errorf("%s: list returned content", k.Path)
				}
				if k.Path == "/d/c" && k.Size != 1 {
					t.Errorf("%s: size %d, want 1", k.Path, k.Size)
				}
			}
			top, err := tx.ListObjects("/")
			if want := []string{"/d", "/d-sibling", "/d0"}; err != nil || !slices.Equal(objectPaths(top), want) {
				t.Errorf("ListObjects(/): got %v, %v, want %v", objectPaths(top), err, want)
			}
			leaf, err := tx.ListObjects("/d/c")
			if err != nil || len(leaf) != 0 {
				t.Errorf("ListObjects(file): got %v, %v, want none", objectPaths(leaf), err)
			}
			_, err = tx.ListObjects("/nope")
			wantCode(t, "ListObjects(missing)", err, kiln.ENotFound)
			return nil
		})
	}},
	{"Object/ReplaceKeepsIdentity", func(t *testing.T, s kiln.Store) {
		nb := notebook("/nb", "old")
		nb.OwnerID = 7
		nb.Created = t0
		createObjects(t, s, nb)
		repl := &kiln.WorkspaceObject{Path: "/nb", Type: kiln.ObjectFile, Content: []byte("brand new")}
		var now time.Time
		update(t, s, func(tx kiln.Tx) error { now = tx.Now(); return tx.ReplaceObject(repl) })
		if repl.ID != nb.ID || repl.OwnerID != 7 || !repl.Created.Equal(t0) || !repl.Modified.Equal(now) || repl.Size != 9 {
			t.Errorf("written back: %+v", repl)
		}
		view(t, s, func(tx kiln.Tx) error {
			got, err := tx.ObjectByPath("/nb")
			if err != nil {
				t.Fatalf("ObjectByPath: %v", err)
			}
			if got.ID != nb.ID || got.Type != kiln.ObjectFile || got.Language != "" || string(got.Content) != "brand new" ||
				got.Size != 9 || !got.Created.Equal(t0) || !got.Modified.Equal(now) {
				t.Errorf("after replace: %+v", got)
			}
			return nil
		})
	}},
	{"Object/ReplaceMissingOrDirectoryFails", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"))
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.ReplaceObject(file("/nope", nil)) })
		wantCode(t, "ReplaceObject(missing)", err, kiln.ENotFound)
		err = s.Update(ctx(t), func(tx kiln.Tx) error { return tx.ReplaceObject(file("/d", nil)) })
		wantCode(t, "ReplaceObject(directory)", err, kiln.EConflict)
	}},
	{"Object/MissingIsNotFound", func(t *testing.T, s kiln.Store) {
		for _, c := range []struct {
			name string
			op   func(kiln.Tx) error
		}{
			{"ObjectByPath", func(tx kiln.Tx) error { _, err := tx.ObjectByPath("/nope"); return err }},
			{"StatObject", func(tx kiln.Tx) error { _, err := tx.StatObject("/nope"); return err }},
			{"DeleteObject", func(tx kiln.Tx) error { return tx.DeleteObject("/nope", true) }},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, c.name, s.Update(ctx(t), c.op), kiln.ENotFound)
			})
		}
	}},
	{"Object/DeleteNonEmptyNeedsRecursive", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"), dir("/d/sub"), file("/d/sub/f", []byte("x")), notebook("/d/nb", "1"),
			dir("/d-keep"), file("/d-keep/f", nil), dir("/d0"), file("/dd", nil))
		err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.DeleteObject("/d", false) })
		wantCode(t, "DeleteObject(non-empty)", err, kiln.EInvalid)
		var ke *kiln.Error
		if !errors.As(err, &ke) || ke.Reason != "DIRECTORY_NOT_EMPTY" {
			t.Errorf("DeleteObject(non-empty): got %v, want Reason DIRECTORY_NOT_EMPTY", err)
		}
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteObject("/d/nb", false) })
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteObject("/d", true) })
		all := []string{"/d", "/d/sub", "/d/sub/f", "/d/nb", "/d-keep", "/d-keep/f", "/d0", "/dd"}
		if got, want := existingPaths(t, s, all...), []string{"/d-keep", "/d-keep/f", "/d0", "/dd"}; !slices.Equal(got, want) {
			t.Errorf("after recursive delete: got %v, want %v", got, want)
		}
		// An empty directory goes without recursive.
		update(t, s, func(tx kiln.Tx) error { return tx.DeleteObject("/d0", false) })
		if got := existingPaths(t, s, "/d0"); len(got) != 0 {
			t.Errorf("empty directory still there")
		}
	}},
	{"Object/MoveKeepsIDsAndSubtree", func(t *testing.T, s kiln.Store) {
		d, sub, f, nb := dir("/d"), dir("/d/sub"), file("/d/sub/f", []byte("x")), notebook("/d/nb", "print(1)\n")
		createObjects(t, s, d, sub, f, nb, dir("/d-keep"), file("/d-keep/f", nil), dir("/d0"), dir("/t"))
		update(t, s, func(tx kiln.Tx) error { return tx.MoveObject("/d", "/t/é") })
		all := []string{"/d", "/d/sub", "/d/sub/f", "/d/nb", "/d-keep", "/d-keep/f", "/d0", "/t/é", "/t/é/sub", "/t/é/sub/f", "/t/é/nb"}
		want := []string{"/d-keep", "/d-keep/f", "/d0", "/t/é", "/t/é/sub", "/t/é/sub/f", "/t/é/nb"}
		if got := existingPaths(t, s, all...); !slices.Equal(got, want) {
			t.Errorf("after moving /d to /t/é: got %v, want %v", got, want)
		}
		view(t, s, func(tx kiln.Tx) error {
			for _, o := range []*kiln.WorkspaceObject{d, sub, f, nb} {
				got, err := tx.StatObjectByID(o.ID)
				if err != nil || got.Path != "/t/é"+o.Path[2:] {
					t.Errorf("object %d after the move: %+v, %v; want it at /t/é%s", o.ID, got, err, o.Path[2:])
				}
			}
			kids, err := tx.ListObjects("/t/é")
			if got := objectPaths(kids); err != nil || !slices.Equal(got, []string{"/t/é/nb", "/t/é/sub"}) {
				t.Errorf("ListObjects(/t/é) = %v, %v", got, err)
			}
			got, err := tx.ObjectByPath("/t/é/nb")
			if err != nil || string(got.Content) != "print(1)\n" {
				t.Errorf("moved notebook: %+v, %v", got, err)
			}
			return nil
		})
		// A rename of a file in place.
		update(t, s, func(tx kiln.Tx) error { return tx.MoveObject("/d-keep/f", "/d-keep/g") })
		if got := existingPaths(t, s, "/d-keep/f", "/d-keep/g"); !slices.Equal(got, []string{"/d-keep/g"}) {
			t.Errorf("after renaming /d-keep/f: got %v", got)
		}
	}},
	{"Object/MoveRefusals", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"), dir("/d/sub"), file("/f", nil), dir("/e"))
		for _, c := range []struct {
			from, to string
			code     kiln.Code
		}{
			{"/missing", "/x", kiln.ENotFound},
			{"/d", "/nowhere/d", kiln.ENotFound},
			{"/d", "/e", kiln.EConflict},
			{"/d", "/d", kiln.EInvalid},
			{"/d", "/d/sub/d", kiln.EInvalid},
			{"/d", "/f/d", kiln.EInvalid},
			{"/", "/root", kiln.EInvalid},
		} {
			err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.MoveObject(c.from, c.to) })
			wantCode(t, "MoveObject("+c.from+", "+c.to+")", err, c.code)
		}
		if err := s.View(ctx(t), func(tx kiln.Tx) error { return tx.MoveObject("/f", "/g") }); err == nil {
			t.Error("MoveObject in a View: got nil error")
		}
		if got := existingPaths(t, s, "/d", "/d/sub", "/f", "/e", "/g"); len(got) != 4 {
			t.Errorf("after refused moves: got %v, want /d, /d/sub, /f, /e", got)
		}
	}},
	{"Object/RootCannotBeDeleted", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"))
		for _, recursive := range []bool{false, true} {
			err := s.Update(ctx(t), func(tx kiln.Tx) error { return tx.DeleteObject("/", recursive) })
			wantCode(t, "DeleteObject(/)", err, kiln.EInvalid)
		}
		if got := existingPaths(t, s, "/", "/d"); len(got) != 2 {
			t.Errorf("after refused deletes: got %v, want / and /d", got)
		}
	}},
	{"Object/WritesFailInView", func(t *testing.T, s kiln.Store) {
		createObjects(t, s, dir("/d"))
		for name, op := range map[string]func(kiln.Tx) error{
			"CreateObject":  func(tx kiln.Tx) error { return tx.CreateObject(dir("/e")) },
			"ReplaceObject": func(tx kiln.Tx) error { return tx.ReplaceObject(file("/d", nil)) },
			"DeleteObject":  func(tx kiln.Tx) error { return tx.DeleteObject("/d", true) },
		} {
			if err := s.View(ctx(t), op); err == nil {
				t.Errorf("%s in a View: got nil error", name)
			}
		}
		if got := existingPaths(t, s, "/d", "/e"); !slices.Equal(got, []string{"/d"}) {
			t.Errorf("after writes in a View: got %v, want [/d]", got)
		}
	}},
	{"Object/RollbackLeavesNothing", func(t *testing.T, s kiln.Store) {
		err := s.Update(ctx(t), func(tx kiln.Tx) error {
			if err := tx.CreateObject(dir("/d")); err != nil {
				return err
			}
			return kiln.Errorf(kiln.EInvalid, "abort")
		})
		wantCode(t, "Update", err, kiln.EInvalid)
		if got := existingPaths(t, s, "/d"); len(got) != 0 {
			t.Errorf("rolled-back object exists")
		}
	}},
	{"Object/LargeContentRoundTrips", func(t *testing.T, s kiln.Store) {
		big := bytes.Repeat([]byte("0123456789abcdef"), kiln.MaxObjectSize/16)
		createObjects(t, s, file("/big", big))
		view(t, s, func(tx kiln.Tx) error {
			o, err := tx.ObjectByPath("/big")
			if err != nil || !bytes.Equal(o.Content, big) || o.Size != kiln.MaxObjectSize {
				t.Errorf("10 MB object: size %d, err %v", len(o.Content), err)
			}
			return nil
		})
	}},
}
