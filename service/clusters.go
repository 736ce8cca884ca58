package service

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// Clusters are named configurations of this server's one executor. Their
// life cycle is Databricks' (PENDING -> RUNNING; RESTARTING, RESIZING ->
// RUNNING; TERMINATING -> TERMINATED; autotermination after idle
// minutes), moved on by SweepClusters, and tasks naming one as
// existing_cluster_id run on the local executor and are recorded as run
// on it. Every user sees and may use every cluster; its creator and
// admins change it; admins pin it. The fixed local cluster,
// kiln.LocalClusterID, is not stored: it is this server, always RUNNING.

// Audit actions of clusters.
const (
	AuditClusterCreate          = "clusters.create"
	AuditClusterEdit            = "clusters.edit"
	AuditClusterStart           = "clusters.start"
	AuditClusterRestart         = "clusters.restart"
	AuditClusterResize          = "clusters.resize"
	AuditClusterDelete          = "clusters.delete"
	AuditClusterPermanentDelete = "clusters.permanentDelete"
	AuditClusterPin             = "clusters.pin"
	AuditClusterUnpin           = "clusters.unpin"
)

// Cluster event types, as Databricks names them.
const (
	EventCreating        = "CREATING"
	EventStarting        = "STARTING"
	EventRunning         = "RUNNING"
	EventRestarting      = "RESTARTING"
	EventResizing        = "RESIZING"
	EventUpsizeCompleted = "UPSIZE_COMPLETED"
	EventEdited          = "EDITED"
	EventTerminating     = "TERMINATING"
	EventTerminated      = "TERMINATED"
	EventPinned          = "PINNED"
	EventUnpinned        = "UNPINNED"
)

// ClusterTransition is how long a cluster stays in a passing state
// (PENDING, RESTARTING, RESIZING, TERMINATING) at least: the local
// executor is always ready, but clients that create and then wait must
// see the state Databricks would show them first.
const ClusterTransition = time.Second

// Autotermination bounds, as Databricks documents them (0: never).
const (
	MinAutoterminationMinutes = 10
	MaxAutoterminationMinutes = 10000
)

// clusterSpec is the part of a ClusterSpec kiln interprets; the rest is
// kept as sent and returned by clusters/get.
type clusterSpec struct {
	ClusterID              string `json:"cluster_id"`
	ClusterName            string `json:"cluster_name"`
	SparkVersion           string `json:"spark_version"`
	NodeTypeID             string `json:"node_type_id"`
	DriverNodeTypeID       string `json:"driver_node_type_id"`
	InstancePoolID         string `json:"instance_pool_id"`
	NumWorkers             *int64 `json:"num_workers"`
	AutoterminationMinutes int64  `json:"autotermination_minutes"`
	Autoscale              *struct {
		MinWorkers int64 `json:"min_workers"`
		MaxWorkers int64 `json:"max_workers"`
	} `json:"autoscale"`
}

// clusterOutputFields are fields of ClusterDetails a client may send back
// (Terraform reads, edits and resends) that are kiln's to set.
var clusterOutputFields = []string{"cluster_id", "state", "state_message", "start_time", "terminated_time",
	"last_state_loss_time", "last_restarted_time", "creator_user_name", "termination_reason", "default_tags",
	"cluster_source", "spark_context_id", "cluster_cores", "cluster_memory_mb", "driver", "executors", "jdbc_port"}

