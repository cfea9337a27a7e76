--
-- lsm_customscan: the LsmScan custom scan, which turns restrictions on an
-- lsm table's key column into key ranges and offers the key order to the
-- planner.
--
-- The plans shown are LsmScan's own (EXPLAIN (COSTS OFF)); every query's
-- rows are compared with the same query on a heap copy (same_rows(): 0
-- differences expected), including the order for ORDER BY queries.  Plans
-- that must not use LsmScan are shown with enable_seqscan off, so that
-- "Seq Scan" there means LsmScan was not offered at all.
--
-- The table has three sources: two level-0 runs (even keys, then odd keys,
-- so their key ranges overlap) and the memtable; with fewer runs than
-- lsm.l0_compaction_trigger no background compaction changes that, so the
-- EXPLAIN ANALYZE counters (runs read, runs skipped by key range, bloom
-- filter skips) are stable.
--
CREATE EXTENSION IF NOT EXISTS lsm_am;

CREATE TABLE lt (id bigint, v text) USING lsm;
CREATE TABLE ht (id bigint, v text);
INSERT INTO lt SELECT g, 'even ' || g FROM generate_series(2, 2000, 2) g;
SELECT lsm_flush('lt');
INSERT INTO lt SELECT g, 'odd ' || g FROM generate_series(1, 1999, 2) g;
SELECT lsm_flush('lt');
INSERT INTO lt SELECT g, 'new ' || g FROM generate_series(2001, 2100) g;
INSERT INTO lt VALUES (NULL, 'null 1'), (NULL, 'null 2'), (5000, 'far');
INSERT INTO ht SELECT * FROM lt;
ANALYZE lt, ht;
SELECT level, runs FROM lsm_levels('lt') WHERE runs > 0;

-- Runs query q (with TBL for the table) on lt and on ht: the rows lt gives
-- and how many differ from ht's, as multisets, or in order when ordered.
-- q may be an UPDATE or DELETE ... RETURNING.
CREATE FUNCTION compare_rows(q text, ordered boolean,
							 OUT nrows bigint, OUT ndiff bigint)
LANGUAGE plpgsql AS $$
DECLARE
	a text[];
	b text[];
BEGIN
	EXECUTE format('WITH r AS (%s) SELECT coalesce(array_agg(r::text), ''{}'') FROM r',
				   replace(q, 'TBL', 'lt')) INTO a;
	EXECUTE format('WITH r AS (%s) SELECT coalesce(array_agg(r::text), ''{}'') FROM r',
				   replace(q, 'TBL', 'ht')) INTO b;
	nrows := cardinality(a);
	IF ordered THEN
		SELECT count(*) INTO ndiff
		FROM generate_series(1, greatest(cardinality(a), cardinality(b))) i
		WHERE a[i] IS DISTINCT FROM b[i];
	ELSE
		SELECT count(*) INTO ndiff FROM
			((SELECT unnest(a) EXCEPT ALL SELECT unnest(b))
			 UNION ALL
			 (SELECT unnest(b) EXCEPT ALL SELECT unnest(a))) d;
	END IF;
END $$;

CREATE FUNCTION same_rows(q text, ordered boolean DEFAULT false) RETURNS bigint
LANGUAGE sql AS $$ SELECT ndiff FROM compare_rows(q, ordered) $$;

-- Shows the plan of q on lt, then its row count and differences from ht.
CREATE FUNCTION check_q(q text, ordered boolean DEFAULT false)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	c record;
BEGIN
	RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || replace(q, 'TBL', 'lt');
	c := compare_rows(q, ordered);
	RETURN NEXT format('rows: %s, differences from heap: %s', c.nrows, c.ndiff);
END $$;

