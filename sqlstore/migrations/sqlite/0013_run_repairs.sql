-- 0013_run_repairs: repairs of finished runs (jobs/runs/repair).
-- Same conventions as 0003_jobs.

-- A run's repair history: number 0 is the original run, recorded at the
-- first repair, then one row per repair (number 1, 2, …) with its
-- repair_id (0 for the original). The state columns are the run's state
-- when the next repair began; the last row's are read from the run
-- itself. task_run_ids is a JSON array of the task runs that ran in it.
CREATE TABLE run_repairs (
	run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	number        INTEGER NOT NULL,
	repair_id     INTEGER NOT NULL,
	started_at    INTEGER NOT NULL,
	ended_at      INTEGER,
	state         TEXT    NOT NULL DEFAULT '',
	result_state  TEXT    NOT NULL DEFAULT '',
	state_message TEXT    NOT NULL DEFAULT '',
	task_run_ids  TEXT    NOT NULL DEFAULT '[]',
	PRIMARY KEY (run_id, number)
) STRICT;
-- Repair ids are drawn from the run id space; each is unique.
CREATE UNIQUE INDEX run_repairs_id ON run_repairs (repair_id) WHERE repair_id <> 0;

-- The task runs a repair replaced: the row as it was (outputs included),
-- under its old id, so runs/get and runs/get-output still answer for it.
-- Never claimed: the queue is task_runs alone.
CREATE TABLE replaced_task_runs (
	id                    INTEGER PRIMARY KEY,
	run_id                INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	position              INTEGER NOT NULL,
	task_key              TEXT    NOT NULL,
	depends_on            TEXT    NOT NULL DEFAULT '[]',
	run_if                TEXT    NOT NULL DEFAULT '',
	definition            TEXT    NOT NULL DEFAULT '{}',
	exec                  TEXT    NOT NULL DEFAULT '{}',
	timeout_ms            INTEGER NOT NULL DEFAULT 0,
	max_retries           INTEGER NOT NULL DEFAULT 0,
	min_retry_interval_ms INTEGER NOT NULL DEFAULT 0,
	retry_on_timeout      INTEGER NOT NULL DEFAULT 0,
	attempt               INTEGER NOT NULL DEFAULT 0,
	state                 TEXT    NOT NULL,
	result_state          TEXT    NOT NULL DEFAULT '',
	state_message         TEXT    NOT NULL DEFAULT '',
	ready_at              INTEGER,
	started_at            INTEGER,
	ended_at              INTEGER,
	result                TEXT    NOT NULL DEFAULT '',
	truncated             INTEGER NOT NULL DEFAULT 0,
	error                 TEXT    NOT NULL DEFAULT '',
	error_trace           TEXT    NOT NULL DEFAULT '',
	logs                  TEXT    NOT NULL DEFAULT '',
	logs_truncated        INTEGER NOT NULL DEFAULT 0,
	lease_owner           TEXT    NOT NULL DEFAULT '',
	lease_until           INTEGER
) STRICT;
CREATE INDEX replaced_task_runs_run ON replaced_task_runs (run_id);
