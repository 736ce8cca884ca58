package service

// Repairing finished runs (jobs/runs/repair).

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// AuditRunRepair is the audit action of runs/repair.
const AuditRunRepair = "jobs.repairRun"

// ReasonInvalidStateForRun is the error_code of a repair refused because
// the run is still active.
const ReasonInvalidStateForRun = "INVALID_STATE_FOR_RUN"

// RepairParams are the inputs of jobs/runs/repair.
type RepairParams struct {
	RunID int64
	// RerunTasks names the tasks to run again; RerunAllFailedTasks picks
	// every task that did not succeed instead. Exactly one is required.
	RerunTasks          []string
	RerunAllFailedTasks bool
	// RerunDependentTasks also reruns the dependents of those tasks that
	// succeeded (dependents that did not succeed always run again).
	RerunDependentTasks bool
	// LatestRepairID must be the run's latest repair id once the run has
	// been repaired, and unset before (optimistic concurrency).
	LatestRepairID int64
	// RunParams override the parameters of the rerun tasks, as run-now's
	// do (Only is not used).
	RunParams
}

// RepairRun reruns tasks of a finished run (runs/repair) and returns the
// repair's id. The tasks chosen run again under new task run ids, with
// their transitive dependents that did not succeed (and, with
// RerunDependentTasks, those that did); every other task keeps its
// result, and the run's result is derived over all tasks once the rerun
// ones end. It needs CAN_MANAGE_RUN on the run's job (owners and admins
// always may). An active run is EInvalid with ReasonInvalidStateForRun; a
// stale or missing LatestRepairID is EInvalid (INVALID_PARAMETER_VALUE),
// as Databricks answers.
func (s *Service) RepairRun(ctx context.Context, p RepairParams) (int64, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return 0, err
	}
	if p.RunID <= 0 {
		return 0, kiln.Errorf(kiln.EInvalid, "run_id is required.")
	}
	if len(p.RerunTasks) > 0 && p.RerunAllFailedTasks {
		return 0, kiln.Errorf(kiln.EInvalid, "Only one of rerun_tasks or rerun_all_failed_tasks can be used.")
	}
	if len(p.RerunTasks) == 0 && !p.RerunAllFailedTasks {
		return 0, kiln.Errorf(kiln.EInvalid, "Set rerun_tasks or rerun_all_failed_tasks to say which tasks to repair.")
	}
	if len(p.Only) > 0 {
		return 0, kiln.Errorf(kiln.EInvalid, "only cannot be used in a repair.")
	}
	if err := checkRunParams(p.RunParams, ""); err != nil {
		return 0, err
	}
	var repairID int64
	err = s.store.Update(ctx, func(tx kiln.Tx) error {
		v, err := lookupRun(tx, c, p.RunID, rankManageRun)
		if err != nil {
			return err
		}
		run := v.Run
		if v.Task != nil {
			return kiln.Errorf(kiln.EInvalid, "Run %d is a task run: repair its job run, %d.", p.RunID, run.ID)
		}
		if run.Active() {
			return kiln.Errorf(kiln.EInvalid, "Run %d is %s: only a finished run can be repaired; wait for it to end or cancel it.",
				run.ID, run.LifeCycleState).WithReason(ReasonInvalidStateForRun)
		}
		history, err := tx.RunRepairs(run.ID)
		if err != nil {
			return err
		}
		if err := checkLatestRepair(run.ID, history, p.LatestRepairID); err != nil {
			return err
		}
		keys, err := repairKeys(run, p)
		if err != nil {
			return err
		}
		if err := s.checkWaitingRuns(tx, run.OwnerID, run.OwnerName); err != nil {
			return err
		}
		spec := kiln.RepairSpec{RunID: run.ID, TaskKeys: keys}
		if p.overriding() != nil || p.JobParameters != nil {
			if spec.Exec, spec.Spec, err = repairOverrides(run, v.Spec, keys, p.RunParams); err != nil {
				return err
			}
		}
		rep, err := tx.RepairRun(spec)
		if err != nil {
			return err
		}
		repairID = rep.ID
		ev := auditEvent(c, AuditRunRepair, runTarget(run.ID))
		ev.Detail = map[string]string{"repair_id": strconv.FormatInt(rep.ID, 10), "rerun_tasks": strings.Join(keys, ",")}
		if run.JobID != 0 && run.RunType == kiln.RunTypeJob {
			ev.Detail["job_id"] = strconv.FormatInt(run.JobID, 10)
		}
		return tx.Audit(ev)
	})
	if err != nil {
		return 0, err
	}
	s.wake()
	return repairID, nil
}

