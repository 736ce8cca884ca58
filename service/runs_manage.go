package service

// Reading, listing, canceling and deleting runs.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln"
)

// RunView is a run as runs/get shows it. When the id asked for named a
// task run, Task is that task run (Databricks answers runs/get for task
// run ids too).
type RunView struct {
	Run  *kiln.Run
	Task *kiln.TaskRun
	Spec RunSpec
	// Repairs is the run's repair history as runs/get shows it with
	// include_history (GetRun fills it for runs, not task runs): the
	// ORIGINAL item, then one REPAIR item per repair.
	Repairs []*kiln.RunRepair
	// Attempts are the earlier attempts of the run's retried tasks
	// (kiln.RunTx.EarlierAttempts), which runs/get lists beside the
	// latest ones; GetRun fills it for runs, not task runs.
	Attempts []*kiln.TaskRun
}

// LatestRepairID is the id of the run's latest repair, 0 when it was
// never repaired.
func (v *RunView) LatestRepairID() int64 {
	if n := len(v.Repairs); n > 0 {
		return v.Repairs[n-1].ID
	}
	return 0
}

// fillRepairs reads the run's repair history; a run never repaired has
// the one ORIGINAL item, made from the run.
func fillRepairs(tx kiln.Tx, v *RunView) error {
	reps, err := tx.RunRepairs(v.Run.ID)
	if err != nil {
		return err
	}
	if len(reps) == 0 {
		r := v.Run
		orig := &kiln.RunRepair{Type: kiln.RepairTypeOriginal, Started: r.Created, Ended: r.Ended,
			LifeCycleState: r.LifeCycleState, ResultState: r.ResultState, StateMessage: r.StateMessage}
		for _, t := range r.JobTasks() {
			orig.TaskRunIDs = append(orig.TaskRunIDs, t.ID)
		}
		reps = []*kiln.RunRepair{orig}
	}
	v.Repairs = reps
	return nil
}

