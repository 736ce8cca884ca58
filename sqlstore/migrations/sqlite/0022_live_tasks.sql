-- 0022_live_tasks: claiming and finishing an iteration of a for_each
-- task read the run's live tasks only (sqlstore's liveRun): the job's
-- own tasks, the iterations not yet ended, and the next PENDING ones; a
-- for_each task polls the counts of its iterations (CountIterations).
-- These indexes find each by a range, so that an iteration costs about
-- the same in a loop of 10 as in one of 5000.
CREATE INDEX task_runs_live ON task_runs (run_id, parent_id, state, iteration);
-- The counts read the index alone; it replaces task_runs_parent, its
-- prefix.
CREATE INDEX task_runs_parent_state ON task_runs (parent_id, state, result_state) WHERE parent_id <> 0;
DROP INDEX task_runs_parent;