// checkLatestRepair applies latest_repair_id: unset before the first
// repair, the latest repair's id after.
func checkLatestRepair(runID int64, history []*kiln.RunRepair, given int64) error {
	var latest int64
	if n := len(history); n > 0 {
		latest = history[n-1].ID
	}
	switch {
	case given == latest:
		return nil
	case latest == 0:
		return kiln.Errorf(kiln.EInvalid, "Run %d has not been repaired: latest_repair_id %d is not a repair of it.", runID, given)
	case given == 0:
		return kiln.Errorf(kiln.EInvalid, "Run %d has been repaired: latest_repair_id must be given, and be its latest repair (%d).", runID, latest)
	}
	return kiln.Errorf(kiln.EInvalid, "latest_repair_id %d is not the latest repair of run %d (%d): the run was repaired meanwhile.", given, runID, latest)
}

// repairKeys are the tasks a repair runs again, in task order: the ones
// asked for (or every one that did not succeed), and their dependents
// that did not succeed, or all of them with RerunDependentTasks.
func repairKeys(run *kiln.Run, p RepairParams) ([]string, error) {
	byKey := make(map[string]*kiln.TaskRun, len(run.JobTasks()))
	for _, t := range run.JobTasks() {
		byKey[t.TaskKey] = t
	}
	seeds := p.RerunTasks
	for _, k := range seeds {
		if byKey[k] == nil {
			return nil, kiln.Errorf(kiln.EInvalid, "Run %d has no task %s.", run.ID, k)
		}
	}
	if p.RerunAllFailedTasks {
		for _, t := range run.JobTasks() {
			if t.Unsuccessful() {
				seeds = append(seeds, t.TaskKey)
			}
		}
		if len(seeds) == 0 {
			return nil, kiln.Errorf(kiln.EInvalid, "Run %d has no failed tasks to repair.", run.ID)
		}
	}
	rerun := map[string]bool{}
	for _, k := range seeds {
		rerun[k] = true
	}
	for _, k := range run.Dependents(seeds) {
		if p.RerunDependentTasks || byKey[k].Unsuccessful() {
			rerun[k] = true
		}
	}
	var keys []string
	for _, t := range run.JobTasks() {
		if rerun[t.TaskKey] {
			keys = append(keys, t.TaskKey)
		}
	}
	return keys, nil
}

// repairOverrides resolves what the rerun tasks run with the repair's
// parameters, exactly as run-now would from their definitions (job
// parameters default to the values the run resolved), and the run's new
// spec recording them.
func repairOverrides(run *kiln.Run, spec RunSpec, keys []string, p RunParams) (map[string]kiln.TaskExec, []byte, error) {
	rerun := map[string]bool{}
	for _, k := range keys {
		rerun[k] = true
	}
	st := &settings{}
	for _, jp := range spec.JobParameters {
		st.Parameters = append(st.Parameters, jobParameter{Name: jp.Name, Default: jp.Default})
	}
	// The values the run resolved, with the repair's on top.
	given := map[string]string{}
	for _, jp := range spec.JobParameters {
		given[jp.Name] = jp.Value
	}
	for k, v := range p.JobParameters {
		given[k] = v
	}
	var tasks []*task
	for _, t := range run.JobTasks() {
		if !rerun[t.TaskKey] {
			continue
		}
		pt, err := parseTask(t.Definition, "the task "+t.TaskKey)
		if err != nil {
			return nil, nil, err
		}
		tasks = append(tasks, pt)
	}
	trs, params := runTasks(st, tasks, RunParams{NotebookParams: p.NotebookParams, PythonParams: p.PythonParams,
		PythonNamedParams: p.PythonNamedParams, JobParameters: given})
	exec := make(map[string]kiln.TaskExec, len(trs))
	for _, tr := range trs {
		exec[tr.TaskKey] = tr.Exec
	}
	spec.JobParameters = params
	if o := p.overriding(); o != nil {
		spec.OverridingParameters = o
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, nil, kiln.Internal(err)
	}
	return exec, b, nil
}