-- Each kind of restriction on the key.
SELECT check_q('SELECT * FROM TBL WHERE id = 500');
SELECT * FROM lt WHERE id = 500;
SELECT check_q('SELECT * FROM TBL WHERE id < 5');
SELECT check_q('SELECT * FROM TBL WHERE id <= 5');
SELECT check_q('SELECT * FROM TBL WHERE id > 2095');
SELECT check_q('SELECT * FROM TBL WHERE id >= 2095');
SELECT check_q('SELECT * FROM TBL WHERE id BETWEEN 995 AND 1005');
SELECT * FROM lt WHERE id BETWEEN 995 AND 1005;
SELECT check_q('SELECT * FROM TBL WHERE 1005 >= id AND 995 < id');
SELECT check_q('SELECT * FROM TBL WHERE id IN (7, 1000, 2050, 4000, 5000, 7)');
SELECT * FROM lt WHERE id IN (7, 1000, 2050, 4000, 5000, 7);
SELECT check_q('SELECT * FROM TBL WHERE id = ANY (ARRAY[3, NULL, 2100]::bigint[])');
SELECT check_q('SELECT * FROM TBL WHERE id IN (1, 2, 3, 4) AND id IN (3, 4, 5)');
SELECT check_q('SELECT * FROM TBL WHERE id IN (1, 2, 3, 4) AND id > 2');
SELECT check_q('SELECT * FROM TBL WHERE id IS NULL');
SELECT * FROM lt WHERE id IS NULL;
SELECT check_q('SELECT * FROM TBL WHERE id IS NOT NULL AND id > 2098');
SELECT check_q('SELECT * FROM TBL WHERE id > 1990 AND v LIKE ''odd%''');
-- cross-type: int4 and int2 values against a bigint key
SELECT check_q('SELECT * FROM TBL WHERE id = 500::int4');
SELECT check_q('SELECT * FROM TBL WHERE id BETWEEN 10::int2 AND 12::int2');
-- not a bound: an OR, a function of the key, a volatile value
SELECT check_q('SELECT * FROM TBL WHERE id = 5 OR id = 6');
SELECT check_q('SELECT * FROM TBL WHERE id + 0 = 5');
SELECT check_q('SELECT * FROM TBL WHERE id = (random() * 0)::int + 5');

-- Empty ranges, and = NULL (no rows, as in SQL).
SELECT check_q('SELECT * FROM TBL WHERE id > 10 AND id < 5');
SELECT check_q('SELECT * FROM TBL WHERE id = 5 AND id = 6');
SELECT check_q('SELECT * FROM TBL WHERE id > 10 AND id < 11');
SELECT check_q('SELECT * FROM TBL WHERE id BETWEEN 3000 AND 4000');
SELECT check_q('SELECT * FROM TBL WHERE id IS NULL AND id > 1');
SELECT check_q('SELECT * FROM TBL WHERE id = NULL');
SELECT check_q('SELECT * FROM TBL WHERE id IN (NULL)');

-- Key order: ORDER BY key [LIMIT n] has no Sort, nor has ORDER BY key DESC
-- (the ranges read backward: NULLS FIRST, as a btree read backward gives);
-- ASC NULLS FIRST and DESC NULLS LAST do.
SELECT check_q('SELECT * FROM TBL ORDER BY id LIMIT 10', true);
SELECT * FROM lt ORDER BY id LIMIT 3;
SELECT check_q('SELECT * FROM TBL WHERE id > 1500 ORDER BY id LIMIT 5', true);
SELECT check_q('SELECT * FROM TBL WHERE id IN (9, 3, 2050) ORDER BY id', true);
SELECT check_q('SELECT id FROM TBL WHERE id IS NOT NULL ORDER BY id', true);
SELECT check_q('SELECT id FROM TBL ORDER BY id DESC LIMIT 3', true);
SELECT check_q('SELECT * FROM TBL WHERE id IS NOT NULL ORDER BY id DESC LIMIT 5', true);
SELECT check_q('SELECT * FROM TBL WHERE id BETWEEN 995 AND 1005 ORDER BY id DESC', true);
SELECT check_q('SELECT * FROM TBL WHERE id IN (9, 3, 2050) ORDER BY id DESC', true);
SELECT check_q('SELECT id FROM TBL ORDER BY id DESC NULLS LAST LIMIT 3', true);
SELECT check_q('SELECT * FROM TBL ORDER BY id NULLS FIRST LIMIT 3', true);
-- with no use for the order, a whole-table read stays a sequential scan
SELECT check_q('SELECT count(*) FROM TBL');

