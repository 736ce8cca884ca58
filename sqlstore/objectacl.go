package sqlstore

import (
	"github.com/kiln-dev/kiln"
)

// ObjectACL returns the grants on one object, ordered by grantee.
func (t *tx) ObjectACL(objectType, objectID string) ([]kiln.ACLEntry, error) {
	const op = "read object acl"
	rows, err := t.query(`SELECT principal_kind, principal, level FROM object_acls
		WHERE object_type = ? AND object_id = ? ORDER BY principal_kind, principal`, objectType, objectID)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	acl := []kiln.ACLEntry{}
	for rows.Next() {
		var kind, name, level string
		if err := rows.Scan(&kind, &name, &level); err != nil {
			return nil, internal(op, err)
		}
		e, _ := kiln.NewACLEntry(kind, name, level) // the schema admits only the three kinds
		acl = append(acl, e)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return acl, nil
}

// SetObjectACL replaces the grants on one object, stored as given: the
// service validates grantees and levels. A grantee named twice keeps the
// last entry.
func (t *tx) SetObjectACL(objectType, objectID string, entries []kiln.ACLEntry) error {
	const op = "write object acl"
	if err := t.writable(op); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM object_acls WHERE object_type = ? AND object_id = ?`, objectType, objectID); err != nil {
		return internal(op, err)
	}
	for _, e := range entries {
		kind, name := e.Subject()
		if _, err := t.exec(`INSERT INTO object_acls (object_type, object_id, principal_kind, principal, level)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (object_type, object_id, principal_kind, principal) DO UPDATE SET level = excluded.level`,
			objectType, objectID, kind, name, e.Level); err != nil {
			return internal(op, err)
		}
	}
	return nil
}

// RenameObjectGrantee rewrites or drops every grant to one grantee.
func (t *tx) RenameObjectGrantee(kind, name, newName string) error {
	const op = "rename object grantee"
	if err := t.writable(op); err != nil {
		return err
	}
	if name == newName {
		return nil
	}
	// Grants that would collide with a grant to the new name go first, so
	// the UPDATE cannot violate the primary key; with no new name this
	// drops them all.
	drop := `DELETE FROM object_acls WHERE principal_kind = ? AND principal = ?`
	args := []any{kind, name}
	if newName != "" {
		drop += ` AND (object_type, object_id) IN (SELECT object_type, object_id FROM object_acls WHERE principal_kind = ? AND principal = ?)`
		args = append(args, kind, newName)
	}
	if _, err := t.exec(drop, args...); err != nil {
		return internal(op, err)
	}
	if newName == "" {
		return nil
	}
	if _, err := t.exec(`UPDATE object_acls SET principal = ? WHERE principal_kind = ? AND principal = ?`, newName, kind, name); err != nil {
		return internal(op, err)
	}
	return nil
}
