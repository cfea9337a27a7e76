-- lsm_compact(regclass): full compaction of an lsm table's runs into one
-- level, checked against a heap copy after inserts, updates, deletes,
-- flushes and compactions.
CREATE EXTENSION lsm_am;

CREATE TABLE cmp (id int, v text) USING lsm;
CREATE TABLE cmp_heap (id int, v text);

-- Compares the two tables row for row (as multisets).
CREATE FUNCTION cmp_diff() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM (
    (SELECT * FROM cmp EXCEPT ALL SELECT * FROM cmp_heap)
    UNION ALL
    (SELECT * FROM cmp_heap EXCEPT ALL SELECT * FROM cmp)) d
$$;

-- Nothing to compact in an empty table.
SELECT lsm_compact('cmp');
SELECT * FROM lsm_levels('cmp');

-- Five flushes.
INSERT INTO cmp SELECT g, md5(g::text) FROM generate_series(1, 3000) g;
SELECT lsm_flush('cmp');
INSERT INTO cmp SELECT g, md5(g::text) FROM generate_series(3001, 6000) g;
SELECT lsm_flush('cmp');
UPDATE cmp SET v = 'u' || id WHERE id % 7 = 0;
SELECT lsm_flush('cmp');
DELETE FROM cmp WHERE id % 11 = 0;
SELECT lsm_flush('cmp');
INSERT INTO cmp SELECT g, 'dup' FROM generate_series(1, 500) g;
SELECT lsm_flush('cmp');
INSERT INTO cmp_heap SELECT * FROM cmp;
-- (the background worker may already be compacting them)
SELECT sum(runs) > 0 AS has_runs FROM lsm_levels('cmp');

SELECT lsm_compact('cmp');
-- One level, two runs: compaction keeps row-map entries and data keys
-- (two key families) in runs of their own.
SELECT level, runs FROM lsm_levels('cmp');
-- Garbage collected: a VALUE per live row (5955) and the row-map entry of
-- every version ever written (7357), which only VACUUM removes.
SELECT sum(entries) FROM lsm_levels('cmp');
SELECT cmp_diff();
SELECT count(*), sum(id), count(DISTINCT v) FROM cmp;

-- More changes on top of the compacted level, some left in the memtable.
UPDATE cmp SET v = 'w' WHERE id % 5 = 0;
UPDATE cmp_heap SET v = 'w' WHERE id % 5 = 0;
SELECT lsm_flush('cmp');
DELETE FROM cmp WHERE id BETWEEN 100 AND 300;
DELETE FROM cmp_heap WHERE id BETWEEN 100 AND 300;
SELECT lsm_flush('cmp');
INSERT INTO cmp SELECT g, 'late' FROM generate_series(7000, 7100) g;
INSERT INTO cmp_heap SELECT g, 'late' FROM generate_series(7000, 7100) g;
SELECT level, runs FROM lsm_levels('cmp');
SELECT lsm_compact('cmp');
SELECT level, runs FROM lsm_levels('cmp');
SELECT cmp_diff();

-- Point reads and rows found by TID after compaction.
SELECT v FROM cmp WHERE id = 35 ORDER BY v;
CREATE INDEX cmp_v ON cmp (v);
SET enable_seqscan = off;
SELECT count(*) FROM cmp WHERE v = 'dup';
RESET enable_seqscan;

-- A compaction in a transaction that rolls back leaves the table as it was.
BEGIN;
UPDATE cmp SET v = 'rolled back' WHERE id < 50;
SELECT lsm_flush('cmp');
SELECT lsm_compact('cmp');
ROLLBACK;
SELECT cmp_diff();

-- lsm_flush and lsm_compact write their run pages through to the disk every
-- bgwriter_flush_after pages, as the compaction workers do, by setting
-- backend_flush_after for the call: the session's own setting is back after.
SET backend_flush_after = '24kB';
UPDATE cmp SET v = 'written back' WHERE id < 20;
UPDATE cmp_heap SET v = 'written back' WHERE id < 20;
SELECT lsm_flush('cmp');
SHOW backend_flush_after;
SELECT lsm_compact('cmp');
SHOW backend_flush_after;
BEGIN;
SET LOCAL backend_flush_after = '40kB';
SELECT lsm_compact('cmp');
SHOW backend_flush_after;
COMMIT;
SHOW backend_flush_after;
RESET backend_flush_after;
SELECT cmp_diff();

-- Errors.
SELECT lsm_compact('cmp_heap');
CREATE ROLE lsm_compact_other;
SET ROLE lsm_compact_other;
SELECT lsm_compact('cmp');
RESET ROLE;
DROP ROLE lsm_compact_other;

DROP TABLE cmp, cmp_heap;
DROP FUNCTION cmp_diff();
DROP EXTENSION lsm_am;
