package service

import (
	"context"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/notebook"
)

// The workspace tree (Workspace API 2.0).
//
// Permissions follow from the path, not from per-object ACLs:
//
//   - admins read and write everything;
//   - everyone reads and writes /Shared and their own home folder
//     /Users/<userName> (which kiln creates on first use);
//   - everyone reads the rest of the tree except other principals' home
//     folders, which only admins open (listing /Users shows a non-admin
//     their own home only);
//   - only admins write outside /Shared and their own home;
//   - /, /Users and /Shared are never deleted, and a non-admin cannot
//     delete their own home folder.
//
// A read of a path someone may not read is 403 even when it does not
// exist (no probing of other homes); any other missing path is 404.

// Import and export formats, as the Workspace API names them.
const (
	FormatSource  = "SOURCE"
	FormatJupyter = "JUPYTER"
	FormatAuto    = "AUTO"
	FormatRaw     = "RAW"
)

// unsupportedFormats are Databricks formats kiln refuses with a clear
// message rather than as unknown.
var unsupportedFormats = map[string]bool{"HTML": true, "DBC": true, "R_MARKDOWN": true}

// ReasonMaxNotebookSize is the error_code of a notebook or file over
// kiln.MaxObjectSize.
const ReasonMaxNotebookSize = "MAX_NOTEBOOK_SIZE_EXCEEDED"

// TooLargeObject is the error for content over kiln.MaxObjectSize.
func TooLargeObject() *kiln.Error {
	return kiln.Errorf(kiln.EInvalid, "The content is larger than the %d MB limit.", kiln.MaxObjectSize>>20).
		WithReason(ReasonMaxNotebookSize)
}

// within reports whether clean path p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == "/"
}

