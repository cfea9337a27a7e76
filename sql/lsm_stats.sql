-- lsm_levels() and lsm_memtables(): the shape of an lsm table's tree.
CREATE EXTENSION lsm_am;

CREATE TABLE st (k int, v text) USING lsm;

-- empty: no runs, an empty (or no) memtable
SELECT * FROM lsm_levels('st');
SELECT state, entries FROM lsm_memtables('st');

-- each row is a data entry plus a row-map entry
INSERT INTO st SELECT g, 'v' || g FROM generate_series(1, 1000) g;
SELECT state, entries, bytes > 0 AS has_bytes FROM lsm_memtables('st');
SELECT * FROM lsm_levels('st');

-- a flush moves the memtable into one level-0 run
SELECT lsm_flush('st');
SELECT level, runs, entries, bytes > 0 AS has_bytes FROM lsm_levels('st');
SELECT state, entries FROM lsm_memtables('st');

-- a delete adds a delta entry; a second flush adds a second run
DELETE FROM st WHERE k <= 10;
SELECT state, entries FROM lsm_memtables('st');
SELECT lsm_flush('st');
SELECT level, runs, entries FROM lsm_levels('st');
SELECT count(*) FROM st;

-- TRUNCATE gives the table fresh, empty storage
TRUNCATE st;
SELECT * FROM lsm_levels('st');
SELECT state, entries FROM lsm_memtables('st');

-- not an lsm table, no such table, NULL
CREATE TABLE st_heap (k int);
SELECT * FROM lsm_levels('st_heap');
SELECT * FROM lsm_memtables('st_heap');
SELECT * FROM lsm_levels(NULL);

DROP TABLE st, st_heap;
DROP EXTENSION lsm_am;
