package sqlstore

import (
	"github.com/kiln-dev/kiln"
)

const groupCols = `g.id, g.display_name, g.builtin, g.created_at`

func scanGroup(r scanner) (*kiln.Group, error) {
	g := &kiln.Group{}
	var created int64
	if err := r.Scan(&g.ID, &g.DisplayName, &g.Builtin, &created); err != nil {
		return nil, err
	}
	g.Created = kiln.TimeOfMillis(created)
	return g, nil
}

// CreateGroup inserts g with its members and entitlements. A zero g.ID gets a random id in
// [10^15, 2^53) and a zero g.Created the transaction time; both are written
// back to g. Members are named by Member.ID, or by UserName when the ID is
// zero (ENotFound for a missing principal); g.Members is then refilled as a
// read would. EConflict when the display name (exact) or the id is taken.
// The store does not guard built-in groups; the service layer does.
func (t *tx) CreateGroup(g *kiln.Group) error {
	const op = "create group"
	if err := t.writable(op); err != nil {
		return err
	}
	id, err := t.newRowID(op, "groups", g.ID, kiln.Errorf(kiln.EConflict, "Group %d already exists.", g.ID))
	if err != nil {
		return err
	}
	created := g.Created
	if created.IsZero() {
		created = t.now
	}
	_, err = t.exec(`INSERT INTO groups (id, display_name, builtin, created_at) VALUES (?, ?, ?, ?)`,
		id, g.DisplayName, g.Builtin, kiln.MillisOf(created))
	if err != nil {
		return t.fail(op, err, nil, groupExists(g.DisplayName))
	}
	g.ID, g.Created = id, created
	if err := t.setEntitlements(op, groupEntitlements, id, withoutDuplicates(g.Entitlements), groupNotFound(id), false); err != nil {
		return err
	}
	for _, m := range g.Members {
		pid := m.ID
		if pid == 0 {
			if err := t.queryRow(`SELECT id FROM principals WHERE user_name_key = ?`, foldName(m.UserName)).Scan(&pid); err != nil {
				return t.fail(op, err, userNameNotFound(m.UserName), nil)
			}
		}
		if err := t.insertMember(op, id, pid, principalNotFound(pid)); err != nil {
			return err
		}
	}
	g.Members, g.Entitlements = nil, nil
	return t.fillMembers(op, []*kiln.Group{g}, "?", id)
}

