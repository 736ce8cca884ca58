-- 0016_task_values: the values a task sets with dbutils.jobs.taskValues.set
-- for the tasks after it in the same run to read. value is the JSON of the
-- value as the task gave it. Rows go with their task run (and run).
CREATE TABLE task_values (
	task_run_id BIGINT NOT NULL REFERENCES task_runs (id) ON DELETE CASCADE,
	name        TEXT COLLATE "C" NOT NULL,
	value       TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (task_run_id, name)
);
