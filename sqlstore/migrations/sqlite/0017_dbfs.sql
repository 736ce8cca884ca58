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
	id      INTEGER PRIMARY KEY,
	touched INTEGER NOT NULL
) STRICT;

CREATE TABLE dbfs_chunks (
	blob_id INTEGER NOT NULL REFERENCES dbfs_blobs (id) ON DELETE CASCADE,
	off     INTEGER NOT NULL,
	size    INTEGER NOT NULL,
	data    BLOB    NOT NULL,
	PRIMARY KEY (blob_id, off)
) STRICT;

-- Every file and directory but the root, which always exists. parent is
-- the path of the directory holding it ("/" at the top), for listing.
-- owner is the principal that wrote the file (0: moved in from a local
-- DBFS directory), whose quota it counts against; directories have
-- size 0 and no blob.
CREATE TABLE dbfs_files (
	path     TEXT    PRIMARY KEY,
	parent   TEXT    NOT NULL,
	is_dir   INTEGER NOT NULL,
	size     INTEGER NOT NULL,
	modified INTEGER NOT NULL,
	owner    INTEGER NOT NULL,
	blob_id  INTEGER REFERENCES dbfs_blobs (id)
) STRICT;
CREATE INDEX dbfs_files_parent ON dbfs_files (parent, path);
CREATE INDEX dbfs_files_owner ON dbfs_files (owner);
CREATE INDEX dbfs_files_blob ON dbfs_files (blob_id);

-- Open streaming uploads (create, add-block, close), so that an upload
-- begun on one replica goes on through another. size is the bytes added
-- so far; last_used judges the idle timeout.
CREATE TABLE dbfs_handles (
	id        INTEGER PRIMARY KEY,
	owner     INTEGER NOT NULL,
	path      TEXT    NOT NULL,
	overwrite INTEGER NOT NULL,
	blob_id   INTEGER NOT NULL REFERENCES dbfs_blobs (id),
	size      INTEGER NOT NULL,
	last_used INTEGER NOT NULL
) STRICT;
CREATE INDEX dbfs_handles_owner ON dbfs_handles (owner);
CREATE INDEX dbfs_handles_blob ON dbfs_handles (blob_id);
