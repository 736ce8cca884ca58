package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
)

// objectCols are the workspace object columns every read selects, in
// scanObject's order; reads with content add the content column last.
const objectCols = `id, path, type, language, size, owner_id, created_at, modified_at`

const (
	qObjectStat    = `SELECT ` + objectCols + ` FROM workspace_objects WHERE path = ?`
	qObjectContent = `SELECT ` + objectCols + `, content FROM workspace_objects WHERE path = ?`
)

func scanObject(r scanner, withContent bool) (*kiln.WorkspaceObject, error) {
	o := &kiln.WorkspaceObject{}
	var typ, lang string
	var created, modified int64
	dest := []any{&o.ID, &o.Path, &typ, &lang, &o.Size, &o.OwnerID, &created, &modified}
	if withContent {
		dest = append(dest, &o.Content)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	o.Type, o.Language = kiln.ObjectType(typ), kiln.Language(lang)
	o.Created, o.Modified = kiln.TimeOfMillis(created), kiln.TimeOfMillis(modified)
	if withContent && o.Type != kiln.ObjectDirectory && o.Content == nil {
		o.Content = []byte{} // an empty notebook or file has content, not none
	}
	return o, nil
}

func objectNotFound(path string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Path (%s) doesn't exist.", path)
}

func objectExists(path string) *kiln.Error {
	return kiln.Errorf(kiln.EConflict, "Path (%s) already exists.", path)
}

// subtreeRange returns bounds selecting every path strictly below the
// directory dir: '/' sorts just before '0' in byte order, so "dir/…" lies
// in ("dir/", "dir0"). For the root, every other path.
func subtreeRange(dir string) (lo, hi string) {
	if dir == "/" {
		return "/", "0"
	}
	return dir + "/", dir + "0"
}

// CreateObject inserts o under an existing parent directory. See
// [kiln.ObjectTx].
func (t *tx) CreateObject(o *kiln.WorkspaceObject) error {
	const op = "create workspace object"
	if err := t.writable(op); err != nil {
		return err
	}
	parent := kiln.ParentPath(o.Path)
	if parent == "" {
		return objectExists(o.Path)
	}
	var ptype string
	if err := t.queryRow(`SELECT type FROM workspace_objects WHERE path = ?`, parent).Scan(&ptype); err != nil {
		return t.fail(op, err, kiln.Errorf(kiln.ENotFound, "The parent folder (%s) does not exist.", parent), nil)
	}
	if kiln.ObjectType(ptype) != kiln.ObjectDirectory {
		return kiln.Errorf(kiln.EInvalid, "The parent (%s) is not a folder.", parent)
	}
	id, err := t.newRowID(op, "workspace_objects", o.ID, kiln.Errorf(kiln.EConflict, "Object %d already exists.", o.ID))
	if err != nil {
		return err
	}
	created, modified := o.Created, o.Modified
	if created.IsZero() {
		created = t.now
	}
	if modified.IsZero() {
		modified = created
	}
	var content any // NULL for directories
	size := int64(0)
	if o.Type != kiln.ObjectDirectory {
		content, size = nonNil(o.Content), int64(len(o.Content))
	}
	_, err = t.exec(`INSERT INTO workspace_objects (id, path, parent, type, language, content, size, owner_id,
		created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, o.Path, parent, string(o.Type), string(o.Language), content, size, o.OwnerID,
		kiln.MillisOf(created), kiln.MillisOf(modified))
	if err != nil {
		return t.fail(op, err, nil, objectExists(o.Path))
	}
	o.ID, o.Size, o.Created, o.Modified = id, size, created, modified
	return nil
}

// nonNil makes an empty content a zero-length BLOB rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ReplaceObject overwrites a notebook or file in place. See
// [kiln.ObjectTx].
func (t *tx) ReplaceObject(o *kiln.WorkspaceObject) error {
	const op = "replace workspace object"
	if err := t.writable(op); err != nil {
		return err
	}
	if o.Type == kiln.ObjectDirectory {
		return internal(op, errors.New("replacing with a directory"))
	}
	old, err := t.StatObject(o.Path)
	if err != nil {
		return err
	}
	if old.Type == kiln.ObjectDirectory {
		return kiln.Errorf(kiln.EConflict, "Path (%s) is a folder.", o.Path)
	}
	size := int64(len(o.Content))
	if _, err := t.exec(`UPDATE workspace_objects SET type = ?, language = ?, content = ?, size = ?, modified_at = ?
		WHERE id = ?`, string(o.Type), string(o.Language), nonNil(o.Content), size, t.now.UnixMilli(), old.ID); err != nil {
		return internal(op, err)
	}
	o.ID, o.OwnerID, o.Created, o.Modified, o.Size = old.ID, old.OwnerID, old.Created, t.now, size
	return nil
}

// ObjectByPath returns the object at path with its content.
func (t *tx) ObjectByPath(path string) (*kiln.WorkspaceObject, error) {
	o, err := scanObject(t.queryRow(qObjectContent, path), true)
	if err != nil {
		return nil, t.fail("read workspace object", err, objectNotFound(path), nil)
	}
	return o, nil
}

// StatObject returns the object at path without its content.
func (t *tx) StatObject(path string) (*kiln.WorkspaceObject, error) {
	o, err := scanObject(t.queryRow(qObjectStat, path), false)
	if err != nil {
		return nil, t.fail("stat workspace object", err, objectNotFound(path), nil)
	}
	return o, nil
}

// StatObjectByID returns the object with that id, without its content.
func (t *tx) StatObjectByID(id int64) (*kiln.WorkspaceObject, error) {
	o, err := scanObject(t.queryRow(`SELECT `+objectCols+` FROM workspace_objects WHERE id = ?`, id), false)
	if err != nil {
		return nil, t.fail("stat workspace object", err, kiln.Errorf(kiln.ENotFound, "Object %d does not exist.", id), nil)
	}
	return o, nil
}

// ListObjects returns the direct children of path, ordered by path.
func (t *tx) ListObjects(path string) ([]*kiln.WorkspaceObject, error) {
	const op = "list workspace objects"
	if _, err := t.StatObject(path); err != nil {
		return nil, err
	}
	rows, err := t.query(`SELECT `+objectCols+` FROM workspace_objects WHERE parent = ? ORDER BY path`, path)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	objs := []*kiln.WorkspaceObject{}
	for rows.Next() {
		o, err := scanObject(rows, false)
		if err != nil {
			return nil, internal(op, err)
		}
		objs = append(objs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return objs, nil
}

// DeleteObject removes the object at path, and with recursive everything
// below it. See [kiln.ObjectTx].
func (t *tx) DeleteObject(path string, recursive bool) error {
	const op = "delete workspace object"
	if err := t.writable(op); err != nil {
		return err
	}
	o, err := t.StatObject(path)
	if err != nil {
		return err
	}
	if o.Path == "/" {
		return kiln.Errorf(kiln.EInvalid, "The root folder cannot be deleted.")
	}
	if o.Type == kiln.ObjectDirectory {
		if !recursive {
			nonEmpty, err := t.exists(`SELECT 1 FROM workspace_objects WHERE parent = ? LIMIT 1`, path)
			if err != nil {
				return internal(op, err)
			}
			if nonEmpty {
				return kiln.Errorf(kiln.EInvalid, "Folder (%s) is not empty: delete it with recursive set to true.", path).
					WithReason("DIRECTORY_NOT_EMPTY")
			}
		} else {
			lo, hi := subtreeRange(path)
			if _, err := t.exec(`DELETE FROM workspace_objects WHERE path > ? AND path < ?`, lo, hi); err != nil {
				return internal(op, fmt.Errorf("subtree of %s: %w", path, err))
			}
		}
	}
	if _, err := t.exec(`DELETE FROM workspace_objects WHERE id = ?`, o.ID); err != nil {
		return internal(op, err)
	}
	return nil
}

// MoveObject moves the object at from, and for a directory its subtree,
// to the path to, in place: every row keeps its id, so grants follow. See
// [kiln.ObjectTx].
func (t *tx) MoveObject(from, to string) error {
	const op = "move workspace object"
	if err := t.writable(op); err != nil {
		return err
	}
	if from == "/" {
		return kiln.Errorf(kiln.EInvalid, "The root folder cannot be moved.")
	}
	o, err := t.StatObject(from)
	if err != nil {
		return err
	}
	if to == from || strings.HasPrefix(to, from+"/") {
		return kiln.Errorf(kiln.EInvalid, "%s cannot be moved into itself.", from)
	}
	parent := kiln.ParentPath(to)
	if parent == "" {
		return objectExists(to)
	}
	var ptype string
	if err := t.queryRow(`SELECT type FROM workspace_objects WHERE path = ?`, parent).Scan(&ptype); err != nil {
		return t.fail(op, err, kiln.Errorf(kiln.ENotFound, "The parent folder (%s) does not exist.", parent), nil)
	}
	if kiln.ObjectType(ptype) != kiln.ObjectDirectory {
		return kiln.Errorf(kiln.EInvalid, "The parent (%s) is not a folder.", parent)
	}
	if taken, err := t.exists(`SELECT 1 FROM workspace_objects WHERE path = ?`, to); err != nil {
		return internal(op, err)
	} else if taken {
		return objectExists(to)
	}
	if o.Type == kiln.ObjectDirectory {
		// Every path below from starts with from+"/": its tail after from
		// is kept and to put in front. SUBSTR counts characters in both
		// dialects, hence the rune count. No new path can collide: each
		// starts with to+"/", and nothing is below to, which is free.
		lo, hi := subtreeRange(from)
		tail := utf8.RuneCountInString(from) + 1
		if _, err := t.exec(`UPDATE workspace_objects SET path = CAST(? AS TEXT) || SUBSTR(path, ?),
			parent = CAST(? AS TEXT) || SUBSTR(parent, ?) WHERE path > ? AND path < ?`,
			to, tail, to, tail, lo, hi); err != nil {
			return internal(op, fmt.Errorf("subtree of %s: %w", from, err))
		}
	}
	if _, err := t.exec(`UPDATE workspace_objects SET path = ?, parent = ?, modified_at = ? WHERE id = ?`,
		to, parent, t.now.UnixMilli(), o.ID); err != nil {
		return t.fail(op, err, nil, objectExists(to))
	}
	return nil
}
