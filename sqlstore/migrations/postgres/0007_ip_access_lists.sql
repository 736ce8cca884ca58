-- 0007_ip_access_lists: PostgreSQL mirror of
-- migrations/sqlite/0007_ip_access_lists.sql (the IP access lists; the
-- addresses a JSON array in TEXT).
CREATE TABLE ip_access_lists (
	id           TEXT COLLATE "C" PRIMARY KEY,
	label        TEXT COLLATE "C" NOT NULL,
	list_type    TEXT COLLATE "C" NOT NULL CHECK (list_type IN ('ALLOW', 'BLOCK')),
	ip_addresses TEXT COLLATE "C" NOT NULL,
	enabled      BOOLEAN NOT NULL,
	created_at   BIGINT  NOT NULL,
	created_by   BIGINT  NOT NULL DEFAULT 0,
	updated_at   BIGINT  NOT NULL,
	updated_by   BIGINT  NOT NULL DEFAULT 0
);
