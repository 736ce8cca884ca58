package service

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// CreateTokenParams are the inputs of token creation.
type CreateTokenParams struct {
	// Lifetime is nil for the workspace default (defaultTokenLifetimeDays,
	// capped by maxTokenLifetimeDays).
	Lifetime *time.Duration
	Comment  string
	// Scopes restrict the token's API areas (see [kiln.NormalizeScopes]);
	// nil is the owner's full access. A scoped caller mints only tokens
	// within its own scopes.
	Scopes []string
}

// NewToken is a freshly minted token: its value exists only here, once.
type NewToken struct {
	Value string
	Info  *kiln.Token
	// Replaced is, after a rotation, the old token as it now is: rotated,
	// ending at the end of its grace period.
	Replaced *kiln.Token
}

// CreateToken mints a token for the caller.
func (s *Service) CreateToken(ctx context.Context, p CreateTokenParams) (*NewToken, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if c.Method == "offline" {
		return nil, kiln.Errorf(kiln.EInvalid, "Offline administration creates tokens for a named user.")
	}
	return s.mint(ctx, c, func(tx kiln.Tx) (*kiln.Principal, error) { return tx.Principal(c.Principal.ID) }, p)
}

// CreateTokenFor mints a token owned by the user or service principal
// named userName (admins only: kiln admin tokens create).
func (s *Service) CreateTokenFor(ctx context.Context, userName string, p CreateTokenParams) (*NewToken, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	return s.mint(ctx, c, func(tx kiln.Tx) (*kiln.Principal, error) {
		owner, err := tx.PrincipalByName(userName)
		if kiln.IsCode(err, kiln.ENotFound) {
			return nil, kiln.Errorf(kiln.ENotFound, "User %s does not exist.", userName)
		}
		return owner, err
	}, p)
}

// CreateOBOToken mints a token owned by the service principal with the
// given application id, on behalf of the calling admin.
func (s *Service) CreateOBOToken(ctx context.Context, applicationID string, p CreateTokenParams) (*NewToken, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(applicationID) == "" {
		return nil, kiln.Errorf(kiln.EInvalid, "application_id is required.")
	}
	return s.mint(ctx, c, func(tx kiln.Tx) (*kiln.Principal, error) {
		sp, err := tx.PrincipalByName(applicationID)
		if kiln.IsCode(err, kiln.ENotFound) || (err == nil && sp.Kind != kiln.KindServicePrincipal) {
			return nil, kiln.Errorf(kiln.ENotFound, "Service principal with application id %s does not exist.", applicationID)
		}
		return sp, err
	}, p)
}

