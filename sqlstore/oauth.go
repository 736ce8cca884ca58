package sqlstore

import (
	"database/sql"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// scopesText stores scopes space-separated; nil (unrestricted) is ”.
func scopesText(scopes []string) string { return strings.Join(scopes, " ") }

// scopesOf reads a scopes column: ” is nil (unrestricted).
func scopesOf(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Fields(text)
}

func oauthSecretNotFound(id string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "Secret %s does not exist.", id)
}

func oauthGrantNotFound(id string) *kiln.Error {
	return kiln.Errorf(kiln.ENotFound, "OAuth grant %s does not exist.", id)
}

const oauthSecretCols = `id, principal_id, digest, secret_hash, created_at, updated_at, expires_at`

func scanOAuthSecret(r scanner) (*kiln.OAuthSecret, error) {
	s := &kiln.OAuthSecret{}
	var created, updated int64
	var expires sql.NullInt64
	if err := r.Scan(&s.ID, &s.PrincipalID, &s.Digest, &s.SecretHash, &created, &updated, &expires); err != nil {
		return nil, err
	}
	s.Created, s.Updated, s.Expires = kiln.TimeOfMillis(created), kiln.TimeOfMillis(updated), timeOfNull(expires)
	return s, nil
}

// CreateOAuthSecret inserts s. See [kiln.OAuthTx].
func (t *tx) CreateOAuthSecret(s *kiln.OAuthSecret) error {
	const op = "create oauth secret"
	if err := t.writable(op); err != nil {
		return err
	}
	if s.Created.IsZero() {
		s.Created = t.now
	}
	if s.Updated.IsZero() {
		s.Updated = s.Created
	}
	_, err := t.exec(`INSERT INTO oauth_secrets (`+oauthSecretCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.PrincipalID, s.Digest, s.SecretHash, kiln.MillisOf(s.Created), kiln.MillisOf(s.Updated), nullMillis(s.Expires))
	if err != nil {
		return t.fail(op, err, principalNotFound(s.PrincipalID), kiln.Errorf(kiln.EConflict, "Secret already exists."))
	}
	return nil
}

// OAuthSecrets returns a principal's secrets (all with 0), oldest first.
func (t *tx) OAuthSecrets(principalID int64) ([]*kiln.OAuthSecret, error) {
	q := `SELECT ` + oauthSecretCols + ` FROM oauth_secrets`
	var args []any
	if principalID != 0 {
		q += ` WHERE principal_id = ?`
		args = append(args, principalID)
	}
	return collect(t, "list oauth secrets", q+` ORDER BY created_at, id`, scanOAuthSecret, args...)
}

// OAuthSecretByDigest returns the secret with that digest, or ENotFound.
func (t *tx) OAuthSecretByDigest(digest []byte) (*kiln.OAuthSecret, error) {
	s, err := scanOAuthSecret(t.queryRow(`SELECT `+oauthSecretCols+` FROM oauth_secrets WHERE digest = ?`, digest))
	if err != nil {
		return nil, t.fail("read oauth secret", err, kiln.Errorf(kiln.ENotFound, "No such secret."), nil)
	}
	return s, nil
}

// DeleteOAuthSecret removes one secret of a principal, or ENotFound.
func (t *tx) DeleteOAuthSecret(principalID int64, id string) error {
	const op = "delete oauth secret"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, oauthSecretNotFound(id), `DELETE FROM oauth_secrets WHERE id = ? AND principal_id = ?`, id, principalID)
}

const oauthGrantCols = `id, principal_id, client_id, scopes, redirect_uri, code_digest, code_challenge,
	code_expires, refresh_digest, created_at, expires_at, revoked_at`

func scanOAuthGrant(r scanner) (*kiln.OAuthGrant, error) {
	g := &kiln.OAuthGrant{}
	var scopes string
	var codeExpires, created, expires int64
	var revoked sql.NullInt64
	if err := r.Scan(&g.ID, &g.PrincipalID, &g.ClientID, &scopes, &g.RedirectURI, &g.CodeDigest, &g.CodeChallenge,
		&codeExpires, &g.RefreshDigest, &created, &expires, &revoked); err != nil {
		return nil, err
	}
	g.Scopes = scopesOf(scopes)
	if codeExpires != 0 {
		g.CodeExpires = kiln.TimeOfMillis(codeExpires)
	}
	g.Created, g.Expires, g.Revoked = kiln.TimeOfMillis(created), kiln.TimeOfMillis(expires), timeOfNull(revoked)
	return g, nil
}

// nullBytes is the column value of an optional digest.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateOAuthGrant inserts g. See [kiln.OAuthTx].
func (t *tx) CreateOAuthGrant(g *kiln.OAuthGrant) error {
	const op = "create oauth grant"
	if err := t.writable(op); err != nil {
		return err
	}
	if g.Created.IsZero() {
		g.Created = t.now
	}
	_, err := t.exec(`INSERT INTO oauth_grants (`+oauthGrantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.PrincipalID, g.ClientID, scopesText(g.Scopes), g.RedirectURI, nullBytes(g.CodeDigest), g.CodeChallenge,
		kiln.MillisOf(g.CodeExpires), nullBytes(g.RefreshDigest), kiln.MillisOf(g.Created), kiln.MillisOf(g.Expires), nullMillis(g.Revoked))
	if err != nil {
		return t.fail(op, err, principalNotFound(g.PrincipalID), kiln.Errorf(kiln.EConflict, "OAuth grant already exists."))
	}
	return nil
}

