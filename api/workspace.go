package api

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// importBodyLimit bounds a workspace/import body: kiln.MaxObjectSize of
// content as base64 (4/3 larger) plus room for the other fields and
// multipart framing. Larger bodies are MAX_NOTEBOOK_SIZE_EXCEEDED.
const importBodyLimit = kiln.MaxObjectSize/3*4 + 1<<20

// objectInfo is the Workspace API's ObjectInfo. object_id is always sent
// (the root's is 0); zero times and sizes are left out, as Databricks
// leaves out unset fields.
type objectInfo struct {
	ObjectType string `json:"object_type"`
	ObjectID   int64  `json:"object_id"`
	Path       string `json:"path"`
	Language   string `json:"language,omitempty"`
	CreatedAt  int64  `json:"created_at,omitempty"`
	ModifiedAt int64  `json:"modified_at,omitempty"`
	Size       int64  `json:"size,omitempty"`
	ResourceID string `json:"resource_id"`
}

// infoAt is infoOf for an answer to a request for path as the client
// spelled it: under the /Workspace mount when the request was, as
// Databricks echoes it (the CLI compares the paths it listed with the one
// it asked for).
func infoAt(o *kiln.WorkspaceObject, requested string) objectInfo {
	info := infoOf(o)
	info.Path = kiln.WithWorkspacePrefix(info.Path, kiln.HasWorkspacePrefix(requested))
	return info
}

func infoOf(o *kiln.WorkspaceObject) objectInfo {
	return objectInfo{
		ObjectType: string(o.Type), ObjectID: o.ID, Path: o.Path, Language: string(o.Language),
		CreatedAt: kiln.MillisOf(o.Created), ModifiedAt: kiln.MillisOf(o.Modified), Size: o.Size,
		ResourceID: strconv.FormatInt(o.ID, 10),
	}
}

// decodeBase64 decodes a base64 field, padded or not.
func decodeBase64(field, s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return nil, kiln.Errorf(kiln.EInvalid, "%s must be base64-encoded.", field)
}

// parseBool reads a boolean parameter as Python and Go clients send it:
// true/True/1 and false/False/0; empty is false.
func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "", "false", "0":
		return false, nil
	}
	return false, kiln.Errorf(kiln.EInvalid, "Parameter %s must be true or false, got %.40q.", name, v)
}

// bodyTooLarge reports whether err is the body limit being hit.
func bodyTooLarge(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}

type importRequest struct {
	Path      string   `json:"path"`
	Format    string   `json:"format"`
	Language  string   `json:"language"`
	Content   string   `json:"content"`
	Overwrite flexBool `json:"overwrite"`
}

// isMultipart reports whether r carries multipart/form-data.
func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// maxFormField bounds a non-file multipart field.
const maxFormField = 64 << 10

// readFormField reads a small multipart field.
func readFormField(p io.Reader, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxFormField+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxFormField {
		return "", kiln.Errorf(kiln.EInvalid, "Form field %s is too large.", name)
	}
	return string(b), nil
}

// importParams decodes an import request: JSON with base64 content, or
// multipart/form-data with fields path, format, language, overwrite and
// the raw bytes in the part named content (a file part, as the Go SDK's
// Upload sends, or a plain field; either way not base64).
func importParams(r *http.Request) (service.ImportParams, error) {
	var p service.ImportParams
	if !isMultipart(r) {
		var req importRequest
		if err := decodeBody(r, &req, true); err != nil {
			return p, err
		}
		if base64.StdEncoding.DecodedLen(len(req.Content)) > kiln.MaxObjectSize+2 {
			return p, service.TooLargeObject()
		}
		content, err := decodeBase64("content", req.Content)
		if err != nil {
			return p, err
		}
		return service.ImportParams{Path: req.Path, Format: req.Format, Language: req.Language,
			Content: content, Overwrite: bool(req.Overwrite)}, nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return p, kiln.Errorf(kiln.EMalformed, "Malformed multipart request body.")
	}
	seen := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p, multipartError(err)
		}
		name := part.FormName()
		if name == "content" {
			b, err := io.ReadAll(io.LimitReader(part, kiln.MaxObjectSize+1))
			if err != nil {
				return p, multipartError(err)
			}
			if len(b) > kiln.MaxObjectSize {
				return p, service.TooLargeObject()
			}
			p.Content, seen = b, true
			continue
		}
		v, err := readFormField(part, name)
		if err != nil {
			return p, multipartError(err)
		}
		switch name {
		case "path":
			p.Path = v
		case "format":
			p.Format = v
		case "language":
			p.Language = v
		case "overwrite":
			if p.Overwrite, err = parseBool("overwrite", v); err != nil {
				return p, err
			}
		}
	}
	if !seen {
		return p, kiln.Errorf(kiln.EInvalid, "The multipart request has no content part.")
	}
	return p, nil
}

