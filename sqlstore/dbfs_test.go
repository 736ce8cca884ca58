package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/dbfs/dbfstest"
	"github.com/kiln-dev/kiln/sqlstore"
)

// dbfsOptions are the suite's limits as the store's tree takes them.
func dbfsOptions(l dbfstest.Limits) sqlstore.DBFSOptions {
	return sqlstore.DBFSOptions{IdleTimeout: l.IdleTimeout, MaxHandles: l.MaxHandles, MaxHandlesPerOwner: l.MaxHandlesPerOwner, Now: l.Now}
}

// TestDBFSContract runs the DBFS contract against the tree kept in a
// SQLite store.
func TestDBFSContract(t *testing.T) {
	dbfstest.Run(t, func(t *testing.T, l dbfstest.Limits) kiln.DBFS {
		s, _ := openTemp(t)
		return s.DBFS(dbfsOptions(l))
	})
}

// TestDBFSContractPostgres runs it against a PostgreSQL store.
func TestDBFSContractPostgres(t *testing.T) {
	dbfstest.Run(t, func(t *testing.T, l dbfstest.Limits) kiln.DBFS {
		s, _ := openPostgres(t)
		return s.DBFS(dbfsOptions(l))
	})
}

// backends opens two stores on one new database of each dialect, as two
// replicas would.
func backends(t *testing.T) map[string][2]*sqlstore.Store {
	lite, path := openTemp(t)
	lite2, err := sqlstore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite2.Close() })
	pg, dsn := openPostgres(t)
	pg2, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg2.Close() })
	return map[string][2]*sqlstore.Store{"sqlite": {lite, lite2}, "postgres": {pg, pg2}}
}

