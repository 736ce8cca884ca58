package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

var changeTests = []test{
	{"Changes/NoneInAnEmptyStore", func(t *testing.T, s kiln.Store) {
		last, err := s.LastChange(ctx(t))
		if err != nil || last != 0 {
			t.Errorf("LastChange: got %d, %v, want 0", last, err)
		}
		cs, err := s.Changes(ctx(t), 0, 10)
		if err != nil || len(cs) != 0 {
			t.Errorf("Changes: got %v, %v, want none", cs, err)
		}
	}},
	{"Changes/NotifyCommitsWithUpdateInOrder", func(t *testing.T, s kiln.Store) {
		var now time.Time
		update(t, s, func(tx kiln.Tx) error {
			now = tx.Now()
			if err := tx.Notify(kiln.ChangeToken, tokenID(1)); err != nil {
				return err
			}
			return tx.Notify(kiln.ChangeSettings, "")
		})
		update(t, s, func(tx kiln.Tx) error { return tx.Notify(kiln.ChangePrincipal, "1000000000000001") })
		all, err := s.Changes(ctx(t), 0, 10)
		if err != nil {
			t.Fatalf("Changes: %v", err)
		}
		want := []kiln.Change{
			{Kind: kiln.ChangeToken, Ref: tokenID(1)},
			{Kind: kiln.ChangeSettings},
			{Kind: kiln.ChangePrincipal, Ref: "1000000000000001"},
		}
		if len(all) != len(want) {
			t.Fatalf("Changes: got %+v, want %d changes", all, len(want))
		}
		for i, c := range all {
			if c.Kind != want[i].Kind || c.Ref != want[i].Ref || (i > 0 && c.Seq <= all[i-1].Seq) {
				t.Errorf("change %d: got %+v, want %+v with a seq above the previous", i, c, want[i])
			}
		}
		if !all[0].Time.Equal(now) {
			t.Errorf("Time: got %v, want the transaction time %v", all[0].Time, now)
		}
		if last, err := s.LastChange(ctx(t)); err != nil || last != all[2].Seq {
			t.Errorf("LastChange: got %d, %v, want %d", last, err, all[2].Seq)
		}
		for _, c := range []struct {
			name  string
			after int64
			limit int
			want  []kiln.Change
		}{
			{"AfterFirst", all[0].Seq, 10, all[1:]},
			{"Limited", 0, 2, all[:2]},
			{"AfterLast", all[2].Seq, 10, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				got, err := s.Changes(ctx(t), c.after, c.limit)
				if err != nil {
					t.Fatalf("Changes: %v", err)
				}
				if fmt.Sprint(got) != fmt.Sprint(c.want) && !(len(got) == 0 && len(c.want) == 0) {
					t.Errorf("got %+v, want %+v", got, c.want)
				}
			})
		}
	}},
	{"Changes/RolledBackUpdateWritesNothing", func(t *testing.T, s kiln.Store) {
		owner := createUsers(t, s, "alice@example.com")[0]
		before := snapshot(t, s)
		errBoom := errors.New("boom")
		err := s.Update(ctx(t), func(tx kiln.Tx) error {
			for _, op := range writeOps(owner.ID) {
				if err := op.run(tx); err != nil {
					return fmt.Errorf("%s: %w", op.name, err)
				}
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Update: got %v, want the error fn returned", err)
		}
		wantSame(t, "an Update returning an error", before, snapshot(t, s))
	}},
	{"Changes/PanickingUpdateWritesNothing", func(t *testing.T, s kiln.Store) {
		owner := createUsers(t, s, "alice@example.com")[0]
		before := snapshot(t, s)
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("recovered %v, want the panic to reach the caller", r)
				}
			}()
			s.Update(ctx(t), func(tx kiln.Tx) error {
				for _, op := range writeOps(owner.ID) {
					if err := op.run(tx); err != nil {
						t.Errorf("%s: %v", op.name, err)
					}
				}
				panic("boom")
			})
		}()
		wantSame(t, "a panicking Update", before, snapshot(t, s))
	}},
}