// multipartError turns a multipart reading error into a client error.
func multipartError(err error) error {
	var ke *kiln.Error
	switch {
	case errors.As(err, &ke):
		return err
	case bodyTooLarge(err):
		// Err keeps the cause for the handler's own error_code.
		return &kiln.Error{Code: kiln.EInvalid, Message: "Request body is too large.", Err: err}
	}
	return kiln.Errorf(kiln.EMalformed, "Malformed multipart request body.")
}

func (s *Server) importObject(w http.ResponseWriter, r *http.Request) error {
	p, err := importParams(r)
	if err != nil {
		if bodyTooLarge(err) { // through kiln.Error's Err too
			return service.TooLargeObject()
		}
		return err
	}
	if err := s.svc.ImportObject(r.Context(), p); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

type exportResponse struct {
	Content  string `json:"content"`
	FileType string `json:"file_type,omitempty"`
}

func (s *Server) exportObject(w http.ResponseWriter, r *http.Request) error {
	q, path, err := pathParams(r)
	if err != nil {
		return err
	}
	format, err := q.get("format")
	if err != nil {
		return err
	}
	dd, err := q.get("direct_download")
	if err != nil {
		return err
	}
	direct, err := parseBool("direct_download", dd)
	if err != nil {
		return err
	}
	ex, err := s.svc.ExportObject(r.Context(), path, format)
	if err != nil {
		return err
	}
	if direct {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(ex.Content)))
		w.WriteHeader(http.StatusOK)
		w.Write(ex.Content)
		return nil
	}
	writeJSON(w, http.StatusOK, exportResponse{Content: base64.StdEncoding.EncodeToString(ex.Content), FileType: ex.FileType})
	return nil
}

// listResponse leaves objects out for an empty folder: Databricks sends
// {} then, and every SDK reads a missing list as empty.
type listResponse struct {
	Objects []objectInfo `json:"objects,omitempty"`
}

