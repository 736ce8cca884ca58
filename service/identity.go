package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// Me returns the calling principal as the token index knows it (no
// database read: /Me is what every client calls first).
func (s *Service) Me(ctx context.Context) (*kiln.Principal, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	return c.Principal, nil
}

// IsAdmin reports whether the caller is a workspace admin.
func IsAdmin(ctx context.Context) bool {
	c := kiln.CallerFromContext(ctx)
	return c != nil && c.Principal != nil && isAdmin(c)
}

// ListPrincipals returns one page of users or service principals and the
// total count. Any signed-in caller may read identities.
func (s *Service) ListPrincipals(ctx context.Context, f kiln.PrincipalFilter) ([]*kiln.Principal, int, error) {
	if _, err := callerOf(ctx); err != nil {
		return nil, 0, err
	}
	var (
		ps    []*kiln.Principal
		total int
	)
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		ps, total, err = tx.Principals(f)
		return err
	})
	return ps, total, err
}

func principalNotFound(kind kiln.PrincipalKind, id string) error {
	if kind == kiln.KindServicePrincipal {
		return kiln.Errorf(kiln.ENotFound, "Service principal %s does not exist.", id)
	}
	return kiln.Errorf(kiln.ENotFound, "User %s does not exist.", id)
}

// GetPrincipal returns the principal of the given kind and id.
func (s *Service) GetPrincipal(ctx context.Context, kind kiln.PrincipalKind, id int64) (*kiln.Principal, error) {
	if _, err := callerOf(ctx); err != nil {
		return nil, err
	}
	var p *kiln.Principal
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		p, err = principalOfKind(tx, kind, id)
		return err
	})
	return p, err
}

// PrincipalByName returns the principal with the given user name or
// application id (admins only).
func (s *Service) PrincipalByName(ctx context.Context, userName string) (*kiln.Principal, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var p *kiln.Principal
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		p, err = tx.PrincipalByName(userName)
		if kiln.IsCode(err, kiln.ENotFound) {
			return kiln.Errorf(kiln.ENotFound, "User %s does not exist.", userName)
		}
		return err
	})
	return p, err
}

func principalOfKind(tx kiln.Tx, kind kiln.PrincipalKind, id int64) (*kiln.Principal, error) {
	p, err := tx.Principal(id)
	if kiln.IsCode(err, kiln.ENotFound) || (err == nil && p.Kind != kind) {
		return nil, principalNotFound(kind, strconv.FormatInt(id, 10))
	}
	return p, err
}

// NewPrincipal describes a user or service principal to create.
type NewPrincipal struct {
	Kind kiln.PrincipalKind
	// UserName is the e-mail of a user; for a service principal, its
	// application id (a UUID), generated when empty.
	UserName    string
	DisplayName string
	GivenName   string
	FamilyName  string
	ExternalID  string
	// Active defaults to true.
	Active *bool
	// Groups are group ids to join besides users.
	Groups []int64
	// Password, for users who sign in to the console; empty for none.
	Password string
	// Admin adds the principal to the admins group.
	Admin bool
	// Entitlements are the principal's direct entitlements (kiln's
	// names; empty values are skipped). Workspace and SQL access come
	// from the users group, as on Databricks.
	Entitlements []string
}

