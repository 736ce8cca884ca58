package sqlstore

import (
	"encoding/json"

	"github.com/kiln-dev/kiln"
)

func ipListNotFound(id string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "IP access list %s does not exist.", id)
}

const ipListCols = `id, label, list_type, ip_addresses, enabled, created_at, created_by, updated_at, updated_by`

func scanIPList(r scanner) (*kiln.IPAccessList, error) {
	l := &kiln.IPAccessList{}
	var addrs string
	var created, updated int64
	if err := r.Scan(&l.ID, &l.Label, &l.ListType, &addrs, &l.Enabled, &created, &l.CreatedBy, &updated, &l.UpdatedBy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(addrs), &l.Addresses); err != nil {
		return nil, err
	}
	l.Created, l.Updated = kiln.TimeOfMillis(created), kiln.TimeOfMillis(updated)
	return l, nil
}

// addressesJSON renders the addresses as stored: a JSON array, never null.
func addressesJSON(addrs []string) string {
	if addrs == nil {
		addrs = []string{}
	}
	b, _ := json.Marshal(addrs) // strings always marshal
	return string(b)
}

// CreateIPAccessList inserts l. See [kiln.IPAccessListTx].
func (t *tx) CreateIPAccessList(l *kiln.IPAccessList) error {
	const op = "create ip access list"
	if err := t.writable(op); err != nil {
		return err
	}
	created, updated := l.Created, l.Updated
	if created.IsZero() {
		created = t.now
	}
	if updated.IsZero() {
		updated = created
	}
	if _, err := t.exec(`INSERT INTO ip_access_lists (`+ipListCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.Label, l.ListType, addressesJSON(l.Addresses), l.Enabled,
		kiln.MillisOf(created), l.CreatedBy, kiln.MillisOf(updated), l.UpdatedBy); err != nil {
		return t.fail(op, err, nil, kiln.Errorf(kiln.EConflict, "IP access list %s already exists.", l.ID))
	}
	l.Created, l.Updated = created, updated
	return nil
}

// IPAccessList returns the list with id.
func (t *tx) IPAccessList(id string) (*kiln.IPAccessList, error) {
	const op = "read ip access list"
	l, err := scanIPList(t.queryRow(`SELECT `+ipListCols+` FROM ip_access_lists WHERE id = ?`, id))
	if err != nil {
		return nil, t.fail(op, err, ipListNotFound(id), nil)
	}
	return l, nil
}

// IPAccessLists returns every list, oldest first.
func (t *tx) IPAccessLists() ([]*kiln.IPAccessList, error) {
	const op = "list ip access lists"
	return collect(t, op, `SELECT `+ipListCols+` FROM ip_access_lists ORDER BY created_at, id`, scanIPList)
}

// UpdateIPAccessList replaces the list's mutable fields.
func (t *tx) UpdateIPAccessList(l *kiln.IPAccessList) error {
	const op = "update ip access list"
	if err := t.writable(op); err != nil {
		return err
	}
	updated := l.Updated
	if updated.IsZero() {
		updated = t.now
	}
	if err := t.execOne(op, ipListNotFound(l.ID), `UPDATE ip_access_lists SET label = ?, list_type = ?, ip_addresses = ?,
		enabled = ?, updated_at = ?, updated_by = ? WHERE id = ?`,
		l.Label, l.ListType, addressesJSON(l.Addresses), l.Enabled, kiln.MillisOf(updated), l.UpdatedBy, l.ID); err != nil {
		return err
	}
	l.Updated = updated
	return nil
}

// DeleteIPAccessList removes the list.
func (t *tx) DeleteIPAccessList(id string) error {
	const op = "delete ip access list"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, ipListNotFound(id), `DELETE FROM ip_access_lists WHERE id = ?`, id)
}
