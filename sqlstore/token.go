package sqlstore

import (
	"database/sql"
	"time"

	"github.com/kiln-dev/kiln"
)

// tokenSelect reads tokens with their owner's and creator's user names. The
// creator may have been deleted (or be 0, kiln itself), hence the LEFT JOIN
// and an empty name.
const tokenSelect = `SELECT t.id, t.digest, t.owner_id, t.created_by_id, t.comment, t.created_at,
	t.expires_at, t.revoked_at, t.revoked_by, t.last_used_day,
	t.value_sha256, t.rotated_to, t.rotated_at, t.scopes,
	COALESCE(o.user_name, ''), COALESCE(c.user_name, '')
	FROM tokens t
	LEFT JOIN principals o ON o.id = t.owner_id
	LEFT JOIN principals c ON c.id = t.created_by_id`

// The token lookups by id and by digest: the second is on the path of
// every token-authenticated request.
const (
	qTokenByID     = tokenSelect + ` WHERE t.id = ?`
	qTokenByDigest = tokenSelect + ` WHERE t.digest = ?`
	qTokenBySHA256 = tokenSelect + ` WHERE t.value_sha256 = ?`
)

// liveCond selects tokens neither revoked nor expired at the bound time.
// A token expires at Expires exactly ([kiln.Token.ExpiredAt]).
const liveCond = `t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`

func scanToken(r scanner) (*kiln.Token, error) {
	tk := &kiln.Token{}
	var created int64
	var expires, revoked, lastUsed, rotated sql.NullInt64
	var scopes string
	if err := r.Scan(&tk.ID, &tk.Digest, &tk.OwnerID, &tk.CreatedByID, &tk.Comment, &created,
		&expires, &revoked, &tk.RevokedBy, &lastUsed, &tk.ValueSHA256, &tk.RotatedTo, &rotated, &scopes,
		&tk.OwnerName, &tk.CreatedByName); err != nil {
		return nil, err
	}
	tk.Scopes = scopesOf(scopes)
	tk.RotatedAt = timeOfNull(rotated)
	tk.Created = kiln.TimeOfMillis(created)
	tk.Expires = timeOfNull(expires)
	tk.Revoked = timeOfNull(revoked)
	tk.LastUsedDay = timeOfNull(lastUsed)
	return tk, nil
}

