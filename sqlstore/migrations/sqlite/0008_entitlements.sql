-- 0008_entitlements: SCIM entitlements of principals and groups.
--
-- A principal's rows are its direct entitlements; a group's, what it gives
-- its members. Both go with their owner (ON DELETE CASCADE). The values
-- are Databricks' names (workspace-access, databricks-sql-access,
-- allow-cluster-create, allow-instance-pool-create, workspace-consume),
-- checked by the service.
CREATE TABLE principal_entitlements (
	principal_id INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	entitlement  TEXT    NOT NULL,
	PRIMARY KEY (principal_id, entitlement)
) STRICT;

CREATE TABLE group_entitlements (
	group_id    INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	entitlement TEXT    NOT NULL,
	PRIMARY KEY (group_id, entitlement)
) STRICT;

-- As on Databricks, the built-in groups give workspace and SQL access
-- (every principal is a member of users); a new workspace gets the same
-- rows at bootstrap.
INSERT INTO group_entitlements (group_id, entitlement)
	SELECT g.id, e.entitlement
	FROM groups g, (SELECT 'workspace-access' AS entitlement UNION ALL SELECT 'databricks-sql-access') e
	WHERE g.builtin = 1;
