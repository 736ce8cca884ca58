package sqlstore

import (
	"hash/maphash"
	"os"
	"path/filepath"
	"sync"
)

// A SQLite database in WAL mode keeps a wal-index beside it, the -shm
// file, whose first 48 bytes are the wal-index header
// (https://sqlite.org/walformat.html): every commit, by any connection of
// any process, rewrites it (its change counter, frame count and checksums
// move), and a checkpoint that restarts the WAL changes its salts. Reading
// those bytes is one pread, no query and no lock, which is what lets the
// token index tell in about a microsecond whether anything was committed
// since it last refreshed.
const walIndexHeaderSize = 48

// stampFile is the file whose header ChangeStamp reads: the -shm beside a
// SQLite database. PostgreSQL has none.
func (sqliteDialect) stampFile(dsn string) string {
	abs, err := filepath.Abs(dsn)
	if err != nil {
		return ""
	}
	return abs + "-shm"
}

func (*postgresDialect) stampFile(string) string { return "" }

// stamper reads the wal-index header of one database.
type stamper struct {
	path string
	once sync.Once
	f    *os.File // nil when the file could not be opened
}

var stampSeed = maphash.MakeSeed()

// stamp returns a digest of the wal-index header, or false when it cannot
// be read.
func (st *stamper) stamp() (uint64, bool) {
	if st == nil {
		return 0, false
	}
	st.once.Do(func() {
		// The store's connections stay open for its lifetime, so SQLite
		// never removes or replaces the file under this descriptor.
		st.f, _ = os.Open(st.path)
	})
	if st.f == nil {
		return 0, false
	}
	var b [walIndexHeaderSize]byte
	if n, err := st.f.ReadAt(b[:], 0); n != len(b) || err != nil {
		return 0, false
	}
	return maphash.Bytes(stampSeed, b[:]), true
}

func (st *stamper) close() error {
	if st == nil || st.f == nil {
		return nil
	}
	return st.f.Close()
}

// ChangeStamp returns a value that changes whenever a transaction is
// committed to the database, by this process or any other, and true; or
// false when the store cannot tell without a query (PostgreSQL, whose
// replicas learn of commits through LISTEN/NOTIFY instead). Equal stamps
// from two calls mean nothing was committed between them; a torn read
// can only make them differ. It costs one small read of a file, never a
// query: the token index calls it for unknown tokens.
func (s *Store) ChangeStamp() (uint64, bool) { return s.stamps.stamp() }
