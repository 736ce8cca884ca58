package service

import (
	"context"

	"github.com/kiln-dev/kiln"
)

// AuditOAuthGrantRevoke records a U2M grant ended by its user or an admin.
const AuditOAuthGrantRevoke = "oauth.grant_revoke"

// OAuthGrants lists the caller's live U2M grants (the apps, such as the
// Databricks CLI, signed in as them through databricks auth login),
// oldest first.
func (s *Service) OAuthGrants(ctx context.Context) ([]*kiln.OAuthGrant, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var gs []*kiln.OAuthGrant
	err = s.view(ctx, func(tx kiln.Tx) error {
		gs, err = tx.OAuthGrants(c.Principal.ID, tx.Now())
		return err
	})
	return gs, err
}

// RevokeOAuthGrant ends one of the caller's grants (workspace admins may
// end anyone's): its refresh token stops working at once and its access
// tokens at their next request, on every replica once the change notice
// arrives. Someone else's grant is ENotFound, as a missing one is, so ids
// cannot be probed.
func (s *Service) RevokeOAuthGrant(ctx context.Context, id string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	notFound := kiln.Errorf(kiln.ENotFound, "This app's access does not exist or has already ended.")
	return s.update(ctx, func(tx kiln.Tx) error {
		g, err := tx.OAuthGrant(id)
		if kiln.IsCode(err, kiln.ENotFound) {
			return notFound
		} else if err != nil {
			return err
		}
		if g.PrincipalID != c.Principal.ID && !isAdmin(c) {
			return notFound
		}
		if err := tx.RevokeOAuthGrant(id); kiln.IsCode(err, kiln.EConflict) {
			return notFound
		} else if err != nil {
			return err
		}
		ev := auditEvent(c, AuditOAuthGrantRevoke, "grant:"+id)
		ev.Detail = map[string]string{"client_id": g.ClientID}
		if err := tx.Audit(ev); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeOAuth, "grant:"+id)
	})
}
