-- 0010_webhooks: webhooks, their delivery queue, and the keys of events
-- already enqueued. Same conventions as 0001_init.
--
-- events is a JSON array of event types. secret is sealed by the service
-- (auth.SecretBox); the store never holds it in clear. A delivery's body
-- is the exact JSON sent and signed on every attempt. lease_until (0 when
-- unleased) keeps two processes from sending one delivery at once. seq
-- orders deliveries as they were enqueued (several share a millisecond).
CREATE TABLE webhooks (
	id         TEXT    PRIMARY KEY,
	url        TEXT    NOT NULL,
	events     TEXT    NOT NULL,
	secret     BLOB    NOT NULL,
	created_by TEXT    NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT    NOT NULL UNIQUE,
	webhook_id   TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event        TEXT    NOT NULL,
	body         BLOB    NOT NULL,
	state        TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	lease_until  INTEGER NOT NULL DEFAULT 0,
	last_status  INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT    NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	delivered_at INTEGER
) STRICT;

-- The claim's scan: pending deliveries by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt);
-- A webhook's deliveries, newest first.
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, seq);

-- One row per deduplication key ever enqueued (Event.Key).
CREATE TABLE webhook_event_keys (
	key        TEXT    PRIMARY KEY,
	created_at INTEGER NOT NULL
) STRICT;
