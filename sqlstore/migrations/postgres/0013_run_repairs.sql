-- 0013_run_repairs: repairs of finished runs (jobs/runs/repair).
-- Same conventions as 0003_jobs.

-- A run's repair history: number 0 is the original run, recorded at the
-- first repair, then one row per repair (number 1, 2, …) with its
-- repair_id (0 for the original). The state columns are the run's state
-- when the next repair began; the last row's are read from the run
-- itself. task_run_ids is a JSON array of the task runs that ran in it.
CREATE TABLE run_repairs (
	run_id        BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	number        BIGINT NOT NULL,
	repair_id     BIGINT NOT NULL,
	started_at    BIGINT NOT NULL,
	ended_at      BIGINT,
	state         TEXT COLLATE "C" NOT NULL DEFAULT '',
	result_state  TEXT COLLATE "C" NOT NULL DEFAULT '',
	state_message TEXT COLLATE "C" NOT NULL DEFAULT '',
	task_run_ids  TEXT COLLATE "C" NOT NULL DEFAULT '[]',
	PRIMARY KEY (run_id, number)
);
-- Repair ids are drawn from the run id space; each is unique.
CREATE UNIQUE INDEX run_repairs_id ON run_repairs (repair_id) WHERE repair_id <> 0;

-- The task runs a repair replaced: the row as it was (outputs included),
-- under its old id, so runs/get and runs/get-output still answer for it.
-- Never claimed: the queue is task_runs alone.
CREATE TABLE replaced_task_runs (
	id                    BIGINT  PRIMARY KEY,
	run_id                BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	position              BIGINT  NOT NULL,
	task_key              TEXT COLLATE "C" NOT NULL,
	depends_on            TEXT COLLATE "C" NOT NULL DEFAULT '[]',
	run_if                TEXT COLLATE "C" NOT NULL DEFAULT '',
	definition            TEXT COLLATE "C" NOT NULL DEFAULT '{}',
	exec                  TEXT COLLATE "C" NOT NULL DEFAULT '{}',
	timeout_ms            BIGINT  NOT NULL DEFAULT 0,
	max_retries           BIGINT  NOT NULL DEFAULT 0,
	min_retry_interval_ms BIGINT  NOT NULL DEFAULT 0,
	retry_on_timeout      BOOLEAN NOT NULL DEFAULT FALSE,
	attempt               BIGINT  NOT NULL DEFAULT 0,
	state                 TEXT COLLATE "C" NOT NULL,
	result_state          TEXT COLLATE "C" NOT NULL DEFAULT '',
	state_message         TEXT COLLATE "C" NOT NULL DEFAULT '',
	ready_at              BIGINT,
	started_at            BIGINT,
	ended_at              BIGINT,
	result                TEXT COLLATE "C" NOT NULL DEFAULT '',
	truncated             BOOLEAN NOT NULL DEFAULT FALSE,
	error                 TEXT COLLATE "C" NOT NULL DEFAULT '',
	error_trace           TEXT COLLATE "C" NOT NULL DEFAULT '',
	logs                  TEXT COLLATE "C" NOT NULL DEFAULT '',
	logs_truncated        BOOLEAN NOT NULL DEFAULT FALSE,
	lease_owner           TEXT COLLATE "C" NOT NULL DEFAULT '',
	lease_until           BIGINT
);
CREATE INDEX replaced_task_runs_run ON replaced_task_runs (run_id);
