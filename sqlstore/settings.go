package sqlstore

import "github.com/kiln-dev/kiln"

// Settings returns every stored workspace-conf key and value, verbatim;
// keys never set are absent (defaults are the service's business).
func (t *tx) Settings() (map[string]string, error) {
	const op = "read settings"
	rows, err := t.query(`SELECT key, value FROM settings`)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	kv := make(map[string]string)
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, internal(op, err)
		}
		kv[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return kv, nil
}

// SetSettings stores each key's value verbatim, replacing any previous
// value; keys not in kv keep theirs.
func (t *tx) SetSettings(kv map[string]string) error {
	const op = "write settings"
	if err := t.writable(op); err != nil {
		return err
	}
	for k, v := range kv {
		if _, err := t.exec(`INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
			return internal(op, err)
		}
	}
	return nil
}

// TokenACL returns the token permission list in the order it was set.
func (t *tx) TokenACL() ([]kiln.ACLEntry, error) {
	const op = "read token acl"
	rows, err := t.query(`SELECT user_name, group_name, service_principal_name, level
		FROM token_acl ORDER BY position`)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var acl []kiln.ACLEntry
	for rows.Next() {
		var e kiln.ACLEntry
		if err := rows.Scan(&e.UserName, &e.GroupName, &e.ServicePrincipalName, &e.Level); err != nil {
			return nil, internal(op, err)
		}
		acl = append(acl, e)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return acl, nil
}

// SetTokenACL replaces the whole list with entries, stored as given: the
// service validates grantees and levels.
func (t *tx) SetTokenACL(entries []kiln.ACLEntry) error {
	const op = "write token acl"
	if err := t.writable(op); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM token_acl`); err != nil {
		return internal(op, err)
	}
	for i, e := range entries {
		if _, err := t.exec(`INSERT INTO token_acl (position, user_name, group_name, service_principal_name, level)
			VALUES (?, ?, ?, ?, ?)`, i, e.UserName, e.GroupName, e.ServicePrincipalName, e.Level); err != nil {
			return internal(op, err)
		}
	}
	return nil
}
