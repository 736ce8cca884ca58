package console

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/service"
)

// The DBFS browser: a directory's listing with breadcrumbs, Download,
// Upload (a multipart form streamed to the tree, bounded like the API's
// multipart put), New folder and Delete with confirmation. Every action
// is the DBFS API's service call with the signed-in user as the caller;
// as on Databricks, DBFS has no ACLs, so every signed-in user sees and
// changes all of it. Paths travel in the query (?path=/a/b), so any
// name, "upload" included, has a stable address.

const dbfsSection = "DBFS"

// dbfsPath is the address of the listing of the directory p.
func dbfsPath(p string) string {
	if p == "" || p == "/" {
		return "/dbfs"
	}
	return "/dbfs?" + url.Values{"path": {p}}.Encode()
}

// humanBytes renders a size in bytes, KB, MB or GB (powers of 1024, as
// file browsers show them); the exact count is in the title.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGT"[exp])
}

// crumb is one step of the breadcrumbs: a directory above the listed one.
type crumb struct {
	Name, Href string
	Current    bool // the listed directory, the last crumb
}

type dbfsEntry struct {
	kiln.DBFSFileInfo
	Name, Href, Download string
	Delete               confirmation
}

// dbfsData is a directory's listing, and the forms' errors when one was
// refused.
type dbfsData struct {
	Path    string
	Crumbs  []crumb
	Entries []dbfsEntry
	Error   string
	Folder  string
	MaxSize string
	// Usage is the bytes stored, against the quotas; nil when the tree
	// keeps no account.
	Usage *kiln.DBFSUsage
}

func deleteDBFSConfirmation(fi kiln.DBFSFileInfo) confirmation {
	name := path.Base(fi.Path)
	cf := confirmation{
		Label: "Delete", Name: "Delete " + name, Title: "Delete " + name + "?",
		Action: "/dbfs/delete", Fields: []field{{"path", fi.Path}}, Back: dbfsPath(path.Dir(fi.Path)), Danger: true,
		Text: "Delete the file " + fi.Path + "? This cannot be undone.",
	}
	if fi.IsDir {
		cf.Text = "Delete the folder " + fi.Path + " and everything in it? This cannot be undone."
	}
	return cf
}

// dbfsPage lists the directory in ?path= (the root without one). A file's
// path lists its directory.
func (c *Console) dbfsPage(w http.ResponseWriter, r *http.Request) error {
	p := r.URL.Query().Get("path")
	if p == "" {
		p = "/"
	}
	fi, err := c.svc.DBFSStatus(r.Context(), p)
	if err != nil {
		return err
	}
	if !fi.IsDir {
		http.Redirect(w, r, dbfsPath(path.Dir(fi.Path)), http.StatusSeeOther)
		return nil
	}
	return c.renderDBFS(w, r, fi.Path, &dbfsData{}, http.StatusOK)
}

func (c *Console) renderDBFS(w http.ResponseWriter, r *http.Request, dir string, d *dbfsData, status int) error {
	list, err := c.svc.DBFSList(r.Context(), dir)
	if err != nil {
		return err
	}
	d.Path, d.MaxSize = dir, humanBytes(service.DBFSMaxUpload)
	if u, ok, err := c.svc.DBFSUsage(r.Context()); err != nil {
		return err
	} else if ok {
		d.Usage = &u
	}
	d.Crumbs = []crumb{{Name: "DBFS", Href: dbfsPath("/")}}
	if dir != "/" {
		at := ""
		for _, el := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
			at += "/" + el
			d.Crumbs = append(d.Crumbs, crumb{Name: el, Href: dbfsPath(at)})
		}
	}
	d.Crumbs[len(d.Crumbs)-1].Current = true
	// Folders first, then files, each by name (the service orders by path).
	for _, dirs := range []bool{true, false} {
		for _, fi := range list {
			if fi.IsDir != dirs {
				continue
			}
			e := dbfsEntry{DBFSFileInfo: fi, Name: path.Base(fi.Path), Delete: deleteDBFSConfirmation(fi)}
			if fi.IsDir {
				e.Href = dbfsPath(fi.Path)
			} else {
				e.Download = "/dbfs/download?" + url.Values{"path": {fi.Path}}.Encode()
			}
			d.Entries = append(d.Entries, e)
		}
	}
	title := "DBFS"
	if dir != "/" {
		title = dir
	}
	c.render(w, r, status, "dbfs", &page{Title: title, Section: dbfsSection, Data: d})
	return nil
}

// dbfsRefused renders the listing of dir with err, the caller's input
// refused, next to the forms; anything else is an error page.
func (c *Console) dbfsRefused(w http.ResponseWriter, r *http.Request, dir string, d *dbfsData, err error) error {
	if !refusedInput(err) && !kiln.IsCode(err, kiln.ENotFound) {
		return err
	}
	status := api.ErrorStatus(w.Header(), err)
	d.Error = kiln.ErrorMessage(err)
	if fi, serr := c.svc.DBFSStatus(r.Context(), dir); serr != nil || !fi.IsDir {
		// The directory itself is the problem: say so on an error page.
		return err
	}
	return c.renderDBFS(w, r, dir, d, status)
}

// dbfsDownload sends the file in ?path= as an attachment, streamed.
func (c *Console) dbfsDownload(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	fi, err := c.svc.DBFSStatus(ctx, r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	if fi.IsDir {
		return kiln.Errorf(kiln.EInvalid, "%s is a folder: only files can be downloaded.", fi.Path)
	}
	f, err := c.svc.DBFSOpen(ctx, fi.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(fi.Path)}))
	h.Set("Content-Length", strconv.FormatInt(fi.Size, 10))
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(w, f); err != nil {
		// The headers are sent: all that is left is to log it.
		c.log.Info("console: a DBFS download ended early", "path", fi.Path, "err", err)
	}
	return nil
}

