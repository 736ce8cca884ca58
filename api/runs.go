package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

func (s *Server) submitRun(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeJobsBody(r)
	if err != nil {
		return err
	}
	run, err := s.svc.SubmitRun(r.Context(), body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"run_id": run.ID})
	return nil
}

func (s *Server) getRun(version string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := readParams(r)
		if err != nil {
			return err
		}
		id, err := p.requiredID("run_id")
		if err != nil {
			return err
		}
		history, err := p.bool("include_history")
		if err != nil {
			return err
		}
		v, err := s.svc.GetRun(r.Context(), id)
		if err != nil {
			return err
		}
		out := s.renderView(r, v, version)
		if v.Task == nil {
			if latest := v.LatestRepairID(); latest != 0 {
				out["latest_repair_id"] = latest
			}
			if history {
				out["repair_history"] = repairHistoryJSON(v.Repairs)
			}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// repairHistoryJSON renders a run's repair history (RepairHistoryItem):
// the ORIGINAL item without an id, then the REPAIR items.
func repairHistoryJSON(reps []*kiln.RunRepair) []map[string]any {
	out := make([]map[string]any, 0, len(reps))
	for _, rep := range reps {
		item := map[string]any{
			"type": rep.Type, "start_time": kiln.MillisOf(rep.Started), "end_time": kiln.MillisOf(rep.Ended),
			"state":        stateJSON(rep.LifeCycleState, rep.ResultState, rep.StateMessage),
			"status":       statusJSON(rep.LifeCycleState, rep.ResultState, rep.StateMessage),
			"task_run_ids": append([]int64{}, rep.TaskRunIDs...),
		}
		if rep.ID != 0 {
			item["id"] = rep.ID
		}
		out = append(out, item)
	}
	return out
}

// statusJSON renders the newer status object (RunStatus) of a life cycle
// and result: its state, and once terminated, termination_details with
// Databricks' code and type.
func statusJSON(lifeCycle, result, message string) map[string]any {
	state := lifeCycle
	switch lifeCycle {
	case kiln.LifeCycleWaitingForRetry:
		state = "WAITING"
	case kiln.LifeCycleTerminated, kiln.LifeCycleSkipped, kiln.LifeCycleInternalErr:
		state = "TERMINATED"
	}
	out := map[string]any{"state": state}
	if state != "TERMINATED" {
		return out
	}
	code, typ := "RUN_EXECUTION_ERROR", "CLIENT_ERROR"
	switch {
	case lifeCycle == kiln.LifeCycleInternalErr:
		code, typ = "INTERNAL_ERROR", "INTERNAL_ERROR"
	case result == kiln.ResultSuccess:
		code, typ = "SUCCESS", "SUCCESS"
	case result == kiln.ResultCanceled:
		code, typ = "CANCELED", "SUCCESS"
	case lifeCycle == kiln.LifeCycleSkipped:
		code, typ = "SKIPPED", "SUCCESS"
	}
	out["termination_details"] = map[string]any{"code": code, "type": typ, "message": message}
	return out
}

// repairRequest is the body of runs/repair (RepairRun).
type repairRequest struct {
	RerunTasks          []string          `json:"rerun_tasks"`
	RerunAllFailedTasks bool              `json:"rerun_all_failed_tasks"`
	RerunDependentTasks bool              `json:"rerun_dependent_tasks"`
	LatestRepairID      int64             `json:"latest_repair_id"`
	JobParameters       map[string]string `json:"job_parameters"`
	NotebookParams      map[string]string `json:"notebook_params"`
	PythonParams        []string          `json:"python_params"`
	PythonNamedParams   map[string]string `json:"python_named_params"`
	JarParams           []string          `json:"jar_params"`
}

func (s *Server) repairRun(w http.ResponseWriter, r *http.Request) error {
	body, id, err := jobsBodyWithID(r, "run_id")
	if err != nil {
		return err
	}
	var req repairRequest
	if err := decodeInto(body, &req); err != nil {
		return err
	}
	if req.NotebookParams != nil && req.JarParams != nil {
		return kiln.Errorf(kiln.EInvalid, "notebook_params and jar_params cannot be given together.")
	}
	repairID, err := s.svc.RepairRun(r.Context(), service.RepairParams{RunID: id, RerunTasks: req.RerunTasks,
		RerunAllFailedTasks: req.RerunAllFailedTasks, RerunDependentTasks: req.RerunDependentTasks,
		LatestRepairID: req.LatestRepairID, RunParams: service.RunParams{NotebookParams: req.NotebookParams,
			PythonParams: req.PythonParams, PythonNamedParams: req.PythonNamedParams, JobParameters: req.JobParameters}})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"repair_id": repairID})
	return nil
}

