-- 0010_webhooks: PostgreSQL mirror of migrations/sqlite/0010_webhooks.sql
-- (webhooks, their delivery queue, the keys of events already enqueued).
CREATE TABLE webhooks (
	id         TEXT COLLATE "C" PRIMARY KEY,
	url        TEXT COLLATE "C" NOT NULL,
	events     TEXT COLLATE "C" NOT NULL,
	secret     BYTEA  NOT NULL,
	created_by TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
	seq          BIGSERIAL PRIMARY KEY,
	id           TEXT COLLATE "C" NOT NULL UNIQUE,
	webhook_id   TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event        TEXT COLLATE "C" NOT NULL,
	body         BYTEA  NOT NULL,
	state        TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts     BIGINT NOT NULL DEFAULT 0,
	next_attempt BIGINT NOT NULL,
	lease_until  BIGINT NOT NULL DEFAULT 0,
	last_status  BIGINT NOT NULL DEFAULT 0,
	last_error   TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	delivered_at BIGINT
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, seq);

CREATE TABLE webhook_event_keys (
	key        TEXT COLLATE "C" PRIMARY KEY,
	created_at BIGINT NOT NULL
);