// CreatePrincipal creates a user or service principal, a member of users
// and of the requested groups (admins only).
func (s *Service) CreatePrincipal(ctx context.Context, np NewPrincipal) (*kiln.Principal, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if np.Kind == kiln.KindServicePrincipal && np.UserName == "" {
		np.UserName = newUUID()
	}
	np.UserName = strings.TrimSpace(np.UserName)
	if err := validateUserName(np.Kind, np.UserName); err != nil {
		return nil, err
	}
	if err := validateName("displayName", np.DisplayName); err != nil {
		return nil, err
	}
	ents, err := checkEntitlements(np.Entitlements)
	if err != nil {
		return nil, err
	}
	p := &kiln.Principal{
		Kind: np.Kind, UserName: np.UserName, DisplayName: np.DisplayName,
		GivenName: np.GivenName, FamilyName: np.FamilyName, ExternalID: np.ExternalID, Active: true,
		Entitlements: ents,
	}
	if np.Active != nil {
		p.Active = *np.Active
	}
	if p.DisplayName == "" {
		p.DisplayName = strings.TrimSpace(np.GivenName + " " + np.FamilyName)
	}
	if np.Password != "" {
		if np.Kind != kiln.KindUser {
			return nil, kiln.Errorf(kiln.EInvalid, "Service principals cannot have a password.")
		}
		if err := auth.CheckPasswordPolicy(np.Password); err != nil {
			return nil, kiln.Errorf(kiln.EInvalid, "Password: %v.", err)
		}
		if p.PasswordHash, err = auth.HashPassword(ctx, np.Password); err != nil {
			return nil, hashingError(err)
		}
	}
	err = s.update(ctx, func(tx kiln.Tx) error {
		if !p.PasswordChanged.IsZero() || p.PasswordHash != "" {
			p.PasswordChanged = tx.Now()
		}
		if err := tx.CreatePrincipal(p); err != nil {
			return err
		}
		groups := append([]int64(nil), np.Groups...)
		for _, name := range []string{kiln.GroupUsers, kiln.GroupAdmins} {
			if name == kiln.GroupAdmins && !np.Admin {
				continue
			}
			g, err := tx.GroupByName(name)
			if err != nil {
				return err
			}
			groups = append(groups, g.ID)
		}
		for _, gid := range groups {
			if err := tx.AddMember(gid, p.ID); kiln.IsCode(err, kiln.ENotFound) {
				return kiln.Errorf(kiln.EInvalid, "Group %d does not exist.", gid)
			} else if err != nil {
				return err
			}
		}
		ev := auditEvent(c, kiln.AuditPrincipalCreate, string(p.Kind)+":"+p.UserName)
		if np.Admin {
			ev.Detail = map[string]string{"admin": "true"}
		}
		if err := tx.Audit(ev); err != nil {
			return err
		}
		if err := tx.Notify(kiln.ChangePrincipal, p.IDString()); err != nil {
			return err
		}
		p, err = tx.Principal(p.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// PrincipalChange describes changes to a principal; zero fields change
// nothing.
type PrincipalChange struct {
	Update       kiln.PrincipalUpdate
	JoinGroups   []int64
	LeaveGroups  []int64
	SetGroupsTo  []int64 // with ReplaceGroups: the whole membership besides users
	ReplaceGroup bool
	Entitlements EntitlementChange
}

// UpdatePrincipal applies ch to the principal (admins only). The workspace
// always keeps one active admin: a change that would leave none is refused.
func (s *Service) UpdatePrincipal(ctx context.Context, kind kiln.PrincipalKind, id int64, ch PrincipalChange) (*kiln.Principal, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if ch.Update.DisplayName != nil {
		if err := validateName("displayName", *ch.Update.DisplayName); err != nil {
			return nil, err
		}
	}
	var out *kiln.Principal
	err = s.update(ctx, func(tx kiln.Tx) error {
		p, err := principalOfKind(tx, kind, id)
		if err != nil {
			return err
		}
		if err := tx.UpdatePrincipal(id, ch.Update); err != nil {
			return err
		}
		if !ch.Entitlements.IsZero() {
			ents, err := ch.Entitlements.apply(p.Entitlements)
			if err != nil {
				return err
			}
			if err := tx.SetPrincipalEntitlements(id, ents); err != nil {
				return err
			}
		}
		join, leave := ch.JoinGroups, ch.LeaveGroups
		if ch.ReplaceGroup {
			join = ch.SetGroupsTo
			want := map[int64]bool{}
			for _, g := range join {
				want[g] = true
			}
			for _, g := range p.Groups {
				if !want[g.ID] && g.Name != kiln.GroupUsers {
					leave = append(leave, g.ID)
				}
			}
		}
		for _, gid := range join {
			if err := tx.AddMember(gid, id); kiln.IsCode(err, kiln.ENotFound) {
				return kiln.Errorf(kiln.EInvalid, "Group %d does not exist.", gid)
			} else if err != nil {
				return err
			}
		}
		for _, gid := range leave {
			g, err := tx.Group(gid)
			if kiln.IsCode(err, kiln.ENotFound) {
				continue
			} else if err != nil {
				return err
			}
			if g.DisplayName == kiln.GroupUsers {
				return kiln.Errorf(kiln.EInvalid, "Every principal belongs to the users group.")
			}
			if err := tx.RemoveMember(gid, id); err != nil {
				return err
			}
		}
		if err := ensureAdminRemains(tx); err != nil {
			return err
		}
		if err := tx.Audit(auditEvent(c, kiln.AuditPrincipalUpdate, string(p.Kind)+":"+p.UserName)); err != nil {
			return err
		}
		if err := tx.Notify(kiln.ChangePrincipal, p.IDString()); err != nil {
			return err
		}
		out, err = tx.Principal(id)
		return err
	})
	return out, err
}

// DeletePrincipal deletes the principal and its tokens (admins only).
func (s *Service) DeletePrincipal(ctx context.Context, kind kiln.PrincipalKind, id int64) error {
	c, err := requireAdmin(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx kiln.Tx) error {
		p, err := principalOfKind(tx, kind, id)
		if err != nil {
			return err
		}
		toks, err := tx.Tokens(kiln.TokenFilter{OwnerID: id})
		if err != nil {
			return err
		}
		if err := tx.DeletePrincipal(id); err != nil {
			return err
		}
		kind := "user"
		if p.Kind == kiln.KindServicePrincipal {
			kind = "service_principal"
		}
		if err := renameGrantee(tx, kind, p.UserName, ""); err != nil {
			return err
		}
		if err := ensureAdminRemains(tx); err != nil {
			return err
		}
		if err := tx.Audit(auditEvent(c, kiln.AuditPrincipalDelete, string(p.Kind)+":"+p.UserName)); err != nil {
			return err
		}
		for _, t := range toks {
			if err := tx.Notify(kiln.ChangeToken, t.ID); err != nil {
				return err
			}
		}
		return tx.Notify(kiln.ChangePrincipal, p.IDString())
	})
}

// ensureAdminRemains refuses a change that leaves no active admin: nobody
// could then manage the workspace except offline.
func ensureAdminRemains(tx kiln.Tx) error {
	g, err := tx.GroupByName(kiln.GroupAdmins)
	if err != nil {
		return err
	}
	for _, m := range g.Members {
		if p, err := tx.Principal(m.ID); err == nil && p.Active && p.Kind == kiln.KindUser {
			return nil
		}
	}
	return kiln.Errorf(kiln.EInvalid, "The workspace must keep at least one active admin user.")
}

// SetPassword sets a user's console password: admins for anyone, users for
// themselves. Sessions started before the change stop working.
func (s *Service) SetPassword(ctx context.Context, id int64, password string) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	if !isAdmin(c) && c.Principal.ID != id {
		return kiln.Errorf(kiln.EPermission, "Only workspace admins can set another user's password.")
	}
	if err := auth.CheckPasswordPolicy(password); err != nil {
		return kiln.Errorf(kiln.EInvalid, "Password: %v.", err)
	}
	hash, err := auth.HashPassword(ctx, password)
	if err != nil {
		return hashingError(err)
	}
	return s.update(ctx, func(tx kiln.Tx) error {
		p, err := principalOfKind(tx, kiln.KindUser, id)
		if err != nil {
			return err
		}
		if err := tx.UpdatePrincipal(id, kiln.PrincipalUpdate{PasswordHash: &hash}); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditPrincipalUpdate, "user:"+p.UserName)
		ev.Detail = map[string]string{"password": "changed"}
		if err := tx.Audit(ev); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangePrincipal, p.IDString())
	})
}

