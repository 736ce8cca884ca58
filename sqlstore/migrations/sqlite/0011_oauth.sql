-- 0011_oauth: token scopes, service principals' OAuth secrets, and U2M
-- grants (authorization codes, then refresh tokens). Same conventions as
-- 0001_init.
--
-- scopes is space-separated ('' is unrestricted). Secrets, codes and
-- refresh tokens are stored as keyed digests only; secret_hash is the
-- plain SHA-256 Databricks shows. A grant's code_digest is NULL once
-- redeemed, its refresh_digest NULL until then.
ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';

CREATE TABLE oauth_secrets (
	id           TEXT    PRIMARY KEY,
	principal_id INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	digest       BLOB    NOT NULL UNIQUE,
	secret_hash  TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	expires_at   INTEGER
) STRICT;
CREATE INDEX oauth_secrets_principal ON oauth_secrets (principal_id, created_at);

CREATE TABLE oauth_grants (
	id             TEXT    PRIMARY KEY,
	principal_id   INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	client_id      TEXT    NOT NULL,
	scopes         TEXT    NOT NULL DEFAULT '',
	redirect_uri   TEXT    NOT NULL DEFAULT '',
	code_digest    BLOB    UNIQUE,
	code_challenge TEXT    NOT NULL DEFAULT '',
	code_expires   INTEGER NOT NULL DEFAULT 0,
	refresh_digest BLOB    UNIQUE,
	created_at     INTEGER NOT NULL,
	expires_at     INTEGER NOT NULL,
	revoked_at     INTEGER
) STRICT;
CREATE INDEX oauth_grants_principal ON oauth_grants (principal_id, created_at);
