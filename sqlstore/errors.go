package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/kiln-dev/kiln"
)

// fail turns err, from the statement of operation op, into the store's
// error:
//
//   - a *kiln.Error already made by the store passes through;
//   - no row (sql.ErrNoRows), or a foreign key violation, which also means a
//     row referred to is missing, becomes notFound;
//   - a unique or primary key violation becomes conflict;
//   - anything else, and a case whose replacement is nil because the caller
//     did not expect it, is EInternal wrapping err with op for the logs.
//
// Classification is by error code (see dialect.classify), never by message.
func (t *tx) fail(op string, err error, notFound, conflict *kiln.Error) error {
	var ke *kiln.Error
	if errors.As(err, &ke) {
		return err
	}
	if notFound != nil && errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	switch t.s.d.classify(err) {
	case errUnique:
		if conflict != nil {
			return conflict
		}
	case errForeignKey:
		if notFound != nil {
			return notFound
		}
	}
	return kiln.Internal(fmt.Errorf("sqlstore: %s: %w", op, err))
}

// unavailableMessage is what a client reads while the database cannot be
// reached: the API answers it with 503 and Retry-After, which the
// Databricks SDKs retry.
const unavailableMessage = "The workspace store is temporarily unavailable; retry shortly."

// boundary is applied to every error leaving the store: an internal error
// whose cause the dialect classifies as unavailable (see errUnavailable)
// becomes [kiln.EUnavailable], keeping the cause for the logs. Doing it
// here, once, covers every statement, begin and commit, whatever method
// or service code met it.
func (s *Store) boundary(err error) error {
	if err == nil || kiln.ErrorCode(err) != kiln.EInternal || s.d.classify(err) != errUnavailable {
		return err
	}
	return &kiln.Error{Code: kiln.EUnavailable, Message: unavailableMessage, Err: err}
}

// errIDsExhausted means every random id tried was taken: in a space of
// 2^53 ids it signals a broken random source, not a full table.
var errIDsExhausted = errors.New("no free id found")

// internal wraps an unexpected error with the operation that met it.
func internal(op string, err error) error {
	return kiln.Internal(fmt.Errorf("sqlstore: %s: %w", op, err))
}

// Client-safe messages, worded like the Databricks API's.

func principalNotFound(id int64) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Principal %d does not exist.", id)
}

func userNameNotFound(name string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "User %s does not exist.", name)
}

func principalExists(kind kiln.PrincipalKind, name string) *kiln.Error {
	if kind == kiln.KindServicePrincipal {
		return kiln.Errorf(kiln.EConflict, "Service principal %s already exists.", name)
	}
	return kiln.Errorf(kiln.EConflict, "User %s already exists.", name)
}

func groupNotFound(id int64) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Group %d does not exist.", id)
}

func groupNameNotFound(name string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Group %s does not exist.", name)
}

func groupExists(name string) *kiln.Error {
	return kiln.Errorf(kiln.EConflict, "Group %s already exists.", name)
}

func tokenNotFound(id string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Token %s does not exist.", id)
}
