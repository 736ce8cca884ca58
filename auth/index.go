package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kiln-dev/kiln"
)

// Reasons a token check fails. They go to the audit log, never to the
// caller, who always reads "Invalid access token.".
const (
	ReasonMalformed     = "malformed"
	ReasonUnknown       = "unknown"
	ReasonRevoked       = "revoked"
	ReasonExpired       = "expired"
	ReasonOwnerInactive = "owner inactive"
	ReasonDisabled      = "tokens disabled"
	ReasonNoPermission  = "no CAN_USE permission"
)

// Index answers token checks from memory. It holds every token of the
// workspace (id, owner, expiry, revocation; never a value) keyed by digest,
// a snapshot of every principal with the facts a check needs (active,
// groups, CAN_USE), and whether tokens are enabled. It is authoritative: a
// digest it does not hold is unknown, so neither valid nor bad tokens cost
// a database read, and requests never write to the database (last use is
// written in batches, at most once per token per day).
//
// The index follows the store's change notices: [Index.Refresh] applies the
// changes since the last one it saw. The server calls it after each of its
// own writes, so a revoked token fails on the very next request, and polls
// it in [Index.Run] to see what other processes changed (kiln admin on the
// same data directory, other replicas).
//
// An Index is safe for concurrent use.
type Index struct {
	store kiln.Store
	key   *Key
	now   func() time.Time
	log   *slog.Logger

	refreshMu sync.Mutex // serialises Load and Refresh
	lastSeq   int64

	// Miss refresh (SetMissRefresh): a lookup that misses waits for a
	// refresh that started after it, at most one every missEvery.
	missEvery   time.Duration
	missMu      sync.Mutex
	missNext    chan struct{} // closed when the next refresh, not yet started, ends
	missRunning bool          // missLoop is running
	missLast    time.Time     // when the last miss refresh started
	missCount   atomic.Int64  // miss refreshes run, for tests and metrics

	// With a store that stamps commits (changeStamper), the stamp read at
	// the start of the last successful Load or Refresh: a miss while the
	// store's stamp still equals it cannot be a token committed since, so
	// it is refused without waiting.
	stamper    changeStamper
	stamp      atomic.Uint64
	stampKnown atomic.Bool

	mu         sync.RWMutex
	tokens     map[[sha256.Size]byte]*tokenEntry
	digestByID map[string][sha256.Size]byte
	principals map[int64]*principalState
	enabled    bool
	acl        []kiln.ACLEntry
	// oauthCreds are the live OAuth credentials by reference
	// ("secret:<id>", "grant:<id>").
	oauthCreds map[string]oauthCred

	// access caches verified OAuth access tokens by value.
	accessMu sync.RWMutex
	access   map[string]*accessEntry

	// ipRules are the IP access lists in force; nil while the setting
	// enableIpAccessLists is not "true". Read on every request without
	// the lock.
	ipRules atomic.Pointer[IPRules]
	// expiryWarning is kilnTokenExpiryWarningDays as a duration, read on
	// every request without the lock.
	expiryWarning atomic.Int64
	// lastRefresh is when the last successful Load or Refresh began (Unix
	// nanoseconds): how current the index is.
	lastRefresh atomic.Int64
	// fullReloads counts the Refreshes that found their change notices
	// pruned and read everything afresh.
	fullReloads atomic.Int64

	// Source addresses seen since the last flush, for the store
	// (RecordTokenAddresses); bounded by maxPendingAddrs.
	addrMu       sync.Mutex
	pendingAddrs []kiln.TokenAddressUse
	onNewAddress func(tx kiln.Tx, u kiln.TokenAddressUse) error
}

// maxPendingAddrs bounds the source addresses held between flushes: a
// token used from ever new addresses cannot grow the index without bound.
const maxPendingAddrs = 10000

