package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// hotQueries are the statements every authenticated request runs: looking
// a token up by digest, then its owner and the owner's groups. They are
// compiled once per connection and reused, instead of on every call:
// compiling is about half the cost of a TokenByDigest otherwise.
var hotQueries = []string{qTokenByDigest, qTokenByID, qPrincipalByID, qPrincipalByName, qGroupsOfOne}

// stmtCache maps a query, as written, to its prepared statement on a pool.
// It is filled by Open and read-only afterwards.
type stmtCache map[string]*sql.Stmt

// prepareHot prepares hotQueries on db. It must run before any transaction
// exists: preparing on a *sql.DB takes a connection of its own, which
// inside a transaction on the single-connection write pool would wait
// forever. Later, Tx.StmtContext re-prepares a statement on each other
// connection of the pool once, using the transaction's own connection.
func prepareHot(ctx context.Context, db *sql.DB, d dialect) (stmtCache, error) {
	c := make(stmtCache, len(hotQueries))
	for _, q := range hotQueries {
		st, err := db.PrepareContext(ctx, d.rebind(q))
		if err != nil {
			c.close()
			return nil, fmt.Errorf("sqlstore: prepare: %w", err)
		}
		c[q] = st
	}
	return c, nil
}

func (c stmtCache) close() error {
	var errs []error
	for _, st := range c {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}
