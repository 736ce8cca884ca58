package kiln

import "time"

// Cluster states, exactly as Databricks names them (clients poll them and
// wait for RUNNING or TERMINATED).
const (
	ClusterPending     = "PENDING"
	ClusterRunning     = "RUNNING"
	ClusterRestarting  = "RESTARTING"
	ClusterResizing    = "RESIZING"
	ClusterTerminating = "TERMINATING"
	ClusterTerminated  = "TERMINATED"
)

// Cluster is a named configuration of this server's one executor: what
// the Clusters API creates, starts and terminates. Spec is the
// ClusterSpec JSON as accepted (fields kiln does not interpret
// round-trip); the columns beside it are what the life cycle reads.
type Cluster struct {
	// ID has Databricks' shape, such as 0123-456789-abcdefgh.
	ID        string
	Name      string
	CreatorID int64
	// CreatorName is the creator's user name, filled on read ("" once the
	// creator is deleted).
	CreatorName string
	Spec        []byte // JSON ClusterSpec
	State       string
	// StateMessage explains State; TerminationReason is the JSON
	// termination_reason object of a TERMINATING or TERMINATED cluster.
	StateMessage      string
	TerminationReason []byte
	Pinned            bool
	// AutoterminationMinutes is how long a RUNNING cluster may be idle
	// before the sweep terminates it; 0 never.
	AutoterminationMinutes int
	Created                time.Time
	// StateSince is when State was entered; Started when the cluster last
	// entered RUNNING; Terminated when it last became TERMINATED;
	// LastActivity when it last started or was given a run.
	StateSince   time.Time
	Started      time.Time
	Terminated   time.Time
	LastActivity time.Time
}

// ClusterEvent is one entry of a cluster's event log (clusters/events).
type ClusterEvent struct {
	// Seq orders events: a store assigns increasing values.
	Seq       int64
	ClusterID string
	Time      time.Time
	// Type is Databricks' event type: CREATING, STARTING, RUNNING, …
	Type string
	// Details is the JSON details object.
	Details []byte
}

// ClusterEventFilter selects events of one cluster. Zero fields do not
// filter.
type ClusterEventFilter struct {
	ClusterID string
	// Start and End bound the event time, both inclusive.
	Start, End time.Time
	Types      []string
	// Descending orders newest first (else oldest first).
	Descending bool
	// Offset skips events; Limit 0 means all.
	Offset, Limit int
}

// ClusterTx stores clusters and their events.
type ClusterTx interface {
	// CreateCluster inserts c; a zero c.Created is the transaction time.
	// EConflict if the id is taken.
	CreateCluster(c *Cluster) error
	// Cluster returns the cluster with the id, or ENotFound.
	Cluster(id string) (*Cluster, error)
	// Clusters returns every cluster, oldest first (then by id).
	Clusters() ([]*Cluster, error)
	// UpdateCluster replaces every field of cluster c.ID but its creator
	// and creation time; ENotFound if it does not exist.
	UpdateCluster(c *Cluster) error
	// DeleteCluster removes the cluster and its events; ENotFound if it
	// does not exist.
	DeleteCluster(id string) error
	// AddClusterEvent appends e (zero Time: the transaction time) and sets
	// e.Seq; ENotFound if the cluster does not exist.
	AddClusterEvent(e *ClusterEvent) error
	// ClusterEvents returns the page f selects and how many events match
	// f without its Offset and Limit.
	ClusterEvents(f ClusterEventFilter) ([]ClusterEvent, int, error)
}
