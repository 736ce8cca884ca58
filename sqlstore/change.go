package sqlstore

import (
	"context"

	"github.com/kiln-dev/kiln"
)

// DefaultChangesLimit is how many change notices Changes returns when
// asked for limit 0 or less.
const DefaultChangesLimit = 1000

// Notify records a change notice at the transaction time. It is written
// with the transaction, so a rolled-back Update leaves no notice.
//
// Sequence numbers must become visible in order, or pollers reading
// "after seq" could skip a notice. They do because writers take turns:
// SQLite's single writer, PostgreSQL's write lock (see postgresDialect),
// which is released only once the commit is visible.
//
// On PostgreSQL the first Notify of a transaction also queues a
// notification on ChangesChannel, delivered to listeners at commit (and
// dropped with a rollback).
func (t *tx) Notify(kind kiln.ChangeKind, ref string) error {
	const op = "notify change"
	if err := t.writable(op); err != nil {
		return err
	}
	// Unguarded: nothing here can conflict, so a failure is fatal anyway.
	if _, err := t.sql.ExecContext(t.ctx, t.s.d.rebind(`INSERT INTO changes (kind, ref, at) VALUES (?, ?, ?)`),
		string(kind), ref, t.now.UnixMilli()); err != nil {
		return internal(op, err)
	}
	if q := t.s.d.notifyQuery(); q != "" && !t.notified {
		if _, err := t.sql.ExecContext(t.ctx, q); err != nil {
			return internal(op, err)
		}
		t.notified = true
	}
	return nil
}

// Changes returns the change notices with a sequence number above after,
// oldest first, at most limit of them (DefaultChangesLimit if limit <= 0).
// When some of them were pruned (after lies below the change floor) it
// returns an error wrapping [kiln.ErrChangesPruned] instead.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]kiln.Change, error) {
	const op = "read changes"
	if limit <= 0 {
		limit = DefaultChangesLimit
	}
	rows, err := s.read.QueryContext(ctx,
		s.d.rebind(`SELECT seq, kind, ref, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`), after, limit)
	if err != nil {
		return nil, s.boundary(internal(op, err))
	}
	defer rows.Close()
	var cs []kiln.Change
	for rows.Next() {
		var c kiln.Change
		var kind string
		var at int64
		if err := rows.Scan(&c.Seq, &kind, &c.Ref, &at); err != nil {
			return nil, s.boundary(internal(op, err))
		}
		c.Kind, c.Time = kiln.ChangeKind(kind), kiln.TimeOfMillis(at)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.boundary(internal(op, err))
	}
	// The floor is read after the notices: a prune committed in between
	// raises it, so the answer errs towards a reload, never towards
	// notices silently missing.
	floor, err := s.changeFloor(ctx)
	if err != nil {
		return nil, err
	}
	if after < floor {
		return nil, errChangesPruned(after, floor)
	}
	return cs, nil
}

// LastChange returns the highest change sequence number, 0 if none: where
// a new poller starts. Once every notice was pruned it is the change floor.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	err := s.read.QueryRowContext(ctx,
		`SELECT COALESCE((SELECT MAX(seq) FROM changes), (SELECT through FROM change_floor WHERE id = 1), 0)`).Scan(&seq)
	if err != nil {
		return 0, s.boundary(internal("read last change", err))
	}
	return seq, nil
}
