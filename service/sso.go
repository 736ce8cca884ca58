package service

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// SSOPolicy is what kiln does with a person the identity provider
// vouches for.
type SSOPolicy struct {
	// CreateUsers makes a kiln user, a member of users, for an email kiln
	// does not know (just-in-time provisioning); without it such a person
	// is refused until an admin adds them.
	CreateUsers bool
	// SyncGroups makes the person's groups, users aside, exactly the kiln
	// groups the provider's groups claim names, at every sign-in. Names
	// go through GroupMap first; names of no kiln group are ignored (kiln
	// creates no group on a claim's say-so). A provider that sends no
	// groups claim changes nothing.
	SyncGroups bool
	// GroupMap maps a provider group name to a kiln group name, such as
	// "kiln-admins" to "admins"; unmapped names match kiln groups of the
	// same name.
	GroupMap map[string]string
}

// maxClaimedGroups bounds the work one sign-in can ask of the store.
const maxClaimedGroups = 256

// LoginExternal signs in the person id describes, under policy: it finds
// (or, with CreateUsers, creates) the active user whose userName is the
// email, syncs their groups when the policy says so, and audits the
// sign-in. A person kiln will not let in gets EPermission with a message
// to show them; every outcome is audited.
func (s *Service) LoginExternal(ctx context.Context, id kiln.ExternalIdentity, policy SSOPolicy, remoteAddr string) (*kiln.Principal, error) {
	email := strings.TrimSpace(id.Email)
	ev := kiln.AuditEvent{Action: kiln.AuditLogin, ActorName: email, Target: "console", RemoteAddr: remoteAddr,
		Detail: map[string]string{"method": "sso", "issuer": id.Issuer, "subject": id.Subject}}
	refuse := func(reason string, err error) (*kiln.Principal, error) {
		ev.Action = kiln.AuditLoginFailed
		ev.Detail["reason"] = reason
		if werr := s.store.Update(ctx, func(tx kiln.Tx) error { return tx.Audit(ev) }); werr != nil {
			s.log.Error("writing login audit event", "err", werr)
		}
		return nil, err
	}
	if err := validateUserName(kiln.KindUser, email); err != nil {
		return refuse("bad email claim", kiln.Errorf(kiln.EPermission, "The identity provider sent %q as your email, which is not an email address kiln can use.", email))
	}
	var out *kiln.Principal
	err := s.update(ctx, func(tx kiln.Tx) error {
		p, err := tx.PrincipalByName(email)
		switch {
		case kiln.IsCode(err, kiln.ENotFound) && policy.CreateUsers:
			if p, err = createSSOUser(tx, id, email); err != nil {
				return err
			}
			ev.Detail["created"] = "true"
		case kiln.IsCode(err, kiln.ENotFound):
			return kiln.Errorf(kiln.EPermission, "%s has no kiln account. Ask a workspace admin to add you.", email)
		case err != nil:
			return err
		case p.Kind != kiln.KindUser || !p.Active:
			return kiln.Errorf(kiln.EPermission, "The kiln account %s is deactivated. Ask a workspace admin.", email)
		}
		if policy.SyncGroups && id.HasGroups {
			added, removed, err := syncGroups(tx, p, id.Groups, policy.GroupMap)
			if err != nil {
				return err
			}
			if len(added)+len(removed) > 0 {
				ev.Detail["groups_added"] = strings.Join(added, ",")
				ev.Detail["groups_removed"] = strings.Join(removed, ",")
				if err := tx.Notify(kiln.ChangePrincipal, p.IDString()); err != nil {
					return err
				}
			}
		}
		ev.ActorID = p.ID
		if err := tx.Audit(ev); err != nil {
			return err
		}
		out, err = tx.Principal(p.ID)
		return err
	})
	switch {
	case kiln.IsCode(err, kiln.EPermission):
		return refuse(kiln.ErrorMessage(err), err)
	case err != nil:
		return nil, err
	}
	return out, nil
}

// createSSOUser creates the just-in-time user for id, a member of users.
func createSSOUser(tx kiln.Tx, id kiln.ExternalIdentity, email string) (*kiln.Principal, error) {
	p := &kiln.Principal{Kind: kiln.KindUser, UserName: email, DisplayName: strings.TrimSpace(id.Name),
		GivenName: strings.TrimSpace(id.GivenName), FamilyName: strings.TrimSpace(id.FamilyName), Active: true}
	if p.DisplayName == "" {
		p.DisplayName = strings.TrimSpace(p.GivenName + " " + p.FamilyName)
	}
	for _, f := range []*string{&p.DisplayName, &p.GivenName, &p.FamilyName} {
		if validateName("displayName", *f) != nil {
			*f = "" // a name kiln cannot store is not worth refusing the person for
		}
	}
	if err := tx.CreatePrincipal(p); err != nil {
		return nil, err
	}
	users, err := tx.GroupByName(kiln.GroupUsers)
	if err != nil {
		return nil, err
	}
	if err := tx.AddMember(users.ID, p.ID); err != nil {
		return nil, err
	}
	if err := tx.Audit(kiln.AuditEvent{Action: kiln.AuditPrincipalCreate, ActorName: "sso", Target: "user:" + email,
		Detail: map[string]string{"issuer": id.Issuer, "subject": id.Subject}}); err != nil {
		return nil, err
	}
	if err := tx.Notify(kiln.ChangePrincipal, p.IDString()); err != nil {
		return nil, err
	}
	return tx.Principal(p.ID)
}

// syncGroups makes p's groups besides users exactly the kiln groups that
// claimed names (mapped) name, and returns the names joined and left. It
// never removes the workspace's last active admin: that sign-in keeps
// them in admins rather than locking everyone out.
func syncGroups(tx kiln.Tx, p *kiln.Principal, claimed []string, groupMap map[string]string) (added, removed []string, err error) {
	if len(claimed) > maxClaimedGroups {
		claimed = claimed[:maxClaimedGroups]
	}
	want := map[int64]string{}
	for _, name := range claimed {
		if mapped, ok := groupMap[name]; ok {
			name = mapped
		}
		if name == kiln.GroupUsers {
			continue
		}
		g, err := tx.GroupByName(name)
		if kiln.IsCode(err, kiln.ENotFound) {
			continue
		} else if err != nil {
			return nil, nil, err
		}
		want[g.ID] = g.DisplayName
	}
	have := map[int64]bool{}
	for _, g := range p.Groups {
		have[g.ID] = true
		if g.Name == kiln.GroupUsers || want[g.ID] != "" {
			continue
		}
		if err := tx.RemoveMember(g.ID, p.ID); err != nil {
			return nil, nil, err
		}
		if g.Name == kiln.GroupAdmins && ensureAdminRemains(tx) != nil {
			if err := tx.AddMember(g.ID, p.ID); err != nil {
				return nil, nil, err
			}
			continue
		}
		removed = append(removed, g.Name)
		if err := tx.Notify(kiln.ChangeGroup, strconv.FormatInt(g.ID, 10)); err != nil {
			return nil, nil, err
		}
	}
	for gid, name := range want {
		if have[gid] {
			continue
		}
		if err := tx.AddMember(gid, p.ID); err != nil {
			return nil, nil, err
		}
		added = append(added, name)
		if err := tx.Notify(kiln.ChangeGroup, strconv.FormatInt(gid, 10)); err != nil {
			return nil, nil, err
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed, nil
}
