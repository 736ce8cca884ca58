package replicas

import (
	"bytes"
	"context"
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"strconv"
	"testing"
)

// TestDBFSAcrossReplicas: DBFS lives in the shared store, so a file
// written through one replica reads byte for byte through another at
// once, and a streaming upload begun on one replica takes blocks through
// every replica and is closed through another.
func TestDBFSAcrossReplicas(t *testing.T) {
	c := newCluster(t, 3)
	r1, r2, r3 := c.replicas[0], c.replicas[1], c.replicas[2]
	admin := c.adminToken()
	const dbfs = "/api/2.0/dbfs/"
	b64 := base64.StdEncoding.EncodeToString

	// A put through 1, read through 2 and 3.
	c.must(r1, 200, "POST", dbfs+"put", admin, map[string]any{"path": "dbfs:/FileStore/jobs/pi.py", "contents": b64([]byte("print(3.14)"))})
	for _, r := range []*replica{r2, r3} {
		m := c.must(r, 200, "GET", dbfs+"read?path=/FileStore/jobs/pi.py", admin, nil).json(t)
		if m["data"] != b64([]byte("print(3.14)")) {
			t.Errorf("read through replica %d: %v", r.n, m)
		}
	}

	// An upload of several chunks: created on 1, blocks through 1, 2 and
	// 3 in turn, closed on 2.
	content := make([]byte, 3<<20+777)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	h := c.must(r1, 200, "POST", dbfs+"create", admin, map[string]any{"path": "/wheels/pkg.whl"}).json(t)["handle"]
	for i, off := 0, 0; off < len(content); i++ {
		n := min(900_000, len(content)-off)
		r := c.replicas[i%3]
		c.must(r, 200, "POST", dbfs+"add-block", admin, map[string]any{"handle": h, "data": b64(content[off : off+n])})
		off += n
	}
	if got := c.do(r3, "GET", dbfs+"get-status?path=/wheels/pkg.whl", admin, nil).status; got != 404 {
		t.Errorf("the upload is visible before close on replica 3: %d", got)
	}
	c.must(r2, 200, "POST", dbfs+"close", admin, map[string]any{"handle": h})
	if got := c.do(r1, "POST", dbfs+"add-block", admin, map[string]any{"handle": h, "data": b64([]byte("late"))}).status; got != 404 {
		t.Errorf("add-block on replica 1 after the close on 2: %d, want 404", got)
	}
	var got []byte
	for off := 0; off < len(content); off += 1 << 20 {
		r := c.replicas[(off>>20)%3]
		m := c.must(r, 200, "GET", dbfs+"read?"+url.Values{"path": {"/wheels/pkg.whl"}, "offset": {strconv.Itoa(off)}, "length": {strconv.Itoa(1 << 20)}}.Encode(), admin, nil).json(t)
		b, err := base64.StdEncoding.DecodeString(m["data"].(string))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("read back %d bytes, not the %d uploaded", len(got), len(content))
	}
	st := c.must(r3, 200, "GET", dbfs+"get-status?path=/wheels/pkg.whl", admin, nil).json(t)
	if st["file_size"] != float64(len(content)) {
		t.Errorf("get-status on replica 3: %v", st)
	}

	// Moved through 3, deleted through 1: gone from 2.
	c.must(r3, 200, "POST", dbfs+"move", admin, map[string]any{"source_path": "/wheels", "destination_path": "/archive/wheels"})
	c.must(r2, 200, "GET", dbfs+"get-status?path=/archive/wheels/pkg.whl", admin, nil)
	c.must(r1, 200, "POST", dbfs+"delete", admin, map[string]any{"path": "/archive", "recursive": true})
	if got := c.do(r2, "GET", dbfs+"get-status?path=/archive/wheels/pkg.whl", admin, nil).status; got != 404 {
		t.Errorf("deleted through 1, still on 2: %d", got)
	}
	var handles, blobs int
	db := c.db()
	db.QueryRow(context.Background(), `SELECT COUNT(*) FROM dbfs_handles`).Scan(&handles)
	db.QueryRow(context.Background(), `SELECT COUNT(*) FROM dbfs_blobs`).Scan(&blobs)
	if handles != 0 || blobs != 1 {
		t.Errorf("left in the store: %d handles, %d blobs; want none and pi.py's", handles, blobs)
	}
}
