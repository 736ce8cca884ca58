-- 0001_init: the initial kiln schema.
--
-- Migrations are append-only: never edit a file once it has shipped (Open
-- refuses a database whose recorded checksum differs), add a new one.
--
-- Conventions, chosen so that migrations/postgres can mirror this file
-- column for column:
--   * every time is INTEGER epoch milliseconds (bigint in PostgreSQL); an
--     optional time is NULL, never 0;
--   * booleans are INTEGER 0/1;
--   * tables are STRICT, so a value of the wrong type (say a time.Time bound
--     by mistake, which the driver would store as text) fails loudly instead
--     of being stored and mis-read later.

-- The single workspace row. singleton pins the table to one row: a second
-- CreateWorkspace violates the primary key and becomes EConflict.
CREATE TABLE workspace (
	singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
	workspace_id    INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	key_fingerprint TEXT    NOT NULL
) STRICT;

-- Users and service principals. user_name keeps the spelling the principal
-- was created with; user_name_key is its case fold, computed in Go, and
-- carries the uniqueness and every lookup. Folding in Go rather than with
-- COLLATE NOCASE (ASCII only) or citext (locale dependent) makes "the same
-- name" mean exactly the same thing on every dialect.
CREATE TABLE principals (
	id                  INTEGER PRIMARY KEY,
	kind                TEXT    NOT NULL CHECK (kind IN ('user', 'service_principal')),
	user_name           TEXT    NOT NULL,
	user_name_key       TEXT    NOT NULL UNIQUE,
	display_name        TEXT    NOT NULL DEFAULT '',
	given_name          TEXT    NOT NULL DEFAULT '',
	family_name         TEXT    NOT NULL DEFAULT '',
	external_id         TEXT    NOT NULL DEFAULT '',
	active              INTEGER NOT NULL DEFAULT 1,
	password_hash       TEXT    NOT NULL DEFAULT '',
	password_changed_at INTEGER,
	created_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE groups (
	id           INTEGER PRIMARY KEY,
	display_name TEXT    NOT NULL UNIQUE,
	builtin      INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL
) STRICT;

-- Memberships go with either side: deleting a group or a principal deletes
-- its rows here, in the same statement.
CREATE TABLE group_members (
	group_id     INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	principal_id INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, principal_id)
) STRICT;

-- Reading a principal's groups, and the cascade when a principal goes.
CREATE INDEX group_members_principal ON group_members (principal_id);

-- Personal access tokens: never the secret, only its keyed digest.
-- created_by_id has no foreign key on purpose: an on-behalf-of token
-- outlives the admin who minted it.
CREATE TABLE tokens (
	id            TEXT    PRIMARY KEY,
	digest        BLOB    NOT NULL UNIQUE,
	owner_id      INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	created_by_id INTEGER NOT NULL,
	comment       TEXT    NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER,
	revoked_at    INTEGER,
	revoked_by    INTEGER NOT NULL DEFAULT 0,
	last_used_day INTEGER
) STRICT;

-- Listing and quota counting by owner, and the cascade on principal delete.
CREATE INDEX tokens_owner ON tokens (owner_id);
CREATE INDEX tokens_created_by ON tokens (created_by_id);

-- workspace-conf values, verbatim.
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

-- The token permission list, in the order it was set. It names grantees by
-- name, as the Databricks API does, so it has no foreign keys.
CREATE TABLE token_acl (
	position               INTEGER PRIMARY KEY,
	user_name              TEXT NOT NULL DEFAULT '',
	group_name             TEXT NOT NULL DEFAULT '',
	service_principal_name TEXT NOT NULL DEFAULT '',
	level                  TEXT NOT NULL
) STRICT;

-- Audit events. AUTOINCREMENT (rather than a plain rowid) guarantees an id
-- is never reused even after the newest rows are pruned, so BeforeID paging
-- never returns an event twice.
CREATE TABLE audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          INTEGER NOT NULL,
	action      TEXT    NOT NULL,
	actor_id    INTEGER NOT NULL DEFAULT 0,
	actor_name  TEXT    NOT NULL DEFAULT '',
	target      TEXT    NOT NULL DEFAULT '',
	remote_addr TEXT    NOT NULL DEFAULT '',
	detail      TEXT,
	count       INTEGER NOT NULL DEFAULT 1
) STRICT;

-- Newest-first reads filtered by time, action or actor.
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_action ON audit (action, id);
CREATE INDEX audit_actor ON audit (actor_name, id);

-- Change notices that pollers read to drop cached state. AUTOINCREMENT for
-- the same reason as audit: a poller remembers the last seq it saw, and a
-- reused seq would be skipped.
CREATE TABLE changes (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT    NOT NULL,
	ref  TEXT    NOT NULL DEFAULT '',
	at   INTEGER NOT NULL
) STRICT;
