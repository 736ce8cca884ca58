package service

import (
	"context"
	"crypto/rand"
	"encoding/binary"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// DefaultAdminEmail is the first admin's user name when none is configured.
const DefaultAdminEmail = "admin@kiln.local"

// BootstrapParams configures the first start.
type BootstrapParams struct {
	// AdminEmail and AdminPassword name the first admin; empty means
	// DefaultAdminEmail and a generated password.
	AdminEmail    string
	AdminPassword string
	// KeyFingerprint is the token key's fingerprint, recorded at the first
	// start and checked on every later one.
	KeyFingerprint string
}

// BootstrapResult says what the first start created.
type BootstrapResult struct {
	Created   bool
	Workspace kiln.Workspace
	// AdminEmail and GeneratedPassword are set only when Created; the
	// password only when kiln generated it (to be shown once).
	AdminEmail        string
	GeneratedPassword string
}

// Bootstrap initialises an empty store: a workspace with a numeric id, the
// groups admins and users, the default token permission (users may use
// tokens) and a first admin. On a store that is already initialised it
// changes nothing and only checks that the token key is the one the store
// was initialised with.
func Bootstrap(ctx context.Context, store kiln.Store, p BootstrapParams) (BootstrapResult, error) {
	var res BootstrapResult
	err := store.View(ctx, func(tx kiln.Tx) error {
		w, err := tx.Workspace()
		res.Workspace = w
		return err
	})
	if err == nil {
		return res, checkFingerprint(res.Workspace, p.KeyFingerprint)
	}
	if !kiln.IsCode(err, kiln.ENotFound) {
		return res, err
	}

	email, password := p.AdminEmail, p.AdminPassword
	if email == "" {
		email = DefaultAdminEmail
	}
	if err := validateUserName(kiln.KindUser, email); err != nil {
		return res, err
	}
	generated := ""
	if password == "" {
		password = auth.NewPassword()
		generated = password
	} else if err := auth.CheckPasswordPolicy(password); err != nil {
		return res, kiln.Errorf(kiln.EInvalid, "KILN_ADMIN_PASSWORD: %v.", err)
	}
	hash, err := auth.HashPassword(ctx, password)
	if err != nil {
		return res, hashingError(err)
	}

	err = store.Update(ctx, func(tx kiln.Tx) error {
		// Another process may have initialised the store meanwhile.
		if w, err := tx.Workspace(); err == nil {
			res = BootstrapResult{Workspace: w}
			return checkFingerprint(w, p.KeyFingerprint)
		}
		w := kiln.Workspace{ID: randomID(), Created: tx.Now(), KeyFingerprint: p.KeyFingerprint}
		if err := tx.CreateWorkspace(w); err != nil {
			return err
		}
		admin := &kiln.Principal{
			Kind: kiln.KindUser, UserName: email, DisplayName: "Administrator", Active: true,
			PasswordHash: hash, PasswordChanged: tx.Now(),
		}
		if err := tx.CreatePrincipal(admin); err != nil {
			return err
		}
		for _, name := range []string{kiln.GroupAdmins, kiln.GroupUsers} {
			g := &kiln.Group{DisplayName: name, Builtin: true, Members: []kiln.Member{{ID: admin.ID}}, Entitlements: kiln.BuiltinGroupEntitlements}
			if err := tx.CreateGroup(g); err != nil {
				return err
			}
		}
		// kiln's default, unlike Databricks': every user may use tokens
		// once an admin switches them on. Admins narrow it on Access Control.
		if err := tx.SetTokenACL([]kiln.ACLEntry{{GroupName: kiln.GroupUsers, Level: kiln.LevelCanUse}}); err != nil {
			return err
		}
		if err := tx.Audit(kiln.AuditEvent{Action: kiln.AuditWorkspaceInit, ActorName: "kiln", Target: "user:" + email}); err != nil {
			return err
		}
		if err := tx.Notify(kiln.ChangeSettings, ""); err != nil {
			return err
		}
		res = BootstrapResult{Created: true, Workspace: w, AdminEmail: email, GeneratedPassword: generated}
		return nil
	})
	return res, err
}

func checkFingerprint(w kiln.Workspace, fp string) error {
	if fp != "" && w.KeyFingerprint != "" && w.KeyFingerprint != fp {
		return kiln.Errorf(kiln.EInvalid,
			"the token key (fingerprint %s) is not the one this store was initialised with (fingerprint %s): every token would be refused; start kiln with the original key",
			fp, w.KeyFingerprint)
	}
	return nil
}

// randomID returns a random id in [10^15, 2^53): sixteen digits like
// Databricks ids, and exact in JavaScript numbers.
func randomID() int64 {
	var b [8]byte
	rand.Read(b[:])
	const lo, hi = 1_000_000_000_000_000, 1 << 53
	return lo + int64(binary.BigEndian.Uint64(b[:])%uint64(hi-lo))
}