var txTests = []test{
	{"Tx/NowIsOneMillisecondInstant", func(t *testing.T, s kiln.Store) {
		check := func(tx kiln.Tx) error {
			first := tx.Now()
			time.Sleep(3 * time.Millisecond)
			if second := tx.Now(); !second.Equal(first) {
				t.Errorf("Now moved within a transaction: got %v then %v", first, second)
			}
			if !first.Equal(first.Truncate(time.Millisecond)) || first.IsZero() {
				t.Errorf("Now: got %v, want a non-zero whole millisecond", first)
			}
			return nil
		}
		update(t, s, check)
		view(t, s, check)
	}},
	{"Tx/ViewRefusesEveryWrite", func(t *testing.T, s kiln.Store) {
		// Each write is tried in a View on a store where it would succeed,
		// then applied in an Update to set up the next one.
		owner := createUsers(t, s, "alice@example.com")[0]
		for _, op := range writeOps(owner.ID) {
			t.Run(op.name, func(t *testing.T) {
				before := snapshot(t, s)
				if err := s.View(ctx(t), op.run); err == nil {
					t.Errorf("%s in a View: got nil error, want a refusal", op.name)
				}
				wantSame(t, op.name+" in a View", before, snapshot(t, s))
				update(t, s, op.run)
			})
		}
	}},
	{"Tx/UpdateReturnsFnErrorAsIs", func(t *testing.T, s kiln.Store) {
		want := kiln.Errorf(kiln.EQuota, "Quota reached.")
		err := s.Update(ctx(t), func(kiln.Tx) error { return want })
		if !errors.Is(err, want) || kiln.ErrorCode(err) != kiln.EQuota {
			t.Errorf("Update: got %v, want %v", err, want)
		}
		err = s.View(ctx(t), func(kiln.Tx) error { return want })
		if !errors.Is(err, want) {
			t.Errorf("View: got %v, want %v", err, want)
		}
	}},
	{"Tx/UsableAfterConflict", func(t *testing.T, s kiln.Store) {
		// A service may meet EConflict and go on in the same transaction
		// (say, to audit the attempt): the failed statement must not doom
		// the rest.
		createUsers(t, s, "alice@example.com")
		update(t, s, func(tx kiln.Tx) error {
			err := tx.CreatePrincipal(user("ALICE@example.com"))
			wantCode(t, "CreatePrincipal of a taken name", err, kiln.EConflict)
			return tx.CreatePrincipal(user("bob@example.com"))
		})
		view(t, s, func(tx kiln.Tx) error {
			_, err := tx.PrincipalByName("bob@example.com")
			if err != nil {
				t.Errorf("PrincipalByName after the conflict: %v", err)
			}
			return nil
		})
	}},
	{"Store/Ping", func(t *testing.T, s kiln.Store) {
		if err := s.Ping(ctx(t)); err != nil {
			t.Errorf("Ping: %v", err)
		}
	}},
}

var concurrencyTests = []test{
	{"Concurrency/ParallelTokenCreatesAllLand", func(t *testing.T, s kiln.Store) {
		const writers, each = 8, 20
		owner := createUsers(t, s, "alice@example.com")[0]
		var wg sync.WaitGroup
		done := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					n := w*each + i + 1
					err := s.Update(ctx(t), func(tx kiln.Tx) error {
						if err := tx.CreateToken(newToken(n, owner.ID, owner.ID)); err != nil {
							return err
						}
						return tx.Notify(kiln.ChangeToken, tokenID(n))
					})
					if err != nil {
						t.Errorf("writer %d, token %d: %v", w, n, err)
						return
					}
				}
			})
		}
		// Readers run alongside, each View on one consistent snapshot.
		var readers sync.WaitGroup
		for range 2 {
			readers.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					err := s.View(ctx(t), func(tx kiln.Tx) error {
						tks, err := tx.Tokens(kiln.TokenFilter{OwnerID: owner.ID})
						if err != nil {
							return err
						}
						n, err := tx.CountLiveTokens(owner.ID, t0)
						if err != nil {
							return err
						}
						if n != len(tks) {
							t.Errorf("one View saw %d tokens listed and %d counted", len(tks), n)
						}
						return nil
					})
					if err != nil {
						t.Errorf("reader: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(done)
		readers.Wait()
		view(t, s, func(tx kiln.Tx) error {
			n, err := tx.CountLiveTokens(owner.ID, t0)
			if err != nil || n != writers*each {
				t.Errorf("CountLiveTokens: got %d, %v, want %d", n, err, writers*each)
			}
			return nil
		})
		cs, err := s.Changes(ctx(t), 0, 1000)
		if err != nil || len(cs) != writers*each {
			t.Fatalf("Changes: got %d, %v, want %d", len(cs), err, writers*each)
		}
		seen := make(map[string]bool)
		for i, c := range cs {
			if i > 0 && c.Seq <= cs[i-1].Seq {
				t.Errorf("change %d: seq %d not above %d", i, c.Seq, cs[i-1].Seq)
			}
			seen[c.Ref] = true
		}
		if len(seen) != writers*each {
			t.Errorf("changes name %d distinct tokens, want %d", len(seen), writers*each)
		}
	}},
}

// writeOp is one write method of kiln.Tx. Run in order in an Update on a
// store holding only the principal ownerID, each succeeds and changes
// something.
type writeOp struct {
	name string
	run  func(tx kiln.Tx) error
}

