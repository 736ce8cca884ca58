-- 0011_oauth: PostgreSQL mirror of migrations/sqlite/0011_oauth.sql
-- (token scopes, OAuth secrets, U2M grants).
ALTER TABLE tokens ADD COLUMN scopes TEXT COLLATE "C" NOT NULL DEFAULT '';

CREATE TABLE oauth_secrets (
	id           TEXT COLLATE "C" PRIMARY KEY,
	principal_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	digest       BYTEA  NOT NULL UNIQUE,
	secret_hash  TEXT COLLATE "C" NOT NULL,
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL,
	expires_at   BIGINT
);
CREATE INDEX oauth_secrets_principal ON oauth_secrets (principal_id, created_at);

CREATE TABLE oauth_grants (
	id             TEXT COLLATE "C" PRIMARY KEY,
	principal_id   BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	client_id      TEXT COLLATE "C" NOT NULL,
	scopes         TEXT COLLATE "C" NOT NULL DEFAULT '',
	redirect_uri   TEXT COLLATE "C" NOT NULL DEFAULT '',
	code_digest    BYTEA UNIQUE,
	code_challenge TEXT COLLATE "C" NOT NULL DEFAULT '',
	code_expires   BIGINT NOT NULL DEFAULT 0,
	refresh_digest BYTEA UNIQUE,
	created_at     BIGINT NOT NULL,
	expires_at     BIGINT NOT NULL,
	revoked_at     BIGINT
);
CREATE INDEX oauth_grants_principal ON oauth_grants (principal_id, created_at);