// homeOwner returns the user name whose home folder holds p
// ("/Users/<name>/…"), "" when p is not in a home folder.
func homeOwner(p string) string {
	rest, ok := strings.CutPrefix(p, kiln.UsersPath+"/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// canReadPath says whether c may read the object at clean path p.
func canReadPath(c *kiln.Caller, p string) bool {
	if isAdmin(c) {
		return true
	}
	owner := homeOwner(p)
	return owner == "" || owner == c.Principal.UserName
}

// canWritePath says whether c may create, change or delete the object at
// clean path p.
func canWritePath(c *kiln.Caller, p string) bool {
	return isAdmin(c) || within(p, kiln.SharedPath) || within(p, kiln.HomePath(c.Principal.UserName))
}

func readDenied(p string) error {
	return kiln.Errorf(kiln.EPermission, "You do not have permission to read %s.", p)
}

func writeDenied(p string) error {
	return kiln.Errorf(kiln.EPermission, "You do not have permission to write to %s.", p)
}

// ensureTree creates what kiln provides without being asked, if missing:
// /Users, /Shared, and the home folder that p lies in when it belongs to
// an existing principal (exact spelling of the user name), or the
// caller's own home when p is / or /Users (so that it shows in listings).
// It runs inside the write transaction of an import or mkdirs.
func ensureTree(tx kiln.Tx, c *kiln.Caller, p string) error {
	for _, d := range []string{kiln.UsersPath, kiln.SharedPath} {
		if err := ensureDir(tx, d, 0); err != nil {
			return err
		}
	}
	name := homeOwner(p)
	if name == "" && (p == "/" || p == kiln.UsersPath) && c.Method != "offline" {
		name = c.Principal.UserName
	}
	if name == "" {
		return nil
	}
	owner := c.Principal
	if name != c.Principal.UserName || c.Method == "offline" {
		var err error
		owner, err = tx.PrincipalByName(name)
		if kiln.IsCode(err, kiln.ENotFound) || (err == nil && owner.UserName != name) {
			return nil // not a home folder: the parent check reports it
		}
		if err != nil {
			return err
		}
	}
	return ensureDir(tx, kiln.HomePath(name), owner.ID)
}

// ensureDir creates the directory d (whose parent exists) when missing.
func ensureDir(tx kiln.Tx, d string, owner int64) error {
	_, err := tx.StatObject(d)
	if !kiln.IsCode(err, kiln.ENotFound) {
		return err
	}
	return tx.CreateObject(&kiln.WorkspaceObject{Path: d, Type: kiln.ObjectDirectory, OwnerID: owner})
}

// treeMissing reports whether ensureTree would create something for p: a
// read only pays for a write transaction the first time.
func treeMissing(tx kiln.Tx, c *kiln.Caller, p string) (bool, error) {
	dirs := []string{kiln.UsersPath, kiln.SharedPath}
	if name := homeOwner(p); name != "" {
		if name != c.Principal.UserName || c.Method == "offline" {
			// Only a principal's home is kiln's to create: probing
			// /Users/nobody must not cost a write transaction each time.
			owner, err := tx.PrincipalByName(name)
			if kiln.IsCode(err, kiln.ENotFound) || (err == nil && owner.UserName != name) {
				name = ""
			} else if err != nil {
				return false, err
			}
		}
		if name != "" {
			dirs = append(dirs, kiln.HomePath(name))
		}
	} else if (p == "/" || p == kiln.UsersPath) && c.Method != "offline" {
		dirs = append(dirs, kiln.HomePath(c.Principal.UserName))
	}
	for _, d := range dirs {
		_, err := tx.StatObject(d)
		if kiln.IsCode(err, kiln.ENotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// readTree runs fn in a View after making sure the folders kiln provides
// exist, so that a user's first request already finds /Users/<them>.
func (s *Service) readTree(ctx context.Context, c *kiln.Caller, p string, fn func(kiln.Tx) error) error {
	if p == "/" || within(p, kiln.UsersPath) || within(p, kiln.SharedPath) {
		missing := false
		if err := s.view(ctx, func(tx kiln.Tx) error {
			var err error
			missing, err = treeMissing(tx, c, p)
			return err
		}); err != nil {
			return err
		}
		if missing {
			if err := s.store.Update(ctx, func(tx kiln.Tx) error { return ensureTree(tx, c, p) }); err != nil {
				return err
			}
		}
	}
	return s.view(ctx, fn)
}

// callerPath returns the caller and the clean path, checking that the
// caller may read it (by the path rules or a grant).
func (s *Service) callerPath(ctx context.Context, p string) (*kiln.Caller, string, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, "", err
	}
	clean, err := kiln.CleanObjectPath(p)
	if err != nil {
		return nil, "", err
	}
	if ok, err := s.mayAccess(ctx, nil, c, clean, objectRanks[LevelCanRead]); err != nil {
		return nil, "", err
	} else if !ok {
		return nil, "", readDenied(clean)
	}
	return c, clean, nil
}

// ImportParams are the inputs of a workspace import.
type ImportParams struct {
	Path string
	// Format is SOURCE (the default when empty), JUPYTER, AUTO or RAW,
	// in any case.
	Format string
	// Language is PYTHON, SQL, SCALA or R, in any case; for SOURCE it may
	// be omitted when the content's header or the path's extension says it.
	Language  string
	Content   []byte
	Overwrite bool
}

// parseLanguage validates a language parameter; "" stays "".
func parseLanguage(s string) (kiln.Language, error) {
	if s == "" {
		return "", nil
	}
	switch l := kiln.Language(strings.ToUpper(strings.TrimSpace(s))); l {
	case kiln.LanguagePython, kiln.LanguageSQL, kiln.LanguageScala, kiln.LanguageR:
		return l, nil
	}
	return "", kiln.Errorf(kiln.EInvalid, "Invalid language %q: expected PYTHON, SQL, SCALA or R.", s)
}

// parseFormat validates a format parameter; "" is SOURCE.
func parseFormat(s string) (string, error) {
	f := strings.ToUpper(strings.TrimSpace(s))
	switch {
	case f == "":
		return FormatSource, nil
	case f == FormatSource || f == FormatJupyter || f == FormatAuto || f == FormatRaw:
		return f, nil
	case unsupportedFormats[f]:
		return "", kiln.Errorf(kiln.EInvalid, "The %s format is not supported by kiln: use SOURCE, JUPYTER, AUTO or RAW.", f)
	}
	return "", kiln.Errorf(kiln.EInvalid, "Invalid format %q: expected SOURCE, JUPYTER, AUTO or RAW.", s)
}

// stripExt returns p without its extension ext, unless that would leave
// an empty name (a file called ".py").
func stripExt(p, ext string) string {
	base := path.Base(p)
	if ext == "" || len(base) <= len(ext) {
		return p
	}
	return p[:len(p)-len(ext)]
}

// resolveImport turns import parameters into the object to store. AUTO
// follows Databricks (and the CLI's own notebook detection): .ipynb is a
// Jupyter notebook; a .py, .sql, .scala or .r file starting with the
// SOURCE header of that extension's language ("# Databricks notebook
// source" for .py and .r) is a notebook, its extension stripped; anything
// else, .py scripts without the header and headers under other names
// included, is a workspace file at the path as given (so the SDK's
// WriteFile/ReadFile and the CLI's uploads round-trip). RAW is always a file.
func resolveImport(p ImportParams, clean string) (*kiln.WorkspaceObject, error) {
	format, err := parseFormat(p.Format)
	if err != nil {
		return nil, err
	}
	lang, err := parseLanguage(p.Language)
	if err != nil {
		return nil, err
	}
	ext := path.Ext(clean)
	o := &kiln.WorkspaceObject{Path: clean, Type: kiln.ObjectNotebook}
	switch format {
	case FormatSource:
		if lang == "" {
			lang = notebook.HeaderLanguage(p.Content, ext)
		}
		if lang == "" {
			lang = notebook.LanguageOfExt(ext)
		}
		if lang == "" {
			return nil, kiln.Errorf(kiln.EInvalid, "The language is required to import %s in SOURCE format: set language to PYTHON, SQL, SCALA or R.", clean)
		}
		o.Language, o.Content = lang, notebook.WithHeader(p.Content, lang)
	case FormatJupyter:
		o.Content, o.Language, err = notebook.JupyterToSource(p.Content, lang)
		if err != nil {
			return nil, err
		}
	case FormatAuto:
		switch hl := notebook.HeaderLanguage(p.Content, ext); {
		case strings.EqualFold(ext, ".ipynb"):
			o.Content, o.Language, err = notebook.JupyterToSource(p.Content, lang)
			if err != nil {
				return nil, err
			}
			o.Path = stripExt(clean, ext)
		case hl != "" && hl == notebook.LanguageOfExt(ext):
			o.Language, o.Content, o.Path = hl, p.Content, stripExt(clean, ext)
		default:
			o.Type, o.Content = kiln.ObjectFile, p.Content
		}
	case FormatRaw:
		o.Type, o.Content = kiln.ObjectFile, p.Content
	}
	if len(o.Content) > kiln.MaxObjectSize {
		return nil, TooLargeObject()
	}
	if o.Content == nil {
		o.Content = []byte{}
	}
	return o, nil
}

// ImportObject creates (or with Overwrite replaces) a notebook or file.
// The parent folder must exist (404 otherwise), except the folders kiln
// provides (/Users/<name>, /Shared), which are created on first use.
func (s *Service) ImportObject(ctx context.Context, p ImportParams) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	clean, err := kiln.CleanObjectPath(p.Path)
	if err != nil {
		return err
	}
	if len(p.Content) > kiln.MaxObjectSize {
		return TooLargeObject()
	}
	o, err := resolveImport(p, clean)
	if err != nil {
		return err
	}
	if ok, err := s.mayAccess(ctx, nil, c, o.Path, objectRanks[LevelCanEdit]); err != nil {
		return err
	} else if !ok {
		return writeDenied(o.Path)
	}
	o.OwnerID = c.Principal.ID
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		if err := ensureTree(tx, c, o.Path); err != nil {
			return err
		}
		old, err := tx.StatObject(o.Path)
		switch {
		case err == nil && old.Type == kiln.ObjectDirectory:
			return kiln.Errorf(kiln.EConflict, "Path (%s) already exists and is a folder.", o.Path)
		case err == nil && !p.Overwrite:
			return kiln.Errorf(kiln.EConflict, "Path (%s) already exists: set overwrite to replace it.", o.Path)
		case err == nil:
			err = tx.ReplaceObject(o)
		case kiln.IsCode(err, kiln.ENotFound):
			err = tx.CreateObject(o)
		}
		if err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditObjectImport, "workspace:"+o.Path)
		ev.Detail = map[string]string{"type": string(o.Type), "language": string(o.Language), "size": strconv.FormatInt(o.Size, 10)}
		return tx.Audit(ev)
	})
}