type tokenEntry struct {
	id      string
	ownerID int64
	expires time.Time
	revoked bool
	scopes  []string // nil: unrestricted
	// lastUsedDay is the newest UTC day (days since the epoch) of use seen
	// in memory; flushedDay is the newest one written to the store.
	lastUsedDay atomic.Int64
	flushedDay  atomic.Int64
	// addrs are the last few distinct source addresses this process saw
	// the token used from (immutable slices, newest first).
	addrs atomic.Pointer[[]string]
}

type principalState struct {
	p      *kiln.Principal // immutable once published
	canUse bool
}

// changeStamper is implemented by stores that can tell without a query
// whether anything was committed since an earlier call (sqlstore on
// SQLite): equal stamps mean no commit in between.
type changeStamper interface {
	ChangeStamp() (stamp uint64, ok bool)
}

// NewIndex returns an empty index over store; call [Index.Load] before use.
func NewIndex(store kiln.Store, key *Key, log *slog.Logger) *Index {
	ix := &Index{store: store, key: key, now: time.Now, log: log}
	ix.stamper, _ = store.(changeStamper)
	return ix
}

// readStamp returns the store's commit stamp, if it has one.
func (ix *Index) readStamp() (uint64, bool) {
	if ix.stamper == nil {
		return 0, false
	}
	return ix.stamper.ChangeStamp()
}

// noteStamp records the stamp read before a successful load or refresh
// (ok false forgets it, so the next miss refreshes).
func (ix *Index) noteStamp(stamp uint64, ok bool) {
	ix.stamp.Store(stamp)
	ix.stampKnown.Store(ok)
}

// current reports whether the store certainly committed nothing since the
// last refresh began, so that a miss needs no refresh.
func (ix *Index) current() bool {
	if !ix.stampKnown.Load() {
		return false
	}
	st, ok := ix.readStamp()
	return ok && st == ix.stamp.Load()
}

// SetClock replaces the clock (tests only; call before Load).
func (ix *Index) SetClock(now func() time.Time) { ix.now = now }

// Key returns the token key the index digests with.
func (ix *Index) Key() *Key { return ix.key }

// Denial says why a token check failed: Reason is one of the Reason
// constants; TokenID and OwnerID are set when the token is known, so the
// audit log can name a revoked token that some script still uses.
type Denial struct {
	Reason  string
	TokenID string
	OwnerID int64
}

// Check authenticates a presented token value. On success it returns the
// caller and a zero Denial; otherwise a nil caller and why. ReasonNoPermission
// means the token is valid but its owner may not use tokens.
func (ix *Index) Check(value string) (*kiln.Caller, Denial) { return ix.CheckFrom(value, "") }

// CheckFrom is Check for a request from source address addr (empty:
// unknown). A successful check from an address the token was not recently
// seen from queues the address for the next flush ([Index.FlushLastUsed]),
// which records it and reports a first use from it; the request itself
// never writes.
func (ix *Index) CheckFrom(value, addr string) (*kiln.Caller, Denial) {
	if !WellFormed(value) {
		return nil, Denial{Reason: ReasonMalformed}
	}
	// The digest is a keyed MAC, so the map lookup's timing tells an
	// attacker nothing about stored values: no constant-time compare is
	// needed here, unlike a lookup by raw value.
	d := ix.key.Digest(value)
	ix.mu.RLock()
	e := ix.tokens[d]
	var ps *principalState
	if e != nil {
		ps = ix.principals[e.ownerID]
	}
	enabled := ix.enabled
	ix.mu.RUnlock()

	if e == nil && ix.missEvery > 0 && !ix.current() && ix.awaitFreshRefresh() {
		// The token may have been created a moment ago by another
		// replica whose change notice has not arrived yet.
		ix.mu.RLock()
		if e = ix.tokens[d]; e != nil {
			ps = ix.principals[e.ownerID]
		}
		enabled = ix.enabled
		ix.mu.RUnlock()
	}
	if e == nil {
		return nil, Denial{Reason: ReasonUnknown}
	}
	now := ix.now()
	reason := ""
	switch {
	case e.revoked:
		reason = ReasonRevoked
	case !e.expires.IsZero() && !now.Before(e.expires):
		reason = ReasonExpired
	case ps == nil || !ps.p.Active:
		reason = ReasonOwnerInactive
	case !enabled:
		reason = ReasonDisabled
	case !ps.canUse:
		reason = ReasonNoPermission
	}
	if reason != "" {
		return nil, Denial{Reason: reason, TokenID: e.id, OwnerID: e.ownerID}
	}
	if day := now.Unix() / 86400; e.lastUsedDay.Load() < day {
		e.lastUsedDay.Store(day)
	}
	if addr != "" {
		ix.noteAddress(e, addr, now)
	}
	return &kiln.Caller{Principal: ps.p, TokenID: e.id, Method: "pat", TokenExpires: e.expires, Scopes: e.scopes}, Denial{}
}

