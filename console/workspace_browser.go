package console

// The Workspace browser: the workspace tree (/Users, /Shared and whatever
// else an admin created) with its folders, notebooks and files, at stable
// addresses that mirror the tree: /workspace is the root and
// /workspace/Shared/etl the object at /Shared/etl. A folder's page lists
// what is in it, with New folder and Import; a notebook's page shows its
// cells (code as monospace text, %md cells as Markdown); a file's page
// shows its text when it has one. Actions on an object use its own
// address with an op parameter, so each works without scripts:
//
//	GET  ?export=SOURCE|JUPYTER   download (a file: its bytes)
//	GET  ?op=move, POST ?op=move  the Rename or move page, and the move
//	GET  ?op=delete, POST ...     the delete confirmation, and the delete
//	POST ?op=mkdir, ?op=import    (a folder) New folder, and Import
//
// Every read and change goes through the same service calls as the
// Workspace API, with the signed-in user as the caller, so the console
// shows and allows exactly what the API would: listings hold only what the
// user may read, and a refusal is the service's own sentence.
//
// Markdown is rendered by goldmark without raw HTML (a <script> in a cell
// is dropped, not passed through) and without dangerous link targets
// (javascript:, data: links); the Content-Security-Policy, which allows no
// inline script, is the second line of defence.

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/notebook"
	"github.com/kiln-dev/kiln/service"
)

const (
	workspaceSection = "Workspace"
	workspaceRoute   = "/workspace"

	// importBodyLimit bounds an Import form: one object of
	// kiln.MaxObjectSize (the API's limit) and room for the other fields
	// and the multipart framing.
	importBodyLimit = kiln.MaxObjectSize + 1<<20
	// fileTextShown is the largest file whose text its page shows; larger
	// ones are downloaded.
	fileTextShown = 256 << 10
	// treeEntriesShown bounds the folders the tree lists in one folder.
	treeEntriesShown = 200
)

// markdown renders %md cells: CommonMark with GitHub's tables,
// strikethrough, autolinks and task lists. Raw HTML is left out (goldmark
// renders it only with html.WithUnsafe, which kiln never sets), and so are
// links to dangerous URLs.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// workspaceURL is the console address of the object at clean path p.
func workspaceURL(p string) string {
	if p == "/" || p == "" {
		return workspaceRoute
	}
	return (&url.URL{Path: workspaceRoute + p}).EscapedPath()
}

// workspaceOp is the address of an operation on the object at p.
func workspaceOp(p, op string) string { return workspaceURL(p) + "?op=" + op }

// requestedPath is the workspace path a /workspace address names, cleaned.
func requestedPath(r *http.Request) (string, error) {
	return kiln.CleanObjectPath("/" + r.PathValue("path"))
}

// protectedPath reports whether p is a folder kiln provides and never
// moves or deletes: /, /Users, /Shared and the home folders.
func protectedPath(p string) bool {
	return p == "/" || p == kiln.UsersPath || p == kiln.SharedPath || kiln.ParentPath(p) == kiln.UsersPath
}

// objectName is the last element of p ("Workspace" for the root).
func objectName(p string) string {
	if p == "/" {
		return "Workspace"
	}
	return path.Base(p)
}

// typeLabel names an object type in words.
func typeLabel(o *kiln.WorkspaceObject) string {
	switch o.Type {
	case kiln.ObjectDirectory:
		return "Folder"
	case kiln.ObjectNotebook:
		return "Notebook"
	}
	return "File"
}

// languageLabel names a notebook language as Databricks' editor does.
func languageLabel(l kiln.Language) string {
	switch l {
	case kiln.LanguagePython:
		return "Python"
	case kiln.LanguageSQL:
		return "SQL"
	case kiln.LanguageScala:
		return "Scala"
	case kiln.LanguageR:
		return "R"
	}
	return ""
}

// wsCrumb is one step of a workspace breadcrumb; the last has no URL.
type wsCrumb struct{ Name, URL string }

func workspaceCrumbs(p string) []wsCrumb {
	crumbs := []wsCrumb{{"Workspace", workspaceRoute}}
	for _, pre := range kiln.PathPrefixes(p) {
		crumbs = append(crumbs, wsCrumb{path.Base(pre), workspaceURL(pre)})
	}
	crumbs[len(crumbs)-1].URL = ""
	return crumbs
}

