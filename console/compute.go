package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// The Compute pages: the clusters kiln models and what runs on them now.
// The first row is always this server's own executor, the fixed cluster
// kiln.LocalClusterID the Clusters API lists first: it is always
// running, everyone may run on it, and nothing changes it, so it has no
// buttons; its page shows its task slots, cores, memory, Python and
// sandbox. The rows after it are the clusters created through the API
// that the user holds CAN_ATTACH_TO or better on (admins: all), oldest
// first, paged like the console's other lists. A cluster's page offers
// Start (a TERMINATED cluster) and Restart (a RUNNING one) to holders of
// CAN_RESTART, and Terminate to holders of CAN_MANAGE; each is a post
// through the Clusters API's service call with the signed-in user as the
// caller, so a forged post is refused by the service's own check, in its
// words. "What runs on it now" are the unfinished task runs of active
// runs recorded to run on the cluster (service.ClusterActivity): the
// user's own (all, for an admin) linked to their run pages, and of the
// others only how many.

const computeSection = "Compute"

// maxClusterIDBytes bounds a cluster id in a path: kiln's ids are 25
// bytes, the local one 10, and a client may name others up to this.
const maxClusterIDBytes = 100

// clusterPath is the address of a cluster's page.
func clusterPath(id string) string { return "/compute/" + url.PathEscape(id) }

// clusterRow is one row of the Compute list, or the head of a cluster's
// page.
type clusterRow struct {
	ID, Name, State, StateMessage string
	Runtime, NodeType, Workers    string
	Creator                       string
	Path                          string
	// Level is the user's permission, in words.
	Level string
	// Local marks this server's own executor.
	Local bool
	// Running and Waiting count the unfinished tasks on the cluster.
	Running, Waiting int
}

// StateClass is the state's badge style.
func (r clusterRow) StateClass() string {
	switch r.State {
	case kiln.ClusterRunning:
		return "badge-ok"
	case kiln.ClusterTerminated:
		return "badge-off"
	}
	return "badge-warn"
}

// StateText is the state as the pages show it: "Running".
func (r clusterRow) StateText() string { return stateWords(r.State) }

// RunsNow is the "Runs now" cell: "2 running, 1 waiting", or "Idle".
func (r clusterRow) RunsNow() string {
	var parts []string
	if r.Running > 0 {
		parts = append(parts, fmt.Sprintf("%d running", r.Running))
	}
	if r.Waiting > 0 {
		parts = append(parts, fmt.Sprintf("%d waiting", r.Waiting))
	}
	if len(parts) == 0 {
		return "Idle"
	}
	return strings.Join(parts, ", ")
}

func stateWords(s string) string {
	if s == "" {
		return ""
	}
	return s[:1] + strings.ToLower(s[1:])
}

// clusterSpecView is the part of a stored spec the pages show.
type clusterSpecView struct {
	SparkVersion string `json:"spark_version"`
	NodeTypeID   string `json:"node_type_id"`
	NumWorkers   *int64 `json:"num_workers"`
	Autoscale    *struct {
		MinWorkers int64 `json:"min_workers"`
		MaxWorkers int64 `json:"max_workers"`
	} `json:"autoscale"`
}

func storedRow(a service.ClusterAccess, act *service.ClusterActivity) clusterRow {
	cl := a.Cluster
	var spec clusterSpecView
	json.Unmarshal(cl.Spec, &spec)
	workers := "0"
	switch {
	case spec.Autoscale != nil:
		workers = fmt.Sprintf("%d to %d (autoscale)", spec.Autoscale.MinWorkers, spec.Autoscale.MaxWorkers)
	case spec.NumWorkers != nil:
		workers = strconv.FormatInt(*spec.NumWorkers, 10)
	}
	creator := cl.CreatorName
	if creator == "" {
		creator = "(deleted user)"
	}
	return clusterRow{ID: cl.ID, Name: cl.Name, State: cl.State, StateMessage: cl.StateMessage, Runtime: spec.SparkVersion,
		NodeType: spec.NodeTypeID, Workers: workers, Creator: creator, Path: clusterPath(cl.ID), Level: levelWords(a.Level),
		Running: act.Running(), Waiting: act.Waiting()}
}

func localRow(compute service.Compute, act *service.ClusterActivity) clusterRow {
	return clusterRow{ID: kiln.LocalClusterID, Name: "kiln (this server)", State: kiln.ClusterRunning,
		Runtime: service.LocalSparkVersion(compute).Key, NodeType: service.LocalNodeType, Workers: "0",
		Creator: "This server", Path: clusterPath(kiln.LocalClusterID), Level: levelWords(service.LevelCanAttachTo), Local: true,
		Running: act.Running(), Waiting: act.Waiting()}
}

// computeData is the Compute list.
type computeData struct {
	Rows      []clusterRow
	Slots     int
	Pager     *pager
	Truncated bool
}