// noteAddress remembers that e was used from addr. The common case, an
// address among the token's last few, is a few string comparisons and no
// lock.
func (ix *Index) noteAddress(e *tokenEntry, addr string, now time.Time) {
	var seen []string
	if p := e.addrs.Load(); p != nil {
		seen = *p
		for _, a := range seen {
			if a == addr {
				return
			}
		}
	}
	next := make([]string, 0, kiln.MaxTokenAddresses)
	next = append(next, addr)
	next = append(next, seen[:min(len(seen), kiln.MaxTokenAddresses-1)]...)
	e.addrs.Store(&next)
	ix.addrMu.Lock()
	if len(ix.pendingAddrs) < maxPendingAddrs {
		ix.pendingAddrs = append(ix.pendingAddrs, kiln.TokenAddressUse{TokenID: e.id, Addr: addr, At: now.UTC().Truncate(time.Millisecond)})
	}
	ix.addrMu.Unlock()
}

// SetNewAddressHook sets what runs, in the flush's transaction, for each
// first use of a token from an address (the service audits it and tells
// webhooks). Call before use.
func (ix *Index) SetNewAddressHook(fn func(tx kiln.Tx, u kiln.TokenAddressUse) error) {
	ix.onNewAddress = fn
}

// ExpiryWarning is how long before a token ends requests made with it are
// warned (the workspace setting kilnTokenExpiryWarningDays).
func (ix *Index) ExpiryWarning() time.Duration { return time.Duration(ix.expiryWarning.Load()) }

// ExpiresSoon reports whether a token expiring at expires is within the
// warning window at now.
func (ix *Index) ExpiresSoon(expires, now time.Time) bool {
	return !expires.IsZero() && expires.Sub(now) <= ix.ExpiryWarning()
}

// Now is the index's clock.
func (ix *Index) Now() time.Time { return ix.now() }

// Principal returns the cached snapshot of principal id and whether it may
// use tokens, or nil. The snapshot must not be modified. With
// [Index.SetMissRefresh], an unknown id first waits for a fresh refresh,
// as a token check does.
func (ix *Index) Principal(id int64) (*kiln.Principal, bool) {
	ix.mu.RLock()
	ps := ix.principals[id]
	ix.mu.RUnlock()
	if ps == nil && ix.missEvery > 0 && !ix.current() && ix.awaitFreshRefresh() {
		ix.mu.RLock()
		ps = ix.principals[id]
		ix.mu.RUnlock()
	}
	if ps == nil {
		return nil, false
	}
	return ps.p, ps.canUse
}

// missWait bounds how long a lookup waits for a miss refresh; past it the
// lookup answers from what the index holds.
const missWait = time.Second

// SetMissRefresh makes a lookup that finds nothing (a well-formed token
// whose digest is unknown, a principal id that is not there) wait for a
// refresh that started after the lookup, then look again, so that a token
// or user created a moment ago through another replica is known even if
// its change notice has not arrived. Concurrent misses share one refresh,
// and refreshes for misses start at most once every minInterval, so a
// flood of bad tokens costs the store at most 1/minInterval reads a second
// and delays each bad request by up to minInterval plus one read. With a
// store that stamps its commits (SQLite), a miss first compares the
// store's stamp with the one the last refresh began at: when nothing was
// committed since, the token cannot be new and is refused at once, so a
// flood of bad tokens costs a file read each, no query and no wait. Valid
// tokens are unaffected. Zero (the default) turns it off. Call before use.
func (ix *Index) SetMissRefresh(minInterval time.Duration) { ix.missEvery = minInterval }

