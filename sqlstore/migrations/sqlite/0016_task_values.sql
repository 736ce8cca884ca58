-- 0016_task_values: the values a task sets with dbutils.jobs.taskValues.set
-- for the tasks after it in the same run to read. value is the JSON of the
-- value as the task gave it. Rows go with their task run (and run).
CREATE TABLE task_values (
	task_run_id INTEGER NOT NULL REFERENCES task_runs (id) ON DELETE CASCADE,
	name        TEXT    NOT NULL,
	value       TEXT    NOT NULL,
	PRIMARY KEY (task_run_id, name)
) STRICT;