// random returns n reproducible random bytes.
func random(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestDBFSChunks: files larger than a chunk, uploaded by put and by
// blocks of sizes that straddle chunk boundaries, read back byte for byte
// by ranged reads and by Open, through a second store on the same
// database (an upload begun on one replica and closed on another).
func TestDBFSChunks(t *testing.T) {
	ctx := context.Background()
	for name, st := range backends(t) {
		t.Run(name, func(t *testing.T) {
			one, two := st[0].DBFS(sqlstore.DBFSOptions{}), st[1].DBFS(sqlstore.DBFSOptions{})
			big := random(2*sqlstore.DBFSChunkSize + 12345)
			if err := one.Put(ctx, 1, "/big/put.bin", bytes.NewReader(big), int64(len(big)), false); err != nil {
				t.Fatal(err)
			}
			h, err := one.CreateHandle(ctx, 1, "/big/blocks.bin", false)
			if err != nil {
				t.Fatal(err)
			}
			for i, off := 0, 0; off < len(big); i++ {
				n := min([]int{700_000, 1, sqlstore.DBFSChunkSize, 333_333}[i%4], len(big)-off)
				d := []*sqlstore.DBFS{one, two}[i%2] // alternate replicas
				if err := d.AddBlock(ctx, 1, h, big[off:off+n]); err != nil {
					t.Fatalf("AddBlock at %d: %v", off, err)
				}
				off += n
			}
			if err := two.CloseHandle(ctx, 1, h); err != nil {
				t.Fatalf("CloseHandle on the other store: %v", err)
			}
			for _, p := range []string{"/big/put.bin", "/big/blocks.bin"} {
				f, err := two.Open(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(f)
				f.Close()
				if err != nil || !bytes.Equal(got, big) {
					t.Errorf("Open(%s): %d bytes, equal %v, %v", p, len(got), bytes.Equal(got, big), err)
				}
				for _, r := range [][2]int64{{0, 10}, {sqlstore.DBFSChunkSize - 5, 10}, {2*sqlstore.DBFSChunkSize - 1, 1 << 20}, {123, 1 << 20}, {int64(len(big)) - 3, 100}} {
					b, err := two.Read(ctx, p, r[0], r[1])
					end := min(r[0]+r[1], int64(len(big)))
					if err != nil || !bytes.Equal(b, big[r[0]:end]) {
						t.Errorf("Read(%s, %d, %d): %d bytes, %v", p, r[0], r[1], len(b), err)
					}
				}
			}
			if fi, err := two.Status(ctx, "/big/blocks.bin"); err != nil || fi.Size != int64(len(big)) {
				t.Errorf("Status: %+v, %v", fi, err)
			}
		})
	}
}

// TestDBFSOpenFailsWhenTheFileChanges: a reader over a file replaced
// meanwhile fails instead of mixing the two contents.
func TestDBFSOpenFailsWhenTheFileChanges(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	d := s.DBFS(sqlstore.DBFSOptions{})
	old := bytes.Repeat([]byte("a"), 2*sqlstore.DBFSChunkSize)
	d.Put(ctx, 1, "/f", bytes.NewReader(old), 1<<30, false)
	f, err := d.Open(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 10)
	if _, err := io.ReadFull(f, buf); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, 1, "/f", bytes.NewReader(bytes.Repeat([]byte("b"), 3*sqlstore.DBFSChunkSize)), 1<<30, true); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(f)
	if err == nil || bytes.Contains(rest, []byte("b")) {
		t.Errorf("read on after a replacement: %d bytes, %v; want an error and no new bytes", len(rest), err)
	}
}

// quota fails unless err is the quota q.
func quota(t *testing.T, what string, err error, limit int64, workspace bool) {
	t.Helper()
	var qe *kiln.DBFSQuotaError
	if !errors.As(err, &qe) || qe.Limit != limit || qe.Workspace != workspace {
		t.Errorf("%s: got %v, want the quota %d (workspace %v)", what, err, limit, workspace)
	}
}

// TestDBFSQuotas: the per-owner and the tree's quota count files and
// open uploads, refuse what goes over and change nothing then, and let an
// owner shrink or delete.
func TestDBFSQuotas(t *testing.T) {
	ctx := context.Background()
	for name, st := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := st[0].DBFS(sqlstore.DBFSOptions{QuotaPerOwner: 100, Quota: 150})
			put := func(owner int64, p string, n int, overwrite bool) error {
				return d.Put(ctx, owner, p, bytes.NewReader(make([]byte, n)), 1<<20, overwrite)
			}
			if err := put(1, "/a/60", 60, false); err != nil {
				t.Fatal(err)
			}
			quota(t, "a put over the owner's quota", put(1, "/a/50", 50, false), 100, false)
			if _, err := d.Status(ctx, "/a/50"); !errors.Is(err, kiln.ErrDBFSNotFound) {
				t.Errorf("the refused put left %v", err)
			}
			if err := put(1, "/a/60", 100, true); err != nil {
				t.Errorf("an overwrite within the quota: %v", err)
			}
			if err := put(1, "/a/60", 10, true); err != nil {
				t.Errorf("a shrinking overwrite: %v", err)
			}
			// Uploads count as their blocks come.
			h, err := d.CreateHandle(ctx, 1, "/a/up", false)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.AddBlock(ctx, 1, h, make([]byte, 80)); err != nil {
				t.Fatal(err)
			}
			quota(t, "a block over the owner's quota", d.AddBlock(ctx, 1, h, make([]byte, 20)), 100, false)
			quota(t, "a put while the upload holds the quota", put(1, "/a/x", 11, false), 100, false)
			usage := func(owner int64, mine, all int64) {
				t.Helper()
				u, err := d.Usage(ctx, owner)
				if want := (kiln.DBFSUsage{Mine: mine, All: all, QuotaPerOwner: 100, Quota: 150}); err != nil || u != want {
					t.Errorf("Usage(%d) = %+v, %v; want %+v", owner, u, err, want)
				}
			}
			usage(1, 90, 90) // the file's 10 bytes and the upload's 80
			if err := d.CloseHandle(ctx, 1, h); err != nil {
				t.Fatal(err)
			}
			// Another owner fills the tree: the workspace's quota.
			if err := put(2, "/b/60", 60, false); err != nil {
				t.Fatal(err)
			}
			usage(1, 90, 150)
			usage(2, 60, 150)
			quota(t, "a put over the tree's quota", put(2, "/b/1", 1, false), 150, true)
			if err := d.Delete(ctx, "/a", true); err != nil {
				t.Fatal(err)
			}
			if err := put(2, "/b/40", 40, false); err != nil {
				t.Errorf("a put after the delete freed room: %v", err)
			}
		})
	}
}

