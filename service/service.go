// Package service implements kiln's workspace rules over a [kiln.Store]:
// who may do what, token policy (lifetimes, caps, quota, the PAT switch),
// settings validation, identities, permissions and the audit trail. The
// REST API, the console and offline administration all go through it, so a
// rule is written once.
//
// Every method takes the caller from the context ([kiln.CallerFromContext]);
// a missing caller is EUnauthenticated.
package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// Service is the workspace service. It is safe for concurrent use.
type Service struct {
	store kiln.Store
	index *auth.Index
	log   *slog.Logger
	now   func() time.Time

	secrets *auth.SecretBox // seals secret values; see SetSecretBox
	dbfs    kiln.DBFS       // the DBFS tree; see SetDBFS
	jobs    jobsRuntime     // the executor's hooks and compute; see SetRunner

	maxWaitingRuns int // per owner; see SetMaxQueuedRunsPerUser
}

// New returns a service over store. index must be loaded; the service
// refreshes it after each of its own writes so that they take effect on
// the next request.
func New(store kiln.Store, index *auth.Index, log *slog.Logger) *Service {
	return &Service{store: store, index: index, log: log, now: time.Now, maxWaitingRuns: DefaultMaxQueuedRunsPerUser}
}

// SetClock replaces the clock used for token expiry decisions (tests only).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Index returns the token index the service keeps current.
func (s *Service) Index() *auth.Index { return s.index }

// OfflineCaller is the caller of offline administration (kiln admin on the
// data directory): it holds the machine, so it is treated as an admin.
func OfflineCaller() *kiln.Caller {
	return &kiln.Caller{
		Principal: &kiln.Principal{UserName: "kiln-admin", DisplayName: "kiln admin", Active: true},
		Method:    "offline",
	}
}

func callerOf(ctx context.Context) (*kiln.Caller, error) {
	c := kiln.CallerFromContext(ctx)
	if c == nil || c.Principal == nil {
		return nil, kiln.Errorf(kiln.EUnauthenticated, "Credential was not sent or was of an unsupported type for this API.")
	}
	return c, nil
}

func isAdmin(c *kiln.Caller) bool {
	return c.Method == "offline" || c.Principal.IsAdmin()
}

func requireAdmin(ctx context.Context) (*kiln.Caller, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if !isAdmin(c) {
		return nil, kiln.Errorf(kiln.EPermission, "Only workspace admins can do this.")
	}
	return c, nil
}

// update runs fn in a write transaction, then brings the token index up to
// date so the change applies to the very next request.
func (s *Service) update(ctx context.Context, fn func(kiln.Tx) error) error {
	if err := s.store.Update(ctx, fn); err != nil {
		return err
	}
	if err := s.index.Refresh(ctx); err != nil {
		// The change is committed; the poller will apply it shortly.
		s.log.Error("refreshing token index after a write", "err", err)
	}
	return nil
}

func (s *Service) view(ctx context.Context, fn func(kiln.Tx) error) error {
	return s.store.View(ctx, fn)
}

// auditEvent starts an event for caller c.
func auditEvent(c *kiln.Caller, action, target string) kiln.AuditEvent {
	return kiln.AuditEvent{Action: action, ActorID: c.Principal.ID, ActorName: c.Principal.UserName, Target: target}
}
