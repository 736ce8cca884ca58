package service

import (
	"context"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// ListGroups returns one page of groups and the total count.
func (s *Service) ListGroups(ctx context.Context, f kiln.GroupFilter) ([]*kiln.Group, int, error) {
	if _, err := callerOf(ctx); err != nil {
		return nil, 0, err
	}
	var (
		gs    []*kiln.Group
		total int
	)
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		gs, total, err = tx.Groups(f)
		return err
	})
	return gs, total, err
}

func groupNotFound(id int64) error {
	return kiln.Errorf(kiln.ENotFound, "Group with id %d not found.", id)
}

// GetGroup returns a group with its members.
func (s *Service) GetGroup(ctx context.Context, id int64) (*kiln.Group, error) {
	if _, err := callerOf(ctx); err != nil {
		return nil, err
	}
	var g *kiln.Group
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		g, err = tx.Group(id)
		if kiln.IsCode(err, kiln.ENotFound) {
			return groupNotFound(id)
		}
		return err
	})
	return g, err
}

// CreateGroup creates a group with the given members and the
// entitlements it gives them (admins only).
func (s *Service) CreateGroup(ctx context.Context, name string, members []int64, entitlements ...string) (*kiln.Group, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	ents, err := checkEntitlements(entitlements)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, kiln.Errorf(kiln.EInvalid, "displayName is required.")
	}
	if err := validateName("displayName", name); err != nil {
		return nil, err
	}
	var g *kiln.Group
	err = s.update(ctx, func(tx kiln.Tx) error {
		ng := &kiln.Group{DisplayName: name, Entitlements: ents}
		for _, m := range members {
			ng.Members = append(ng.Members, kiln.Member{ID: m})
		}
		if err := tx.CreateGroup(ng); err != nil {
			if kiln.IsCode(err, kiln.ENotFound) {
				return kiln.Errorf(kiln.EInvalid, "A member of the new group does not exist.")
			}
			return err
		}
		if err := tx.Audit(auditEvent(c, kiln.AuditGroupCreate, "group:"+name)); err != nil {
			return err
		}
		if err := tx.Notify(kiln.ChangeGroup, strconv.FormatInt(ng.ID, 10)); err != nil {
			return err
		}
		var err error
		g, err = tx.Group(ng.ID)
		return err
	})
	return g, err
}

// GroupChange describes changes to a group.
type GroupChange struct {
	Rename        *string
	AddMembers    []int64
	RemoveMembers []int64
	// ReplaceMembers makes SetMembers the whole membership (SCIM PUT).
	ReplaceMembers bool
	SetMembers     []int64
	// Entitlements changes what the group gives its members.
	Entitlements EntitlementChange
}

// UpdateGroup applies ch (admins only). Built-in groups keep their names,
// users keeps every principal, and admins keeps one active user.
func (s *Service) UpdateGroup(ctx context.Context, id int64, ch GroupChange) (*kiln.Group, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var out *kiln.Group
	err = s.update(ctx, func(tx kiln.Tx) error {
		g, err := tx.Group(id)
		if kiln.IsCode(err, kiln.ENotFound) {
			return groupNotFound(id)
		} else if err != nil {
			return err
		}
		if ch.Rename != nil && *ch.Rename != g.DisplayName {
			if g.Builtin {
				return kiln.Errorf(kiln.EInvalid, "The built-in group %s cannot be renamed.", g.DisplayName)
			}
			name := strings.TrimSpace(*ch.Rename)
			if name == "" {
				return kiln.Errorf(kiln.EInvalid, "displayName must not be empty.")
			}
			if err := validateName("displayName", name); err != nil {
				return err
			}
			if err := tx.RenameGroup(id, name); err != nil {
				return err
			}
			if err := renameGrantee(tx, "group", g.DisplayName, name); err != nil {
				return err
			}
		}
		if !ch.Entitlements.IsZero() {
			ents, err := ch.Entitlements.apply(g.Entitlements)
			if err != nil {
				return err
			}
			if err := tx.SetGroupEntitlements(id, ents); err != nil {
				return err
			}
		}
		add, remove := ch.AddMembers, ch.RemoveMembers
		if ch.ReplaceMembers {
			add = ch.SetMembers
			want := map[int64]bool{}
			for _, m := range add {
				want[m] = true
			}
			for _, m := range g.Members {
				if !want[m.ID] {
					remove = append(remove, m.ID)
				}
			}
		}
		if g.DisplayName == kiln.GroupUsers && len(remove) > 0 {
			return kiln.Errorf(kiln.EInvalid, "Every principal belongs to the users group.")
		}
		for _, m := range add {
			if err := tx.AddMember(id, m); kiln.IsCode(err, kiln.ENotFound) {
				return kiln.Errorf(kiln.EInvalid, "Member %d does not exist.", m)
			} else if err != nil {
				return err
			}
		}
		for _, m := range remove {
			if err := tx.RemoveMember(id, m); err != nil {
				return err
			}
		}
		if err := ensureAdminRemains(tx); err != nil {
			return err
		}
		if err := tx.Audit(auditEvent(c, kiln.AuditGroupUpdate, "group:"+g.DisplayName)); err != nil {
			return err
		}
		if err := tx.Notify(kiln.ChangeGroup, strconv.FormatInt(id, 10)); err != nil {
			return err
		}
		out, err = tx.Group(id)
		return err
	})
	return out, err
}

// DeleteGroup deletes a group that is not built in (admins only).
func (s *Service) DeleteGroup(ctx context.Context, id int64) error {
	c, err := requireAdmin(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx kiln.Tx) error {
		g, err := tx.Group(id)
		if kiln.IsCode(err, kiln.ENotFound) {
			return groupNotFound(id)
		} else if err != nil {
			return err
		}
		if g.Builtin {
			return kiln.Errorf(kiln.EInvalid, "The built-in group %s cannot be deleted.", g.DisplayName)
		}
		if err := tx.DeleteGroup(id); err != nil {
			return err
		}
		if err := renameGrantee(tx, "group", g.DisplayName, ""); err != nil {
			return err
		}
		if err := tx.Audit(auditEvent(c, kiln.AuditGroupDelete, "group:"+g.DisplayName)); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeGroup, strconv.FormatInt(id, 10))
	})
}
