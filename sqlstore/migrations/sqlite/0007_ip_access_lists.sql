-- 0007_ip_access_lists: the workspace's IP access lists (allow and block
-- lists of addresses and CIDRs). Same conventions as 0001_init.
--
-- ip_addresses is a JSON array of strings, stored as the caller sent them:
-- lists are read whole (every server keeps all of them in memory), never
-- searched by address. created_by and updated_by have no foreign key: a
-- list outlives the admin who wrote it, as on Databricks.
CREATE TABLE ip_access_lists (
	id           TEXT    PRIMARY KEY,
	label        TEXT    NOT NULL,
	list_type    TEXT    NOT NULL CHECK (list_type IN ('ALLOW', 'BLOCK')),
	ip_addresses TEXT    NOT NULL,
	enabled      INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	created_by   INTEGER NOT NULL DEFAULT 0,
	updated_at   INTEGER NOT NULL,
	updated_by   INTEGER NOT NULL DEFAULT 0
) STRICT;