// dbfsMkdirs is New folder: name, inside the listed directory dir.
func (c *Console) dbfsMkdirs(w http.ResponseWriter, r *http.Request) error {
	dir, _, err := service.CleanDBFSPath(r.PostFormValue("dir"))
	if err != nil {
		return err
	}
	name := truncate(strings.TrimSpace(r.PostFormValue("name")), 1024)
	d := &dbfsData{Folder: name}
	if name == "" {
		err = kiln.Errorf(kiln.EInvalid, "Enter a name for the new folder.")
	} else if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		err = kiln.Errorf(kiln.EInvalid, "A folder name cannot contain / or \\, or be . or ..; open the folder to create one inside it.")
	} else {
		err = c.svc.DBFSMkdirs(r.Context(), path.Join(dir, name))
	}
	if err != nil {
		return c.dbfsRefused(w, r, dir, d, err)
	}
	c.redirectWith(w, r, dbfsPath(dir), "ok", "Folder "+name+" was created.")
	return nil
}

func (c *Console) confirmDBFSDelete(w http.ResponseWriter, r *http.Request) error {
	fi, err := c.svc.DBFSStatus(r.Context(), r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	if fi.Path == "/" {
		return kiln.Errorf(kiln.EInvalid, "The DBFS root / cannot be deleted.")
	}
	c.showConfirmation(w, r, dbfsSection, "", deleteDBFSConfirmation(fi))
	return nil
}

// dbfsDelete deletes the file or folder in ?path=, a folder with
// everything in it: the confirmation said so.
func (c *Console) dbfsDelete(w http.ResponseWriter, r *http.Request) error {
	clean, _, err := service.CleanDBFSPath(r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	if err := c.svc.DBFSDelete(r.Context(), clean, true); err != nil {
		return err
	}
	c.redirectWith(w, r, dbfsPath(path.Dir(clean)), "ok", path.Base(clean)+" was deleted.")
	return nil
}

// uploadBodyLimit bounds an Upload's body: the file's own limit, enforced
// by the service as the API's multipart put does, plus room for the
// form's other fields and the multipart framing.
const uploadBodyLimit = service.DBFSMaxUpload + 64<<10

// adaptUpload is adapt for the one multipart route: the body is bounded
// by uploadBodyLimit instead of maxFormBytes and streamed by the handler,
// never parsed into memory or temporary files.
func (c *Console) adaptUpload(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, uploadBodyLimit)
		if err := h(w, r); err != nil {
			c.fail(w, r, err)
		}
	})
}

// uploadReader turns a failure to read the upload into the client's
// error, so that a broken or oversized upload is not taken for a disk
// failure.
type uploadReader struct{ r io.Reader }

func (u uploadReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = uploadError(err, dbfsUploadTooLarge())
	}
	return n, err
}

// uploadError turns an error reading a multipart upload into a clear
// client error: tooLarge when the body went over its bound, else a
// request to try again (the body was cut short or malformed).
func uploadError(err, tooLarge error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return tooLarge
	}
	return kiln.Errorf(kiln.EInvalid, "The upload could not be read to the end. Try again.")
}

// dbfsUploadTooLarge refuses a DBFS upload over its bound.
func dbfsUploadTooLarge() error {
	return kiln.Errorf(kiln.EInvalid, "The file is larger than the %s limit of one upload.", humanBytes(service.DBFSMaxUpload))
}

// dbfsUpload is Upload: the fields dir and overwrite, then the file part,
// which is streamed to dir/<its name>. The form puts the fields first.
func (c *Console) dbfsUpload(w http.ResponseWriter, r *http.Request) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return kiln.Errorf(kiln.EInvalid, "The upload could not be read: send it with the Upload form.")
	}
	dir, overwrite, name := "", false, ""
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return uploadError(err, dbfsUploadTooLarge())
		}
		switch part.FormName() {
		case "dir", "overwrite":
			b, err := io.ReadAll(io.LimitReader(uploadReader{part}, kiln.MaxObjectPathLen+1))
			if err != nil {
				return err
			}
			if part.FormName() == "dir" {
				dir = string(b)
			} else {
				overwrite = string(b) == "1"
			}
		case "file":
			if dir == "" {
				return kiln.Errorf(kiln.EInvalid, "The upload names no folder: send it with the Upload form.")
			}
			// Clean the folder first: joining would resolve a ".." in it.
			if dir, _, err = service.CleanDBFSPath(dir); err != nil {
				return err
			}
			name = part.FileName()
			if name == "" {
				return c.dbfsRefused(w, r, dir, &dbfsData{}, kiln.Errorf(kiln.EInvalid, "Choose a file to upload."))
			}
			err := c.svc.DBFSPut(r.Context(), path.Join(dir, name), uploadReader{part}, overwrite, service.DBFSMaxUpload)
			if kiln.ErrorReason(err) == service.ReasonMaxBlockSize {
				err = kiln.Errorf(kiln.EInvalid, "The file is larger than the %s limit of one upload.", humanBytes(service.DBFSMaxUpload))
			}
			if err != nil {
				return c.dbfsRefused(w, r, dir, &dbfsData{}, err)
			}
		}
		part.Close()
	}
	if name == "" {
		return kiln.Errorf(kiln.EInvalid, "The upload has no file: choose one in the Upload form.")
	}
	c.redirectWith(w, r, dbfsPath(dir), "ok", name+" was uploaded.")
	return nil
}