// treeNode is a folder in the tree beside each page; the folders on the
// way to the page are open, with their subfolders.
type treeNode struct {
	Name, URL string
	// Current marks the page's own folder; Open marks the ones on its way.
	Current, Open bool
	Children      []treeNode
	// More counts folders left out past treeEntriesShown.
	More int
}

// folderTree builds the tree down to the folder dir: the root's folders,
// and in each folder on the way to dir, its own. Each level is one
// ListObjects as the user, so the tree holds only what they may read.
func (c *Console) folderTree(r *http.Request, dir string) ([]treeNode, int, error) {
	chain := append([]string{"/"}, kiln.PathPrefixes(dir)...)
	var build func(level int) ([]treeNode, int, error)
	build = func(level int) ([]treeNode, int, error) {
		objs, err := c.svc.ListObjects(r.Context(), chain[level], time.Time{})
		if err != nil {
			return nil, 0, err
		}
		var nodes []treeNode
		more := 0
		for _, o := range objs {
			if o.Type != kiln.ObjectDirectory {
				continue
			}
			if len(nodes) == treeEntriesShown {
				more++
				continue
			}
			n := treeNode{Name: path.Base(o.Path), URL: workspaceURL(o.Path)}
			if level+1 < len(chain) && o.Path == chain[level+1] {
				n.Open, n.Current = true, o.Path == dir
				if n.Children, n.More, err = build(level + 1); err != nil {
					return nil, 0, err
				}
			}
			nodes = append(nodes, n)
		}
		return nodes, more, nil
	}
	return build(0)
}

// entry is one row of a folder's listing.
type entry struct {
	Name, URL, Type, Language, Size string
	Modified                        stamp
	Folder                          bool
	// Download is the export address of a notebook or file.
	Download string
	// Move and Delete are offered for what kiln does not protect.
	Move   string
	Delete *confirmation
}

// deleteConfirmation asks before deleting the object o.
func deleteConfirmation(o *kiln.WorkspaceObject) *confirmation {
	name := objectName(o.Path)
	text := fmt.Sprintf("Delete the %s %s? This cannot be undone.", strings.ToLower(typeLabel(o)), o.Path)
	if o.Type == kiln.ObjectDirectory {
		text = fmt.Sprintf("Delete the folder %s and everything in it? This cannot be undone.", o.Path)
	}
	return &confirmation{
		Label: "Delete", Title: "Delete " + name + "?", Text: text,
		Action: workspaceURL(o.Path), Fields: []field{{"op", "delete"}}, Danger: true,
		Back: workspaceURL(kiln.ParentPath(o.Path)),
	}
}

// formState is what a folder page's forms show after a refused post: the
// error, next to the form it belongs to, and what was typed.
type formState struct {
	FolderName, FolderError string
	ImportError             string
}

// wsPage is the data every Workspace page shares.
type wsPage struct {
	Path   string
	Name   string
	Crumbs []wsCrumb
	Tree   []treeNode
	// TreeMore counts root folders left out of the tree.
	TreeMore int
}

type folderData struct {
	wsPage
	Entries []entry
	// Writable says whether New folder and Import are offered: always,
	// but at the root only to admins (the service decides in the end),
	// and always with the error of a refused form.
	Writable bool
	Form     formState
	Formats  []field
	// Permissions is the folder's Permissions page (permissions.go).
	Permissions string
}

// OpURL is where the folder's form for op posts.
func (d *folderData) OpURL(op string) string { return workspaceOp(d.Path, op) }

type cellView struct {
	Number int
	Title  string
	// Magic is the cell's magic command ("%sql"); Markdown is the
	// rendered HTML of a %md cell, Code the text of any other.
	Magic    string
	Markdown template.HTML
	Code     string
	Empty    bool
}

type notebookData struct {
	wsPage
	Language string
	Size     string
	Modified stamp
	Cells    []cellView
	Source   string
	Jupyter  string
	Move     string
	Delete   *confirmation
	// Permissions is the notebook's Permissions page (permissions.go).
	Permissions string
}