// mint applies the token policy and writes the token, its audit event and
// its change notice in one transaction.
func (s *Service) mint(ctx context.Context, c *kiln.Caller, ownerOf func(kiln.Tx) (*kiln.Principal, error), p CreateTokenParams) (*NewToken, error) {
	if err := validateComment(p.Comment); err != nil {
		return nil, err
	}
	scopes, err := kiln.NormalizeScopes(p.Scopes)
	if err != nil {
		return nil, err
	}
	if !kiln.ScopesWithin(scopes, c.Scopes) {
		return nil, kiln.Errorf(kiln.EPermission, "A token can only create tokens within its own scopes (%s).", kiln.ScopeString(c.Scopes))
	}
	p.Scopes = scopes
	value := auth.NewTokenValue()
	var tok *kiln.Token
	err = s.update(ctx, func(tx kiln.Tx) error {
		owner, err := ownerOf(tx)
		if err != nil {
			return err
		}
		settings, err := tx.Settings()
		if err != nil {
			return err
		}
		lifetime, err := tokenLifetime(settings, p.Lifetime)
		if err != nil {
			return err
		}
		tok, err = s.mintIn(tx, c, owner, settings, value, lifetime, p.Comment, p.Scopes)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &NewToken{Value: value, Info: tok}, nil
}

// mintIn checks that owner may hold one more token and writes it, with
// its audit event, webhook event and change notice, in tx: the part of
// minting that creation and rotation share.
func (s *Service) mintIn(tx kiln.Tx, c *kiln.Caller, owner *kiln.Principal, settings map[string]string, value string, lifetime time.Duration, comment string, scopes []string) (*kiln.Token, error) {
	digest := s.index.Key().Digest(value)
	sum := sha256.Sum256([]byte(value))
	tok, err := func() (*kiln.Token, error) {
		if !auth.TokensEnabledIn(settings) {
			return nil, kiln.Errorf(kiln.EDisabled, "Tokens are disabled. An admin can enable personal access tokens in Admin Console > Access Control, or with `kiln admin conf set enableTokensConfig=true`.")
		}
		acl, err := tx.TokenACL()
		if err != nil {
			return nil, err
		}
		if !owner.Active {
			return nil, kiln.Errorf(kiln.EPermission, "User %s is deactivated.", owner.UserName)
		}
		if !auth.CanUseTokens(owner, acl) {
			return nil, kiln.Errorf(kiln.EPermission, "User does not have permission to use tokens.")
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		n, err := tx.CountLiveTokens(owner.ID, now)
		if err != nil {
			return nil, err
		}
		if n >= kiln.MaxTokensPerUser {
			return nil, kiln.Errorf(kiln.EQuota, "Token quota exceeded: %s already has %d tokens, the most allowed. Revoke tokens that are no longer used, then try again.", owner.UserName, kiln.MaxTokensPerUser)
		}
		creator := c.Principal
		if c.Method == "offline" {
			// The operator is not a principal: a token minted offline is
			// recorded as the owner's own, so created_by filters find it;
			// the audit event names the operator.
			creator = owner
		}
		return &kiln.Token{
			ID: auth.NewTokenID(), Digest: digest[:], ValueSHA256: sum[:], OwnerID: owner.ID, CreatedByID: creator.ID,
			Comment: comment, Created: now, Expires: now.Add(lifetime), Scopes: scopes,
			OwnerName: owner.UserName, CreatedByName: creator.UserName,
		}, nil
	}()
	if err != nil {
		return nil, err
	}
	if err := tx.CreateToken(tok); err != nil {
		return nil, err
	}
	ev := auditEvent(c, kiln.AuditTokenCreate, "token:"+tok.ID)
	ev.Detail = map[string]string{"owner": owner.UserName, "expires": tok.Expires.Format(time.RFC3339), "comment": comment}
	if err := tx.Audit(ev); err != nil {
		return nil, err
	}
	if err := s.emit(tx, tokenEvent(kiln.EventTokenCreated, tok, "", nil)); err != nil {
		return nil, err
	}
	return tok, tx.Notify(kiln.ChangeToken, tok.ID)
}

// tokenEvent is the webhook event of something that happened to t: its
// id, owner, comment and end, never its value; key deduplicates (empty:
// every occurrence is its own event); extra adds facts.
func tokenEvent(typ string, t *kiln.Token, key string, extra map[string]string) kiln.Event {
	data := map[string]string{"token_id": t.ID, "owner": t.OwnerName, "comment": t.Comment}
	if !t.Expires.IsZero() {
		data["expires"] = t.Expires.UTC().Format(time.RFC3339)
	}
	for k, v := range extra {
		data[k] = v
	}
	return kiln.Event{Type: typ, Key: key, Data: data}
}

// MaxLifetimeDaysLimit is the largest maxTokenLifetimeDays, as on Databricks.
const MaxLifetimeDaysLimit = 730

// tokenLifetime applies the workspace's default and cap to a requested
// lifetime.
func tokenLifetime(settings map[string]string, requested *time.Duration) (time.Duration, error) {
	const day = 24 * time.Hour
	capDays := confInt(settings, kiln.ConfMaxTokenLifetimeDays)
	defDays := confInt(settings, kiln.ConfDefaultTokenLifetimeDays)
	if requested == nil {
		d := time.Duration(defDays) * day
		if capDays > 0 && defDays > capDays {
			// The cap wins over the default: an admin who lowers the cap
			// should not have to lower the default too.
			d = time.Duration(capDays) * day
		}
		return d, nil
	}
	if *requested <= 0 {
		return 0, kiln.Errorf(kiln.EInvalid, "lifetime_seconds must be a positive number of seconds (omit it for the default of %d days).", defDays)
	}
	if capDays > 0 && *requested > time.Duration(capDays)*day {
		return 0, kiln.Errorf(kiln.EInvalid, "Token lifetime of %s exceeds the maximum of %d days set by maxTokenLifetimeDays.", humanDays(*requested), capDays)
	}
	if *requested > 100*365*day {
		return 0, kiln.Errorf(kiln.EInvalid, "lifetime_seconds is too large.")
	}
	return *requested, nil
}

func humanDays(d time.Duration) string {
	days := d.Hours() / 24
	if days == float64(int64(days)) {
		return strconv.FormatInt(int64(days), 10) + " days"
	}
	return strconv.FormatFloat(days, 'f', 1, 64) + " days"
}

// confInt reads a numeric setting, falling back to its default when unset
// or unparsable (SetConf refuses unparsable values, so that only happens
// for values written by an older kiln).
func confInt(settings map[string]string, key string) int {
	if v, ok := settings[key]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n
		}
	}
	n, _ := strconv.Atoi(kiln.ConfDefaults[key])
	return n
}

func validateComment(comment string) error {
	if len(comment) > kiln.MaxCommentLength {
		return kiln.Errorf(kiln.EInvalid, "comment is too long: %d bytes, at most %d.", len(comment), kiln.MaxCommentLength)
	}
	if !utf8.ValidString(comment) {
		return kiln.Errorf(kiln.EInvalid, "comment must be valid UTF-8.")
	}
	for _, r := range comment {
		if r < 0x20 || r == 0x7f {
			return kiln.Errorf(kiln.EInvalid, "comment must not contain control characters.")
		}
	}
	return nil
}

// ListOwnTokens returns the caller's tokens that are neither revoked nor
// expired.
func (s *Service) ListOwnTokens(ctx context.Context) ([]*kiln.Token, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	return s.listTokens(ctx, kiln.TokenFilter{OwnerID: c.Principal.ID, Live: true})
}

// ListOwnTokensPage returns one page of the caller's live tokens, oldest
// first, and how many live tokens the caller has in all: offset tokens
// are skipped and at most limit returned (limit 0 returns the rest). The
// console's Access Tokens tab pages with it.
func (s *Service) ListOwnTokensPage(ctx context.Context, offset, limit int) ([]*kiln.Token, int, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	return s.listTokensPage(ctx, kiln.TokenFilter{OwnerID: c.Principal.ID, Live: true}, offset, limit)
}

// ListTokensPage is ListTokens one page at a time, as ListOwnTokensPage
// pages (admins only).
func (s *Service) ListTokensPage(ctx context.Context, f TokenListFilter, offset, limit int) ([]*kiln.Token, int, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, 0, err
	}
	return s.listTokensPage(ctx, kiln.TokenFilter{CreatedByID: f.CreatedByID, CreatedByName: f.CreatedByName, OwnerID: f.OwnerID, Live: true}, offset, limit)
}

