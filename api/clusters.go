package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// kiln's compute, as the Clusters API shows it. Clusters created through
// the API are named configurations of this server's one executor, with
// Databricks' life cycle (service/clusters.go). The fixed cluster
// kiln.LocalClusterID, always RUNNING, is this server itself: its
// spark_version and node type are kiln's own names. Runtimes and node
// types are listed with Databricks' keys so that SDK helpers and
// Terraform data sources resolve; all of them run on the local Python
// executor. There are no instance pools and no policies.

// localCluster renders the fixed local cluster.
func localCluster(c service.Compute) map[string]any {
	return map[string]any{
		"cluster_id":              kiln.LocalClusterID,
		"cluster_name":            "kiln (this server)",
		"state":                   kiln.ClusterRunning,
		"state_message":           "",
		"spark_version":           service.LocalSparkVersion(c).Key,
		"node_type_id":            service.LocalNodeType,
		"driver_node_type_id":     service.LocalNodeType,
		"num_workers":             0,
		"cluster_source":          "API",
		"cluster_cores":           c.Cores,
		"cluster_memory_mb":       c.MemoryMB,
		"autotermination_minutes": 0,
		"start_time":              kiln.MillisOf(c.Started),
		"spark_context_id":        kiln.MillisOf(c.Started),
		"runtime_engine":          "STANDARD",
		"spark_conf":              map[string]string{},
		"custom_tags":             map[string]string{"kiln_concurrent_tasks": strconv.Itoa(c.Workers)},
		"default_tags":            map[string]string{"Vendor": "kiln", "ClusterId": kiln.LocalClusterID, "ClusterName": "kiln"},
		"driver":                  map[string]any{"node_id": kiln.LocalClusterID, "host_private_ip": "127.0.0.1"},
	}
}

// clusterJSON renders a stored cluster (ClusterDetails): its spec as
// sent, with kiln's fields.
func clusterJSON(c *kiln.Cluster, compute service.Compute) map[string]any {
	out := map[string]any{}
	var spec map[string]json.RawMessage
	json.Unmarshal(c.Spec, &spec)
	for k, v := range spec {
		out[k] = v
	}
	if _, ok := spec["num_workers"]; !ok && spec["autoscale"] == nil {
		out["num_workers"] = 0
	}
	out["cluster_id"], out["cluster_name"], out["state"], out["state_message"] = c.ID, c.Name, c.State, c.StateMessage
	out["autotermination_minutes"], out["cluster_source"] = c.AutoterminationMinutes, "API"
	out["start_time"] = kiln.MillisOf(c.Created)
	out["cluster_cores"], out["cluster_memory_mb"] = compute.Cores, compute.MemoryMB
	out["default_tags"] = map[string]string{"Vendor": "kiln", "ClusterId": c.ID, "ClusterName": c.Name, "Creator": c.CreatorName}
	if c.CreatorName != "" {
		out["creator_user_name"] = c.CreatorName
	}
	if !c.Started.IsZero() {
		out["last_restarted_time"], out["spark_context_id"] = kiln.MillisOf(c.Started), kiln.MillisOf(c.Started)
	}
	if c.State == kiln.ClusterRunning {
		out["driver"] = map[string]any{"node_id": c.ID, "host_private_ip": "127.0.0.1", "start_timestamp": kiln.MillisOf(c.Started)}
	}
	if c.State == kiln.ClusterTerminated {
		out["terminated_time"] = kiln.MillisOf(c.Terminated)
	}
	if len(c.TerminationReason) > 0 {
		out["termination_reason"] = json.RawMessage(c.TerminationReason)
	}
	return out
}

func (s *Server) createCluster(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeJobsBody(r)
	if err != nil {
		return err
	}
	c, err := s.svc.CreateCluster(r.Context(), body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"cluster_id": c.ID})
	return nil
}

// clusterBodyVerb serves the verbs that take the whole body (edit,
// resize) and answer {}.
func clusterBodyVerb(do func(ctx context.Context, body json.RawMessage) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := decodeJobsBody(r)
		if err != nil {
			return err
		}
		if err := do(r.Context(), body); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
}

// clusterVerb serves the verbs whose body is {"cluster_id": …} alone.
func clusterVerb(do func(ctx context.Context, id string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			ClusterID string `json:"cluster_id"`
		}
		if err := decodeBody(r, &req, true); err != nil {
			return err
		}
		if err := do(r.Context(), req.ClusterID); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
}

// pinCluster is the pin or unpin verb.
func (s *Server) pinCluster(pin bool) handlerFunc {
	return clusterVerb(func(ctx context.Context, id string) error { return s.svc.PinCluster(ctx, id, pin) })
}

