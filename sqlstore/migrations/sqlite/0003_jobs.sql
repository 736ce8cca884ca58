-- 0003_jobs: saved jobs, runs and their task runs. The task_runs table is
-- also the durable queue executors claim work from, so a queued or running
-- run survives a restart or kill -9 with everything else in this file.
-- Same conventions as 0001_init.

-- Saved job definitions. settings is the JobSettings JSON as accepted
-- (numbers canonicalised), so fields kiln does not interpret round-trip.
-- creator_id has no foreign key: a job outlives the user who made it.
CREATE TABLE jobs (
	id         INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	creator_id INTEGER NOT NULL,
	settings   TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- jobs/list pages in (created_at, id) order, filtered by name or creator.
CREATE INDEX jobs_created ON jobs (created_at, id);
CREATE INDEX jobs_name ON jobs (name, created_at, id);
CREATE INDEX jobs_creator ON jobs (creator_id, created_at, id);

-- Runs. seq is the submission order (ids are random): runs/list pages by
-- it and claims serve runs first come, first served. stop is '' or the
-- result a cancel or the run's timeout imposed (kiln.Run.Stop).
-- idempotency_token is NULL when none, so the partial unique index only
-- binds runs that have one.
CREATE TABLE runs (
	id                INTEGER PRIMARY KEY,
	seq               INTEGER NOT NULL UNIQUE,
	job_id            INTEGER NOT NULL,
	owner_id          INTEGER NOT NULL,
	run_name          TEXT    NOT NULL DEFAULT '',
	run_type          TEXT    NOT NULL,
	spec              TEXT    NOT NULL DEFAULT '{}',
	idempotency_token TEXT,
	timeout_ms        INTEGER NOT NULL DEFAULT 0,
	max_concurrent    INTEGER NOT NULL DEFAULT 0,
	state             TEXT    NOT NULL,
	result_state      TEXT    NOT NULL DEFAULT '',
	state_message     TEXT    NOT NULL DEFAULT '',
	stop              TEXT    NOT NULL DEFAULT '',
	created_at        INTEGER NOT NULL,
	started_at        INTEGER,
	ended_at          INTEGER
) STRICT;

CREATE UNIQUE INDEX runs_idempotency ON runs (owner_id, idempotency_token)
	WHERE idempotency_token IS NOT NULL;
CREATE INDEX runs_job ON runs (job_id, seq);
CREATE INDEX runs_owner ON runs (owner_id, seq);
-- The sweep's timeout check and the per-job concurrency count read active
-- runs only.
CREATE INDEX runs_state ON runs (state, job_id);

-- Task runs: one row per task of a run, retried in place (attempt counts).
-- A row is claimable when state is QUEUED or WAITING_FOR_RETRY and
-- ready_at has passed; lease_owner and lease_until mark the executor
-- running it. depends_on is a JSON array of task keys of the same run.
CREATE TABLE task_runs (
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
	lease_until           INTEGER,
	UNIQUE (run_id, task_key)
) STRICT;

-- The claim: ready tasks in ready_at order.
CREATE INDEX task_runs_ready ON task_runs (state, ready_at);
-- The sweep: leases that ran out.
CREATE INDEX task_runs_lease ON task_runs (lease_until) WHERE lease_until IS NOT NULL;