// MissRefreshes returns how many miss refreshes have run.
func (ix *Index) MissRefreshes() int64 { return ix.missCount.Load() }

// awaitFreshRefresh waits for a refresh that starts after the call and
// reports whether it ended (successfully or not) within missWait.
func (ix *Index) awaitFreshRefresh() bool {
	ix.missMu.Lock()
	if ix.missNext == nil {
		ix.missNext = make(chan struct{})
	}
	done := ix.missNext
	if !ix.missRunning {
		ix.missRunning = true
		go ix.missLoop()
	}
	ix.missMu.Unlock()
	t := time.NewTimer(missWait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// missLoop runs miss refreshes while lookups wait for one. Each round takes
// the waiters registered so far (missNext), so every one of them waits
// for a refresh that starts after it registered.
func (ix *Index) missLoop() {
	for {
		ix.missMu.Lock()
		if ix.missNext == nil {
			ix.missRunning = false
			ix.missMu.Unlock()
			return
		}
		wait := ix.missEvery - time.Since(ix.missLast)
		ix.missMu.Unlock()
		if wait > 0 {
			time.Sleep(wait) // lookups arriving meanwhile join this round
		}
		ix.missMu.Lock()
		done := ix.missNext
		ix.missNext = nil
		ix.missLast = time.Now()
		ix.missMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), missWait)
		if err := ix.Refresh(ctx); err != nil {
			ix.log.Warn("refreshing the token index for an unknown token", "err", err)
		}
		cancel()
		ix.missCount.Add(1)
		close(done)
	}
}

// TokensEnabled reports whether personal access tokens are switched on.
func (ix *Index) TokensEnabled() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.enabled
}

// FullReloads is how many times Refresh found the change notices after
// its position pruned and reloaded everything instead.
func (ix *Index) FullReloads() int64 { return ix.fullReloads.Load() }

// Load reads the whole state from the store, replacing what the index held.
func (ix *Index) Load(ctx context.Context) error {
	ix.refreshMu.Lock()
	defer ix.refreshMu.Unlock()
	return ix.load(ctx)
}

// load is Load with refreshMu held.
func (ix *Index) load(ctx context.Context) error {
	started := time.Now()
	// Read the stamp and the change position first: a change committed
	// while loading is then applied again by the next Refresh, which is
	// harmless.
	stamp, stampOK := ix.readStamp()
	seq, err := ix.store.LastChange(ctx)
	if err != nil {
		return err
	}
	var toks []*kiln.Token
	err = ix.store.View(ctx, func(tx kiln.Tx) error {
		var err error
		toks, err = tx.Tokens(kiln.TokenFilter{})
		return err
	})
	if err != nil {
		return err
	}
	tokens := make(map[[sha256.Size]byte]*tokenEntry, len(toks))
	byID := make(map[string][sha256.Size]byte, len(toks))
	for _, t := range toks {
		e := newEntry(t)
		var d [sha256.Size]byte
		copy(d[:], t.Digest)
		tokens[d] = e
		byID[t.ID] = d
	}
	if err := ix.reloadPrincipals(ctx); err != nil {
		return err
	}
	if err := ix.loadOAuth(ctx); err != nil {
		return err
	}
	ix.mu.Lock()
	// Keep the in-memory last use of tokens we already knew.
	for d, e := range tokens {
		if old := ix.tokens[d]; old != nil {
			e.lastUsedDay.Store(max(e.lastUsedDay.Load(), old.lastUsedDay.Load()))
		}
	}
	ix.tokens, ix.digestByID = tokens, byID
	ix.mu.Unlock()
	ix.lastSeq = seq
	ix.noteStamp(stamp, stampOK)
	ix.lastRefresh.Store(started.UnixNano())
	return nil
}

