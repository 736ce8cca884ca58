package service

import (
	"context"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln"
)

func init() {
	confValidators[kiln.ConfRunRetentionDays] = daysValidator(kiln.ConfRunRetentionDays, 0, 3650, "or 0 to keep finished runs forever")
}

// DefaultChangeRetention is how long change notices are kept: far longer
// than any replica polls (about once a second), so only a replica stopped
// for a day or more finds its position pruned and reloads everything.
const DefaultChangeRetention = 24 * time.Hour

// pruneBatch bounds the runs one transaction deletes, so that pruning a
// long backlog never holds the write lock for long.
const pruneBatch = 500

// Pruned is what one Prune removed.
type Pruned struct {
	Runs    int // finished runs past kilnRunRetentionDays
	Changes int64
}

// Prune deletes what the store no longer needs to keep: finished runs
// that ended more than kilnRunRetentionDays ago (with their task runs,
// outputs, repairs and task values; never an active run), and change
// notices older than changeRetention (DefaultChangeRetention when zero or
// less). Every replica may call it: deleting is idempotent. The runs' log
// files and attempt directories are each server's own to remove
// (runner.RemoveOrphanFiles). It runs as the system, not as a caller.
func (s *Service) Prune(ctx context.Context, changeRetention time.Duration) (Pruned, error) {
	var p Pruned
	if changeRetention <= 0 {
		changeRetention = DefaultChangeRetention
	}
	now := s.now()
	var settings map[string]string
	if err := s.view(ctx, func(tx kiln.Tx) (err error) { settings, err = tx.Settings(); return err }); err != nil {
		return p, err
	}
	if days := retentionDays(settings); days > 0 {
		cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
		for {
			var ids []int64
			err := s.store.Update(ctx, func(tx kiln.Tx) (err error) { ids, err = tx.PruneRuns(cutoff, pruneBatch); return err })
			if err != nil {
				return p, err
			}
			p.Runs += len(ids)
			if len(ids) < pruneBatch || ctx.Err() != nil {
				break
			}
		}
	}
	n, err := s.store.PruneChanges(ctx, now.Add(-changeRetention))
	p.Changes = n
	return p, err
}

// retentionDays reads kilnRunRetentionDays; a value the validator would
// refuse (written around the API) falls back to the default.
func retentionDays(settings map[string]string) int {
	v, ok := settings[kiln.ConfRunRetentionDays]
	if !ok {
		v = kiln.ConfDefaults[kiln.ConfRunRetentionDays]
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		n, _ = strconv.Atoi(kiln.ConfDefaults[kiln.ConfRunRetentionDays])
	}
	return n
}