// renderView renders what runs/get asked for: the run, or the task run
// the id named, shown as a run.
func (s *Server) renderView(r *http.Request, v *service.RunView, version string) map[string]any {
	if v.Task != nil {
		return s.taskAsRun(r, v.Run, v.Task)
	}
	return s.runJSON(r, v.Run, v.Spec, v.Attempts, version, true)
}

func (s *Server) getRunOutput(version string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := readParams(r)
		if err != nil {
			return err
		}
		id, err := p.requiredID("run_id")
		if err != nil {
			return err
		}
		// Jobs API 2.0 answers for the parent of a single-task run; 2.1 and
		// later refuse every parent, as Databricks does, so automation
		// tested on kiln keeps working there.
		v, err := s.svc.RunOutput(r.Context(), id, version == "2.0")
		if err != nil {
			return err
		}
		t := v.Task
		out := map[string]any{"logs": t.Logs, "logs_truncated": t.LogsTruncated}
		if version == "2.0" && len(v.Run.JobTasks()) == 1 && t.RunID == id {
			out["metadata"] = s.runJSON(r, v.Run, v.Spec, nil, version, true)
		} else {
			out["metadata"] = s.taskAsRun(r, v.Run, t)
		}
		if t.Exec.Kind == kiln.ExecNotebook {
			nb := map[string]any{}
			if t.Result != "" || t.Truncated {
				nb["result"], nb["truncated"] = t.Result, t.Truncated
			}
			out["notebook_output"] = nb
		}
		if t.Exec.Kind == kiln.ExecRunJob && t.ChildRunID != 0 {
			out["run_job_output"] = map[string]any{"run_id": t.ChildRunID}
		}
		if t.Error != "" {
			out["error"] = t.Error
		}
		if t.ErrorTrace != "" {
			out["error_trace"] = t.ErrorTrace
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

func (s *Server) listRuns(version string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := readParams(r)
		if err != nil {
			return err
		}
		var lp service.RunListParams
		var n int64
		if lp.JobID, err = p.int("job_id", 0); err != nil {
			return err
		}
		if lp.ActiveOnly, err = p.bool("active_only"); err != nil {
			return err
		}
		if lp.CompletedOnly, err = p.bool("completed_only"); err != nil {
			return err
		}
		if lp.ExpandTasks, err = p.bool("expand_tasks"); err != nil {
			return err
		}
		if lp.RunType, err = p.get("run_type"); err != nil {
			return err
		}
		if lp.PageToken, err = p.get("page_token"); err != nil {
			return err
		}
		if n, err = p.int("limit", 0); err != nil {
			return err
		}
		lp.Limit = int(n)
		if n, err = p.int("offset", 0); err != nil {
			return err
		}
		lp.Offset = int(n)
		if n, err = p.int("start_time_from", 0); err != nil {
			return err
		}
		lp.StartFrom = kiln.TimeOfMillis(n)
		if n, err = p.int("start_time_to", 0); err != nil {
			return err
		}
		lp.StartTo = kiln.TimeOfMillis(n)
		page, err := s.svc.ListRuns(r.Context(), lp)
		if err != nil {
			return err
		}
		runs := make([]map[string]any, 0, len(page.Runs))
		for _, run := range page.Runs {
			runs = append(runs, s.runJSON(r, run, service.ParseRunSpec(run), page.Attempts[run.ID], version, lp.ExpandTasks))
		}
		writeJSON(w, http.StatusOK, listPage("runs", runs, version, page.HasMore, page.NextPageToken))
		return nil
	}
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) error {
	_, id, err := jobsBodyWithID(r, "run_id")
	if err != nil {
		return err
	}
	if err := s.svc.CancelRun(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) cancelAllRuns(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeJobsBody(r)
	if err != nil {
		return err
	}
	var req struct {
		JobID         int64 `json:"job_id"`
		AllQueuedRuns bool  `json:"all_queued_runs"`
	}
	if err := decodeInto(body, &req); err != nil {
		return err
	}
	if err := s.svc.CancelAllRuns(r.Context(), req.JobID, req.AllQueuedRuns); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) deleteRun(w http.ResponseWriter, r *http.Request) error {
	_, id, err := jobsBodyWithID(r, "run_id")
	if err != nil {
		return err
	}
	if err := s.svc.DeleteRun(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

// runPageURL is the console page of a run. Databricks' own shape is
// <host>/?o=<workspace>#job/<job>/run/<run>; kiln's console serves runs at
// /jobs/<job>/runs/<run>, the path of Databricks' newer job UI, so the
// link works without client-side routing.
func (s *Server) runPageURL(r *http.Request, jobID, runID int64) string {
	return strings.TrimSuffix(s.publicURL(r), "/") + "/jobs/" + strconv.FormatInt(jobID, 10) + "/runs/" +
		strconv.FormatInt(runID, 10) + "?o=" + s.orgID
}

// stateJSON renders a run's or task's state. result_state appears only
// once the life cycle is terminal; state_message always.
func stateJSON(lifeCycle, result, message string) map[string]any {
	st := map[string]any{"life_cycle_state": lifeCycle, "state_message": message,
		"user_cancelled_or_timedout": result == kiln.ResultCanceled || result == kiln.ResultTimedOut}
	if kiln.IsTerminal(lifeCycle) && result != "" {
		st["result_state"] = result
	}
	if lifeCycle == kiln.LifeCycleQueued {
		st["queue_reason"] = "Waiting for a free kiln executor (max concurrent runs) or the job's max_concurrent_runs."
	}
	return st
}

// durations renders the duration fields of something started at started,
// ended at ended (zero while running), queued since created.
func durations(out map[string]any, created, started, ended time.Time) {
	out["setup_duration"], out["cleanup_duration"], out["execution_duration"] = int64(0), int64(0), int64(0)
	if !started.IsZero() {
		out["queue_duration"] = started.Sub(created).Milliseconds()
		if !ended.IsZero() {
			out["execution_duration"] = ended.Sub(started).Milliseconds()
		}
	}
	if !ended.IsZero() {
		out["run_duration"] = ended.Sub(created).Milliseconds()
	}
}

// runJSON renders a run as runs/get returns it. Jobs API 2.0 shows a
// single-task run in its legacy shape: the task's fields under "task",
// its compute under "cluster_spec" and "cluster_instance", no "tasks".
// tasks lists the job's tasks, each retried one's earlier attempts
// (from attempts) before its latest, as Databricks lists every attempt;
// the iterations of a for_each task are listed by runs/get on that task.
func (s *Server) runJSON(r *http.Request, run *kiln.Run, spec service.RunSpec, attempts []*kiln.TaskRun, version string, withTasks bool) map[string]any {
	out := map[string]any{
		"job_id": run.JobID, "run_id": run.ID, "number_in_job": run.ID, "original_attempt_run_id": run.ID,
		"run_name": run.RunName, "run_type": run.RunType, "trigger": run.Trigger(), "attempt_number": 0,
		"state":        stateJSON(run.LifeCycleState, run.ResultState, run.StateMessage),
		"run_page_url": s.runPageURL(r, run.JobID, run.ID),
		"start_time":   kiln.MillisOf(run.Created), "end_time": kiln.MillisOf(run.Ended),
	}
	if run.OwnerName != "" {
		out["creator_user_name"] = run.OwnerName
	}
	if spec.Format != "" {
		out["format"] = spec.Format
	}
	if spec.OverridingParameters != nil {
		out["overriding_parameters"] = spec.OverridingParameters
	}
	if len(spec.JobParameters) > 0 {
		out["job_parameters"] = spec.JobParameters
	}
	if spec.ParentTaskRunID != 0 {
		out["trigger"], out["trigger_info"] = "RUN_JOB_TASK", map[string]any{"run_id": spec.ParentTaskRunID}
	}
	if spec.Trigger != "" {
		out["trigger"] = spec.Trigger
	}
	durations(out, run.Created, run.Started, run.Ended)
	if jobTasks := run.JobTasks(); version == "2.0" && len(jobTasks) == 1 {
		t := jobTasks[0]
		def := definitionOf(t)
		task, cluster := map[string]json.RawMessage{}, map[string]json.RawMessage{}
		for k, v := range def {
			switch k {
			case "existing_cluster_id", "new_cluster", "libraries", "job_cluster_key":
				cluster[k] = v
			case "task_key", "depends_on", "run_if", "timeout_seconds", "max_retries", "min_retry_interval_millis", "retry_on_timeout", "description":
			default:
				task[k] = v
			}
		}
		out["task"], out["cluster_spec"] = task, cluster
		if !t.Started.IsZero() {
			out["cluster_instance"] = clusterInstance(run, t)
		}
		return out
	}
	if withTasks {
		earlier := map[int64][]*kiln.TaskRun{}
		for _, a := range attempts {
			earlier[a.AttemptOf] = append(earlier[a.AttemptOf], a)
		}
		tasks := make([]map[string]any, 0, len(run.Tasks)+len(attempts))
		for _, t := range run.JobTasks() {
			for _, a := range earlier[t.ID] {
				tasks = append(tasks, s.taskJSON(r, run, a))
			}
			tasks = append(tasks, s.taskJSON(r, run, t))
		}
		out["tasks"] = tasks
	}
	return out
}

// definitionOf is a task's submitted definition as a field map.
func definitionOf(t *kiln.TaskRun) map[string]json.RawMessage {
	def := map[string]json.RawMessage{}
	json.Unmarshal(t.Definition, &def)
	return def
}

// clusterInstance is the cluster a task ran on: the one it named (stored,
// or unknown to kiln and run on the local executor), else the local one.
func clusterInstance(run *kiln.Run, t *kiln.TaskRun) map[string]string {
	id := t.Exec.ClusterID
	if id == "" {
		id = kiln.LocalClusterID // runs queued before tasks recorded their cluster
	}
	return map[string]string{"cluster_id": id, "spark_context_id": strconv.FormatInt(run.ID, 10)}
}

// taskJSON renders one task of a run: its definition, with its run id,
// state and times.
func (s *Server) taskJSON(r *http.Request, run *kiln.Run, t *kiln.TaskRun) map[string]any {
	out := map[string]any{}
	for k, v := range definitionOf(t) {
		out[k] = v
	}
	if t.ParentID == 0 {
		out["task_key"] = t.TaskKey
	}
	out["run_id"], out["attempt_number"] = t.ID, t.Attempt
	out["state"] = stateJSON(t.LifeCycleState, t.ResultState, t.StateMessage)
	out["start_time"], out["end_time"] = kiln.MillisOf(t.Started), kiln.MillisOf(t.Ended)
	out["run_page_url"] = s.runPageURL(r, run.JobID, t.ID)
	durations(out, run.Created, t.Started, t.Ended)
	if !t.Started.IsZero() && !t.Exec.Control() {
		out["cluster_instance"] = clusterInstance(run, t)
	}
	if t.Exec.Kind == kiln.ExecCondition && t.Outcome != "" {
		out["condition_task"] = withField(out["condition_task"], "outcome", t.Outcome)
	}
	if t.Exec.Kind == kiln.ExecForEach && t.AttemptOf == 0 {
		out["for_each_task"] = withField(out["for_each_task"], "stats", forEachStats(run.Iterations(t.ID)))
	}
	if t.ParentID != 0 {
		// An iteration shows its nested task's key (its own key in the
		// store is the parent's with its index) and its index.
		if key, ok := out["task_key"].(json.RawMessage); ok {
			var k string
			if json.Unmarshal(key, &k) == nil && k != "" {
				out["task_key"] = k
			}
		}
		out["iteration"] = t.Iteration
	}
	return out
}

// forEachStats is a for_each task's ForEachStats: how its iterations
// stand (task_run_stats).
func forEachStats(iters []*kiln.TaskRun) map[string]any {
	var scheduled, active, completed, succeeded, failed int
	for _, it := range iters {
		if it.LifeCycleState != kiln.LifeCyclePending {
			scheduled++
		}
		switch {
		case it.Done() && it.ResultState == kiln.ResultSuccess:
			completed++
			succeeded++
		case it.Done():
			completed++
			failed++
		case it.LifeCycleState != kiln.LifeCyclePending:
			active++
		}
	}
	return map[string]any{"task_run_stats": map[string]int{
		"total_iterations": len(iters), "scheduled_iterations": scheduled, "active_iterations": active,
		"completed_iterations": completed, "succeeded_iterations": succeeded, "failed_iterations": failed,
	}}
}

// withField returns a task type object of a definition (raw JSON) with
// one more field: what the run adds to it, such as a condition's outcome.
func withField(def any, key string, value any) map[string]any {
	obj := map[string]any{}
	if raw, ok := def.(json.RawMessage); ok {
		json.Unmarshal(raw, &obj)
	}
	obj[key] = value
	return obj
}

// taskAsRun renders a task run as a run of its own (runs/get on a task
// run id, and get-output's metadata).
func (s *Server) taskAsRun(r *http.Request, run *kiln.Run, t *kiln.TaskRun) map[string]any {
	out := s.taskJSON(r, run, t)
	out["job_id"], out["number_in_job"] = run.JobID, t.ID
	if t.AttemptOf == 0 {
		out["original_attempt_run_id"] = t.ID
	}
	if t.Exec.Kind == kiln.ExecForEach && t.AttemptOf == 0 {
		iters := []map[string]any{}
		for _, it := range run.Iterations(t.ID) {
			iters = append(iters, s.taskJSON(r, run, it))
		}
		out["iterations"] = iters
	}
	out["parent_run_id"], out["run_name"], out["run_type"] = run.ID, run.RunName, run.RunType
	if run.OwnerName != "" {
		out["creator_user_name"] = run.OwnerName
	}
	return out
}