// Export is an exported notebook or file.
type Export struct {
	Content []byte
	// FileType is the export's extension without the dot: py, sql, scala
	// or r for SOURCE notebooks, ipynb for JUPYTER, the file's own
	// extension for files ("" when it has none).
	FileType string
}

// ExportObject returns a notebook (SOURCE by default, or JUPYTER) or a
// file's bytes. Folders cannot be exported (kiln has no DBC archives).
func (s *Service) ExportObject(ctx context.Context, p, format string) (*Export, error) {
	c, clean, err := s.callerPath(ctx, p)
	if err != nil {
		return nil, err
	}
	f, err := parseFormat(format)
	if err != nil {
		return nil, err
	}
	var o *kiln.WorkspaceObject
	err = s.readTree(ctx, c, clean, func(tx kiln.Tx) error {
		var err error
		if o, err = tx.ObjectByPath(clean); err != nil {
			return err
		}
		return refuseNotebookExport(tx, o)
	})
	if err != nil {
		return nil, err
	}
	switch {
	case o.Type == kiln.ObjectDirectory:
		return nil, kiln.Errorf(kiln.EInvalid, "%s is a folder: kiln exports notebooks and files one at a time.", clean)
	case o.Type == kiln.ObjectFile && f == FormatJupyter:
		return nil, kiln.Errorf(kiln.EInvalid, "%s is a file, not a notebook: export it in SOURCE, AUTO or RAW format.", clean)
	case o.Type == kiln.ObjectFile:
		return &Export{Content: o.Content, FileType: strings.TrimPrefix(path.Ext(clean), ".")}, nil
	case f == FormatJupyter:
		return &Export{Content: notebook.SourceToJupyter(o.Content, o.Language), FileType: "ipynb"}, nil
	default:
		return &Export{Content: o.Content, FileType: notebook.FileType(o.Language)}, nil
	}
}

