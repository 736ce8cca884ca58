package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// kiln's compute, as the Clusters API shows it: one cluster,
// kiln.LocalClusterID, always RUNNING, which is this server's executors.
// Its spark_version and node type are kiln's own names, not Databricks
// runtimes: nothing here pretends to run Spark. Jobs may name the cluster
// as existing_cluster_id, or describe a new_cluster (accepted, and run on
// the same executors). There are no instance pools and no policies.

// sparkVersionKey names kiln's runtime in spark-versions and clusters.
func sparkVersionKey(c service.Compute) string {
	if c.PythonVersion == "" {
		return "kiln-python3"
	}
	return "kiln-python" + c.PythonVersion
}

// localNodeType is the node type of the local cluster.
const localNodeType = "kiln-local"

func (s *Server) localCluster(r *http.Request) (map[string]any, error) {
	c, err := s.svc.LocalCluster(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"cluster_id":              kiln.LocalClusterID,
		"cluster_name":            "kiln (this server)",
		"state":                   "RUNNING",
		"state_message":           "",
		"spark_version":           sparkVersionKey(c),
		"node_type_id":            localNodeType,
		"driver_node_type_id":     localNodeType,
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
	}, nil
}

func (s *Server) listClusters(w http.ResponseWriter, r *http.Request) error {
	c, err := s.localCluster(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"clusters": []any{c}})
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
	c, err := s.localCluster(r)
	if err != nil {
		return err
	}
	if id != kiln.LocalClusterID {
		// 400 with this wording, as Databricks: the SDKs map it to NotFound.
		return kiln.Errorf(kiln.EInvalid, "Cluster %s does not exist.", id)
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) sparkVersions(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.LocalCluster(r.Context())
	if err != nil {
		return err
	}
	name := "kiln local executor (python3)"
	if c.PythonVersion != "" {
		name = fmt.Sprintf("kiln local executor (Python %s)", c.PythonVersion)
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]string{"key": sparkVersionKey(c), "name": name}}})
	return nil
}

func (s *Server) listNodeTypes(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.LocalCluster(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"node_types": []any{map[string]any{
		"node_type_id": localNodeType, "instance_type_id": localNodeType,
		"memory_mb": c.MemoryMB, "num_cores": c.Cores, "num_gpus": 0, "category": "General Purpose",
		"description":   fmt.Sprintf("This kiln server: %d cores, %d MB, %d concurrent tasks", c.Cores, c.MemoryMB, c.Workers),
		"is_deprecated": false,
	}}})
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