func (s *Server) listClusters(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r)
	if err != nil {
		return err
	}
	compute, err := s.svc.LocalCluster(r.Context())
	if err != nil {
		return err
	}
	cs, err := s.svc.ListClusters(r.Context())
	if err != nil {
		return err
	}
	states := p.list("filter_by.cluster_states")
	pinned, err := p.get("filter_by.is_pinned")
	if err != nil {
		return err
	}
	keep := func(state string, isPinned bool) bool {
		return (len(states) == 0 || slices.Contains(states, state)) && (pinned == "" || strings.EqualFold(pinned, strconv.FormatBool(isPinned)))
	}
	out := []any{}
	if keep(kiln.ClusterRunning, false) {
		out = append(out, localCluster(compute))
	}
	for _, c := range cs {
		if keep(c.State, c.Pinned) {
			out = append(out, clusterJSON(c, compute))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"clusters": out})
	return nil
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r)
	if err != nil {
		return err
	}
	id, err := p.get("cluster_id")
	if err != nil {
		return err
	}
	if id == "" {
		return kiln.Errorf(kiln.EInvalid, "Missing required field: cluster_id.")
	}
	compute, err := s.svc.LocalCluster(r.Context())
	if err != nil {
		return err
	}
	if id == kiln.LocalClusterID {
		writeJSON(w, http.StatusOK, localCluster(compute))
		return nil
	}
	c, err := s.svc.GetCluster(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clusterJSON(c, compute))
	return nil
}

// clusterEventsRequest is the body of clusters/events; next_page repeats
// it with the next offset.
type clusterEventsRequest struct {
	ClusterID  string   `json:"cluster_id"`
	StartTime  flexInt  `json:"start_time,omitempty"`
	EndTime    flexInt  `json:"end_time,omitempty"`
	Order      string   `json:"order,omitempty"`
	EventTypes []string `json:"event_types,omitempty"`
	Offset     flexInt  `json:"offset,omitempty"`
	Limit      flexInt  `json:"limit,omitempty"`
}

func (s *Server) clusterEvents(w http.ResponseWriter, r *http.Request) error {
	var req clusterEventsRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	p := service.ClusterEventsParams{ClusterID: req.ClusterID, Types: req.EventTypes, Offset: int(req.Offset), Limit: int(req.Limit)}
	switch strings.ToUpper(req.Order) {
	case "", "DESC":
		p.Descending = true
	case "ASC":
	default:
		return kiln.Errorf(kiln.EInvalid, "order must be ASC or DESC.")
	}
	if req.StartTime > 0 {
		p.Start = time.UnixMilli(int64(req.StartTime))
	}
	if req.EndTime > 0 {
		p.End = time.UnixMilli(int64(req.EndTime))
	}
	es, total, err := s.svc.ClusterEvents(r.Context(), p)
	if err != nil {
		return err
	}
	events := make([]map[string]any, 0, len(es))
	for _, e := range es {
		events = append(events, map[string]any{"cluster_id": e.ClusterID, "timestamp": kiln.MillisOf(e.Time),
			"type": e.Type, "details": json.RawMessage(e.Details)})
	}
	out := map[string]any{"total_count": total}
	if len(events) > 0 {
		out["events"] = events
	}
	limit := p.Limit
	if limit == 0 {
		limit = service.DefaultClusterEventsLimit
	}
	if next := p.Offset + limit; next < total {
		nextReq := req
		nextReq.Offset, nextReq.Limit = flexInt(next), flexInt(limit)
		out["next_page"] = nextReq
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) sparkVersions(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.LocalCluster(r.Context())
	if err != nil {
		return err
	}
	versions := []map[string]string{}
	for _, v := range service.SparkVersions(c) {
		versions = append(versions, map[string]string{"key": v.Key, "name": v.Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": versions})
	return nil
}

func (s *Server) listNodeTypes(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.LocalCluster(r.Context())
	if err != nil {
		return err
	}
	types := []map[string]any{}
	for _, n := range service.NodeTypes(c) {
		types = append(types, map[string]any{
			"node_type_id": n.ID, "instance_type_id": n.ID, "memory_mb": n.MemoryMB, "num_cores": n.Cores,
			"num_gpus": n.GPUs, "category": n.Category, "description": n.Description, "is_deprecated": false,
			"photon_driver_capable": n.Photon, "photon_worker_capable": n.Photon, "is_io_cache_enabled": n.LocalDisks > 0,
			"support_ebs_volumes": true, "support_port_forwarding": true,
			"node_instance_type": map[string]any{"instance_type_id": n.ID, "local_disks": n.LocalDisks,
				"local_disk_size_gb": n.LocalDiskGB, "local_nvme_disks": n.LocalDisks, "local_nvme_disk_size_gb": n.LocalDiskGB},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"node_types": types})
	return nil
}

func (s *Server) listInstancePools(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.svc.LocalCluster(r.Context()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{}) // no pools: the empty list is left out
	return nil
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.svc.LocalCluster(r.Context()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": 0}) // no policies: the empty list is left out
	return nil
}