// TestDBFSSweepsDeadStaging: the staging of a put whose process stopped
// (a blob nothing refers to) goes once idle for the timeout; what files
// and handles refer to stays.
func TestDBFSSweepsDeadStaging(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	var mu sync.Mutex
	now := time.Unix(1_750_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	d := s.DBFS(sqlstore.DBFSOptions{Now: clock})
	d.Put(ctx, 1, "/kept", bytes.NewReader([]byte("kept")), 100, false)
	h, _ := d.CreateHandle(ctx, 1, "/upload", false)
	d.AddBlock(ctx, 1, h, []byte("up"))
	db := rawDB(t, path)
	// A put that died after its first chunk.
	if _, err := db.Exec(`INSERT INTO dbfs_blobs (id, touched) VALUES (42, ?)`, now.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	db.Exec(`INSERT INTO dbfs_chunks (blob_id, off, size, data) VALUES (42, 0, 4, x'00010203')`)
	count := func() (n int) {
		db.QueryRow(`SELECT COUNT(*) FROM dbfs_blobs`).Scan(&n)
		return n
	}
	if n := count(); n != 3 {
		t.Fatalf("blobs: %d, want 3", n)
	}
	mu.Lock()
	now = now.Add(9 * time.Minute)
	mu.Unlock()
	d.AddBlock(ctx, 1, h, []byte("load")) // keeps the handle alive
	d.Put(ctx, 1, "/other", bytes.NewReader(nil), 100, false)
	if n := count(); n != 4 {
		t.Errorf("blobs before the timeout: %d, want 4", n)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	d.Put(ctx, 1, "/third", bytes.NewReader(nil), 100, false)
	var dead int
	db.QueryRow(`SELECT COUNT(*) FROM dbfs_blobs WHERE id = 42`).Scan(&dead)
	if dead != 0 {
		t.Errorf("the dead staging is still there")
	}
	if err := d.CloseHandle(ctx, 1, h); err != nil {
		t.Fatalf("the live upload was swept: %v", err)
	}
	if b, err := d.Read(ctx, "/upload", 0, 100); err != nil || string(b) != "upload" {
		t.Errorf("upload: %q, %v", b, err)
	}
	if b, err := d.Read(ctx, "/kept", 0, 100); err != nil || string(b) != "kept" {
		t.Errorf("kept: %q, %v", b, err)
	}
}

// BenchmarkDBFSPut writes a 32 MiB file into the SQLite store's DBFS
// (1 MiB chunks, a transaction each) and, as the baseline measured in the
// same run, the same bytes to a file on the same disk with one fsync.
// Compare the MB/s of the two; docs/benchmarks.md has the figures.
func BenchmarkDBFSPut(b *testing.B) {
	const size = 32 << 20
	data := bytes.Repeat([]byte("kiln dbfs benchmark\n"), size/20+1)[:size]
	b.Run("store", func(b *testing.B) {
		s, _ := openTemp(b)
		d := s.DBFS(sqlstore.DBFSOptions{})
		b.SetBytes(size)
		for i := 0; b.Loop(); i++ {
			if err := d.Put(context.Background(), 1, fmt.Sprintf("/bench/%d", i), bytes.NewReader(data), size, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("file", func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(size)
		for i := 0; b.Loop(); i++ {
			f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
}