// parseClusterSpec checks a ClusterSpec and returns it with kiln's fields
// removed, for storing.
func (s *Service) parseClusterSpec(raw json.RawMessage) (*clusterSpec, []byte, error) {
	var spec clusterSpec
	if err := strictUnmarshal(raw, &spec, "cluster"); err != nil {
		return nil, nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, nil, kiln.Errorf(kiln.EInvalid, "The cluster must be a JSON object.")
	}
	compute := s.localCompute()
	switch {
	case spec.SparkVersion == "":
		return nil, nil, kiln.Errorf(kiln.EInvalid, "Missing required field: spark_version.")
	case !knownSparkVersion(compute, spec.SparkVersion):
		return nil, nil, kiln.Errorf(kiln.EInvalid, "Invalid spark version %s.", spec.SparkVersion)
	case spec.NodeTypeID == "" && spec.InstancePoolID == "":
		return nil, nil, kiln.Errorf(kiln.EInvalid, "Missing required field: node_type_id.")
	case spec.NodeTypeID != "" && !knownNodeType(spec.NodeTypeID):
		return nil, nil, kiln.Errorf(kiln.EInvalid, "Node type %s is not supported.", spec.NodeTypeID)
	case spec.DriverNodeTypeID != "" && !knownNodeType(spec.DriverNodeTypeID):
		return nil, nil, kiln.Errorf(kiln.EInvalid, "Node type %s is not supported.", spec.DriverNodeTypeID)
	case spec.InstancePoolID != "":
		return nil, nil, kiln.Errorf(kiln.EInvalid, "Instance pool %s does not exist.", spec.InstancePoolID)
	case spec.NumWorkers != nil && *spec.NumWorkers < 0:
		return nil, nil, kiln.Errorf(kiln.EInvalid, "num_workers must not be negative.")
	case spec.Autoscale != nil && (spec.Autoscale.MinWorkers < 0 || spec.Autoscale.MaxWorkers < spec.Autoscale.MinWorkers || spec.Autoscale.MaxWorkers < 1):
		return nil, nil, kiln.Errorf(kiln.EInvalid, "autoscale needs 0 <= min_workers <= max_workers and max_workers >= 1.")
	case spec.AutoterminationMinutes != 0 && (spec.AutoterminationMinutes < MinAutoterminationMinutes || spec.AutoterminationMinutes > MaxAutoterminationMinutes):
		return nil, nil, kiln.Errorf(kiln.EInvalid, "Automatic termination must be between %d and %d minutes, or 0 to disable it.",
			MinAutoterminationMinutes, MaxAutoterminationMinutes)
	case len(spec.ClusterName) > maxRunNameBytes:
		return nil, nil, kiln.Errorf(kiln.EInvalid, "cluster_name is longer than %d bytes.", maxRunNameBytes)
	}
	for _, f := range clusterOutputFields {
		delete(obj, f)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, nil, kiln.Internal(err)
	}
	return &spec, b, nil
}

func (s *Service) localCompute() Compute {
	if s.compute == nil {
		return Compute{}
	}
	return s.compute()
}

// newClusterID returns an id of Databricks' shape, MMDD-HHMMSS-xxxxxxxx.
func newClusterID(now time.Time) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return now.UTC().Format("0102-150405") + "-" + string(b)
}

// clusterMissing is the API's answer for a cluster that does not exist,
// worded as Databricks does (400; the SDKs map it to not-found).
func clusterMissing(err error, id string) error {
	if kiln.IsCode(err, kiln.ENotFound) {
		return clusterNotFound(id)
	}
	return err
}

// invalidState is Databricks' answer to a verb the cluster's state does
// not allow: 400 INVALID_STATE.
func invalidState(c *kiln.Cluster) error {
	state := strings.ToUpper(c.State[:1]) + strings.ToLower(c.State[1:])
	return kiln.Errorf(kiln.EInvalid, "Cluster %s is in unexpected state %s.", c.ID, state).WithReason("INVALID_STATE")
}

// localClusterFixed refuses changes to the fixed local cluster.
func localClusterFixed(id string) error {
	if id == kiln.LocalClusterID {
		return kiln.Errorf(kiln.EInvalid, "Cluster %s is this server's executor: it is always running and cannot be changed.", id).
			WithReason("INVALID_STATE")
	}
	return nil
}

// setState moves c to state at now, with its event.
func setState(tx kiln.Tx, c *kiln.Cluster, state, message, event string, details map[string]any, now time.Time) error {
	c.State, c.StateMessage, c.StateSince = state, message, now
	if err := tx.UpdateCluster(c); err != nil {
		return err
	}
	return addEvent(tx, c.ID, event, details, now)
}

func addEvent(tx kiln.Tx, id, typ string, details map[string]any, now time.Time) error {
	if details == nil {
		details = map[string]any{}
	}
	b, err := json.Marshal(details)
	if err != nil {
		return kiln.Internal(err)
	}
	return tx.AddClusterEvent(&kiln.ClusterEvent{ClusterID: id, Time: now, Type: typ, Details: b})
}

