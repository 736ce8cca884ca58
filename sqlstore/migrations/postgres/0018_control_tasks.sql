-- 0018_control_tasks: the task types the server evaluates itself
-- (condition_task, run_job_task). Same conventions as 0003_jobs.
--
-- depends_outcome is a JSON object: for each dependency on a condition
-- task that names one (depends_on[].outcome), the outcome it requires.
-- outcome is a condition task's result ('true' or 'false', '' before it
-- succeeds); child_run_id the run a run_job_task triggered (0 before).
-- replaced_task_runs keeps them with the rest of a replaced row.
ALTER TABLE task_runs ADD COLUMN depends_outcome TEXT COLLATE "C" NOT NULL DEFAULT '{}';
ALTER TABLE task_runs ADD COLUMN outcome TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE task_runs ADD COLUMN child_run_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE replaced_task_runs ADD COLUMN depends_outcome TEXT COLLATE "C" NOT NULL DEFAULT '{}';
ALTER TABLE replaced_task_runs ADD COLUMN outcome TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE replaced_task_runs ADD COLUMN child_run_id BIGINT NOT NULL DEFAULT 0;
