-- 0014_job_schedules: the firing state of job schedules (schedule and
-- trigger.periodic), and the tick each scheduled run was queued for.
-- A server claims a tick by moving next_fire forward with a compare and
-- swap in the transaction that queues the tick's run; the partial unique
-- index on runs (job_id, scheduled_time) keeps a second run of one tick
-- out even so. spec is the schedule as the service compiled it: a
-- settings change that leaves it equal keeps next_fire. Rows go with
-- their job.
CREATE TABLE job_schedules (
	job_id    INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
	spec      TEXT    NOT NULL,
	next_fire INTEGER NOT NULL
) STRICT;
CREATE INDEX job_schedules_due ON job_schedules (next_fire);

-- 0 for a run someone asked for.
ALTER TABLE runs ADD COLUMN scheduled_time INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX runs_job_scheduled ON runs (job_id, scheduled_time)
	WHERE scheduled_time > 0;
