package service

import (
	"context"

	"github.com/kiln-dev/kiln"
)

// Cluster permissions follow Databricks: CAN_ATTACH_TO lets a principal
// run on a cluster, CAN_RESTART also starts and restarts it, CAN_MANAGE
// also edits, resizes, terminates and deletes it and changes its
// permissions. A cluster's creator and the admins hold CAN_MANAGE; pinning
// stays with the admins. Every user sees every cluster, as on Databricks.

// Cluster permission levels.
const (
	LevelCanAttachTo = "CAN_ATTACH_TO"
	LevelCanRestart  = "CAN_RESTART"
)

// Cluster permission ranks.
const (
	rankAttach = iota + 1
	rankRestart
	rankClusterManage
)

// clusterRanks maps the levels that can be granted on clusters to ranks.
var clusterRanks = map[string]int{LevelCanAttachTo: rankAttach, LevelCanRestart: rankRestart, kiln.LevelCanManage: rankClusterManage}

// clusterLevelNames are the words of refusals, by rank.
var clusterLevelNames = map[int]string{rankAttach: "Attach", rankRestart: "Restart", rankClusterManage: "Manage"}

// ClusterPermissionLevels lists the levels of a cluster's permissions.
func ClusterPermissionLevels() []PermissionLevel {
	return []PermissionLevel{
		{LevelCanAttachTo, "Can attach to"},
		{LevelCanRestart, "Can restart"},
		{kiln.LevelCanManage, "Can manage"},
	}
}

// clusterRank returns the caller's rank on a cluster.
func clusterRank(tx kiln.Tx, c *kiln.Caller, cl *kiln.Cluster) (int, error) {
	if isAdmin(c) || cl.CreatorID == c.Principal.ID {
		return rankClusterManage, nil
	}
	acl, err := tx.ObjectACL(kiln.ObjectTypeClusters, cl.ID)
	if err != nil {
		return rankNone, err
	}
	return grantedRank(acl, kiln.Grantees(c.Principal), clusterRanks), nil
}

// checkClusterRank refuses a caller who holds less than need on cl.
func checkClusterRank(tx kiln.Tx, c *kiln.Caller, cl *kiln.Cluster, need int) error {
	rank, err := clusterRank(tx, c, cl)
	if err != nil {
		return err
	}
	if rank < need {
		return kiln.Errorf(kiln.EPermission, "User %s does not have %s permission on cluster %s.", c.Principal.UserName, clusterLevelNames[need], cl.ID)
	}
	return nil
}

// clusterPermissions lists a cluster's creator and admins (CAN_MANAGE) and
// its grants.
func clusterPermissions(tx kiln.Tx, cl *kiln.Cluster) ([]Permission, error) {
	return ownedObjectPermissions(tx, cl.CreatorID, kiln.LevelCanManage, kiln.ObjectTypeClusters, cl.ID)
}

// ClusterPermissions returns a stored cluster's permissions (any user).
func (s *Service) ClusterPermissions(ctx context.Context, id string) ([]Permission, error) {
	if _, err := callerOf(ctx); err != nil {
		return nil, err
	}
	var out []Permission
	err := s.view(ctx, func(tx kiln.Tx) error {
		cl, err := tx.Cluster(id)
		if err != nil {
			return clusterMissing(err, id)
		}
		out, err = clusterPermissions(tx, cl)
		return err
	})
	return out, err
}

// SetClusterPermissions changes a cluster's grants (CAN_MANAGE on it):
// with replace (PUT) entries become the whole list, otherwise (PATCH)
// they are merged in. An entry giving the creator CAN_MANAGE is accepted
// and changes nothing.
func (s *Service) SetClusterPermissions(ctx context.Context, id string, entries []kiln.ACLEntry, replace bool) ([]Permission, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := localClusterFixed(id); err != nil {
		return nil, err
	}
	var out []Permission
	err = s.update(ctx, func(tx kiln.Tx) error {
		cl, err := tx.Cluster(id)
		if err != nil {
			return clusterMissing(err, id)
		}
		if err := checkClusterRank(tx, c, cl, rankClusterManage); err != nil {
			return err
		}
		spec := grantSpec{objectType: kiln.ObjectTypeClusters, ranks: clusterRanks, levels: "CAN_ATTACH_TO, CAN_RESTART or CAN_MANAGE"}
		if err := writeGrants(tx, c, spec, cl.ID, "permissions:"+clusterTarget(cl.ID), entries, replace); err != nil {
			return err
		}
		out, err = clusterPermissions(tx, cl)
		return err
	})
	return out, err
}
