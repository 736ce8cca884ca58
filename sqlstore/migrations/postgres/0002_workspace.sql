-- 0002_workspace: PostgreSQL mirror of migrations/sqlite/0002_workspace.sql
-- (the workspace tree and the Secrets API), with the type mapping of
-- 0001_init. path and parent are COLLATE "C" as that file requires:
-- recursive deletes select a subtree by byte-wise range
-- (path > '<dir>/' AND path < '<dir>0').

CREATE TABLE workspace_objects (
	id          BIGINT PRIMARY KEY,
	path        TEXT COLLATE "C" NOT NULL UNIQUE,
	parent      TEXT COLLATE "C" NOT NULL,
	type        TEXT COLLATE "C" NOT NULL CHECK (type IN ('DIRECTORY', 'NOTEBOOK', 'FILE')),
	language    TEXT COLLATE "C" NOT NULL DEFAULT '',
	content     BYTEA,
	size        BIGINT NOT NULL DEFAULT 0,
	owner_id    BIGINT NOT NULL DEFAULT 0,
	created_at  BIGINT NOT NULL,
	modified_at BIGINT NOT NULL
);

CREATE INDEX workspace_objects_parent ON workspace_objects (parent, path);

INSERT INTO workspace_objects (id, path, parent, type, created_at, modified_at)
	VALUES (0, '/', '', 'DIRECTORY', 0, 0);

CREATE TABLE secret_scopes (
	id           BIGINT PRIMARY KEY,
	name         TEXT COLLATE "C" NOT NULL UNIQUE,
	backend_type TEXT COLLATE "C" NOT NULL DEFAULT 'DATABRICKS',
	creator_id   BIGINT NOT NULL DEFAULT 0,
	created_at   BIGINT NOT NULL
);

CREATE TABLE secrets (
	scope_id   BIGINT NOT NULL REFERENCES secret_scopes (id) ON DELETE CASCADE,
	key        TEXT COLLATE "C" NOT NULL,
	value      BYTEA  NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (scope_id, key)
);

CREATE TABLE secret_acls (
	scope_id   BIGINT NOT NULL REFERENCES secret_scopes (id) ON DELETE CASCADE,
	principal  TEXT COLLATE "C" NOT NULL,
	permission TEXT COLLATE "C" NOT NULL CHECK (permission IN ('READ', 'WRITE', 'MANAGE')),
	PRIMARY KEY (scope_id, principal)
);

CREATE TABLE secrets_key (
	singleton   BIGINT PRIMARY KEY CHECK (singleton = 1),
	fingerprint TEXT COLLATE "C" NOT NULL
);
