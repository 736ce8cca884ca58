package service

import (
	"context"

	"github.com/kiln-dev/kiln"
)

// What the console's Compute pages read: the clusters a caller may use,
// with the caller's level on each (so that a page offers only the verbs
// the service would allow), and what runs on each cluster now. The API's
// clusters/list and clusters/get show every cluster to every user, as
// Databricks does without cluster visibility control; the console lists
// only those a user can attach to, so that a user's Compute page is the
// compute they can use.

// ClusterAccess is a stored cluster and the caller's level on it.
type ClusterAccess struct {
	Cluster *kiln.Cluster
	// Level is LevelCanAttachTo, LevelCanRestart or kiln.LevelCanManage
	// (a cluster's creator and the admins hold CAN_MANAGE).
	Level string
}

// CanRestart reports whether the level allows start and restart.
func (a ClusterAccess) CanRestart() bool { return clusterRanks[a.Level] >= rankRestart }

// CanManage reports whether the level allows terminate (and every other
// change of the cluster).
func (a ClusterAccess) CanManage() bool { return clusterRanks[a.Level] >= rankClusterManage }

// clusterLevels names the ranks.
var clusterLevels = map[int]string{rankAttach: LevelCanAttachTo, rankRestart: LevelCanRestart, rankClusterManage: kiln.LevelCanManage}

// UsableClusters returns the page [offset, offset+limit) of the stored
// clusters the caller holds CAN_ATTACH_TO or better on (admins: all),
// oldest first, with the caller's level on each, and how many there are
// in all. limit 0 means all.
func (s *Service) UsableClusters(ctx context.Context, offset, limit int) ([]ClusterAccess, int, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	if offset < 0 || limit < 0 {
		return nil, 0, kiln.Errorf(kiln.EInvalid, "offset and limit must not be negative.")
	}
	var out []ClusterAccess
	total := 0
	err = s.view(ctx, func(tx kiln.Tx) error {
		cs, err := tx.Clusters()
		if err != nil {
			return err
		}
		for _, cl := range cs {
			rank, err := clusterRank(tx, c, cl)
			if err != nil {
				return err
			}
			if rank < rankAttach {
				continue
			}
			if total >= offset && (limit == 0 || len(out) < limit) {
				out = append(out, ClusterAccess{Cluster: cl, Level: clusterLevels[rank]})
			}
			total++
		}
		return nil
	})
	return out, total, err
}

// UsableCluster returns a stored cluster with the caller's level on it:
// the API's "does not exist" (EInvalid, as Databricks answers) when it
// does not, EPermission, in words, when the caller holds no level on it.
func (s *Service) UsableCluster(ctx context.Context, id string) (*ClusterAccess, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var out *ClusterAccess
	err = s.view(ctx, func(tx kiln.Tx) error {
		cl, err := tx.Cluster(id)
		if err != nil {
			return clusterMissing(err, id)
		}
		rank, err := clusterRank(tx, c, cl)
		if err != nil {
			return err
		}
		if rank < rankAttach {
			return kiln.Errorf(kiln.EPermission, "User %s does not have Attach permission on cluster %s; its creator or an admin can share it.",
				c.Principal.UserName, id)
		}
		out = &ClusterAccess{Cluster: cl, Level: clusterLevels[rank]}
		return nil
	})
	return out, err
}

// ClusterTask is an unfinished task run and its run, as ClusterActivity
// reports it.
type ClusterTask struct {
	Run  *kiln.Run
	Task *kiln.TaskRun
}

// ClusterActivity is what runs on one cluster now: the unfinished task
// runs (queued, waiting, pending or running) whose task names it.
type ClusterActivity struct {
	// Tasks are those of runs the caller may see (their own runs, and
	// every run for an admin), newest run first.
	Tasks []ClusterTask
	// Hidden counts those of runs the caller may not see, and
	// HiddenRunning how many of them are executing now.
	Hidden, HiddenRunning int
}

