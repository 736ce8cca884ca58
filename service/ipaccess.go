package service

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// MaxIPAccessEntries is Databricks' limit on the addresses and CIDRs of
// all IP access lists together (a CIDR counts as one).
const MaxIPAccessEntries = 1000

// IPAccessListSpec is the body of a create or replace.
type IPAccessListSpec struct {
	Label     string
	ListType  string
	Addresses []string
	// Enabled applies to a replace; a new list is always enabled.
	Enabled bool
}

// IPAccessListPatch is the body of an update: nil fields keep their value.
type IPAccessListPatch struct {
	Label     *string
	ListType  *string
	Addresses *[]string
	Enabled   *bool
}

// ListIPAccessLists returns every IP access list, oldest first (admins only).
func (s *Service) ListIPAccessLists(ctx context.Context) ([]*kiln.IPAccessList, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var ls []*kiln.IPAccessList
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		ls, err = tx.IPAccessLists()
		return err
	})
	return ls, err
}

// GetIPAccessList returns one list (admins only).
func (s *Service) GetIPAccessList(ctx context.Context, id string) (*kiln.IPAccessList, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var l *kiln.IPAccessList
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		l, err = tx.IPAccessList(id)
		return err
	})
	return l, err
}

// CreateIPAccessList adds an enabled list (admins only).
func (s *Service) CreateIPAccessList(ctx context.Context, spec IPAccessListSpec) (*kiln.IPAccessList, error) {
	l := &kiln.IPAccessList{ID: newUUID(), Label: spec.Label, ListType: spec.ListType, Addresses: spec.Addresses, Enabled: true}
	err := s.changeIPLists(ctx, kiln.AuditIPAccessListCreate, l.ID, func(c *kiln.Caller, tx kiln.Tx, lists []*kiln.IPAccessList) ([]*kiln.IPAccessList, error) {
		l.CreatedBy, l.UpdatedBy = c.Principal.ID, c.Principal.ID
		if err := validIPList(l); err != nil {
			return nil, err
		}
		return append(lists, l), tx.CreateIPAccessList(l)
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// UpdateIPAccessList changes the fields p sets (admins only).
func (s *Service) UpdateIPAccessList(ctx context.Context, id string, p IPAccessListPatch) error {
	return s.changeIPLists(ctx, kiln.AuditIPAccessListUpdate, id, func(c *kiln.Caller, tx kiln.Tx, lists []*kiln.IPAccessList) ([]*kiln.IPAccessList, error) {
		return replaceIPList(c, tx, lists, id, func(l *kiln.IPAccessList) {
			if p.Label != nil {
				l.Label = *p.Label
			}
			if p.ListType != nil {
				l.ListType = *p.ListType
			}
			if p.Addresses != nil {
				l.Addresses = *p.Addresses
			}
			if p.Enabled != nil {
				l.Enabled = *p.Enabled
			}
		})
	})
}

// ReplaceIPAccessList replaces the whole list (admins only).
func (s *Service) ReplaceIPAccessList(ctx context.Context, id string, spec IPAccessListSpec) error {
	return s.changeIPLists(ctx, kiln.AuditIPAccessListReplace, id, func(c *kiln.Caller, tx kiln.Tx, lists []*kiln.IPAccessList) ([]*kiln.IPAccessList, error) {
		return replaceIPList(c, tx, lists, id, func(l *kiln.IPAccessList) {
			l.Label, l.ListType, l.Addresses, l.Enabled = spec.Label, spec.ListType, spec.Addresses, spec.Enabled
		})
	})
}

// DeleteIPAccessList removes a list (admins only).
func (s *Service) DeleteIPAccessList(ctx context.Context, id string) error {
	return s.changeIPLists(ctx, kiln.AuditIPAccessListDelete, id, func(_ *kiln.Caller, tx kiln.Tx, lists []*kiln.IPAccessList) ([]*kiln.IPAccessList, error) {
		i := slices.IndexFunc(lists, func(l *kiln.IPAccessList) bool { return l.ID == id })
		if i < 0 {
			return nil, tx.DeleteIPAccessList(id) // ENotFound
		}
		return slices.Delete(slices.Clone(lists), i, i+1), tx.DeleteIPAccessList(id)
	})
}

// replaceIPList applies edit to a copy of list id in lists, validates and
// stores it, and returns the lists as they will be.
func replaceIPList(c *kiln.Caller, tx kiln.Tx, lists []*kiln.IPAccessList, id string, edit func(*kiln.IPAccessList)) ([]*kiln.IPAccessList, error) {
	i := slices.IndexFunc(lists, func(l *kiln.IPAccessList) bool { return l.ID == id })
	if i < 0 {
		_, err := tx.IPAccessList(id) // ENotFound with the store's message
		return nil, err
	}
	l := *lists[i]
	edit(&l)
	l.Updated, l.UpdatedBy = tx.Now(), c.Principal.ID
	if err := validIPList(&l); err != nil {
		return nil, err
	}
	lists = slices.Clone(lists)
	lists[i] = &l
	return lists, tx.UpdateIPAccessList(&l)
}

// changeIPLists runs one IP access list change in a transaction: change
// gets every list and returns them as they will be after its write; the
// total size, and that the caller keeps access, are checked on that
// result; the change is audited and announced to every server's index.
func (s *Service) changeIPLists(ctx context.Context, action, id string,
	change func(*kiln.Caller, kiln.Tx, []*kiln.IPAccessList) ([]*kiln.IPAccessList, error)) error {
	c, err := requireAdmin(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx kiln.Tx) error {
		lists, err := tx.IPAccessLists()
		if err != nil {
			return err
		}
		after, err := change(c, tx, lists)
		if err != nil {
			return err
		}
		n := 0
		for _, l := range after {
			n += len(l.Addresses)
		}
		if n > MaxIPAccessEntries {
			return kiln.Errorf(kiln.EQuota, "IP access lists may hold at most %d IP addresses and CIDRs in all; this change makes %d.", MaxIPAccessEntries, n)
		}
		settings, err := tx.Settings()
		if err != nil {
			return err
		}
		if err := refuseLockout(ctx, auth.IPAccessListsEnabledIn(settings), after); err != nil {
			return err
		}
		ev := auditEvent(c, action, "ip_access_list:"+id)
		ev.RemoteAddr = kiln.ClientAddrFromContext(ctx)
		// The list as it is now, or as it was before a delete.
		for _, l := range slices.Concat(after, lists) {
			if l.ID == id {
				ev.Detail = map[string]string{"label": l.Label, "list_type": l.ListType,
					"ip_addresses": strings.Join(l.Addresses, ","), "enabled": strconv.FormatBool(l.Enabled)}
				break
			}
		}
		if err := tx.Audit(ev); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeIPAccessList, id)
	})
}

// refuseLockout refuses, as Databricks does, a change after which the
// lists in force would refuse the caller's own address. Offline
// administration has no address and is never refused: it is how an
// operator recovers from a lock-out.
func refuseLockout(ctx context.Context, enforced bool, lists []*kiln.IPAccessList) error {
	addr := kiln.ClientAddrFromContext(ctx)
	if !enforced || addr == "" || auth.CompileIPRules(lists).Admits(addr) {
		return nil
	}
	return &kiln.Error{Code: kiln.EInvalid, Reason: "INVALID_STATE",
		Message: "Your current IP " + addr + " will not be allowed to access the workspace under current configuration"}
}

// validIPList checks a list as it will be stored.
func validIPList(l *kiln.IPAccessList) error {
	if strings.TrimSpace(l.Label) == "" {
		return kiln.Errorf(kiln.EInvalid, "label is required: a name for the list, such as \"office\".")
	}
	if l.ListType != kiln.IPAllow && l.ListType != kiln.IPBlock {
		return kiln.Errorf(kiln.EInvalid, "list_type must be ALLOW or BLOCK, not %q.", l.ListType)
	}
	if len(l.Addresses) == 0 {
		return kiln.Errorf(kiln.EInvalid, "ip_addresses must list at least one IP address or CIDR, such as \"192.0.2.1\" or \"198.51.100.0/24\".")
	}
	for _, a := range l.Addresses {
		if _, err := auth.ParseIPEntry(a); err != nil {
			return kiln.Errorf(kiln.EInvalid, "Invalid IP address or CIDR in ip_addresses: %q.", a)
		}
	}
	return nil
}

// refuseEnablingLockout is SetConf's check: switching enableIpAccessLists
// on must not refuse the caller's own address under the current lists.
func refuseEnablingLockout(ctx context.Context, tx kiln.Tx, kv map[string]string) error {
	v, ok := kv[kiln.ConfEnableIPAccessLists]
	if !ok || !auth.IPAccessListsEnabledIn(map[string]string{kiln.ConfEnableIPAccessLists: v}) {
		return nil
	}
	lists, err := tx.IPAccessLists()
	if err != nil {
		return err
	}
	return refuseLockout(ctx, true, lists)
}
