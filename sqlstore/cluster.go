package sqlstore

import (
	"database/sql"
	"strings"

	"github.com/kiln-dev/kiln"
)

// clusterSelect reads clusters with their creator's user name ("" once the
// creator is deleted).
const clusterSelect = `SELECT c.id, c.name, c.creator_id, COALESCE(p.user_name, ''), c.spec, c.state, c.state_message,
	c.termination_reason, c.pinned, c.autotermination_minutes, c.created_at, c.state_since, c.started_at,
	c.terminated_at, c.last_activity_at
	FROM clusters c LEFT JOIN principals p ON p.id = c.creator_id`

// clusterNotFound is the store's missing-cluster error; the service words
// the API's answer.
func clusterNotFound(id string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Cluster %s does not exist.", id)
}

func scanCluster(r scanner) (*kiln.Cluster, error) {
	c := &kiln.Cluster{}
	var spec, reason string
	var created, since int64
	var started, terminated, activity sql.NullInt64
	if err := r.Scan(&c.ID, &c.Name, &c.CreatorID, &c.CreatorName, &spec, &c.State, &c.StateMessage, &reason,
		&c.Pinned, &c.AutoterminationMinutes, &created, &since, &started, &terminated, &activity); err != nil {
		return nil, err
	}
	c.Spec = []byte(spec)
	if reason != "" {
		c.TerminationReason = []byte(reason)
	}
	c.Created, c.StateSince = kiln.TimeOfMillis(created), kiln.TimeOfMillis(since)
	c.Started, c.Terminated, c.LastActivity = timeOfNull(started), timeOfNull(terminated), timeOfNull(activity)
	return c, nil
}

// CreateCluster inserts c; a zero c.Created is the transaction time, and
// a zero c.StateSince the creation time. EConflict if the id is taken.
func (t *tx) CreateCluster(c *kiln.Cluster) error {
	const op = "create cluster"
	if err := t.writable(op); err != nil {
		return err
	}
	if c.Created.IsZero() {
		c.Created = t.now
	}
	if c.StateSince.IsZero() {
		c.StateSince = c.Created
	}
	if _, err := t.exec(`INSERT INTO clusters (id, name, creator_id, spec, state, state_message, termination_reason,
		pinned, autotermination_minutes, created_at, state_since, started_at, terminated_at, last_activity_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.CreatorID, jsonText(c.Spec), c.State, c.StateMessage, string(c.TerminationReason),
		c.Pinned, c.AutoterminationMinutes, kiln.MillisOf(c.Created), kiln.MillisOf(c.StateSince),
		nullMillis(c.Started), nullMillis(c.Terminated), nullMillis(c.LastActivity)); err != nil {
		return t.fail(op, err, nil, kiln.Errorf(kiln.EConflict, "Cluster %s already exists.", c.ID))
	}
	return nil
}

// Cluster returns the cluster with the id, or ENotFound.
func (t *tx) Cluster(id string) (*kiln.Cluster, error) {
	c, err := scanCluster(t.queryRow(clusterSelect+` WHERE c.id = ?`, id))
	if err != nil {
		return nil, t.fail("read cluster", err, clusterNotFound(id), nil)
	}
	return c, nil
}

// Clusters returns every cluster in (created, id) order.
func (t *tx) Clusters() ([]*kiln.Cluster, error) {
	const op = "list clusters"
	rows, err := t.query(clusterSelect + ` ORDER BY c.created_at, c.id`)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var cs []*kiln.Cluster
	for rows.Next() {
		c, err := scanCluster(rows)
		if err != nil {
			return nil, internal(op, err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return cs, nil
}

// UpdateCluster replaces the fields of cluster c.ID but its creator and
// creation time; ENotFound if it does not exist.
func (t *tx) UpdateCluster(c *kiln.Cluster) error {
	const op = "update cluster"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, clusterNotFound(c.ID), `UPDATE clusters SET name = ?, spec = ?, state = ?, state_message = ?,
		termination_reason = ?, pinned = ?, autotermination_minutes = ?, state_since = ?, started_at = ?,
		terminated_at = ?, last_activity_at = ? WHERE id = ?`,
		c.Name, jsonText(c.Spec), c.State, c.StateMessage, string(c.TerminationReason), c.Pinned,
		c.AutoterminationMinutes, kiln.MillisOf(c.StateSince), nullMillis(c.Started), nullMillis(c.Terminated),
		nullMillis(c.LastActivity), c.ID)
}

// DeleteCluster removes the cluster; its events go with it (ON DELETE
// CASCADE). ENotFound if it does not exist.
func (t *tx) DeleteCluster(id string) error {
	const op = "delete cluster"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, clusterNotFound(id), `DELETE FROM clusters WHERE id = ?`, id)
}

// AddClusterEvent appends e and sets its Seq; ENotFound if the cluster
// does not exist.
func (t *tx) AddClusterEvent(e *kiln.ClusterEvent) error {
	const op = "add cluster event"
	if err := t.writable(op); err != nil {
		return err
	}
	var one int
	if err := t.queryRow(`SELECT 1 FROM clusters WHERE id = ?`, e.ClusterID).Scan(&one); err != nil {
		return t.fail(op, err, clusterNotFound(e.ClusterID), nil)
	}
	if e.Time.IsZero() {
		e.Time = t.now
	}
	if err := t.queryRow(`INSERT INTO cluster_events (cluster_id, at, type, details) VALUES (?, ?, ?, ?) RETURNING seq`,
		e.ClusterID, kiln.MillisOf(e.Time), e.Type, jsonText(e.Details)).Scan(&e.Seq); err != nil {
		return t.fail(op, err, clusterNotFound(e.ClusterID), nil)
	}
	return nil
}

// ClusterEvents returns the events f selects, in time then seq order
// (reversed when f.Descending), and how many match without paging.
func (t *tx) ClusterEvents(f kiln.ClusterEventFilter) ([]kiln.ClusterEvent, int, error) {
	const op = "list cluster events"
	conds, args := []string{"cluster_id = ?"}, []any{f.ClusterID}
	if !f.Start.IsZero() {
		conds, args = append(conds, "at >= ?"), append(args, kiln.MillisOf(f.Start))
	}
	if !f.End.IsZero() {
		conds, args = append(conds, "at <= ?"), append(args, kiln.MillisOf(f.End))
	}
	if len(f.Types) > 0 {
		conds = append(conds, "type IN (?"+strings.Repeat(", ?", len(f.Types)-1)+")")
		for _, ty := range f.Types {
			args = append(args, ty)
		}
	}
	where := whereClause(conds)
	var total int
	if err := t.queryRow(`SELECT COUNT(*) FROM cluster_events`+where, args...).Scan(&total); err != nil {
		return nil, 0, internal(op, err)
	}
	order := " ORDER BY at, seq"
	if f.Descending {
		order = " ORDER BY at DESC, seq DESC"
	}
	args = append(args, pageLimit(f.Limit), max(f.Offset, 0))
	rows, err := t.query(`SELECT seq, cluster_id, at, type, details FROM cluster_events`+where+order+` LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, 0, internal(op, err)
	}
	defer rows.Close()
	var out []kiln.ClusterEvent
	for rows.Next() {
		var e kiln.ClusterEvent
		var at int64
		var details string
		if err := rows.Scan(&e.Seq, &e.ClusterID, &at, &e.Type, &details); err != nil {
			return nil, 0, internal(op, err)
		}
		e.Time, e.Details = kiln.TimeOfMillis(at), []byte(details)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, internal(op, err)
	}
	return out, total, nil
}