// hashingError is the error of a password hash or check that could not
// run: the caller's context ended while it waited for one of the few
// hashing slots (a flood of sign-ins), which auth reports as EUnavailable
// and is worth a retry, or something internal.
func hashingError(err error) error {
	if errors.Is(err, auth.ErrHashBusy) {
		return err
	}
	return kiln.Internal(err)
}

// PasswordLogin says who may sign in to the console with a password.
type PasswordLogin string

// The password sign-in policies. With single sign-on, PasswordLoginAdmins
// keeps a break-glass path for workspace admins when the identity
// provider is down; PasswordLoginNone leaves only single sign-on.
const (
	PasswordLoginAll    PasswordLogin = "all"
	PasswordLoginAdmins PasswordLogin = "admins"
	PasswordLoginNone   PasswordLogin = "none"
)

// Login checks a user name and password and returns the active user.
// Every failed check is the same EInvalid error, and is audited. Under
// who (empty is PasswordLoginAll) a correct password of someone the
// policy leaves out is EPermission, audited as a failure too.
func (s *Service) Login(ctx context.Context, userName, password, remoteAddr string, who PasswordLogin) (*kiln.Principal, error) {
	ev := kiln.AuditEvent{Action: kiln.AuditLoginFailed, ActorName: userName, Target: "console", RemoteAddr: remoteAddr}
	audit := func() {
		if err := s.store.Update(ctx, func(tx kiln.Tx) error { return tx.Audit(ev) }); err != nil {
			s.log.Error("writing login audit event", "err", err)
		}
	}
	if who == PasswordLoginNone {
		ev.Detail = map[string]string{"reason": "password sign-in is turned off"}
		audit()
		return nil, kiln.Errorf(kiln.EPermission, "Password sign-in is turned off in this workspace.")
	}
	var p *kiln.Principal
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		p, err = tx.PrincipalByName(strings.TrimSpace(userName))
		return err
	})
	if err != nil && !kiln.IsCode(err, kiln.ENotFound) {
		return nil, err
	}
	// An unknown user, or one without a password, is checked against the
	// empty hash, which costs as much as a real one: the time of the
	// answer does not tell which user names exist.
	hash := ""
	if p != nil {
		hash = p.PasswordHash
		ev.ActorID = p.ID
	}
	match, err := auth.VerifyPassword(ctx, hash, password)
	if err != nil {
		return nil, hashingError(err)
	}
	ok := match && p != nil && p.PasswordHash != "" && p.Active && p.Kind == kiln.KindUser
	if !ok {
		audit()
		return nil, kiln.Errorf(kiln.EInvalid, "Incorrect email or password.")
	}
	if who == PasswordLoginAdmins && !p.IsAdmin() {
		ev.Detail = map[string]string{"reason": "password sign-in is for admins only"}
		audit()
		return nil, kiln.Errorf(kiln.EPermission, "Password sign-in is for workspace admins only here.")
	}
	ev.Action = kiln.AuditLogin
	audit()
	return p, nil
}

func validateUserName(kind kiln.PrincipalKind, name string) error {
	field := "userName"
	if kind == kiln.KindServicePrincipal {
		field = "applicationId"
	}
	switch {
	case name == "":
		return kiln.Errorf(kiln.EInvalid, "%s is required.", field)
	case len(name) > 256:
		return kiln.Errorf(kiln.EInvalid, "%s is too long (at most 256 characters).", field)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return kiln.Errorf(kiln.EInvalid, "%s must not contain spaces or control characters.", field)
	case kind == kiln.KindUser && (!strings.Contains(name, "@") || strings.HasPrefix(name, "@") || strings.HasSuffix(name, "@")):
		return kiln.Errorf(kiln.EInvalid, "userName must be an email address, such as jane@example.com.")
	}
	return nil
}

func validateName(field, v string) error {
	if len(v) > 256 {
		return kiln.Errorf(kiln.EInvalid, "%s is too long (at most 256 characters).", field)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return kiln.Errorf(kiln.EInvalid, "%s must not contain control characters.", field)
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
