// Package service implements kiln's workspace rules over a [kiln.Store]:
// who may do what, token policy (lifetimes, caps, quota, the PAT switch),
// settings validation, identities and groups, token permissions, the
// Workspace tree and its path permissions, secrets and their ACLs (values
// sealed with an [auth.SecretBox]), DBFS (the rules and Databricks' error
// codes, over a [kiln.DBFS] adapter), jobs and runs (validation, the
// queue limits, what each caller may see), and the audit trail. The REST
// API, the console, offline administration and the job runner all go
// through it, so a rule is written once. It holds no adapters of its own:
// New takes every dependency at once (Deps).
//
// Every method takes the caller from the context ([kiln.CallerFromContext]);
// a missing caller is EUnauthenticated. The few methods for the runner
// (SecretForRun, WorkspaceObjectForRun, DBFSOpenForRun) act for the run's
// owner instead.
package service

import (
	"context"
	"log/slog"
	"sync"
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

	secrets *auth.SecretBox
	dbfs    kiln.DBFS
	jobs    Runner
	compute func() Compute

	maxWaitingRuns int // per owner; negative: no limit

	// The token sweep's memory of the events it already wrote
	// (SweepTokens), so that it does not write them every round.
	sweepMu   sync.Mutex
	sweepSeen map[string]bool
}

// Deps are what a service is built on. Store and Index are required by
// every method that reads or writes the workspace; the others have the
// zero values documented.
type Deps struct {
	Store kiln.Store
	// Index must be loaded; the service refreshes it after each of its
	// own writes so that they take effect on the next request.
	Index *auth.Index
	// Log receives what the service cannot return (a refresh that failed
	// after a commit); nil discards it.
	Log *slog.Logger
	// Secrets seals secret values; nil fails the Secrets API's writes and
	// SecretForRun (EInternal).
	Secrets *auth.SecretBox
	// DBFS is the DBFS tree; nil fails the DBFS API (EInternal), as
	// offline administration has none.
	DBFS kiln.DBFS
	// Jobs is the executor the service wakes when runs are queued and
	// tells about stopped runs; nil tells nobody (queued runs wait for an
	// executor's poll).
	Jobs Runner
	// Compute describes the executors, per request (LocalCluster); nil
	// describes none (a zero Compute).
	Compute func() Compute
	// MaxQueuedRunsPerUser is how many runs one owner may have waiting to
	// start; run-now and runs/submit beyond it are refused with 429
	// RESOURCE_EXHAUSTED until some have started. 0 is
	// DefaultMaxQueuedRunsPerUser; negative, no limit.
	MaxQueuedRunsPerUser int
	// Now is the clock of token expiry decisions; nil is time.Now (tests
	// set their own).
	Now func() time.Time
}

// New returns a service over d.Store.
func New(d Deps) *Service {
	s := &Service{
		store: d.Store, index: d.Index, log: d.Log, now: d.Now,
		secrets: d.Secrets, dbfs: d.DBFS, jobs: d.Jobs, compute: d.Compute,
		maxWaitingRuns: d.MaxQueuedRunsPerUser,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxWaitingRuns == 0 {
		s.maxWaitingRuns = DefaultMaxQueuedRunsPerUser
	}
	return s
}

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