// CreateCluster creates a cluster of spec (the body of clusters/create)
// for the caller; it starts PENDING and is RUNNING after a moment.
func (s *Service) CreateCluster(ctx context.Context, raw json.RawMessage) (*kiln.Cluster, error) {
	caller, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	spec, b, err := s.parseClusterSpec(raw)
	if err != nil {
		return nil, err
	}
	var c *kiln.Cluster
	err = s.store.Update(ctx, func(tx kiln.Tx) error {
		now := tx.Now()
		for range 5 {
			c = &kiln.Cluster{ID: newClusterID(now), Name: spec.ClusterName, CreatorID: caller.Principal.ID,
				CreatorName: caller.Principal.UserName, Spec: b, State: kiln.ClusterPending,
				StateMessage: "Starting kiln's local executor.", AutoterminationMinutes: int(spec.AutoterminationMinutes),
				Created: now, StateSince: now, LastActivity: now}
			if err = tx.CreateCluster(c); !kiln.IsCode(err, kiln.EConflict) {
				break
			}
		}
		if err != nil {
			return err
		}
		if err := addEvent(tx, c.ID, EventCreating, map[string]any{"user": caller.Principal.UserName}, now); err != nil {
			return err
		}
		return tx.Audit(auditEvent(caller, AuditClusterCreate, clusterTarget(c.ID)))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func clusterTarget(id string) string { return "cluster:" + id }

// GetCluster returns a stored cluster (every user sees every cluster).
func (s *Service) GetCluster(ctx context.Context, id string) (*kiln.Cluster, error) {
	if _, err := callerOf(ctx); err != nil {
		return nil, err
	}
	var c *kiln.Cluster
	err := s.view(ctx, func(tx kiln.Tx) (err error) {
		c, err = tx.Cluster(id)
		return clusterMissing(err, id)
	})
	return c, err
}

// ListClusters returns the stored clusters, oldest first.
func (s *Service) ListClusters(ctx context.Context) ([]*kiln.Cluster, error) {
	if _, err := callerOf(ctx); err != nil {
		return nil, err
	}
	var cs []*kiln.Cluster
	err := s.view(ctx, func(tx kiln.Tx) (err error) {
		cs, err = tx.Clusters()
		return err
	})
	return cs, err
}

// ClusterExists reports whether id names a cluster: the fixed local one
// or a stored one (any authenticated caller). For permission checks on
// the clusters object type.
func (s *Service) ClusterExists(ctx context.Context, id string) (bool, error) {
	if _, err := callerOf(ctx); err != nil {
		return false, err
	}
	if id == kiln.LocalClusterID {
		return true, nil
	}
	err := s.view(ctx, func(tx kiln.Tx) error {
		_, err := tx.Cluster(id)
		return err
	})
	if kiln.IsCode(err, kiln.ENotFound) {
		return false, nil
	}
	return err == nil, err
}

// changeCluster runs fn on cluster id in a write transaction, for a
// caller who holds at least need on it (admins only with adminOnly), and
// audits action.
func (s *Service) changeCluster(ctx context.Context, id, action string, need int, adminOnly bool, fn func(tx kiln.Tx, c *kiln.Cluster, now time.Time) error) error {
	caller, err := callerOf(ctx)
	if err != nil {
		return err
	}
	if id == "" {
		return kiln.Errorf(kiln.EInvalid, "Missing required field: cluster_id.")
	}
	if err := localClusterFixed(id); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		c, err := tx.Cluster(id)
		if err != nil {
			return clusterMissing(err, id)
		}
		if adminOnly && !isAdmin(caller) {
			return kiln.Errorf(kiln.EPermission, "User %s does not have Manage permission on cluster %s.", caller.Principal.UserName, id)
		}
		if err := checkClusterRank(tx, caller, c, need); err != nil {
			return err
		}
		if err := fn(tx, c, tx.Now()); err != nil {
			return err
		}
		return tx.Audit(auditEvent(caller, action, clusterTarget(id)))
	})
}

// EditCluster replaces a cluster's spec (the body of clusters/edit,
// cluster_id included). A RUNNING cluster restarts; a TERMINATED one
// stays so; in other states the edit is refused.
func (s *Service) EditCluster(ctx context.Context, raw json.RawMessage) error {
	spec, b, err := s.parseClusterSpec(raw)
	if err != nil {
		return err
	}
	return s.changeCluster(ctx, spec.ClusterID, AuditClusterEdit, rankClusterManage, false, func(tx kiln.Tx, c *kiln.Cluster, now time.Time) error {
		if c.State != kiln.ClusterRunning && c.State != kiln.ClusterTerminated {
			return invalidState(c)
		}
		c.Name, c.Spec, c.AutoterminationMinutes = spec.ClusterName, b, int(spec.AutoterminationMinutes)
		if err := tx.UpdateCluster(c); err != nil {
			return err
		}
		if err := addEvent(tx, c.ID, EventEdited, nil, now); err != nil {
			return err
		}
		if c.State == kiln.ClusterRunning {
			return setState(tx, c, kiln.ClusterRestarting, "Restarting with the new configuration.", EventRestarting, nil, now)
		}
		return nil
	})
}

// StartCluster starts a TERMINATED cluster.
func (s *Service) StartCluster(ctx context.Context, id string) error {
	return s.changeCluster(ctx, id, AuditClusterStart, rankRestart, false, func(tx kiln.Tx, c *kiln.Cluster, now time.Time) error {
		if c.State != kiln.ClusterTerminated {
			return invalidState(c)
		}
		return startCluster(tx, c, now)
	})
}

func startCluster(tx kiln.Tx, c *kiln.Cluster, now time.Time) error {
	c.TerminationReason, c.LastActivity = nil, now
	return setState(tx, c, kiln.ClusterPending, "Starting kiln's local executor.", EventStarting, nil, now)
}

// RestartCluster restarts a RUNNING cluster.
func (s *Service) RestartCluster(ctx context.Context, id string) error {
	return s.changeCluster(ctx, id, AuditClusterRestart, rankRestart, false, func(tx kiln.Tx, c *kiln.Cluster, now time.Time) error {
		if c.State != kiln.ClusterRunning {
			return invalidState(c)
		}
		return setState(tx, c, kiln.ClusterRestarting, "Restarting kiln's local executor.", EventRestarting, nil, now)
	})
}

// ResizeCluster sets a RUNNING cluster's num_workers or autoscale (the
// body of clusters/resize); kiln records them, its executor stays one.
func (s *Service) ResizeCluster(ctx context.Context, raw json.RawMessage) error {
	var req struct {
		ClusterID  string          `json:"cluster_id"`
		NumWorkers *int64          `json:"num_workers"`
		Autoscale  json.RawMessage `json:"autoscale"`
	}
	if err := strictUnmarshal(raw, &req, "request"); err != nil {
		return err
	}
	hasAutoscale := len(req.Autoscale) > 0 && string(req.Autoscale) != "null"
	if (req.NumWorkers == nil) == !hasAutoscale {
		return kiln.Errorf(kiln.EInvalid, "Exactly one of num_workers or autoscale must be set.")
	}
	if req.NumWorkers != nil && *req.NumWorkers < 0 {
		return kiln.Errorf(kiln.EInvalid, "num_workers must not be negative.")
	}
	return s.changeCluster(ctx, req.ClusterID, AuditClusterResize, rankClusterManage, false, func(tx kiln.Tx, c *kiln.Cluster, now time.Time) error {
		if c.State != kiln.ClusterRunning {
			return invalidState(c)
		}
		var obj map[string]json.RawMessage
		json.Unmarshal(c.Spec, &obj)
		if obj == nil {
			obj = map[string]json.RawMessage{}
		}
		details := map[string]any{}
		if req.NumWorkers != nil {
			delete(obj, "autoscale")
			obj["num_workers"], _ = json.Marshal(*req.NumWorkers)
			details["target_num_workers"] = *req.NumWorkers
		} else {
			delete(obj, "num_workers")
			obj["autoscale"] = req.Autoscale
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return kiln.Internal(err)
		}
		c.Spec = b
		return setState(tx, c, kiln.ClusterResizing, "Resizing (kiln's local executor stays one).", EventResizing, details, now)
	})
}

// TerminateCluster terminates a cluster (clusters/delete); terminating a
// TERMINATED or TERMINATING one succeeds without a change.
func (s *Service) TerminateCluster(ctx context.Context, id string) error {
	caller, err := callerOf(ctx)
	if err != nil {
		return err
	}
	return s.changeCluster(ctx, id, AuditClusterDelete, rankClusterManage, false, func(tx kiln.Tx, c *kiln.Cluster, now time.Time) error {
		if c.State == kiln.ClusterTerminated || c.State == kiln.ClusterTerminating {
			return nil
		}
		reason := map[string]any{"code": "USER_REQUEST", "type": "SUCCESS", "parameters": map[string]string{"username": caller.Principal.UserName}}
		return terminate(tx, c, reason, "Terminating at the user's request.", now)
	})
}

func terminate(tx kiln.Tx, c *kiln.Cluster, reason map[string]any, message string, now time.Time) error {
	b, err := json.Marshal(reason)
	if err != nil {
		return kiln.Internal(err)
	}
	c.TerminationReason = b
	return setState(tx, c, kiln.ClusterTerminating, message, EventTerminating, map[string]any{"reason": reason}, now)
}

// PermanentDeleteCluster removes a cluster and its events in any state.
func (s *Service) PermanentDeleteCluster(ctx context.Context, id string) error {
	return s.changeCluster(ctx, id, AuditClusterPermanentDelete, rankClusterManage, false, func(tx kiln.Tx, c *kiln.Cluster, _ time.Time) error {
		return tx.DeleteCluster(c.ID)
	})
}

// PinCluster pins or unpins a cluster (admins only).
func (s *Service) PinCluster(ctx context.Context, id string, pin bool) error {
	action, event := AuditClusterPin, EventPinned
	if !pin {
		action, event = AuditClusterUnpin, EventUnpinned
	}
	return s.changeCluster(ctx, id, action, rankClusterManage, true, func(tx kiln.Tx, c *kiln.Cluster, now time.Time) error {
		if c.Pinned == pin {
			return nil
		}
		c.Pinned = pin
		if err := tx.UpdateCluster(c); err != nil {
			return err
		}
		return addEvent(tx, c.ID, event, nil, now)
	})
}

// ClusterEventsParams select a page of clusters/events.
type ClusterEventsParams struct {
	ClusterID  string
	Start, End time.Time
	Types      []string
	Descending bool
	Offset     int
	// Limit 0 is DefaultClusterEventsLimit; at most MaxClusterEventsLimit.
	Limit int
}

// Page bounds of clusters/events, as Databricks documents them.
const (
	DefaultClusterEventsLimit = 50
	MaxClusterEventsLimit     = 500
)

// ClusterEvents returns a page of a cluster's events and how many match.
func (s *Service) ClusterEvents(ctx context.Context, p ClusterEventsParams) ([]kiln.ClusterEvent, int, error) {
	if _, err := callerOf(ctx); err != nil {
		return nil, 0, err
	}
	if p.ClusterID == "" {
		return nil, 0, kiln.Errorf(kiln.EInvalid, "Missing required field: cluster_id.")
	}
	if p.Limit == 0 {
		p.Limit = DefaultClusterEventsLimit
	}
	if p.Limit < 0 || p.Limit > MaxClusterEventsLimit || p.Offset < 0 {
		return nil, 0, kiln.Errorf(kiln.EInvalid, "limit must be between 1 and %d, offset not negative.", MaxClusterEventsLimit)
	}
	var es []kiln.ClusterEvent
	var total int
	err := s.view(ctx, func(tx kiln.Tx) error {
		if p.ClusterID == kiln.LocalClusterID {
			return nil
		}
		if _, err := tx.Cluster(p.ClusterID); err != nil {
			return clusterMissing(err, p.ClusterID)
		}
		var err error
		es, total, err = tx.ClusterEvents(kiln.ClusterEventFilter{ClusterID: p.ClusterID, Start: p.Start, End: p.End,
			Types: p.Types, Descending: p.Descending, Offset: p.Offset, Limit: p.Limit})
		return err
	})
	return es, total, err
}

// SweepClusters moves clusters on as of now: passing states (PENDING,
// RESTARTING, RESIZING, TERMINATING) end once they are ClusterTransition
// old, and a RUNNING cluster idle for its autotermination_minutes
// terminates (INACTIVITY). The server calls it every half second (tests
// pass a later now to skip idle minutes); it writes only when a cluster
// changes.
func (s *Service) SweepClusters(ctx context.Context, now time.Time) error {
	var due []string
	if err := s.view(ctx, func(tx kiln.Tx) error {
		cs, err := tx.Clusters()
		for _, c := range cs {
			if sweepDue(c, now) {
				due = append(due, c.ID)
			}
		}
		return err
	}); err != nil || len(due) == 0 {
		return err
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		for _, id := range due {
			c, err := tx.Cluster(id)
			if kiln.IsCode(err, kiln.ENotFound) {
				continue
			} else if err != nil {
				return err
			}
			if !sweepDue(c, now) {
				continue
			}
			// Stamped with the transaction's clock: now only decides.
			if err := sweepCluster(tx, c, tx.Now()); err != nil {
				return err
			}
		}
		return nil
	})
}