// insertMember adds a membership unless it exists; a foreign key violation
// (group or principal missing) becomes notFound.
func (t *tx) insertMember(op string, groupID, principalID int64, notFound *kiln.Error) error {
	_, err := t.exec(`INSERT INTO group_members (group_id, principal_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		groupID, principalID)
	if err != nil {
		return t.fail(op, err, notFound, nil)
	}
	return nil
}

// Group returns the group with the given id, or ENotFound.
func (t *tx) Group(id int64) (*kiln.Group, error) {
	const op = "read group"
	g, err := scanGroup(t.queryRow(`SELECT `+groupCols+` FROM groups g WHERE g.id = ?`, id))
	if err != nil {
		return nil, t.fail(op, err, groupNotFound(id), nil)
	}
	if err := t.fillMembers(op, []*kiln.Group{g}, "?", id); err != nil {
		return nil, err
	}
	return g, nil
}

// GroupByName returns the group whose display name is name (exactly), or
// ENotFound.
func (t *tx) GroupByName(name string) (*kiln.Group, error) {
	const op = "read group by name"
	g, err := scanGroup(t.queryRow(`SELECT `+groupCols+` FROM groups g WHERE g.display_name = ?`, name))
	if err != nil {
		return nil, t.fail(op, err, groupNameNotFound(name), nil)
	}
	if err := t.fillMembers(op, []*kiln.Group{g}, "?", g.ID); err != nil {
		return nil, err
	}
	return g, nil
}

// Groups returns the page of groups f selects, ordered by id, and how many
// match f in all.
func (t *tx) Groups(f kiln.GroupFilter) ([]*kiln.Group, int, error) {
	const op = "list groups"
	var conds []string
	var args []any
	if f.DisplayName != "" {
		conds, args = append(conds, "g.display_name = ?"), append(args, f.DisplayName)
	}
	where := whereClause(conds)
	var total int
	if err := t.queryRow(`SELECT COUNT(*) FROM groups g`+where, args...).Scan(&total); err != nil {
		return nil, 0, internal(op, err)
	}
	offset := max(f.Offset, 0)
	if total == 0 || offset >= total {
		return nil, total, nil
	}
	page := where + ` ORDER BY g.id LIMIT ? OFFSET ?`
	pageArgs := append(args, pageLimit(f.Limit), offset)
	rows, err := t.query(`SELECT `+groupCols+` FROM groups g`+page, pageArgs...)
	if err != nil {
		return nil, 0, internal(op, err)
	}
	defer rows.Close()
	var gs []*kiln.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, 0, internal(op, err)
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, internal(op, err)
	}
	rows.Close()
	if err := t.fillMembers(op, gs, `SELECT g.id FROM groups g`+page, pageArgs...); err != nil {
		return nil, 0, err
	}
	return gs, total, nil
}

// RenameGroup sets the group's display name. ENotFound if it does not
// exist, EConflict if another group has the name.
func (t *tx) RenameGroup(id int64, name string) error {
	const op = "rename group"
	if err := t.writable(op); err != nil {
		return err
	}
	res, err := t.exec(`UPDATE groups SET display_name = ? WHERE id = ?`, name, id)
	if err != nil {
		return t.fail(op, err, nil, groupExists(name))
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal(op, err)
	} else if n == 0 {
		return groupNotFound(id)
	}
	return nil
}

// DeleteGroup deletes the group and its memberships. ENotFound if it does
// not exist.
func (t *tx) DeleteGroup(id int64) error {
	const op = "delete group"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, groupNotFound(id), `DELETE FROM groups WHERE id = ?`, id)
}

// AddMember makes the principal a member of the group; a no-op if it is
// one already. ENotFound if either does not exist.
func (t *tx) AddMember(groupID, principalID int64) error {
	const op = "add member"
	if err := t.writable(op); err != nil {
		return err
	}
	// Check each side so that the error names the missing one; the
	// foreign keys alone could not say which.
	found, err := t.exists(`SELECT 1 FROM groups WHERE id = ?`, groupID)
	if err != nil {
		return internal(op, err)
	}
	if !found {
		return groupNotFound(groupID)
	}
	return t.insertMember(op, groupID, principalID, principalNotFound(principalID))
}

// RemoveMember ends the principal's membership of the group; a no-op if it
// is not a member (or either does not exist).
func (t *tx) RemoveMember(groupID, principalID int64) error {
	const op = "remove member"
	if err := t.writable(op); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM group_members WHERE group_id = ? AND principal_id = ?`, groupID, principalID); err != nil {
		return internal(op, err)
	}
	return nil
}

// fillMembers sets the Members of gs, ordered by user name, and their
// Entitlements, for the groups whose ids the SQL sub returns (see
// fillGroups).
func (t *tx) fillMembers(op string, gs []*kiln.Group, sub string, args ...any) error {
	if len(gs) == 0 {
		return nil
	}
	byID := make(map[int64]*kiln.Group, len(gs))
	for _, g := range gs {
		byID[g.ID] = g
	}
	rows, err := t.query(`SELECT gm.group_id, p.id, p.kind, p.user_name, p.display_name
		FROM group_members gm JOIN principals p ON p.id = gm.principal_id
		WHERE gm.group_id IN (`+sub+`)
		ORDER BY gm.group_id, p.user_name_key`, args...)
	if err != nil {
		return internal(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var gid int64
		var m kiln.Member
		var kind string
		if err := rows.Scan(&gid, &m.ID, &kind, &m.UserName, &m.Display); err != nil {
			return internal(op, err)
		}
		m.Kind = kiln.PrincipalKind(kind)
		if g := byID[gid]; g != nil {
			g.Members = append(g.Members, m)
		}
	}
	if err := rows.Err(); err != nil {
		return internal(op, err)
	}
	rows.Close()
	return t.fillEntitlements(op, groupEntitlements, func(id int64, e string) {
		if g := byID[id]; g != nil {
			g.Entitlements = append(g.Entitlements, e)
		}
	}, sub, args...)
}
