package service

import (
	"regexp"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

func TestClusterSweepDue(t *testing.T) {
	t0 := time.UnixMilli(1_750_000_000_000).UTC()
	for _, c := range []struct {
		name string
		c    kiln.Cluster
		at   time.Duration // after t0
		want bool
	}{
		{"PendingTooYoung", kiln.Cluster{State: kiln.ClusterPending, StateSince: t0}, ClusterTransition / 2, false},
		{"PendingDue", kiln.Cluster{State: kiln.ClusterPending, StateSince: t0}, ClusterTransition, true},
		{"RestartingDue", kiln.Cluster{State: kiln.ClusterRestarting, StateSince: t0}, ClusterTransition, true},
		{"ResizingDue", kiln.Cluster{State: kiln.ClusterResizing, StateSince: t0}, ClusterTransition, true},
		{"TerminatingDue", kiln.Cluster{State: kiln.ClusterTerminating, StateSince: t0}, ClusterTransition, true},
		{"TerminatedNever", kiln.Cluster{State: kiln.ClusterTerminated, StateSince: t0}, 24 * time.Hour, false},
		{"RunningWithoutAutotermination", kiln.Cluster{State: kiln.ClusterRunning, Started: t0}, 24 * time.Hour, false},
		{"RunningIdleShort", kiln.Cluster{State: kiln.ClusterRunning, Started: t0, AutoterminationMinutes: 10}, 9 * time.Minute, false},
		{"RunningIdleLong", kiln.Cluster{State: kiln.ClusterRunning, Started: t0, AutoterminationMinutes: 10}, 10 * time.Minute, true},
		{"RunningRecentRun", kiln.Cluster{State: kiln.ClusterRunning, Started: t0, LastActivity: t0.Add(5 * time.Minute),
			AutoterminationMinutes: 10}, 11 * time.Minute, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := sweepDue(&c.c, t0.Add(c.at)); got != c.want {
				t.Errorf("sweepDue = %v, want %v", got, c.want)
			}
		})
	}
}

func TestNewClusterIDShape(t *testing.T) {
	shape := regexp.MustCompile(`^1203-140509-[a-z0-9]{8}$`)
	at := time.Date(2026, 12, 3, 14, 5, 9, 0, time.UTC)
	seen := map[string]bool{}
	for range 100 {
		id := newClusterID(at)
		if !shape.MatchString(id) || seen[id] {
			t.Fatalf("cluster id %q: not of the shape, or repeated", id)
		}
		seen[id] = true
	}
}

func TestClusterCatalogKnowsWhatItLists(t *testing.T) {
	c := Compute{PythonVersion: "3.11", Cores: 2, MemoryMB: 4096}
	for _, v := range SparkVersions(c) {
		if !knownSparkVersion(c, v.Key) {
			t.Errorf("listed runtime %s is refused", v.Key)
		}
	}
	for _, n := range NodeTypes(c) {
		if !knownNodeType(n.ID) {
			t.Errorf("listed node type %s is refused", n.ID)
		}
	}
	if knownSparkVersion(c, "kiln-python3.12") || knownNodeType("x9.huge") {
		t.Errorf("unlisted names accepted")
	}
}
