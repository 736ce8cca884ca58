-- 0009_token_lifecycle: PostgreSQL mirror of
-- migrations/sqlite/0009_token_lifecycle.sql (rotation, leak tracing and
-- source addresses).
ALTER TABLE tokens ADD COLUMN value_sha256 BYTEA;
ALTER TABLE tokens ADD COLUMN rotated_to TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN rotated_at BIGINT;
CREATE UNIQUE INDEX tokens_value_sha256 ON tokens (value_sha256) WHERE value_sha256 IS NOT NULL;

CREATE TABLE token_addresses (
	token_id   TEXT COLLATE "C" NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
	addr       TEXT COLLATE "C" NOT NULL,
	first_seen BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL,
	PRIMARY KEY (token_id, addr)
);