func newEntry(t *kiln.Token) *tokenEntry {
	e := &tokenEntry{id: t.ID, ownerID: t.OwnerID, expires: t.Expires, revoked: !t.Revoked.IsZero(), scopes: t.Scopes}
	if !t.LastUsedDay.IsZero() {
		day := t.LastUsedDay.Unix() / 86400
		e.lastUsedDay.Store(day)
		e.flushedDay.Store(day)
	}
	return e
}

// reloadPrincipals rebuilds every principal snapshot, the settings, the
// permission list and the IP access rules: they change rarely and depend
// on each other (a group change alters members' permissions; the setting
// enableIpAccessLists switches the rules).
func (ix *Index) reloadPrincipals(ctx context.Context) error {
	var (
		ps       []*kiln.Principal
		settings map[string]string
		acl      []kiln.ACLEntry
		ipLists  []*kiln.IPAccessList
	)
	err := ix.store.View(ctx, func(tx kiln.Tx) error {
		var err error
		if ps, _, err = tx.Principals(kiln.PrincipalFilter{}); err != nil {
			return err
		}
		if settings, err = tx.Settings(); err != nil {
			return err
		}
		if acl, err = tx.TokenACL(); err != nil {
			return err
		}
		ipLists, err = tx.IPAccessLists()
		return err
	})
	if err != nil {
		return err
	}
	if IPAccessListsEnabledIn(settings) {
		ix.ipRules.Store(CompileIPRules(ipLists))
	} else {
		ix.ipRules.Store(nil)
	}
	principals := make(map[int64]*principalState, len(ps))
	for _, p := range ps {
		principals[p.ID] = &principalState{p: p, canUse: CanUseTokens(p, acl)}
	}
	ix.expiryWarning.Store(int64(ExpiryWarningIn(settings)))
	ix.mu.Lock()
	ix.principals = principals
	ix.enabled = TokensEnabledIn(settings)
	ix.acl = acl
	ix.mu.Unlock()
	return nil
}

// IPAccessListsEnabledIn reads enableIpAccessLists from stored settings:
// only "true", in any case, enforces the lists.
func IPAccessListsEnabledIn(settings map[string]string) bool {
	return strings.EqualFold(strings.TrimSpace(settings[kiln.ConfEnableIPAccessLists]), "true")
}

// IPRules returns the IP access rules in force, or nil while the setting
// enableIpAccessLists is not "true". It takes no lock and reads nothing
// from the store: one atomic load.
func (ix *Index) IPRules() *IPRules { return ix.ipRules.Load() }

// ExpiryWarningIn reads kilnTokenExpiryWarningDays from stored settings:
// an unset, empty or unreadable value is the default.
func ExpiryWarningIn(settings map[string]string) time.Duration {
	v := strings.TrimSpace(settings[kiln.ConfTokenExpiryWarningDays])
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		n, _ = strconv.Atoi(kiln.ConfDefaults[kiln.ConfTokenExpiryWarningDays])
	}
	return time.Duration(n) * 24 * time.Hour
}

// TokensEnabledIn reads enableTokensConfig from stored settings the way the
// real service does: only "true", in any case, switches tokens on.
func TokensEnabledIn(settings map[string]string) bool {
	v, ok := settings[kiln.ConfEnableTokens]
	if !ok {
		v = kiln.ConfDefaults[kiln.ConfEnableTokens]
	}
	return strings.EqualFold(strings.TrimSpace(v), "true")
}

// CanUseTokens reports whether p may create and use tokens under acl:
// admins always may; anyone else needs CAN_USE (or CAN_MANAGE) granted to
// them by name or to one of their groups.
func CanUseTokens(p *kiln.Principal, acl []kiln.ACLEntry) bool {
	if !p.Active {
		return false
	}
	if p.IsAdmin() {
		return true
	}
	for _, e := range acl {
		if e.Level != kiln.LevelCanUse && e.Level != kiln.LevelCanManage {
			continue
		}
		switch {
		case e.UserName != "" && p.Kind == kiln.KindUser && strings.EqualFold(e.UserName, p.UserName):
			return true
		case e.ServicePrincipalName != "" && p.Kind == kiln.KindServicePrincipal && strings.EqualFold(e.ServicePrincipalName, p.UserName):
			return true
		case e.GroupName != "" && p.InGroup(e.GroupName):
			return true
		}
	}
	return false
}