-- EXPLAIN ANALYZE: ranges, runs read, runs skipped by their key range, bloom
-- filter skips (over all loops).  id = 1002 lies in both runs' key ranges;
-- the filter of the odd-key run rules it out.  id = 2050 is only in the memtable: both runs are
-- skipped by key range.  The IN list is three points.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM lt WHERE id = 1002;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM lt WHERE id = 2050;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM lt WHERE id BETWEEN 10 AND 20;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM lt WHERE id IN (4, 6, 2050);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM lt WHERE id > 10 AND id < 5;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM lt ORDER BY id LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT v FROM lt WHERE id BETWEEN 10 AND 20;

-- Parameters: a prepared statement's generic plan, and the inner side of a
-- nested loop (one key range per outer row).
SET plan_cache_mode = force_generic_plan;
PREPARE p1(bigint) AS SELECT * FROM lt WHERE id = $1;
EXPLAIN (COSTS OFF) EXECUTE p1(1);
EXECUTE p1(1001);
EXECUTE p1(NULL);
EXECUTE p1(4444);
PREPARE p2(int, int) AS SELECT count(*), min(id), max(id) FROM lt WHERE id >= $1 AND id < $2;
EXPLAIN (COSTS OFF) EXECUTE p2(1, 2);
EXECUTE p2(100, 200);
EXECUTE p2(200, 100);
EXECUTE p2(NULL, 100);
RESET plan_cache_mode;
DEALLOCATE p1;
DEALLOCATE p2;

CREATE TABLE outer_keys (x int);
INSERT INTO outer_keys VALUES (1), (2), (1001), (2100), (2101), (NULL), (5000), (2);
ANALYZE outer_keys;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
SELECT check_q('SELECT o.x, t.v FROM outer_keys o JOIN TBL t ON t.id = o.x');
SELECT o.x, t.v FROM outer_keys o JOIN lt t ON t.id = o.x ORDER BY 1, 2;
SELECT check_q('SELECT o.x, t.v FROM outer_keys o JOIN TBL t ON t.id BETWEEN o.x AND o.x + 1');
SELECT check_q('SELECT o.x, t.v FROM outer_keys o LEFT JOIN TBL t ON t.id = o.x + 1');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT o.x, t.v FROM outer_keys o JOIN lt t ON t.id = o.x;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_memoize;

-- UPDATE and DELETE through key ranges.
BEGIN;
SELECT check_q('UPDATE TBL SET v = v || '' updated'' WHERE id BETWEEN 100 AND 110 RETURNING *');
SELECT check_q('DELETE FROM TBL WHERE id IN (5, 6, 2099) RETURNING *');
SELECT check_q('SELECT * FROM TBL WHERE id BETWEEN 95 AND 115');
SELECT check_q('SELECT * FROM TBL WHERE id BETWEEN 1 AND 10');
ROLLBACK;
SELECT count(*) FROM lt WHERE id BETWEEN 100 AND 110 AND v LIKE '%updated';

-- Rows of the current transaction, deleted rows and updated keys.
BEGIN;
INSERT INTO lt VALUES (1000, 'dup 1000'), (3000, 'in xact');
INSERT INTO ht VALUES (1000, 'dup 1000'), (3000, 'in xact');
UPDATE lt SET id = id + 10000 WHERE id BETWEEN 20 AND 25;
UPDATE ht SET id = id + 10000 WHERE id BETWEEN 20 AND 25;
DELETE FROM lt WHERE id = 1001;
DELETE FROM ht WHERE id = 1001;
SELECT same_rows('SELECT * FROM TBL WHERE id = 1000')
	+ same_rows('SELECT * FROM TBL WHERE id BETWEEN 999 AND 3000')
	+ same_rows('SELECT * FROM TBL WHERE id BETWEEN 15 AND 30')
	+ same_rows('SELECT * FROM TBL WHERE id > 10000')
	+ same_rows('SELECT id FROM TBL ORDER BY id LIMIT 30', true) AS differences;
