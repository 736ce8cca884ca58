package api

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// Body limits of the DBFS upload routes. A JSON put or add-block carries
// at most service.DBFSMaxBlock bytes as base64 (4/3 larger) plus the other
// fields: blockBodyLimit. A multipart put streams its file part to disk,
// up to dbfsMultipartLimit.
const (
	blockBodyLimit     = service.DBFSMaxBlock/3*4 + 64<<10
	dbfsMultipartLimit = service.DBFSMaxUpload
)

// fileInfoJSON is the DBFS API's FileInfo; every field is always sent.
type fileInfoJSON struct {
	Path             string `json:"path"`
	IsDir            bool   `json:"is_dir"`
	FileSize         int64  `json:"file_size"`
	ModificationTime int64  `json:"modification_time"`
}

func fileInfoOf(fi kiln.DBFSFileInfo) fileInfoJSON {
	return fileInfoJSON{Path: fi.Path, IsDir: fi.IsDir, FileSize: fi.Size, ModificationTime: kiln.MillisOf(fi.Modified)}
}

// blockTooLarge is the answer to a body over a DBFS block limit.
func blockTooLarge() error {
	return kiln.Errorf(kiln.EInvalid, "The data is larger than the %d byte limit of one block; upload large files with create, add-block and close.", service.DBFSMaxBlock).
		WithReason(service.ReasonMaxBlockSize)
}

type dbfsPutRequest struct {
	Path      string   `json:"path"`
	Contents  string   `json:"contents"`
	Overwrite flexBool `json:"overwrite"`
}

// dbfsPut writes a file from JSON (base64 contents, at most 1 MB) or from
// a multipart upload (fields path and overwrite, then a file part named
// contents, file or content, streamed to disk). The path field must come
// before the file part, as every client sends it.
func (s *Server) dbfsPut(w http.ResponseWriter, r *http.Request) error {
	if !isMultipart(r) {
		r.Body = http.MaxBytesReader(w, r.Body, blockBodyLimit)
		var req dbfsPutRequest
		if err := decodeBody(r, &req, true); err != nil {
			if bodyTooLarge(err) {
				return blockTooLarge()
			}
			return err
		}
		contents, err := decodeBase64("contents", req.Contents)
		if err != nil {
			return err
		}
		if err := s.svc.DBFSPutBytes(r.Context(), req.Path, contents, bool(req.Overwrite)); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, empty)
		return nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return kiln.Errorf(kiln.EMalformed, "Malformed multipart request body.")
	}
	var path string
	var overwrite, done bool
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return multipartError(err)
		}
		switch name := part.FormName(); name {
		case "contents", "file", "content":
			if path == "" {
				return kiln.Errorf(kiln.EInvalid, "Send the path field before the file part of a multipart put.")
			}
			if err := s.svc.DBFSPut(r.Context(), path, bodyErrors{part}, overwrite, dbfsMultipartLimit); err != nil {
				return err
			}
			done = true
		default:
			v, err := readFormField(part, name)
			if err != nil {
				return multipartError(err)
			}
			switch name {
			case "path":
				path = v
			case "overwrite":
				if overwrite, err = parseBool("overwrite", v); err != nil {
					return err
				}
			}
		}
	}
	if !done {
		return kiln.Errorf(kiln.EInvalid, "The multipart put has no file part (contents).")
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

// bodyErrors turns errors reading a request body part into client errors,
// so that the service does not take a client's broken upload for a disk
// failure.
type bodyErrors struct{ r io.Reader }

// Read reads the body, marking a failure as the client's.
func (b bodyErrors) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = multipartError(err)
	}
	return n, err
}

type dbfsCreateRequest struct {
	Path      string   `json:"path"`
	Overwrite flexBool `json:"overwrite"`
}

func (s *Server) dbfsCreate(w http.ResponseWriter, r *http.Request) error {
	var req dbfsCreateRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	h, err := s.svc.DBFSCreate(r.Context(), req.Path, bool(req.Overwrite))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"handle": h})
	return nil
}

type dbfsBlockRequest struct {
	Handle flexInt `json:"handle"`
	Data   string  `json:"data"`
}

func (s *Server) dbfsAddBlock(w http.ResponseWriter, r *http.Request) error {
	var req dbfsBlockRequest
	if err := decodeBody(r, &req, true); err != nil {
		if bodyTooLarge(err) {
			return blockTooLarge()
		}
		return err
	}
	data, err := decodeBase64("data", req.Data)
	if err != nil {
		return err
	}
	if err := s.svc.DBFSAddBlock(r.Context(), int64(req.Handle), data); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) dbfsClose(w http.ResponseWriter, r *http.Request) error {
	var req dbfsBlockRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := s.svc.DBFSClose(r.Context(), int64(req.Handle)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

type dbfsReadResponse struct {
	BytesRead int64  `json:"bytes_read"`
	Data      string `json:"data"`
}

func (s *Server) dbfsRead(w http.ResponseWriter, r *http.Request) error {
	q, err := readParams(r)
	if err != nil {
		return err
	}
	path, err := q.get("path")
	if err != nil {
		return err
	}
	offset, err := q.int("offset", 0)
	if err != nil {
		return err
	}
	length, err := q.int("length", 0)
	if err != nil {
		return err
	}
	data, err := s.svc.DBFSRead(r.Context(), path, offset, length)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dbfsReadResponse{BytesRead: int64(len(data)), Data: base64.StdEncoding.EncodeToString(data)})
	return nil
}

// dbfsListResponse leaves files out for an empty directory, as Databricks
// does.
type dbfsListResponse struct {
	Files []fileInfoJSON `json:"files,omitempty"`
}

func (s *Server) dbfsList(w http.ResponseWriter, r *http.Request) error {
	return serveByPath(w, r, s.svc.DBFSList, func(list []kiln.DBFSFileInfo) any {
		var resp dbfsListResponse
		for _, fi := range list {
			resp.Files = append(resp.Files, fileInfoOf(fi))
		}
		return resp
	})
}

func (s *Server) dbfsStatus(w http.ResponseWriter, r *http.Request) error {
	return serveByPath(w, r, s.svc.DBFSStatus, func(fi kiln.DBFSFileInfo) any { return fileInfoOf(fi) })
}

func (s *Server) dbfsMkdirs(w http.ResponseWriter, r *http.Request) error {
	return servePathAction(w, r, func(ctx context.Context, req pathRequest) error { return s.svc.DBFSMkdirs(ctx, req.Path) })
}

func (s *Server) dbfsDelete(w http.ResponseWriter, r *http.Request) error {
	return servePathAction(w, r, func(ctx context.Context, req pathRequest) error {
		return s.svc.DBFSDelete(ctx, req.Path, bool(req.Recursive))
	})
}

type dbfsMoveRequest struct {
	SourcePath      string `json:"source_path"`
	DestinationPath string `json:"destination_path"`
}

func (s *Server) dbfsMove(w http.ResponseWriter, r *http.Request) error {
	var req dbfsMoveRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := s.svc.DBFSMove(r.Context(), req.SourcePath, req.DestinationPath); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}