func (s *Service) listTokens(ctx context.Context, f kiln.TokenFilter) ([]*kiln.Token, error) {
	toks, _, err := s.listTokensPage(ctx, f, 0, 0)
	return toks, err
}

// listTokensPage reads the tokens f selects and keeps one page of them.
// The store has no paged token query: a user has at most
// kiln.MaxTokensPerUser live tokens, so the page is cut here, and only
// its tokens are completed with the in-memory last use.
func (s *Service) listTokensPage(ctx context.Context, f kiln.TokenFilter, offset, limit int) ([]*kiln.Token, int, error) {
	f.LiveAt = s.now()
	var toks []*kiln.Token
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		toks, err = tx.Tokens(f)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	total := len(toks)
	toks = toks[min(max(offset, 0), total):]
	if limit > 0 && limit < len(toks) {
		toks = toks[:limit]
	}
	for _, t := range toks {
		if d := s.index.LastUsedDay(t.ID); d.After(t.LastUsedDay) {
			t.LastUsedDay = d
		}
	}
	return toks, total, nil
}

// RevokeOwnToken revokes one of the caller's tokens.
func (s *Service) RevokeOwnToken(ctx context.Context, id string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	return s.revoke(ctx, c, id, true)
}

// RevokeToken revokes any token (admins only).
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	c, err := requireAdmin(ctx)
	if err != nil {
		return err
	}
	return s.revoke(ctx, c, id, false)
}

func tokenNotFound(id string) error {
	return kiln.Errorf(kiln.ENotFound, "Token %s does not exist.", id)
}

func (s *Service) revoke(ctx context.Context, c *kiln.Caller, id string, ownOnly bool) error {
	if !auth.ValidTokenID(id) {
		return tokenNotFound(id)
	}
	return s.update(ctx, func(tx kiln.Tx) error {
		t, err := tx.Token(id)
		if kiln.IsCode(err, kiln.ENotFound) || (err == nil && (!t.Revoked.IsZero() || (ownOnly && t.OwnerID != c.Principal.ID))) {
			// Someone else's token is reported missing, not forbidden: its
			// existence is nobody else's business.
			return tokenNotFound(id)
		}
		if err != nil {
			return err
		}
		return s.revokeIn(tx, c, t, "")
	})
}