ROLLBACK;

-- Text keys: under "C" byte order is the order, so LsmScan is offered; under
-- a linguistic collation ('B' < 'a' in bytes, not in und-x-icu) the table is
-- in row-id order and LsmScan is never offered, nor for a query that
-- compares or sorts a "C" key under another collation.
CREATE TABLE lt_c (k text COLLATE "C", n int) USING lsm;
CREATE TABLE lt_icu (k text COLLATE "und-x-icu", n int) USING lsm;
INSERT INTO lt_c VALUES ('a', 1), ('B', 2), ('b', 3), ('ab', 4), ('', 5), (NULL, 6), ('a b', 7);
INSERT INTO lt_icu SELECT * FROM lt_c;
SET enable_seqscan = off;
SET jit = off;
EXPLAIN (COSTS OFF) SELECT * FROM lt_c WHERE k >= 'a' AND k < 'b';
SELECT * FROM lt_c WHERE k >= 'a' AND k < 'b';
SELECT * FROM lt_c WHERE k > 'B';
SELECT * FROM lt_c WHERE k = '';
EXPLAIN (COSTS OFF) SELECT * FROM lt_c ORDER BY k LIMIT 2;
SELECT * FROM lt_c ORDER BY k LIMIT 2;
EXPLAIN (COSTS OFF) SELECT * FROM lt_icu WHERE k >= 'a' AND k < 'b';
SELECT * FROM lt_icu WHERE k >= 'a' AND k < 'b' ORDER BY k;
EXPLAIN (COSTS OFF) SELECT * FROM lt_icu ORDER BY k LIMIT 2;
EXPLAIN (COSTS OFF) SELECT * FROM lt_c WHERE k > 'a' COLLATE "und-x-icu";
SELECT * FROM lt_c WHERE k > 'a' COLLATE "und-x-icu" ORDER BY k;
EXPLAIN (COSTS OFF) SELECT * FROM lt_c ORDER BY k COLLATE "und-x-icu" LIMIT 2;
RESET enable_seqscan;
RESET jit;

-- A level-0 run holds row-map entries and data keys and records that it has
-- nothing between its last row-map entry and its first data key (its split
-- keys): a range or point below a run's first data key skips that run by its
-- key range, without reading it or probing its filter.  Keys 1..100, then
-- 201..300, each batch flushed to its own run.
CREATE TABLE lt_gap (id bigint, v text) USING lsm;
INSERT INTO lt_gap SELECT g, 'a' FROM generate_series(1, 100) g;
SELECT lsm_flush('lt_gap');
INSERT INTO lt_gap SELECT g, 'b' FROM generate_series(201, 300) g;
SELECT lsm_flush('lt_gap');
SET enable_seqscan = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM lt_gap WHERE id BETWEEN 150 AND 160;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM lt_gap WHERE id = 150;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM lt_gap WHERE id BETWEEN 95 AND 205;
SELECT * FROM lt_gap WHERE id BETWEEN 95 AND 205;
RESET enable_seqscan;

-- lsm.enable_lsmscan = off leaves the sequential scan.
SET lsm.enable_lsmscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM lt WHERE id = 500;
RESET lsm.enable_lsmscan;

DROP TABLE lt, ht, lt_c, lt_icu, lt_gap, outer_keys;
DROP FUNCTION check_q(text, boolean);
DROP FUNCTION same_rows(text, boolean);
DROP FUNCTION compare_rows(text, boolean);
DROP EXTENSION lsm_am;