func sweepDue(c *kiln.Cluster, now time.Time) bool {
	switch c.State {
	case kiln.ClusterPending, kiln.ClusterRestarting, kiln.ClusterResizing, kiln.ClusterTerminating:
		return now.Sub(c.StateSince) >= ClusterTransition
	case kiln.ClusterRunning:
		return c.AutoterminationMinutes > 0 && now.Sub(idleSince(c)) >= time.Duration(c.AutoterminationMinutes)*time.Minute
	}
	return false
}

// idleSince is when a running cluster was last used: started, or given a
// run, whichever is later.
func idleSince(c *kiln.Cluster) time.Time {
	if c.LastActivity.After(c.Started) {
		return c.LastActivity
	}
	return c.Started
}

func sweepCluster(tx kiln.Tx, c *kiln.Cluster, now time.Time) error {
	switch c.State {
	case kiln.ClusterPending, kiln.ClusterRestarting:
		c.Started = now
		return setState(tx, c, kiln.ClusterRunning, "", EventRunning, nil, now)
	case kiln.ClusterResizing:
		return setState(tx, c, kiln.ClusterRunning, "", EventUpsizeCompleted, nil, now)
	case kiln.ClusterTerminating:
		c.Terminated = now
		message := "Terminated."
		var reason struct {
			Code string `json:"code"`
		}
		json.Unmarshal(c.TerminationReason, &reason)
		if reason.Code == "INACTIVITY" {
			message = fmt.Sprintf("Inactive cluster terminated (inactive for %d minutes).", c.AutoterminationMinutes)
		}
		return setState(tx, c, kiln.ClusterTerminated, message, EventTerminated, nil, now)
	case kiln.ClusterRunning:
		reason := map[string]any{"code": "INACTIVITY", "type": "SUCCESS",
			"parameters": map[string]string{"inactivity_duration_min": fmt.Sprint(c.AutoterminationMinutes)}}
		return terminate(tx, c, reason, "Terminating: inactive beyond autotermination_minutes.", now)
	}
	return nil
}

