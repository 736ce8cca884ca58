package kiln

import (
	"strings"
	"time"
	"unicode/utf8"
)

// ObjectType is the kind of a workspace object, as the Workspace API
// names it.
type ObjectType string

// The workspace object types kiln stores.
const (
	ObjectDirectory ObjectType = "DIRECTORY"
	ObjectNotebook  ObjectType = "NOTEBOOK"
	ObjectFile      ObjectType = "FILE"
)

// Language is a notebook's language.
type Language string

// The notebook languages.
const (
	LanguagePython Language = "PYTHON"
	LanguageSQL    Language = "SQL"
	LanguageScala  Language = "SCALA"
	LanguageR      Language = "R"
)

// WorkspaceObject is a directory, notebook or file in the workspace tree
// (the Workspace API's ObjectInfo, plus content).
type WorkspaceObject struct {
	// ID is numeric (object_id), below 2^53. The root directory "/" has
	// id 0, as on Databricks.
	ID int64
	// Path is absolute and clean (see [CleanObjectPath]):
	// "/Users/jane@example.com/etl", never ending in "/" except the root.
	Path     string
	Type     ObjectType
	Language Language // notebooks only
	// Content is the notebook source (SOURCE format) or the file bytes;
	// nil for directories and for reads that skip content.
	Content []byte
	// Size is len(Content) for notebooks and files, 0 for directories. It
	// is filled on reads that skip content too.
	Size int64
	// OwnerID is the principal that created the object (0: kiln itself).
	// It is informational: who may read or write a path follows from the
	// path (see the service), not from the owner.
	OwnerID  int64
	Created  time.Time
	Modified time.Time
}

// MaxObjectSize bounds a notebook or file, as Databricks does (10 MB).
const MaxObjectSize = 10 << 20

// Workspace paths kiln creates and protects.
const (
	// UsersPath holds one home folder per principal, /Users/<userName>.
	UsersPath = "/Users"
	// SharedPath is the folder every principal may read and write.
	SharedPath = "/Shared"
)

// HomePath returns the home folder of the principal with the given user
// name: /Users/<userName>.
func HomePath(userName string) string { return UsersPath + "/" + userName }

// WorkspacePrefix is the mount under which Databricks also shows the
// workspace tree: "/Workspace/Users/jane" names "/Users/jane", and
// "/Workspace" the root. [CleanObjectPath] removes it, so that no object
// is stored under it; the API echoes it back in paths it returns when the
// request spelled it (see [HasWorkspacePrefix]).
const WorkspacePrefix = "/Workspace"

// HasWorkspacePrefix reports whether the workspace path p, as a client
// sent it, starts with the /Workspace mount ("/Workspace" or
// "/Workspace/…", after a single slash, as Databricks decides whether to
// echo it).
func HasWorkspacePrefix(p string) bool {
	rest, ok := strings.CutPrefix(p, WorkspacePrefix)
	return ok && (rest == "" || rest[0] == '/')
}

// WithWorkspacePrefix returns clean path p under the /Workspace mount when
// prefixed is true, else p.
func WithWorkspacePrefix(p string, prefixed bool) string {
	switch {
	case !prefixed:
		return p
	case p == "/":
		return WorkspacePrefix
	}
	return WorkspacePrefix + p
}

// Bounds of a workspace path, in bytes. Databricks documents none; these
// are far above any real path and keep every index entry small.
const (
	MaxObjectPathLen = 4096
	MaxObjectNameLen = 255
)

// Audit actions of the workspace tree. Reads are not audited.
const (
	AuditObjectImport = "workspace.import"
	AuditObjectMkdirs = "workspace.mkdirs"
	AuditObjectDelete = "workspace.delete"
	AuditObjectMove   = "workspace.move"
)

