package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln"
)

// PruneRuns deletes at most limit finished runs that ended before
// endedBefore, oldest first, with everything that hangs off them (task
// runs, replaced attempts, repairs, task values: ON DELETE CASCADE), and
// returns their ids. Active runs are never touched, whatever their age.
func (t *tx) PruneRuns(endedBefore time.Time, limit int) ([]int64, error) {
	const op = "prune runs"
	if err := t.writable(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []int64{}, nil
	}
	// A terminal run always has ended_at; created_at covers a row written
	// by an older kiln without one.
	ids, err := collect(t, op, `SELECT id FROM runs
		WHERE state IN (?, ?, ?) AND (ended_at < ? OR (ended_at IS NULL AND created_at < ?))
		ORDER BY COALESCE(ended_at, created_at), id LIMIT ?`,
		func(s scanner) (id int64, err error) { return id, s.Scan(&id) },
		kiln.LifeCycleTerminated, kiln.LifeCycleSkipped, kiln.LifeCycleInternalErr,
		endedBefore.UnixMilli(), endedBefore.UnixMilli(), limit)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := t.exec(`DELETE FROM runs WHERE id = ?`, id); err != nil {
			return nil, internal(op, err)
		}
	}
	return ids, nil
}

// PruneChanges deletes the change notices recorded before before and
// raises the change floor to the highest sequence number deleted, in one
// transaction: a poller sees either all of them or the floor that says
// they are gone.
func (s *Store) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.Update(ctx, func(ktx kiln.Tx) error {
		t := ktx.(*tx)
		const op = "prune changes"
		var top sql.NullInt64
		if err := t.queryRow(`SELECT MAX(seq) FROM changes WHERE at < ?`, before.UnixMilli()).Scan(&top); err != nil {
			return internal(op, err)
		}
		if !top.Valid {
			return nil
		}
		res, err := t.exec(`DELETE FROM changes WHERE seq <= ?`, top.Int64)
		if err != nil {
			return internal(op, err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return internal(op, err)
		}
		if _, err := t.exec(`UPDATE change_floor SET through = ? WHERE id = 1 AND through < ?`, top.Int64, top.Int64); err != nil {
			return internal(op, err)
		}
		return nil
	})
	return n, err
}

// changeFloor reads the highest pruned change sequence number.
func (s *Store) changeFloor(ctx context.Context) (int64, error) {
	var floor int64
	if err := s.read.QueryRowContext(ctx, `SELECT through FROM change_floor WHERE id = 1`).Scan(&floor); err != nil {
		return 0, s.boundary(internal("read change floor", err))
	}
	return floor, nil
}

// errChangesPruned reports a position below the floor.
func errChangesPruned(after, floor int64) error {
	return fmt.Errorf("sqlstore: changes after %d are gone (pruned through %d): %w", after, floor, kiln.ErrChangesPruned)
}