// writeOps lists every write method of kiln.Tx.
func writeOps(ownerID int64) []writeOp {
	name, yes := "changed", true
	const groupID = 1000000000000777
	return []writeOp{
		{"CreateWorkspace", func(tx kiln.Tx) error {
			return tx.CreateWorkspace(kiln.Workspace{ID: 1234567890123456, Created: t0, KeyFingerprint: "fp"})
		}},
		{"CreatePrincipal", func(tx kiln.Tx) error { return tx.CreatePrincipal(user("new@example.com")) }},
		{"UpdatePrincipal", func(tx kiln.Tx) error {
			return tx.UpdatePrincipal(ownerID, kiln.PrincipalUpdate{DisplayName: &name, Active: &yes})
		}},
		{"CreateGroup", func(tx kiln.Tx) error {
			return tx.CreateGroup(&kiln.Group{ID: groupID, DisplayName: "new"})
		}},
		{"RenameGroup", func(tx kiln.Tx) error { return tx.RenameGroup(groupID, "renamed") }},
		{"AddMember", func(tx kiln.Tx) error { return tx.AddMember(groupID, ownerID) }},
		{"RemoveMember", func(tx kiln.Tx) error { return tx.RemoveMember(groupID, ownerID) }},
		{"DeleteGroup", func(tx kiln.Tx) error { return tx.DeleteGroup(groupID) }},
		{"CreateToken", func(tx kiln.Tx) error { return tx.CreateToken(newToken(1, ownerID, ownerID)) }},
		{"UpdateTokenComment", func(tx kiln.Tx) error { return tx.UpdateTokenComment(tokenID(1), name) }},
		{"TouchTokens", func(tx kiln.Tx) error { return tx.TouchTokens(map[string]time.Time{tokenID(1): day0}) }},
		{"RevokeToken", func(tx kiln.Tx) error { return tx.RevokeToken(tokenID(1), ownerID) }},
		{"SetSettings", func(tx kiln.Tx) error { return tx.SetSettings(map[string]string{kiln.ConfEnableTokens: "true"}) }},
		{"SetTokenACL", func(tx kiln.Tx) error {
			return tx.SetTokenACL([]kiln.ACLEntry{{GroupName: "users", Level: kiln.LevelCanUse}})
		}},
		{"Audit", func(tx kiln.Tx) error { return tx.Audit(kiln.AuditEvent{Action: kiln.AuditLogin}) }},
		{"Notify", func(tx kiln.Tx) error { return tx.Notify(kiln.ChangeSettings, "") }},
		{"DeletePrincipal", func(tx kiln.Tx) error { return tx.DeletePrincipal(ownerID) }},
	}
}

// snapshot renders everything the store holds, for before/after
// comparisons.
func snapshot(t *testing.T, s kiln.Store) string {
	t.Helper()
	var b strings.Builder
	view(t, s, func(tx kiln.Tx) error {
		w, err := tx.Workspace()
		fmt.Fprintf(&b, "workspace %+v %v\n", w, kiln.ErrorCode(err))
		ps, _, err := tx.Principals(kiln.PrincipalFilter{})
		if err != nil {
			return err
		}
		for _, p := range ps {
			fmt.Fprintf(&b, "principal %+v\n", normPrincipal(p))
		}
		gs, _, err := tx.Groups(kiln.GroupFilter{})
		if err != nil {
			return err
		}
		for _, g := range gs {
			fmt.Fprintf(&b, "group %+v\n", sortedMembers(normGroup(g)))
		}
		tks, err := tx.Tokens(kiln.TokenFilter{})
		if err != nil {
			return err
		}
		slices.SortFunc(tks, func(a, b *kiln.Token) int { return strings.Compare(a.ID, b.ID) })
		for _, tk := range tks {
			fmt.Fprintf(&b, "token %+v\n", normToken(tk))
		}
		kv, err := tx.Settings()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "settings %v\n", kv)
		acl, err := tx.TokenACL()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "acl %+v\n", acl)
		evs, err := tx.AuditEvents(kiln.AuditFilter{Limit: 1000})
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "audit %+v\n", evs)
		return nil
	})
	last, err := s.LastChange(ctx(t))
	if err != nil {
		t.Fatalf("LastChange: %v", err)
	}
	fmt.Fprintf(&b, "last change %d\n", last)
	return b.String()
}

// wantSame fails unless two snapshots are equal.
func wantSame(t *testing.T, what, before, after string) {
	t.Helper()
	if before != after {
		t.Errorf("%s changed the store:\nbefore:\n%s\nafter:\n%s", what, before, after)
	}
}