func (c *Console) computePage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	compute, err := c.svc.LocalCluster(ctx)
	if err != nil {
		return err
	}
	act, err := c.svc.ClusterActivity(ctx)
	if err != nil {
		return err
	}
	p := readPage(r.URL.Query())
	list, total, err := c.storedPage(r, p)
	if err != nil {
		return err
	}
	if p.clamp(1 + total) {
		// Past the end: the last page.
		if list, total, err = c.storedPage(r, p); err != nil {
			return err
		}
	}
	d := &computeData{Slots: compute.Workers, Truncated: act.Truncated}
	if p.Offset() == 0 {
		d.Rows = append(d.Rows, localRow(compute, act.Of(kiln.LocalClusterID)))
	}
	for _, a := range list {
		d.Rows = append(d.Rows, storedRow(a, act.Of(a.Cluster.ID)))
	}
	d.Pager = newPager("clusters", "/compute", nil, p, 1+total, len(d.Rows))
	c.render(w, r, http.StatusOK, "compute", &page{Title: computeSection, Section: computeSection, Data: d})
	return nil
}

// storedPage reads the stored clusters on page p of the list, whose row 0
// is the local executor.
func (c *Console) storedPage(r *http.Request, p pageRequest) ([]service.ClusterAccess, int, error) {
	offset, limit := p.Offset()-1, p.Size
	if p.Offset() == 0 {
		offset, limit = 0, p.Size-1
	}
	list, total, err := c.svc.UsableClusters(r.Context(), offset, max(limit, 0))
	if limit == 0 {
		list = nil // a page of one row holds the local executor alone
	}
	return list, total, err
}

// clusterData is one cluster's page.
type clusterData struct {
	clusterRow
	Created, Started, Terminated time.Time
	Autotermination              string
	TerminationCode              string
	// The actions the user's level and the cluster's state allow.
	Start     string
	Restart   *confirmation
	Terminate *confirmation
	// NoActions explains, for a stored cluster, why there are no buttons.
	NoActions string
	Tasks     []clusterTaskRow
	Hidden    int
	Truncated bool
	// RefreshSeconds is how often, with scripts, the page updates itself.
	RefreshSeconds int

	// The local executor's resources.
	Slots, Cores  int
	MemoryMB      int64
	Python        string
	Sandbox       string
	SandboxError  string
	SandboxOff    bool
	ServerStarted time.Time
}

// clusterTaskRow is one unfinished task run on a cluster.
type clusterTaskRow struct {
	RunName, RunPath, TaskKey, State string
	Running                          bool
	Started                          time.Time
}

// clusterID reads the {id} path segment.
func clusterID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxClusterIDBytes {
		return "", errNoSuchPage
	}
	return id, nil
}

// usableCluster reads the cluster the path names, for the caller; a
// cluster that does not exist is a missing page.
func (c *Console) usableCluster(r *http.Request) (*service.ClusterAccess, error) {
	id, err := clusterID(r)
	if err != nil {
		return nil, err
	}
	if id == kiln.LocalClusterID {
		return nil, kiln.Errorf(kiln.EInvalid, "Cluster %s is this server's executor: it is always running and cannot be started, restarted or terminated.", id)
	}
	a, err := c.svc.UsableCluster(r.Context(), id)
	if kiln.IsCode(err, kiln.EInvalid) {
		return nil, kiln.Errorf(kiln.ENotFound, "There is no cluster %s.", id)
	}
	return a, err
}

func restartConfirmation(row clusterRow) *confirmation {
	return &confirmation{Label: "Restart", Title: "Restart cluster " + row.Name + "?", Action: row.Path + "/restart", Back: row.Path,
		Text: "Restart the cluster " + row.Name + " (" + row.ID + ")? It is unavailable for new tasks until it is running again."}
}

func terminateConfirmation(row clusterRow) *confirmation {
	return &confirmation{Label: "Terminate", Title: "Terminate cluster " + row.Name + "?", Action: row.Path + "/terminate", Back: row.Path, Danger: true,
		Text: "Terminate the cluster " + row.Name + " (" + row.ID + ")? Its configuration is kept, and it can be started again; a job run that names it starts it."}
}

// clusterRefreshSeconds is how often, with scripts, a cluster's page
// updates itself: a state change or a task run shows up without a reload.
const clusterRefreshSeconds = 3

