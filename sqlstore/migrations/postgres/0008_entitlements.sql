-- 0008_entitlements: PostgreSQL mirror of migrations/sqlite/0008_entitlements.sql
-- (SCIM entitlements of principals and groups).

CREATE TABLE principal_entitlements (
	principal_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	entitlement  TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (principal_id, entitlement)
);

CREATE TABLE group_entitlements (
	group_id    BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	entitlement TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (group_id, entitlement)
);

INSERT INTO group_entitlements (group_id, entitlement)
	SELECT g.id, e.entitlement
	FROM groups g, (SELECT 'workspace-access' AS entitlement UNION ALL SELECT 'databricks-sql-access') e
	WHERE g.builtin;