// useClusters checks the existing_cluster_id of tasks about to run, in
// the run's transaction: an id kiln does not know runs on the local
// executor unless the workspace setting kilnRejectUnknownClusterIds
// refuses it; a known cluster is marked active, and started when it was
// terminated, as Databricks starts a job's terminated cluster.
//
// The run's principal (runAs) must hold CAN_ATTACH_TO on every stored
// cluster the tasks name.
func (s *Service) useClusters(tx kiln.Tx, runAs *kiln.Caller, tasks []*task) error {
	ids, err := unknownClusters(tx, tasks)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		if err := rejectUnknown(tx, ids[0]); err != nil {
			return err
		}
	}
	now := tx.Now()
	for _, id := range clusterIDsOf(tasks) {
		c, err := tx.Cluster(id)
		if err != nil {
			continue // unknown: already judged
		}
		if runAs != nil {
			if err := checkClusterRank(tx, runAs, c, rankAttach); err != nil {
				return err
			}
		}
		if c.State == kiln.ClusterTerminated || c.State == kiln.ClusterTerminating {
			c.Started = time.Time{}
			if err := startCluster(tx, c, now); err != nil {
				return err
			}
			continue
		}
		c.LastActivity = now
		if err := tx.UpdateCluster(c); err != nil {
			return err
		}
	}
	return nil
}