func (s *Server) listObjects(w http.ResponseWriter, r *http.Request) error {
	q, path, err := pathParams(r)
	if err != nil {
		return err
	}
	after, err := q.int("notebooks_modified_after", 0)
	if err != nil {
		return err
	}
	objs, err := s.svc.ListObjects(r.Context(), path, kiln.TimeOfMillis(after))
	if err != nil {
		return err
	}
	var resp listResponse
	for _, o := range objs {
		resp.Objects = append(resp.Objects, infoAt(o, path))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// statusInfo is get-status's answer: ObjectInfo, and with
// return_export_info=true the export format the CLI reads to name a
// notebook's local file (SOURCE: kiln keeps notebooks as source, an
// imported .ipynb too).
type statusInfo struct {
	objectInfo
	ReposExportFormat string `json:"repos_export_format,omitempty"`
}

func (s *Server) objectStatus(w http.ResponseWriter, r *http.Request) error {
	q, path, err := pathParams(r)
	if err != nil {
		return err
	}
	exportInfo, err := q.bool("return_export_info")
	if err != nil {
		return err
	}
	o, err := s.svc.ObjectStatus(r.Context(), path)
	if err != nil {
		return err
	}
	info := statusInfo{objectInfo: infoAt(o, path)}
	if exportInfo && o.Type == kiln.ObjectNotebook {
		info.ReposExportFormat = service.FormatSource
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

type pathRequest struct {
	Path      string   `json:"path"`
	Recursive flexBool `json:"recursive"`
}

func (s *Server) mkdirs(w http.ResponseWriter, r *http.Request) error {
	return servePathAction(w, r, func(ctx context.Context, req pathRequest) error { return s.svc.Mkdirs(ctx, req.Path) })
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request) error {
	return servePathAction(w, r, func(ctx context.Context, req pathRequest) error {
		return s.svc.DeleteObject(ctx, req.Path, bool(req.Recursive))
	})
}

// servePathAction answers a POST whose body names a path (mkdirs, delete):
// it decodes the body, acts, and answers {}.
func servePathAction(w http.ResponseWriter, r *http.Request, act func(context.Context, pathRequest) error) error {
	var req pathRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := act(r.Context(), req); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

// pathParam reads the one "path" parameter of a GET (query string or JSON
// body, like every GET parameter).
func pathParam(r *http.Request) (string, error) {
	_, p, err := pathParams(r)
	return p, err
}

// pathParams reads the parameters of a GET and its "path" among them.
func pathParams(r *http.Request) (params, string, error) {
	q, err := readParams(r)
	if err != nil {
		return params{}, "", err
	}
	p, err := q.get("path")
	return q, p, err
}

// serveByPath answers a GET whose one parameter is path: it reads the
// parameter, fetches, and writes render's JSON.
func serveByPath[T any](w http.ResponseWriter, r *http.Request, fetch func(context.Context, string) (T, error), render func(T) any) error {
	path, err := pathParam(r)
	if err != nil {
		return err
	}
	v, err := fetch(r.Context(), path)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, render(v))
	return nil
}

// importFilePrefix is the route of the CLI's file upload; the rest of the
// request path is the workspace path, URL-escaped, without its leading
// slash (the CLI escapes the slashes too: "Users%2Fjane%2Fa.txt").
const importFilePrefix = "/api/2.0/workspace-files/import-file/"

// importFileBodyLimit bounds an import-file body: one byte over
// kiln.MaxObjectSize, so that a larger file is told from one at the limit.
const importFileBodyLimit = kiln.MaxObjectSize + 1

// importFilePath returns the workspace path an import-file request names:
// escapedPath is the request's escaped path (r.URL.EscapedPath()). The
// rest after importFilePrefix is unescaped once, as the CLI escapes it
// once, and given its leading slash; the result is not yet cleaned.
func importFilePath(escapedPath string) (string, error) {
	rest, ok := strings.CutPrefix(escapedPath, importFilePrefix)
	if !ok {
		return "", kiln.Errorf(kiln.EInvalid, "Path is required.")
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return "", kiln.Errorf(kiln.EInvalid, "The path in the URL is not validly escaped.")
	}
	if p == "" {
		return "", kiln.Errorf(kiln.EInvalid, "Path is required.")
	}
	return "/" + strings.TrimPrefix(p, "/"), nil
}

// importFile answers POST /api/2.0/workspace-files/import-file/{path}
// ?overwrite=: the body is the file's bytes, stored as workspace/import
// with format AUTO stores them (a .py, .sql, .scala or .r starting with
// its language's notebook header, or an .ipynb, becomes a notebook without
// the extension; anything else a file), which is what Databricks does
// with the CLI's uploads. A missing parent folder is 404, which the CLI
// answers with mkdirs and a retry.
func (s *Server) importFile(w http.ResponseWriter, r *http.Request) error {
	p, err := importFilePath(r.URL.EscapedPath())
	if err != nil {
		return err
	}
	q, err := readParams(r)
	if err != nil {
		return err
	}
	overwrite, err := q.bool("overwrite")
	if err != nil {
		return err
	}
	content, err := io.ReadAll(io.LimitReader(r.Body, kiln.MaxObjectSize+1))
	switch {
	case bodyTooLarge(err) || len(content) > kiln.MaxObjectSize:
		return service.TooLargeObject()
	case err != nil:
		return kiln.Errorf(kiln.EMalformed, "The request body could not be read.")
	}
	if err := s.svc.ImportObject(r.Context(), service.ImportParams{Path: p, Format: service.FormatAuto,
		Content: content, Overwrite: overwrite}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}