func (t *tx) oauthGrantWhere(cond string, notFound *kiln.Error, arg any) (*kiln.OAuthGrant, error) {
	g, err := scanOAuthGrant(t.queryRow(`SELECT `+oauthGrantCols+` FROM oauth_grants WHERE `+cond, arg))
	if err != nil {
		return nil, t.fail("read oauth grant", err, notFound, nil)
	}
	return g, nil
}

// OAuthGrant returns grant id, or ENotFound.
func (t *tx) OAuthGrant(id string) (*kiln.OAuthGrant, error) {
	return t.oauthGrantWhere(`id = ?`, oauthGrantNotFound(id), id)
}

// OAuthGrantByCode returns the grant holding that unredeemed code.
func (t *tx) OAuthGrantByCode(codeDigest []byte) (*kiln.OAuthGrant, error) {
	return t.oauthGrantWhere(`code_digest = ?`, kiln.Errorf(kiln.ENotFound, "No such authorization code."), codeDigest)
}

// OAuthGrantByRefresh returns the grant holding that refresh token.
func (t *tx) OAuthGrantByRefresh(refreshDigest []byte) (*kiln.OAuthGrant, error) {
	return t.oauthGrantWhere(`refresh_digest = ?`, kiln.Errorf(kiln.ENotFound, "No such refresh token."), refreshDigest)
}

// RedeemOAuthCode swaps the code for a refresh token, exclusively.
func (t *tx) RedeemOAuthCode(id string, codeDigest, refreshDigest []byte) error {
	const op = "redeem oauth code"
	if err := t.writable(op); err != nil {
		return err
	}
	return t.execOne(op, kiln.Errorf(kiln.EConflict, "The authorization code was already used."),
		`UPDATE oauth_grants SET code_digest = NULL, refresh_digest = ? WHERE id = ? AND code_digest = ? AND revoked_at IS NULL`,
		refreshDigest, id, codeDigest)
}

// RotateOAuthRefresh swaps the refresh token, exclusively.
func (t *tx) RotateOAuthRefresh(id string, oldDigest, newDigest []byte) error {
	const op = "rotate oauth refresh token"
	if err := t.writable(op); err != nil {
		return err
	}
	if err := t.execOne(op, kiln.Errorf(kiln.EConflict, "The refresh token was already used."),
		`UPDATE oauth_grants SET refresh_digest = ? WHERE id = ? AND refresh_digest = ? AND revoked_at IS NULL`,
		newDigest, id, oldDigest); err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO oauth_spent_refresh (digest, grant_id, spent_at) VALUES (?, ?, ?)`, oldDigest, id, t.now.UnixMilli()); err != nil {
		return t.fail(op, err, nil, nil)
	}
	return nil
}

// OAuthGrantBySpentRefresh returns the grant that rotated past that
// refresh token, and when.
func (t *tx) OAuthGrantBySpentRefresh(refreshDigest []byte) (*kiln.OAuthGrant, time.Time, error) {
	const op = "read spent refresh token"
	var id string
	var spent int64
	err := t.queryRow(`SELECT grant_id, spent_at FROM oauth_spent_refresh WHERE digest = ?`, refreshDigest).Scan(&id, &spent)
	if err != nil {
		return nil, time.Time{}, t.fail(op, err, kiln.Errorf(kiln.ENotFound, "No such spent refresh token."), nil)
	}
	g, err := t.OAuthGrant(id)
	if err != nil {
		return nil, time.Time{}, err
	}
	return g, time.UnixMilli(spent).UTC(), nil
}

// RevokeOAuthGrant marks a grant revoked at the transaction time.
func (t *tx) RevokeOAuthGrant(id string) error {
	const op = "revoke oauth grant"
	if err := t.writable(op); err != nil {
		return err
	}
	if _, err := t.OAuthGrant(id); err != nil {
		return err
	}
	return t.execOne(op, kiln.Errorf(kiln.EConflict, "OAuth grant %s is already revoked.", id),
		`UPDATE oauth_grants SET revoked_at = ?, code_digest = NULL, refresh_digest = NULL WHERE id = ? AND revoked_at IS NULL`,
		t.now.UnixMilli(), id)
}

// OAuthGrants returns live redeemed grants, oldest first.
func (t *tx) OAuthGrants(principalID int64, now time.Time) ([]*kiln.OAuthGrant, error) {
	q := `SELECT ` + oauthGrantCols + ` FROM oauth_grants WHERE refresh_digest IS NOT NULL AND revoked_at IS NULL AND expires_at > ?`
	args := []any{now.UnixMilli()}
	if principalID != 0 {
		q += ` AND principal_id = ?`
		args = append(args, principalID)
	}
	return collect(t, "list oauth grants", q+` ORDER BY created_at, id`, scanOAuthGrant, args...)
}

// PruneOAuthGrants deletes unredeemed expired codes and grants ended
// before cutoff.
func (t *tx) PruneOAuthGrants(cutoff time.Time) (int, error) {
	const op = "prune oauth grants"
	if err := t.writable(op); err != nil {
		return 0, err
	}
	c := cutoff.UnixMilli()
	res, err := t.exec(`DELETE FROM oauth_grants WHERE
		(refresh_digest IS NULL AND revoked_at IS NULL AND code_expires < ?)
		OR revoked_at < ? OR expires_at < ?`, c, c, c)
	if err != nil {
		return 0, internal(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, internal(op, err)
	}
	return int(n), nil
}
