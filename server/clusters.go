package server

import (
	"context"
	"time"
)

// clusterSweepInterval is how often clusters move on (PENDING -> RUNNING,
// TERMINATING -> TERMINATED, autotermination): well under
// service.ClusterTransition, so a passing state lasts about that long.
const clusterSweepInterval = 500 * time.Millisecond

// every runs sweep each interval until ctx ends, logging what fails under
// name. Every replica sweeps: the sweeps' writes are idempotent under the
// store's write lock, and a sweep with nothing to do only reads.
func (s *Server) every(ctx context.Context, interval time.Duration, name string, sweep func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := sweep(ctx); err != nil && ctx.Err() == nil {
				s.Log.Warn(name, "err", err)
			}
		}
	}
}

// sweepClusters runs the service's cluster sweep until ctx ends.
func (s *Server) sweepClusters(ctx context.Context) {
	s.every(ctx, clusterSweepInterval, "sweeping clusters", func(ctx context.Context) error {
		return s.Service.SweepClusters(ctx, time.Now())
	})
}

// sweepTokens runs the token sweep (inactivity revocations, expiry
// announcements) until ctx ends.
func (s *Server) sweepTokens(ctx context.Context) {
	s.every(ctx, s.Config.TokenSweepInterval, "sweeping tokens", s.Service.SweepTokens)
}

// schedulePollInterval is how often every replica looks for due schedule
// ticks: a tick fires within about this much of its time (a per-second
// cron stays on time), and a poll with nothing due is one indexed read.
const schedulePollInterval = 200 * time.Millisecond

// fireSchedules queues the runs of due schedule ticks until ctx ends.
// Every replica polls; the store's compare and swap on each job's next
// tick lets exactly one of them fire it.
func (s *Server) fireSchedules(ctx context.Context) {
	if n, err := s.Service.AdoptSchedules(ctx); err != nil && ctx.Err() == nil {
		s.Log.Warn("adopting the schedules of older jobs", "err", err)
	} else if n > 0 {
		s.Log.Info("adopted the schedules of older jobs", "jobs", n)
	}
	s.every(ctx, schedulePollInterval, "firing schedules", func(ctx context.Context) error {
		_, err := s.Service.FireSchedules(ctx)
		return err
	})
}

// prune removes, every PruneInterval, the finished runs past their
// retention and old change notices (Service.Prune), then this server's
// files of runs that no longer exist (Runner.RemoveOrphanFiles).
func (s *Server) prune(ctx context.Context) {
	s.every(ctx, s.Config.PruneInterval, "pruning", s.pruneOnce)
}

func (s *Server) pruneOnce(ctx context.Context) error {
	p, err := s.Service.Prune(ctx, s.Config.ChangeRetention)
	if err != nil {
		return err
	}
	files, err := s.Runner.RemoveOrphanFiles(ctx)
	if p.Runs > 0 || p.Changes > 0 || files > 0 {
		s.Log.Info("pruned", "runs", p.Runs, "changes", p.Changes, "run_files", files)
	}
	return err
}
