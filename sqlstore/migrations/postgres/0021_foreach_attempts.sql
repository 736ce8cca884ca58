-- 0021_foreach_attempts: for_each_task iterations and the earlier
-- attempts of retried tasks. Same conventions as 0003_jobs.
--
-- An iteration of a for_each task is a task run of the same run whose
-- parent_id is the for_each task's run (0 for the job's own tasks), and
-- iteration its index in the inputs; its task_key is the parent's with
-- the index ("loop[3]"), unique in the run like every key.
ALTER TABLE task_runs ADD COLUMN parent_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE task_runs ADD COLUMN iteration INTEGER NOT NULL DEFAULT 0;
CREATE INDEX task_runs_parent ON task_runs (parent_id) WHERE parent_id <> 0;
ALTER TABLE replaced_task_runs ADD COLUMN parent_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE replaced_task_runs ADD COLUMN iteration INTEGER NOT NULL DEFAULT 0;
-- A failed attempt that was retried is kept in replaced_task_runs under
-- an id of its own, attempt_of naming the task run that went on (0 for a
-- row a repair replaced).
ALTER TABLE replaced_task_runs ADD COLUMN attempt_of BIGINT NOT NULL DEFAULT 0;
CREATE INDEX replaced_task_runs_attempt_of ON replaced_task_runs (attempt_of) WHERE attempt_of <> 0;