// CreateToken inserts tk as given (Revoked and LastUsedDay included); a
// zero tk.Created becomes the transaction time, written back to tk.
// EConflict if the id or the digest exists, ENotFound if the owner does not.
func (t *tx) CreateToken(tk *kiln.Token) error {
	const op = "create token"
	if err := t.writable(op); err != nil {
		return err
	}
	created := tk.Created
	if created.IsZero() {
		created = t.now
	}
	var sum any // NULL, not an empty blob, for tokens without one
	if len(tk.ValueSHA256) > 0 {
		sum = tk.ValueSHA256
	}
	_, err := t.exec(`INSERT INTO tokens (id, digest, owner_id, created_by_id, comment, created_at,
		expires_at, revoked_at, revoked_by, last_used_day, value_sha256, scopes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tk.ID, tk.Digest, tk.OwnerID, tk.CreatedByID, tk.Comment, kiln.MillisOf(created),
		nullMillis(tk.Expires), nullMillis(tk.Revoked), tk.RevokedBy, nullMillis(tk.LastUsedDay), sum, scopesText(tk.Scopes))
	if err != nil {
		return t.fail(op, err, principalNotFound(tk.OwnerID),
			kiln.Errorf(kiln.EConflict, "Token already exists."))
	}
	tk.Created = created
	return nil
}

// Token returns the token with the given id, or ENotFound.
func (t *tx) Token(id string) (*kiln.Token, error) {
	tk, err := scanToken(t.queryRow(qTokenByID, id))
	if err != nil {
		return nil, t.fail("read token", err, tokenNotFound(id), nil)
	}
	return tk, nil
}

// TokenByDigest returns the token with the given digest, revoked or
// expired ones included (the caller decides), or ENotFound.
func (t *tx) TokenByDigest(digest []byte) (*kiln.Token, error) {
	tk, err := scanToken(t.queryRow(qTokenByDigest, digest))
	if err != nil {
		// The message must not echo the digest.
		return nil, t.fail("read token by digest", err,
			kiln.Errorf(kiln.ENotFound, "Token does not exist."), nil)
	}
	return tk, nil
}

// TokenBySHA256 returns the token whose value has the given plain SHA-256,
// revoked or expired ones included, or ENotFound.
func (t *tx) TokenBySHA256(sum []byte) (*kiln.Token, error) {
	tk, err := scanToken(t.queryRow(qTokenBySHA256, sum))
	if err != nil {
		return nil, t.fail("read token by sha256", err,
			kiln.Errorf(kiln.ENotFound, "Token does not exist."), nil)
	}
	return tk, nil
}

// Tokens returns the tokens f selects, oldest first. With f.Live, a zero
// f.LiveAt means the transaction time.
func (t *tx) Tokens(f kiln.TokenFilter) ([]*kiln.Token, error) {
	const op = "list tokens"
	var conds []string
	var args []any
	if f.OwnerID != 0 {
		conds, args = append(conds, "t.owner_id = ?"), append(args, f.OwnerID)
	}
	if f.CreatedByID != 0 {
		conds, args = append(conds, "t.created_by_id = ?"), append(args, f.CreatedByID)
	}
	if f.CreatedByName != "" {
		conds, args = append(conds, "c.user_name_key = ?"), append(args, foldName(f.CreatedByName))
	}
	if f.Live {
		at := f.LiveAt
		if at.IsZero() {
			at = t.now
		}
		conds, args = append(conds, liveCond), append(args, at.UnixMilli())
	}
	rows, err := t.query(tokenSelect+whereClause(conds)+` ORDER BY t.created_at, t.id`, args...)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var tks []*kiln.Token
	for rows.Next() {
		tk, err := scanToken(rows)
		if err != nil {
			return nil, internal(op, err)
		}
		tks = append(tks, tk)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return tks, nil
}

// CountLiveTokens counts the owner's tokens neither revoked nor expired at
// now (the transaction time if now is zero): the quota check.
func (t *tx) CountLiveTokens(ownerID int64, now time.Time) (int, error) {
	if now.IsZero() {
		now = t.now
	}
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM tokens t WHERE t.owner_id = ? AND `+liveCond,
		ownerID, now.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, internal("count live tokens", err)
	}
	return n, nil
}

// UpdateTokenComment sets the token's comment, revoked or not. ENotFound if
// it does not exist.
func (t *tx) UpdateTokenComment(id, comment string) error {
	const op = "update token comment"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, tokenNotFound(id), `UPDATE tokens SET comment = ? WHERE id = ?`, comment, id)
}

// RevokeToken marks the token revoked at the transaction time, by the
// given principal (0 for kiln itself). ENotFound if it does not exist or is
// already revoked, so that of two concurrent revocations exactly one wins.
func (t *tx) RevokeToken(id string, by int64) error {
	const op = "revoke token"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, tokenNotFound(id),
		`UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL`,
		t.now.UnixMilli(), by, id)
}

// TouchTokens records, for each token id, the day it was last used. Each
// time is truncated to its UTC day, and a stored day only ever moves
// forward, so that batches flushed out of order cannot move it back. Ids
// of tokens that no longer exist and zero times are ignored.
func (t *tx) TouchTokens(days map[string]time.Time) error {
	const op = "touch tokens"
	if err := t.writable(op); err != nil {
		return err
	}
	if len(days) == 0 {
		return nil
	}
	// One statement compiled once for the whole batch.
	stmt, err := t.sql.PrepareContext(t.ctx, t.s.d.rebind(`UPDATE tokens SET last_used_day = ?
		WHERE id = ? AND (last_used_day IS NULL OR last_used_day < ?)`))
	if err != nil {
		return internal(op, err)
	}
	defer stmt.Close()
	for id, day := range days {
		if day.IsZero() {
			continue
		}
		ms := day.UTC().Truncate(24 * time.Hour).UnixMilli()
		if _, err := stmt.ExecContext(t.ctx, ms, id, ms); err != nil {
			return internal(op, err)
		}
	}
	return nil
}

