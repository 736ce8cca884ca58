-- 0003_jobs: PostgreSQL mirror of migrations/sqlite/0003_jobs.sql (saved
-- jobs, runs, and task runs, which are also the durable queue executors
-- claim from), with the type mapping of 0001_init. JSON columns stay TEXT,
-- not jsonb: jsonb would reorder keys and drop duplicates, and settings
-- must round-trip as accepted.
--
-- Claims need no FOR UPDATE SKIP LOCKED: every Update holds the store's
-- write lock (see postgres.go), so a claim's SELECT and UPDATE see no
-- concurrent claim in between, on any replica.

CREATE TABLE jobs (
	id         BIGINT PRIMARY KEY,
	name       TEXT COLLATE "C" NOT NULL,
	creator_id BIGINT NOT NULL,
	settings   TEXT COLLATE "C" NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE INDEX jobs_created ON jobs (created_at, id);
CREATE INDEX jobs_name ON jobs (name, created_at, id);
CREATE INDEX jobs_creator ON jobs (creator_id, created_at, id);

CREATE TABLE runs (
	id                BIGINT PRIMARY KEY,
	seq               BIGINT NOT NULL UNIQUE,
	job_id            BIGINT NOT NULL,
	owner_id          BIGINT NOT NULL,
	run_name          TEXT COLLATE "C" NOT NULL DEFAULT '',
	run_type          TEXT COLLATE "C" NOT NULL,
	spec              TEXT COLLATE "C" NOT NULL DEFAULT '{}',
	idempotency_token TEXT COLLATE "C",
	timeout_ms        BIGINT NOT NULL DEFAULT 0,
	max_concurrent    BIGINT NOT NULL DEFAULT 0,
	state             TEXT COLLATE "C" NOT NULL,
	result_state      TEXT COLLATE "C" NOT NULL DEFAULT '',
	state_message     TEXT COLLATE "C" NOT NULL DEFAULT '',
	stop              TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at        BIGINT NOT NULL,
	started_at        BIGINT,
	ended_at          BIGINT
);

CREATE UNIQUE INDEX runs_idempotency ON runs (owner_id, idempotency_token)
	WHERE idempotency_token IS NOT NULL;
CREATE INDEX runs_job ON runs (job_id, seq);
CREATE INDEX runs_owner ON runs (owner_id, seq);
CREATE INDEX runs_state ON runs (state, job_id);

CREATE TABLE task_runs (
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
	lease_until           BIGINT,
	UNIQUE (run_id, task_key)
);

CREATE INDEX task_runs_ready ON task_runs (state, ready_at);
CREATE INDEX task_runs_lease ON task_runs (lease_until) WHERE lease_until IS NOT NULL;