// executing reports whether a task runs in the executor now (RUNNING, or
// TERMINATING while it is killed); the others wait for a slot or a
// dependency.
func executing(t *kiln.TaskRun) bool {
	return t.LifeCycleState == kiln.LifeCycleRunning || t.LifeCycleState == kiln.LifeCycleTerminating
}

// Running counts the tasks, shown and hidden, executing now.
func (a *ClusterActivity) Running() int {
	n := a.HiddenRunning
	for _, t := range a.Tasks {
		if executing(t.Task) {
			n++
		}
	}
	return n
}

// Waiting counts the tasks, shown and hidden, not executing yet.
func (a *ClusterActivity) Waiting() int { return len(a.Tasks) + a.Hidden - a.Running() }

// MaxActivityRuns bounds how many active runs ClusterActivity reads, the
// newest first; past it, Truncated says the counts are incomplete.
const MaxActivityRuns = 2000

// ClusterActivityReport is ClusterActivity for every cluster that has
// any, by cluster id: kiln.LocalClusterID for the tasks on the local
// executor, which includes tasks naming no cluster or one kiln does not
// know.
type ClusterActivityReport struct {
	ByCluster map[string]*ClusterActivity
	// Truncated says there were more than MaxActivityRuns active runs.
	Truncated bool
}

// Of returns the activity of one cluster, empty when it has none.
func (r *ClusterActivityReport) Of(id string) *ClusterActivity {
	if a := r.ByCluster[id]; a != nil {
		return a
	}
	return &ClusterActivity{}
}

// activityCluster is the cluster a task's recorded cluster id counts on:
// a stored cluster's own id, else the local executor's (tasks queued
// before tasks recorded their cluster, and tasks naming an id kiln does
// not know, run on it). known caches which ids are stored.
func activityCluster(tx kiln.Tx, known map[string]bool, id string) (string, error) {
	if id == "" || id == kiln.LocalClusterID {
		return kiln.LocalClusterID, nil
	}
	stored, seen := known[id]
	if !seen {
		_, err := tx.Cluster(id)
		if err != nil && !kiln.IsCode(err, kiln.ENotFound) {
			return "", err
		}
		stored = err == nil
		known[id] = stored
	}
	if stored {
		return id, nil
	}
	return kiln.LocalClusterID, nil
}

// ClusterActivity reports what runs on each cluster now, for any
// authenticated caller: the unfinished task runs of active runs, by the
// cluster they were recorded to run on. Control tasks (condition_task,
// run_job_task) are left out: the server evaluates them, they take no
// executor slot. A caller sees the tasks of the runs they may see, and
// of the others only how many there are.
func (s *Service) ClusterActivity(ctx context.Context) (*ClusterActivityReport, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	rep := &ClusterActivityReport{ByCluster: map[string]*ClusterActivity{}}
	err = s.view(ctx, func(tx kiln.Tx) error {
		runs, err := tx.Runs(kiln.RunFilter{ActiveOnly: true, WithTasks: true, Limit: MaxActivityRuns + 1})
		if err != nil {
			return err
		}
		if len(runs) > MaxActivityRuns {
			runs, rep.Truncated = runs[:MaxActivityRuns], true
		}
		known := map[string]bool{}
		for _, r := range runs {
			visible := canSee(c, r.OwnerID)
			for _, t := range r.Tasks {
				if t.Done() || t.Exec.Control() {
					continue
				}
				id, err := activityCluster(tx, known, t.Exec.ClusterID)
				if err != nil {
					return err
				}
				a := rep.ByCluster[id]
				if a == nil {
					a = &ClusterActivity{}
					rep.ByCluster[id] = a
				}
				switch {
				case visible:
					a.Tasks = append(a.Tasks, ClusterTask{Run: r, Task: t})
				case executing(t):
					a.Hidden++
					a.HiddenRunning++
				default:
					a.Hidden++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}
