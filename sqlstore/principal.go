package sqlstore

import (
	"database/sql"
	"math"
	"strings"

	"github.com/kiln-dev/kiln"
)

// principalCols are the principal columns every read selects, in
// scanPrincipal's order.
const principalCols = `p.id, p.kind, p.user_name, p.display_name, p.given_name, p.family_name,
	p.external_id, p.active, p.password_hash, p.password_changed_at, p.created_at`

// The single-principal lookups, and the groups of one principal.
const (
	qPrincipalByID   = `SELECT ` + principalCols + ` FROM principals p WHERE p.id = ?`
	qPrincipalByName = `SELECT ` + principalCols + ` FROM principals p WHERE p.user_name_key = ?`
)

var qGroupsOfOne = groupsOf("?")

// groupsOf reads the memberships of the principals whose ids the SQL sub
// returns.
func groupsOf(sub string) string {
	return `SELECT gm.principal_id, g.id, g.display_name
		FROM group_members gm JOIN groups g ON g.id = gm.group_id
		WHERE gm.principal_id IN (` + sub + `)
		ORDER BY gm.principal_id, g.display_name`
}

// foldName is the case fold of a user name that uniqueness and lookups use
// (the user_name_key column).
func foldName(name string) string { return strings.ToLower(name) }

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanPrincipal(r scanner) (*kiln.Principal, error) {
	p := &kiln.Principal{}
	var kind string
	var pwChanged sql.NullInt64
	var created int64
	if err := r.Scan(&p.ID, &kind, &p.UserName, &p.DisplayName, &p.GivenName, &p.FamilyName,
		&p.ExternalID, &p.Active, &p.PasswordHash, &pwChanged, &created); err != nil {
		return nil, err
	}
	p.Kind = kiln.PrincipalKind(kind)
	p.PasswordChanged = timeOfNull(pwChanged)
	p.Created = kiln.TimeOfMillis(created)
	return p, nil
}