// CleanObjectPath returns the canonical form of a workspace path, or an
// EInvalid error whose message says what is wrong. A path must be absolute
// ("/…"), valid UTF-8, without NUL or other control characters, and must
// not contain a ".." element (refused rather than resolved: a client
// sending one is confused or probing). Repeated slashes, "." elements and
// a trailing slash are removed, and so are leading /Workspace elements
// (the mount Databricks shows the tree under: "/Workspace/Shared/x" is
// "/Shared/x"), so that no stored path starts with one. The whole path is at most MaxObjectPathLen bytes and each
// element at most MaxObjectNameLen.
//
// Every path the store sees has been through it: "/a//b/" and "/a/b" must
// name the same object.
func CleanObjectPath(p string) (string, error) {
	if p == "" {
		return "", Errorf(EInvalid, "Path is required.")
	}
	if len(p) > MaxObjectPathLen {
		return "", Errorf(EInvalid, "Path is too long: the limit is %d bytes.", MaxObjectPathLen)
	}
	if !utf8.ValidString(p) {
		return "", Errorf(EInvalid, "Path must be valid UTF-8.")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", Errorf(EInvalid, "Path must not contain control characters.")
		}
	}
	if p[0] != '/' {
		return "", Errorf(EInvalid, "Path (%s) must be absolute, starting with /.", p)
	}
	var b strings.Builder
	b.Grow(len(p))
	for elem := range strings.SplitSeq(p, "/") {
		switch elem {
		case "", ".":
			continue
		case "..":
			return "", Errorf(EInvalid, "Path (%s) must not contain '..'.", p)
		}
		if len(elem) > MaxObjectNameLen {
			return "", Errorf(EInvalid, "A path element is too long: the limit is %d bytes.", MaxObjectNameLen)
		}
		b.WriteByte('/')
		b.WriteString(elem)
	}
	clean := b.String()
	for HasWorkspacePrefix(clean) {
		clean = clean[len(WorkspacePrefix):]
	}
	if clean == "" {
		return "/", nil
	}
	return clean, nil
}

// ParentPath returns the parent of a clean path: "/a" for "/a/b", "/" for
// "/a", and "" for the root, which has none.
func ParentPath(p string) string {
	if p == "/" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// ObjectTx stores the workspace tree. Paths are clean ([CleanObjectPath]);
// the store does not clean them again. The root directory "/" (id 0)
// exists in every store and cannot be deleted. Parents must exist:
// creating /a/b/c needs the directory /a/b.
type ObjectTx interface {
	// CreateObject inserts o; a zero o.ID is assigned, zero o.Created and
	// o.Modified become the transaction time and o.Size becomes
	// len(o.Content), all written back to o. EConflict if the path exists,
	// ENotFound if the parent does not, EInvalid if the parent is not a
	// directory.
	CreateObject(o *WorkspaceObject) error
	// ReplaceObject overwrites the object at o.Path, which must be a
	// notebook or file, with o's type (notebook or file), language and
	// content; its id, owner and creation time stay and its modified time
	// becomes the transaction time. o is filled as a read would. ENotFound
	// if the path does not exist, EConflict if it is a directory.
	ReplaceObject(o *WorkspaceObject) error
	// ObjectByPath returns the object at path with its content, or
	// ENotFound.
	ObjectByPath(path string) (*WorkspaceObject, error)
	// StatObject returns the object at path without its content (Size is
	// set), or ENotFound.
	StatObject(path string) (*WorkspaceObject, error)
	// StatObjectByID returns the object with that object_id without its
	// content, or ENotFound.
	StatObjectByID(id int64) (*WorkspaceObject, error)
	// ListObjects returns the direct children of the directory at path,
	// without content, ordered by path. ENotFound if path does not exist;
	// an empty slice for an empty directory or a notebook or file.
	ListObjects(path string) ([]*WorkspaceObject, error)
	// DeleteObject removes the object at path; with recursive, a directory
	// and everything below it. ENotFound if path does not exist; a
	// non-empty directory without recursive is EInvalid with Reason
	// DIRECTORY_NOT_EMPTY; the root is EInvalid.
	DeleteObject(path string, recursive bool) error
	// MoveObject moves the object at from to the path to, a directory
	// with everything below it: ids, owners, content and times stay (so
	// grants, which name object ids, move with them), only paths change.
	// ENotFound if from does not exist or the parent of to does not;
	// EConflict if to exists; EInvalid if the parent of to is not a
	// directory, if to is from or lies below it, or if from is the root.
	MoveObject(from, to string) error
}

// PathPrefixes returns the ancestors of the clean path p below the root,
// then p itself: "/a", "/a/b", "/a/b/c" for "/a/b/c", and none for "/".
func PathPrefixes(p string) []string {
	var out []string
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	if p != "/" {
		out = append(out, p)
	}
	return out
}
