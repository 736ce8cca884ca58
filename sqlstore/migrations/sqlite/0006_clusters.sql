-- 0006_clusters: clusters (named configurations of this server's one
-- executor) and their event log. spec is the ClusterSpec JSON as accepted,
-- so fields kiln does not interpret round-trip; termination_reason is the
-- JSON object, '' while the cluster runs. creator_id has no foreign key: a
-- cluster outlives the user who made it. Times are milliseconds, NULL for
-- never. Same conventions as 0001_init.
CREATE TABLE clusters (
	id                      TEXT    PRIMARY KEY,
	name                    TEXT    NOT NULL,
	creator_id              INTEGER NOT NULL,
	spec                    TEXT    NOT NULL,
	state                   TEXT    NOT NULL,
	state_message           TEXT    NOT NULL DEFAULT '',
	termination_reason      TEXT    NOT NULL DEFAULT '',
	pinned                  INTEGER NOT NULL DEFAULT 0,
	autotermination_minutes INTEGER NOT NULL DEFAULT 0,
	created_at              INTEGER NOT NULL,
	state_since             INTEGER NOT NULL,
	started_at              INTEGER,
	terminated_at           INTEGER,
	last_activity_at        INTEGER
) STRICT;

CREATE INDEX clusters_created ON clusters (created_at, id);

-- Events, in seq order per cluster; deleted with their cluster.
CREATE TABLE cluster_events (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	cluster_id TEXT    NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
	at         INTEGER NOT NULL,
	type       TEXT    NOT NULL,
	details    TEXT    NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX cluster_events_cluster ON cluster_events (cluster_id, at, seq);