// Refresh applies the store's change notices since the last Load or
// Refresh. After it returns, every change committed before the call is
// visible to Check.
func (ix *Index) Refresh(ctx context.Context) error {
	ix.refreshMu.Lock()
	defer ix.refreshMu.Unlock()
	// Stamped before reading: a commit racing with the read either is
	// read now or moves the stamp past this one.
	stamp, stampOK := ix.readStamp()
	started := time.Now()
	for {
		changes, err := ix.store.Changes(ctx, ix.lastSeq, 500)
		if errors.Is(err, kiln.ErrChangesPruned) {
			// This index fell behind the notices the store still keeps
			// (a replica down for longer than their retention): what it
			// missed is unknown, so it reads everything afresh.
			ix.fullReloads.Add(1)
			return ix.load(ctx)
		}
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			ix.noteStamp(stamp, stampOK)
			ix.lastRefresh.Store(started.UnixNano())
			return nil
		}
		tokenIDs := map[string]bool{}
		reloadPrincipals, reloadOAuth := false, false
		for _, c := range changes {
			switch c.Kind {
			case kiln.ChangeToken:
				tokenIDs[c.Ref] = true
			case kiln.ChangeOAuth:
				reloadOAuth = true
			default:
				reloadPrincipals = true
			}
		}
		if reloadPrincipals {
			if err := ix.reloadPrincipals(ctx); err != nil {
				return err
			}
		}
		if reloadOAuth {
			if err := ix.loadOAuth(ctx); err != nil {
				return err
			}
		}
		for id := range tokenIDs {
			if err := ix.reloadToken(ctx, id); err != nil {
				return err
			}
		}
		ix.lastSeq = changes[len(changes)-1].Seq
	}
}

