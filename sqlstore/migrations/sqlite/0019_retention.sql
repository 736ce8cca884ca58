-- 0019_retention: what bounded growth needs. change_floor holds the
-- highest change sequence number pruned (one row, 0 until the first
-- prune): a poller whose position lies below it missed notices and must
-- reload everything, and a new poller starts at it when the table is
-- empty. runs_ended lets the retention sweep find the oldest finished runs
-- without reading the others.
CREATE TABLE change_floor (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	through INTEGER NOT NULL
) STRICT;
INSERT INTO change_floor (id, through) VALUES (1, 0);

CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;