type fileData struct {
	wsPage
	Size     string
	Modified stamp
	// Text is set for a small UTF-8 file.
	Text, Why string
	Shown     bool
	Download  string
	Move      string
	Delete    *confirmation
	// Permissions is the file's Permissions page (permissions.go).
	Permissions string
}

type moveData struct {
	wsPage
	Kind  string
	To    string
	Error string
	Back  string
}

// importFormats are the choices of Import as.
var importFormats = []field{
	{service.FormatAuto, "Detect from the file"},
	{service.FormatSource, "Notebook (source file)"},
	{service.FormatJupyter, "Notebook (Jupyter .ipynb)"},
	{service.FormatRaw, "File, as it is"},
}

// workspacePage shows the object at the address: a folder, a notebook
// or a file, or what ?export or ?op asks for.
func (c *Console) workspacePage(w http.ResponseWriter, r *http.Request) error {
	p, err := requestedPath(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if f := q.Get("export"); f != "" {
		return c.workspaceExport(w, r, p, f)
	}
	o, err := c.svc.ObjectStatus(r.Context(), p)
	if err != nil {
		return err
	}
	switch q.Get("op") {
	case "":
	case "delete":
		if protectedPath(p) {
			return protectedError(p)
		}
		c.showConfirmation(w, r, workspaceSection, "", *deleteConfirmation(o))
		return nil
	case "move":
		if protectedPath(p) {
			return protectedError(p)
		}
		return c.renderMove(w, r, http.StatusOK, o, p, "")
	default:
		return errNoSuchPage
	}
	switch o.Type {
	case kiln.ObjectDirectory:
		return c.renderFolder(w, r, http.StatusOK, o, formState{})
	case kiln.ObjectNotebook:
		return c.renderNotebook(w, r, p)
	}
	return c.renderFile(w, r, p)
}

func protectedError(p string) error {
	return kiln.Errorf(kiln.EPermission, "The folder %s is provided by kiln: it cannot be moved, renamed or deleted.", p)
}

func (c *Console) basePage(r *http.Request, p string) (wsPage, error) {
	dir := p
	if o, err := c.svc.ObjectStatus(r.Context(), p); err == nil && o.Type != kiln.ObjectDirectory {
		dir = kiln.ParentPath(p)
	}
	tree, more, err := c.folderTree(r, dir)
	if err != nil {
		return wsPage{}, err
	}
	return wsPage{Path: p, Name: objectName(p), Crumbs: workspaceCrumbs(p), Tree: tree, TreeMore: more}, nil
}

func (c *Console) renderFolder(w http.ResponseWriter, r *http.Request, status int, o *kiln.WorkspaceObject, form formState) error {
	p := o.Path
	base, err := c.basePage(r, p)
	if err != nil {
		return err
	}
	objs, err := c.svc.ListObjects(r.Context(), p, time.Time{})
	if err != nil {
		return err
	}
	d := &folderData{wsPage: base, Form: form, Formats: importFormats, Writable: p != "/" || currentUser(r).IsAdmin() || form != (formState{}),
		Permissions: objectPermissionsPath(o)}
	for _, o := range objs {
		e := entry{Name: path.Base(o.Path), URL: workspaceURL(o.Path), Type: typeLabel(o),
			Language: languageLabel(o.Language), Modified: stampOf(o.Modified, "—"), Folder: o.Type == kiln.ObjectDirectory}
		if !e.Folder {
			e.Size = byteSize(int(o.Size))
			e.Download = workspaceURL(o.Path) + "?export=" + service.FormatSource
		}
		if !protectedPath(o.Path) {
			e.Move, e.Delete = workspaceOp(o.Path, "move"), deleteConfirmation(o)
		}
		d.Entries = append(d.Entries, e)
	}
	c.render(w, r, status, "workspace", &page{Title: base.Name, Section: workspaceSection, Data: d})
	return nil
}

// renderCell turns a notebook cell into what its page shows.
func renderCell(n int, cell notebook.Cell) cellView {
	v := cellView{Number: n, Title: cell.Title, Code: cell.Text, Empty: strings.TrimSpace(cell.Text) == ""}
	cmd, arg, body, ok := cell.Magic()
	if !ok {
		return v
	}
	v.Magic = cmd
	switch cmd {
	case "%md", "%md-sandbox":
		src := body
		if arg != "" {
			src = arg + "\n" + body
		}
		var buf bytes.Buffer
		if err := markdown.Convert([]byte(src), &buf); err == nil {
			// goldmark escapes text and leaves raw HTML out (see markdown).
			v.Markdown, v.Code = template.HTML(buf.String()), ""
		}
	}
	return v
}

// objectPage reads what a notebook's or a file's page shows: its content
// exported in format, its status and the page's common part.
func (c *Console) objectPage(r *http.Request, p, format string) (*service.Export, *kiln.WorkspaceObject, wsPage, error) {
	ex, err := c.svc.ExportObject(r.Context(), p, format)
	if err != nil {
		return nil, nil, wsPage{}, err
	}
	o, err := c.svc.ObjectStatus(r.Context(), p)
	if err != nil {
		return nil, nil, wsPage{}, err
	}
	base, err := c.basePage(r, p)
	return ex, o, base, err
}

func (c *Console) renderNotebook(w http.ResponseWriter, r *http.Request, p string) error {
	ex, o, base, err := c.objectPage(r, p, service.FormatSource)
	if err != nil {
		return err
	}
	d := &notebookData{wsPage: base, Language: languageLabel(o.Language), Size: byteSize(len(ex.Content)),
		Modified: stampOf(o.Modified, "—"),
		Source:   workspaceURL(p) + "?export=" + service.FormatSource,
		Jupyter:  workspaceURL(p) + "?export=" + service.FormatJupyter,
		Move:     workspaceOp(p, "move"), Delete: deleteConfirmation(o), Permissions: objectPermissionsPath(o)}
	for i, cell := range notebook.Split(ex.Content, o.Language) {
		d.Cells = append(d.Cells, renderCell(i+1, cell))
	}
	c.render(w, r, http.StatusOK, "workspace_notebook", &page{Title: base.Name, Section: workspaceSection, Data: d})
	return nil
}

func (c *Console) renderFile(w http.ResponseWriter, r *http.Request, p string) error {
	ex, o, base, err := c.objectPage(r, p, service.FormatRaw)
	if err != nil {
		return err
	}
	d := &fileData{wsPage: base, Size: byteSize(len(ex.Content)), Modified: stampOf(o.Modified, "—"),
		Download: workspaceURL(p) + "?export=" + service.FormatRaw,
		Move:     workspaceOp(p, "move"), Delete: deleteConfirmation(o), Permissions: objectPermissionsPath(o)}
	switch {
	case len(ex.Content) > fileTextShown:
		d.Why = fmt.Sprintf("This file is larger than %s, so its page does not show it: download it instead.", byteSize(fileTextShown))
	case !utf8.Valid(ex.Content) || bytes.IndexByte(ex.Content, 0) >= 0:
		d.Why = "This file is not text, so its page does not show it: download it instead."
	default:
		d.Text, d.Shown = string(ex.Content), true
	}
	c.render(w, r, http.StatusOK, "workspace_file", &page{Title: base.Name, Section: workspaceSection, Data: d})
	return nil
}

// workspaceExport answers a download: a notebook as source or Jupyter, a
// file as its bytes, always as an attachment (never rendered by the
// browser on kiln's origin).
func (c *Console) workspaceExport(w http.ResponseWriter, r *http.Request, p, format string) error {
	ex, err := c.svc.ExportObject(r.Context(), p, format)
	if err != nil {
		return err
	}
	name := path.Base(p)
	if o, err := c.svc.ObjectStatus(r.Context(), p); err == nil && o.Type == kiln.ObjectNotebook && ex.FileType != "" {
		name += "." + ex.FileType
	}
	if p == "/" {
		name = "workspace"
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Content-Length", fmt.Sprint(len(ex.Content)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(ex.Content)
	}
	return nil
}

// workspacePost handles the posts to an object's address. Import is
// multipart and bounded by importBodyLimit; everything else is an
// ordinary form, bounded as every console form is.
func (c *Console) workspacePost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("op") == "import" && isMultipart(r) {
			r.Body = http.MaxBytesReader(w, r.Body, importBodyLimit)
			if err := c.workspaceImport(w, r); err != nil {
				c.fail(w, r, err)
			}
			return
		}
		c.adapt(c.workspaceAction).ServeHTTP(w, r)
	})
}