func (ix *Index) reloadToken(ctx context.Context, id string) error {
	var t *kiln.Token
	err := ix.store.View(ctx, func(tx kiln.Tx) error {
		var err error
		t, err = tx.Token(id)
		return err
	})
	if kiln.IsCode(err, kiln.ENotFound) {
		ix.mu.Lock()
		if d, ok := ix.digestByID[id]; ok {
			delete(ix.tokens, d)
			delete(ix.digestByID, id)
		}
		ix.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	e := newEntry(t)
	var d [sha256.Size]byte
	copy(d[:], t.Digest)
	ix.mu.Lock()
	if old := ix.tokens[d]; old != nil {
		e.lastUsedDay.Store(max(e.lastUsedDay.Load(), old.lastUsedDay.Load()))
		e.flushedDay.Store(max(e.flushedDay.Load(), old.flushedDay.Load()))
	}
	ix.tokens[d] = e
	ix.digestByID[id] = d
	ix.mu.Unlock()
	return nil
}

// FlushLastUsed writes the last-used days that changed since the previous
// flush and the source addresses seen since, in one transaction; for each
// address a token had not been seen from, it runs the new-address hook in
// that transaction.
func (ix *Index) FlushLastUsed(ctx context.Context) error {
	ix.addrMu.Lock()
	uses := ix.pendingAddrs
	ix.pendingAddrs = nil
	ix.addrMu.Unlock()
	if err := ix.flush(ctx, uses); err != nil {
		// Keep the addresses for the next flush (still bounded).
		ix.addrMu.Lock()
		ix.pendingAddrs = append(uses, ix.pendingAddrs...)[:min(len(uses)+len(ix.pendingAddrs), maxPendingAddrs)]
		ix.addrMu.Unlock()
		return err
	}
	return nil
}

func (ix *Index) flush(ctx context.Context, uses []kiln.TokenAddressUse) error {
	days := map[string]time.Time{}
	var flushed []*tokenEntry
	ix.mu.RLock()
	for _, e := range ix.tokens {
		if d := e.lastUsedDay.Load(); d > e.flushedDay.Load() {
			days[e.id] = time.Unix(d*86400, 0).UTC()
			flushed = append(flushed, e)
		}
	}
	ix.mu.RUnlock()
	if len(days) == 0 && len(uses) == 0 {
		return nil
	}
	// No change notice: last use and addresses affect no token check.
	err := ix.store.Update(ctx, func(tx kiln.Tx) error {
		if err := tx.TouchTokens(days); err != nil {
			return err
		}
		if len(uses) == 0 {
			return nil
		}
		fresh, err := tx.RecordTokenAddresses(uses)
		if err != nil || ix.onNewAddress == nil {
			return err
		}
		for _, u := range fresh {
			if err := ix.onNewAddress(tx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range flushed {
		e.flushedDay.Store(e.lastUsedDay.Load())
	}
	return nil
}

// LastUsedDay returns the in-memory last-used day of token id, which may be
// newer than the store's until the next flush; zero if unknown.
func (ix *Index) LastUsedDay(id string) time.Time {
	ix.mu.RLock()
	d, ok := ix.digestByID[id]
	var e *tokenEntry
	if ok {
		e = ix.tokens[d]
	}
	ix.mu.RUnlock()
	if e == nil || e.lastUsedDay.Load() == 0 {
		return time.Time{}
	}
	return time.Unix(e.lastUsedDay.Load()*86400, 0).UTC()
}

// changeWatcher is implemented by stores that announce committed change
// notices as they happen (sqlstore on PostgreSQL, through LISTEN/NOTIFY).
type changeWatcher interface {
	WatchChanges(ctx context.Context) <-chan struct{}
}

// Run polls the store for changes every interval and flushes last use every
// flushEvery, until ctx ends; then it flushes once more. When the store
// announces changes (a PostgreSQL store shared by replicas), Run also
// refreshes as soon as one is announced, so changes made through another
// replica apply within milliseconds; the poll then only bounds the delay
// of a notice that was lost (a dropped listener connection, say).
func (ix *Index) Run(ctx context.Context, interval, flushEvery time.Duration) {
	poll := time.NewTicker(interval)
	defer poll.Stop()
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	var notices <-chan struct{} // nil, never ready, without a watcher
	if w, ok := ix.store.(changeWatcher); ok {
		notices = w.WatchChanges(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := ix.FlushLastUsed(fctx); err != nil {
				ix.log.Warn("flushing token last use", "err", err)
			}
			cancel()
			return
		case <-poll.C:
			if err := ix.Refresh(ctx); err != nil && ctx.Err() == nil {
				ix.log.Warn("refreshing token index", "err", err)
			}
		case <-notices:
			if err := ix.Refresh(ctx); err != nil && ctx.Err() == nil {
				ix.log.Warn("refreshing token index", "err", err)
			}
		case <-flush.C:
			if err := ix.FlushLastUsed(ctx); err != nil && ctx.Err() == nil {
				ix.log.Warn("flushing token last use", "err", err)
			}
		}
	}
}

// LastRefresh is when the last successful Load or Refresh began: every
// change committed before it applies. Zero before the first Load.
func (ix *Index) LastRefresh() time.Time {
	if n := ix.lastRefresh.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// TokenCounts are how many tokens the index holds, by state.
type TokenCounts struct{ Live, Expired, Revoked int }

// Counts counts the tokens by state at now (for metrics), holding the
// read lock for one pass over the index.
func (ix *Index) Counts(now time.Time) TokenCounts {
	var c TokenCounts
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for _, e := range ix.tokens {
		switch {
		case e.revoked:
			c.Revoked++
		case !e.expires.IsZero() && !now.Before(e.expires):
			c.Expired++
		default:
			c.Live++
		}
	}
	return c
}

// String describes the index size for logs.
func (ix *Index) String() string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return strconv.Itoa(len(ix.tokens)) + " tokens, " + strconv.Itoa(len(ix.principals)) + " principals"
}
