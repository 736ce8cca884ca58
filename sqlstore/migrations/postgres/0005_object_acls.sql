-- Grants of the Permissions API on objects (jobs, …): one row per object
-- and grantee. principal is the grantee's name as its record spells it.
CREATE TABLE object_acls (
	object_type    TEXT NOT NULL,
	object_id      TEXT NOT NULL,
	principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'group', 'service_principal')),
	principal      TEXT COLLATE "C" NOT NULL,
	level          TEXT NOT NULL,
	PRIMARY KEY (object_type, object_id, principal_kind, principal)
);

-- What a principal is granted (job lists filter by it).
CREATE INDEX object_acls_grantee ON object_acls (object_type, principal_kind, principal);