func (c *Console) clusterPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := clusterID(r)
	if err != nil {
		return err
	}
	act, err := c.svc.ClusterActivity(ctx)
	if err != nil {
		return err
	}
	d := &clusterData{Truncated: act.Truncated, RefreshSeconds: clusterRefreshSeconds}
	if id == kiln.LocalClusterID {
		compute, err := c.svc.LocalCluster(ctx)
		if err != nil {
			return err
		}
		d.clusterRow = localRow(compute, act.Of(id))
		d.Slots, d.Cores, d.MemoryMB, d.Python, d.ServerStarted = compute.Workers, compute.Cores, compute.MemoryMB, compute.PythonVersion, compute.Started
		d.Sandbox, d.SandboxOff = compute.Sandbox, compute.SandboxOff
		if compute.SandboxError != nil {
			d.SandboxError = "Tasks cannot run on this server now: its sandbox is unavailable. An admin sees why in the Admin Console."
			if currentUser(r).IsAdmin() {
				d.SandboxError = "Tasks cannot run on this server now: " + compute.SandboxError.Error()
			}
		}
	} else {
		a, err := c.usableCluster(r)
		if err != nil {
			return err
		}
		cl := a.Cluster
		d.clusterRow = storedRow(*a, act.Of(id))
		d.Created, d.Started, d.Terminated = cl.Created, cl.Started, cl.Terminated
		d.Autotermination = "Never"
		if cl.AutoterminationMinutes > 0 {
			d.Autotermination = fmt.Sprintf("After %d minutes idle", cl.AutoterminationMinutes)
		}
		var reason struct {
			Code string `json:"code"`
		}
		json.Unmarshal(cl.TerminationReason, &reason)
		d.TerminationCode = reason.Code
		if a.CanRestart() && cl.State == kiln.ClusterTerminated {
			d.Start = d.Path + "/start"
		}
		if a.CanRestart() && cl.State == kiln.ClusterRunning {
			d.Restart = restartConfirmation(d.clusterRow)
		}
		if a.CanManage() && cl.State != kiln.ClusterTerminated && cl.State != kiln.ClusterTerminating {
			d.Terminate = terminateConfirmation(d.clusterRow)
		}
		switch {
		case !a.CanRestart():
			d.NoActions = "Your permission, Can Attach To, lets you run tasks on this cluster. Starting and restarting it need Can Restart, terminating it Can Manage: its creator or an admin can grant them."
		case d.Start == "" && d.Restart == nil && d.Terminate == nil:
			d.NoActions = "The cluster is " + strings.ToLower(d.StateText()) + "; refresh the page for the buttons its next state allows."
		case !a.CanManage():
			d.NoActions = "Terminating the cluster needs Can Manage: its creator or an admin can grant it."
		}
	}
	a := act.Of(id)
	d.Hidden = a.Hidden
	for _, t := range a.Tasks {
		name := t.Run.RunName
		if name == "" {
			name = "Run"
		}
		d.Tasks = append(d.Tasks, clusterTaskRow{RunName: fmt.Sprintf("%s #%d", name, t.Run.ID), RunPath: runPath(t.Run.JobID, t.Run.ID),
			TaskKey: t.Task.TaskKey, State: stateWords(t.Task.LifeCycleState), Running: t.Task.LifeCycleState == kiln.LifeCycleRunning, Started: t.Task.Started})
	}
	title := d.Name
	if title == "" {
		title = d.ID
	}
	c.render(w, r, http.StatusOK, "compute_cluster", &page{Title: title, Section: computeSection, Data: d})
	return nil
}

// clusterVerb serves a post of Start, Restart or Terminate: the service
// call do as the signed-in user, then the cluster's page saying done.
func (c *Console) clusterVerb(do func(ctx context.Context, id string) error, done string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := clusterID(r)
		if err != nil {
			return err
		}
		if id == kiln.LocalClusterID {
			_, err := c.usableCluster(r)
			return err
		}
		if err := do(r.Context(), id); err != nil {
			if kiln.IsCode(err, kiln.EInvalid) && strings.HasSuffix(kiln.ErrorMessage(err), "does not exist.") {
				return kiln.Errorf(kiln.ENotFound, "There is no cluster %s.", id)
			}
			return err
		}
		c.redirectWith(w, r, clusterPath(id), "ok", fmt.Sprintf(done, id))
		return nil
	}
}

// confirmClusterVerb is the confirmation page of Restart or Terminate,
// without scripts; a user below the level it needs is refused in words
// rather than asked to confirm what the service would refuse.
func (c *Console) confirmClusterVerb(manage bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := c.usableCluster(r)
		if err != nil {
			return err
		}
		row := storedRow(*a, &service.ClusterActivity{})
		if manage {
			if !a.CanManage() {
				return kiln.Errorf(kiln.EPermission, "You do not have Manage permission on cluster %s, which terminating it needs.", a.Cluster.ID)
			}
			c.showConfirmation(w, r, computeSection, "", *terminateConfirmation(row))
			return nil
		}
		if !a.CanRestart() {
			return kiln.Errorf(kiln.EPermission, "You do not have Restart permission on cluster %s, which restarting it needs.", a.Cluster.ID)
		}
		c.showConfirmation(w, r, computeSection, "", *restartConfirmation(row))
		return nil
	}
}
