-- 0002_workspace: the workspace tree (notebooks, files, directories) and
-- the Secrets API (scopes, sealed values, scope ACLs, the sealing key's
-- fingerprint). Same conventions as 0001_init.

-- The workspace tree, one row per object. path is clean and absolute
-- (kiln.CleanObjectPath); parent is the parent's path ('' for the root),
-- which makes listing a directory one indexed range and "is this directory
-- empty" one indexed probe.
--
-- Recursive deletes select a subtree with path > '<dir>/' AND
-- path < '<dir>0' ('0' follows '/' in byte order). That needs byte-wise
-- comparison of path: SQLite's default BINARY collation is exactly that;
-- the PostgreSQL mirror must declare path and parent COLLATE "C".
--
-- owner_id has no foreign key: objects outlive the principal who created
-- them (a user's notebooks stay when the user is deleted).
CREATE TABLE workspace_objects (
	id          INTEGER PRIMARY KEY,
	path        TEXT    NOT NULL UNIQUE,
	parent      TEXT    NOT NULL,
	type        TEXT    NOT NULL CHECK (type IN ('DIRECTORY', 'NOTEBOOK', 'FILE')),
	language    TEXT    NOT NULL DEFAULT '',
	content     BLOB,
	size        INTEGER NOT NULL DEFAULT 0,
	owner_id    INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	modified_at INTEGER NOT NULL
) STRICT;

CREATE INDEX workspace_objects_parent ON workspace_objects (parent, path);

-- The root directory always exists, with object_id 0 as on Databricks.
INSERT INTO workspace_objects (id, path, parent, type, created_at, modified_at)
	VALUES (0, '/', '', 'DIRECTORY', 0, 0);

-- Secret scopes. name is compared exactly, as the Databricks API does.
CREATE TABLE secret_scopes (
	id           INTEGER PRIMARY KEY,
	name         TEXT    NOT NULL UNIQUE,
	backend_type TEXT    NOT NULL DEFAULT 'DATABRICKS',
	creator_id   INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL
) STRICT;

-- Secret values, sealed with AES-256-GCM by the service under a key kept
-- outside the database (secrets.key): this table never holds plaintext.
CREATE TABLE secrets (
	scope_id   INTEGER NOT NULL REFERENCES secret_scopes (id) ON DELETE CASCADE,
	key        TEXT    NOT NULL,
	value      BLOB    NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (scope_id, key)
) STRICT;

-- Who may use a scope. principal is a user name, an application id or a
-- group name, as the Databricks ACL API names grantees.
CREATE TABLE secret_acls (
	scope_id   INTEGER NOT NULL REFERENCES secret_scopes (id) ON DELETE CASCADE,
	principal  TEXT    NOT NULL,
	permission TEXT    NOT NULL CHECK (permission IN ('READ', 'WRITE', 'MANAGE')),
	PRIMARY KEY (scope_id, principal)
) STRICT;

-- The fingerprint of the key that seals secret values, recorded on first
-- start so that a server started with another key refuses to run instead
-- of failing to open every secret.
CREATE TABLE secrets_key (
	singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
	fingerprint TEXT    NOT NULL
) STRICT;
