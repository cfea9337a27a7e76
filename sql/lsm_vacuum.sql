-- VACUUM of lsm tables: dead and aborted row versions and their index
-- entries are removed, the rows left equal a heap table's after the same
-- statements, index entries match the rows (amcheck, pageinspect), VACUUM
-- FREEZE freezes and advances relfrozenxid, VACUUM VERBOSE reports it all.
-- Autovacuum is off for these tables so that the counts are this test's.
CREATE EXTENSION lsm_am;
CREATE EXTENSION amcheck;
CREATE EXTENSION pageinspect;

CREATE TABLE vac (id int, v text, n int) USING lsm WITH (autovacuum_enabled = off);
CREATE TABLE vac_heap (id int, v text, n int) WITH (autovacuum_enabled = off);
CREATE INDEX vac_v ON vac (v);
CREATE INDEX vac_n ON vac (n);
CREATE INDEX vac_heap_v ON vac_heap (v);

-- Compares the two tables row for row (as multisets).
CREATE FUNCTION vac_diff() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM (
    (SELECT * FROM vac EXCEPT ALL SELECT * FROM vac_heap)
    UNION ALL
    (SELECT * FROM vac_heap EXCEPT ALL SELECT * FROM vac)) d
$$;

-- Index entries on the leaf pages of a btree (each page's high key aside).
CREATE FUNCTION leaf_entries(idx regclass) RETURNS bigint LANGUAGE sql AS $$
  SELECT sum(s.live_items - CASE WHEN s.btpo_next <> 0 THEN 1 ELSE 0 END)
  FROM generate_series(1, pg_relation_size(idx) / current_setting('block_size')::int - 1) b,
       LATERAL bt_page_stats(idx::text, b::int) s
  WHERE s.type = 'l'
$$;

-- The same statements on both tables.
INSERT INTO vac SELECT g, 'v' || g, g % 7 FROM generate_series(1, 3000) g;
INSERT INTO vac_heap SELECT g, 'v' || g, g % 7 FROM generate_series(1, 3000) g;
UPDATE vac SET v = v || 'u', n = n + 1 WHERE id % 2 = 0;
UPDATE vac_heap SET v = v || 'u', n = n + 1 WHERE id % 2 = 0;
UPDATE vac SET n = n + 1 WHERE id % 4 = 0;
UPDATE vac_heap SET n = n + 1 WHERE id % 4 = 0;
DELETE FROM vac WHERE id % 3 = 0;
DELETE FROM vac_heap WHERE id % 3 = 0;
-- aborted work: inserts, an update, a delete, in a savepoint too
BEGIN;
INSERT INTO vac SELECT g, 'aborted', 0 FROM generate_series(5001, 5500) g;
UPDATE vac SET n = -1 WHERE id < 100;
DELETE FROM vac WHERE id BETWEEN 100 AND 200;
ROLLBACK;
BEGIN;
INSERT INTO vac VALUES (6000, 'kept', 1);
INSERT INTO vac_heap VALUES (6000, 'kept', 1);
SAVEPOINT s;
INSERT INTO vac SELECT g, 'rolled back', 0 FROM generate_series(6001, 6100) g;
DELETE FROM vac WHERE id = 1;
ROLLBACK TO s;
COMMIT;
-- row locks whose lockers are gone
BEGIN;
SELECT count(*) FROM (SELECT * FROM vac WHERE id <= 50 FOR UPDATE) l;
COMMIT;
BEGIN;
SELECT count(*) FROM (SELECT * FROM vac WHERE id <= 50 FOR KEY SHARE) l;
ROLLBACK;

SELECT vac_diff();
SELECT count(*) FROM vac;

-- The index entries of every row version written: live, dead and aborted.
SELECT leaf_entries('vac_v') AS before_vacuum;

\set VERBOSITY terse
VACUUM (VERBOSE) vac;
\set VERBOSITY default

-- Every dead and aborted version is gone: one VALUE and one row-map entry
-- per row remain, and the index on v (unique values, so no posting lists)
-- holds one entry per row.
SELECT sum(entries) = 2 * (SELECT count(*) FROM vac) AS two_entries_per_row
FROM lsm_levels('vac');
SELECT leaf_entries('vac_v') AS vac_v_entries, (SELECT count(*) FROM vac) AS rows;
SELECT bt_index_check('vac_v'), bt_index_check('vac_n');
SELECT vac_diff();

-- Index scans give heap's answers.
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*), sum(id), sum(n) FROM vac WHERE v > 'v2';
SELECT count(*), sum(id), sum(n) FROM vac_heap WHERE v > 'v2';
SELECT count(*), sum(id) FROM vac WHERE n = 3;
SELECT count(*), sum(id) FROM vac_heap WHERE n = 3;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Nothing left to remove: a second VACUUM changes no row.
\set VERBOSITY terse
VACUUM (VERBOSE) vac;
\set VERBOSITY default
SELECT vac_diff();

-- A range deleted: its rows and index entries go.
DELETE FROM vac WHERE id > 2500;
DELETE FROM vac_heap WHERE id > 2500;
VACUUM vac;
SELECT vac_diff(), (SELECT count(*) FROM vac) AS rows, leaf_entries('vac_v') AS vac_v_entries;

-- VACUUM FREEZE freezes every row and moves relfrozenxid up to the
-- removal cutoff; age() then stays small.
SELECT txid_current() IS NOT NULL AS xid1;
SELECT txid_current() IS NOT NULL AS xid2;
SELECT age(relfrozenxid) > 2 AS old_before FROM pg_class WHERE relname = 'vac';
\set VERBOSITY terse
VACUUM (FREEZE, VERBOSE) vac;
\set VERBOSITY default
SELECT age(relfrozenxid) <= 1 AS young_after, relminmxid <> '0' AS minmxid_set
FROM pg_class WHERE relname = 'vac';
SELECT vac_diff();
-- the frozen rows still behave (updates, deletes, locks)
UPDATE vac SET n = n * 10 WHERE id % 5 = 0;
UPDATE vac_heap SET n = n * 10 WHERE id % 5 = 0;
DELETE FROM vac WHERE id % 11 = 0;
DELETE FROM vac_heap WHERE id % 11 = 0;
SELECT vac_diff();

-- Plain VACUUM with a table that has no index, and an empty table.
CREATE TABLE vac_noidx (id int) USING lsm WITH (autovacuum_enabled = off);
VACUUM vac_noidx;
INSERT INTO vac_noidx SELECT generate_series(1, 100);
DELETE FROM vac_noidx WHERE id > 10;
VACUUM vac_noidx;
SELECT count(*), sum(id) FROM vac_noidx;
SELECT sum(entries) FROM lsm_levels('vac_noidx');

-- VACUUM ANALYZE and a database-wide VACUUM include lsm tables.
VACUUM ANALYZE vac;
SELECT reltuples = (SELECT count(*) FROM vac) AS reltuples_exact FROM pg_class WHERE relname = 'vac';
VACUUM;
SELECT vac_diff();

DROP TABLE vac, vac_heap, vac_noidx;
DROP FUNCTION vac_diff(), leaf_entries(regclass);
DROP EXTENSION pageinspect;
DROP EXTENSION amcheck;
DROP EXTENSION lsm_am;
