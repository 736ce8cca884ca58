package sqlstore

import (
	"context"
	"fmt"
)

// Vacuum gives the space of deleted rows back: on SQLite VACUUM rewrites
// the database file compactly (it needs as much free disk as the file,
// and holds the write lock while it runs); on PostgreSQL VACUUM (ANALYZE)
// makes the space reusable and refreshes the planner's statistics without
// blocking readers or writers.
func (s *Store) Vacuum(ctx context.Context) error {
	q := "VACUUM"
	if s.d.name() == "postgres" {
		q = "VACUUM (ANALYZE)"
	}
	if _, err := s.write.ExecContext(ctx, q); err != nil {
		return s.boundary(internal("vacuum", fmt.Errorf("%s: %w", q, err)))
	}
	if s.d.name() == "sqlite" {
		// Truncate the write-ahead log the rewrite went through.
		if _, err := s.write.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return s.boundary(internal("vacuum", err))
		}
	}
	return nil
}

// Size is the space the database takes: on SQLite the pages of the file
// (free pages included, which Vacuum gives back), on PostgreSQL
// pg_database_size of the current database.
func (s *Store) Size(ctx context.Context) (int64, error) {
	q := "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
	if s.d.name() == "postgres" {
		q = "SELECT pg_database_size(current_database())"
	}
	var n int64
	if err := s.read.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, s.boundary(internal("database size", err))
	}
	return n, nil
}