// CreatePrincipal inserts p with its Entitlements. A zero p.ID gets a random id in [10^15, 2^53)
// and a zero p.Created the transaction time; both are written back to p.
// p.Groups, if set, are joined too (by GroupRef.ID, or by Name when the ID
// is zero; ENotFound for a missing group) and p.Groups is then refilled as a
// read would. EConflict when the user name, compared case-insensitively, or
// the given id is taken.
func (t *tx) CreatePrincipal(p *kiln.Principal) error {
	const op = "create principal"
	if err := t.writable(op); err != nil {
		return err
	}
	id, err := t.newRowID(op, "principals", p.ID, kiln.Errorf(kiln.EConflict, "Principal %d already exists.", p.ID))
	if err != nil {
		return err
	}
	created := p.Created
	if created.IsZero() {
		created = t.now
	}
	_, err = t.exec(`INSERT INTO principals (id, kind, user_name, user_name_key, display_name, given_name,
		family_name, external_id, active, password_hash, password_changed_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, string(p.Kind), p.UserName, foldName(p.UserName), p.DisplayName, p.GivenName,
		p.FamilyName, p.ExternalID, p.Active, p.PasswordHash, nullMillis(p.PasswordChanged), kiln.MillisOf(created))
	if err != nil {
		return t.fail(op, err, nil, principalExists(p.Kind, p.UserName))
	}
	p.ID, p.Created = id, created
	if err := t.setEntitlements(op, principalEntitlements, id, withoutDuplicates(p.Entitlements), principalNotFound(id), false); err != nil {
		return err
	}
	for _, g := range p.Groups {
		gid := g.ID
		if gid == 0 {
			if err := t.queryRow(`SELECT id FROM groups WHERE display_name = ?`, g.Name).Scan(&gid); err != nil {
				return t.fail(op, err, groupNameNotFound(g.Name), nil)
			}
		}
		if err := t.insertMember(op, gid, id, groupNotFound(gid)); err != nil {
			return err
		}
	}
	p.Groups, p.Entitlements = nil, nil
	return t.fillGroups(op, []*kiln.Principal{p}, "?", id)
}

// newRowID returns id if it is non-zero and free in table (taken returns
// the conflict), or else a random id free in table. Collisions are
// vanishingly rare among 2^53 ids, but a retry costs nothing.
func (t *tx) newRowID(op, table string, id int64, taken *kiln.Error) (int64, error) {
	if id != 0 {
		found, err := t.exists(`SELECT 1 FROM `+table+` WHERE id = ?`, id)
		if err != nil {
			return 0, internal(op, err)
		}
		if found {
			return 0, taken
		}
		return id, nil
	}
	for range 16 {
		id = t.s.newID()
		found, err := t.exists(`SELECT 1 FROM `+table+` WHERE id = ?`, id)
		if err != nil {
			return 0, internal(op, err)
		}
		if !found {
			return id, nil
		}
	}
	return 0, internal(op, errIDsExhausted)
}

// Principal returns the principal with the given id, or ENotFound.
func (t *tx) Principal(id int64) (*kiln.Principal, error) {
	const op = "read principal"
	p, err := scanPrincipal(t.queryRow(qPrincipalByID, id))
	if err != nil {
		return nil, t.fail(op, err, principalNotFound(id), nil)
	}
	if err := t.fillGroups(op, []*kiln.Principal{p}, "?", id); err != nil {
		return nil, err
	}
	return p, nil
}

// PrincipalByName returns the principal whose user name equals userName
// case-insensitively, or ENotFound.
func (t *tx) PrincipalByName(userName string) (*kiln.Principal, error) {
	const op = "read principal by name"
	p, err := scanPrincipal(t.queryRow(qPrincipalByName, foldName(userName)))
	if err != nil {
		return nil, t.fail(op, err, userNameNotFound(userName), nil)
	}
	if err := t.fillGroups(op, []*kiln.Principal{p}, "?", p.ID); err != nil {
		return nil, err
	}
	return p, nil
}

// Principals returns the page of principals f selects, ordered by id, and
// how many match f in all.
func (t *tx) Principals(f kiln.PrincipalFilter) ([]*kiln.Principal, int, error) {
	const op = "list principals"
	where, args := principalWhere(f)
	var total int
	if err := t.queryRow(`SELECT COUNT(*) FROM principals p`+where, args...).Scan(&total); err != nil {
		return nil, 0, internal(op, err)
	}
	offset := max(f.Offset, 0)
	if total == 0 || offset >= total {
		return nil, total, nil
	}
	page := where + ` ORDER BY p.id LIMIT ? OFFSET ?`
	pageArgs := append(args, pageLimit(f.Limit), offset)
	rows, err := t.query(`SELECT `+principalCols+` FROM principals p`+page, pageArgs...)
	if err != nil {
		return nil, 0, internal(op, err)
	}
	defer rows.Close()
	var ps []*kiln.Principal
	for rows.Next() {
		p, err := scanPrincipal(rows)
		if err != nil {
			return nil, 0, internal(op, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, internal(op, err)
	}
	rows.Close()
	if err := t.fillGroups(op, ps, `SELECT p.id FROM principals p`+page, pageArgs...); err != nil {
		return nil, 0, err
	}
	return ps, total, nil
}

// principalWhere is the WHERE clause (with a leading space, or empty) and
// arguments selecting f.
func principalWhere(f kiln.PrincipalFilter) (string, []any) {
	var conds []string
	var args []any
	if f.Kind != "" {
		conds, args = append(conds, "p.kind = ?"), append(args, string(f.Kind))
	}
	if f.UserName != "" {
		conds, args = append(conds, "p.user_name_key = ?"), append(args, foldName(f.UserName))
	}
	if f.DisplayName != "" {
		conds, args = append(conds, "p.display_name = ?"), append(args, f.DisplayName)
	}
	return whereClause(conds), args
}

// whereClause joins conditions with AND.
func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// pageLimit is the LIMIT for a page size where 0 (or less) means all: both
// SQLite and PostgreSQL need a LIMIT before an OFFSET, and both accept the
// largest int64 as "no limit".
func pageLimit(limit int) int64 {
	if limit <= 0 {
		return math.MaxInt64
	}
	return int64(limit)
}

// UpdatePrincipal sets the non-nil fields of u. Setting PasswordHash, even
// to "", also sets PasswordChanged to the transaction time, voiding older
// console sessions. ENotFound if the principal does not exist.
func (t *tx) UpdatePrincipal(id int64, u kiln.PrincipalUpdate) error {
	const op = "update principal"
	if err := t.writable(op); err != nil {
		return err
	}
	var sets []string
	var args []any
	set := func(col string, v any) {
		sets, args = append(sets, col+" = ?"), append(args, v)
	}
	if u.DisplayName != nil {
		set("display_name", *u.DisplayName)
	}
	if u.GivenName != nil {
		set("given_name", *u.GivenName)
	}
	if u.FamilyName != nil {
		set("family_name", *u.FamilyName)
	}
	if u.ExternalID != nil {
		set("external_id", *u.ExternalID)
	}
	if u.Active != nil {
		set("active", *u.Active)
	}
	if u.PasswordHash != nil {
		set("password_hash", *u.PasswordHash)
		set("password_changed_at", t.now.UnixMilli())
	}
	if len(sets) == 0 {
		found, err := t.exists(`SELECT 1 FROM principals WHERE id = ?`, id)
		if err != nil {
			return internal(op, err)
		}
		if !found {
			return principalNotFound(id)
		}
		return nil
	}
	return t.execOne(op, principalNotFound(id),
		`UPDATE principals SET `+strings.Join(sets, ", ")+` WHERE id = ?`, append(args, id)...)
}

// DeletePrincipal deletes the principal; its memberships and the tokens it
// owns go with it (ON DELETE CASCADE). Tokens it minted for others stay.
// ENotFound if it does not exist.
func (t *tx) DeletePrincipal(id int64) error {
	const op = "delete principal"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, principalNotFound(id), `DELETE FROM principals WHERE id = ?`, id)
}

// fillGroups sets the Groups of ps, ordered by group name, and their
// Entitlements, reading the rows of the principals whose ids the SQL sub
// returns (with args).
// Passing the page's own query keeps this to one statement whatever the
// page size, with no limit on bound parameters.
func (t *tx) fillGroups(op string, ps []*kiln.Principal, sub string, args ...any) error {
	if len(ps) == 0 {
		return nil
	}
	byID := make(map[int64]*kiln.Principal, len(ps))
	for _, p := range ps {
		byID[p.ID] = p
	}
	q := qGroupsOfOne
	if sub != "?" {
		q = groupsOf(sub)
	}
	rows, err := t.query(q, args...)
	if err != nil {
		return internal(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int64
		var g kiln.GroupRef
		if err := rows.Scan(&pid, &g.ID, &g.Name); err != nil {
			return internal(op, err)
		}
		if p := byID[pid]; p != nil {
			p.Groups = append(p.Groups, g)
		}
	}
	if err := rows.Err(); err != nil {
		return internal(op, err)
	}
	rows.Close()
	return t.fillEntitlements(op, principalEntitlements, func(id int64, e string) {
		if p := byID[id]; p != nil {
			p.Entitlements = append(p.Entitlements, e)
		}
	}, sub, args...)
}
