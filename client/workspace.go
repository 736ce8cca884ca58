package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The Workspace API 2.0: notebooks, files and folders of the workspace
// tree.

// Object types of [ObjectInfo].
const (
	ObjectNotebook  = "NOTEBOOK"
	ObjectDirectory = "DIRECTORY"
	ObjectFile      = "FILE"
)

// Import and export formats of the Workspace API.
const (
	FormatSource  = "SOURCE"
	FormatJupyter = "JUPYTER"
	FormatAuto    = "AUTO"
	FormatRaw     = "RAW"
)

// ObjectInfo describes a workspace object. Times are epoch milliseconds
// (zero when the server does not say).
type ObjectInfo struct {
	ObjectType string `json:"object_type"`
	ObjectID   int64  `json:"object_id"`
	Path       string `json:"path"`
	Language   string `json:"language,omitempty"`
	CreatedAt  int64  `json:"created_at,omitempty"`
	ModifiedAt int64  `json:"modified_at,omitempty"`
	Size       int64  `json:"size,omitempty"`
	ResourceID string `json:"resource_id,omitempty"`
}

// Modified returns the modification time, zero when unknown.
func (o *ObjectInfo) Modified() time.Time {
	if o.ModifiedAt <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(o.ModifiedAt)
}

// ImportRequest imports a notebook or file. Format is SOURCE (the
// server's default when empty), JUPYTER, AUTO or RAW; Language (PYTHON,
// SQL, SCALA, R) is needed for SOURCE notebooks without a header.
type ImportRequest struct {
	Path      string
	Format    string
	Language  string
	Content   []byte
	Overwrite bool
}

// WorkspaceImport creates (or with Overwrite replaces) a notebook or file
// (POST /api/2.0/workspace/import, JSON with base64 content).
func (c *Client) WorkspaceImport(ctx context.Context, req ImportRequest) error {
	body := map[string]any{
		"path":      req.Path,
		"content":   base64.StdEncoding.EncodeToString(req.Content),
		"overwrite": req.Overwrite,
	}
	if req.Format != "" {
		body["format"] = req.Format
	}
	if req.Language != "" {
		body["language"] = req.Language
	}
	_, err := c.Do(ctx, http.MethodPost, "/api/2.0/workspace/import", nil, body, nil)
	return err
}

// Export is an exported notebook or file.
type Export struct {
	Content []byte `json:"content"`
	// FileType is the extension the content would have: py, sql, scala,
	// r, ipynb, or a file's own.
	FileType string `json:"file_type,omitempty"`
}

// WorkspaceExport returns a notebook in format (SOURCE when empty, or
// JUPYTER), or a file's bytes (GET /api/2.0/workspace/export).
func (c *Client) WorkspaceExport(ctx context.Context, path, format string) (*Export, error) {
	q := url.Values{"path": {path}}
	if format != "" {
		q.Set("format", format)
	}
	var out struct {
		Content  string `json:"content"`
		FileType string `json:"file_type"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/2.0/workspace/export", q, nil, &out); err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(out.Content)
	if err != nil {
		return nil, fmt.Errorf("the server's export of %s is not valid base64: %w", path, err)
	}
	return &Export{Content: b, FileType: out.FileType}, nil
}

// WorkspaceList lists the objects in a folder (for a notebook or file,
// the object itself; GET /api/2.0/workspace/list).
func (c *Client) WorkspaceList(ctx context.Context, path string) ([]ObjectInfo, error) {
	var out struct {
		Objects []ObjectInfo `json:"objects"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/2.0/workspace/list", url.Values{"path": {path}}, nil, &out); err != nil {
		return nil, err
	}
	return nonNil(out.Objects), nil
}

// WorkspaceGetStatus describes one object (GET
// /api/2.0/workspace/get-status).
func (c *Client) WorkspaceGetStatus(ctx context.Context, path string) (*ObjectInfo, error) {
	var out ObjectInfo
	if _, err := c.Do(ctx, http.MethodGet, "/api/2.0/workspace/get-status", url.Values{"path": {path}}, nil, &out); err != nil {
		return nil, err
	}
	if out.Path == "" {
		return nil, errors.New("the server's answer has no path")
	}
	return &out, nil
}

// WorkspaceMkdirs creates a folder and its missing parents; an existing
// folder is success (POST /api/2.0/workspace/mkdirs).
func (c *Client) WorkspaceMkdirs(ctx context.Context, path string) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/2.0/workspace/mkdirs", nil, map[string]string{"path": path}, nil)
	return err
}

// WorkspaceDelete deletes an object; a folder with content needs
// recursive (POST /api/2.0/workspace/delete).
func (c *Client) WorkspaceDelete(ctx context.Context, path string, recursive bool) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/2.0/workspace/delete", nil, map[string]any{"path": path, "recursive": recursive}, nil)
	return err
}
