package server

import (
	"context"
	"time"
)

// clusterSweepInterval is how often clusters move on (PENDING -> RUNNING,
// TERMINATING -> TERMINATED, autotermination): well under
// service.ClusterTransition, so a passing state lasts about that long.
const clusterSweepInterval = 500 * time.Millisecond

// sweepClusters runs the service's cluster sweep until ctx ends. Every
// replica sweeps; the sweep's writes are idempotent under the store's
// write lock, and a sweep with nothing to do only reads.
func (s *Server) sweepClusters(ctx context.Context) {
	t := time.NewTicker(clusterSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := s.Service.SweepClusters(ctx, now); err != nil && ctx.Err() == nil {
				s.Log.Warn("sweeping clusters", "err", err)
			}
		}
	}
}