// checkJobClusters refuses, when the workspace setting asks for it, saved
// job settings naming an unknown existing_cluster_id.
func checkJobClusters(tx kiln.Tx, settings []byte) error {
	_, tasks, err := parseSettings(settings, "task")
	if err != nil {
		return err
	}
	ids, err := unknownClusters(tx, tasks)
	if err != nil || len(ids) == 0 {
		return err
	}
	return rejectUnknown(tx, ids[0])
}

// clusterIDsOf lists the stored clusters tasks name, once each.
func clusterIDsOf(tasks []*task) []string {
	var ids []string
	for _, t := range tasks {
		if id := t.ExistingClusterID; id != "" && id != kiln.LocalClusterID && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func unknownClusters(tx kiln.Tx, tasks []*task) ([]string, error) {
	var unknown []string
	for _, id := range clusterIDsOf(tasks) {
		if _, err := tx.Cluster(id); kiln.IsCode(err, kiln.ENotFound) {
			unknown = append(unknown, id)
		} else if err != nil {
			return nil, err
		}
	}
	return unknown, nil
}

func rejectUnknown(tx kiln.Tx, id string) error {
	stored, err := tx.Settings()
	if err != nil {
		return err
	}
	if strings.EqualFold(valueOr(stored, kiln.ConfRejectUnknownClusterIDs), "true") {
		return clusterNotFound(id)
	}
	return nil
}