func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// workspaceAction carries out a form's op on the object at the address.
func (c *Console) workspaceAction(w http.ResponseWriter, r *http.Request) error {
	p, err := requestedPath(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	switch r.URL.Query().Get("op") {
	case "mkdir":
		return c.workspaceMkdir(w, r, p)
	case "import":
		return kiln.Errorf(kiln.EInvalid, "Choose a file to import: the form must be sent as multipart/form-data.")
	case "delete":
		if protectedPath(p) {
			return protectedError(p)
		}
		o, err := c.svc.ObjectStatus(ctx, p)
		if err != nil {
			return err
		}
		if err := c.svc.DeleteObject(ctx, p, true); err != nil {
			return err
		}
		c.redirectWith(w, r, workspaceURL(kiln.ParentPath(p)), "ok", fmt.Sprintf("The %s %s was deleted.", strings.ToLower(typeLabel(o)), path.Base(p)))
		return nil
	case "move":
		if protectedPath(p) {
			return protectedError(p)
		}
		o, err := c.svc.ObjectStatus(ctx, p)
		if err != nil {
			return err
		}
		to := strings.TrimSpace(r.PostFormValue("to"))
		if !strings.HasPrefix(to, "/") && to != "" {
			// A bare name renames in place.
			to = path.Join(kiln.ParentPath(p), to)
		}
		dst, err := kiln.CleanObjectPath(to)
		if err == nil && dst == p {
			err = kiln.Errorf(kiln.EInvalid, "The new path is the same as the old one: type another name or folder.")
		}
		if err == nil {
			err = c.svc.MoveObject(ctx, p, dst)
		}
		if err != nil {
			var ke *kiln.Error
			if errors.As(err, &ke) && ke.Code != kiln.EInternal {
				return c.renderMove(w, r, api.ErrorStatus(http.Header{}, err), o, to, kiln.ErrorMessage(err))
			}
			return err
		}
		c.redirectWith(w, r, workspaceURL(dst), "ok", fmt.Sprintf("%s was moved to %s.", p, dst))
		return nil
	}
	return kiln.Errorf(kiln.EInvalid, "This form asks for nothing kiln knows how to do. Reload the page and try again.")
}

func (c *Console) renderMove(w http.ResponseWriter, r *http.Request, status int, o *kiln.WorkspaceObject, to, msg string) error {
	base, err := c.basePage(r, o.Path)
	if err != nil {
		return err
	}
	d := &moveData{wsPage: base, Kind: strings.ToLower(typeLabel(o)), To: to, Error: msg, Back: workspaceURL(o.Path)}
	d.Crumbs[len(d.Crumbs)-1].URL = workspaceURL(o.Path)
	d.Crumbs = append(d.Crumbs, wsCrumb{Name: "Rename or move"})
	c.render(w, r, status, "workspace_move", &page{Title: "Rename or move " + base.Name, Section: workspaceSection, Data: d})
	return nil
}

// validName checks a new folder's or an imported file's name: one path
// element.
func validName(name string) error {
	switch {
	case name == "":
		return kiln.Errorf(kiln.EInvalid, "Enter a name.")
	case name == "." || name == "..":
		return kiln.Errorf(kiln.EInvalid, "The name %q is not allowed.", name)
	case strings.ContainsAny(name, "/\\"):
		return kiln.Errorf(kiln.EInvalid, "A name cannot contain / or \\.")
	}
	return nil
}

// folderFor returns the folder at p for a form posted to it.
func (c *Console) folderFor(r *http.Request, p string) (*kiln.WorkspaceObject, error) {
	o, err := c.svc.ObjectStatus(r.Context(), p)
	if err != nil {
		return nil, err
	}
	if o.Type != kiln.ObjectDirectory {
		return nil, kiln.Errorf(kiln.EInvalid, "%s is not a folder.", p)
	}
	return o, nil
}

// formFailure re-renders the folder page with a refused form's error,
// with the error's own status; an internal error becomes the error page.
func (c *Console) formFailure(w http.ResponseWriter, r *http.Request, folder *kiln.WorkspaceObject, err error, form formState, set func(*formState, string)) error {
	var ke *kiln.Error
	if !errors.As(err, &ke) || ke.Code == kiln.EInternal {
		return err
	}
	set(&form, kiln.ErrorMessage(err))
	return c.renderFolder(w, r, api.ErrorStatus(http.Header{}, err), folder, form)
}

func (c *Console) workspaceMkdir(w http.ResponseWriter, r *http.Request, p string) error {
	folder, err := c.folderFor(r, p)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	form := formState{FolderName: name}
	setErr := func(f *formState, m string) { f.FolderError = m }
	if err := validName(name); err != nil {
		return c.formFailure(w, r, folder, err, form, setErr)
	}
	dst := path.Join(p, name)
	if _, err := c.svc.ObjectStatus(r.Context(), dst); err == nil {
		return c.formFailure(w, r, folder, kiln.Errorf(kiln.EConflict, "%s already exists.", dst), form, setErr)
	}
	if err := c.svc.Mkdirs(r.Context(), dst); err != nil {
		return c.formFailure(w, r, folder, err, form, setErr)
	}
	c.redirectWith(w, r, workspaceURL(p), "ok", fmt.Sprintf("The folder %s was created.", name))
	return nil
}

// uploadName is the name of an uploaded file without any folder a browser
// put in front of it.
func uploadName(filename string) string {
	if i := strings.LastIndexAny(filename, "/\\"); i >= 0 {
		filename = filename[i+1:]
	}
	return strings.TrimSpace(filename)
}

// workspaceImport reads an Import form, streamed: the fields format and
// overwrite and the file part named file, at most kiln.MaxObjectSize
// bytes, as the Workspace API's import takes.
func (c *Console) workspaceImport(w http.ResponseWriter, r *http.Request) error {
	p, err := requestedPath(r)
	if err != nil {
		return err
	}
	folder, err := c.folderFor(r, p)
	if err != nil {
		return err
	}
	setErr := func(f *formState, m string) { f.ImportError = m }
	fail := func(err error) error { return c.formFailure(w, r, folder, err, formState{}, setErr) }
	mr, err := r.MultipartReader()
	if err != nil {
		return fail(kiln.Errorf(kiln.EInvalid, "The form could not be read. Reload the page and try again."))
	}
	var (
		name, format string
		overwrite    bool
		content      []byte
		seen         bool
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(uploadError(err, service.TooLargeObject()))
		}
		switch part.FormName() {
		case "file":
			b, err := io.ReadAll(io.LimitReader(part, kiln.MaxObjectSize+1))
			if err != nil {
				return fail(uploadError(err, service.TooLargeObject()))
			}
			if len(b) > kiln.MaxObjectSize {
				return fail(service.TooLargeObject())
			}
			name, content, seen = uploadName(part.FileName()), b, true
		case "format", "overwrite":
			b, err := io.ReadAll(io.LimitReader(part, 65))
			if err != nil {
				return fail(uploadError(err, service.TooLargeObject()))
			}
			if part.FormName() == "format" {
				format = string(b)
			} else {
				overwrite = string(b) == "true"
			}
		}
	}
	if !seen || name == "" {
		return fail(kiln.Errorf(kiln.EInvalid, "Choose a file to import."))
	}
	if err := validName(name); err != nil {
		return fail(err)
	}
	if format == "" {
		format = service.FormatAuto
	}
	// A notebook's extension says its format, not its name: Databricks
	// leaves it out too (AUTO does so in the service).
	var lang kiln.Language
	switch ext := path.Ext(name); {
	case strings.EqualFold(format, service.FormatSource) && notebook.LanguageOfExt(ext) != "":
		lang = notebook.LanguageOfExt(ext)
		fallthrough
	case strings.EqualFold(format, service.FormatJupyter) && strings.EqualFold(ext, ".ipynb"):
		if len(name) > len(ext) {
			name = name[:len(name)-len(ext)]
		}
	}
	dst := path.Join(p, name)
	if err := c.svc.ImportObject(r.Context(), service.ImportParams{Path: dst, Format: format, Language: string(lang),
		Content: content, Overwrite: overwrite}); err != nil {
		return fail(err)
	}
	c.redirectWith(w, r, workspaceURL(p), "ok", fmt.Sprintf("%s was imported.", name))
	return nil
}