// RotateToken marks the token rotated to successor at the transaction time
// and sets its expiry. ENotFound if it does not exist, is revoked or was
// rotated already, so that of two concurrent rotations exactly one wins.
func (t *tx) RotateToken(id, successor string, expires time.Time) error {
	const op = "rotate token"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, tokenNotFound(id),
		`UPDATE tokens SET rotated_to = ?, rotated_at = ?, expires_at = ?
		WHERE id = ? AND revoked_at IS NULL AND rotated_to = ''`,
		successor, t.now.UnixMilli(), nullMillis(expires), id)
}

// SetTokenExpiry sets the expiry of a token that is not revoked; ENotFound
// otherwise.
func (t *tx) SetTokenExpiry(id string, expires time.Time) error {
	const op = "set token expiry"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, tokenNotFound(id),
		`UPDATE tokens SET expires_at = ? WHERE id = ? AND revoked_at IS NULL`, nullMillis(expires), id)
}

// RecordTokenAddresses upserts each use, returns the uses that inserted a
// new (token, address) row, and trims each touched token to its
// MaxTokenAddresses most recently seen addresses. Uses of tokens that no
// longer exist are ignored.
func (t *tx) RecordTokenAddresses(uses []kiln.TokenAddressUse) ([]kiln.TokenAddressUse, error) {
	const op = "record token addresses"
	if err := t.writable(op); err != nil {
		return nil, err
	}
	var fresh []kiln.TokenAddressUse
	touched := map[string]bool{}
	for _, u := range uses {
		if u.Addr == "" || u.TokenID == "" {
			continue
		}
		at := u.At.UnixMilli()
		res, err := t.exec(`UPDATE token_addresses SET last_seen = ? WHERE token_id = ? AND addr = ? AND last_seen < ?`,
			at, u.TokenID, u.Addr, at)
		if err != nil {
			return nil, internal(op, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			touched[u.TokenID] = true
			continue
		}
		// Either known and seen later already, or new: the insert tells.
		res, err = t.exec(`INSERT INTO token_addresses (token_id, addr, first_seen, last_seen)
			SELECT id, ?, ?, ? FROM tokens WHERE id = ?
			ON CONFLICT (token_id, addr) DO NOTHING`, u.Addr, at, at, u.TokenID)
		if err != nil {
			return nil, internal(op, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			fresh = append(fresh, u)
			touched[u.TokenID] = true
		}
	}
	for id := range touched {
		if _, err := t.exec(`DELETE FROM token_addresses WHERE token_id = ? AND addr NOT IN
			(SELECT addr FROM token_addresses WHERE token_id = ? ORDER BY last_seen DESC, addr LIMIT ?)`,
			id, id, kiln.MaxTokenAddresses); err != nil {
			return nil, internal(op, err)
		}
	}
	return fresh, nil
}

// TokenAddresses returns the token's recorded source addresses, most
// recently seen first.
func (t *tx) TokenAddresses(id string) ([]kiln.TokenAddress, error) {
	const op = "list token addresses"
	rows, err := t.query(`SELECT addr, first_seen, last_seen FROM token_addresses
		WHERE token_id = ? ORDER BY last_seen DESC, addr`, id)
	if err != nil {
		return nil, internal(op, err)
	}
	defer rows.Close()
	var out []kiln.TokenAddress
	for rows.Next() {
		var a kiln.TokenAddress
		var first, last int64
		if err := rows.Scan(&a.Addr, &first, &last); err != nil {
			return nil, internal(op, err)
		}
		a.FirstSeen, a.LastSeen = kiln.TimeOfMillis(first), kiln.TimeOfMillis(last)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}
