package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln"
)

// tx is the [kiln.Tx] of one View or Update. Its methods are split by
// subject over principal.go, group.go, token.go and the rest.
type tx struct {
	ctx      context.Context
	s        *Store
	sql      *sql.Tx
	now      time.Time
	readOnly bool
	stmts    stmtCache // the pool's prepared statements
	// guard runs each exec under a savepoint (dialect.savepoints).
	guard bool
	// notified records that the dialect's notifyQuery ran.
	notified bool
	// persisted is the state of each task run as this transaction last
	// read or wrote it, so persistRun writes only the rows a state change
	// moved: a for_each task's run has up to kiln.MaxForEachInputs of
	// them, and each iteration's end settles the whole run.
	persisted map[int64]taskState
}

// taskState is what persistRun writes of a task run.
type taskState struct {
	attempt                      int
	state, result, message       string
	ready, started, ended, lease int64
	leaseOwner                   string
}

func stateOfTask(t *kiln.TaskRun) taskState {
	return taskState{t.Attempt, t.LifeCycleState, t.ResultState, t.StateMessage,
		kiln.MillisOf(t.ReadyAt), kiln.MillisOf(t.Started), kiln.MillisOf(t.Ended), kiln.MillisOf(t.LeaseUntil), t.LeaseOwner}
}

// remember records task as the store now holds it.
func (t *tx) remember(task *kiln.TaskRun) {
	if t.persisted == nil {
		t.persisted = map[int64]taskState{}
	}
	t.persisted[task.ID] = stateOfTask(task)
}

var _ kiln.Tx = (*tx)(nil)

// Now returns the transaction's instant, in UTC, truncated to milliseconds.
func (t *tx) Now() time.Time { return t.now }

// writable fails a write method called in a View. The read pool is
// query_only too, but checking here gives a clear error on every dialect
// and before any statement runs.
func (t *tx) writable(op string) error {
	if t.readOnly {
		return kiln.Internal(fmt.Errorf("sqlstore: %s: write in a read-only transaction", op))
	}
	return nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	args = storableText(args)
	if t.guard {
		return t.execGuarded(query, args...)
	}
	return t.sql.ExecContext(t.ctx, t.s.d.rebind(query), args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	args = storableText(args)
	if st := t.stmts[query]; st != nil {
		return t.sql.StmtContext(t.ctx, st).QueryContext(t.ctx, args...)
	}
	return t.sql.QueryContext(t.ctx, t.s.d.rebind(query), args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	args = storableText(args)
	if st := t.stmts[query]; st != nil {
		return t.sql.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
	}
	return t.sql.QueryRowContext(t.ctx, t.s.d.rebind(query), args...)
}

// execOne runs a statement that must affect a row; it returns notFound
// (already a *kiln.Error) when none matched.
func (t *tx) execOne(op string, notFound error, query string, args ...any) error {
	res, err := t.exec(query, args...)
	if err != nil {
		return t.fail(op, err, nil, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.fail(op, err, nil, nil)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// exists reports whether query (a SELECT 1 …) returns a row.
func (t *tx) exists(query string, args ...any) (bool, error) {
	var one int
	err := t.queryRow(query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Times are stored as epoch milliseconds. Optional times (expiry,
// revocation, …) are NULL when zero, so that "IS NULL" reads as "never".

// nullMillis is the column value of an optional time.
func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// timeOfNull reads an optional time column.
func timeOfNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// collect runs query and scans every row with scan.
func collect[T any](t *tx, op, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, internal(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}