// revokeIn revokes t in tx with its audit event (naming reason when not
// empty), webhook event and change notice.
func (s *Service) revokeIn(tx kiln.Tx, c *kiln.Caller, t *kiln.Token, reason string) error {
	if err := tx.RevokeToken(t.ID, c.Principal.ID); err != nil {
		return err
	}
	ev := auditEvent(c, kiln.AuditTokenRevoke, "token:"+t.ID)
	ev.Detail = map[string]string{"owner": t.OwnerName}
	var extra map[string]string
	if reason != "" {
		ev.Detail["reason"] = reason
		extra = map[string]string{"reason": reason}
	}
	if err := tx.Audit(ev); err != nil {
		return err
	}
	if err := s.emit(tx, tokenEvent(kiln.EventTokenRevoked, t, "", extra)); err != nil {
		return err
	}
	return tx.Notify(kiln.ChangeToken, t.ID)
}

// UpdateOwnToken changes the comment of one of the caller's tokens.
// fields is the update mask; only "comment" can change.
func (s *Service) UpdateOwnToken(ctx context.Context, id string, fields []string, comment string) (*kiln.Token, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	return s.updateToken(ctx, c, id, fields, comment, true)
}

// UpdateToken changes the comment of any token (admins only).
func (s *Service) UpdateToken(ctx context.Context, id string, fields []string, comment string) (*kiln.Token, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	return s.updateToken(ctx, c, id, fields, comment, false)
}

func (s *Service) updateToken(ctx context.Context, c *kiln.Caller, id string, fields []string, comment string, ownOnly bool) (*kiln.Token, error) {
	if len(fields) == 0 {
		return nil, kiln.Errorf(kiln.EInvalid, "update_mask is required; the only field that can change is comment.")
	}
	for _, f := range fields {
		if f != "comment" {
			return nil, kiln.Errorf(kiln.EInvalid, "update_mask names %q, which cannot change; the only field that can change is comment.", f)
		}
	}
	if err := validateComment(comment); err != nil {
		return nil, err
	}
	if !auth.ValidTokenID(id) {
		return nil, tokenNotFound(id)
	}
	var out *kiln.Token
	err := s.update(ctx, func(tx kiln.Tx) error {
		t, err := tx.Token(id)
		if kiln.IsCode(err, kiln.ENotFound) || (err == nil && (!t.Revoked.IsZero() || (ownOnly && t.OwnerID != c.Principal.ID))) {
			return tokenNotFound(id)
		}
		if err != nil {
			return err
		}
		if err := tx.UpdateTokenComment(id, comment); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditTokenUpdate, "token:"+id)
		ev.Detail = map[string]string{"comment": comment}
		if err := tx.Audit(ev); err != nil {
			return err
		}
		t.Comment = comment
		out = t
		return nil
	})
	return out, err
}

// TokenListFilter selects tokens for admins.
type TokenListFilter struct {
	CreatedByID   int64
	CreatedByName string
	OwnerID       int64
}

// ListTokens returns every live token of the workspace matching f
// (admins only).
func (s *Service) ListTokens(ctx context.Context, f TokenListFilter) ([]*kiln.Token, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.listTokens(ctx, kiln.TokenFilter{CreatedByID: f.CreatedByID, CreatedByName: f.CreatedByName, OwnerID: f.OwnerID, Live: true})
}

// GetToken returns any token that is not revoked (admins only).
func (s *Service) GetToken(ctx context.Context, id string) (*kiln.Token, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if !auth.ValidTokenID(id) {
		return nil, tokenNotFound(id)
	}
	var t *kiln.Token
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		t, err = tx.Token(id)
		if kiln.IsCode(err, kiln.ENotFound) || (err == nil && !t.Revoked.IsZero()) {
			return tokenNotFound(id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if d := s.index.LastUsedDay(t.ID); d.After(t.LastUsedDay) {
		t.LastUsedDay = d
	}
	return t, nil
}

// ParseLifetime reads a lifetime such as "90d", "12h", "30m" or "3600s"
// (a bare number is seconds), as the CLI and console accept it.
func ParseLifetime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty lifetime")
	}
	unit := time.Second
	switch s[len(s)-1] {
	case 'd':
		unit, s = 24*time.Hour, s[:len(s)-1]
	case 'h':
		unit, s = time.Hour, s[:len(s)-1]
	case 'm':
		unit, s = time.Minute, s[:len(s)-1]
	case 's':
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > int64(100*365*24*time.Hour/unit) {
		return 0, fmt.Errorf("lifetime must be a positive whole number followed by d, h, m or s, such as 90d")
	}
	return time.Duration(n) * unit, nil
}
