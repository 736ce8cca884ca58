-- 0009_token_lifecycle: rotation, leak tracing and source addresses.
--
-- value_sha256 is the plain SHA-256 of the token value (128 random bits,
-- so it reveals nothing): an admin holding a leaked value, or only its
-- hash, can find the token and its audit trail. rotated_to names the
-- successor of a rotated token, which keeps working until expires_at.
ALTER TABLE tokens ADD COLUMN value_sha256 BLOB;
ALTER TABLE tokens ADD COLUMN rotated_to TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN rotated_at INTEGER;
CREATE UNIQUE INDEX tokens_value_sha256 ON tokens (value_sha256) WHERE value_sha256 IS NOT NULL;

-- The last few distinct source addresses of each token (the store keeps
-- at most kiln.MaxTokenAddresses per token, evicting the least recently
-- seen).
CREATE TABLE token_addresses (
	token_id   TEXT    NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
	addr       TEXT    NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (token_id, addr)
) STRICT;
