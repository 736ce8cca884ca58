package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/kiln-dev/kiln"
)

// Audit page sizes.
const (
	// DefaultAuditLimit is the page size of AuditEvents when the filter
	// sets none.
	DefaultAuditLimit = 100
	// MaxAuditLimit caps the page size of AuditEvents.
	MaxAuditLimit = 1000
)

// Audit appends ev (its ID is ignored and assigned). A zero ev.Time is the
// transaction time and a zero ev.Count is 1. ev.Detail is stored as JSON; an
// empty one reads back as nil.
func (t *tx) Audit(ev kiln.AuditEvent) error {
	const op = "append audit event"
	if err := t.writable(op); err != nil {
		return err
	}
	at := ev.Time
	if at.IsZero() {
		at = t.now
	}
	count := ev.Count
	if count == 0 {
		count = 1
	}
	var detail any // NULL when empty
	if len(ev.Detail) > 0 {
		b, err := json.Marshal(ev.Detail)
		if err != nil {
			return internal(op, err)
		}
		detail = string(b)
	}
	_, err := t.exec(`INSERT INTO audit (at, action, actor_id, actor_name, target, remote_addr, detail, count)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		kiln.MillisOf(at), ev.Action, ev.ActorID, ev.ActorName, ev.Target, ev.RemoteAddr, detail, count)
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// AuditEvents returns the events f selects, newest (highest id) first:
// Action and ActorName match exactly, Since is inclusive and Until
// exclusive, BeforeID keeps ids below it (pass the last id of a page to get
// the next). f.Limit defaults to DefaultAuditLimit and is capped at
// MaxAuditLimit.
func (t *tx) AuditEvents(f kiln.AuditFilter) ([]kiln.AuditEvent, error) {
	const op = "read audit events"
	var conds []string
	var args []any
	if f.Action != "" {
		conds, args = append(conds, "action = ?"), append(args, f.Action)
	}
	if f.ActorName != "" {
		conds, args = append(conds, "actor_name = ?"), append(args, f.ActorName)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "at >= ?"), append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "at < ?"), append(args, f.Until.UnixMilli())
	}
	if len(f.TokenSHA256) > 0 {
		conds = append(conds, "target = (SELECT 'token:' || id FROM tokens WHERE value_sha256 = ?)")
		args = append(args, f.TokenSHA256)
	}
	if f.BeforeID > 0 {
		conds, args = append(conds, "id < ?"), append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	rows, err := t.query(`SELECT id, at, action, actor_id, actor_name, target, remote_addr, detail, count
		FROM audit`+whereClause(conds)+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var evs []kiln.AuditEvent
	for rows.Next() {
		var ev kiln.AuditEvent
		var at int64
		var detail sql.NullString
		if err := rows.Scan(&ev.ID, &at, &ev.Action, &ev.ActorID, &ev.ActorName, &ev.Target,
			&ev.RemoteAddr, &detail, &ev.Count); err != nil {
			return nil, internal(op, err)
		}
		ev.Time = kiln.TimeOfMillis(at)
		if detail.Valid {
			if err := json.Unmarshal([]byte(detail.String), &ev.Detail); err != nil {
				return nil, internal(op, fmt.Errorf("event %d detail: %w", ev.ID, err))
			}
		}
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return evs, nil
}