// ObjectStatus returns the object at p without content.
func (s *Service) ObjectStatus(ctx context.Context, p string) (*kiln.WorkspaceObject, error) {
	c, clean, err := s.callerPath(ctx, p)
	if err != nil {
		return nil, err
	}
	var o *kiln.WorkspaceObject
	err = s.readTree(ctx, c, clean, func(tx kiln.Tx) error {
		var err error
		o, err = tx.StatObject(clean)
		return err
	})
	return o, err
}

// ListObjects returns the children of the folder at p that the caller may
// read, ordered by path; for a notebook or file, the object itself. With
// a non-zero modifiedAfter, notebooks modified at or before it are left
// out (notebooks_modified_after).
func (s *Service) ListObjects(ctx context.Context, p string, modifiedAfter time.Time) ([]*kiln.WorkspaceObject, error) {
	c, clean, err := s.callerPath(ctx, p)
	if err != nil {
		return nil, err
	}
	var objs []*kiln.WorkspaceObject
	err = s.readTree(ctx, c, clean, func(tx kiln.Tx) error {
		self, err := tx.StatObject(clean)
		if err != nil {
			return err
		}
		if self.Type != kiln.ObjectDirectory {
			objs = []*kiln.WorkspaceObject{self}
			return nil
		}
		all, err := tx.ListObjects(clean)
		if err != nil {
			return err
		}
		// In the same View: the path rules decide most entries without a
		// query; only the others (other users' homes) look at grants.
		for _, o := range all {
			if ok, err := s.mayAccess(ctx, tx, c, o.Path, objectRanks[LevelCanRead]); err != nil {
				return err
			} else if ok {
				objs = append(objs, o)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := objs[:0]
	for _, o := range objs {
		if o.Type == kiln.ObjectNotebook && !modifiedAfter.IsZero() && !o.Modified.After(modifiedAfter) {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// Mkdirs creates the folder at p and any missing parents. An existing
// folder is success; a notebook or file on the way is EConflict
// (RESOURCE_ALREADY_EXISTS).
func (s *Service) Mkdirs(ctx context.Context, p string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	clean, err := kiln.CleanObjectPath(p)
	if err != nil {
		return err
	}
	if ok, err := s.mayAccess(ctx, nil, c, clean, objectRanks[LevelCanEdit]); err != nil {
		return err
	} else if !ok {
		// Reading is allowed on more paths: an existing folder one may
		// read is still success, as mkdirs of it changes nothing.
		if ok, _ := s.mayAccess(ctx, nil, c, clean, objectRanks[LevelCanRead]); ok {
			isDir := false
			s.view(ctx, func(tx kiln.Tx) error {
				o, err := tx.StatObject(clean)
				isDir = err == nil && o.Type == kiln.ObjectDirectory
				return nil
			})
			if isDir {
				return nil
			}
		}
		return writeDenied(clean)
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		if err := ensureTree(tx, c, clean); err != nil {
			return err
		}
		created := false
		for _, d := range kiln.PathPrefixes(clean) {
			o, err := tx.StatObject(d)
			switch {
			case kiln.IsCode(err, kiln.ENotFound):
				if err := tx.CreateObject(&kiln.WorkspaceObject{Path: d, Type: kiln.ObjectDirectory, OwnerID: c.Principal.ID}); err != nil {
					return err
				}
				created = true
			case err != nil:
				return err
			case o.Type != kiln.ObjectDirectory:
				return kiln.Errorf(kiln.EConflict, "Path (%s) already exists and is not a folder.", d)
			}
		}
		if !created {
			return nil
		}
		return tx.Audit(auditEvent(c, kiln.AuditObjectMkdirs, "workspace:"+clean))
	})
}

// DeleteObject deletes the object at p; a folder with content needs
// recursive (DIRECTORY_NOT_EMPTY otherwise).
func (s *Service) DeleteObject(ctx context.Context, p string, recursive bool) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	clean, err := kiln.CleanObjectPath(p)
	if err != nil {
		return err
	}
	switch {
	case clean == "/" || clean == kiln.UsersPath || clean == kiln.SharedPath:
		return kiln.Errorf(kiln.EPermission, "The folder %s cannot be deleted.", clean)
	case !isAdmin(c) && clean == kiln.HomePath(c.Principal.UserName):
		return kiln.Errorf(kiln.EPermission, "Your home folder %s cannot be deleted.", clean)
	}
	if ok, err := s.mayAccess(ctx, nil, c, clean, objectRanks[kiln.LevelCanManage]); err != nil {
		return err
	} else if !ok {
		return writeDenied(clean)
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		if err := tx.DeleteObject(clean, recursive); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditObjectDelete, "workspace:"+clean)
		if recursive {
			ev.Detail = map[string]string{"recursive": "true"}
		}
		return tx.Audit(ev)
	})
}

// WorkspaceObjectForRun returns the notebook or file at path, with its
// content, for a task run owned by ownerID: the runner's way to load a
// notebook_path (or a workspace python_file). It applies the read rules
// of the owner, who must exist and be active; path is cleaned here.
//
// The runner may instead read in its own transaction with
// tx.ObjectByPath(clean) after kiln.CleanObjectPath, if it checks
// permissions itself.
func (s *Service) WorkspaceObjectForRun(ctx context.Context, ownerID int64, p string) (*kiln.WorkspaceObject, error) {
	clean, err := kiln.CleanObjectPath(p)
	if err != nil {
		return nil, err
	}
	var o *kiln.WorkspaceObject
	err = s.view(ctx, func(tx kiln.Tx) error {
		owner, err := tx.Principal(ownerID)
		if err != nil {
			return err
		}
		if !owner.Active {
			return kiln.Errorf(kiln.EPermission, "User %s is deactivated.", owner.UserName)
		}
		if ok, err := s.mayAccess(ctx, tx, &kiln.Caller{Principal: owner, Method: "run"}, clean, objectRanks[LevelCanRun]); err != nil {
			return err
		} else if !ok {
			return readDenied(clean)
		}
		o, err = tx.ObjectByPath(clean)
		if err == nil && o.Type == kiln.ObjectDirectory {
			return kiln.Errorf(kiln.EInvalid, "%s is a folder, not a notebook or file.", clean)
		}
		return err
	})
	return o, err
}

// MoveObject moves (or, within one folder, renames) the notebook, file or
// folder at from to the path to, whose parent folder must exist; a folder
// moves with everything below it. Objects keep their ids, and so their
// grants. It needs what a delete of from needs (CAN_MANAGE, or the path
// rules' write access) and what an import at to needs (CAN_EDIT). The
// folders kiln provides (/, /Users, /Shared and every home folder) are
// never moved. Workspace API 2.0 has no move: the console uses it.
func (s *Service) MoveObject(ctx context.Context, from, to string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	src, err := kiln.CleanObjectPath(from)
	if err != nil {
		return err
	}
	dst, err := kiln.CleanObjectPath(to)
	if err != nil {
		return err
	}
	if src == "/" || src == kiln.UsersPath || src == kiln.SharedPath || kiln.ParentPath(src) == kiln.UsersPath {
		return kiln.Errorf(kiln.EPermission, "The folder %s cannot be moved or renamed.", src)
	}
	if ok, err := s.mayAccess(ctx, nil, c, src, objectRanks[kiln.LevelCanManage]); err != nil {
		return err
	} else if !ok {
		return writeDenied(src)
	}
	if ok, err := s.mayAccess(ctx, nil, c, dst, objectRanks[LevelCanEdit]); err != nil {
		return err
	} else if !ok {
		return writeDenied(dst)
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		if err := ensureTree(tx, c, dst); err != nil {
			return err
		}
		if err := tx.MoveObject(src, dst); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditObjectMove, "workspace:"+src)
		ev.Detail = map[string]string{"to": dst}
		return tx.Audit(ev)
	})
}