// lookupRun reads the run or task run with the given id, if the caller
// holds at least need on it: its owner and admins hold everything, others
// what they hold on the run's job (CAN_VIEW sees its runs,
// CAN_MANAGE_RUN also cancels them). A run the caller holds nothing on
// does not exist for it; one it holds less on is EPermission.
func lookupRun(tx kiln.Tx, c *kiln.Caller, id int64, need int) (*RunView, error) {
	r, err := tx.Run(id)
	var task *kiln.TaskRun
	if kiln.IsCode(err, kiln.ENotFound) {
		if task, err = tx.TaskRun(id); err == nil {
			r, err = tx.Run(task.RunID)
		}
	}
	if kiln.IsCode(err, kiln.ENotFound) {
		return nil, runNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	if !canSee(c, r.OwnerID) {
		rank := rankNone
		if r.JobID != 0 {
			if j, err := tx.Job(r.JobID); err == nil {
				if rank, err = jobRank(tx, c, j); err != nil {
					return nil, err
				}
			} else if !kiln.IsCode(err, kiln.ENotFound) {
				return nil, err
			}
		}
		switch {
		case rank == rankNone:
			return nil, runNotFound(id)
		case rank < need:
			return nil, kiln.Errorf(kiln.EPermission, "%s does not have %s permissions on Job %d.", c.Principal.UserName, levelNames[need], r.JobID)
		}
	}
	return &RunView{Run: r, Task: task, Spec: ParseRunSpec(r)}, nil
}

// GetRun returns the run (or task run) with the given id; a run comes
// with its repair history.
func (s *Service) GetRun(ctx context.Context, id int64) (*RunView, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var v *RunView
	err = s.view(ctx, func(tx kiln.Tx) (err error) {
		if v, err = lookupRun(tx, c, id, rankView); err != nil || v.Task != nil {
			return err
		}
		if v.Attempts, err = tx.EarlierAttempts(v.Run.ID); err != nil {
			return err
		}
		return fillRepairs(tx, v)
	})
	return v, err
}

// MsgMultiTaskOutput is Databricks' refusal of runs/get-output on a run
// rather than a task run.
const MsgMultiTaskOutput = "Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead."

// RunOutput returns a task run with its outputs (runs/get-output), and
// its run. id names a task run; it may name a run with a single task only
// when singleTaskParent is set (the Jobs API 2.0 allows that, 2.1 and
// later refuse it with MsgMultiTaskOutput, as for any run).
func (s *Service) RunOutput(ctx context.Context, id int64, singleTaskParent bool) (*RunView, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var v *RunView
	err = s.view(ctx, func(tx kiln.Tx) error {
		if v, err = lookupRun(tx, c, id, rankView); err != nil {
			return err
		}
		taskID := id
		if v.Task == nil {
			if !singleTaskParent || len(v.Run.JobTasks()) != 1 {
				return kiln.Errorf(kiln.EInvalid, MsgMultiTaskOutput)
			}
			taskID = v.Run.JobTasks()[0].ID
		}
		v.Task, err = tx.TaskRun(taskID)
		return err
	})
	return v, err
}

// RunListParams select a page of runs/list.
type RunListParams struct {
	JobID                     int64
	ActiveOnly, CompletedOnly bool
	RunType                   string
	StartFrom, StartTo        time.Time
	// Limit is the page size (default 20, at most 25); Offset the legacy
	// paging; PageToken a next_page_token (it wins over Offset).
	Limit, Offset int
	PageToken     string
	ExpandTasks   bool
}

// RunPage is one page of runs, newest first. NextPageToken is "" on the
// last page.
type RunPage struct {
	Runs []*kiln.Run
	// Attempts are, with ExpandTasks, each run's earlier attempts of its
	// retried tasks (kiln.RunTx.EarlierAttempts) by run id, which
	// runs/list lists as runs/get does.
	Attempts      map[int64][]*kiln.TaskRun
	HasMore       bool
	NextPageToken string
}

// ListRuns returns a page of the runs the caller may see (admins: all;
// others, their own, or with a job id every run of a job they hold a
// permission on).
func (s *Service) ListRuns(ctx context.Context, p RunListParams) (*RunPage, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if p.ActiveOnly && p.CompletedOnly {
		return nil, kiln.Errorf(kiln.EInvalid, "active_only and completed_only cannot both be true.")
	}
	switch p.RunType {
	case "", kiln.RunTypeJob, kiln.RunTypeSubmit, "WORKFLOW_RUN":
	default:
		return nil, kiln.Errorf(kiln.EInvalid, "run_type must be JOB_RUN, SUBMIT_RUN or WORKFLOW_RUN.")
	}
	limit, err := pageSize(p.Limit, DefaultRunsLimit, MaxRunsLimit)
	if err != nil {
		return nil, err
	}
	f := kiln.RunFilter{JobID: p.JobID, ActiveOnly: p.ActiveOnly, CompletedOnly: p.CompletedOnly, RunType: p.RunType,
		StartFrom: p.StartFrom, StartTo: p.StartTo, Limit: limit + 1, Offset: max(p.Offset, 0), WithTasks: p.ExpandTasks}
	if p.PageToken != "" {
		nums, err := decodeToken(p.PageToken, "r", 1)
		if err != nil {
			return nil, err
		}
		f.BeforeSeq, f.Offset = nums[0], 0
	}
	page := &RunPage{}
	err = s.view(ctx, func(tx kiln.Tx) (err error) {
		if !isAdmin(c) {
			// One's own runs; of a job one holds a permission on, all.
			f.OwnerID = c.Principal.ID
			if p.JobID != 0 {
				if j, err := tx.Job(p.JobID); err == nil {
					if rank, err := jobRank(tx, c, j); err != nil {
						return err
					} else if rank >= rankView {
						f.OwnerID = 0
					}
				} else if !kiln.IsCode(err, kiln.ENotFound) {
					return err
				}
			}
		}
		if page.Runs, err = tx.Runs(f); err != nil || !p.ExpandTasks {
			return err
		}
		page.Attempts = map[int64][]*kiln.TaskRun{}
		for _, run := range page.Runs[:min(len(page.Runs), limit)] {
			if page.Attempts[run.ID], err = tx.EarlierAttempts(run.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(page.Runs) > limit {
		page.Runs, page.HasMore = page.Runs[:limit], true
		page.NextPageToken = encodeToken("r", page.Runs[limit-1].Seq)
	}
	return page, nil
}

// stopRuns stops every run f selects; it returns the ids of those that
// were active.
func stopRuns(tx kiln.Tx, f kiln.RunFilter, message string) ([]int64, error) {
	runs, err := tx.Runs(f)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, r := range runs {
		active, err := tx.StopRun(r.ID, kiln.ResultCanceled, message)
		if err != nil {
			return nil, err
		}
		if active {
			ids = append(ids, r.ID)
		}
	}
	return ids, nil
}

// CancelRun cancels a run (runs/cancel): tasks not started end at once,
// running ones are killed (SIGTERM to their process group, then SIGKILL),
// and the run ends TERMINATED with result CANCELED. Canceling a finished
// run changes nothing. A task run id cancels its run.
func (s *Service) CancelRun(ctx context.Context, id int64) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	var runID int64
	active := false
	err = s.store.Update(ctx, func(tx kiln.Tx) error {
		v, err := lookupRun(tx, c, id, rankManageRun)
		if err != nil {
			return err
		}
		runID = v.Run.ID
		if active, err = tx.StopRun(runID, kiln.ResultCanceled, fmt.Sprintf("Run was canceled by %s.", c.Principal.UserName)); err != nil {
			return err
		}
		return tx.Audit(auditEvent(c, AuditRunCancel, runTarget(runID)))
	})
	if err != nil {
		return err
	}
	if active {
		s.announceStops([]int64{runID}, kiln.ResultCanceled)
	}
	return nil
}

// CancelAllRuns cancels every active run of a job (runs/cancel-all with
// job_id), or with allQueued and no job every queued run the caller may
// see (all_queued_runs).
func (s *Service) CancelAllRuns(ctx context.Context, jobID int64, allQueued bool) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	if jobID == 0 && !allQueued {
		return kiln.Errorf(kiln.EInvalid, "Set job_id, or all_queued_runs to true.")
	}
	var stopped []int64
	err = s.store.Update(ctx, func(tx kiln.Tx) error {
		f := kiln.RunFilter{JobID: jobID, ActiveOnly: true}
		if jobID != 0 {
			if _, err := jobFor(tx, c, jobID, rankManageRun); err != nil {
				return err
			}
		} else if !isAdmin(c) {
			f.OwnerID = c.Principal.ID
		}
		if allQueued {
			runs, err := tx.Runs(f)
			if err != nil {
				return err
			}
			for _, r := range runs {
				if r.LifeCycleState != kiln.LifeCycleQueued {
					continue
				}
				if _, err := tx.StopRun(r.ID, kiln.ResultCanceled, "Queued run was canceled."); err != nil {
					return err
				}
				stopped = append(stopped, r.ID)
			}
		} else if stopped, err = stopRuns(tx, f, fmt.Sprintf("Run was canceled by %s.", c.Principal.UserName)); err != nil {
			return err
		}
		target := jobTarget(jobID)
		if jobID == 0 {
			target = "runs:queued"
		}
		ev := auditEvent(c, AuditRunCancel, target)
		ev.Detail = map[string]string{"runs": strconv.Itoa(len(stopped))}
		return tx.Audit(ev)
	})
	if err != nil {
		return err
	}
	s.announceStops(stopped, kiln.ResultCanceled)
	return nil
}

// DeleteRun deletes a finished run (runs/delete); an active one is
// EInvalid.
func (s *Service) DeleteRun(ctx context.Context, id int64) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		v, err := lookupRun(tx, c, id, rankManageRun)
		if err != nil {
			return err
		}
		if v.Task != nil {
			return runNotFound(id) // task runs go with their run
		}
		if err := tx.DeleteRun(id); err != nil {
			return err
		}
		return tx.Audit(auditEvent(c, AuditRunDelete, runTarget(id)))
	})
}
