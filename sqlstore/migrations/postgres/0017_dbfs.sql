-- 0017_dbfs: the DBFS tree, kept in the store so that every replica sees
-- the same one (sqlstore.DBFS).
--
-- A file's content is a blob: numbered chunks of at most 1 MiB in
-- dbfs_chunks, keyed by their byte offset. A blob is written before
-- anything refers to it (a put's staging, an open handle's upload) and a
-- file appears when one transaction points its dbfs_files row at it, so
-- a reader sees a whole file or none. touched is when the blob was last
-- written: a blob that no file or handle refers to and that has not been
-- touched for the idle timeout is the staging of a put that died, and is
-- swept.
CREATE TABLE dbfs_blobs (
	id      BIGINT PRIMARY KEY,
	touched BIGINT NOT NULL
);

CREATE TABLE dbfs_chunks (
	blob_id BIGINT NOT NULL REFERENCES dbfs_blobs (id) ON DELETE CASCADE,
	off     BIGINT NOT NULL,
	size    BIGINT NOT NULL,
	data    BYTEA  NOT NULL,
	PRIMARY KEY (blob_id, off)
);

-- Every file and directory but the root, which always exists. parent is
-- the path of the directory holding it ("/" at the top), for listing.
-- owner is the principal that wrote the file (0: moved in from a local
-- DBFS directory), whose quota it counts against; directories have
-- size 0 and no blob.
CREATE TABLE dbfs_files (
	path     TEXT COLLATE "C" PRIMARY KEY,
	parent   TEXT COLLATE "C" NOT NULL,
	is_dir   BOOLEAN NOT NULL,
	size     BIGINT NOT NULL,
	modified BIGINT NOT NULL,
	owner    BIGINT NOT NULL,
	blob_id  BIGINT REFERENCES dbfs_blobs (id)
);
CREATE INDEX dbfs_files_parent ON dbfs_files (parent, path);
CREATE INDEX dbfs_files_owner ON dbfs_files (owner);
CREATE INDEX dbfs_files_blob ON dbfs_files (blob_id);

-- Open streaming uploads (create, add-block, close), so that an upload
-- begun on one replica goes on through another. size is the bytes added
-- so far; last_used judges the idle timeout.
CREATE TABLE dbfs_handles (
	id        BIGINT PRIMARY KEY,
	owner     BIGINT NOT NULL,
	path      TEXT COLLATE "C" NOT NULL,
	overwrite BOOLEAN NOT NULL,
	blob_id   BIGINT NOT NULL REFERENCES dbfs_blobs (id),
	size      BIGINT NOT NULL,
	last_used BIGINT NOT NULL
);
CREATE INDEX dbfs_handles_owner ON dbfs_handles (owner);
CREATE INDEX dbfs_handles_blob ON dbfs_handles (blob_id);
