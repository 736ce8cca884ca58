package sqlstore

import (
	"slices"

	"github.com/kiln-dev/kiln"
)

// entitlementTable is where one kind of owner keeps its entitlements.
type entitlementTable struct {
	table, owner string // the table and its owner id column
	owners       string // the owners' table, for the existence check
}

var (
	principalEntitlements = entitlementTable{table: "principal_entitlements", owner: "principal_id", owners: "principals"}
	groupEntitlements     = entitlementTable{table: "group_entitlements", owner: "group_id", owners: "groups"}
)

// SetPrincipalEntitlements replaces the principal's direct entitlements.
// ENotFound if it does not exist.
func (t *tx) SetPrincipalEntitlements(id int64, entitlements []string) error {
	return t.setEntitlements("set principal entitlements", principalEntitlements, id, entitlements, principalNotFound(id), true)
}

// SetGroupEntitlements replaces what the group gives its members.
// ENotFound if it does not exist.
func (t *tx) SetGroupEntitlements(id int64, entitlements []string) error {
	return t.setEntitlements("set group entitlements", groupEntitlements, id, entitlements, groupNotFound(id), true)
}

// setEntitlements makes ents the owner's whole set (duplicates count
// once); replace first deletes what it had, which a new owner skips.
func (t *tx) setEntitlements(op string, et entitlementTable, id int64, ents []string, notFound *kiln.Error, replace bool) error {
	if err := t.writable(op); err != nil {
		return err
	}
	if replace {
		found, err := t.exists(`SELECT 1 FROM `+et.owners+` WHERE id = ?`, id)
		if err != nil {
			return internal(op, err)
		}
		if !found {
			return notFound
		}
		if _, err := t.exec(`DELETE FROM `+et.table+` WHERE `+et.owner+` = ?`, id); err != nil {
			return internal(op, err)
		}
	}
	for _, e := range ents {
		if _, err := t.exec(`INSERT INTO `+et.table+` (`+et.owner+`, entitlement) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, e); err != nil {
			return t.fail(op, err, notFound, nil)
		}
	}
	return nil
}

// fillEntitlements calls add with each entitlement of the owners whose
// ids the SQL sub returns (with args), in owner then entitlement order
// (byte order on both dialects).
func (t *tx) fillEntitlements(op string, et entitlementTable, add func(owner int64, entitlement string), sub string, args ...any) error {
	rows, err := t.query(`SELECT `+et.owner+`, entitlement FROM `+et.table+
		` WHERE `+et.owner+` IN (`+sub+`) ORDER BY `+et.owner+`, entitlement`, args...)
	if err != nil {
		return internal(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var e string
		if err := rows.Scan(&id, &e); err != nil {
			return internal(op, err)
		}
		add(id, e)
	}
	if err := rows.Err(); err != nil {
		return internal(op, err)
	}
	return nil
}

// withoutDuplicates is ents sorted, each once, for a new owner's rows.
func withoutDuplicates(ents []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(ents)))
}
